//! The Redis backend of [`crate::lease`].

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::BridgeError;
use crate::lease::{LeaderLease, until};
use crate::redis::RedisConnection;
use crate::redis::store_err;

/// KEYS[1] lease, KEYS[2] fence counter; ARGV holder, now ms, until ms,
/// expiry ms (garbage collection well past the deadline).
const ACQUIRE: &str = r"
local cur = redis.call('HMGET', KEYS[1], 'holder', 'fence', 'until')
local now = tonumber(ARGV[2])
local live = cur[1] and tonumber(cur[3]) > now
if live and cur[1] ~= ARGV[1] then return -1 end
local fence
if live then fence = tonumber(cur[2]) else fence = redis.call('INCR', KEYS[2]) end
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'fence', fence, 'until', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return fence
";

/// KEYS[1] lease; ARGV holder, fence, now ms, until ms, expiry ms.
const RENEW: &str = r"
local cur = redis.call('HMGET', KEYS[1], 'holder', 'fence', 'until')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] or tonumber(cur[3]) <= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'until', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
";

/// KEYS[1] lease; ARGV holder, fence.
const RELEASE: &str = r"
local cur = redis.call('HMGET', KEYS[1], 'holder', 'fence')
if cur[1] == ARGV[1] and cur[2] == ARGV[2] then redis.call('DEL', KEYS[1]) end
return 1
";

/// Leases in Redis, shared by every instance: `{<prefix>lease:<name>}`
/// and its fence counter share one hash tag (cluster-safe).
#[derive(Clone)]
pub struct RedisLease {
    conn: RedisConnection,
    prefix: String,
}

impl std::fmt::Debug for RedisLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLease")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisLease {
    /// Connects; keys under `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, BridgeError> {
        Ok(Self::new(crate::redis::connect(url).await?, prefix))
    }

    /// Over an existing connection.
    pub fn new(conn: impl Into<RedisConnection>, prefix: &str) -> Self {
        Self {
            conn: conn.into(),
            prefix: prefix.to_owned(),
        }
    }

    fn keys(&self, name: &str) -> (String, String) {
        let key = format!("{{{}lease:{name}}}", self.prefix);
        let fence = format!("{key}:fence");
        (key, fence)
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// How long Redis keeps a lease past its deadline before dropping it.
fn expiry(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis())
        .unwrap_or(u64::MAX)
        .saturating_add(60_000)
}

#[async_trait]
impl LeaderLease for RedisLease {
    async fn acquire(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, BridgeError> {
        let (key, fence) = self.keys(name);
        let mut c = self.conn.clone();
        let got: i64 = redis::Script::new(ACQUIRE)
            .key(key)
            .key(fence)
            .arg(holder)
            .arg(ms(now))
            .arg(ms(until(now, ttl)))
            .arg(expiry(ttl))
            .invoke_async(&mut c)
            .await
            .map_err(store_err)?;
        Ok(u64::try_from(got).ok())
    }

    async fn renew(
        &self,
        name: &str,
        holder: &str,
        fence: u64,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, BridgeError> {
        let (key, _) = self.keys(name);
        let mut c = self.conn.clone();
        let kept: i64 = redis::Script::new(RENEW)
            .key(key)
            .arg(holder)
            .arg(fence)
            .arg(ms(now))
            .arg(ms(until(now, ttl)))
            .arg(expiry(ttl))
            .invoke_async(&mut c)
            .await
            .map_err(store_err)?;
        Ok(kept == 1)
    }

    async fn release(&self, name: &str, holder: &str, fence: u64) -> Result<(), BridgeError> {
        let (key, _) = self.keys(name);
        let mut c = self.conn.clone();
        let _: i64 = redis::Script::new(RELEASE)
            .key(key)
            .arg(holder)
            .arg(fence)
            .invoke_async(&mut c)
            .await
            .map_err(store_err)?;
        Ok(())
    }
}
