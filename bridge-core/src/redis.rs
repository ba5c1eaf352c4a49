//! The Redis backend (feature `redis`): every store of the bridge on Redis,
//! one node or a cluster, for apps that run several instances. The embedded
//! backend ([`crate::embedded`]) holds the same stores in one file for a
//! single instance; the memory stores sit beside their traits.
//!
//! [`RedisConnection`] reaches one node or a cluster, chosen by the URL
//! (`redis://`, `rediss://`, `redis+cluster://host:port,host:port`,
//! `rediss+cluster://`, or several `,`-separated node URLs). It is
//! `salesforce-rest`'s, so one connection serves the bridge's stores and the
//! Salesforce token store alike.

mod customers;
mod dedup;
mod erase;
mod lease;
mod optout;
mod pacing;
mod queue;
mod sent;
mod window;

pub use customers::RedisCustomerStore;
pub use dedup::RedisDedupStore;
pub use erase::erase_customer;
pub use lease::RedisLease;
pub use optout::RedisOptOutStore;
pub use pacing::RedisSendRate;
pub use queue::RedisQueue;
pub use sent::RedisSentLog;
pub use window::RedisWindowTracker;

pub use salesforce_rest::redis_conn::{RedisConnectError, RedisConnection};

use crate::error::BridgeError;

/// Connects to `url` (one node or a cluster) with automatic reconnection.
pub(crate) async fn connect(url: &str) -> Result<RedisConnection, BridgeError> {
    RedisConnection::connect(url)
        .await
        .map_err(|e| BridgeError::Store(e.to_string()))
}

/// A Redis error as a store error.
#[allow(clippy::needless_pass_by_value)] // used as `map_err(store_err)`
pub(crate) fn store_err(e: redis::RedisError) -> BridgeError {
    BridgeError::store("redis", e)
}

/// The Redis servers the tests run on (`REDIS_URL` and `REDIS_CLUSTER_URL`).
#[cfg(test)]
pub(crate) fn test_urls() -> Vec<String> {
    salesforce_rest::testkit::redis_urls()
}
