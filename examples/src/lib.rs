//! Shared setup for the examples: real APIs when the environment names them,
//! an embedded sandbox (the crates' `testkit` mocks, started in-process) when
//! it does not, so every example runs with no credentials and really talks HTTP.
//!
//! | variable | used for |
//! |---|---|
//! | `WHATSAPP_ACCESS_TOKEN`, `WHATSAPP_PHONE_NUMBER_ID` | the real Graph API (both needed) |
//! | `WHATSAPP_BUSINESS_ACCOUNT_ID` | templates, subscriptions |
//! | `WHATSAPP_GRAPH_URL` (default `https://graph.facebook.com`), `WHATSAPP_API_VERSION` | where and which version |
//! | `WHATSAPP_APP_SECRET`, `WHATSAPP_VERIFY_TOKEN` | webhook signature and handshake |
//! | `WHATSAPP_SEND_RATE` | Meta's per-number send rate the process paces to (default 80 a second) |
//! | `SALESFORCE_CLIENT_ID` | the real org (with one of the credentials below) |
//! | `SALESFORCE_REFRESH_TOKEN` / `SALESFORCE_JWT_KEY_FILE` + `SALESFORCE_USERNAME` / `SALESFORCE_USERNAME` + `SALESFORCE_PASSWORD` / `SALESFORCE_CLIENT_SECRET` alone | refresh token, JWT bearer, password, client credentials |
//! | `SALESFORCE_LOGIN_URL` (default `https://login.salesforce.com`), `SALESFORCE_API_VERSION` | where and which version |
//! | `SALESFORCE_ORG_ID` | optional: the org the credentials must log in to (15 or 18 characters); a token of another org is refused |
//! | `SALESFORCE_REFUSED_RETRY_SECS` | how long credentials the org refused are not tried again (default 60) |
//! | `REDIS_URL` | Redis for the queues, dedup and window (many instances): `redis://host:6379`, `rediss://user:password@host:6379` (TLS, ACL user), `redis+cluster://host1:port,host2:port` (a cluster), `rediss+cluster://...` (a managed cluster over TLS) |
//! | `BRIDGE_DEAD_LETTER_DAYS` | how long dead letters are kept (default 30; 0: until purged by hand); completed keys stay 8 days |
//! | `BRIDGE_DATA_DIR` | the embedded store's directory when Redis is not used (default `bridge-data`) |
//! | `BIND_ADDR` | the webhook server's address |
//! | `SALESFORCE_CASE_KEY_FIELD`, `SALESFORCE_LEAD_KEY_FIELD`, `SALESFORCE_CONTACT_KEY_FIELD`, `SALESFORCE_CONTACT_MATCHING`, `SALESFORCE_OPT_OUT_FIELD`, `BRIDGE_THREAD_DAYS` | idempotency keys, Contact matching, the opt-out checkbox, the thread window (see [`salesforce_writer`]) |
//! | `BRIDGE_ALLOW_MIXED` | `1` to run a real API beside the sandbox of the other on purpose |
//! | `BRIDGE_OWN_NUMBERS` | our business numbers (loop prevention) |
//! | `CUSTOMER_TIME_ZONE` | the customers' zone for dates in reminders (default Eastern) |
//! | `RUST_LOG`, `LOG_FORMAT` | what is logged (default `warn`), and how: text, or `json` (one object per line; see [`init_tracing`]) |

pub mod case_cli;
pub mod loadtest;
mod logging;
mod marks;
pub mod ops;
pub mod pii;
pub mod prometheus;
pub mod sms;

pub use logging::{LogFormat, init_tracing, log_format};
pub use marks::Marks;

use std::env;
use std::error::Error;
use std::sync::Arc;

use bridge_core::dedup::{DedupStore, MemoryDedupStore};
use bridge_core::embedded::{EmbeddedStore, MemoryQueue};
use bridge_core::queue::JobQueue;
use bridge_core::redis::RedisDedupStore;
use bridge_core::redis::RedisQueue;
use bridge_core::redis::RedisWindowTracker;
use bridge_core::window::{MemoryWindowTracker, WindowTracker};
use salesforce_rest::auth::{ConnectedApp, Credentials, JwtKey, LoginHost, OAuthClient, Session};
use secrecy::SecretString;
use whatsapp_cloud::testkit::MockGraph;
use whatsapp_cloud::webhooks::WebhookConfig;

/// The app secret the sandbox signs webhooks with.
pub const SANDBOX_APP_SECRET: &str = "sandbox-app-secret";
/// The verify token of the sandbox.
pub const SANDBOX_VERIFY_TOKEN: &str = "sandbox-verify-token";

/// A boxed error for examples.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// The backends an example talks to.
pub struct Backends {
    /// The WhatsApp client (real or sandbox).
    pub whatsapp: whatsapp_cloud::Client,
    /// The Salesforce client (real or sandbox).
    pub salesforce: salesforce_rest::Client,
    /// The webhook settings (app secret, verify token).
    pub webhook: WebhookConfig,
    /// The sandbox Graph API, when WhatsApp is not configured.
    pub graph: Option<MockGraph>,
    /// The sandbox org, when Salesforce is not configured.
    pub org: Option<salesforce_rest::testkit::MockOrg>,
    /// The app secret in use (to sign demo webhooks in sandbox mode).
    pub app_secret: String,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field(
                "whatsapp",
                &if self.graph.is_some() {
                    "sandbox"
                } else {
                    "real"
                },
            )
            .field(
                "salesforce",
                &if self.org.is_some() {
                    "sandbox"
                } else {
                    "real"
                },
            )
            .finish()
    }
}

fn var(name: &str) -> Option<String> {
    env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl Backends {
    /// Real APIs where the environment configures them, the sandbox elsewhere.
    pub async fn from_env() -> Result<Self, BoxError> {
        Self::build(true).await
    }

    /// The embedded sandbox only, whatever the environment says (for tests).
    pub async fn sandbox() -> Result<Self, BoxError> {
        Self::build(false).await
    }

    async fn build(use_env: bool) -> Result<Self, BoxError> {
        let var = |name: &str| if use_env { var(name) } else { None };
        let (whatsapp, graph) = match (
            var("WHATSAPP_ACCESS_TOKEN"),
            var("WHATSAPP_PHONE_NUMBER_ID"),
        ) {
            (Some(token), Some(phone)) => {
                let mut b = whatsapp_cloud::Client::builder()
                    .access_token(SecretString::from(token))
                    .phone_number_id(phone);
                if let Some(w) = var("WHATSAPP_BUSINESS_ACCOUNT_ID") {
                    b = b.business_account_id(w);
                }
                if let Some(u) = var("WHATSAPP_GRAPH_URL") {
                    b = b.base_url(u);
                }
                if let Some(v) = var("WHATSAPP_API_VERSION") {
                    b = b.api_version(v);
                }
                (b.pacing(send_pacing(&var)?).build()?, None)
            }
            _ => {
                let graph = MockGraph::start().await;
                let client = graph.client_builder().pacing(send_pacing(&var)?).build()?;
                (client, Some(graph))
            }
        };
        let (salesforce, org) = match var("SALESFORCE_CLIENT_ID") {
            Some(client_id) => (real_salesforce(client_id).await?, None),
            None => {
                let org = salesforce_rest::testkit::MockOrg::start().await;
                (org.client(), Some(org))
            }
        };
        let real_whatsapp = graph.is_none();
        if use_env
            && real_whatsapp != org.is_none()
            && var("BRIDGE_ALLOW_MIXED").as_deref() != Some("1")
        {
            return Err(format!(
                "{} is real but {} is the embedded sandbox: real customers would get sandbox answers (fake case numbers). Configure both ({}), or set BRIDGE_ALLOW_MIXED=1 to run this way on purpose",
                if real_whatsapp { "WhatsApp" } else { "Salesforce" },
                if real_whatsapp { "Salesforce" } else { "WhatsApp" },
                if real_whatsapp { "SALESFORCE_CLIENT_ID and its credentials" } else { "WHATSAPP_ACCESS_TOKEN and WHATSAPP_PHONE_NUMBER_ID" }
            )
            .into());
        }
        if real_whatsapp != org.is_none() {
            tracing::warn!("mixing a real API with the embedded sandbox (BRIDGE_ALLOW_MIXED=1)");
        }
        let required = |name: &str, sandbox: &str| match var(name) {
            Some(v) => Ok(v),
            None if real_whatsapp => Err(format!(
                "{name} is not set: with a real WHATSAPP_ACCESS_TOKEN the webhook needs your app's own {} (Meta App Dashboard)",
                if name.ends_with("SECRET") {
                    "app secret (App settings > Basic)"
                } else {
                    "verify token (WhatsApp > Configuration)"
                }
            )),
            None => Ok(sandbox.to_owned()),
        };
        let app_secret = required("WHATSAPP_APP_SECRET", SANDBOX_APP_SECRET)?;
        let verify = required("WHATSAPP_VERIFY_TOKEN", SANDBOX_VERIFY_TOKEN)?;
        let webhook = WebhookConfig::new(&SecretString::from(app_secret.clone()))
            .verify_token(SecretString::from(verify));
        Ok(Self {
            whatsapp,
            salesforce,
            webhook,
            graph,
            org,
            app_secret,
        })
    }

    /// Whether anything runs against the sandbox.
    pub fn is_sandbox(&self) -> bool {
        self.graph.is_some() || self.org.is_some()
    }

    /// A one-line description of where each API points.
    pub fn describe(&self) -> String {
        format!(
            "WhatsApp: {} | Salesforce: {}",
            if self.graph.is_some() {
                "embedded sandbox"
            } else {
                "real Graph API"
            },
            if self.org.is_some() {
                "embedded sandbox org"
            } else {
                "real org"
            }
        )
    }
}

/// Meta's per-number send rate (`WHATSAPP_SEND_RATE` messages a second,
/// default 80, Meta's standard tier; higher tiers allow up to 1,000): every
/// send of the process is paced to it, so a burst is spaced out instead of
/// refused with 130429.
fn send_pacing(var: &dyn Fn(&str) -> Option<String>) -> Result<whatsapp_cloud::Pacing, BoxError> {
    let rate = match var("WHATSAPP_SEND_RATE") {
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && *r > 0.0)
            .ok_or_else(|| {
                format!(
                    "WHATSAPP_SEND_RATE must be a positive number of messages a second, got {v:?}"
                )
            })?,
        None => 80.0,
    };
    Ok(whatsapp_cloud::Pacing::default().messages_per_second(rate))
}

/// Where the Salesforce session lives: Redis with `REDIS_URL` (shared by every
/// instance), else `salesforce-token.json` in the data directory (mode 0600).
/// A rotated refresh token is saved there before use; the environment's
/// refresh token only seeds an empty store.
pub async fn token_store() -> Result<Arc<dyn salesforce_rest::auth::TokenStore>, BoxError> {
    Ok(match var("REDIS_URL") {
        Some(url) => {
            let prefix = var("BRIDGE_REDIS_PREFIX").unwrap_or_else(|| "wa-sf:".into());
            Arc::new(
                salesforce_rest::auth::RedisTokenStore::connect(
                    &url,
                    &format!("{prefix}salesforce-token"),
                )
                .await?,
            )
        }
        None => Arc::new(salesforce_rest::auth::FileTokenStore::new(
            data_dir().join("salesforce-token.json"),
        )),
    })
}

async fn real_salesforce(client_id: String) -> Result<salesforce_rest::Client, BoxError> {
    let login =
        var("SALESFORCE_LOGIN_URL").unwrap_or_else(|| "https://login.salesforce.com".into());
    let mut app = ConnectedApp::new(client_id).login_host(LoginHost::parse(&login)?);
    if let Some(secret) = var("SALESFORCE_CLIENT_SECRET") {
        app = app.client_secret(SecretString::from(secret));
    }
    let credentials = if let Some(rt) = var("SALESFORCE_REFRESH_TOKEN") {
        Credentials::RefreshToken(SecretString::from(rt))
    } else if let (Some(key), Some(user)) =
        (var("SALESFORCE_JWT_KEY_FILE"), var("SALESFORCE_USERNAME"))
    {
        Credentials::JwtBearer {
            username: user,
            key: JwtKey::from_pem_file(key)?,
        }
    } else if let (Some(user), Some(pw)) = (var("SALESFORCE_USERNAME"), var("SALESFORCE_PASSWORD"))
    {
        Credentials::Password {
            username: user,
            password: SecretString::from(pw),
        }
    } else if var("SALESFORCE_CLIENT_SECRET").is_some() {
        Credentials::ClientCredentials
    } else {
        return Err("SALESFORCE_CLIENT_ID is set but no credentials: set SALESFORCE_REFRESH_TOKEN (run the salesforce_login example), SALESFORCE_JWT_KEY_FILE + SALESFORCE_USERNAME, or SALESFORCE_CLIENT_SECRET for client credentials".into());
    };
    // The stored session is bound to the login host, the app and the
    // credential: pointed at another org, the tool logs in afresh there.
    let mut session =
        Session::builder(OAuthClient::new(app)?, credentials).token_store(token_store().await?);
    if let Some(org) = var("SALESFORCE_ORG_ID") {
        session = session.expect_org_id(org);
    }
    if let Some(secs) = var("SALESFORCE_REFUSED_RETRY_SECS") {
        let secs: u64 = secs.trim().parse().map_err(|_| {
            format!("SALESFORCE_REFUSED_RETRY_SECS must be a number of seconds, got {secs:?}")
        })?;
        session = session.refused_retry_after(std::time::Duration::from_secs(secs));
    }
    let session = session.build();
    let mut b = salesforce_rest::Client::builder(session);
    if let Some(v) = var("SALESFORCE_API_VERSION") {
        b = b.api_version(v);
    }
    Ok(b.build()?)
}

/// The dedup store: Redis when `REDIS_URL` is set, memory otherwise.
pub async fn dedup_store() -> Result<(Arc<dyn DedupStore>, &'static str), BoxError> {
    match var("REDIS_URL") {
        Some(url) => Ok((
            Arc::new(RedisDedupStore::connect(&url, "wa-sf:dedup:").await?),
            "Redis",
        )),
        None => Ok((Arc::new(MemoryDedupStore::new(1_000_000)), "memory")),
    }
}

/// The stores behind the bridge: queues, dedup and the 24-hour window.
pub struct Stores {
    /// Inbound events.
    pub inbox: Arc<dyn JobQueue>,
    /// Outbound sends.
    pub outbox: Arc<dyn JobQueue>,
    /// Conversation-ledger entries (outbound messages, statuses) waiting to
    /// be written in batches.
    pub ledger: Arc<dyn JobQueue>,
    /// Dedup of processed messages.
    pub dedup: Arc<dyn DedupStore>,
    /// The 24-hour window.
    pub window: Arc<dyn WindowTracker>,
    /// Where they live, for humans.
    pub describe: String,
    /// The embedded store, when one is used (for the dead-letter tools).
    pub embedded: Option<EmbeddedStore>,
    /// Small values kept between runs (watermarks).
    pub marks: Arc<Marks>,
    /// Who opted out of marketing messages.
    pub opt_outs: Arc<dyn bridge_core::optout::OptOutStore>,
    /// Contact matches and open-Case links of customers.
    pub customers: Arc<dyn bridge_core::customers::CustomerStore>,
    /// The fleet's send rate per business number (Redis only: one process
    /// is paced by its WhatsApp client).
    pub send_rate: Option<Arc<dyn bridge_core::pacing::SendRate>>,
    /// Leader leases: one instance of the fleet runs each singleton job
    /// (the Pub/Sub subscriber). In memory for one process.
    pub lease: Arc<dyn bridge_core::lease::LeaderLease>,
    /// What was sent, for the fallback channel (durable but in memory).
    pub sent_log: Arc<dyn bridge_core::sent::SentLog>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("describe", &self.describe)
            .finish_non_exhaustive()
    }
}

/// The embedded store's directory: `BRIDGE_DATA_DIR`, else `bridge-data` in
/// the working directory.
pub fn data_dir() -> std::path::PathBuf {
    var("BRIDGE_DATA_DIR").map_or_else(|| "bridge-data".into(), Into::into)
}

impl Stores {
    /// Redis when `REDIS_URL` is set, else the embedded store in [`data_dir`].
    pub async fn from_env() -> Result<Self, BoxError> {
        match var("REDIS_URL") {
            Some(url) => Self::redis(&url).await,
            None => Self::embedded(&data_dir()),
        }
    }

    /// For a one-shot tool (`payment_reminders`...): Redis when `REDIS_URL`
    /// is set, else its own embedded store in `<data dir>/<tool>`, so that it
    /// can run while `webhook_to_case` holds the data directory.
    pub async fn for_tool(tool: &str) -> Result<Self, BoxError> {
        match var("REDIS_URL") {
            Some(url) => Self::redis(&url).await,
            None => Self::embedded(&data_dir().join(tool)),
        }
    }

    /// The embedded durable store in a directory (one instance).
    pub fn embedded(dir: &std::path::Path) -> Result<Self, BoxError> {
        // Another process may hold it for a moment (two runs of a tool at
        // once): wait a little before giving up.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let store = loop {
            match EmbeddedStore::open(dir) {
                Ok(store) => break store,
                Err(e)
                    if e.to_string().contains("already open")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) if e.to_string().contains("already open") => {
                    return Err(format!("{e}: another process holds {} (is webhook_to_case running there?); set BRIDGE_DATA_DIR to another directory, or share state through REDIS_URL", dir.display()).into());
                }
                Err(e) => return Err(e.into()),
            }
        };
        Ok(Self {
            inbox: Arc::new(store.queue("inbox")?),
            outbox: Arc::new(store.queue("outbox")?),
            ledger: Arc::new(store.queue("ledger")?),
            dedup: Arc::new(store.dedup()),
            // Durable: a reply after a restart takes the form the window allows.
            window: Arc::new(store.window()),
            describe: format!("embedded store in {}", dir.display()),
            opt_outs: Arc::new(store.opt_outs()),
            customers: Arc::new(store.customers()),
            sent_log: Arc::new(store.sent_log()),
            send_rate: None,
            lease: Arc::new(bridge_core::lease::MemoryLease::default()),
            embedded: Some(store),
            marks: Arc::new(Marks::Files(dir.to_path_buf())),
        })
    }

    /// Redis, shared by many instances.
    /// Keys live under `BRIDGE_REDIS_PREFIX` (default `wa-sf:`).
    pub async fn redis(url: &str) -> Result<Self, BoxError> {
        let prefix = var("BRIDGE_REDIS_PREFIX").unwrap_or_else(|| "wa-sf:".into());
        Self::redis_with_prefix(url, &prefix).await
    }

    /// Redis, with every key under `prefix`. The queues acknowledge a
    /// write once a replica has it when the primary has replicas
    /// ([`replicated_acks`]).
    pub async fn redis_with_prefix(url: &str, prefix: &str) -> Result<Self, BoxError> {
        let prefix = prefix.to_owned();
        let inbox = RedisQueue::connect(url, &prefix, "inbox").await?;
        let (replicas, wait) = replicated_acks(&inbox).await?;
        let queue = |q: RedisQueue| Arc::new(q.wait_for_replicas(replicas, wait));
        let describe = match replicas {
            0 => "Redis".to_owned(),
            n => format!("Redis (writes acknowledged by {n} replica(s))"),
        };
        Ok(Self {
            inbox: queue(inbox),
            outbox: queue(RedisQueue::connect(url, &prefix, "outbox").await?),
            ledger: queue(RedisQueue::connect(url, &prefix, "ledger").await?),
            dedup: Arc::new(RedisDedupStore::connect(url, &format!("{prefix}dedup:")).await?),
            window: Arc::new(RedisWindowTracker::connect(url, &format!("{prefix}window:")).await?),
            describe,
            embedded: None,
            opt_outs: Arc::new(bridge_core::redis::RedisOptOutStore::connect(url, &prefix).await?),
            customers: Arc::new(
                bridge_core::redis::RedisCustomerStore::connect(url, &prefix).await?,
            ),
            send_rate: Some(Arc::new(
                bridge_core::redis::RedisSendRate::connect(
                    url,
                    &prefix,
                    send_pacing(&var)?.messages_per_second,
                )
                .await?,
            )),
            lease: Arc::new(bridge_core::redis::RedisLease::connect(url, &prefix).await?),
            sent_log: Arc::new(bridge_core::redis::RedisSentLog::connect(url, &prefix).await?),
            marks: Arc::new(Marks::Redis(
                bridge_core::redis::RedisConnection::connect(url).await?,
                prefix.clone(),
            )),
        })
    }

    /// Nothing durable (tests).
    pub fn memory() -> Result<Self, BoxError> {
        Ok(Self {
            inbox: Arc::new(MemoryQueue::new("inbox")?),
            outbox: Arc::new(MemoryQueue::new("outbox")?),
            ledger: Arc::new(MemoryQueue::new("ledger")?),
            dedup: Arc::new(MemoryDedupStore::new(100_000)),
            window: Arc::new(MemoryWindowTracker::default()),
            describe: "memory (not durable)".into(),
            embedded: None,
            opt_outs: Arc::new(bridge_core::optout::MemoryOptOutStore::default()),
            customers: Arc::new(bridge_core::customers::MemoryCustomerStore::default()),
            sent_log: Arc::new(bridge_core::sent::MemorySentLog::default()),
            send_rate: None,
            lease: Arc::new(bridge_core::lease::MemoryLease::default()),
            marks: Arc::new(Marks::Memory(std::sync::Mutex::default())),
        })
    }
}

/// Replicated acknowledgements for the Redis queues: how many replicas
/// must have each enqueue (and checkpoint) before it counts, and how long to
/// wait. `BRIDGE_REDIS_REPLICAS` (default: 1 when the queue's primary has a
/// replica, else 0: off) and `BRIDGE_REDIS_WAIT_MS` (default 1000). A write
/// that fewer replicas confirmed in time fails, so the webhook answers 500
/// and Meta redelivers.
pub async fn replicated_acks(queue: &RedisQueue) -> Result<(u32, std::time::Duration), BoxError> {
    let wait = match var("BRIDGE_REDIS_WAIT_MS") {
        Some(v) => v.trim().parse::<u64>().map_err(|_| {
            format!("BRIDGE_REDIS_WAIT_MS must be a whole number of milliseconds, got {v:?}")
        })?,
        None => 1_000,
    };
    let replicas = match var("BRIDGE_REDIS_REPLICAS") {
        Some(v) => v.trim().parse::<u32>().map_err(|_| {
            format!("BRIDGE_REDIS_REPLICAS must be a whole number (0: off), got {v:?}")
        })?,
        None => u32::from(queue.replicas().await? > 0),
    };
    Ok((replicas, std::time::Duration::from_millis(wait.max(1))))
}

/// The Salesforce writer as the environment configures it, remembering
/// customers (Contact matches, open Cases) in the stores:
/// `SALESFORCE_CASE_KEY_FIELD` (default `WhatsApp_Message_Id__c`),
/// `SALESFORCE_LEAD_KEY_FIELD` (default `WhatsApp_Phone__c`),
/// `SALESFORCE_CONTACT_KEY_FIELD` (an External ID phone field on Contact for
/// exact matches; default: match `MobilePhone` and `Phone` in every common
/// form), `SALESFORCE_CONTACT_MATCHING=off` (every sales message makes or
/// updates a Lead), `SALESFORCE_OPT_OUT_FIELD` and `BRIDGE_THREAD_DAYS` (how
/// long an open Case takes follow-ups, default 7).
pub fn salesforce_writer(b: &Backends, stores: &Stores) -> bridge_core::writer::SalesforceWriter {
    use bridge_core::writer::{
        ContactMatching, DEFAULT_CASE_KEY_FIELD, DEFAULT_LEAD_KEY_FIELD, SalesforceWriter,
    };
    let mut contacts = ContactMatching::default();
    if let Some(k) = var("SALESFORCE_CONTACT_KEY_FIELD") {
        contacts = contacts.key_field(k);
    }
    if var("SALESFORCE_CONTACT_MATCHING").as_deref() == Some("off") {
        contacts = ContactMatching::off();
    }
    let days: u64 = var("BRIDGE_THREAD_DAYS")
        .and_then(|d| d.parse().ok())
        .unwrap_or(7);
    SalesforceWriter::new(b.salesforce.clone())
        .case_key_field(
            var("SALESFORCE_CASE_KEY_FIELD").unwrap_or_else(|| DEFAULT_CASE_KEY_FIELD.into()),
        )
        .lead_key_field(
            var("SALESFORCE_LEAD_KEY_FIELD").unwrap_or_else(|| DEFAULT_LEAD_KEY_FIELD.into()),
        )
        .opt_out_field(var("SALESFORCE_OPT_OUT_FIELD"))
        .contact_matching(contacts)
        .thread_window(std::time::Duration::from_secs(days * 86_400))
        .customers(stores.customers.clone())
        // Above 90% of the daily allowance, Leads wait; new Cases go through.
        .budget(deferrable_budget(), std::time::Duration::from_secs(15 * 60))
}

/// The roles of the account's business numbers, from `WHATSAPP_NUMBER_ROLES`
/// (`<phone number id>:support,<phone number id>:sales`): messages to a
/// support number make Cases, to a sales number Leads, whatever their words;
/// numbers not listed route by keywords. Replies always leave from the number
/// the customer wrote to. `None` when unset.
pub fn number_roles() -> Result<Option<bridge_core::mapping::DefaultMapper>, BoxError> {
    match var("WHATSAPP_NUMBER_ROLES").filter(|v| !v.trim().is_empty()) {
        Some(spec) => number_roles_from(&spec).map(Some),
        None => Ok(None),
    }
}

/// [`number_roles`] from its text.
pub fn number_roles_from(spec: &str) -> Result<bridge_core::mapping::DefaultMapper, BoxError> {
    use bridge_core::routing::{ChannelRule, ChannelTable, KeywordRouter, RecordKind};
    let mut table = ChannelTable::default();
    for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (id, role) = item.split_once(':').ok_or_else(|| {
            format!("WHATSAPP_NUMBER_ROLES: {item:?} is not <phone number id>:<support|sales>")
        })?;
        let (id, role) = (id.trim(), role.trim().to_ascii_lowercase());
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "WHATSAPP_NUMBER_ROLES: {id:?} is not a phone number id (digits, as in the WhatsApp Manager)"
            )
            .into());
        }
        let rule = match role.as_str() {
            "support" => ChannelRule::Always(RecordKind::Case),
            "sales" => ChannelRule::Always(RecordKind::Lead),
            other => {
                return Err(format!(
                    "WHATSAPP_NUMBER_ROLES: role {other:?} of {id} is not support or sales"
                )
                .into());
            }
        };
        table = table.number(id, rule);
    }
    Ok(bridge_core::mapping::DefaultMapper::new(
        KeywordRouter::default(),
        table,
        bridge_core::mapping::MapperOptions::default(),
    ))
}

/// Agents' reply templates of particular business numbers, from
/// `AGENT_REPLY_TEMPLATE_BY_NUMBER`: `<phone number id>=<name>[:<language>]`,
/// comma-separated (`1234=support_followup,5678=sales_followup:es_US`);
/// the language defaults to `en_US`.
pub fn agent_templates_by_number() -> Result<Vec<(String, String, String)>, BoxError> {
    var("AGENT_REPLY_TEMPLATE_BY_NUMBER")
        .map_or(Ok(Vec::new()), |spec| agent_templates_by_number_from(&spec))
}

/// [`agent_templates_by_number`] from its text.
pub fn agent_templates_by_number_from(
    spec: &str,
) -> Result<Vec<(String, String, String)>, BoxError> {
    let mut out = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (id, template) = item.split_once('=').ok_or_else(|| {
            format!(
                "AGENT_REPLY_TEMPLATE_BY_NUMBER: {item:?} is not <phone number id>=<template>[:<language>]"
            )
        })?;
        let id = id.trim();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "AGENT_REPLY_TEMPLATE_BY_NUMBER: {id:?} is not a phone number id (digits, as in the WhatsApp Manager)"
            )
            .into());
        }
        let (name, language) = template
            .trim()
            .split_once(':')
            .unwrap_or((template.trim(), "en_US"));
        if name.trim().is_empty() || language.trim().is_empty() {
            return Err(format!(
                "AGENT_REPLY_TEMPLATE_BY_NUMBER: the template of {id} needs a name (and a language after `:`)"
            )
            .into());
        }
        out.push((
            id.to_owned(),
            name.trim().to_owned(),
            language.trim().to_owned(),
        ));
    }
    Ok(out)
}

/// Our own business numbers, from `BRIDGE_OWN_NUMBERS` (comma-separated, any
/// formatting): messages from them are automation echoes, never customers.
pub fn own_numbers() -> Vec<String> {
    var("BRIDGE_OWN_NUMBERS")
        .map(|v| {
            v.split(',')
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Where a Pub/Sub subscriber keeps its place, beside the tool's other
/// state: Redis with `REDIS_URL` (shared by every instance), else the
/// embedded store, else (memory stores, tests) memory.
pub async fn replay_store(
    tool: &str,
    stores: &Stores,
) -> Result<Arc<dyn salesforce_rest::pubsub::ReplayStore>, BoxError> {
    replay_store_in(tool, stores.embedded.as_ref()).await
}

/// [`replay_store`] from the embedded store alone (for tasks that outlive
/// the borrowed [`Stores`]).
pub async fn replay_store_in(
    tool: &str,
    embedded: Option<&EmbeddedStore>,
) -> Result<Arc<dyn salesforce_rest::pubsub::ReplayStore>, BoxError> {
    Ok(match (var("REDIS_URL"), embedded) {
        (Some(url), _) => {
            let conn = bridge_core::redis::RedisConnection::connect(&url)
                .await
                .map_err(|e| format!("REDIS_URL: {e}"))?;
            Arc::new(salesforce_rest::pubsub::RedisReplayStore::new(
                conn,
                format!("wa-sf:{tool}:"),
            ))
        }
        (None, Some(embedded)) => Arc::new(embedded.replay_ids()),
        (None, None) => Arc::new(salesforce_rest::pubsub::MemoryReplayStore::default()),
    })
}

/// The customers' time zone, for "today" in reminders: `CUSTOMER_TIME_ZONE`
/// (an IANA name like `America/Chicago`, or a US zone name like `Central`),
/// default Eastern.
pub fn customer_zone() -> Result<chrono_tz::Tz, BoxError> {
    match var("CUSTOMER_TIME_ZONE") {
        None => Ok(chrono_tz::America::New_York),
        Some(z) => bridge_core::format::us_zone(&z)
            .or_else(|| z.parse().ok())
            .ok_or_else(|| format!("CUSTOMER_TIME_ZONE={z:?} is not a time zone: use an IANA name such as America/Chicago").into()),
    }
}

/// The budget of deferrable work (reminders): it pauses above 90% of the
/// org's daily API allowance, so new Cases keep going through.
/// One budget for the whole process, so one warning is logged per crossing.
pub fn deferrable_budget() -> Arc<bridge_core::budget::ApiBudget> {
    static BUDGET: std::sync::OnceLock<Arc<bridge_core::budget::ApiBudget>> =
        std::sync::OnceLock::new();
    BUDGET.get_or_init(Arc::default).clone()
}

/// Starts the outbox worker of a one-shot tool over the WhatsApp client.
pub fn send_service(b: &Backends, stores: &Stores) -> bridge_core::service::SendService {
    bridge_core::service::SendService::start_with_opt_outs(
        Arc::new(b.whatsapp.clone()),
        stores.outbox.clone(),
        bridge_core::queue::WorkerOptions::default().concurrency(8),
        Arc::new(bridge_core::clock::SystemClock),
        Some(stores.opt_outs.clone()),
    )
}

/// Checks a tool's flags: every argument must be known (`--flag` or
/// `--flag VALUE`); unknown ones are an error naming them, never ignored.
/// Every tool also takes `--show-pii` (print customers' numbers, names and
/// message text as they are; see [`pii`]), which this sets.
pub fn check_flags(args: &[String], switches: &[&str], with_value: &[&str]) -> Result<(), String> {
    use clap::error::{ContextKind, ErrorKind};
    use clap::{Arg, ArgAction, Command};
    pii::set_show_pii(args.iter().any(|a| a == "--show-pii"));
    let args: Vec<&String> = args.iter().filter(|a| *a != "--show-pii").collect();
    let long = |f: &str| f.trim_start_matches('-').to_owned();
    let mut cmd = Command::new("example")
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true);
    for s in switches {
        cmd = cmd.arg(Arg::new(long(s)).long(long(s)).action(ArgAction::SetTrue));
    }
    for v in with_value {
        cmd = cmd.arg(
            Arg::new(long(v))
                .long(long(v))
                .num_args(1)
                .action(ArgAction::Set),
        );
    }
    let Err(e) = cmd.try_get_matches_from(args) else {
        return Ok(());
    };
    let arg = e
        .get(ContextKind::InvalidArg)
        .map(ToString::to_string)
        .unwrap_or_default();
    let known: Vec<&str> = switches.iter().chain(with_value).copied().collect();
    Err(match e.kind() {
        ErrorKind::UnknownArgument if known.is_empty() => {
            format!("unknown argument {arg:?}: this tool takes no arguments")
        }
        ErrorKind::UnknownArgument => {
            let hint = e
                .get(ContextKind::SuggestedArg)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            format!(
                "unknown argument {arg:?}{hint}; known: {}",
                known.join(", ")
            )
        }
        ErrorKind::InvalidValue | ErrorKind::NoEquals | ErrorKind::WrongNumberOfValues => {
            format!(
                "{} needs a value",
                arg.split_whitespace().next().unwrap_or(&arg)
            )
        }
        _ => e.to_string().trim().to_owned(),
    })
}

/// A command-line mistake (unknown flag, missing value): exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for UsageError {}

/// Handles `--help` (prints `help`, returns `Ok(true)`) and refuses unknown
/// arguments with a [`UsageError`], for tools with the given flags.
#[allow(clippy::print_stdout)]
pub fn cli_args(
    help: &str,
    switches: &[&str],
    with_value: &[&str],
) -> Result<(Vec<String>, bool), BoxError> {
    let args: Vec<String> = env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{help}");
        return Ok((args, true));
    }
    check_flags(&args, switches, with_value).map_err(|e| UsageError(format!("{e}\n{help}")))?;
    Ok((args, false))
}

/// The exit code of an example: 0; 2 after a [`UsageError`]; 1 after any
/// other error, printed with its causes as a readable chain (never `Debug`).
#[allow(clippy::print_stderr)]
pub fn exit_code(result: Result<(), BoxError>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<UsageError>().is_some() => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            std::process::ExitCode::FAILURE
        }
    }
}
