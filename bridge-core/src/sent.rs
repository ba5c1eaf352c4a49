//! What was sent, for the fallback channel: WhatsApp often accepts a message
//! and reports it failed later, by webhook, possibly after a restart or at
//! another instance. The outbox remembers each message it sent on the
//! primary channel (message id → customer and text) in a [`SentLog`]; a
//! failed status meaning "unreachable" takes it out, once, and sends the
//! text on the fallback channel.
//!
//! [`MemorySentLog`] serves one process that never restarts (tests);
//! `EmbeddedStore::sent_log` (feature `embedded`) and
//! [`RedisSentLog`](crate::redis::RedisSentLog) (feature `redis`) survive
//! restarts and are shared by every process on the store.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::BridgeError;

/// A message sent on the primary channel. `Debug` redacts both fields.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SentRecord {
    /// The customer.
    pub to: String,
    /// The text (what the fallback sends).
    pub text: String,
}

impl SentRecord {
    /// A sent message.
    pub fn new(to: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            to: to.into(),
            text: text.into(),
        }
    }
}

impl std::fmt::Debug for SentRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentRecord")
            .field("to", &crate::audit::redact_phone(&self.to))
            .field(
                "text",
                &format_args!("[{} chars]", self.text.chars().count()),
            )
            .finish()
    }
}

/// Remembers sent messages by id, and gives each back once. Implement it
/// over your own store; [`conformance::run`] checks an implementation.
#[async_trait]
pub trait SentLog: Send + Sync + std::fmt::Debug {
    /// Remembers `message` under its id for `keep` from `now`.
    async fn remember(
        &self,
        message_id: &str,
        message: &SentRecord,
        keep: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), BridgeError>;

    /// Takes the message out: the first caller gets it, every later one (at
    /// any instance) `None`, as after it expired.
    async fn take(
        &self,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SentRecord>, BridgeError>;
}

fn until(now: DateTime<Utc>, keep: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX)
}

/// In memory, the last 100,000 messages: one process, lost on restart.
#[derive(Debug, Default)]
pub struct MemorySentLog {
    inner: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    order: VecDeque<String>,
    by_id: HashMap<String, (SentRecord, DateTime<Utc>)>,
}

const MEMORY_BOUND: usize = 100_000;

fn poisoned() -> BridgeError {
    BridgeError::Store("the sent log's lock is poisoned".into())
}

#[async_trait]
impl SentLog for MemorySentLog {
    async fn remember(
        &self,
        message_id: &str,
        message: &SentRecord,
        keep: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), BridgeError> {
        let mut m = self.inner.lock().map_err(|_| poisoned())?;
        if m.by_id
            .insert(message_id.to_owned(), (message.clone(), until(now, keep)))
            .is_none()
        {
            m.order.push_back(message_id.to_owned());
        }
        while m.order.len() > MEMORY_BOUND {
            if let Some(old) = m.order.pop_front() {
                m.by_id.remove(&old);
            }
        }
        Ok(())
    }

    async fn take(
        &self,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SentRecord>, BridgeError> {
        let mut m = self.inner.lock().map_err(|_| poisoned())?;
        Ok(m.by_id
            .remove(message_id)
            .filter(|(_, until)| *until > now)
            .map(|(msg, _)| msg))
    }
}

/// A conformance suite for [`SentLog`] implementations.
pub mod conformance {
    use std::sync::Arc;
    use std::time::Duration;

    use super::{SentLog, SentRecord};
    use crate::clock::{Clock, ManualClock};

    /// Checks the contract: a remembered message is taken once, whole;
    /// unknown ids give `None`; ids are separate. Start the clock at the
    /// real time for a store whose backend measures expiry itself (Redis).
    ///
    /// The same signature as every conformance suite of the workspace:
    /// the store behind an `Arc`, and the `ManualClock` the suite reads and
    /// moves (build the store with it when it keeps time).
    ///
    /// # Panics
    ///
    /// When the log breaks the contract (it is a test helper).
    #[allow(clippy::unwrap_used)]
    pub async fn run<S: SentLog + ?Sized + 'static>(log: Arc<S>, clock: &ManualClock) {
        let now = clock.now();
        let id = |n: u32| format!("wamid.conformance.{}.{n}", std::process::id());
        let ana = SentRecord::new("14155550123", "Your case number is 00001026.");
        let ben = SentRecord::new("14155550199", "We have your quote ready.");
        let keep = Duration::from_secs(3_600);
        assert_eq!(log.take(&id(0), now).await.unwrap(), None, "unknown id");
        log.remember(&id(1), &ana, keep, now).await.unwrap();
        log.remember(&id(2), &ben, keep, now).await.unwrap();
        assert_eq!(
            log.take(&id(1), now).await.unwrap(),
            Some(ana),
            "taken whole"
        );
        assert_eq!(log.take(&id(1), now).await.unwrap(), None, "taken once");
        assert_eq!(
            log.take(&id(2), now).await.unwrap(),
            Some(ben),
            "ids are separate"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn the_memory_log_passes_the_suite_and_forgets_expired_messages() {
        let log = Arc::new(MemorySentLog::default());
        conformance::run(log.clone(), &crate::clock::ManualClock::new(Utc::now())).await;
        let now = Utc::now();
        log.remember("m", &SentRecord::new("1", "x"), Duration::from_secs(1), now)
            .await
            .unwrap();
        assert_eq!(
            log.take("m", now + chrono::Duration::seconds(2))
                .await
                .unwrap(),
            None
        );
    }

    #[test]
    fn debug_redacts_the_customer_and_the_text() {
        let printed = format!("{:?}", SentRecord::new("14155550123", "secret plans"));
        assert!(
            !printed.contains("555") && !printed.contains("secret"),
            "{printed}"
        );
    }

    #[cfg(feature = "redis")]
    #[tokio::test]
    async fn the_redis_log_passes_the_suite() {
        for url in crate::redis::test_urls() {
            let prefix = format!("test:{:x}:", crate::dedup::random_token());
            let log = crate::redis::RedisSentLog::connect(&url, &prefix)
                .await
                .unwrap();
            conformance::run(Arc::new(log), &crate::clock::ManualClock::new(Utc::now())).await;
        }
    }
}
