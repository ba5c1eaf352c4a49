//! Shared Redis plumbing for the Redis-backed stores (feature `redis`).

use redis::aio::ConnectionManager;

use crate::error::BridgeError;

/// Connects to `redis://...` with automatic reconnection.
pub(crate) async fn connect(url: &str) -> Result<ConnectionManager, BridgeError> {
    let client =
        redis::Client::open(url).map_err(|e| BridgeError::store("invalid Redis URL", e))?;
    ConnectionManager::new(client)
        .await
        .map_err(|e| BridgeError::store("cannot connect to Redis", e))
}

/// A Redis error as a store error.
#[allow(clippy::needless_pass_by_value)] // used as `map_err(store_err)`
pub(crate) fn store_err(e: redis::RedisError) -> BridgeError {
    BridgeError::store("redis", e)
}
