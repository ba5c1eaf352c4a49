//! The REST client: one cheap-to-clone handle per org.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use reqwest::{Body, Method};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::{AccessToken, Session};
use crate::error::{ApiError, Error, ErrorCode};
use crate::http::{RetryPolicy, jitter, transport_error};
use crate::retry::{Decision, RetryState, decide};
use crate::usage::ApiUsage;

/// The API version used unless another is configured.
pub const DEFAULT_API_VERSION: &str = "66.0";

/// A Salesforce REST client for one org.
///
/// # Example
///
/// ```
/// # #[cfg(feature = "testkit")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), salesforce_rest::Error> {
/// use salesforce_rest::auth::{ConnectedApp, Credentials, LoginHost, OAuthClient, Session};
/// use salesforce_rest::records::Lead;
/// use salesforce_rest::Client;
/// use secrecy::SecretString;
/// # let org = salesforce_rest::testkit::MockOrg::start().await;
///
/// let app = ConnectedApp::new("3MVG9...")
///     .client_secret(SecretString::from("consumer-secret"))
///     .login_host(LoginHost::Production);
/// # let app = org.app();
/// let session = Session::builder(
///     OAuthClient::new(app)?,
///     Credentials::RefreshToken(SecretString::from("5Aep861...")),
/// )
/// # ;
/// # let session = Session::builder(org.oauth(), Credentials::RefreshToken(SecretString::from(salesforce_rest::testkit::MOCK_REFRESH_TOKEN)))
/// .build();
/// let client = Client::builder(session).build()?;
///
/// let id = client.create(&Lead::new("Lima", "Acme Inc.")).await?;
/// let lead: Lead = client.get(&id, &["LastName", "Company"]).await?;
/// assert_eq!(lead.last_name.as_str(), Some("Lima"));
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "testkit"))]
/// # fn main() {}
/// ```
///
/// # Sessions
///
/// Every request carries the session's current token and goes to its instance
/// URL. A 401 `INVALID_SESSION_ID` renews the session once (single-flight across
/// all clones and tasks) and retries the request once; a refused renewal is an
/// [`Error::ReauthorizationRequired`], never a loop.
///
/// # Retries
///
/// Idempotent calls (reads, updates, upserts, deletes) are retried with jittered
/// backoff on transient failures (`UNABLE_TO_LOCK_ROW`, `SERVER_UNAVAILABLE`,
/// concurrent request limits, 502/503/504, timeouts). Creates are not retried
/// after an ambiguous failure: a lost answer would otherwise make a second record.
///
/// # Pooling and cloning
///
/// `Client` holds an `Arc`: clone it freely; clones share the connection pool,
/// the session and the latest API usage.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    session: Session,
    version: String,
    retry: RetryPolicy,
    usage: Mutex<Option<ApiUsage>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api_version", &self.inner.version)
            .field("session", &self.inner.session)
            .field("retry", &self.inner.retry)
            .finish()
    }
}

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    session: Session,
    version: Option<String>,
    http: Option<reqwest::Client>,
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
}

impl ClientBuilder {
    /// The API version (`66.0`; a leading `v` is accepted).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }
    /// A caller-built `reqwest::Client` (proxy, TLS, pools). Ties the caller to
    /// this crate's reqwest major version.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }
    /// The timeout of each attempt (default 120 s; ignored with `http_client`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// The retry policy for idempotent calls.
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }
    /// Builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let version = self
            .version
            .unwrap_or_else(|| DEFAULT_API_VERSION.to_owned())
            .trim_start_matches('v')
            .to_owned();
        let ok = version.split('.').count() == 2
            && version
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return Err(Error::Config(format!(
                "API version {version:?} should look like 66.0"
            )));
        }
        let http = match self.http {
            Some(h) => h,
            None => reqwest::Client::builder()
                .timeout(self.timeout.unwrap_or(Duration::from_secs(120)))
                .connect_timeout(Duration::from_secs(10))
                .user_agent(crate::http::USER_AGENT)
                .build()
                .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                session: self.session,
                version,
                retry: self.retry.unwrap_or_default(),
                usage: Mutex::new(None),
            }),
        })
    }
}

/// A request to the REST API.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub(crate) method: Method,
    /// Relative to `/services/data/vXX.X/`, or absolute when it starts with `/`.
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    /// The JSON body, serialized once (retries reuse the bytes).
    pub(crate) body: Option<Bytes>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) idempotent: bool,
}

impl Req {
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Self {
        let idempotent = method != Method::POST;
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
            idempotent,
        }
    }
    pub(crate) fn query(mut self, k: &str, v: impl Into<String>) -> Self {
        self.query.push((k.to_owned(), v.into()));
        self
    }
    pub(crate) fn json(mut self, body: &Value) -> Self {
        self.body = Some(Bytes::from(body.to_string()));
        self
    }
    /// A body serialized by the caller (straight from typed records, no `Value`).
    pub(crate) fn json_bytes(mut self, body: Vec<u8>) -> Self {
        self.body = Some(Bytes::from(body));
        self
    }
    pub(crate) fn headers(mut self, headers: Vec<(HeaderName, HeaderValue)>) -> Self {
        self.headers.extend(headers);
        self
    }
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
}

impl Answer {
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::unexpected(
                self.status,
                format!(
                    "the answer did not match the expected shape ({})",
                    describe(&e)
                ),
                &self.body,
            )
        })
    }
}

pub(crate) fn describe(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "I/O error",
        Category::Syntax => "malformed JSON",
        Category::Data => "unexpected shape",
        Category::Eof => "truncated JSON",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

impl Client {
    /// A builder for a client over a session.
    pub fn builder(session: Session) -> ClientBuilder {
        ClientBuilder {
            session,
            version: None,
            http: None,
            timeout: None,
            retry: None,
        }
    }

    /// The API version in use (`66.0`).
    pub fn api_version(&self) -> &str {
        &self.inner.version
    }

    /// The full path of a REST resource for composite subrequests:
    /// `data_path("sobjects/Lead")` is `/services/data/v66.0/sobjects/Lead`.
    pub fn data_path(&self, relative: &str) -> String {
        format!(
            "/services/data/v{}/{}",
            self.inner.version,
            relative.trim_start_matches('/')
        )
    }

    /// The full path of a SOQL query for composite subrequests (the query
    /// URL-encoded): `/services/data/v66.0/query?q=SELECT+Id+FROM+Case`.
    pub fn query_path(&self, soql: &str) -> String {
        let q: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
        self.data_path(&format!("query?q={q}"))
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.inner.session
    }

    /// The API usage reported by the latest answer's `Sforce-Limit-Info` header.
    pub fn api_usage(&self) -> Option<ApiUsage> {
        self.inner.usage.lock().ok().and_then(|u| u.clone())
    }

    pub(crate) fn url_for(&self, token: &AccessToken, path: &str) -> Result<url::Url, Error> {
        let mut url = token.instance_url().clone();
        let base = url.path().trim_end_matches('/').to_owned();
        if path.starts_with('/') {
            url.set_path(&format!("{base}{path}"));
        } else {
            url.set_path(&format!(
                "{base}/services/data/v{}/{path}",
                self.inner.version
            ));
        }
        Ok(url)
    }

    /// Sends a request with the session's token, renewing it once on 401 and
    /// retrying transient failures of idempotent calls.
    pub(crate) async fn call(&self, req: Req) -> Result<Answer, Error> {
        let span = tracing::debug_span!("salesforce.request", method = %req.method, path = %redact_path(&req.path));
        #[cfg(feature = "metrics")]
        let (path, started) = (req.path.clone(), std::time::Instant::now());
        let result = tracing::Instrument::instrument(self.call_inner(req), span).await;
        #[cfg(feature = "metrics")]
        crate::metrics::call_finished(&path, result.is_ok(), started.elapsed());
        result
    }

    async fn call_inner(&self, req: Req) -> Result<Answer, Error> {
        let session = &self.inner.session;
        let mut token = session.token().await?;
        let mut renewed = false;
        let mut attempt = 0u32;
        let started = std::time::Instant::now();
        loop {
            attempt += 1;
            let url = self.url_for(&token, &req.path)?;
            let mut builder = self
                .inner
                .http
                .request(req.method.clone(), url)
                .header(AUTHORIZATION, token.header().clone())
                .header(ACCEPT, "application/json");
            if !req.query.is_empty() {
                builder = builder.query(&req.query);
            }
            for (k, v) in &req.headers {
                builder = builder.header(k.clone(), v.clone());
            }
            if let Some(body) = &req.body {
                builder = builder
                    .header(CONTENT_TYPE, "application/json")
                    .body(Body::from(body.clone()));
            }
            let mut retry_after = None;
            let result = match builder.send().await {
                Ok(response) => {
                    retry_after = parse_retry_after(response.headers());
                    self.read(response).await
                }
                Err(e) => Err(transport_error(e)),
            };
            let err = match result {
                Ok(answer) => return Ok(answer),
                Err(err) => err,
            };
            if !renewed && is_refreshable_401(&err) {
                tracing::info!("session expired; renewing once");
                renewed = true;
                token = session.token_after_unauthorized(&token).await?;
                attempt -= 1;
                continue;
            }
            if let Error::Api(api) = &err
                && api.http_status == 410
            {
                return Err(Error::ApiVersionRetired {
                    version: self.inner.version.clone(),
                });
            }
            let state = RetryState::new(&err, attempt)
                .with_idempotent(req.idempotent)
                .with_jitter(jitter())
                .with_retry_after(retry_after)
                .with_elapsed(started.elapsed());
            match decide(&self.inner.retry, &state) {
                Decision::RetryAfter(wait) => {
                    tracing::warn!(attempt, wait_ms = wait.as_millis() as u64, error = %err, "retrying");
                    tokio::time::sleep(wait).await;
                }
                _ => return Err(err),
            }
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub(crate) async fn read_answer(&self, response: reqwest::Response) -> Result<Answer, Error> {
        self.read(response).await
    }

    async fn read(&self, response: reqwest::Response) -> Result<Answer, Error> {
        let status = response.status().as_u16();
        if let Some(usage) = response
            .headers()
            .get("sforce-limit-info")
            .and_then(|v| v.to_str().ok())
            .and_then(ApiUsage::parse)
        {
            if usage.is_near_limit() {
                tracing::warn!(
                    used = usage.used,
                    max = usage.max,
                    "API usage above 90% of the allocation"
                );
            }
            crate::metrics::api_usage(usage.used, usage.max);
            if let Ok(mut u) = self.inner.usage.lock() {
                *u = Some(usage);
            }
        }
        let html_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("html"));
        let body = response.bytes().await.map_err(transport_error)?;
        let html = html_type || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
        if (200..300).contains(&status) || status == 300 {
            if html {
                return Err(Error::unexpected(
                    status,
                    "an HTML page instead of JSON",
                    &body,
                ));
            }
            return Ok(Answer { status, body });
        }
        if status == 410 {
            return Err(ApiError {
                http_status: status,
                errors: vec![],
            }
            .into());
        }
        match ApiError::from_body(status, &body) {
            Some(api) => Err(api.into()),
            None => Err(Error::unexpected(
                status,
                if body.is_empty() {
                    "empty error body".to_owned()
                } else if html {
                    "an HTML page instead of a JSON error (a proxy or maintenance page)".to_owned()
                } else {
                    "the body is not a Salesforce error".to_owned()
                },
                &body,
            )),
        }
    }
}

/// `Retry-After` in seconds or as an HTTP date (capped at an hour).
fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<std::time::Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let secs = match v.parse::<u64>() {
        Ok(s) => s,
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
            u64::try_from((at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds())
                .unwrap_or(0)
        }
    };
    Some(std::time::Duration::from_secs(secs.min(3600)))
}

pub(crate) fn is_refreshable_401(err: &Error) -> bool {
    match err {
        Error::Api(api) if api.http_status == 401 => api.errors.iter().any(|e| {
            e.code == ErrorCode::InvalidSessionId
                && !e
                    .message
                    .to_ascii_lowercase()
                    .contains("not valid for use with the rest api")
        }),
        _ => false,
    }
}

/// Paths can carry record ids and external ID values; keep the shape only.
fn redact_path(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.len() >= 15 || seg.chars().any(|c| c.is_ascii_digit()) && seg.len() > 4 {
                "…"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
