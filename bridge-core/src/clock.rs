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
