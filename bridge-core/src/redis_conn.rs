//! Connections to Redis (feature `redis`): [`RedisConnection`] reaches one
//! node or a cluster, chosen by the URL (`redis://`, `rediss://`,
//! `redis+cluster://host:port,host:port`, `rediss+cluster://`, or several
//! `,`-separated node URLs). It is `salesforce-rest`'s, so one connection
//! serves the bridge's stores and the Salesforce token store alike.

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
