//! OAuth 2.0 for Salesforce connected apps: every flow, typed token responses,
//! login hosts as configuration, token storage and single-flight refresh.
//!
//! | flow | method | gives a refresh token |
//! |---|---|---|
//! | web server (authorization code) + PKCE | [`OAuthClient::authorize_url`], [`OAuthClient::exchange_code`] | with the `refresh_token` scope |
//! | refresh token | [`OAuthClient::refresh`] | when rotation is on |
//! | JWT bearer (RS256) | [`OAuthClient::jwt_bearer`] | no |
//! | client credentials (My Domain only) | [`OAuthClient::client_credentials`] | no |
//! | username-password (discouraged, legacy orgs) | [`OAuthClient::password`] | no |
//!
//! No SOAP `login()` anywhere: it is unavailable from API 65.0 and being retired.
//! Token calls never follow redirects (a 302 drops the POST body), and an HTML
//! page from the token endpoint is reported as [`Error::WrongLoginHost`].
//!
//! ```
//! # #[cfg(feature = "testkit")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), salesforce_rest::Error> {
//! use salesforce_rest::auth::{ConnectedApp, LoginHost, OAuthClient, Pkce};
//! # let org = salesforce_rest::testkit::MockOrg::start().await;
//!
//! let app = ConnectedApp::new("3MVG9...consumer-key")
//!     .redirect_uri("http://localhost:8787/callback")
//!     .login_host(LoginHost::Production);
//! # let app = org.app();
//! let oauth = OAuthClient::new(app)?;
//! let pkce = Pkce::generate()?;
//! let url = oauth.authorize_url(&["api", "refresh_token"], "state-123", Some(&pkce));
//! assert!(url.as_str().contains("code_challenge_method=S256"));
//! // ... the user logs in, the callback receives ?code=...
//! # let code = org.issue_authorization_code();
//! let tokens = oauth.exchange_code(&code, Some(&pkce)).await?;
//! assert!(tokens.refresh_token.is_some());
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "testkit"))]
//! # fn main() {}
//! ```

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{Error, OAuthError};
use crate::http::{is_loopback, transport_error};

mod clock;
mod device;
#[cfg(feature = "jwt")]
mod jwt;
mod session;
mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use device::{DeviceAuthorization, DevicePoll, UserInfo};
#[cfg(feature = "jwt")]
pub use jwt::JwtKey;
pub use session::{AccessToken, Credentials, Session, SessionBuilder};
#[cfg(feature = "redis")]
pub use store::RedisTokenStore;
pub use store::conformance as store_conformance;
pub use store::{FileTokenStore, MemoryTokenStore, StoredToken, TokenStore};

/// Where users log in and tokens are issued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginHost {
    /// `https://login.salesforce.com` (production and Developer Edition).
    Production,
    /// `https://test.salesforce.com` (sandboxes).
    Sandbox,
    /// A My Domain URL: `https://<name>.my.salesforce.com` or the sandbox form
    /// `https://<name>--<sandbox>.sandbox.my.salesforce.com`.
    MyDomain(Url),
    /// Any other URL (an Experience Cloud site, a proxy, a test server).
    Custom(Url),
}

impl LoginHost {
    /// Classifies a login URL. https is required except for loopback hosts.
    pub fn parse(url: &str) -> Result<Self, Error> {
        Self::parse_with(url, false)
    }

    /// Like [`parse`](Self::parse), optionally accepting plain http anywhere.
    pub fn parse_with(url: &str, allow_insecure_http: bool) -> Result<Self, Error> {
        let u = Url::parse(url.trim().trim_end_matches('/'))
            .map_err(|e| Error::Config(format!("invalid login URL: {e}")))?;
        match u.scheme() {
            "https" => {}
            "http" if allow_insecure_http || is_loopback(&u) => {}
            _ => {
                return Err(Error::Config(
                    "the login URL must use https (plain http only for 127.0.0.1, localhost, ::1 or with an explicit opt-in)".into(),
                ));
            }
        }
        let host = u.host_str().unwrap_or("").to_ascii_lowercase();
        Ok(match host.as_str() {
            "login.salesforce.com" => LoginHost::Production,
            "test.salesforce.com" => LoginHost::Sandbox,
            h if h.ends_with(".my.salesforce.com") => LoginHost::MyDomain(u),
            _ => LoginHost::Custom(u),
        })
    }

    /// The base URL.
    pub fn base_url(&self) -> Url {
        match self {
            LoginHost::Production => fixed_url("https://login.salesforce.com"),
            LoginHost::Sandbox => fixed_url("https://test.salesforce.com"),
            LoginHost::MyDomain(u) | LoginHost::Custom(u) => u.clone(),
        }
    }

    /// Whether the client credentials flow can work here (My Domain or custom).
    pub fn supports_client_credentials(&self) -> bool {
        !matches!(self, LoginHost::Production | LoginHost::Sandbox)
    }

    /// The `aud` claim of a JWT bearer assertion for this host.
    pub fn jwt_audience(&self) -> String {
        match self {
            LoginHost::Production => "https://login.salesforce.com".into(),
            LoginHost::Sandbox => "https://test.salesforce.com".into(),
            LoginHost::MyDomain(u) => {
                if u.host_str()
                    .is_some_and(|h| h.contains(".sandbox.my.salesforce.com"))
                {
                    "https://test.salesforce.com".into()
                } else {
                    "https://login.salesforce.com".into()
                }
            }
            LoginHost::Custom(u) => u.as_str().trim_end_matches('/').to_owned(),
        }
    }

    fn endpoint(&self, path: &str) -> Url {
        let mut u = self.base_url();
        let base_path = u.path().trim_end_matches('/').to_owned();
        u.set_path(&format!("{base_path}{path}"));
        u
    }
}

#[allow(clippy::expect_used)] // only called with the constant, valid URLs above
fn fixed_url(url: &'static str) -> Url {
    Url::parse(url).expect("a constant, valid URL")
}

/// A connected app's OAuth settings.
#[derive(Clone)]
pub struct ConnectedApp {
    client_id: String,
    client_secret: Option<SecretString>,
    redirect_uri: Option<String>,
    login: LoginHost,
}

impl fmt::Debug for ConnectedApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectedApp")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("redirect_uri", &self.redirect_uri)
            .field("login", &self.login)
            .finish()
    }
}

impl ConnectedApp {
    /// An app by consumer key, logging in at [`LoginHost::Production`].
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: None,
            redirect_uri: None,
            login: LoginHost::Production,
        }
    }
    /// The consumer secret (needed by most flows).
    pub fn client_secret(mut self, secret: SecretString) -> Self {
        self.client_secret = Some(secret);
        self
    }
    /// The callback URL registered on the app (web-server flow).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }
    /// The login host.
    pub fn login_host(mut self, host: LoginHost) -> Self {
        self.login = host;
        self
    }
    /// The consumer key.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// The login host.
    pub fn login(&self) -> &LoginHost {
        &self.login
    }
}

/// A token response. Secrets are [`SecretString`]s: never in `Debug`.
#[derive(Clone)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The access token (session id).
    pub access_token: SecretString,
    /// The refresh token, when the flow and scopes give one (and on rotation).
    pub refresh_token: Option<SecretString>,
    /// The org's instance URL: every REST call goes there.
    pub instance_url: String,
    /// The identity URL (`https://login.salesforce.com/id/<org>/<user>`).
    pub id: Option<String>,
    /// `Bearer`.
    pub token_type: Option<String>,
    /// When the token was issued, in milliseconds since the epoch, as sent.
    pub issued_at: Option<String>,
    /// The granted scopes.
    pub scope: Option<String>,
    /// Base64 HMAC-SHA256 of `id + issued_at` with the client secret.
    pub signature: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("instance_url", &self.instance_url)
            .field("id", &self.id)
            .field("token_type", &self.token_type)
            .field("issued_at", &self.issued_at)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TokenResponse {
    /// `issued_at` as a time.
    pub fn issued_at_time(&self) -> Option<DateTime<Utc>> {
        let ms: i64 = self.issued_at.as_deref()?.trim().parse().ok()?;
        DateTime::from_timestamp_millis(ms)
    }

    fn from_wire(w: WireToken) -> Self {
        Self {
            access_token: SecretString::from(w.access_token),
            refresh_token: w.refresh_token.map(SecretString::from),
            instance_url: w.instance_url,
            id: w.id,
            token_type: w.token_type,
            issued_at: w.issued_at,
            scope: w.scope,
            signature: w.signature,
        }
    }
}

#[derive(Deserialize)]
struct WireToken {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    instance_url: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    issued_at: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    signature: Option<String>,
}

/// A PKCE verifier and its S256 challenge.
#[derive(Clone)]
pub struct Pkce {
    verifier: SecretString,
    challenge: String,
}

impl fmt::Debug for Pkce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkce")
            .field("verifier", &"[redacted]")
            .field("challenge", &self.challenge)
            .finish()
    }
}

impl Pkce {
    /// A fresh verifier (32 random bytes, base64url: 43 characters).
    pub fn generate() -> Result<Self, Error> {
        Ok(Self::from_verifier(&random_token(32)?))
    }

    /// A PKCE pair from a known verifier (43 to 128 unreserved characters).
    pub fn from_verifier(verifier: &str) -> Self {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier: SecretString::from(verifier.to_owned()),
            challenge,
        }
    }

    /// The S256 challenge sent in the authorize URL.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// The verifier sent with the code exchange.
    pub fn verifier(&self) -> &SecretString {
        &self.verifier
    }
}

/// A random, URL-safe token (for `state`, PKCE verifiers).
pub fn random_token(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| Error::Config(format!("no system randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// Runs the OAuth flows of one connected app. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    app: ConnectedApp,
    http: reqwest::Client,
}

impl OAuthClient {
    /// A client for the app, with an HTTP client that never follows redirects.
    pub fn new(app: ConnectedApp) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(crate::http::USER_AGENT)
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { app, http })
    }

    /// A client for the app over your own `reqwest::Client` (its pool, proxy
    /// and TLS settings). Configure it not to follow redirects
    /// (`redirect::Policy::none()`): a login host that redirects is then
    /// reported as [`Error::WrongLoginHost`] instead of being followed.
    pub fn with_http_client(app: ConnectedApp, http: reqwest::Client) -> Self {
        Self { app, http }
    }

    /// The app.
    pub fn app(&self) -> &ConnectedApp {
        &self.app
    }

    /// The authorize URL of the web-server flow. Scopes such as `api`,
    /// `refresh_token` (or `offline_access`, needed for a refresh token), `id`.
    pub fn authorize_url(&self, scopes: &[&str], state: &str, pkce: Option<&Pkce>) -> Url {
        let mut url = self.app.login.endpoint("/services/oauth2/authorize");
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code");
            q.append_pair("client_id", &self.app.client_id);
            if let Some(r) = &self.app.redirect_uri {
                q.append_pair("redirect_uri", r);
            }
            if !scopes.is_empty() {
                q.append_pair("scope", &scopes.join(" "));
            }
            q.append_pair("state", state);
            if let Some(p) = pkce {
                q.append_pair("code_challenge", p.challenge());
                q.append_pair("code_challenge_method", "S256");
            }
        }
        url
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce: Option<&Pkce>,
    ) -> Result<TokenResponse, Error> {
        let redirect = self.app.redirect_uri.clone().ok_or_else(|| {
            Error::Config("the code exchange needs the app's redirect_uri".into())
        })?;
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", redirect),
        ];
        if let Some(p) = pkce {
            form.push(("code_verifier", p.verifier().expose_secret().to_owned()));
        }
        self.token_call("authorization_code", form).await
    }

    /// Renews a session with a refresh token. With rotation on, the answer carries
    /// a new refresh token and the old one is spent.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenResponse, Error> {
        let form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh_token.expose_secret().to_owned()),
        ];
        self.token_call("refresh_token", form).await
    }

    /// The JWT bearer flow: an RS256 assertion signed with the key whose
    /// certificate is on the app; the user must be pre-approved (feature `jwt`).
    #[cfg(feature = "jwt")]
    pub async fn jwt_bearer(&self, username: &str, key: &JwtKey) -> Result<TokenResponse, Error> {
        let assertion = key.assertion(
            &self.app.client_id,
            username,
            &self.app.login.jwt_audience(),
            Utc::now(),
        )?;
        let form = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
            ),
            ("assertion", assertion.expose_secret().to_owned()),
        ];
        self.token_call("jwt_bearer", form).await
    }

    /// The client credentials flow (runs as the app's "Run As" user). Works only
    /// on a My Domain login URL.
    pub async fn client_credentials(&self) -> Result<TokenResponse, Error> {
        if !self.app.login.supports_client_credentials() {
            return Err(Error::Config(
                "the client credentials flow works only on a My Domain login URL (https://<name>.my.salesforce.com), not on login.salesforce.com or test.salesforce.com".into(),
            ));
        }
        if self.app.client_secret.is_none() {
            return Err(Error::Config(
                "the client credentials flow needs the consumer secret".into(),
            ));
        }
        self.token_call(
            "client_credentials",
            vec![("grant_type", "client_credentials".to_owned())],
        )
        .await
    }

    /// The username-password flow. **Discouraged**: Salesforce recommends
    /// blocking it; use it only for legacy orgs. The password is the user's
    /// password followed by the security token unless the IP is trusted.
    pub async fn password(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<TokenResponse, Error> {
        let form = vec![
            ("grant_type", "password".to_owned()),
            ("username", username.to_owned()),
            ("password", password.expose_secret().to_owned()),
        ];
        self.token_call("password", form).await
    }

    /// Revokes an access or refresh token (revoking a refresh token revokes its
    /// access tokens too).
    pub async fn revoke(&self, token: &SecretString) -> Result<(), Error> {
        let form = [("token", token.expose_secret().to_owned())];
        let (status, _, body) = self
            .post_form("/services/oauth2/revoke", &form, false)
            .await?;
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(classify_token_failure(status, &body))
    }

    /// Asks the introspection endpoint when a token expires; `None` when the
    /// token is not active or the answer has no `exp`.
    pub async fn introspect_expiry(
        &self,
        token: &SecretString,
    ) -> Result<Option<DateTime<Utc>>, Error> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            active: bool,
            #[serde(default)]
            exp: Option<i64>,
        }
        let form = [
            ("token", token.expose_secret().to_owned()),
            ("token_type_hint", "access_token".to_owned()),
        ];
        let (status, _, body) = self
            .post_form("/services/oauth2/introspect", &form, true)
            .await?;
        if !(200..300).contains(&status) {
            return Err(classify_token_failure(status, &body));
        }
        let w: Wire = serde_json::from_slice(&body).map_err(|_| {
            Error::unexpected(status, "the introspection answer is not JSON", &body)
        })?;
        Ok(if w.active {
            w.exp.and_then(|e| DateTime::from_timestamp(e, 0))
        } else {
            None
        })
    }

    /// Checks a token response's `signature` (HMAC-SHA256 of `id + issued_at` with
    /// the client secret), in constant time.
    pub fn verify_signature(&self, token: &TokenResponse) -> Result<(), Error> {
        let secret = self.app.client_secret.as_ref().ok_or_else(|| {
            Error::Config("verifying the signature needs the consumer secret".into())
        })?;
        let (Some(id), Some(issued), Some(sig)) = (&token.id, &token.issued_at, &token.signature)
        else {
            return Err(Error::Config(
                "the token response has no id, issued_at or signature".into(),
            ));
        };
        let expected = STANDARD
            .decode(sig)
            .map_err(|_| Error::Config("the token signature is not base64".into()))?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
            .map_err(|_| Error::Config("invalid secret".into()))?;
        mac.update(id.as_bytes());
        mac.update(issued.as_bytes());
        mac.verify_slice(&expected)
            .map_err(|_| Error::Config("the token response signature does not match: the response was altered, or the secret is wrong".into()))
    }

    /// POSTs a form to an OAuth endpoint of the login host, adding the client
    /// id and secret when asked; returns the status, whether the answer says it
    /// is HTML, and the body.
    async fn post_form(
        &self,
        path: &str,
        form: &[(&str, String)],
        client_auth: bool,
    ) -> Result<(u16, bool, bytes::Bytes), Error> {
        let mut form = form.to_vec();
        if client_auth {
            form.push(("client_id", self.app.client_id.clone()));
            if let Some(secret) = &self.app.client_secret {
                form.push(("client_secret", secret.expose_secret().to_owned()));
            }
        }
        let response = self
            .http
            .post(self.app.login.endpoint(path))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let html = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("html"));
        let body = response.bytes().await.map_err(transport_error)?;
        Ok((status, html, body))
    }

    #[tracing::instrument(name = "salesforce.oauth.token", skip(self, form))]
    async fn token_call(
        &self,
        flow: &'static str,
        mut form: Vec<(&'static str, String)>,
    ) -> Result<TokenResponse, Error> {
        form.push(("format", "json".to_owned()));
        let (status, html, body) = self
            .post_form("/services/oauth2/token", &form, true)
            .await?;
        if (200..300).contains(&status) && !html {
            let wire: WireToken = serde_json::from_slice(&body).map_err(|_| {
                if looks_like_html(&body) {
                    Error::WrongLoginHost {
                        status,
                        what: "an HTML page",
                    }
                } else {
                    Error::unexpected(status, "the token response is not a token", &body)
                }
            })?;
            tracing::info!(flow, "token issued");
            return Ok(TokenResponse::from_wire(wire));
        }
        let err = classify_token_failure(status, &body);
        tracing::warn!(flow, error = %err, "token request refused");
        Err(err)
    }
}

fn looks_like_html(body: &[u8]) -> bool {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    body.get(start..).is_some_and(|b| b.first() == Some(&b'<'))
}

fn classify_token_failure(status: u16, body: &[u8]) -> Error {
    if (300..400).contains(&status) {
        return Error::WrongLoginHost {
            status,
            what: "a redirect",
        };
    }
    if let Some(e) = OAuthError::from_body(status, body) {
        return e.into();
    }
    if status >= 500 {
        // A maintenance page or a proxy's 5xx: the endpoint is down, the grant
        // is fine. Transient, never a re-authorization.
        return Error::unexpected(
            status,
            "the token endpoint is unavailable; retry later",
            body,
        );
    }
    if looks_like_html(body) {
        return Error::WrongLoginHost {
            status,
            what: "an HTML page",
        };
    }
    Error::unexpected(
        status,
        "the token endpoint answered without an OAuth error",
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_hosts_are_classified() {
        assert_eq!(
            LoginHost::parse("https://login.salesforce.com/").unwrap(),
            LoginHost::Production
        );
        assert_eq!(
            LoginHost::parse("https://test.salesforce.com").unwrap(),
            LoginHost::Sandbox
        );
        let md = LoginHost::parse("https://acme.my.salesforce.com").unwrap();
        assert!(matches!(md, LoginHost::MyDomain(_)));
        assert_eq!(md.jwt_audience(), "https://login.salesforce.com");
        let sbx = LoginHost::parse("https://acme--uat.sandbox.my.salesforce.com").unwrap();
        assert_eq!(sbx.jwt_audience(), "https://test.salesforce.com");
        assert!(!LoginHost::Production.supports_client_credentials());
        assert!(sbx.supports_client_credentials());
        assert!(LoginHost::parse("http://login.salesforce.com").is_err());
        assert!(LoginHost::parse("http://127.0.0.1:8080").is_ok());
        assert!(LoginHost::parse_with("http://proxy.internal", true).is_ok());
        assert!(LoginHost::parse("not a url").is_err());
        assert_eq!(
            LoginHost::Sandbox
                .endpoint("/services/oauth2/token")
                .as_str(),
            "https://test.salesforce.com/services/oauth2/token"
        );
    }

    #[test]
    fn pkce_matches_the_rfc_7636_vector() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(p.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let g = Pkce::generate().unwrap();
        assert_eq!(g.verifier().expose_secret().len(), 43);
        assert!(!format!("{g:?}").contains(g.verifier().expose_secret()));
    }

    #[test]
    fn authorize_url_has_every_parameter() {
        let app = ConnectedApp::new("key").redirect_uri("http://localhost:8787/cb");
        let c = OAuthClient::new(app).unwrap();
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let url = c.authorize_url(&["api", "refresh_token"], "xyz", Some(&p));
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(url.path(), "/services/oauth2/authorize");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["scope"], "api refresh_token");
        assert_eq!(q["redirect_uri"], "http://localhost:8787/cb");
        assert_eq!(q["code_challenge"], p.challenge());
        assert_eq!(q["state"], "xyz");
    }

    #[test]
    fn token_response_signature_is_checked() {
        let app = ConnectedApp::new("key").client_secret(SecretString::from("secret"));
        let c = OAuthClient::new(app).unwrap();
        let id = "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P";
        let issued = "1278448832702";
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"secret").unwrap();
        mac.update(id.as_bytes());
        mac.update(issued.as_bytes());
        let sig = STANDARD.encode(mac.finalize().into_bytes());
        let mut t = TokenResponse {
            access_token: SecretString::from("00D!AQ"),
            refresh_token: None,
            instance_url: "https://x.my.salesforce.com".into(),
            id: Some(id.into()),
            token_type: Some("Bearer".into()),
            issued_at: Some(issued.into()),
            scope: None,
            signature: Some(sig),
        };
        assert!(c.verify_signature(&t).is_ok());
        assert_eq!(t.issued_at_time().unwrap().timestamp(), 1_278_448_832);
        t.issued_at = Some("1278448832703".into());
        assert!(c.verify_signature(&t).is_err());
        assert!(!format!("{t:?}").contains("00D!AQ"));
    }

    #[test]
    fn token_failures_are_classified() {
        assert!(matches!(
            classify_token_failure(302, b""),
            Error::WrongLoginHost {
                what: "a redirect",
                ..
            }
        ));
        assert!(matches!(
            classify_token_failure(200, b"  <html>login</html>"),
            Error::WrongLoginHost { .. }
        ));
        assert!(matches!(
            classify_token_failure(
                400,
                br#"{"error":"invalid_grant","error_description":"authentication failure"}"#
            ),
            Error::OAuth(_)
        ));
        assert!(matches!(
            classify_token_failure(500, b""),
            Error::UnexpectedResponse { .. }
        ));
    }
}
