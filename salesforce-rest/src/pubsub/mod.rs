//! Real-time events over the Salesforce Pub/Sub API (feature `pubsub`):
//! Change Data Capture and platform events, subscribed with flow control over
//! gRPC (HTTP/2), decoded from Avro into JSON fields with a typed change
//! header, and resumed exactly after the last handled event across restarts,
//! disconnects and token renewals.
//!
//! ```no_run
//! # async fn demo(session: salesforce_rest::auth::Session) -> Result<(), salesforce_rest::pubsub::PubSubError> {
//! use std::sync::Arc;
//! use salesforce_rest::pubsub::{Flow, FileReplayStore, PubSubClient};
//!
//! let pubsub = PubSubClient::builder(session).build()?;
//! let store = Arc::new(FileReplayStore::new("bridge-data/replay")?);
//! pubsub
//!     .subscribe("/data/OrderChangeEvent", store)
//!     .run(|event| async move {
//!         if event.changed("Status") {
//!             let ids = event.change.as_ref().map(|c| c.record_ids.clone());
//!             println!("order {ids:?} is now {:?}", event.text("Status"));
//!         }
//!         Ok(Flow::Continue)
//!     })
//!     .await
//! # }
//! ```
//!
//! The protocol types are generated from `proto/pubsub_api.proto` (written
//! from Salesforce's documented interface) and committed: building needs no
//! `protoc`.

mod client;
mod events;
#[allow(
    missing_docs,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    clippy::restriction,
    rustdoc::all
)]
pub(crate) mod proto;
mod replay;
mod subscription;

pub use client::{DEFAULT_ENDPOINT, PubSubClient, PubSubClientBuilder, PublishResult};
pub use events::{
    ChangeEventHeader, ChangeType, EventMessage, EventSchema, bitmap_fields, change_header, decode,
    encode, normalize_temporal,
};
#[cfg(feature = "redis")]
pub use replay::RedisReplayStore;
pub use replay::{DeadEvent, FileReplayStore, MemoryReplayStore, ReplayStore, conformance};
pub use subscription::{
    EventHandlerError, Flow, Gap, GapCallback, StartFrom, SubscriberHealth, SubscriberState,
    Subscription,
};

/// A Pub/Sub failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PubSubError {
    /// The configuration is unusable (endpoint, tenant id).
    #[error("Pub/Sub configuration: {0}")]
    Config(String),
    /// The session could not give a token.
    #[error(transparent)]
    Auth(#[from] crate::Error),
    /// The server refused a call for good (unknown topic, invalid replay id,
    /// no permission).
    #[error("the Pub/Sub API refused the call ({code}): {message}")]
    Refused {
        /// The gRPC status code, as text.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The connection failed and the reconnect budget ran out.
    #[error("the Pub/Sub stream kept failing ({attempts} attempts): {last}")]
    Unavailable {
        /// How many connections were tried.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// An event or schema could not be decoded.
    #[error("Pub/Sub decoding: {0}")]
    Decode(String),
    /// An event could not be encoded for publishing.
    #[error("Pub/Sub encoding: {0}")]
    Encode(String),
    /// The replay store failed (the event was handled; its id is not saved).
    #[error("replay store: {0}")]
    Store(String),
    /// The handler failed: the event's replay id is not saved, so a restart
    /// delivers it again.
    #[error("the event handler failed: {0}")]
    Handler(Box<dyn std::error::Error + Send + Sync>),
}
