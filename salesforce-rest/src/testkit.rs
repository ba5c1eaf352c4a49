//! Test support (feature `testkit`): a mock Salesforce org on wiremock with a
//! token endpoint, sObjects, queries with pagination, collections, composite
//! and limits. It can expire sessions, revoke refresh tokens, rotate them,
//! answer with each error class, and counts requests and refreshes.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), salesforce_rest::Error> {
//! use salesforce_rest::records::Case;
//! use salesforce_rest::testkit::MockOrg;
//!
//! let org = MockOrg::start().await;
//! let client = org.client();
//! client.create(&Case::new("Broken box", "It arrived broken")).await?;
//! org.expire_sessions(); // the next call gets 401 and renews once
//! client.create(&Case::new("Late", "Still waiting")).await?;
//! assert_eq!(org.records("Case").len(), 2);
//! assert_eq!(org.token_requests(), 2);
//! # Ok(())
//! # }
//! ```

// The mock indexes JSON values it built itself; `Value` indexing cannot panic here.
#![allow(clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use sha2::Sha256;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::auth::{ConnectedApp, Credentials, LoginHost, OAuthClient, Session};
use crate::client::{Client, DEFAULT_API_VERSION};
use crate::http::RetryPolicy;

/// The consumer key the mock accepts.
pub const MOCK_CLIENT_ID: &str = "3MVG9mock-client-id";
/// The consumer secret the mock signs token responses with.
pub const MOCK_CLIENT_SECRET: &str = "mock-client-secret";
/// The refresh token the mock accepts from the start.
pub const MOCK_REFRESH_TOKEN: &str = "5Aep861mock-refresh-token";
/// The username and password (with security token) the password flow accepts.
pub const MOCK_USERNAME: &str = "integration@example.com";
/// See [`MOCK_USERNAME`].
pub const MOCK_PASSWORD: &str = "passwordTOKEN";

/// A failure the mock can answer REST calls with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum MockFailure {
    /// An error array with this status, code and message.
    Api {
        /// HTTP status.
        status: u16,
        /// `errorCode`.
        code: String,
        /// `message`.
        message: String,
    },
    /// An HTML page (maintenance, proxy).
    Html(u16),
    /// An empty body.
    Empty(u16),
}

impl MockFailure {
    /// An error array.
    pub fn api(status: u16, code: &str, message: &str) -> Self {
        Self::Api {
            status,
            code: code.into(),
            message: message.into(),
        }
    }
    /// `UNABLE_TO_LOCK_ROW` (retryable).
    pub fn lock_row() -> Self {
        Self::api(
            400,
            "UNABLE_TO_LOCK_ROW",
            "unable to obtain exclusive access to this record",
        )
    }
    /// `API_DISABLED_FOR_ORG`.
    pub fn api_disabled() -> Self {
        Self::api(
            403,
            "API_DISABLED_FOR_ORG",
            "The REST API is not enabled for this Organization.",
        )
    }
    /// Daily `REQUEST_LIMIT_EXCEEDED`.
    pub fn daily_limit() -> Self {
        Self::api(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        )
    }
    /// Concurrent `REQUEST_LIMIT_EXCEEDED` (retryable).
    pub fn concurrent_limit() -> Self {
        Self::api(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "ConcurrentPerOrgLongTxn Limit exceeded.",
        )
    }

    fn response(&self) -> ResponseTemplate {
        match self {
            MockFailure::Api { status, code, message } => {
                ResponseTemplate::new(*status).set_body_json(json!([{ "message": message, "errorCode": code }]))
            }
            MockFailure::Html(status) => ResponseTemplate::new(*status).set_body_raw(
                "<html><head><title>Maintenance</title></head><body><h1>Service Unavailable</h1><p>The server is down for maintenance.</p></body></html>",
                "text/html; charset=UTF-8",
            ),
            MockFailure::Empty(status) => ResponseTemplate::new(*status),
        }
    }
}

#[derive(Default)]
struct State {
    latency_ms: AtomicU64,
    fail_after_commit: Mutex<Option<(MockFailure, u64)>>,
    counter: AtomicU64,
    token_requests: AtomicU64,
    access_tokens: Mutex<HashSet<String>>,
    refresh_tokens: Mutex<HashSet<String>>,
    spent_refresh_tokens: Mutex<HashSet<String>>,
    codes: Mutex<HashSet<String>>,
    rotation: AtomicBool,
    token_html: AtomicBool,
    token_delay_ms: AtomicU64,
    records: Mutex<BTreeMap<String, Vec<Map<String, Value>>>>,
    locators: Mutex<HashMap<String, Vec<Value>>>,
    page_size: AtomicU64,
    case_number: AtomicU64,
    api_calls: AtomicU64,
    clock: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A mock org. One per test.
pub struct MockOrg {
    server: MockServer,
    state: Arc<State>,
    version: String,
}

impl std::fmt::Debug for MockOrg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockOrg")
            .field("uri", &self.server.uri())
            .finish_non_exhaustive()
    }
}

struct Router {
    state: Arc<State>,
    base: String,
    version: String,
}

impl MockOrg {
    /// Starts a mock org for [`DEFAULT_API_VERSION`].
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(State {
            page_size: AtomicU64::new(2000),
            case_number: AtomicU64::new(1025),
            ..State::default()
        });
        lock(&state.refresh_tokens).insert(MOCK_REFRESH_TOKEN.into());
        Mock::given(wiremock::matchers::any())
            .respond_with(Router {
                state: state.clone(),
                base: server.uri(),
                version: DEFAULT_API_VERSION.into(),
            })
            .with_priority(10)
            .mount(&server)
            .await;
        Self {
            server,
            state,
            version: DEFAULT_API_VERSION.into(),
        }
    }

    /// The org's URL (login host and instance URL at once).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The connected app of the mock, logging in at the mock.
    pub fn app(&self) -> ConnectedApp {
        let host = LoginHost::parse(&self.uri()).unwrap_or(LoginHost::Production);
        ConnectedApp::new(MOCK_CLIENT_ID)
            .client_secret(SecretString::from(MOCK_CLIENT_SECRET))
            .redirect_uri("http://localhost:8787/callback")
            .login_host(host)
    }

    /// An OAuth client for the mock's app.
    ///
    /// # Panics
    ///
    /// Only if no HTTP client can be built on this machine.
    #[allow(clippy::panic)]
    pub fn oauth(&self) -> OAuthClient {
        OAuthClient::new(self.app())
            .unwrap_or_else(|e| panic!("cannot build the OAuth client: {e}"))
    }

    /// A session with the mock's refresh token.
    pub fn session(&self) -> Session {
        Session::builder(
            self.oauth(),
            Credentials::RefreshToken(SecretString::from(MOCK_REFRESH_TOKEN)),
        )
        .build()
    }

    /// A client over a fresh session, with short retry backoff.
    ///
    /// # Panics
    ///
    /// Only if no HTTP client can be built on this machine.
    #[allow(clippy::panic)]
    pub fn client(&self) -> Client {
        self.client_for(self.session())
    }

    /// A client over a given session, with short retry backoff.
    ///
    /// # Panics
    ///
    /// Only if no HTTP client can be built on this machine.
    #[allow(clippy::panic)]
    pub fn client_for(&self, session: Session) -> Client {
        Client::builder(session)
            .api_version(self.version.clone())
            .retry_policy(RetryPolicy::new(
                3,
                Duration::from_millis(5),
                Duration::from_millis(20),
            ))
            .build()
            .unwrap_or_else(|e| panic!("cannot build the client: {e}"))
    }

    /// How many token requests the org answered.
    pub fn token_requests(&self) -> u64 {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    /// How many REST calls (not token calls) the org answered.
    pub fn api_calls(&self) -> u64 {
        self.state.api_calls.load(Ordering::SeqCst)
    }

    /// Every request received.
    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }

    /// Invalidates every access token: the next REST call gets 401 `INVALID_SESSION_ID`.
    pub fn expire_sessions(&self) {
        lock(&self.state.access_tokens).clear();
    }

    /// Revokes every refresh token: refreshes get `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        lock(&self.state.refresh_tokens).clear();
    }

    /// Turns on refresh token rotation: each refresh returns a new refresh token
    /// and spends the old one; reusing a spent one revokes them all.
    pub fn enable_rotation(&self) {
        self.state.rotation.store(true, Ordering::SeqCst);
    }

    /// Makes the token endpoint answer with an HTML login page (wrong host).
    pub fn token_endpoint_html(&self, on: bool) {
        self.state.token_html.store(on, Ordering::SeqCst);
    }

    /// Delays token answers (to widen race windows in tests).
    pub fn token_delay(&self, delay: Duration) {
        self.state
            .token_delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Issues an authorization code for the web-server flow.
    pub fn issue_authorization_code(&self) -> String {
        let code = format!(
            "aPrxMockCode{}",
            self.state.counter.fetch_add(1, Ordering::SeqCst)
        );
        lock(&self.state.codes).insert(code.clone());
        code
    }

    /// Sets how many rows a query page holds (default 2000).
    pub fn set_page_size(&self, size: u64) {
        self.state.page_size.store(size.max(1), Ordering::SeqCst);
    }

    /// The stored records of an object, in creation order.
    pub fn records(&self, object: &str) -> Vec<Map<String, Value>> {
        lock(&self.state.records)
            .get(object)
            .cloned()
            .unwrap_or_default()
    }

    /// Adds a record directly (e.g. invoices for a reminder job); returns its id.
    pub fn insert(&self, object: &str, fields: Value) -> String {
        let Value::Object(map) = fields else {
            return String::new();
        };
        insert_record(&self.state, object, map)
    }

    /// Changes a stored record's fields (and its `SystemModstamp`), as a user would.
    pub fn touch(&self, object: &str, id: &str, fields: Value) {
        let stamp = next_stamp(&self.state);
        if let Some(r) = lock(&self.state.records)
            .get_mut(object)
            .and_then(|rows| rows.iter_mut().find(|r| r["Id"] == id))
        {
            if let Value::Object(f) = fields {
                r.extend(f);
            }
            r.insert("SystemModstamp".into(), Value::String(stamp));
        }
    }

    /// Answers the next `times` REST calls with a failure.
    pub async fn fail_next(&self, failure: MockFailure, times: u64) {
        Mock::given(wiremock::matchers::path_regex("^/services/data/.+"))
            .respond_with(failure.response())
            .up_to_n_times(times)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// Applies the next `times` REST writes (POST, PATCH, DELETE), then answers
    /// each with `failure` anyway: the commit-then-fail case that makes naive
    /// retries create duplicates.
    pub fn fail_after_commit(&self, failure: MockFailure, times: u64) {
        *lock(&self.state.fail_after_commit) = (times > 0).then_some((failure, times));
    }

    /// Makes every answer (token endpoint included) wait `latency` first, as a
    /// busy org does.
    pub fn set_latency(&self, latency: Duration) {
        self.state.latency_ms.store(
            u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    /// The underlying wiremock server, to mount extra mocks.
    pub fn server(&self) -> &MockServer {
        &self.server
    }
}

fn prefix(object: &str) -> &'static str {
    match object {
        "Lead" => "00Q",
        "Case" => "500",
        "Contact" => "003",
        "Account" => "001",
        "Task" => "00T",
        "Opportunity" => "006",
        _ => "a0X",
    }
}

fn next_stamp(state: &State) -> String {
    let t = state.clock.fetch_add(1, Ordering::SeqCst);
    let dt = chrono::DateTime::from_timestamp(1_767_225_600 + t as i64, 0).unwrap_or_default();
    format!("{}+0000", dt.format("%Y-%m-%dT%H:%M:%S%.3f"))
}

fn insert_record(state: &State, object: &str, mut fields: Map<String, Value>) -> String {
    let n = state.counter.fetch_add(1, Ordering::SeqCst) + 1;
    let raw = format!("{}{:012}", prefix(object), n);
    let id = crate::id::SalesforceId::parse(&raw)
        .map(|i| i.to_string())
        .unwrap_or(raw);
    fields.remove("attributes");
    fields.insert("Id".into(), Value::String(id.clone()));
    fields.insert("SystemModstamp".into(), Value::String(next_stamp(state)));
    if object == "Case" {
        let num = state.case_number.fetch_add(1, Ordering::SeqCst) + 1;
        fields.insert("CaseNumber".into(), Value::String(format!("{num:08}")));
    }
    lock(&state.records)
        .entry(object.to_owned())
        .or_default()
        .push(fields);
    id
}

fn is_multipart(req: &Request) -> bool {
    req.headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// The parts of a multipart body: (name, bytes).
fn multipart_parts(req: &Request) -> Vec<(String, Vec<u8>)> {
    let boundary = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("boundary=").nth(1))
        .map(|b| format!("--{}", b.trim_matches('"')))
        .unwrap_or_default();
    let body = &req.body;
    let mut parts = Vec::new();
    let mut starts: Vec<usize> = Vec::new();
    let b = boundary.as_bytes();
    let mut i = 0;
    while !b.is_empty() && i + b.len() <= body.len() {
        if &body[i..i + b.len()] == b {
            starts.push(i);
            i += b.len();
        } else {
            i += 1;
        }
    }
    for w in starts.windows(2) {
        let chunk = &body[w[0] + b.len()..w[1]];
        let Some(split) = chunk.windows(4).position(|x| x == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&chunk[..split]).to_string();
        let name = head
            .split("name=\"")
            .nth(1)
            .and_then(|n| n.split('"').next())
            .unwrap_or("")
            .to_owned();
        let data = &chunk[split + 4..];
        let data = data.strip_suffix(b"\r\n").unwrap_or(data);
        parts.push((name, data.to_vec()));
    }
    parts
}

fn errors(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!([{ "message": message, "errorCode": code }]))
}

fn oauth_error(error: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(400)
        .set_body_json(json!({ "error": error, "error_description": description }))
}

impl Respond for Router {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut answer = self.route(req);
        // A write that Salesforce commits but whose answer is lost (a 503 from
        // a proxy, a timeout): the change stays, the caller sees a failure.
        let writes = req.method.as_str() != "GET" && req.url.path().starts_with("/services/data/");
        if writes {
            let mut slot = lock(&self.state.fail_after_commit);
            if let Some((failure, left)) = slot.as_mut() {
                answer = failure.response();
                *left -= 1;
                if *left == 0 {
                    *slot = None;
                }
            }
        }
        match self.state.latency_ms.load(Ordering::SeqCst) {
            0 => answer,
            ms => answer.set_delay(Duration::from_millis(ms)),
        }
    }
}

impl Router {
    fn route(&self, req: &Request) -> ResponseTemplate {
        let path = req.url.path().to_owned();
        if path == "/services/oauth2/token" {
            return self.token(req);
        }
        if path == "/services/oauth2/revoke" {
            let form = form(req);
            if let Some(t) = form.get("token") {
                lock(&self.state.refresh_tokens).remove(t);
                lock(&self.state.access_tokens).remove(t);
            }
            return ResponseTemplate::new(200);
        }
        if path == "/services/oauth2/introspect" {
            let form = form(req);
            let active = form
                .get("token")
                .is_some_and(|t| lock(&self.state.access_tokens).contains(t));
            return ResponseTemplate::new(200).set_body_json(
                json!({ "active": active, "exp": chrono::Utc::now().timestamp() + 7200 }),
            );
        }
        if path == "/services/data" || path == "/services/data/" {
            return ResponseTemplate::new(200).set_body_json(json!([
                { "label": "Spring '26", "url": "/services/data/v66.0", "version": "66.0" },
                { "label": "Summer '26", "url": "/services/data/v67.0", "version": "67.0" },
            ]));
        }
        let authorized = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| lock(&self.state.access_tokens).contains(t));
        if !authorized {
            return errors(401, "INVALID_SESSION_ID", "Session expired or invalid");
        }
        let prefix = format!("/services/data/v{}/", self.version);
        let Some(rest) = path.strip_prefix(&prefix) else {
            return errors(404, "NOT_FOUND", "The requested resource does not exist");
        };
        let calls = self.state.api_calls.fetch_add(1, Ordering::SeqCst) + 1;
        let response = self.rest(req, rest);
        response.insert_header(
            "Sforce-Limit-Info",
            format!("api-usage={calls}/15000").as_str(),
        )
    }
}

fn form(req: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}

impl Router {
    fn token(&self, req: &Request) -> ResponseTemplate {
        self.state.token_requests.fetch_add(1, Ordering::SeqCst);
        let delay = Duration::from_millis(self.state.token_delay_ms.load(Ordering::SeqCst));
        if self.state.token_html.load(Ordering::SeqCst) {
            return ResponseTemplate::new(200).set_body_raw(
                "<html><body><form id=\"login\">Login to Salesforce</form></body></html>",
                "text/html",
            );
        }
        let f = form(req);
        if f.get("client_id").map(String::as_str) != Some(MOCK_CLIENT_ID) {
            return oauth_error("invalid_client_id", "client identifier invalid");
        }
        let mut refresh = None;
        match f.get("grant_type").map(String::as_str) {
            Some("refresh_token") => {
                let rt = f.get("refresh_token").cloned().unwrap_or_default();
                if lock(&self.state.spent_refresh_tokens).contains(&rt) {
                    // Reusing a rotated-away token revokes the whole grant.
                    lock(&self.state.refresh_tokens).clear();
                    return oauth_error("invalid_grant", "expired access/refresh token");
                }
                if !lock(&self.state.refresh_tokens).contains(&rt) {
                    return oauth_error("invalid_grant", "expired access/refresh token");
                }
                if self.state.rotation.load(Ordering::SeqCst) {
                    lock(&self.state.refresh_tokens).remove(&rt);
                    lock(&self.state.spent_refresh_tokens).insert(rt);
                    let new = format!(
                        "5AepRotated{}",
                        self.state.counter.fetch_add(1, Ordering::SeqCst)
                    );
                    lock(&self.state.refresh_tokens).insert(new.clone());
                    refresh = Some(new);
                }
            }
            Some("authorization_code") => {
                let code = f.get("code").cloned().unwrap_or_default();
                if !lock(&self.state.codes).remove(&code) {
                    return oauth_error("invalid_grant", "expired authorization code");
                }
                let rt = format!(
                    "5AepFromCode{}",
                    self.state.counter.fetch_add(1, Ordering::SeqCst)
                );
                lock(&self.state.refresh_tokens).insert(rt.clone());
                refresh = Some(rt);
            }
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
                let ok = f
                    .get("assertion")
                    .is_some_and(|a| a.split('.').count() == 3);
                if !ok {
                    return oauth_error("invalid_grant", "invalid assertion");
                }
            }
            Some("client_credentials") => {
                if f.get("client_secret").map(String::as_str) != Some(MOCK_CLIENT_SECRET) {
                    return oauth_error("invalid_client", "invalid client credentials");
                }
            }
            Some("password") => {
                if f.get("username").map(String::as_str) != Some(MOCK_USERNAME)
                    || f.get("password").map(String::as_str) != Some(MOCK_PASSWORD)
                {
                    return oauth_error("invalid_grant", "authentication failure");
                }
            }
            _ => return oauth_error("unsupported_grant_type", "grant type not supported"),
        }
        let n = self.state.counter.fetch_add(1, Ordering::SeqCst);
        let access = format!("00DMOCK!AQ{n:08}");
        lock(&self.state.access_tokens).insert(access.clone());
        let id = format!("{}/id/00D000000000001AAA/005000000000001AAA", self.base);
        let issued = chrono::Utc::now().timestamp_millis().to_string();
        let signature = <Hmac<Sha256> as Mac>::new_from_slice(MOCK_CLIENT_SECRET.as_bytes())
            .map(|mut m| {
                m.update(id.as_bytes());
                m.update(issued.as_bytes());
                base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
            })
            .unwrap_or_default();
        let mut body = json!({
            "access_token": access,
            "instance_url": self.base,
            "id": id,
            "token_type": "Bearer",
            "issued_at": issued,
            "scope": "api refresh_token",
            "signature": signature,
        });
        if let Some(rt) = refresh {
            body["refresh_token"] = json!(rt);
        }
        ResponseTemplate::new(200)
            .set_body_json(body)
            .set_delay(delay)
    }

    fn rest(&self, req: &Request, rest: &str) -> ResponseTemplate {
        let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        match (req.method.as_str(), segs.as_slice()) {
            ("POST", ["sobjects", "ContentVersion"]) if is_multipart(req) => self.content_version(req),
            ("POST", ["sobjects", object]) => {
                let Value::Object(fields) = body else { return errors(400, "JSON_PARSER_ERROR", "bad body") };
                if let Some(missing) = required_missing(object, &fields) {
                    return ResponseTemplate::new(400).set_body_json(json!([{ "message": format!("Required fields are missing: [{missing}]"), "errorCode": "REQUIRED_FIELD_MISSING", "fields": [missing] }]));
                }
                let id = insert_record(&self.state, object, fields);
                ResponseTemplate::new(201).set_body_json(json!({ "id": id, "success": true, "errors": [] }))
            }
            ("GET", ["sobjects", object, "describe"]) => ResponseTemplate::new(200).set_body_json(json!({
                "name": object, "label": object, "fields": [
                    { "name": "Id", "label": "Record ID", "type": "id", "length": 18, "nillable": false, "createable": false, "updateable": false },
                    { "name": "Phone", "label": "Phone", "type": "phone", "length": 40, "nillable": true, "createable": true, "updateable": true },
                    { "name": "Description", "label": "Description", "type": "textarea", "length": 32000, "nillable": true, "createable": true, "updateable": true },
                    { "name": "WhatsApp_Message_Id__c", "label": "WhatsApp Message Id", "type": "string", "length": 80, "nillable": true, "createable": true, "updateable": true, "externalId": true, "unique": true },
                    { "name": "WhatsApp_Phone__c", "label": "WhatsApp Phone", "type": "string", "length": 40, "nillable": true, "createable": true, "updateable": true, "externalId": true, "unique": true },
                    { "name": "WhatsApp_Tags__c", "label": "WhatsApp Tags", "type": "multipicklist", "length": 4099, "nillable": true, "createable": true, "updateable": true }
                ]
            })),
            ("GET", ["sobjects"]) => ResponseTemplate::new(200).set_body_json(json!({ "sobjects": [
                { "name": "Lead", "label": "Lead", "custom": false, "createable": true, "queryable": true },
                { "name": "Case", "label": "Case", "custom": false, "createable": true, "queryable": true },
            ] })),
            ("GET", ["sobjects", object, id]) => match self.find(object, id) {
                Some(mut r) => {
                    if let Some((_, fields)) = req.url.query_pairs().find(|(k, _)| k == "fields") {
                        let keep: Vec<&str> = fields.split(',').collect();
                        r.retain(|k, _| k == "Id" || keep.contains(&k.as_str()));
                    }
                    r.insert("attributes".into(), json!({ "type": object, "url": format!("/services/data/v{}/sobjects/{object}/{id}", self.version) }));
                    ResponseTemplate::new(200).set_body_json(Value::Object(r))
                }
                None => errors(404, "NOT_FOUND", "The requested resource does not exist"),
            },
            ("PATCH", ["sobjects", object, id]) => {
                let Value::Object(fields) = body else { return errors(400, "JSON_PARSER_ERROR", "bad body") };
                if self.update(object, id, fields) { ResponseTemplate::new(204) } else { errors(404, "NOT_FOUND", "The requested resource does not exist") }
            }
            ("DELETE", ["sobjects", object, id]) => {
                let mut recs = lock(&self.state.records);
                let rows = recs.entry((*object).to_owned()).or_default();
                let before = rows.len();
                rows.retain(|r| !same_id(&r["Id"], id));
                if rows.len() < before { ResponseTemplate::new(204) } else { errors(404, "ENTITY_IS_DELETED", "entity is deleted") }
            }
            ("PATCH", ["sobjects", object, field, value]) => {
                let Value::Object(fields) = body else { return errors(400, "JSON_PARSER_ERROR", "bad body") };
                let (status, result) = self.upsert(object, field, value, fields);
                ResponseTemplate::new(status).set_body_json(result)
            }
            ("POST", ["composite", "sobjects"]) => {
                let records = body["records"].as_array().cloned().unwrap_or_default();
                if records.len() > 200 {
                    return errors(400, "EXCEEDED_ID_LIMIT", "record limit exceeded");
                }
                let out: Vec<Value> = records.into_iter().map(|r| {
                    let object = r["attributes"]["type"].as_str().unwrap_or("Unknown").to_owned();
                    let Value::Object(fields) = r else { return json!({"success": false, "errors": [{"statusCode": "JSON_PARSER_ERROR", "message": "bad", "fields": []}]}) };
                    if let Some(missing) = required_missing(&object, &fields) {
                        return json!({ "success": false, "errors": [{ "statusCode": "REQUIRED_FIELD_MISSING", "message": format!("Required fields are missing: [{missing}]"), "fields": [missing] }] });
                    }
                    json!({ "id": insert_record(&self.state, &object, fields), "success": true, "errors": [] })
                }).collect();
                ResponseTemplate::new(200).set_body_json(Value::Array(out))
            }
            ("PATCH", ["composite", "sobjects"]) => {
                let records = body["records"].as_array().cloned().unwrap_or_default();
                let out: Vec<Value> = records.into_iter().map(|r| {
                    let object = r["attributes"]["type"].as_str().unwrap_or("").to_owned();
                    let id = r["id"].as_str().unwrap_or("").to_owned();
                    let Value::Object(mut fields) = r else { return json!({"success": false}) };
                    fields.remove("id");
                    if self.update(&object, &id, fields) { json!({ "id": id, "success": true, "errors": [] }) }
                    else { json!({ "success": false, "errors": [{ "statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": [] }] }) }
                }).collect();
                ResponseTemplate::new(200).set_body_json(Value::Array(out))
            }
            ("PATCH", ["composite", "sobjects", object, field]) => {
                let records = body["records"].as_array().cloned().unwrap_or_default();
                let out: Vec<Value> = records.into_iter().map(|r| {
                    let value = r[*field].as_str().unwrap_or("").to_owned();
                    let Value::Object(fields) = r else { return json!({"success": false}) };
                    let (status, mut result) = self.upsert(object, field, &value, fields);
                    if status >= 300 {
                        return json!({ "success": false, "errors": [{ "statusCode": result[0]["errorCode"], "message": result[0]["message"], "fields": [] }] });
                    }
                    result["created"] = json!(status == 201);
                    result
                }).collect();
                ResponseTemplate::new(200).set_body_json(Value::Array(out))
            }
            ("DELETE", ["composite", "sobjects"]) => {
                let ids = req.url.query_pairs().find(|(k, _)| k == "ids").map(|(_, v)| v.into_owned()).unwrap_or_default();
                let mut recs = lock(&self.state.records);
                let out: Vec<Value> = ids.split(',').map(|id| {
                    let mut found = false;
                    for rows in recs.values_mut() {
                        let before = rows.len();
                        rows.retain(|r| !same_id(&r["Id"], id));
                        found |= rows.len() < before;
                    }
                    if found { json!({ "id": id, "success": true, "errors": [] }) }
                    else { json!({ "id": id, "success": false, "errors": [{ "statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": [] }] }) }
                }).collect();
                ResponseTemplate::new(200).set_body_json(Value::Array(out))
            }
            ("POST", ["composite"]) => self.composite(&body),
            ("GET", ["query" | "queryAll", locator]) => self.page(locator),
            ("GET", ["query" | "queryAll"]) => {
                let q = req.url.query_pairs().find(|(k, _)| k == "q").map(|(_, v)| v.into_owned()).unwrap_or_default();
                self.query(&q)
            }
            ("GET", ["search"]) => {
                let q = req.url.query_pairs().find(|(k, _)| k == "q").map(|(_, v)| v.into_owned()).unwrap_or_default();
                let term: String = q.split('{').nth(1).and_then(|s| s.split('}').next()).unwrap_or("").chars().filter(char::is_ascii_digit).collect();
                let recs = lock(&self.state.records);
                let hits: Vec<Value> = recs.iter().flat_map(|(object, rows)| rows.iter().filter(|r| {
                    ["Phone", "MobilePhone"].iter().any(|f| r.get(*f).and_then(Value::as_str).is_some_and(|p| {
                        let digits: String = p.chars().filter(char::is_ascii_digit).collect();
                        !term.is_empty() && (digits.ends_with(&term) || term.ends_with(&digits))
                    }))
                }).map(move |r| { let mut r = r.clone(); r.insert("attributes".into(), json!({"type": object})); Value::Object(r) })).collect();
                ResponseTemplate::new(200).set_body_json(json!({ "searchRecords": hits }))
            }
            ("GET", ["limits"]) => ResponseTemplate::new(200).set_body_json(json!({
                "DailyApiRequests": { "Max": 15000, "Remaining": 15000 - self.state.api_calls.load(Ordering::SeqCst) as i64 },
                "DataStorageMB": { "Max": 5, "Remaining": 5 }
            })),
            _ => errors(404, "NOT_FOUND", "The requested resource does not exist"),
        }
    }

    fn find(&self, object: &str, id: &str) -> Option<Map<String, Value>> {
        lock(&self.state.records)
            .get(object)?
            .iter()
            .find(|r| same_id(&r["Id"], id))
            .cloned()
    }

    fn update(&self, object: &str, id: &str, mut fields: Map<String, Value>) -> bool {
        fields.remove("attributes");
        let stamp = next_stamp(&self.state);
        let mut recs = lock(&self.state.records);
        match recs
            .get_mut(object)
            .and_then(|rows| rows.iter_mut().find(|r| same_id(&r["Id"], id)))
        {
            Some(r) => {
                r.extend(fields);
                r.insert("SystemModstamp".into(), Value::String(stamp));
                true
            }
            None => false,
        }
    }

    fn upsert(
        &self,
        object: &str,
        field: &str,
        value: &str,
        mut fields: Map<String, Value>,
    ) -> (u16, Value) {
        fields.remove("attributes");
        let matches: Vec<String> = lock(&self.state.records)
            .get(object)
            .map(|rows| {
                rows.iter()
                    .filter(|r| r.get(field).and_then(Value::as_str) == Some(value))
                    .filter_map(|r| r["Id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        match matches.as_slice() {
            [] => {
                fields.insert(field.to_owned(), Value::String(value.to_owned()));
                if let Some(missing) = required_missing(object, &fields) {
                    return (
                        400,
                        json!([{ "message": format!("Required fields are missing: [{missing}]"), "errorCode": "REQUIRED_FIELD_MISSING", "fields": [missing] }]),
                    );
                }
                let id = insert_record(&self.state, object, fields);
                (
                    201,
                    json!({ "id": id, "success": true, "errors": [], "created": true }),
                )
            }
            [id] => {
                self.update(object, id, fields);
                (
                    200,
                    json!({ "id": id, "success": true, "errors": [], "created": false }),
                )
            }
            many => (
                300,
                json!(
                    many.iter()
                        .map(|id| format!(
                            "/services/data/v{}/sobjects/{object}/{id}",
                            self.version
                        ))
                        .collect::<Vec<_>>()
                ),
            ),
        }
    }

    /// A `ContentVersion` uploaded as multipart: its metadata, its size and a
    /// new `ContentDocumentId` are stored (the bytes are not kept).
    fn content_version(&self, req: &Request) -> ResponseTemplate {
        let parts = multipart_parts(req);
        let entity = parts.iter().find(|(n, _)| n == "entity_content");
        let data = parts.iter().find(|(n, _)| n == "VersionData");
        let (Some((_, entity)), Some((_, data))) = (entity, data) else {
            return errors(
                400,
                "INVALID_MULTIPART_REQUEST",
                "entity_content and VersionData are required",
            );
        };
        let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(entity) else {
            return errors(
                400,
                "JSON_PARSER_ERROR",
                "entity_content is not a JSON object",
            );
        };
        let n = self.state.counter.fetch_add(1, Ordering::SeqCst) + 1;
        fields.insert(
            "ContentDocumentId".into(),
            json!(
                crate::SalesforceId::parse(&format!("069{n:012}"))
                    .map(|i| i.to_string())
                    .unwrap_or_default()
            ),
        );
        fields.insert("ContentSize".into(), json!(data.len()));
        let id = insert_record(&self.state, "ContentVersion", fields);
        ResponseTemplate::new(201).set_body_json(json!({ "id": id, "success": true, "errors": [] }))
    }

    fn composite(&self, body: &Value) -> ResponseTemplate {
        let subs = body["compositeRequest"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut refs: HashMap<String, Value> = HashMap::new();
        let mut out = Vec::new();
        for s in subs {
            let reference = s["referenceId"].as_str().unwrap_or("").to_owned();
            let mut sub_body = s["body"].clone();
            resolve_refs(&mut sub_body, &refs);
            let url = s["url"].as_str().unwrap_or("");
            let object = url.rsplit('/').next().unwrap_or("").to_owned();
            let result = match (s["method"].as_str(), sub_body) {
                (Some("POST"), Value::Object(fields)) => {
                    if let Some(missing) = required_missing(&object, &fields) {
                        json!({ "httpStatusCode": 400, "referenceId": reference, "body": [{ "errorCode": "REQUIRED_FIELD_MISSING", "message": format!("Required fields are missing: [{missing}]") }] })
                    } else {
                        let id = insert_record(&self.state, &object, fields);
                        json!({ "httpStatusCode": 201, "referenceId": reference, "body": { "id": id, "success": true, "errors": [] } })
                    }
                }
                _ => {
                    json!({ "httpStatusCode": 400, "referenceId": reference, "body": [{ "errorCode": "INVALID_TYPE", "message": "the mock supports POST creates in composite" }] })
                }
            };
            refs.insert(reference, result["body"].clone());
            out.push(result);
        }
        ResponseTemplate::new(200).set_body_json(json!({ "compositeResponse": out }))
    }

    fn query(&self, soql: &str) -> ResponseTemplate {
        let Some(q) = MiniSoql::parse(soql) else {
            return errors(400, "MALFORMED_QUERY", "the mock could not parse the query");
        };
        let recs = lock(&self.state.records);
        let mut rows: Vec<&Map<String, Value>> = recs
            .get(&q.object)
            .map(|r| r.iter().filter(|r| q.matches(r)).collect())
            .unwrap_or_default();
        if q.order_by_modstamp {
            rows.sort_by(|a, b| {
                a["SystemModstamp"]
                    .as_str()
                    .cmp(&b["SystemModstamp"].as_str())
            });
        }
        if let Some(limit) = q.limit {
            rows.truncate(limit);
        }
        if q.count {
            return ResponseTemplate::new(200)
                .set_body_json(json!({ "totalSize": rows.len(), "done": true, "records": [] }));
        }
        let all: Vec<Value> = rows
            .into_iter()
            .map(|r| {
                let mut m = Map::new();
                m.insert("attributes".into(), json!({ "type": q.object }));
                for f in &q.fields {
                    m.insert(f.clone(), r.get(f).cloned().unwrap_or(Value::Null));
                }
                Value::Object(m)
            })
            .collect();
        drop(recs);
        let locator = format!(
            "01gMOCK{}",
            self.state.counter.fetch_add(1, Ordering::SeqCst)
        );
        lock(&self.state.locators).insert(locator.clone(), all);
        self.page(&format!("{locator}-0"))
    }

    fn page(&self, locator: &str) -> ResponseTemplate {
        let Some((id, offset)) = locator.rsplit_once('-') else {
            return errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
        };
        let offset: usize = offset.parse().unwrap_or(0);
        let size = self.state.page_size.load(Ordering::SeqCst) as usize;
        let locators = lock(&self.state.locators);
        let Some(all) = locators.get(id) else {
            return errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
        };
        let page: Vec<Value> = all.iter().skip(offset).take(size).cloned().collect();
        let end = offset + page.len();
        let mut body = json!({ "totalSize": all.len(), "done": end >= all.len(), "records": page });
        if end < all.len() {
            body["nextRecordsUrl"] =
                json!(format!("/services/data/v{}/query/{id}-{end}", self.version));
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

fn same_id(stored: &Value, id: &str) -> bool {
    stored
        .as_str()
        .is_some_and(|s| s == id || s.get(..15) == id.get(..15) && id.len() == 15)
}

fn required_missing(object: &str, fields: &Map<String, Value>) -> Option<&'static str> {
    let need: &[&'static str] = match object {
        "Lead" => &["LastName", "Company"],
        "Contact" => &["LastName"],
        _ => &[],
    };
    need.iter().copied().find(|f| {
        fields
            .get(*f)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    })
}

fn resolve_refs(v: &mut Value, refs: &HashMap<String, Value>) {
    match v {
        Value::String(s) if s.starts_with("@{") && s.ends_with('}') => {
            let inner = s.get(2..s.len() - 1).unwrap_or("");
            if let Some((r, field)) = inner.split_once('.')
                && let Some(val) = refs.get(r).and_then(|b| b.get(field))
            {
                *v = val.clone();
            }
        }
        Value::Object(m) => m.values_mut().for_each(|x| resolve_refs(x, refs)),
        Value::Array(a) => a.iter_mut().for_each(|x| resolve_refs(x, refs)),
        _ => {}
    }
}

/// Just enough SOQL for the mock: `SELECT f1, f2 | COUNT() FROM Obj
/// [WHERE a = 'x' (AND|OR) b IN ('y', 'z') AND SystemModstamp > 2026-01-01T00:00:00Z]
/// [ORDER BY SystemModstamp ASC] [LIMIT n]`.
struct MiniSoql {
    fields: Vec<String>,
    count: bool,
    object: String,
    conditions: Vec<(String, String, Vec<String>)>,
    any: bool,
    order_by_modstamp: bool,
    limit: Option<usize>,
}

impl MiniSoql {
    fn parse(q: &str) -> Option<Self> {
        let upper = q.to_ascii_uppercase();
        let from = upper.find(" FROM ")?;
        let select = q
            .get(..from)?
            .trim()
            .strip_prefix("SELECT ")
            .or_else(|| q.get(..from)?.trim().strip_prefix("select "))?;
        let count = select.trim().eq_ignore_ascii_case("COUNT()");
        let fields = select.split(',').map(|f| f.trim().to_owned()).collect();
        let rest = q.get(from + 6..)?;
        let upper_rest = rest.to_ascii_uppercase();
        let end_obj = rest.find(' ').unwrap_or(rest.len());
        let object = rest.get(..end_obj)?.to_owned();
        let mut tail = rest.get(end_obj..)?.trim().to_owned();
        let mut limit = None;
        if let Some(i) = tail.to_ascii_uppercase().rfind("LIMIT ") {
            limit = tail.get(i + 6..)?.trim().parse().ok();
            tail.truncate(i);
        }
        let order_by_modstamp = upper_rest.contains("ORDER BY SYSTEMMODSTAMP");
        if let Some(i) = tail.to_ascii_uppercase().find("ORDER BY") {
            tail.truncate(i);
        }
        let mut conditions = Vec::new();
        let mut any = false;
        let tail = tail.trim();
        if let Some(w) = tail
            .strip_prefix("WHERE ")
            .or_else(|| tail.strip_prefix("where "))
        {
            let (parts, or) = split_conditions(w);
            any = or;
            for p in parts {
                conditions.push(parse_condition(&p)?);
            }
        }
        Some(Self {
            fields,
            count,
            object,
            conditions,
            any,
            order_by_modstamp,
            limit,
        })
    }

    fn matches(&self, r: &Map<String, Value>) -> bool {
        if self.conditions.is_empty() {
            return true;
        }
        let test = |(field, op, values): &(String, String, Vec<String>)| {
            let actual = r
                .get(field)
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
            match op.as_str() {
                "=" | "IN" => actual.is_some_and(|a| values.contains(&a)),
                "!=" => actual.is_none_or(|a| !values.contains(&a)),
                ">" => actual.is_some_and(|a| {
                    let a = crate::records::SfDateTime::parse(&a);
                    let b = values
                        .first()
                        .and_then(|v| crate::records::SfDateTime::parse(v));
                    matches!((a, b), (Some(a), Some(b)) if a > b)
                }),
                "<=" => actual.is_some_and(|a| {
                    let a = crate::records::SfDateTime::parse(&a);
                    let b = values
                        .first()
                        .and_then(|v| crate::records::SfDateTime::parse(v));
                    matches!((a, b), (Some(a), Some(b)) if a <= b)
                }),
                _ => false,
            }
        };
        if self.any {
            self.conditions.iter().any(test)
        } else {
            self.conditions.iter().all(test)
        }
    }
}

/// Splits on top-level AND / OR outside quotes and parentheses.
fn split_conditions(w: &str) -> (Vec<String>, bool) {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let (mut quote, mut esc, mut depth, mut or) = (false, false, 0i32, false);
    let chars: Vec<char> = w.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if quote {
            cur.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '\'' {
                quote = false;
            }
            i += 1;
            continue;
        }
        match c {
            '\'' => quote = true,
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        let rest: String = chars[i..]
            .iter()
            .take(5)
            .collect::<String>()
            .to_ascii_uppercase();
        if depth == 0 && rest.starts_with(" AND ") {
            parts.push(std::mem::take(&mut cur));
            i += 5;
            continue;
        }
        if depth == 0 && rest.starts_with(" OR ") {
            parts.push(std::mem::take(&mut cur));
            or = true;
            i += 4;
            continue;
        }
        cur.push(c);
        i += 1;
    }
    parts.push(cur);
    (parts, or)
}

fn parse_condition(c: &str) -> Option<(String, String, Vec<String>)> {
    let c = c
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    for op in [" IN ", "!=", "<=", "=", ">"] {
        let upper = c.to_ascii_uppercase();
        if let Some(i) = upper.find(op) {
            let field = c.get(..i)?.trim().to_owned();
            let value = c.get(i + op.len()..)?.trim();
            let values = if op == " IN " {
                literals(value.trim_start_matches('(').trim_end_matches(')'))
            } else {
                literals(value)
            };
            return Some((field, op.trim().to_owned(), values));
        }
    }
    None
}

/// Reads SOQL literals (quoted with escapes, or bare) separated by commas.
fn literals(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ',' || c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut v = String::new();
        if c == '\'' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some('n') => v.push('\n'),
                        Some('t') => v.push('\t'),
                        Some('r') => v.push('\r'),
                        Some(o) => v.push(o),
                        None => {}
                    },
                    '\'' => break,
                    o => v.push(o),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                v.push(c);
                chars.next();
            }
        }
        out.push(v);
    }
    out
}
