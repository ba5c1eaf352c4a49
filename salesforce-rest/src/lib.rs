#![doc = include_str!("../README.md")]
//!
//! # In this crate
//!
//! - [`auth`]: web-server + PKCE, refresh token, JWT bearer, client credentials,
//!   username-password (discouraged); login hosts as configuration; a
//!   [`TokenStore`](auth::TokenStore) trait with compare-and-swap for rotated
//!   refresh tokens; a [`Session`](auth::Session) that renews once for a whole
//!   wave of 401s.
//! - [`Client`]: sObjects ([`sobjects`]), typed [`records`] with tri-state
//!   fields, SOQL with lazy pagination and change polling ([`query`]),
//!   injection-proof [`soql`], sObject Collections and Composite ([`composite`]),
//!   [`limits`] and API usage.
//! - [`Error`]: typed REST and OAuth errors with open code enums, fix hints and
//!   [`Error::is_retryable`].
//! - [`SalesforceId`]: 15/18-character ids, validated and compared correctly.
//! - [`testkit`] (feature `testkit`): a mock org for tests.
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "testkit")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), salesforce_rest::Error> {
//! use salesforce_rest::auth::{ConnectedApp, Credentials, LoginHost, OAuthClient, Session};
//! use salesforce_rest::records::{Case, Lead};
//! use salesforce_rest::soql::Soql;
//! use salesforce_rest::Client;
//! use secrecy::SecretString;
//! # let org = salesforce_rest::testkit::MockOrg::start().await;
//!
//! let app = ConnectedApp::new("3MVG9...")
//!     .client_secret(SecretString::from("consumer-secret"))
//!     .login_host(LoginHost::Production);
//! # let app = org.app();
//! let session = Session::builder(
//!     OAuthClient::new(app)?,
//!     Credentials::RefreshToken(SecretString::from("5Aep861...")),
//! )
//! # ;
//! # let session = Session::builder(org.oauth(), Credentials::RefreshToken(SecretString::from(salesforce_rest::testkit::MOCK_REFRESH_TOKEN)))
//! .build();
//! let client = Client::builder(session).build()?;
//!
//! let mut case = Case::new("Order arrived broken", "My order #1042 arrived broken");
//! case.origin = "WhatsApp".into();
//! let id = client.create(&case).await?;
//!
//! let phone = "+1 (415) 555-0123";
//! let soql = Soql::new("SELECT Id, LastName FROM Lead WHERE Phone = {}").bind(phone).build()?;
//! let leads = client.query::<Lead>(&soql).await?;
//! # assert_eq!(leads.total_size, 0);
//! # let _ = id;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "testkit"))]
//! # fn main() {}
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
pub mod bulk;
mod client;
pub mod composite;
pub mod error;
pub mod files;
mod http;
mod id;
pub mod limits;
pub mod metrics;
#[cfg(feature = "pubsub")]
pub mod pubsub;
pub mod query;
pub mod raw;
pub mod records;
mod redact;
#[cfg(feature = "redis")]
pub mod redis_conn;
pub mod replication;
pub mod retry;
mod shared;
pub mod sobjects;
pub mod soql;
pub mod tooling;
mod usage;
pub mod write;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use client::{Client, ClientBuilder, DEFAULT_API_VERSION};
pub use error::{
    ApiError, ApiErrorItem, Error, ErrorCode, LimitKind, OAuthError, OAuthErrorCode, TransportKind,
};
pub use id::SalesforceId;
pub use retry::RetryPolicy;
