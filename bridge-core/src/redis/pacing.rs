//! The Redis backend of [`crate::pacing`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::BridgeError;
use crate::redis::RedisConnection;

use crate::pacing::*;
use crate::redis::store_err;

/// The next free slot (microseconds) in one key per number, moved
/// atomically: every instance of the fleet shares the number's rate.
const RESERVE: &str = r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local at = tonumber(redis.call('GET', KEYS[1]) or '0')
if at < now then at = now end
redis.call('SET', KEYS[1], at + interval, 'PX', math.floor((at + interval - now) / 1000) + 1000)
return at - now
";

/// A fleet's send rate in Redis (feature `redis`): the key
/// `<prefix>send-rate:{<number>}` holds the number's next free slot.
/// Instances pass their own clock: keep them synchronized (NTP).
#[derive(Clone)]
pub struct RedisSendRate {
    conn: RedisConnection,
    prefix: String,
    interval_us: i64,
    script: Arc<redis::Script>,
}

impl std::fmt::Debug for RedisSendRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSendRate")
            .field("prefix", &self.prefix)
            .field("interval_us", &self.interval_us)
            .finish_non_exhaustive()
    }
}

impl RedisSendRate {
    /// Connects; `per_second` messages a second per number.
    pub async fn connect(url: &str, prefix: &str, per_second: f64) -> Result<Self, BridgeError> {
        Ok(Self {
            conn: crate::redis::connect(url).await?,
            prefix: prefix.to_owned(),
            interval_us: interval_us(per_second),
            script: Arc::new(redis::Script::new(RESERVE)),
        })
    }
}

#[async_trait]
impl SendRate for RedisSendRate {
    async fn reserve(&self, number: &str, now: DateTime<Utc>) -> Result<Duration, BridgeError> {
        let key = format!(
            "{}send-rate:{{{}}}",
            self.prefix,
            crate::optout::customer_key(number)
        );
        let mut c = self.conn.clone();
        let wait: i64 = self
            .script
            .key(key)
            .arg(now.timestamp_micros())
            .arg(self.interval_us)
            .invoke_async(&mut c)
            .await
            .map_err(store_err)?;
        Ok(Duration::from_micros(u64::try_from(wait).unwrap_or(0)))
    }
}
