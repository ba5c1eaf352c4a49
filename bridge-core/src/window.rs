//! The 24-hour customer service window: a tracker of each customer's last
//! inbound message and the policy that says whether a free-form message is
//! allowed or a template is required.
//!
//! ```
//! use bridge_core::window::{delivery, Delivery};
//! use chrono::{Duration, Utc};
//!
//! let now = Utc::now();
//! assert_eq!(delivery(Some(now - Duration::hours(3)), now), Delivery::FreeForm);
//! assert_eq!(delivery(Some(now - Duration::hours(25)), now), Delivery::TemplateRequired);
//! assert_eq!(delivery(None, now), Delivery::TemplateRequired);
//! ```

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::error::BridgeError;

/// The window's length.
pub const WINDOW: Duration = Duration::hours(24);

/// What may be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// Inside the window: any message.
    FreeForm,
    /// Outside the window: only an approved template.
    TemplateRequired,
}

/// The policy: free-form within 24 hours of the last inbound message.
pub fn delivery(last_inbound: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Delivery {
    match last_inbound {
        Some(t) if now < t + WINDOW => Delivery::FreeForm,
        _ => Delivery::TemplateRequired,
    }
}

/// When the window closes (None: closed).
pub fn closes_at(last_inbound: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    last_inbound.map(|t| t + WINDOW).filter(|c| *c > now)
}

/// Keeps each customer's last inbound time.
#[async_trait]
pub trait WindowTracker: Send + Sync {
    /// Records an inbound message (an older time never replaces a newer one).
    async fn record_inbound(&self, customer: &str, at: DateTime<Utc>) -> Result<(), BridgeError>;
    /// The last inbound time, if within the window's memory.
    async fn last_inbound(&self, customer: &str) -> Result<Option<DateTime<Utc>>, BridgeError>;
    /// What may be sent to the customer now.
    async fn delivery(&self, customer: &str) -> Result<Delivery, BridgeError> {
        Ok(delivery(self.last_inbound(customer).await?, Utc::now()))
    }
}

/// The in-memory tracker, bounded: entries older than the window are dropped
/// when it is full.
#[derive(Debug)]
pub struct MemoryWindowTracker {
    last: Mutex<HashMap<String, DateTime<Utc>>>,
    capacity: usize,
}

impl MemoryWindowTracker {
    /// A tracker of at most about `capacity` customers.
    pub fn new(capacity: usize) -> Self {
        Self {
            last: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }
}

impl Default for MemoryWindowTracker {
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

#[async_trait]
impl WindowTracker for MemoryWindowTracker {
    async fn record_inbound(&self, customer: &str, at: DateTime<Utc>) -> Result<(), BridgeError> {
        let mut m = self
            .last
            .lock()
            .map_err(|_| BridgeError::Store("poisoned lock".into()))?;
        if m.len() >= self.capacity && !m.contains_key(customer) {
            let cutoff = Utc::now() - WINDOW;
            m.retain(|_, t| *t > cutoff);
        }
        let e = m.entry(customer.to_owned()).or_insert(at);
        if at > *e {
            *e = at;
        }
        Ok(())
    }

    async fn last_inbound(&self, customer: &str) -> Result<Option<DateTime<Utc>>, BridgeError> {
        let m = self
            .last
            .lock()
            .map_err(|_| BridgeError::Store("poisoned lock".into()))?;
        Ok(m.get(customer).copied())
    }
}

#[cfg(feature = "redis")]
pub use redis_tracker::RedisWindowTracker;

#[cfg(feature = "redis")]
mod redis_tracker {
    use super::*;
    use redis::aio::ConnectionManager;

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
        conn: ConnectionManager,
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
                conn: crate::redis_util::connect(url).await?,
                prefix: prefix.to_owned(),
                record: redis::Script::new(RECORD),
            })
        }
    }

    #[async_trait]
    impl WindowTracker for RedisWindowTracker {
        async fn record_inbound(
            &self,
            customer: &str,
            at: DateTime<Utc>,
        ) -> Result<(), BridgeError> {
            let mut conn = self.conn.clone();
            let left = (at + WINDOW - Utc::now()).num_seconds().max(1);
            let _: i64 = self
                .record
                .key(format!("{}{customer}", self.prefix))
                .arg(at.timestamp_millis())
                .arg(left)
                .invoke_async(&mut conn)
                .await
                .map_err(crate::redis_util::store_err)?;
            Ok(())
        }

        async fn last_inbound(&self, customer: &str) -> Result<Option<DateTime<Utc>>, BridgeError> {
            let mut conn = self.conn.clone();
            let v: Option<i64> = redis::cmd("GET")
                .arg(format!("{}{customer}", self.prefix))
                .query_async(&mut conn)
                .await
                .map_err(crate::redis_util::store_err)?;
            Ok(v.and_then(DateTime::from_timestamp_millis))
        }
    }
}

/// The behaviour every tracker must have.
pub mod conformance {
    use super::*;

    /// Runs the suite against a tracker.
    ///
    /// # Panics
    ///
    /// When the tracker breaks a rule.
    #[allow(clippy::panic)]
    pub async fn run<T: WindowTracker>(t: &T) {
        let who = format!(
            "conformance-{}",
            Utc::now().timestamp_nanos_opt().unwrap_or(0)
        );
        assert_eq!(
            t.delivery(&who).await.ok(),
            Some(Delivery::TemplateRequired),
            "unknown customer: template"
        );
        let now = Utc::now();
        t.record_inbound(&who, now - Duration::hours(2))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.delivery(&who).await.ok(), Some(Delivery::FreeForm));
        t.record_inbound(&who, now - Duration::hours(20))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let last = t
            .last_inbound(&who)
            .await
            .ok()
            .flatten()
            .map(|l| l.timestamp_millis());
        assert_eq!(
            last,
            Some((now - Duration::hours(2)).timestamp_millis()),
            "an older time never wins"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_tracker_passes_the_suite() {
        conformance::run(&MemoryWindowTracker::default()).await;
    }

    #[test]
    fn window_edges() {
        let now = Utc::now();
        assert_eq!(
            delivery(Some(now - WINDOW + Duration::seconds(1)), now),
            Delivery::FreeForm
        );
        assert_eq!(
            delivery(Some(now - WINDOW), now),
            Delivery::TemplateRequired
        );
        assert_eq!(
            closes_at(Some(now - Duration::hours(1)), now),
            Some(now + Duration::hours(23))
        );
        assert_eq!(closes_at(Some(now - Duration::hours(30)), now), None);
    }
}
