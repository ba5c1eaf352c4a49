//! The Redis backend of [`crate::dedup`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::{Clock, SystemClock};
use crate::dedup::*;
use crate::error::BridgeError;
use crate::redis::RedisConnection;

// A value is `<owner>|<deadline ms>`: the owner `claim:<token>` or
// `done`, the deadline on the callers' clock. Redis's own expiry (PX, the
// same length) only cleans up. A value without a deadline (written
// before deadlines were kept) is live until Redis expires it.

/// The owner part of a value (`claim:7`, `done`).
const OWNER: &str = r"
local function owner(v)
  local bar = string.find(v, '|', 1, true)
  if bar then return string.sub(v, 1, bar - 1) end
  return v
end
local function live(v, now)
  local bar = string.find(v, '|', 1, true)
  if not bar then return true end
  return tonumber(string.sub(v, bar + 1)) > now
end
";

/// ARGV: the claim, the ttl (ms), now (ms).
const CLAIM: &str = r"
local v = redis.call('GET', KEYS[1])
local now = tonumber(ARGV[3])
if v and live(v, now) then
  if owner(v) == 'done' then return 'done' end
  return 'inflight'
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. (now + tonumber(ARGV[2])), 'PX', ARGV[2])
return 'new'";

/// ARGV: the claim, how long to keep it done (ms), now (ms).
const COMPLETE: &str = r"
local v = redis.call('GET', KEYS[1])
if v and owner(v) == ARGV[1] then
  redis.call('SET', KEYS[1], 'done|' .. (tonumber(ARGV[3]) + tonumber(ARGV[2])), 'PX', ARGV[2])
  return 1
end
return 0";

/// ARGV: the claim.
const RELEASE: &str = r"
local v = redis.call('GET', KEYS[1])
if v and owner(v) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// ARGV: now (ms).
const IS_DONE: &str = r"
local v = redis.call('GET', KEYS[1])
if v and owner(v) == 'done' and live(v, tonumber(ARGV[1])) then return 1 end
return 0";

/// A dedup store on Redis (feature `redis`), for apps that run many
/// instances: a script runs `SET key claim:<token> NX PX ttl` (or reports
/// what is there) in one atomic step, and scripts complete or release only
/// the claim that owns the key.
#[derive(Clone)]
pub struct RedisDedupStore {
    conn: RedisConnection,
    prefix: String,
    claim: redis::Script,
    complete: redis::Script,
    release: redis::Script,
    is_done: redis::Script,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RedisDedupStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDedupStore")
            .field("prefix", &self.prefix)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl RedisDedupStore {
    /// Connects (with automatic reconnection) to `redis://...`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, BridgeError> {
        Ok(Self {
            conn: crate::redis::connect(url).await?,
            prefix: prefix.to_owned(),
            claim: redis::Script::new(&format!("{OWNER}{CLAIM}")),
            complete: redis::Script::new(&format!("{OWNER}{COMPLETE}")),
            release: redis::Script::new(&format!("{OWNER}{RELEASE}")),
            is_done: redis::Script::new(&format!("{OWNER}{IS_DONE}")),
            clock: Arc::new(SystemClock),
        })
    }

    /// The same store reading time from `clock` (a `ManualClock` in
    /// tests). Instances sharing keys should share a time source: with
    /// the system clock, their clocks' skew shifts expiries by as much.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

use crate::redis::store_err;

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl DedupStore for RedisDedupStore {
    async fn claim(&self, key: &str, ttl: Duration) -> Result<Claim, BridgeError> {
        let mut conn = self.conn.clone();
        let full = self.key(key);
        let token = crate::dedup::random_token();
        let outcome: String = self
            .claim
            .key(&full)
            .arg(format!("claim:{token}"))
            .arg(millis(ttl))
            .arg(self.now_ms())
            .invoke_async(&mut conn)
            .await
            .map_err(store_err)?;
        Ok(match outcome.as_str() {
            "new" => Claim::New(ClaimToken {
                key: key.to_owned(),
                token,
            }),
            "done" => Claim::Done,
            _ => Claim::InFlight,
        })
    }

    async fn complete(&self, token: &ClaimToken, keep: Duration) -> Result<(), BridgeError> {
        let mut conn = self.conn.clone();
        let done: i64 = self
            .complete
            .key(self.key(&token.key))
            .arg(format!("claim:{}", token.token))
            .arg(millis(keep))
            .arg(self.now_ms())
            .invoke_async(&mut conn)
            .await
            .map_err(store_err)?;
        if done == 1 {
            Ok(())
        } else {
            Err(BridgeError::Store(format!(
                "the claim on {} expired before it was completed",
                token.key
            )))
        }
    }

    async fn is_done(&self, key: &str) -> Result<bool, BridgeError> {
        let mut conn = self.conn.clone();
        let done: i64 = self
            .is_done
            .key(self.key(key))
            .arg(self.now_ms())
            .invoke_async(&mut conn)
            .await
            .map_err(store_err)?;
        Ok(done == 1)
    }

    async fn release(&self, token: &ClaimToken) -> Result<(), BridgeError> {
        let mut conn = self.conn.clone();
        let _: i64 = self
            .release
            .key(self.key(&token.key))
            .arg(format!("claim:{}", token.token))
            .invoke_async(&mut conn)
            .await
            .map_err(store_err)?;
        Ok(())
    }
}
