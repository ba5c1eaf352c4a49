//! When to try a failed job again: a pure function of the attempt count, the
//! error's class and its `retry_after`, and the time.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::JobId;

/// How a failure should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// Worth trying again soon (a 5xx, a timeout, a store blip).
    Transient,
    /// The other side asked us to slow down (429, pair rate limit, concurrent
    /// request limit): back off longer.
    RateLimited,
    /// Trying again cannot help (a validation error, outside the 24-hour
    /// window, an unparsable payload): dead-letter at once.
    Permanent,
}

/// What to do with a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Set it aside with its error.
    DeadLetter,
}

/// Exponential backoff with deterministic jitter, by error class.
///
/// ```
/// use std::time::Duration;
/// use bridge_core::queue::{Decision, ErrorClass, JobId, RetryPolicy};
///
/// let policy = RetryPolicy::default();
/// let now = chrono::Utc::now();
/// let id = JobId::new("7");
/// assert!(matches!(policy.decide(&id, 1, ErrorClass::Transient, None, now), Decision::RetryAt(t) if t > now));
/// assert_eq!(policy.decide(&id, 1, ErrorClass::Permanent, None, now), Decision::DeadLetter);
/// // A server's Retry-After is honoured.
/// let Decision::RetryAt(t) = policy.decide(&id, 1, ErrorClass::RateLimited, Some(Duration::from_secs(120)), now) else { panic!() };
/// assert!(t - now >= chrono::Duration::seconds(120));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts before a job is dead-lettered (the first one included).
    pub max_attempts: u32,
    /// The first delay of a transient failure.
    pub base: Duration,
    /// The longest delay the policy chooses (a `retry_after` may be longer).
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// A policy.
    pub fn new(max_attempts: u32, base: Duration, cap: Duration) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            base,
            cap: cap.max(base),
        }
    }

    /// The decision after attempt number `attempts` (1 for the first) failed.
    /// Jitter (between 50% and 100% of the delay) is derived from the job id
    /// and the attempt, so the same inputs give the same answer.
    pub fn decide(
        &self,
        job: &JobId,
        attempts: u32,
        class: ErrorClass,
        retry_after: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Decision {
        if class == ErrorClass::Permanent || attempts >= self.max_attempts {
            return Decision::DeadLetter;
        }
        let factor = match class {
            ErrorClass::RateLimited => 4,
            _ => 1,
        };
        let exp = attempts.saturating_sub(1).min(20);
        let full = self
            .base
            .saturating_mul(factor)
            .saturating_mul(1u32 << exp)
            .min(self.cap);
        let jitter = jitter_fraction(job, attempts);
        let delay = full.mul_f64(0.5 + 0.5 * jitter);
        let delay = retry_after.map_or(delay, |ra| delay.max(ra));
        Decision::RetryAt(now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX))
    }
}

/// A number in [0, 1) from the job id and the attempt (FNV-1a).
fn jitter_fraction(job: &JobId, attempts: u32) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in job.as_str().bytes().chain(attempts.to_le_bytes()) {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let p = RetryPolicy::new(10, Duration::from_secs(1), Duration::from_secs(60));
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let id = JobId::new("42");
        let delay = |n, class, ra| match p.decide(&id, n, class, ra, now) {
            Decision::RetryAt(t) => (t - now).to_std().unwrap(),
            Decision::DeadLetter => panic!("retry expected"),
        };
        assert!(delay(1, ErrorClass::Transient, None) <= Duration::from_secs(1));
        assert!(delay(1, ErrorClass::Transient, None) >= Duration::from_millis(500));
        assert!(delay(4, ErrorClass::Transient, None) >= Duration::from_secs(4));
        assert!(delay(9, ErrorClass::Transient, None) <= Duration::from_secs(60));
        assert!(delay(1, ErrorClass::RateLimited, None) >= Duration::from_secs(2));
        assert_eq!(
            delay(1, ErrorClass::Transient, Some(Duration::from_secs(300))),
            Duration::from_secs(300)
        );
        assert_eq!(
            delay(3, ErrorClass::Transient, None),
            delay(3, ErrorClass::Transient, None),
            "deterministic"
        );
        assert_eq!(
            p.decide(&id, 10, ErrorClass::Transient, None, now),
            Decision::DeadLetter
        );
        assert_eq!(
            p.decide(&id, 1, ErrorClass::Permanent, None, now),
            Decision::DeadLetter
        );
    }
}
