//! Optional pacing: a per-number throughput limiter and a per-recipient pacer, so
//! that a burst of reminders does not hit 130429 (throughput) or 131056 (pair
//! rate limit) in the first place.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Pacing settings.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Pacing {
    /// Messages per second from the business number (80 by default; up to 1,000
    /// for upgraded numbers, 20 for coexistence numbers).
    pub messages_per_second: f64,
    /// Messages that may go to one recipient back to back.
    pub per_recipient_burst: u32,
    /// After the burst, one message per recipient per this interval (6 s: about
    /// 10 a minute, Meta's pair rate limit).
    pub per_recipient_interval: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            messages_per_second: 80.0,
            per_recipient_burst: 5,
            per_recipient_interval: Duration::from_secs(6),
        }
    }
}

impl Pacing {
    /// Sets the per-number throughput.
    pub fn messages_per_second(mut self, rate: f64) -> Self {
        self.messages_per_second = rate;
        self
    }

    /// Sets the per-recipient burst and interval.
    pub fn per_recipient(mut self, burst: u32, interval: Duration) -> Self {
        self.per_recipient_burst = burst.max(1);
        self.per_recipient_interval = interval;
        self
    }
}

/// A token bucket that hands out reservations: `reserve` always succeeds and
/// says how long the caller must wait, so waiters are served in order.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    last: Instant,
}

impl Bucket {
    pub(crate) fn new(capacity: f64, per_second: f64, now: Instant) -> Self {
        Self {
            tokens: capacity,
            capacity,
            per_second,
            last: now,
        }
    }

    /// Takes one token and returns how long to wait before using it.
    pub(crate) fn reserve(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 || self.per_second <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }

    /// Whether the bucket is full again at `now` (so it can be forgotten).
    fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.per_second >= self.capacity
    }
}

/// The pacer the client consults before each send.
#[derive(Debug)]
pub(crate) struct Pacer {
    settings: Pacing,
    global: Mutex<Bucket>,
    recipients: Mutex<Recipients>,
}

/// Buckets per recipient, swept of refilled ones at most once per
/// `SWEEP_EVERY` new recipients, so a burst to many recipients costs O(1)
/// amortized per send instead of a full scan each.
#[derive(Debug, Default)]
struct Recipients {
    buckets: HashMap<String, Bucket>,
    added_since_sweep: usize,
}

const SWEEP_ABOVE: usize = 10_000;
const SWEEP_EVERY: usize = 5_000;

impl Pacer {
    pub(crate) fn new(settings: Pacing) -> Self {
        let now = Instant::now();
        let rate = settings.messages_per_second.max(0.001);
        Self {
            settings,
            // No burst above the rate: Meta counts messages per second, and a
            // second's worth up front would put two seconds' worth in one.
            global: Mutex::new(Bucket::new(1.0, rate, now)),
            recipients: Mutex::new(Recipients::default()),
        }
    }

    /// How long to wait before sending to `recipient` at `now`; reserves the slot.
    pub(crate) fn reserve(&self, recipient: &str, now: Instant) -> Duration {
        let per_recipient = {
            let mut r = self
                .recipients
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if r.buckets.len() > SWEEP_ABOVE && r.added_since_sweep >= SWEEP_EVERY {
                r.buckets.retain(|_, b| !b.is_full(now));
                r.added_since_sweep = 0;
            }
            if !r.buckets.contains_key(recipient) {
                r.added_since_sweep += 1;
            }
            let map = &mut r.buckets;
            let rate = 1.0
                / self
                    .settings
                    .per_recipient_interval
                    .as_secs_f64()
                    .max(0.001);
            map.entry(recipient.to_owned())
                .or_insert_with(|| {
                    Bucket::new(f64::from(self.settings.per_recipient_burst), rate, now)
                })
                .reserve(now)
        };
        let global = self
            .global
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .reserve(now + per_recipient);
        per_recipient + global
    }

    /// Waits for the recipient's slot.
    pub(crate) async fn acquire(&self, recipient: &str) {
        let wait = self.reserve(recipient, Instant::now());
        if !wait.is_zero() {
            crate::metrics::paced(wait);
            tracing::debug!(wait_ms = wait.as_millis() as u64, "pacing a send");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_bucket_spaces_sends_at_the_rate_after_the_burst() {
        let now = Instant::now();
        let mut b = Bucket::new(2.0, 2.0, now);
        assert_eq!(b.reserve(now), Duration::ZERO);
        assert_eq!(b.reserve(now), Duration::ZERO);
        assert_eq!(b.reserve(now), Duration::from_millis(500));
        assert_eq!(b.reserve(now), Duration::from_millis(1000));
        // After a second, two tokens came back, both already reserved.
        assert_eq!(
            b.reserve(now + Duration::from_secs(1)),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn many_recipients_are_swept_in_batches_and_stay_bounded() {
        let p = Pacer::new(Pacing::default().per_recipient(2, Duration::from_secs(6)));
        let start = Instant::now();
        // 60,000 distinct recipients, one send each, 10 ms apart: older buckets
        // refill (6 s) and are swept, in batches rather than on every send.
        for i in 0..60_000u64 {
            let _ = p.reserve(
                &format!("1415{i:07}"),
                start + Duration::from_millis(10 * i),
            );
        }
        let r = p.recipients.lock().unwrap();
        assert!(
            r.buckets.len() <= SWEEP_ABOVE + SWEEP_EVERY + 600,
            "bounded: {}",
            r.buckets.len()
        );
        assert!(r.added_since_sweep < SWEEP_EVERY, "swept in batches");
    }

    #[test]
    fn pacer_limits_each_recipient_separately() {
        // A number rate high enough not to show: only the pair limit does.
        let p = Pacer::new(
            Pacing::default()
                .messages_per_second(1e9)
                .per_recipient(2, Duration::from_secs(6)),
        );
        let now = Instant::now();
        assert!(p.reserve("a", now) < Duration::from_micros(10));
        assert!(p.reserve("a", now) < Duration::from_micros(10));
        let third = p.reserve("a", now);
        assert!(
            third >= Duration::from_secs(6) && third < Duration::from_secs(7),
            "{third:?}"
        );
        assert!(p.reserve("b", now) < Duration::from_micros(10));
    }

    #[test]
    fn pacer_limits_throughput_across_recipients() {
        let p = Pacer::new(Pacing::default().messages_per_second(10.0));
        let now = Instant::now();
        let waits: Vec<_> = (0..12).map(|i| p.reserve(&format!("r{i}"), now)).collect();
        // No burst above the rate: one at once, then one every 100 ms.
        assert!(waits[0].is_zero());
        assert_eq!(waits[1], Duration::from_millis(100));
        assert_eq!(waits[11], Duration::from_millis(1100));
    }
}
