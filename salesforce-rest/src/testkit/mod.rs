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

mod bulk;
mod index;
mod oauth;
#[cfg(feature = "pubsub")]
mod pubsub;
#[cfg(feature = "pubsub")]
pub use pubsub::{
    FakeFailure, FakePubSub, ORDER_CHANGE_SCHEMA, ORDER_CHANGE_SCHEMA_ID, change_channel,
};
mod router;
mod schema;
mod soql;
mod state;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Map, Value, json};
mod stub;
pub use stub::{RecordedRequest, Stub};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use router::Router;
use state::{State, lock, next_stamp};

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

    pub(crate) fn response(&self) -> ResponseTemplate {
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

/// A mock org. One per test.
pub struct MockOrg {
    /// Present from start to drop (taken by `Drop`).
    server: Option<MockServer>,
    state: Arc<State>,
    version: String,
}

impl std::fmt::Debug for MockOrg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockOrg")
            .field("uri", &self.uri())
            .finish_non_exhaustive()
    }
}

impl MockOrg {
    /// Starts a mock org for [`DEFAULT_API_VERSION`], set up for the bridge:
    /// the key fields on Case, Lead and Contact (`WhatsApp_Message_Id__c`,
    /// `WhatsApp_Phone__c`, External ID + Unique) and the conversation ledger
    /// object `WhatsApp_Message__c` with its fields.
    pub async fn start() -> Self {
        Self::start_with(schema::Schema::bridge()).await
    }

    /// Starts a mock org with none of the bridge's custom objects or fields,
    /// as a new org is: for set-up tests. The Tooling API
    /// (`POST tooling/sobjects/CustomObject` / `CustomField`) adds them.
    pub async fn start_bare() -> Self {
        Self::start_with(schema::Schema::bare()).await
    }

    /// Whether the org has a field on an object (custom fields as created;
    /// standard objects exist always).
    pub fn has_field(&self, object: &str, field: &str) -> bool {
        lock(&self.state.schema)
            .describe(object)
            .and_then(|d| d["fields"].as_array().cloned())
            .is_some_and(|f| f.iter().any(|x| x["name"] == field))
    }

    async fn start_with(schema: schema::Schema) -> Self {
        let server = MockServer::start().await;
        let now = chrono::Utc::now().timestamp();
        let state = Arc::new(State {
            origin: now - now.rem_euclid(86_400),
            page_size: AtomicU64::new(2000),
            case_number: AtomicU64::new(1025),
            schema: std::sync::Mutex::new(schema),
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
            server: Some(server),
            state,
            version: DEFAULT_API_VERSION.into(),
        }
    }

    /// The org's URL (login host and instance URL at once).
    pub fn uri(&self) -> String {
        self.server().uri()
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

    /// Midnight UTC of the day the mock started: its clock starts there and
    /// moves one second per write (`CreatedDate`, `SystemModstamp`), so the
    /// sandbox's data is dated today.
    pub fn clock_origin(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(self.state.origin, 0).unwrap_or_default()
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

    /// Invalidates every access token: the next REST call gets 401 `INVALID_SESSION_ID`.
    pub fn expire_sessions(&self) {
        lock(&self.state.access_tokens).clear();
    }

    /// Revokes every refresh token: refreshes get `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        lock(&self.state.refresh_tokens).clear();
    }

    /// Accepts `token` as a refresh token again (after
    /// [`revoke_refresh_tokens`](Self::revoke_refresh_tokens): the admin
    /// re-authorized the app).
    pub fn grant_refresh_token(&self, token: &str) {
        lock(&self.state.refresh_tokens).insert(token.to_owned());
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
        self.state.insert(object, map)
    }

    /// Adds a validation rule: writes of `object` whose `field` equals
    /// `value` fail with `FIELD_CUSTOM_VALIDATION_EXCEPTION` (to make one
    /// record of a batch fail).
    pub fn reject(&self, object: &str, field: &str, value: &str) {
        lock(&self.state.rejections).push((object.into(), field.into(), value.into()));
    }

    /// Changes a stored record's fields (and its `SystemModstamp`), as a user would.
    pub fn touch(&self, object: &str, id: &str, fields: Value) {
        let stamp = next_stamp(&self.state);
        let Value::Object(f) = fields else { return };
        let found = lock(&self.state.records)
            .get_mut(object)
            .and_then(|rows| rows.iter_mut().find(|r| r["Id"] == id))
            .map(|r| {
                let mut changes = f.clone();
                changes.insert("SystemModstamp".into(), Value::String(stamp.clone()));
                changes.insert("LastModifiedDate".into(), Value::String(stamp));
                lock(&self.state.index).change(object, r, &changes);
                r.extend(changes);
            })
            .is_some();
        if found {
            self.state.changed(object, id, "UPDATE", &f);
        }
    }

    /// Calls `hook` after every record the org creates or updates (REST,
    /// composite, collections, Bulk, [`insert`](Self::insert),
    /// [`touch`](Self::touch)): object, id, `CREATE` or `UPDATE`, the fields
    /// written. `FakePubSub::follow` uses it to turn the org's writes into
    /// change events.
    pub fn on_change(
        &self,
        hook: impl Fn(&str, &str, &str, &Map<String, Value>) + Send + Sync + 'static,
    ) {
        *lock(&self.state.on_change) = Some(Arc::new(hook));
    }

    /// Answers the next `times` REST calls with a failure.
    pub async fn fail_next(&self, failure: MockFailure, times: u64) {
        Mock::given(wiremock::matchers::path_regex("^/services/data/.+"))
            .respond_with(failure.response())
            .up_to_n_times(times)
            .with_priority(1)
            .mount(self.server())
            .await;
    }

    /// Applies the next `times` REST writes (POST, PATCH, DELETE), then answers
    /// each with `failure` anyway: the commit-then-fail case that makes naive
    /// retries create duplicates.
    pub fn fail_after_commit(&self, failure: MockFailure, times: u64) {
        *lock(&self.state.fail_after_commit) = (times > 0).then_some((failure, times));
    }

    /// From now on, every `n`-th REST write (POST, PATCH, DELETE; composites
    /// count) is applied and then answered with `failure` anyway: a steady
    /// rate of commit-then-fail (`n = 20`: 5%). `n = 0` stops it.
    pub fn fail_after_commit_every(&self, failure: MockFailure, n: u64) {
        *lock(&self.state.fail_every) = (n > 0).then_some((failure, n, 0));
    }

    /// Makes every answer (token endpoint included) wait `latency` first, as a
    /// busy org does.
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
    /// use salesforce_rest::testkit::{MockOrg, Stub};
    ///
    /// # async fn run() {
    /// let org = MockOrg::start().await;
    /// // An Apex REST endpoint the mock does not know.
    /// org.stub(Stub::new("POST", "^/services/apexrest/Orders/42$").json(&json!({"ok": true})))
    ///     .await;
    /// let answer = org
    ///     .client()
    ///     .apex_rest(reqwest::Method::POST, "Orders/42")
    ///     .expect("a valid path")
    ///     .send()
    ///     .await;
    /// assert_eq!(answer.expect("the stub answers").status(), 200);
    /// # }
    /// ```
    pub async fn stub(&self, stub: Stub) {
        stub.into_mock().mount(self.server()).await;
    }

    #[allow(clippy::expect_used)] // only `Drop` takes it
    fn server(&self) -> &MockServer {
        self.server
            .as_ref()
            .expect("the mock server lives until the MockOrg is dropped")
    }
}

impl Drop for MockOrg {
    /// wiremock's `MockServer` verifies its mocks on drop by blocking the
    /// thread on an async lock. Dropped on a tokio worker of a multi-thread
    /// runtime, under load, that block was seen to never end (a test hung
    /// 180 s about one run in 40); a thread of its own cannot stall the
    /// runtime.
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = std::thread::Builder::new()
                .name("mock-org-drop".into())
                .spawn(move || drop(server));
        }
    }
}

/// The Redis servers the tests run on: the single node (`REDIS_URL`) and
/// the cluster (`REDIS_CLUSTER_URL`), both started by `scripts/test`.
///
/// # Panics
///
/// When either is not set: the tests never skip silently.
#[cfg(feature = "redis")]
#[allow(clippy::panic)]
pub fn redis_urls() -> Vec<String> {
    ["REDIS_URL", "REDIS_CLUSTER_URL"]
        .iter()
        .map(|v| {
            std::env::var(v).ok().filter(|u| !u.is_empty()).unwrap_or_else(|| {
                panic!("{v} is not set: run the tests through scripts/test, which starts a Redis node and a Redis cluster")
            })
        })
        .collect()
}
