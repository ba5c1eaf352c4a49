//! The retry policy and the pure decision behind it.
//!
//! A WhatsApp send is a POST without an idempotency key: if it reached Meta and
//! the answer was lost, sending it again delivers the message twice. So a send is
//! retried only when the outcome *proves* it was not accepted:
//!
//! - the connection never opened;
//! - HTTP 429, or a rate-limit code that rejects before queueing (4, 80007,
//!   130429, 131056);
//! - a code documented as "service unavailable / not processed" (1 is not among
//!   them; 2, 131000, 131016, 131057, 133004 are).
//!
//! A timeout after the request was written, a reset connection or a bare 5xx is
//! **not** retried for a send; it is retried for idempotent calls (GET, DELETE).
//! Backoff is exponential with jitter, honours `Retry-After` and the code's own
//! wait (6 s for the pair limit), and is bounded by a count and a total time.

use std::time::Duration;

use crate::error::{ApiError, RetryHint, TransportKind};

/// How many times and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Total attempts, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The first backoff.
    pub initial_backoff: Duration,
    /// The largest single wait; a server asking for more is not waited for.
    pub max_backoff: Duration,
    /// The total time budget across attempts.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, 500 ms doubling to at most 10 s, within 30 s.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the attempts and backoff bounds (the same constructor as
    /// `salesforce_rest::RetryPolicy::new`).
    pub fn new(max_attempts: u32, initial_backoff: Duration, max_backoff: Duration) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            initial_backoff,
            max_backoff: max_backoff.max(initial_backoff),
            ..Self::default()
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

    /// Sets the total time budget.
    pub fn with_max_elapsed(mut self, budget: Duration) -> Self {
        self.max_elapsed = budget;
        self
    }

    /// The exponential backoff before attempt `attempt + 1`, with jitter in
    /// `[0, 1)`: half the step is fixed, half is random ("equal jitter").
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        crate::shared::jittered_backoff(self.initial_backoff, self.max_backoff, attempt, 20, jitter)
    }
}

/// What an attempt ended with, as far as retrying is concerned.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Outcome<'a> {
    /// A typed Graph error.
    Api(&'a ApiError),
    /// An error status without a Graph error body (HTML from a proxy, empty 502).
    Status(u16),
    /// The request failed at the transport level.
    Transport(TransportKind),
}

pub use crate::shared::{Decision, RetryState};

/// Decides whether to retry. Pure: same inputs, same answer.
///
/// ```
/// use whatsapp_cloud::retry::{decide, Decision, Outcome, RetryPolicy, RetryState};
/// use whatsapp_cloud::TransportKind;
///
/// let policy = RetryPolicy::default();
/// // A send whose connection never opened is safe to retry...
/// let refused = RetryState::new(Outcome::Transport(TransportKind::Connect), 1);
/// assert!(matches!(decide(&policy, &refused), Decision::RetryAfter(_)));
/// // ...a send that timed out after it was written is not.
/// let timed_out = RetryState::new(Outcome::Transport(TransportKind::Timeout), 1);
/// assert_eq!(decide(&policy, &timed_out), Decision::Stop);
/// // A read that timed out is.
/// assert!(matches!(decide(&policy, &timed_out.with_idempotent(true)), Decision::RetryAfter(_)));
/// ```
pub fn decide(policy: &RetryPolicy, state: &RetryState<Outcome<'_>>) -> Decision {
    let RetryState {
        failure,
        attempt,
        idempotent,
        elapsed,
        retry_after,
        jitter,
    } = *state;
    if attempt >= policy.max_attempts {
        return Decision::Stop;
    }
    let wait = match failure {
        Outcome::Transport(TransportKind::Connect) => policy.backoff(attempt, jitter),
        Outcome::Transport(_) if idempotent => policy.backoff(attempt, jitter),
        Outcome::Transport(_) => return Decision::Stop,
        Outcome::Status(429) => policy.backoff(attempt, jitter),
        Outcome::Status(500..=599) if idempotent => policy.backoff(attempt, jitter),
        Outcome::Status(_) => return Decision::Stop,
        Outcome::Api(api) => {
            if !idempotent && !api.code.proves_not_accepted() && api.http_status != 429 {
                return Decision::Stop;
            }
            match api.retry_hint() {
                RetryHint::Never => return Decision::Stop,
                RetryHint::Backoff => policy.backoff(attempt, jitter),
                RetryHint::After(d) => d.max(policy.backoff(attempt, jitter) / 4),
            }
        }
    };
    let wait = retry_after.map_or(wait, |ra| wait.max(ra));
    if wait > policy.max_backoff || elapsed.saturating_add(wait) > policy.max_elapsed {
        return Decision::Stop;
    }
    Decision::RetryAfter(wait)
}

#[cfg_attr(not(feature = "client"), allow(unused_imports))]
pub(crate) use crate::shared::jitter;

#[cfg(test)]
mod tests {
    use super::*;

    /// The state from the inputs in one line, for the tables below.
    fn positional(
        policy: &RetryPolicy,
        failure: Outcome<'_>,
        idempotent: bool,
        attempt: u32,
        elapsed: Duration,
        jitter: f64,
    ) -> Decision {
        let state = RetryState::new(failure, attempt)
            .with_idempotent(idempotent)
            .with_elapsed(elapsed)
            .with_jitter(jitter);
        decide(policy, &state)
    }
    use crate::error::ErrorCode;

    fn api(code: i64, status: u16) -> ApiError {
        let body = format!(r#"{{"error":{{"code":{code},"message":"m"}}}}"#);
        ApiError::from_body(status, body.as_bytes()).unwrap()
    }

    const P: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(10),
        max_elapsed: Duration::from_secs(30),
    };

    fn retries(d: Decision) -> bool {
        matches!(d, Decision::RetryAfter(_))
    }

    #[test]
    fn sends_retry_only_when_the_answer_proves_no_acceptance() {
        let z = Duration::ZERO;
        for (code, status, expect) in [
            (130_429, 400, true),
            (131_056, 400, true),
            // The app limit asks for 60 s, longer than the policy's largest wait.
            (4, 429, false),
            (80_007, 400, false),
            (133_004, 503, true),
            (131_016, 500, true),
            (131_047, 400, false),
            (131_026, 400, false),
            (190, 401, false),
            (100, 400, false),
            (1, 400, false),
            (131_048, 400, false),
        ] {
            let e = api(code, status);
            assert_eq!(
                retries(positional(&P, Outcome::Api(&e), false, 1, z, 0.5)),
                expect,
                "code {code}"
            );
        }
        assert!(retries(positional(
            &P,
            Outcome::Transport(TransportKind::Connect),
            false,
            1,
            z,
            0.0
        )));
        assert!(!retries(positional(
            &P,
            Outcome::Transport(TransportKind::Timeout),
            false,
            1,
            z,
            0.0
        )));
        assert!(!retries(positional(
            &P,
            Outcome::Transport(TransportKind::Body),
            false,
            1,
            z,
            0.0
        )));
        assert!(!retries(positional(
            &P,
            Outcome::Status(502),
            false,
            1,
            z,
            0.0
        )));
        assert!(retries(positional(
            &P,
            Outcome::Status(429),
            false,
            1,
            z,
            0.0
        )));
    }

    #[test]
    fn idempotent_calls_also_retry_timeouts_and_bare_5xx() {
        let z = Duration::ZERO;
        assert!(retries(positional(
            &P,
            Outcome::Transport(TransportKind::Timeout),
            true,
            1,
            z,
            0.0
        )));
        assert!(retries(positional(
            &P,
            Outcome::Status(502),
            true,
            1,
            z,
            0.0
        )));
        assert!(retries(positional(
            &P,
            Outcome::Api(&api(1, 500)),
            true,
            1,
            z,
            0.0
        )));
        assert!(!retries(positional(
            &P,
            Outcome::Status(404),
            true,
            1,
            z,
            0.0
        )));
        assert!(!retries(positional(
            &P,
            Outcome::Api(&api(100, 400)),
            true,
            1,
            z,
            0.0
        )));
    }

    #[test]
    fn bounded_by_attempts_elapsed_time_and_the_longest_wait() {
        let e = api(130_429, 400);
        assert_eq!(
            positional(&P, Outcome::Api(&e), false, 4, Duration::ZERO, 0.5),
            Decision::Stop
        );
        assert_eq!(
            positional(&P, Outcome::Api(&e), false, 1, Duration::from_secs(30), 0.5),
            Decision::Stop
        );
        // 80007 asks for 60 s, longer than the policy's largest wait: give up.
        assert_eq!(
            positional(
                &P,
                Outcome::Api(&api(80_007, 400)),
                false,
                1,
                Duration::ZERO,
                0.5
            ),
            Decision::Stop
        );
        // The pair limit waits at least 6 s.
        let Decision::RetryAfter(d) = positional(
            &P,
            Outcome::Api(&api(131_056, 400)),
            false,
            1,
            Duration::ZERO,
            0.5,
        ) else {
            panic!("expected a retry");
        };
        assert!(d >= Duration::from_secs(6));
        assert_eq!(ErrorCode::PairRateLimit.code(), 131_056);
    }

    #[test]
    fn retry_after_header_is_honoured() {
        let mut e = api(4, 429);
        e.retry_after = Some(Duration::from_secs(2));
        assert_eq!(
            positional(&P, Outcome::Api(&e), false, 1, Duration::ZERO, 0.0),
            Decision::RetryAfter(Duration::from_secs(2))
        );
    }

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        let p =
            RetryPolicy::default().with_backoff(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(p.backoff(1, 0.0), Duration::from_millis(50));
        assert_eq!(p.backoff(1, 1.0), Duration::from_millis(100));
        assert_eq!(p.backoff(2, 0.0), Duration::from_millis(100));
        assert_eq!(p.backoff(3, 0.0), Duration::from_millis(200));
        assert_eq!(p.backoff(30, 1.0), Duration::from_secs(1));
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
