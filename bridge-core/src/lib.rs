#![doc = include_str!("../README.md")]
//!
//! # The pieces
//!
//! | piece | trait | default |
//! |---|---|---|
//! | normalized messages | — | [`inbound::CustomerMessage`] (from the WhatsApp webhook model) |
//! | routing | — | [`routing::KeywordRouter`], [`routing::ChannelTable`] |
//! | mapping | [`mapping::Mapper`] | [`mapping::DefaultMapper`] (Lead / Case drafts) |
//! | writing | [`writer::RecordWriter`] | `SalesforceWriter` (feature `salesforce`) |
//! | inbox / outbox | [`queue::JobQueue`] | `embedded::EmbeddedStore` (feature `embedded`), `redis::RedisQueue` (feature `redis`); [`service::BridgeService`] runs the workers |
//! | dedup | [`dedup::DedupStore`] | [`dedup::MemoryDedupStore`], `EmbeddedDedupStore`, `RedisDedupStore` (feature `redis`) |
//! | opt-outs | [`optout::OptOutStore`] | [`optout::MemoryOptOutStore`], `EmbeddedOptOutStore`, `RedisOptOutStore` |
//! | Pub/Sub replay ids | `salesforce_rest::pubsub::ReplayStore` | `MemoryReplayStore`, `EmbeddedReplayStore` (feature `pubsub`), `RedisReplayStore` |
//! | 24-hour window | [`window::WindowTracker`] | [`window::MemoryWindowTracker`], `RedisWindowTracker` |
//! | sending | [`sender::ChannelSender`] | the WhatsApp client, [`sender::FallbackSender`] |
//! | US formats | — | [`format`](mod@format) |
//! | audit trail | — | [`audit`] (`tracing` events) |
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), bridge_core::BridgeError> {
//! use std::sync::Arc;
//! use bridge_core::inbound::{Channel, CustomerMessage};
//! use bridge_core::mapping::{Action, ActionKind};
//! use bridge_core::pipeline::{Bridge, OutcomeKind};
//! use bridge_core::writer::{RecordWriter, WriteOutcome};
//!
//! // Any CRM: implement RecordWriter (SalesforceWriter is provided).
//! struct PrintingCrm;
//! #[async_trait::async_trait]
//! impl RecordWriter for PrintingCrm {
//!     async fn write(&self, action: &Action, _m: &CustomerMessage) -> Result<WriteOutcome, bridge_core::BridgeError> {
//!         let mut out = WriteOutcome::default();
//!         out.object = match action { Action::CreateCase { .. } => "Case", _ => "Lead" }.into();
//!         Ok(out)
//!     }
//! }
//!
//! let bridge = Bridge::builder(Arc::new(PrintingCrm)).build();
//! let m = CustomerMessage::text(Channel::WhatsApp, "wamid.1", "14155550123", "my order arrived broken");
//! let outcome = bridge.handle(m.clone()).await?;
//! let OutcomeKind::Processed { action, .. } = outcome.kind else { unreachable!() };
//! assert_eq!(action, ActionKind::CreateCase);
//! assert_eq!(bridge.handle(m).await?.kind, OutcomeKind::Duplicate);
//! # Ok(())
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(all(feature = "salesforce", feature = "whatsapp"))]
pub mod agent;
#[cfg(all(feature = "salesforce", feature = "whatsapp"))]
pub mod attachments;
pub mod audit;
pub mod budget;
pub mod clock;
pub mod customers;
pub mod dedup;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod erase;
mod error;
pub mod format;
pub mod health;
pub mod inbound;
mod job_id;
pub mod lease;
pub mod ledger;
pub mod mapping;
pub mod metrics;
pub mod optout;
pub mod pacing;
pub mod pipeline;
pub mod queue;
#[cfg(feature = "redis")]
pub mod redis;
pub mod replies;
pub mod routing;
pub mod sender;
pub mod sent;
pub mod service;
pub mod window;
pub mod writer;

pub use error::BridgeError;
