//! Meta's per-number send rate, shared by every sender of a fleet.
//!
//! The Cloud API takes a business number's messages at a tier's rate (80 a
//! second by default) and refuses the rest with 130429. `whatsapp-cloud`'s
//! client paces the sends of one process; [`PacedSender`] paces a whole fleet
//! through a [`SendRate`] every instance shares: [`MemorySendRate`] in one
//! process, `RedisSendRate` (feature `redis`) across instances. Each send
//! reserves the number's next slot (a strict spacing of `1 / rate`: no burst
//! above the rate) and waits for it, so a burst becomes paced sends.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), bridge_core::BridgeError> {
//! use bridge_core::pacing::{MemorySendRate, SendRate};
//! let rate = MemorySendRate::new(10.0); // 10 messages a second
//! let now = chrono::Utc::now();
//! assert!(rate.reserve("15550001111", now).await?.is_zero());
//! assert_eq!(rate.reserve("15550001111", now).await?, std::time::Duration::from_millis(100));
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::error::BridgeError;
use crate::inbound::Channel;
use crate::sender::{ChannelSender, Outbound, SendError, SendReceipt};

/// Reserves send slots of business numbers at a rate.
#[async_trait]
pub trait SendRate: Send + Sync {
    /// Reserves the next slot of `number` at `now` and says how long to wait
    /// before using it (zero: at once).
    async fn reserve(&self, number: &str, now: DateTime<Utc>) -> Result<Duration, BridgeError>;
}

/// The spacing of a rate in microseconds (at least 1).
pub(crate) fn interval_us(per_second: f64) -> i64 {
    if per_second.is_finite() && per_second > 0.0 {
        #[allow(clippy::cast_possible_truncation)]
        let us = (1_000_000.0 / per_second).round() as i64;
        us.max(1)
    } else {
        1
    }
}

/// One process's send rate.
#[derive(Debug)]
pub struct MemorySendRate {
    interval_us: i64,
    next: Mutex<HashMap<String, i64>>,
}

impl MemorySendRate {
    /// `per_second` messages a second per number.
    pub fn new(per_second: f64) -> Self {
        Self {
            interval_us: interval_us(per_second),
            next: Mutex::default(),
        }
    }
}

#[async_trait]
impl SendRate for MemorySendRate {
    async fn reserve(&self, number: &str, now: DateTime<Utc>) -> Result<Duration, BridgeError> {
        let now = now.timestamp_micros();
        let mut next = self
            .next
            .lock()
            .map_err(|_| BridgeError::Store("the send rate's lock is poisoned".into()))?;
        if next.len() > 10_000 {
            next.retain(|_, t| *t > now);
        }
        let slot = next.entry(number.to_owned()).or_insert(now);
        let at = (*slot).max(now);
        *slot = at + self.interval_us;
        Ok(Duration::from_micros(u64::try_from(at - now).unwrap_or(0)))
    }
}

/// A [`ChannelSender`] that waits for the business number's slot before each send.
/// A send rate that cannot be read (Redis down) does not stop the send: it
/// goes unpaced, logged, and a 130429 is retried by the outbox.
pub struct PacedSender<S> {
    inner: S,
    rate: Arc<dyn SendRate>,
    number: String,
    clock: Arc<dyn Clock>,
}

impl<S> std::fmt::Debug for PacedSender<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacedSender")
            .field("number", &crate::audit::redact_phone(&self.number))
            .finish_non_exhaustive()
    }
}

impl<S: ChannelSender> PacedSender<S> {
    /// Paces `inner`'s sends from `number` (the business phone number id).
    pub fn new(
        inner: S,
        rate: Arc<dyn SendRate>,
        number: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner,
            rate,
            number: number.into(),
            clock,
        }
    }
}

#[async_trait]
impl<S: ChannelSender> ChannelSender for PacedSender<S> {
    fn channel(&self) -> Channel {
        self.inner.channel()
    }

    async fn send(&self, to: &str, message: &Outbound) -> Result<SendReceipt, SendError> {
        // Meta's throughput is per business number: the one the message
        // leaves from.
        let number = message.from.as_deref().unwrap_or(&self.number);
        match self.rate.reserve(number, self.clock.now()).await {
            Ok(wait) if !wait.is_zero() => {
                crate::metrics::paced(wait);
                tokio::time::sleep(wait).await;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "the send rate could not be read; sending unpaced");
            }
        }
        self.inner.send(to, message).await
    }
}

/// The behaviour every [`SendRate`] must have; run it against yours.
pub mod conformance {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;

    /// Runs the suite (numbers it uses are random); panics naming the broken
    /// rule. Time is passed in: nothing sleeps. The rate's interval is read
    /// from its second reservation.
    ///
    /// The same signature as every conformance suite of the workspace:
    /// the store behind an `Arc`, and the `ManualClock` the suite reads and
    /// moves (build the store with it when it keeps time).
    ///
    /// # Panics
    ///
    /// When the rate breaks a rule.
    #[allow(clippy::panic)]
    pub async fn run<R: SendRate + ?Sized + 'static>(rate: Arc<R>, clock: &ManualClock) {
        let number = format!("1555000{:04}", crate::dedup::random_token() % 10_000);
        let other = format!("{number}9");
        let t0 = clock.now();
        let r = |n: &str, at: DateTime<Utc>| {
            let n = n.to_owned();
            let rate = rate.clone();
            async move { rate.reserve(&n, at).await.unwrap_or_else(|e| panic!("{e}")) }
        };
        assert!(
            r(&number, t0).await.is_zero(),
            "the first send goes at once"
        );
        let step = r(&number, t0).await;
        assert!(!step.is_zero(), "the second send of a number waits");
        assert_eq!(
            r(&number, t0).await,
            step * 2,
            "slots are reserved in order"
        );
        assert!(
            r(&other, t0).await.is_zero(),
            "each number has its own rate"
        );
        clock.advance(Duration::from_secs(60));
        assert!(
            r(&number, clock.now()).await.is_zero(),
            "an idle number starts afresh"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn the_memory_rate_passes_the_suite() {
        let clock = ManualClock::new(Utc::now());
        conformance::run(Arc::new(MemorySendRate::new(80.0)), &clock).await;
        // The interval it found is the configured one.
        let rate = MemorySendRate::new(80.0);
        let t0 = clock.now();
        rate.reserve("14155550123", t0).await.unwrap();
        assert_eq!(
            rate.reserve("14155550123", t0).await.unwrap(),
            Duration::from_micros(12_500)
        );
    }

    #[cfg(feature = "redis")]
    #[tokio::test]
    async fn the_redis_rate_passes_the_suite() {
        for url in crate::redis::test_urls() {
            let r = crate::redis::RedisSendRate::connect(
                &url,
                &format!("wa-sf:test{}:", crate::dedup::random_token()),
                80.0,
            )
            .await
            .unwrap();
            conformance::run(Arc::new(r), &ManualClock::new(Utc::now())).await;
        }
    }
}
