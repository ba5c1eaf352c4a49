//! The Redis backend of [`crate::window`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::BridgeError;
use crate::redis::RedisConnection;
use crate::window::*;

const RECORD: &str = r"
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1";

/// The window tracker on Redis (feature `redis`): one key per customer that
/// expires with the window; an older time never replaces a newer one.
#[derive(Clone)]
pub struct RedisWindowTracker {
    conn: RedisConnection,
    prefix: String,
    record: redis::Script,
}

impl std::fmt::Debug for RedisWindowTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisWindowTracker")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisWindowTracker {
    /// Connects to `redis://...`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, BridgeError> {
        Ok(Self {
            conn: crate::redis::connect(url).await?,
            prefix: prefix.to_owned(),
            record: redis::Script::new(RECORD),
        })
    }
}

#[async_trait]
impl WindowTracker for RedisWindowTracker {
    async fn record_inbound(&self, customer: &str, at: DateTime<Utc>) -> Result<(), BridgeError> {
        let mut conn = self.conn.clone();
        let left = (at + WINDOW - Utc::now()).num_seconds().max(1);
        let _: i64 = self
            .record
            .key(format!("{}{customer}", self.prefix))
            .arg(at.timestamp_millis())
            .arg(left)
            .invoke_async(&mut conn)
            .await
            .map_err(crate::redis::store_err)?;
        Ok(())
    }

    async fn last_inbound(&self, customer: &str) -> Result<Option<DateTime<Utc>>, BridgeError> {
        let mut conn = self.conn.clone();
        let v: Option<i64> = redis::cmd("GET")
            .arg(format!("{}{customer}", self.prefix))
            .query_async(&mut conn)
            .await
            .map_err(crate::redis::store_err)?;
        Ok(v.and_then(DateTime::from_timestamp_millis))
    }
}
