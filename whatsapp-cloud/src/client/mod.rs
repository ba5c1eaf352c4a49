//! The HTTP client (feature `client`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER, USER_AGENT};
use reqwest::{RequestBuilder, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{ApiError, Error, TransportKind};
use crate::messages::{Message, SendResponse, Text};

mod endpoints;
mod flows;
mod manage;
pub(crate) mod pacing;
mod paging;
mod send;

use crate::retry::{self, Decision, Outcome, RetryPolicy};
pub use endpoints::{AccountApi, MediaApi, TemplatesApi};
pub use flows::FlowsApi;
pub use manage::{AnalyticsApi, PhoneApi};
pub use pacing::Pacing;
pub use send::SendRequest;

/// The Graph API version used unless another is configured.
pub const DEFAULT_API_VERSION: &str = "v23.0";
/// The Graph API host used unless another is configured.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";

const UA: &str = concat!("whatsapp-cloud-rs/", env!("CARGO_PKG_VERSION"));

/// A WhatsApp Cloud API client for one business phone number.
///
/// # Example
///
/// ```
/// # #[cfg(feature = "testkit")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use secrecy::SecretString;
/// use whatsapp_cloud::Client;
/// # let graph = whatsapp_cloud::testkit::MockGraph::start().await;
///
/// let client = Client::builder()
///     .access_token(SecretString::from("EAAG..."))
///     .phone_number_id("1234567890")
///     # .access_token(SecretString::from(whatsapp_cloud::testkit::MOCK_TOKEN))
///     # .base_url(graph.uri())
///     .build()?;
///
/// let sent = client.send_text("14155550123", "Your order has shipped!").await?;
/// println!("sent {}", sent.message_id().unwrap_or_default());
/// # assert_eq!(graph.message_requests().await.len(), 1);
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "testkit"))]
/// # fn main() {}
/// ```
///
/// # Configuration
///
/// [`ClientBuilder`] sets the access token (a system-user token in production),
/// the phone number id, the business account id (for templates, phone numbers and
/// subscriptions), the Graph API version (default [`DEFAULT_API_VERSION`]), the
/// base URL (default [`DEFAULT_BASE_URL`]; override it for tests and proxies),
/// the timeout, the retry policy and optional pacing.
///
/// # Pooling and cloning
///
/// `Client` holds an `Arc` inside: clone it freely and share it across tasks.
/// Clones share the connection pool and the pacer.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    number: Arc<Number>,
}

/// One business number: its id and its pacer (shared by every clone sending
/// from it).
struct Number {
    phone_number_id: String,
    pacer: Option<pacing::Pacer>,
}

struct Inner {
    http: reqwest::Client,
    auth: HeaderValue,
    business_account_id: Option<String>,
    api_version: String,
    base: Url,
    retry: RetryPolicy,
    pacing: Option<Pacing>,
    /// The numbers sent from so far, each with its pacer.
    numbers: std::sync::Mutex<std::collections::HashMap<String, Arc<Number>>>,
    download_cap: u64,
    media_hosts: Vec<String>,
    media_first_byte: Duration,
    media_read: Duration,
    templates: Option<send::TemplateDefinitions>,
}

/// Meta's media hosts: the only ones (with the base URL's host and the ones an
/// app adds) that get the bearer token for a media download.
pub const MEDIA_HOST_DOMAINS: &[&str] = &[
    "fbcdn.net",
    "fbsbx.com",
    "whatsapp.net",
    "graph.facebook.com",
];

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("access_token", &"[redacted]")
            .field("phone_number_id", &self.number.phone_number_id)
            .field("business_account_id", &self.inner.business_account_id)
            .field("api_version", &self.inner.api_version)
            .field("base_url", &self.inner.base.as_str())
            .field("retry", &self.inner.retry)
            .field("pacing", &self.number.pacer.is_some())
            .finish()
    }
}

/// Builds a [`Client`]. Every setting but the token and phone number id has a default.
#[derive(Default)]
pub struct ClientBuilder {
    token: Option<SecretString>,
    phone_number_id: Option<String>,
    business_account_id: Option<String>,
    api_version: Option<String>,
    base_url: Option<String>,
    timeout: Option<Duration>,
    http: Option<reqwest::Client>,
    retry: Option<RetryPolicy>,
    pacing: Option<Pacing>,
    allow_insecure_http: bool,
    download_cap: Option<u64>,
    media_hosts: Vec<String>,
    media_first_byte: Option<Duration>,
    media_read: Option<Duration>,
    template_ttl: Option<Duration>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("access_token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("phone_number_id", &self.phone_number_id)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The access token (required).
    pub fn access_token(mut self, token: SecretString) -> Self {
        self.token = Some(token);
        self
    }
    /// The business phone number id messages are sent from (required).
    pub fn phone_number_id(mut self, id: impl Into<String>) -> Self {
        self.phone_number_id = Some(id.into());
        self
    }
    /// The WhatsApp Business Account id (templates, phone numbers, subscriptions).
    pub fn business_account_id(mut self, id: impl Into<String>) -> Self {
        self.business_account_id = Some(id.into());
        self
    }
    /// The Graph API version (`v23.0`; `23.0` is accepted too).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }
    /// The base URL (`https://graph.facebook.com`). Plain http is accepted only for
    /// loopback hosts unless [`allow_insecure_http`](Self::allow_insecure_http) is set.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }
    /// Accepts plain-http base URLs on non-loopback hosts (not recommended).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }
    /// The timeout of each attempt (default 30 s; ignored with a custom `http_client`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// A caller-built `reqwest::Client` (proxy, TLS, pool settings). This ties the
    /// caller to the reqwest major version this crate uses.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }
    /// The retry policy (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }
    /// Turns on pacing (off by default).
    pub fn pacing(mut self, pacing: Pacing) -> Self {
        self.pacing = Some(pacing);
        self
    }
    /// The largest media download accepted (default 100 MiB).
    pub fn download_cap(mut self, bytes: u64) -> Self {
        self.download_cap = Some(bytes);
        self
    }

    /// Another host allowed to receive the token for media downloads (besides
    /// Meta's [`MEDIA_HOST_DOMAINS`] and the base URL's host).
    pub fn media_host(mut self, host: impl Into<String>) -> Self {
        self.media_hosts.push(host.into().to_ascii_lowercase());
        self
    }

    /// How long a media download may wait for its first byte (default 30 s)
    /// and then between two chunks (default 30 s). There is no total limit: a
    /// large file on a slow but moving link completes.
    pub fn media_timeouts(mut self, first_byte: Duration, between_chunks: Duration) -> Self {
        self.media_first_byte = Some(first_byte);
        self.media_read = Some(between_chunks);
        self
    }

    /// Checks every template send against the approved template's definition
    /// before sending it (parameter counts and names, header kind, buttons,
    /// carousel cards), so a wrong send fails locally with
    /// [`Error::TemplateMismatch`] naming the component. Definitions are
    /// fetched by name (one call covers every language) and kept for `ttl`;
    /// [`TemplatesApi::invalidate`] forgets them sooner, and
    /// [`SendRequest::skip_template_check`] skips the check for one send.
    /// Needs the business account id.
    pub fn template_check(mut self, ttl: Duration) -> Self {
        self.template_ttl = Some(ttl);
        self
    }

    /// Builds the client, checking the configuration.
    pub fn build(self) -> Result<Client, Error> {
        let token = self
            .token
            .ok_or_else(|| Error::Config("an access token is required".into()))?;
        if token.expose_secret().trim().is_empty() {
            return Err(Error::Config("the access token is empty".into()));
        }
        let phone_number_id = self
            .phone_number_id
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| Error::Config("a phone number id is required".into()))?;
        let api_version = self
            .api_version
            .unwrap_or_else(|| DEFAULT_API_VERSION.to_owned());
        // `v23.0` or `23.0`, as salesforce-rest accepts `v66.0` or `66.0`.
        let bare = api_version.trim().trim_start_matches('v');
        let ok = bare.split('.').count() == 2
            && bare
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return Err(Error::Config(format!(
                "API version {api_version:?} should look like v23.0 (or 23.0)"
            )));
        }
        let api_version = format!("v{bare}");
        let base = checked_base_url(
            self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL),
            self.allow_insecure_http,
        )?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
            .map_err(|_| {
                Error::Config("the access token has characters not allowed in a header".into())
            })?;
        auth.set_sensitive(true);
        let business_account_id = self.business_account_id.filter(|s| !s.is_empty());
        if self.template_ttl.is_some() && business_account_id.is_none() {
            return Err(Error::Config(
                "template_check needs the business account id (ClientBuilder::business_account_id)"
                    .into(),
            ));
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(self.timeout.unwrap_or(Duration::from_secs(30)))
                .connect_timeout(Duration::from_secs(10))
                .redirect(same_host_redirects())
                .user_agent(UA)
                .build()
                .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?,
        };
        let number = Arc::new(Number {
            pacer: self.pacing.map(pacing::Pacer::new),
            phone_number_id: phone_number_id.clone(),
        });
        Ok(Client {
            number: number.clone(),
            inner: Arc::new(Inner {
                http,
                auth,
                business_account_id,
                api_version,
                base,
                retry: self.retry.unwrap_or_default(),
                pacing: self.pacing,
                numbers: std::sync::Mutex::new(std::collections::HashMap::from([(
                    phone_number_id,
                    number,
                )])),
                download_cap: self
                    .download_cap
                    .unwrap_or(crate::media::DEFAULT_DOWNLOAD_CAP),
                media_hosts: self.media_hosts,
                media_first_byte: self.media_first_byte.unwrap_or(Duration::from_secs(30)),
                media_read: self.media_read.unwrap_or(Duration::from_secs(30)),
                templates: self.template_ttl.map(send::TemplateDefinitions::new),
            }),
        })
    }
}

/// Follows a redirect only to the same host: the bearer token never crosses to
/// another one (a cross-host redirect ends the request with its 3xx answer).
fn same_host_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt.previous().last().is_some_and(|prev| {
            prev.host_str() == attempt.url().host_str()
                && prev.port_or_known_default() == attempt.url().port_or_known_default()
        });
        if !same || attempt.previous().len() > 5 {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// Whether a media URL's host may receive the token. Pure.
pub(crate) fn media_host_allowed(url: &Url, base: &Url, extra: &[String]) -> bool {
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    if is_loopback(url) && url.host_str() == base.host_str() {
        return true;
    }
    if base
        .host_str()
        .is_some_and(|b| b.eq_ignore_ascii_case(&host))
    {
        return true;
    }
    let under = |d: &str| host == d || host.ends_with(&format!(".{d}"));
    MEDIA_HOST_DOMAINS.iter().any(|d| under(d)) || extra.iter().any(|d| under(d))
}

/// Parses a base URL and requires https, except for loopback hosts or an explicit opt-in.
pub(crate) fn checked_base_url(raw: &str, allow_insecure: bool) -> Result<Url, Error> {
    let url = Url::parse(raw.trim_end_matches('/'))
        .map_err(|e| Error::Config(format!("invalid base URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure || is_loopback(&url) => {}
        "http" => {
            return Err(Error::Config(
                "the base URL must use https (plain http is accepted for 127.0.0.1, localhost and ::1, or with allow_insecure_http)".into(),
            ));
        }
        other => return Err(Error::Config(format!("unsupported URL scheme {other:?}"))),
    }
    if url.cannot_be_a_base() {
        return Err(Error::Config(
            "the base URL cannot have paths appended".into(),
        ));
    }
    Ok(url)
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    url.host_str().is_some_and(crate::shared::is_loopback_host)
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The phone number id messages are sent from.
    pub fn phone_number_id(&self) -> &str {
        &self.number.phone_number_id
    }

    /// A client sending from another business number of the same account
    /// (the same token, connection pool and settings): one client serves
    /// every number, as a support line and a sales line. Each number has its
    /// own pacing (Meta's throughput is per number), shared by every client
    /// sending from it.
    ///
    /// ```
    /// # fn demo(client: whatsapp_cloud::Client) {
    /// let sales = client.for_number("109876543210");
    /// assert_eq!(sales.phone_number_id(), "109876543210");
    /// # }
    /// ```
    pub fn for_number(&self, phone_number_id: &str) -> Client {
        if phone_number_id == self.number.phone_number_id {
            return self.clone();
        }
        let number = match self.inner.numbers.lock() {
            Ok(mut numbers) => numbers
                .entry(phone_number_id.to_owned())
                .or_insert_with(|| {
                    Arc::new(Number {
                        phone_number_id: phone_number_id.to_owned(),
                        pacer: self.inner.pacing.map(pacing::Pacer::new),
                    })
                })
                .clone(),
            // A poisoned map only loses the sharing of a new number's pacer.
            Err(_) => Arc::new(Number {
                phone_number_id: phone_number_id.to_owned(),
                pacer: self.inner.pacing.map(pacing::Pacer::new),
            }),
        };
        Client {
            inner: self.inner.clone(),
            number,
        }
    }

    /// The business account id, if configured.
    pub fn business_account_id(&self) -> Option<&str> {
        self.inner.business_account_id.as_deref()
    }

    /// The Graph API version in use.
    pub fn api_version(&self) -> &str {
        &self.inner.api_version
    }

    /// Sends a text message.
    pub async fn send_text(
        &self,
        to: &str,
        body: impl Into<String>,
    ) -> Result<SendResponse, Error> {
        self.send(Message::new(to, Text::new(body))).await
    }

    /// Marks an inbound message (and the ones before it) as read.
    pub async fn mark_read(&self, message_id: &str) -> Result<(), Error> {
        self.read_receipt(message_id, false).await
    }

    /// Marks a message as read and shows a typing indicator (dismissed when you
    /// reply, or after 25 seconds).
    pub async fn mark_read_with_typing(&self, message_id: &str) -> Result<(), Error> {
        self.read_receipt(message_id, true).await
    }

    async fn read_receipt(&self, message_id: &str, typing: bool) -> Result<(), Error> {
        if message_id.trim().is_empty() {
            return Err(crate::ValidationError::new("message_id", "must not be empty").into());
        }
        let mut body = serde_json::Map::new();
        body.insert("messaging_product".into(), "whatsapp".into());
        body.insert("status".into(), "read".into());
        body.insert("message_id".into(), message_id.into());
        if typing {
            body.insert(
                "typing_indicator".into(),
                serde_json::json!({ "type": "text" }),
            );
        }
        let url = self.url(&[&self.number.phone_number_id, "messages"])?;
        // Marking as read is idempotent: repeating it is harmless.
        let ok: Success = self
            .execute("mark_read", true, |http| http.post(url.clone()).json(&body))
            .await?;
        ok.check("mark_read")
    }

    /// Media: upload, look up, download, delete.
    pub fn media(&self) -> MediaApi {
        MediaApi::new(self.clone())
    }

    /// Template management (needs the business account id).
    pub fn templates(&self) -> TemplatesApi {
        TemplatesApi::new(self.clone())
    }

    /// Phone numbers, business profile and app subscriptions.
    pub fn account(&self) -> AccountApi {
        AccountApi::new(self.clone())
    }

    pub(crate) fn waba(&self) -> Result<&str, Error> {
        self.inner.business_account_id.as_deref().ok_or_else(|| {
            Error::Config(
                "this call needs the business account id (ClientBuilder::business_account_id)"
                    .into(),
            )
        })
    }

    pub(crate) fn media_timeouts(&self) -> (Duration, Duration) {
        (self.inner.media_first_byte, self.inner.media_read)
    }

    pub(crate) fn download_cap(&self) -> u64 {
        self.inner.download_cap
    }

    /// `{base}/{version}/{segments...}`, each segment percent-encoded.
    pub(crate) fn url(&self, segments: &[&str]) -> Result<Url, Error> {
        let mut url = self.inner.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|_| Error::Config("the base URL cannot have paths appended".into()))?;
            path.pop_if_empty().push(&self.inner.api_version);
            for s in segments {
                path.push(s);
            }
        }
        Ok(url)
    }

    /// A GET of an absolute URL with the bearer token, for media downloads.
    /// The token is only ever sent over https (or to a loopback test server).
    pub(crate) fn authorized_get(&self, url: &str) -> Result<RequestBuilder, Error> {
        let parsed = Url::parse(url).map_err(|_| {
            Error::unexpected(200, "the media URL is not a valid URL", url.as_bytes())
        })?;
        if parsed.scheme() != "https" && !is_loopback(&parsed) {
            return Err(Error::Config(
                "refusing to send the access token to a non-https media URL".into(),
            ));
        }
        if !media_host_allowed(&parsed, &self.inner.base, &self.inner.media_hosts) {
            return Err(Error::Config(format!(
                "refusing to send the access token to media host {} (not one of Meta's; allow it with ClientBuilder::media_host if it is yours)",
                parsed.host_str().unwrap_or("?")
            )));
        }
        Ok(self
            .inner
            .http
            .get(parsed)
            .header(AUTHORIZATION, self.inner.auth.clone())
            .header(USER_AGENT, UA))
    }

    /// Sends a request built by `build` (called once per attempt), retrying per the
    /// policy, and decodes a JSON answer.
    #[tracing::instrument(name = "whatsapp.request", level = "debug", skip(self, build))]
    pub(crate) async fn execute<T: DeserializeOwned>(
        &self,
        op: &'static str,
        idempotent: bool,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<T, Error> {
        let start = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let request = build(&self.inner.http).header(AUTHORIZATION, self.inner.auth.clone());
            let result = match request.send().await {
                Ok(response) => read_json::<T>(response).await,
                Err(e) => Err(transport_error(e)),
            };
            let err = match result {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            let outcome = match &err {
                Error::Api(api) => Outcome::Api(api),
                Error::UnexpectedResponse { status, .. } => Outcome::Status(*status),
                Error::Transport { kind, .. } => Outcome::Transport(*kind),
                _ => return Err(err),
            };
            let state = retry::RetryState::new(outcome, attempt)
                .with_idempotent(idempotent)
                .with_elapsed(start.elapsed())
                .with_jitter(retry::jitter());
            match retry::decide(&self.inner.retry, &state) {
                Decision::RetryAfter(wait) => {
                    tracing::warn!(op, attempt, wait_ms = wait.as_millis() as u64, error = %err, "retrying");
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    tracing::debug!(op, attempt, error = %err, "request failed");
                    return Err(err);
                }
            }
        }
    }
}

/// `{"success": true}`; an explicit `false` is reported as an error.
#[derive(serde::Deserialize)]
pub(crate) struct Success {
    #[serde(default)]
    pub(crate) success: Option<bool>,
}

impl Success {
    pub(crate) fn check(self, op: &str) -> Result<(), Error> {
        if self.success == Some(false) {
            Err(Error::unexpected(
                200,
                format!("{op}: the API answered success=false"),
                b"",
            ))
        } else {
            Ok(())
        }
    }
}

pub(crate) fn transport_error(e: reqwest::Error) -> Error {
    let kind =
        TransportKind::classify(e.is_connect(), e.is_timeout(), e.is_body() || e.is_decode());
    let e = e.without_url();
    Error::Transport {
        kind,
        message: e.to_string(),
        source: Some(std::sync::Arc::new(e)),
    }
}

/// Reads a whole (small) answer and turns it into `T` or a typed error.
pub(crate) async fn read_json<T: DeserializeOwned>(response: Response) -> Result<T, Error> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let bytes = response.bytes().await.map_err(transport_error)?;
    if (200..300).contains(&status) {
        return serde_json::from_slice(&bytes).map_err(|e| {
            Error::unexpected(
                status,
                format!(
                    "the answer did not match the expected shape ({})",
                    crate::webhooks::describe(&e)
                ),
                &bytes,
            )
        });
    }
    match ApiError::from_body(status, &bytes) {
        Some(mut api) => {
            api.retry_after = retry_after;
            Err(api.into())
        }
        None => Err(Error::unexpected(
            status,
            if bytes.is_empty() {
                "empty error body".to_owned()
            } else {
                "the error body is not a Graph API error".to_owned()
            },
            &bytes,
        )),
    }
}
