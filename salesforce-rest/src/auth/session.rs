//! The session: the current access token, renewed reactively (after a 401) or
//! proactively (from a configured lifetime or introspection), single-flight and
//! generation-checked, through a [`TokenStore`].

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

#[cfg(feature = "jwt")]
use super::JwtKey;
use super::clock::{Clock, SystemClock};
use super::store::{MemoryTokenStore, StoredToken, TokenStore};
use super::{OAuthClient, TokenResponse};
use crate::error::Error;
use crate::http::is_loopback;

/// How the session gets a new access token.
#[derive(Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// A refresh token (from the web-server flow). Rotated tokens are kept in the
    /// store and used from then on.
    RefreshToken(SecretString),
    /// JWT bearer: re-run with the key whenever a new token is needed
    /// (feature `jwt`).
    #[cfg(feature = "jwt")]
    JwtBearer {
        /// The Salesforce username.
        username: String,
        /// The private key.
        key: JwtKey,
    },
    /// Client credentials (My Domain only): re-run whenever needed.
    ClientCredentials,
    /// Username-password (discouraged; legacy orgs).
    Password {
        /// The username.
        username: String,
        /// The password followed by the security token.
        password: SecretString,
    },
    /// A fixed access token: used as is, never renewed.
    AccessToken {
        /// The token.
        token: SecretString,
        /// The instance URL.
        instance_url: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::RefreshToken(_) => f.write_str("RefreshToken([redacted])"),
            #[cfg(feature = "jwt")]
            Credentials::JwtBearer { username, .. } => f
                .debug_struct("JwtBearer")
                .field("username", username)
                .field("key", &"[redacted]")
                .finish(),
            Credentials::ClientCredentials => f.write_str("ClientCredentials"),
            Credentials::Password { username, .. } => f
                .debug_struct("Password")
                .field("username", username)
                .field("password", &"[redacted]")
                .finish(),
            Credentials::AccessToken { instance_url, .. } => f
                .debug_struct("AccessToken")
                .field("token", &"[redacted]")
                .field("instance_url", instance_url)
                .finish(),
        }
    }
}

/// An access token in use, with the instance URL it goes to and its generation
/// (the store version it came from).
pub struct AccessToken {
    header: HeaderValue,
    instance_url: Url,
    generation: u64,
    renew_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[redacted]")
            .field("instance_url", &self.instance_url.as_str())
            .field("generation", &self.generation)
            .finish()
    }
}

impl AccessToken {
    /// The org's instance URL.
    pub fn instance_url(&self) -> &Url {
        &self.instance_url
    }

    /// The generation: a request that failed with generation `g` only triggers a
    /// refresh if the session still holds `g`.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The `Authorization` header value, marked sensitive.
    pub(crate) fn header(&self) -> &HeaderValue {
        &self.header
    }
}

struct Failure {
    stale: Option<u64>,
    /// When it failed, on the session's clock.
    at: chrono::DateTime<chrono::Utc>,
    error: Error,
}

/// How long a failed renewal is shared with every request that needs the same
/// renewal, before another token call is tried: a revoked grant costs one token
/// call a minute under any load, a transient failure one every few seconds.
fn cooldown(error: &Error, refused: Duration) -> Duration {
    if error.is_login_rate_limit() {
        // The login rate limit lasts minutes; hammering it extends it.
        crate::error::LOGIN_RATE_LIMIT_WAIT
    } else if matches!(error, Error::ReauthorizationRequired(_)) {
        refused
    } else {
        Duration::from_secs(5)
    }
}

struct Inner {
    oauth: OAuthClient,
    credentials: Credentials,
    store: Arc<dyn TokenStore>,
    current: RwLock<Option<Arc<AccessToken>>>,
    /// Held while renewing; remembers the last failure: the generation it tried
    /// to replace, when, and the error.
    renewing: tokio::sync::Mutex<Option<Failure>>,
    token_calls: AtomicU64,
    lifetime: Option<Duration>,
    introspect: bool,
    lease: Duration,
    allow_insecure_http: bool,
    instance_hosts: Vec<String>,
    clock: Arc<dyn Clock>,
    /// What this session's tokens are issued for (see [`Session::issuer`]).
    issuer: String,
    /// The org the app must be logged in to, when pinned.
    expected_org: Option<String>,
    /// How long refused credentials are not tried again.
    refused_retry_after: Duration,
}

/// The current session of one org. Cheap to clone; clones share the token.
///
/// When 1,000 tasks hit an expired token at once, exactly one token call goes
/// out: the first task to take the renewal lock refreshes; the others wait, then
/// find a newer generation and use it. A task whose failed request carried an
/// older token than the session holds does not refresh again. A failed refresh
/// is returned to every task that waited for it, once, without another attempt.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("credentials", &self.inner.credentials)
            .field("token_calls", &self.token_calls())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Session`].
pub struct SessionBuilder {
    oauth: OAuthClient,
    credentials: Credentials,
    store: Option<Arc<dyn TokenStore>>,
    lifetime: Option<Duration>,
    introspect: bool,
    allow_insecure_http: bool,
    instance_hosts: Vec<String>,
    clock: Arc<dyn Clock>,
    expected_org: Option<String>,
    refused_retry_after: Duration,
}

impl fmt::Debug for SessionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionBuilder")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl SessionBuilder {
    /// Where tokens are kept (default: a [`MemoryTokenStore`]).
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The org's session timeout, to renew proactively shortly before it ends.
    /// Salesforce never says when a token expires; without this (or
    /// introspection) renewal is reactive, after a 401.
    pub fn session_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// Asks `/services/oauth2/introspect` for each new token's expiry, to renew
    /// proactively. Needs a connected app allowed to introspect.
    pub fn introspect_expiry(mut self, on: bool) -> Self {
        self.introspect = on;
        self
    }

    /// Trusts an instance host outside Salesforce's own domains (a proxy you
    /// run, a private endpoint): `host` or `host:port`.
    pub fn allow_instance_host(mut self, host: impl Into<String>) -> Self {
        self.instance_hosts.push(host.into().to_ascii_lowercase());
        self
    }

    /// Accepts plain-http instance URLs on non-loopback hosts (not recommended).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The time source for token ages and renewal times (default: the
    /// system clock). Tests pass a [`ManualClock`](super::ManualClock) and move time themselves.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Pins the org: a token issued for another org (the 15- or 18-character
    /// org id of the token response's identity URL) is refused with
    /// [`Error::Config`], and a stored session of another org is discarded.
    /// Without it the session is still bound to its login host, connected app
    /// and credential (see [`Session::issuer`]).
    pub fn expect_org_id(mut self, org_id: impl Into<String>) -> Self {
        self.expected_org = Some(org_id.into());
        self
    }

    /// How long credentials the login endpoint refused for good (a revoked
    /// refresh token, a disabled user) are not tried again: callers get the
    /// same error meanwhile, so a fleet does not storm the login endpoint
    /// (default 60 s; at least 1 s). Shorter lets a service recover sooner
    /// once someone fixed the credentials.
    pub fn refused_retry_after(mut self, wait: Duration) -> Self {
        self.refused_retry_after = wait.max(Duration::from_secs(1));
        self
    }

    /// Builds the session. No network call happens until the first request.
    pub fn build(self) -> Session {
        let issuer = issuer_of(&self.oauth, &self.credentials);
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryTokenStore::new()) as Arc<dyn TokenStore>);
        Session {
            inner: Arc::new(Inner {
                oauth: self.oauth,
                credentials: self.credentials,
                store,
                current: RwLock::new(None),
                renewing: tokio::sync::Mutex::new(None),
                token_calls: AtomicU64::new(0),
                lifetime: self.lifetime,
                introspect: self.introspect,
                lease: Duration::from_secs(30),
                allow_insecure_http: self.allow_insecure_http,
                instance_hosts: self.instance_hosts,
                clock: self.clock,
                issuer,
                expected_org: self.expected_org,
                refused_retry_after: self.refused_retry_after,
            }),
        }
    }
}

/// The fingerprint of what a session's tokens are issued for: the login host,
/// the connected app and the credential (the username, or a SHA-256 of the
/// configured refresh token: never the secret itself).
fn issuer_of(oauth: &OAuthClient, credentials: &Credentials) -> String {
    use sha2::Digest as _;
    let credential = match credentials {
        Credentials::RefreshToken(t) => {
            let digest = sha2::Sha256::digest(t.expose_secret().as_bytes());
            format!("refresh-token:{}", to_hex(&digest))
        }
        #[cfg(feature = "jwt")]
        Credentials::JwtBearer { username, .. } => format!("jwt:{}", username.to_lowercase()),
        Credentials::ClientCredentials => "client-credentials".to_owned(),
        Credentials::Password { username, .. } => format!("password:{}", username.to_lowercase()),
        Credentials::AccessToken { instance_url, .. } => format!("access-token:{instance_url}"),
    };
    let app = oauth.app();
    let mut h = sha2::Sha256::new();
    for part in [
        app.login().base_url().as_str(),
        app.client_id(),
        credential.as_str(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    format!("v1:{}", to_hex(&h.finalize()))
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Whether two org ids name the same org (15 or 18 characters).
fn same_org(a: &str, b: &str) -> bool {
    a.get(..15).is_some_and(|x| b.get(..15) == Some(x))
}

impl Session {
    /// A builder for a session of the app with these credentials.
    pub fn builder(oauth: OAuthClient, credentials: Credentials) -> SessionBuilder {
        SessionBuilder {
            oauth,
            credentials,
            store: None,
            lifetime: None,
            introspect: false,
            clock: Arc::new(SystemClock),
            allow_insecure_http: false,
            instance_hosts: Vec::new(),
            expected_org: None,
            refused_retry_after: Duration::from_secs(60),
        }
    }

    /// What this session's tokens are issued for: a fingerprint (`v1:` and a
    /// SHA-256 in hex) of the login host, the connected app's client id and
    /// the credential (the username, or a hash of the configured refresh
    /// token). Saved with the tokens; a stored session with another issuer
    /// (the app was pointed at another org, app or user) is discarded and the
    /// session logs in afresh, with a warning, instead of writing to the org
    /// the old tokens belong to.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// Why a stored record must not be used by this session, if it must not.
    fn foreign(&self, s: &StoredToken) -> Option<&'static str> {
        if s.issuer.as_deref().is_some_and(|i| i != self.inner.issuer) {
            return Some("it was issued for another login host, connected app or user");
        }
        match (&self.inner.expected_org, &s.org_id) {
            (Some(want), Some(got)) if !same_org(want, got) => {
                Some("it belongs to another org than the one expected")
            }
            _ => None,
        }
    }

    /// How many token calls this session made (for tests and metrics).
    pub fn token_calls(&self) -> u64 {
        self.inner.token_calls.load(Ordering::SeqCst)
    }

    /// The OAuth client.
    pub fn oauth(&self) -> &OAuthClient {
        &self.inner.oauth
    }

    /// The current token, obtaining or renewing it if needed.
    pub async fn token(&self) -> Result<Arc<AccessToken>, Error> {
        match self.cached() {
            Some(t) if !expired(&t, self.inner.clock.now()) => Ok(t),
            Some(t) => self.renew(Some(t.generation)).await,
            None => self.renew(None).await,
        }
    }

    /// A token to retry with after `failed` got 401 `INVALID_SESSION_ID`: the
    /// session's newer token if it has one, else a renewed one (single-flight).
    pub async fn token_after_unauthorized(
        &self,
        failed: &AccessToken,
    ) -> Result<Arc<AccessToken>, Error> {
        self.renew(Some(failed.generation)).await
    }

    /// Drops the cached token (the store is untouched).
    pub fn forget(&self) {
        if let Ok(mut c) = self.inner.current.write() {
            *c = None;
        }
    }

    fn cached(&self) -> Option<Arc<AccessToken>> {
        self.inner.current.read().ok().and_then(|c| c.clone())
    }

    async fn renew(&self, stale: Option<u64>) -> Result<Arc<AccessToken>, Error> {
        let mut last_failure = self.inner.renewing.lock().await;
        if let Some(cur) = self.cached() {
            let newer = stale.is_none_or(|g| cur.generation != g);
            if newer && !expired(&cur, self.inner.clock.now()) {
                return Ok(cur);
            }
        }
        if let Some(f) = last_failure.as_ref()
            && f.stale == stale
            && (self.inner.clock.now() - f.at).to_std().unwrap_or_default()
                < cooldown(&f.error, self.inner.refused_retry_after)
        {
            return Err(f.error.clone());
        }
        let span = tracing::info_span!("salesforce.auth.renew", stale = ?stale);
        let result = tracing::Instrument::instrument(self.acquire(stale), span).await;
        match result {
            Ok(token) => {
                crate::metrics::renewal(&Ok(()));
                *last_failure = None;
                if let Ok(mut c) = self.inner.current.write() {
                    *c = Some(token.clone());
                }
                Ok(token)
            }
            Err(e) => {
                let e = match e {
                    e @ (Error::Transport { .. } | Error::TokenStore(_)) => e,
                    e if e.is_retryable() => e,
                    e @ Error::ReauthorizationRequired(_) => e,
                    e => Error::ReauthorizationRequired(Box::new(e)),
                };
                tracing::error!(error = %e, "session renewal failed");
                crate::metrics::renewal(&Err(&e));
                *last_failure = Some(Failure {
                    stale,
                    at: self.inner.clock.now(),
                    error: e.clone(),
                });
                Err(e)
            }
        }
    }

    async fn acquire(&self, stale: Option<u64>) -> Result<Arc<AccessToken>, Error> {
        let inner = &self.inner;
        if let Credentials::AccessToken {
            token,
            instance_url,
        } = &inner.credentials
        {
            if stale.is_some() {
                return Err(Error::ReauthorizationRequired(Box::new(Error::Config(
                    "a fixed access token cannot be renewed; configure a refresh token, JWT bearer or client credentials".into(),
                ))));
            }
            return self.adopt(token, instance_url, 0, None).await;
        }
        let ours = self.cached().map(|c| c.generation);
        let deadline = Instant::now() + inner.lease + Duration::from_secs(5);
        loop {
            let mut stored = inner.store.load().await?;
            let now = self.inner.clock.now();
            let mut foreign = false;
            if let Some(s) = &stored
                && let Some(why) = self.foreign(s)
            {
                // Never adopt, wait for or refresh with another org's session:
                // log in afresh with this session's own credentials.
                tracing::warn!(
                    reason = why,
                    "the stored Salesforce session does not belong to this configuration; discarding it and logging in afresh"
                );
                foreign = true;
            }
            if let Some(s) = stored.as_ref().filter(|s| s.issuer.is_none() && !foreign) {
                // Written before sessions were bound: bind it to this
                // configuration, so a later change of org is noticed.
                let mut bound = s.clone();
                bound.version += 1;
                bound.issuer = Some(inner.issuer.clone());
                inner.store.compare_and_swap(Some(s.version), bound).await?;
                continue;
            }
            if foreign {
                stored = stored.map(|s| StoredToken {
                    version: s.version,
                    ..StoredToken::default()
                });
            }
            if let Some(s) = &stored {
                let usable = s.access_token.is_some() && s.instance_url.is_some();
                let newer = ours.is_none_or(|g| s.version > g) && Some(s.version) != stale;
                if usable && newer && !s.lease_active(now) {
                    tracing::debug!(version = s.version, "using the stored token");
                    return self.adopt_stored(s).await;
                }
                if s.lease_active(now) {
                    if Instant::now() > deadline {
                        return Err(Error::TokenStore(
                            "timed out waiting for another instance to finish its refresh".into(),
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
            let base = stored.as_ref().map(|s| s.version);
            let mut lease = stored.unwrap_or_default();
            lease.version = base.map_or(1, |v| v + 1);
            lease.refresh_lease_until = chrono::Duration::from_std(inner.lease)
                .ok()
                .map(|d| now + d);
            if !inner.store.compare_and_swap(base, lease.clone()).await? {
                continue;
            }
            lease.issuer = Some(inner.issuer.clone());
            inner.token_calls.fetch_add(1, Ordering::SeqCst);
            let mut granted = self.grant(lease.refresh_token.as_ref()).await;
            if granted.as_ref().is_err_and(Error::is_concurrent_refresh) {
                // Another client is refreshing with the same token: let it
                // finish, take its result if it shared it, else try once more.
                tokio::time::sleep(Duration::from_millis(500)).await;
                if let Some(s) = inner.store.load().await?
                    && s.version > lease.version
                    && s.access_token.is_some()
                    && !s.lease_active(self.inner.clock.now())
                {
                    return self.adopt_stored(&s).await;
                }
                inner.token_calls.fetch_add(1, Ordering::SeqCst);
                granted = self.grant(lease.refresh_token.as_ref()).await;
            }
            let granted = granted.and_then(|resp| self.check_org(resp));
            match granted {
                Err(e) => {
                    let mut released = lease.clone();
                    released.version += 1;
                    released.refresh_lease_until = None;
                    if base.is_some() && base == stale {
                        // That access token got a 401 or expired: nobody should adopt it.
                        released.access_token = None;
                    }
                    if let Err(store_err) = inner
                        .store
                        .compare_and_swap(Some(lease.version), released)
                        .await
                    {
                        tracing::warn!(error = %store_err, "could not release the refresh lease");
                    }
                    return Err(e);
                }
                Ok(resp) => {
                    let rotated = resp.refresh_token.is_some();
                    let new = StoredToken {
                        version: lease.version + 1,
                        access_token: Some(resp.access_token.clone()),
                        instance_url: Some(resp.instance_url.clone()),
                        refresh_token: resp.refresh_token.clone().or(lease.refresh_token.clone()),
                        issued_at: resp.issued_at_time(),
                        refresh_lease_until: None,
                        received_at: Some(self.inner.clock.now()),
                        issuer: Some(inner.issuer.clone()),
                        org_id: resp.org_id().map(str::to_owned),
                    };
                    // Save before use: a rotated refresh token must never be lost.
                    if !inner
                        .store
                        .compare_and_swap(Some(lease.version), new.clone())
                        .await?
                    {
                        return Err(Error::TokenStore(
                            "the refresh lease expired before the new tokens were saved".into(),
                        ));
                    }
                    tracing::info!(version = new.version, rotated, "session renewed");
                    return self.adopt_stored(&new).await;
                }
            }
        }
    }

    /// Refuses a token of another org than the pinned one.
    fn check_org(&self, resp: TokenResponse) -> Result<TokenResponse, Error> {
        let Some(want) = &self.inner.expected_org else {
            return Ok(resp);
        };
        match resp.org_id().map(str::to_owned) {
            Some(got) if same_org(want, &got) => Ok(resp),
            got => Err(Error::Config(format!(
                "the credentials logged in to org {} but the session expects org {want}: check SALESFORCE_LOGIN_URL and the credentials",
                got.as_deref()
                    .unwrap_or("(unknown: no identity URL in the token response)")
            ))),
        }
    }

    async fn grant(&self, stored_refresh: Option<&SecretString>) -> Result<TokenResponse, Error> {
        let oauth = &self.inner.oauth;
        match &self.inner.credentials {
            Credentials::RefreshToken(initial) => {
                oauth.refresh(stored_refresh.unwrap_or(initial)).await
            }
            #[cfg(feature = "jwt")]
            Credentials::JwtBearer { username, key } => oauth.jwt_bearer(username, key).await,
            Credentials::ClientCredentials => oauth.client_credentials().await,
            Credentials::Password { username, password } => {
                oauth.password(username, password).await
            }
            Credentials::AccessToken { .. } => Err(Error::Config(
                "a fixed access token cannot be renewed".into(),
            )),
        }
    }

    async fn adopt_stored(&self, s: &StoredToken) -> Result<Arc<AccessToken>, Error> {
        let (Some(token), Some(url)) = (&s.access_token, &s.instance_url) else {
            return Err(Error::TokenStore(
                "the stored record has no access token".into(),
            ));
        };
        // Age by our own clock, from when the token reached us: the server's
        // `issued_at` can be far behind ours (skew, or an old seeded record).
        let age = s
            .received_at
            .and_then(|t| (self.inner.clock.now() - t).to_std().ok())
            .unwrap_or_default();
        self.adopt(token, url, s.version, Some(age)).await
    }

    async fn adopt(
        &self,
        token: &SecretString,
        instance_url: &str,
        generation: u64,
        age: Option<Duration>,
    ) -> Result<Arc<AccessToken>, Error> {
        let url = trusted_instance_url(
            instance_url,
            &self.inner.oauth.app().login().base_url(),
            &self.inner.instance_hosts,
            self.inner.allow_insecure_http,
        )?;
        let mut header = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
            .map_err(|_| {
                Error::Config("the access token has characters not allowed in a header".into())
            })?;
        header.set_sensitive(true);
        let mut left = self
            .inner
            .lifetime
            .map(|l| l.saturating_sub(age.unwrap_or_default()));
        if self.inner.introspect
            && let Some(exp) = self.inner.oauth.introspect_expiry(token).await?
        {
            left = Some((exp - self.inner.clock.now()).to_std().unwrap_or_default());
        }
        // Renew a little before the end: a tenth of the time left, at most a minute.
        let now = self.inner.clock.now();
        let renew_at = left.and_then(|l| {
            let wait = l.saturating_sub(Duration::from_secs(60).min(l / 10));
            chrono::Duration::from_std(wait).ok().map(|w| now + w)
        });
        Ok(Arc::new(AccessToken {
            header,
            instance_url: url,
            generation,
            renew_at,
        }))
    }
}

/// Salesforce's documented domains for instances (production, sandboxes,
/// Experience Cloud, government cloud, the China variants).
const SALESFORCE_DOMAINS: &[&str] = &[
    "salesforce.com",
    "force.com",
    "salesforce.mil",
    "force.mil",
    "cloudforce.com",
    "cloudforce.mil",
    "salesforce-setup.com",
    "salesforce-sites.com",
    "database.com",
    "sfcrmproducts.cn",
    "sfcrmapps.cn",
];

/// Checks an instance URL from a token response before any bearer token goes
/// there: https (plain http only for loopback or an explicit opt-in), no
/// userinfo, no path, no query, port 443 unless the host is allowed with its
/// port, and a host under Salesforce's domains, the login host, an allowed
/// host, or loopback. Pure.
pub(crate) fn trusted_instance_url(
    raw: &str,
    login: &Url,
    allowed: &[String],
    allow_insecure_http: bool,
) -> Result<Url, Error> {
    let untrusted = |reason: String| Error::UntrustedInstanceUrl { reason };
    let url = Url::parse(raw.trim_end_matches('/'))
        .map_err(|_| untrusted("the instance URL is not a valid URL".into()))?;
    let loopback = is_loopback(&url);
    match url.scheme() {
        "https" => {}
        "http" if loopback || allow_insecure_http => {}
        other => return Err(untrusted(format!("scheme {other}: https is required"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(untrusted("it carries userinfo (user@host)".into()));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(untrusted("it has a path, a query or a fragment".into()));
    }
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let with_port = url.port().map(|p| format!("{host}:{p}"));
    if loopback {
        return Ok(url);
    }
    if let Some(hp) = &with_port {
        if allowed.iter().any(|a| a == hp) {
            return Ok(url);
        }
        if url.port() != Some(443) {
            return Err(untrusted(format!(
                "host {host} with port {}",
                url.port().unwrap_or(0)
            )));
        }
    }
    let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    let login_host = login.host_str().unwrap_or("").to_ascii_lowercase();
    if SALESFORCE_DOMAINS.iter().any(|d| under(d)) || host == login_host || allowed.contains(&host)
    {
        Ok(url)
    } else {
        Err(untrusted(format!("host {host} is not a Salesforce domain")))
    }
}

/// Whether a token reached its renewal time (only known with a configured
/// lifetime or introspection).
fn expired(t: &AccessToken, now: DateTime<Utc>) -> bool {
    t.renew_at.is_some_and(|at| now >= at)
}

#[cfg(test)]
mod instance_url_tests {
    use super::*;

    #[test]
    fn only_salesforce_hosts_and_allowed_ones_get_the_token() {
        let login = Url::parse("https://login.salesforce.com").unwrap();
        let allowed = [
            "proxy.acme.internal".to_owned(),
            "gw.acme.com:8443".to_owned(),
        ];
        let check = |u: &str| trusted_instance_url(u, &login, &allowed, false);
        for good in [
            "https://acme.my.salesforce.com",
            "https://acme--dev.sandbox.my.salesforce.com/",
            "https://acme.my.site.force.com",
            "https://acme.my.salesforce.mil",
            "https://acme.my.sfcrmproducts.cn",
            "https://acme.my.salesforce.com:443",
            "https://proxy.acme.internal",
            "https://gw.acme.com:8443",
            "http://127.0.0.1:8080",
        ] {
            assert!(check(good).is_ok(), "{good}");
        }
        for bad in [
            "https://attacker.example.net",
            "https://x.my.salesforce.com@evil.example.net",
            "https://user@acme.my.salesforce.com",
            "https://acme.my.salesforce.com.evil.net",
            "https://evilsalesforce.com",
            "https://acme.my.salesforce.com:8443",
            "https://acme.my.salesforce.com/services/data",
            "http://acme.my.salesforce.com",
            "ftp://acme.my.salesforce.com",
        ] {
            assert!(
                matches!(check(bad), Err(Error::UntrustedInstanceUrl { .. })),
                "{bad}"
            );
        }
    }
}
