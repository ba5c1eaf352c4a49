//! When to try a failed job again: a pure function of the attempt count, the
//! error's class and its `retry_after`, and the time.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::JobId;

/// How a failure should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureClass {
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

/// Exponential backoff with deterministic jitter, by error class: the same
/// fields, constructor and setters as the SDK crates' `RetryPolicy`.
///
/// ```
/// use std::time::Duration;
/// use bridge_core::queue::{decide, Decision, FailureClass, JobId, RetryPolicy, RetryState};
///
/// let policy = RetryPolicy::default();
/// let now = chrono::Utc::now();
/// let id = JobId::new("7");
/// let transient = RetryState::new(&id, 1, FailureClass::Transient, now);
/// assert!(matches!(decide(&policy, &transient), Decision::RetryAt(t) if t > now));
/// let permanent = RetryState::new(&id, 1, FailureClass::Permanent, now);
/// assert_eq!(decide(&policy, &permanent), Decision::DeadLetter);
/// // A server's Retry-After is honoured.
/// let limited = RetryState::new(&id, 1, FailureClass::RateLimited, now)
///     .with_retry_after(Some(Duration::from_secs(120)));
/// let Decision::RetryAt(t) = decide(&policy, &limited) else { panic!() };
/// assert!(t - now >= chrono::Duration::seconds(120));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts before a job is dead-lettered (the first one included).
    pub max_attempts: u32,
    /// The first delay of a transient failure.
    pub initial_backoff: Duration,
    /// The longest delay the policy chooses (a `retry_after` may be longer).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts, 1 s doubling to at most 15 minutes.
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// Dead-letter at the first failure.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the attempts and backoff bounds.
    pub fn new(max_attempts: u32, initial_backoff: Duration, max_backoff: Duration) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            initial_backoff,
            max_backoff: max_backoff.max(initial_backoff),
        }
    }

    /// Sets the attempt count (the first included).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the backoff bounds.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }
}

/// Everything [`decide`] looks at after a failed attempt. `#[non_exhaustive]`:
/// build it with [`RetryState::new`] and the `with_*` setters, so a new input
/// is not a breaking change. The same shape as the SDK crates' `retry`
/// modules.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RetryState<'a> {
    /// The job that failed (its id seeds the jitter).
    pub job: &'a JobId,
    /// The attempts made so far (1 after the first).
    pub attempt: u32,
    /// How the failure should be treated.
    pub class: FailureClass,
    /// How long the other side asked to wait, when it did.
    pub retry_after: Option<Duration>,
    /// Now, from the caller's clock.
    pub now: DateTime<Utc>,
}

impl<'a> RetryState<'a> {
    /// Attempt number `attempt` (1 for the first) of `job` failed with a
    /// failure of `class`, at `now`; no `Retry-After`.
    pub fn new(job: &'a JobId, attempt: u32, class: FailureClass, now: DateTime<Utc>) -> Self {
        Self {
            job,
            attempt,
            class,
            retry_after: None,
            now,
        }
    }

    /// Sets how long the other side asked to wait.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }
}

/// The decision after a failed attempt. Pure: jitter (between 50% and 100%
/// of the delay) is derived from the job id and the attempt, so the same
/// inputs give the same answer. Rate-limited failures back off four times
/// longer; permanent ones, and the last attempt, are dead-lettered.
pub fn decide(policy: &RetryPolicy, state: &RetryState<'_>) -> Decision {
    let RetryState {
        job,
        attempt,
        class,
        retry_after,
        now,
    } = *state;
    if class == FailureClass::Permanent || attempt >= policy.max_attempts {
        return Decision::DeadLetter;
    }
    let factor = match class {
        FailureClass::RateLimited => 4,
        _ => 1,
    };
    let exp = attempt.saturating_sub(1).min(20);
    let full = policy
        .initial_backoff
        .saturating_mul(factor)
        .saturating_mul(1u32 << exp)
        .min(policy.max_backoff);
    let jitter = jitter_fraction(job, attempt);
    let delay = full.mul_f64(0.5 + 0.5 * jitter);
    let delay = retry_after.map_or(delay, |ra| delay.max(ra));
    Decision::RetryAt(now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX))
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
        let delay = |n, class, ra| match decide(
            &p,
            &RetryState::new(&id, n, class, now).with_retry_after(ra),
        ) {
            Decision::RetryAt(t) => (t - now).to_std().unwrap(),
            Decision::DeadLetter => panic!("retry expected"),
        };
        assert!(delay(1, FailureClass::Transient, None) <= Duration::from_secs(1));
        assert!(delay(1, FailureClass::Transient, None) >= Duration::from_millis(500));
        assert!(delay(4, FailureClass::Transient, None) >= Duration::from_secs(4));
        assert!(delay(9, FailureClass::Transient, None) <= Duration::from_secs(60));
        assert!(delay(1, FailureClass::RateLimited, None) >= Duration::from_secs(2));
        assert_eq!(
            delay(1, FailureClass::Transient, Some(Duration::from_secs(300))),
            Duration::from_secs(300)
        );
        assert_eq!(
            delay(3, FailureClass::Transient, None),
            delay(3, FailureClass::Transient, None),
            "deterministic"
        );
        assert_eq!(
            decide(&p, &RetryState::new(&id, 10, FailureClass::Transient, now)),
            Decision::DeadLetter
        );
        assert_eq!(
            decide(&p, &RetryState::new(&id, 1, FailureClass::Permanent, now)),
            Decision::DeadLetter
        );
    }
}
