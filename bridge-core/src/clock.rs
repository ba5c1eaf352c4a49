//! Time as a parameter: logic takes a [`Clock`] instead of reading the wall
//! clock, so tests can move time by hand.
//!
//! ```
//! use bridge_core::clock::{Clock, ManualClock};
//! let clock = ManualClock::at_millis(1_700_000_000_000);
//! let before = clock.now();
//! clock.advance(std::time::Duration::from_secs(90));
//! assert_eq!((clock.now() - before).num_seconds(), 90);
//! ```

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told, for tests. The same contract and
/// constructors in `salesforce_rest::auth` and `bridge_core::clock`:
/// [`new`](Self::new) or [`at_millis`](Self::at_millis) to start,
/// [`advance`](Self::advance) to move on, [`set`](Self::set) to jump
/// (backwards too). `Default` stands at the Unix epoch.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use std::time::Duration;
/// use bridge_core::clock::{Clock, ManualClock};
///
/// let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 29, 9, 0, 0).unwrap());
/// clock.advance(Duration::from_secs(2 * 3600));
/// assert_eq!(clock.now(), Utc.with_ymd_and_hms(2026, 11, 29, 11, 0, 0).unwrap());
/// assert_eq!(ManualClock::at_millis(1_700_000_000_000).now().timestamp(), 1_700_000_000);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    millis: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `start` (to the millisecond).
    pub fn new(start: DateTime<Utc>) -> Self {
        Self::at_millis(start.timestamp_millis())
    }

    /// A clock standing at a Unix time in milliseconds.
    pub fn at_millis(millis: i64) -> Self {
        Self {
            millis: AtomicI64::new(millis),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        // A saturating add: `fetch_add` would wrap on a huge step.
        let _ = self
            .millis
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
                Some(m.saturating_add(by))
            });
    }

    /// Sets the time (forward or back).
    pub fn set(&self, to: DateTime<Utc>) {
        self.millis.store(to.timestamp_millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.millis.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

/// A clock that follows tokio's time: with `tokio::time::pause()` (or
/// `#[tokio::test(start_paused = true)]`), the sleeps of the code under test
/// and this clock move together, and a test that waits for a lease to expire
/// takes no real time. Unpaused, it moves with the real time from its start.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use bridge_core::clock::{Clock, TokioClock};
///
/// let clock = TokioClock::new(chrono::Utc::now());
/// let before = clock.now();
/// tokio::time::sleep(std::time::Duration::from_secs(3_600)).await; // instant: time is paused
/// assert_eq!((clock.now() - before).num_seconds(), 3_600);
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock standing at `start` now, moving with tokio's time.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            base: start,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        self.base
            + chrono::Duration::from_std(self.start.elapsed()).unwrap_or(chrono::Duration::MAX)
    }
}
