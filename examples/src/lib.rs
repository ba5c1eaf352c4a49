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
//! | `SALESFORCE_CLIENT_ID` | the real org (with one of the credentials below) |
//! | `SALESFORCE_REFRESH_TOKEN` / `SALESFORCE_JWT_KEY_FILE` + `SALESFORCE_USERNAME` / `SALESFORCE_USERNAME` + `SALESFORCE_PASSWORD` / `SALESFORCE_CLIENT_SECRET` alone | refresh token, JWT bearer, password, client credentials |
//! | `SALESFORCE_LOGIN_URL` (default `https://login.salesforce.com`), `SALESFORCE_API_VERSION` | where and which version |
//! | `REDIS_URL` | shared dedup for many instances |
//! | `BIND_ADDR` | the webhook server's address |

use std::env;
use std::error::Error;
use std::sync::Arc;

use bridge_core::dedup::{DedupStore, MemoryDedupStore, RedisDedupStore};
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
                (b.build()?, None)
            }
            _ => {
                let graph = MockGraph::start().await;
                (graph.client(), Some(graph))
            }
        };
        let (salesforce, org) = match var("SALESFORCE_CLIENT_ID") {
            Some(client_id) => (real_salesforce(client_id)?, None),
            None => {
                let org = salesforce_rest::testkit::MockOrg::start().await;
                (org.client(), Some(org))
            }
        };
        let app_secret =
            var("WHATSAPP_APP_SECRET").unwrap_or_else(|| SANDBOX_APP_SECRET.to_owned());
        let verify =
            var("WHATSAPP_VERIFY_TOKEN").unwrap_or_else(|| SANDBOX_VERIFY_TOKEN.to_owned());
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

fn real_salesforce(client_id: String) -> Result<salesforce_rest::Client, BoxError> {
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
    let session = Session::builder(OAuthClient::new(app)?, credentials).build();
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

/// Starts `tracing` output (`RUST_LOG` controls it; warnings by default).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}
