//! Test support (feature `testkit`): a mock Graph API on wiremock that accepts
//! sends and records them, can be told to fail in each documented way, and
//! helpers that build realistic, correctly signed webhook requests.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use whatsapp_cloud::testkit::{GraphFailure, MockGraph};
//! use whatsapp_cloud::ErrorClass;
//!
//! let graph = MockGraph::start().await;
//! let client = graph.client();
//!
//! client.send_text("14155550123", "hello").await?;
//! assert_eq!(graph.message_requests().await[0]["text"]["body"], "hello");
//!
//! graph.fail_sends(GraphFailure::re_engagement_required(), 1).await;
//! let err = client.send_text("14155550123", "too late").await.unwrap_err();
//! assert_eq!(err.class(), Some(ErrorClass::ReEngagementRequired));
//! # Ok(())
//! # }
//! ```

// The mock reads and writes JSON objects it built itself; `Value` indexing on them
// cannot panic.
#![allow(clippy::indexing_slicing)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
mod stub;
pub use stub::{RecordedRequest, Stub};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::retry::RetryPolicy;
use crate::webhooks::SignatureVerifier;
use crate::{Client, ClientBuilder, DEFAULT_API_VERSION};

/// The access token the mock accepts.
pub const MOCK_TOKEN: &str = "mock-access-token";
/// The mock's phone number id.
pub const MOCK_PHONE_NUMBER_ID: &str = "1234567890";

/// A second business number of the mock's account (a sales line beside the
/// support line): it takes messages too ([`Client::for_number`]).
pub const MOCK_SECOND_PHONE_NUMBER_ID: &str = "1234567891";

fn mock_number(id: &str) -> bool {
    id == MOCK_PHONE_NUMBER_ID || id == MOCK_SECOND_PHONE_NUMBER_ID
}
/// The mock's business account id.
pub const MOCK_BUSINESS_ACCOUNT_ID: &str = "9876543210";

/// A failure the mock can be told to answer sends with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum GraphFailure {
    /// A Graph error body with this code and HTTP status.
    Code {
        /// The error code.
        code: i64,
        /// The HTTP status.
        http_status: u16,
        /// Optional `Retry-After` seconds.
        retry_after: Option<u64>,
    },
    /// An HTML page with this status (a proxy or load balancer).
    Html(u16),
    /// An empty body with this status.
    Empty(u16),
    /// A valid answer that arrives after this delay (to trigger client timeouts).
    Delay(Duration),
}

impl GraphFailure {
    /// 130429: throughput exceeded (retryable).
    pub fn throughput_exceeded() -> Self {
        Self::code(130_429, 400)
    }
    /// 131056: pair rate limit (retryable after 6 s).
    pub fn pair_rate_limit() -> Self {
        Self::code(131_056, 400)
    }
    /// 131047: outside the 24-hour window.
    pub fn re_engagement_required() -> Self {
        Self::code(131_047, 400)
    }
    /// 131026: undeliverable.
    pub fn undeliverable() -> Self {
        Self::code(131_026, 400)
    }
    /// 190: token expired.
    pub fn token_expired() -> Self {
        Self::code(190, 401)
    }
    /// 132001: template not found.
    pub fn template_not_found() -> Self {
        Self::code(132_001, 404)
    }
    /// 133004: server temporarily unavailable (retryable).
    pub fn server_unavailable() -> Self {
        Self::code(133_004, 503)
    }
    /// Any code.
    pub fn code(code: i64, http_status: u16) -> Self {
        Self::Code {
            code,
            http_status,
            retry_after: None,
        }
    }

    fn response(&self) -> ResponseTemplate {
        match self {
            GraphFailure::Code {
                code,
                http_status,
                retry_after,
            } => {
                let mut r = ResponseTemplate::new(*http_status).set_body_json(graph_error(*code));
                if let Some(s) = retry_after {
                    r = r.insert_header("retry-after", s.to_string().as_str());
                }
                r
            }
            GraphFailure::Html(status) => ResponseTemplate::new(*status)
                .insert_header("content-type", "text/html")
                .set_body_string("<html><body><h1>502 Bad Gateway</h1></body></html>"),
            GraphFailure::Empty(status) => ResponseTemplate::new(*status),
            GraphFailure::Delay(d) => ResponseTemplate::new(200)
                .set_body_json(json!({"messaging_product":"whatsapp","contacts":[],"messages":[{"id":"wamid.DELAYED"}]}))
                .set_delay(*d),
        }
    }
}

/// A Graph error body for a code.
pub fn graph_error(code: i64) -> Value {
    json!({
        "error": {
            "message": format!("(#{code}) mock error"),
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": format!("mock details for {code}")},
            "fbtrace_id": "MockTrace123"
        }
    })
}

#[derive(Default)]
pub(crate) struct State {
    latency_ms: AtomicU64,
    counter: AtomicU64,
    token_revoked: AtomicBool,
    subscribed: AtomicBool,
    media: Mutex<HashMap<String, (Vec<u8>, String)>>,
    templates: Mutex<Vec<Value>>,
    check_templates: AtomicBool,
    template_page_size: AtomicU64,
    profile: Mutex<Value>,
    manage: Mutex<manage::Account>,
    /// Meta's per-number throughput: (tokens, last refill, messages per second).
    throughput: Mutex<Option<(f64, std::time::Instant, f64)>>,
    throughput_rejections: AtomicU64,
    /// Every message the mock accepted: its id and body.
    accepted: Mutex<Vec<(String, Value)>>,
}

pub(crate) struct Router {
    state: Arc<State>,
    version: String,
    base: String,
}

impl Respond for Router {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let answer = self.route(req);
        match self.state.latency_ms.load(Ordering::SeqCst) {
            0 => answer,
            ms => answer.set_delay(Duration::from_millis(ms)),
        }
    }
}

impl Router {
    fn route(&self, req: &Request) -> ResponseTemplate {
        let path = req.url.path().to_owned();
        if let Some(id) = path.strip_prefix("/media-download/") {
            return self.download(req, id);
        }
        let auth_ok = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {MOCK_TOKEN}"));
        if !auth_ok || self.state.token_revoked.load(Ordering::SeqCst) {
            return ResponseTemplate::new(401).set_body_json(graph_error(190));
        }
        let Some(rest) = path.strip_prefix(&format!("/{}/", self.version)) else {
            return ResponseTemplate::new(400).set_body_json(graph_error(100));
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let m = req.method.as_str();
        if let Some(answer) = self.manage(m, &segments, req) {
            return answer;
        }
        match (m, segments.as_slice()) {
            ("POST", [phone, "messages"]) if mock_number(phone) => self.send(req),
            ("POST", [phone, "media"]) if mock_number(phone) => {
                let id = format!("media-{}", self.next());
                let mime = multipart_field(&req.body, "type").unwrap_or_default();
                self.lock_media()
                    .insert(id.clone(), (req.body.clone(), mime));
                ResponseTemplate::new(200).set_body_json(json!({ "id": id }))
            }
            ("GET", [phone, "whatsapp_business_profile"]) if *phone == MOCK_PHONE_NUMBER_ID => {
                let profile = lock(&self.state.profile).clone();
                ResponseTemplate::new(200).set_body_json(json!({ "data": [profile] }))
            }
            ("POST", [phone, "whatsapp_business_profile"]) if *phone == MOCK_PHONE_NUMBER_ID => {
                if let Ok(Value::Object(update)) = serde_json::from_slice::<Value>(&req.body) {
                    let mut profile = lock(&self.state.profile);
                    for (k, v) in update {
                        if k != "messaging_product" {
                            profile[k] = v;
                        }
                    }
                }
                success()
            }
            ("GET", [waba, "message_templates"]) if *waba == MOCK_BUSINESS_ACCOUNT_ID => {
                self.list_templates(req)
            }
            ("POST", [waba, "message_templates"]) if *waba == MOCK_BUSINESS_ACCOUNT_ID => {
                let Ok(mut t) = serde_json::from_slice::<Value>(&req.body) else {
                    return ResponseTemplate::new(400).set_body_json(graph_error(100));
                };
                let id = format!("tpl-{}", self.next());
                t["id"] = json!(id);
                t["status"] = json!("PENDING");
                let category = t["category"].clone();
                lock(&self.state.templates).push(t);
                ResponseTemplate::new(200)
                    .set_body_json(json!({"id": id, "status": "PENDING", "category": category}))
            }
            ("DELETE", [waba, "message_templates"]) if *waba == MOCK_BUSINESS_ACCOUNT_ID => {
                let name = query(req, "name").unwrap_or_default();
                let mut templates = lock(&self.state.templates);
                let before = templates.len();
                templates.retain(|t| t["name"] != json!(name));
                if templates.len() == before {
                    ResponseTemplate::new(404).set_body_json(graph_error(132_001))
                } else {
                    success()
                }
            }
            ("POST", [waba, "subscribed_apps"]) if *waba == MOCK_BUSINESS_ACCOUNT_ID => {
                self.state.subscribed.store(true, Ordering::SeqCst);
                success()
            }
            ("GET", [waba, "subscribed_apps"]) if *waba == MOCK_BUSINESS_ACCOUNT_ID => {
                let data = if self.state.subscribed.load(Ordering::SeqCst) {
                    json!([{"whatsapp_business_api_data": {"id": "424242", "name": "Mock App"}}])
                } else {
                    json!([])
                };
                ResponseTemplate::new(200).set_body_json(json!({ "data": data }))
            }
            ("GET", [id]) if *id == MOCK_PHONE_NUMBER_ID => {
                ResponseTemplate::new(200).set_body_json(phone_number())
            }
            ("GET", [id]) => match self.lock_media().get(*id) {
                Some((bytes, mime)) => {
                    use sha2::Digest;
                    ResponseTemplate::new(200).set_body_json(json!({
                        "messaging_product": "whatsapp",
                        "id": id,
                        "url": format!("{}/media-download/{id}?sig=mock", self.base),
                        "mime_type": mime,
                        "sha256": hex::encode(sha2::Sha256::digest(bytes)),
                        "file_size": bytes.len(),
                    }))
                }
                None => ResponseTemplate::new(404).set_body_json(graph_error(100)),
            },
            ("DELETE", [id]) => match self.lock_media().remove(*id) {
                Some(_) => success(),
                None => ResponseTemplate::new(404).set_body_json(graph_error(100)),
            },
            _ => ResponseTemplate::new(400).set_body_json(graph_error(100)),
        }
    }
}

impl Router {
    fn next(&self) -> u64 {
        self.state.counter.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Whether a message may go now under the configured throughput (a
    /// bucket of one second's worth of messages, refilled continuously).
    fn take_throughput_token(&self) -> bool {
        let mut slot = lock(&self.state.throughput);
        let Some((tokens, last, rate)) = slot.as_mut() else {
            return true;
        };
        let now = std::time::Instant::now();
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * *rate).min(rate.max(1.0));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn lock_media(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Vec<u8>, String)>> {
        lock(&self.state.media)
    }

    fn send(&self, req: &Request) -> ResponseTemplate {
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return ResponseTemplate::new(400).set_body_json(graph_error(100));
        };
        // Read receipts and typing indicators do not count against throughput.
        if body["status"] != "read" && !self.take_throughput_token() {
            self.state
                .throughput_rejections
                .fetch_add(1, Ordering::SeqCst);
            return ResponseTemplate::new(400).set_body_json(graph_error(130_429));
        }
        if body["messaging_product"] != "whatsapp" {
            return ResponseTemplate::new(400).set_body_json(graph_error(131_008));
        }
        if body["status"] == "read" {
            return if body["message_id"].is_string() {
                success()
            } else {
                ResponseTemplate::new(400).set_body_json(graph_error(131_008))
            };
        }
        let to = body["to"]
            .as_str()
            .or_else(|| body["recipient"].as_str())
            .unwrap_or_default()
            .to_owned();
        let kind = body["type"].as_str().unwrap_or_default();
        if to.is_empty() || kind.is_empty() || body.get(kind).is_none() {
            return ResponseTemplate::new(400).set_body_json(graph_error(131_008));
        }
        if kind == "template"
            && self.state.check_templates.load(Ordering::SeqCst)
            && let Some(refused) = self.check_template(&body["template"])
        {
            return refused;
        }
        self.count_send(kind == "template", &body);
        let wa_id: String = to.chars().filter(char::is_ascii_digit).collect();
        let id = format!("wamid.MOCK{:06}", self.next());
        lock(&self.state.accepted).push((id.clone(), body.clone()));
        let mut message = json!({ "id": id });
        if kind == "template" {
            message["message_status"] = json!("accepted");
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{ "input": to, "wa_id": wa_id }],
            "messages": [message],
        }))
    }

    /// What the real API answers a template send that does not match an
    /// approved template: 132001 unknown (name and language), 132015 / 132016
    /// paused / disabled, 132000 a parameter count that differs from the
    /// template's `{{n}}` placeholders (body and text header).
    fn check_template(&self, sent: &Value) -> Option<ResponseTemplate> {
        let name = sent["name"].as_str().unwrap_or_default();
        let language = sent["language"]["code"].as_str().unwrap_or_default();
        let templates = lock(&self.state.templates);
        let Some(def) = templates
            .iter()
            .find(|t| t["name"] == name && t["language"].as_str() == Some(language))
        else {
            return Some(ResponseTemplate::new(404).set_body_json(graph_error(132_001)));
        };
        match def["status"].as_str() {
            Some("PAUSED") => {
                return Some(ResponseTemplate::new(400).set_body_json(graph_error(132_015)));
            }
            Some("DISABLED") => {
                return Some(ResponseTemplate::new(400).set_body_json(graph_error(132_016)));
            }
            _ => {}
        }
        let placeholders = |kind: &str| {
            def["components"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| {
                    c["type"]
                        .as_str()
                        .is_some_and(|t| t.eq_ignore_ascii_case(kind))
                })
                .filter_map(|c| c["text"].as_str())
                .map(|t| t.matches("{{").count())
                .sum::<usize>()
        };
        let params = |kind: &str| {
            sent["components"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| {
                    c["type"]
                        .as_str()
                        .is_some_and(|t| t.eq_ignore_ascii_case(kind))
                })
                .filter_map(|c| c["parameters"].as_array())
                .map(Vec::len)
                .sum::<usize>()
        };
        let header_is_text = def["components"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "HEADER" && c["format"] == "TEXT");
        let header_ok = !header_is_text || placeholders("header") == params("header");
        if placeholders("body") != params("body") || !header_ok {
            return Some(ResponseTemplate::new(400).set_body_json(graph_error(132_000)));
        }
        None
    }

    fn download(&self, req: &Request, id: &str) -> ResponseTemplate {
        let auth_ok = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {MOCK_TOKEN}"));
        if !auth_ok || !req.headers.contains_key("user-agent") {
            return ResponseTemplate::new(401).set_body_string("unauthorized");
        }
        match self.lock_media().get(id) {
            Some((bytes, mime)) => ResponseTemplate::new(200)
                .insert_header("content-type", mime.as_str())
                .set_body_bytes(bytes.clone()),
            None => ResponseTemplate::new(404).set_body_string("not found"),
        }
    }

    fn list_templates(&self, req: &Request) -> ResponseTemplate {
        let templates = lock(&self.state.templates);
        let name = query(req, "name");
        let matches = |t: &&Value, key: &str| {
            query(req, key).is_none_or(|want| t[key].as_str() == Some(want.as_str()))
        };
        let matching: Vec<Value> = templates
            .iter()
            .filter(|t| {
                name.as_deref()
                    .is_none_or(|n| t["name"].as_str().unwrap_or_default().contains(n))
            })
            .filter(|t| matches(t, "status") && matches(t, "category") && matches(t, "language"))
            .cloned()
            .collect();
        let size = self.state.template_page_size.load(Ordering::SeqCst);
        self.paged(req, &matching, size)
    }

    /// A page of `items` in the Graph API's shape, at most `max` (and the
    /// request's `limit`) long, with an offset as the cursor.
    fn paged(&self, req: &Request, items: &[Value], max: u64) -> ResponseTemplate {
        let limit: u64 = query(req, "limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(25);
        let size = usize::try_from(limit.min(max).max(1)).unwrap_or(25);
        let start: usize = query(req, "after")
            .and_then(|a| a.parse().ok())
            .unwrap_or(0);
        let page: Vec<&Value> = items.iter().skip(start).take(size).collect();
        let end = start + page.len();
        let mut body = json!({ "data": page, "paging": { "cursors": { "before": start.to_string(), "after": end.to_string() } } });
        if end < items.len() {
            body["paging"]["next"] = json!(format!("{}{}?after={end}", self.base, req.url.path()));
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn success() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "success": true }))
}

pub(crate) fn phone_number() -> Value {
    json!({
        "id": MOCK_PHONE_NUMBER_ID,
        "display_phone_number": "+1 555-000-1111",
        "verified_name": "Mock Store",
        "quality_rating": "GREEN",
        "code_verification_status": "VERIFIED",
        "platform_type": "CLOUD_API",
    })
}

pub(crate) fn query(req: &Request, key: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Reads a text field of a multipart body (enough for the mock's needs).
pub(crate) fn multipart_field(body: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let marker = format!("name=\"{name}\"");
    let start = text.find(&marker)? + marker.len();
    let rest = text.get(start..)?;
    let value_start = rest.find("\r\n\r\n")? + 4;
    let value = rest.get(value_start..)?;
    let end = value.find("\r\n")?;
    value.get(..end).map(str::to_owned)
}

#[cfg(feature = "flows")]
mod flows;
#[cfg(feature = "flows")]
pub use flows::{FlowsSimulator, SealedRequest};
mod manage;
pub use manage::MOCK_VERIFICATION_CODE;

/// A mock Graph API. One per test; dropped with the test.
pub struct MockGraph {
    /// Present from start to drop (taken by `Drop`).
    server: Option<MockServer>,
    state: Arc<State>,
    version: String,
}

impl std::fmt::Debug for MockGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockGraph")
            .field("uri", &self.uri())
            .finish_non_exhaustive()
    }
}

impl MockGraph {
    /// Starts a mock for [`DEFAULT_API_VERSION`].
    pub async fn start() -> Self {
        Self::start_with_version(DEFAULT_API_VERSION).await
    }

    /// Starts a mock for a given Graph API version.
    pub async fn start_with_version(version: &str) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(State {
            template_page_size: AtomicU64::new(25),
            profile: Mutex::new(
                json!({"about": "Mock Store", "vertical": "RETAIL", "websites": []}),
            ),
            ..State::default()
        });
        Mock::given(wiremock::matchers::any())
            .respond_with(Router {
                state: state.clone(),
                version: version.to_owned(),
                base: server.uri(),
            })
            .with_priority(10)
            .mount(&server)
            .await;
        Self {
            server: Some(server),
            state,
            version: version.to_owned(),
        }
    }

    /// The base URL to give a client.
    pub fn uri(&self) -> String {
        self.server().uri()
    }

    /// A client builder pointed at the mock, with its token and ids, no retry
    /// backoff longer than 50 ms, and pacing off.
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .access_token(SecretString::from(MOCK_TOKEN))
            .phone_number_id(MOCK_PHONE_NUMBER_ID)
            .business_account_id(MOCK_BUSINESS_ACCOUNT_ID)
            .api_version(self.version.clone())
            .base_url(self.uri())
            .retry_policy(
                RetryPolicy::default()
                    .with_backoff(Duration::from_millis(5), Duration::from_millis(50))
                    .with_max_elapsed(Duration::from_secs(2)),
            )
    }

    /// A client pointed at the mock.
    ///
    /// # Panics
    ///
    /// Never in practice: the mock's settings always build.
    #[allow(clippy::panic)]
    pub fn client(&self) -> Client {
        match self.client_builder().build() {
            Ok(c) => c,
            Err(e) => panic!("the mock client configuration is invalid: {e}"),
        }
    }

    /// Every request the mock received.
    pub async fn requests(&self) -> Vec<RecordedRequest> {
        self.received()
            .await
            .iter()
            .map(RecordedRequest::from_wiremock)
            .collect()
    }

    async fn received(&self) -> Vec<Request> {
        self.server().received_requests().await.unwrap_or_default()
    }

    /// The JSON bodies of every message request the mock received, in order
    /// (read receipts excluded): the requests, whether the mock answered them
    /// with success or with an injected failure. (Named `sent_messages`
    /// before; a request is not a delivered message.)
    pub async fn message_requests(&self) -> Vec<Value> {
        self.message_posts()
            .await
            .into_iter()
            .filter(|b| b["status"] != "read")
            .collect()
    }

    /// The JSON bodies of the read receipts / typing indicators sent.
    pub async fn read_receipts(&self) -> Vec<Value> {
        self.message_posts()
            .await
            .into_iter()
            .filter(|b| b["status"] == "read")
            .collect()
    }

    async fn message_posts(&self) -> Vec<Value> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| {
                r.method() == "POST"
                    && [MOCK_PHONE_NUMBER_ID, MOCK_SECOND_PHONE_NUMBER_ID]
                        .iter()
                        .any(|n| r.path().ends_with(&format!("/{n}/messages")))
            })
            .filter_map(|r| r.body_json().ok())
            .collect()
    }

    /// The business number each message request was sent from, beside its
    /// body, in order (read receipts excluded).
    pub async fn messages_by_number(&self) -> Vec<(String, Value)> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.method() == "POST")
            .filter_map(|r| {
                let mut parts = r.path().rsplit('/');
                (parts.next() == Some("messages")).then_some(())?;
                let number = parts.next()?.to_owned();
                mock_number(&number).then_some(())?;
                let body: Value = r.body_json().ok()?;
                (body["status"] != "read").then_some((number, body))
            })
            .collect()
    }

    /// The messages the mock accepted (answered with a message id), with
    /// their ids, in order: sends answered with an injected failure are not
    /// among them. What WhatsApp would deliver, and send statuses for.
    pub fn accepted_messages(&self) -> Vec<(String, Value)> {
        lock(&self.state.accepted).clone()
    }

    /// Answers the next `times` sends with a failure (read receipts included).
    pub async fn fail_sends(&self, failure: GraphFailure, times: u64) {
        Mock::given(method("POST"))
            .and(path(format!(
                "/{}/{MOCK_PHONE_NUMBER_ID}/messages",
                self.version
            )))
            .respond_with(failure.response())
            .up_to_n_times(times)
            .with_priority(1)
            .mount(self.server())
            .await;
    }

    /// Makes every call fail with 190 (token expired) from now on.
    pub fn revoke_token(&self) {
        self.state.token_revoked.store(true, Ordering::SeqCst);
    }

    /// Registers a downloadable media file under an id.
    pub fn add_media(&self, id: &str, bytes: &[u8], mime_type: &str) {
        lock(&self.state.media).insert(id.to_owned(), (bytes.to_vec(), mime_type.to_owned()));
    }

    /// Adds a template to the account (e.g. `{"name":..,"language":..,"status":"APPROVED"}`).
    pub fn add_template(&self, template: Value) {
        lock(&self.state.templates).push(template);
    }

    /// Checks template sends against the templates added with
    /// [`add_template`](Self::add_template), as the real API does: an unknown
    /// name or language answers 132001, a paused or disabled template 132015 /
    /// 132016, a parameter count that differs from the definition's `{{n}}`
    /// placeholders 132000. Off by default (any template send is accepted).
    pub fn check_templates(&self, on: bool) {
        self.state.check_templates.store(on, Ordering::SeqCst);
    }

    /// Sets how many templates a list page holds (default 25).
    pub fn set_template_page_size(&self, size: u64) {
        self.state.template_page_size.store(size, Ordering::SeqCst);
    }

    /// Enforces Meta's per-number throughput: more than `per_second` messages
    /// (one second's worth in a burst, then `per_second` a second) are
    /// answered 130429, as the Cloud API does. Read receipts do not count.
    pub fn limit_throughput(&self, per_second: f64) {
        *lock(&self.state.throughput) =
            Some((per_second.max(1.0), std::time::Instant::now(), per_second));
    }

    /// How many sends were refused with 130429 by [`limit_throughput`](Self::limit_throughput).
    pub fn throughput_rejections(&self) -> u64 {
        self.state.throughput_rejections.load(Ordering::SeqCst)
    }

    /// Makes every answer wait `latency` first.
    pub fn set_latency(&self, latency: Duration) {
        self.state.latency_ms.store(
            u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    /// Adds a canned answer, tried before the mock's own behaviour (see
    /// [`Stub`]): an error the mock would not give, an endpoint it does not
    /// know, a body out of the ordinary.
    ///
    /// ```
    /// use serde_json::json;
    /// use whatsapp_cloud::testkit::{MockGraph, Stub};
    ///
    /// # async fn run() {
    /// let graph = MockGraph::start().await;
    /// // The next call to the business profile fails once with a 500.
    /// graph
    ///     .stub(Stub::new("GET", "/whatsapp_business_profile$").status(500).times(1))
    ///     .await;
    /// # }
    /// ```
    pub async fn stub(&self, stub: Stub) {
        stub.into_mock().mount(self.server()).await;
    }

    #[allow(clippy::expect_used)] // only `Drop` takes it
    fn server(&self) -> &MockServer {
        self.server
            .as_ref()
            .expect("the mock server lives until the MockGraph is dropped")
    }
}

impl Drop for MockGraph {
    /// wiremock's `MockServer` verifies its mocks on drop by blocking the
    /// thread on an async lock; on a tokio worker of a multi-thread runtime
    /// under load that was seen to hang for good (see salesforce-rest's
    /// `MockOrg`). A thread of its own cannot stall the runtime.
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = std::thread::Builder::new()
                .name("mock-graph-drop".into())
                .spawn(move || drop(server));
        }
    }
}

/// Signs a webhook body like Meta: returns the body bytes and the
/// `X-Hub-Signature-256` header value.
pub fn signed_webhook(payload: &str, app_secret: &str) -> (Vec<u8>, String) {
    let verifier = SignatureVerifier::new(&SecretString::from(app_secret));
    let body = payload.as_bytes().to_vec();
    let header = verifier.sign(&body);
    (body, header)
}

pub mod payloads;
