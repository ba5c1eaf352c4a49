//! Retry decisions, as pure functions: how many attempts, how long to wait,
//! which failures a retry can fix. The same shape as `whatsapp_cloud::retry`:
//! a [`RetryPolicy`], a [`Decision`] and [`decide`].

use std::time::Duration;

use crate::error::{Error, TransportKind};

/// How many times and how long to retry idempotent calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Total attempts, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The first backoff.
    pub initial_backoff: Duration,
    /// The largest single wait.
    pub max_backoff: Duration,
    /// Retry creates (POST) on transient failures too. Off by default: a
    /// create whose answer was lost may have been committed, and a retry then
    /// makes a duplicate (upsert on an external ID instead).
    pub retry_creates: bool,
    /// The longest time a call may spend in retries, waits included (no
    /// retry starts that would end after it). Default 30 s.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, 250 ms doubling to at most 5 s.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            retry_creates: false,
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

    /// Sets the attempts and backoff bounds.
    pub fn new(max_attempts: u32, initial_backoff: Duration, max_backoff: Duration) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            initial_backoff,
            max_backoff: max_backoff.max(initial_backoff),
            retry_creates: false,
            max_elapsed: Duration::from_secs(30),
        }
    }

    /// Sets the attempt count (the first included).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the total time budget of a call's retries.
    pub fn with_max_elapsed(mut self, budget: Duration) -> Self {
        self.max_elapsed = budget;
        self
    }

    /// Opts creates into retries (see [`RetryPolicy::retry_creates`]).
    pub fn with_retry_creates(mut self, on: bool) -> Self {
        self.retry_creates = on;
        self
    }

    /// Sets the backoff bounds.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// The exponential backoff before attempt `attempt + 1`, with jitter in
    /// `[0, 1)`: half the step is fixed, half is random ("equal jitter").
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        crate::shared::jittered_backoff(self.initial_backoff, self.max_backoff, attempt, 16, jitter)
    }

    /// Whether `error` is worth another attempt under this policy (before
    /// counts and time): connect errors always; for idempotent calls (or
    /// creates with [`retry_creates`](Self::retry_creates)) the transient
    /// failures.
    fn retries(&self, error: &Error, idempotent: bool) -> bool {
        match error {
            Error::Transport {
                kind: TransportKind::Connect,
                ..
            } => true,
            _ if !idempotent && !self.retry_creates => false,
            e => e.is_retryable() || e.http_status().is_some_and(|s| s >= 500),
        }
    }
}

pub use crate::shared::{Decision, RetryState};

/// Decides whether to retry. Pure: same inputs, same answer.
///
/// Only idempotent calls (GET, PATCH update, upsert, DELETE) are retried, and
/// only on transient failures: `UNABLE_TO_LOCK_ROW`, `SERVER_UNAVAILABLE`,
/// concurrent `REQUEST_LIMIT_EXCEEDED`, any 5xx (as Salesforce's guidance
/// says) and HTML maintenance pages, connect errors and timeouts. A create
/// (POST) is retried only when its connection never opened, unless
/// [`RetryPolicy::retry_creates`] is on. The wait honours the server's
/// `Retry-After`; no retry starts that would end after
/// [`RetryPolicy::max_elapsed`].
///
/// ```
/// use std::time::Duration;
/// use salesforce_rest::retry::{decide, Decision, RetryPolicy, RetryState};
/// use salesforce_rest::{Error, TransportKind};
///
/// let policy = RetryPolicy::default();
/// let refused = Error::Transport { kind: TransportKind::Connect, message: "refused".into(), source: None };
/// assert!(matches!(decide(&policy, &RetryState::new(&refused, 1)), Decision::RetryAfter(_)));
/// assert_eq!(decide(&policy, &RetryState::new(&refused, 3)), Decision::Stop);
/// ```
pub fn decide(policy: &RetryPolicy, state: &RetryState<&Error>) -> Decision {
    let RetryState {
        failure,
        attempt,
        idempotent,
        elapsed,
        retry_after,
        jitter,
    } = *state;
    if attempt >= policy.max_attempts || !policy.retries(failure, idempotent) {
        return Decision::Stop;
    }
    let wait = policy.backoff(attempt, jitter);
    let wait = retry_after.map_or(wait, |ra| wait.max(ra));
    if elapsed.saturating_add(wait) > policy.max_elapsed {
        return Decision::Stop;
    }
    Decision::RetryAfter(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wait [`decide`] chooses, `None` for a stop.
    fn wait(
        p: &RetryPolicy,
        e: &Error,
        idempotent: bool,
        attempt: u32,
        jitter: f64,
    ) -> Option<Duration> {
        wait_within(p, e, idempotent, attempt, jitter, None, Duration::ZERO)
    }

    /// [`wait`] with a `Retry-After` and the time spent so far.
    fn wait_within(
        p: &RetryPolicy,
        e: &Error,
        idempotent: bool,
        attempt: u32,
        jitter: f64,
        retry_after: Option<Duration>,
        elapsed: Duration,
    ) -> Option<Duration> {
        let state = RetryState::new(e, attempt)
            .with_idempotent(idempotent)
            .with_jitter(jitter)
            .with_retry_after(retry_after)
            .with_elapsed(elapsed);
        match decide(p, &state) {
            Decision::RetryAfter(wait) => Some(wait),
            _ => None,
        }
    }
    use crate::error::ApiError;
    use crate::shared::jitter;

    fn api(code: &str, status: u16, msg: &str) -> Error {
        let body = format!(r#"[{{"message":"{msg}","errorCode":"{code}"}}]"#);
        ApiError::from_body(status, body.as_bytes()).unwrap().into()
    }

    #[test]
    fn retries_transient_failures_of_idempotent_calls_only() {
        let p = RetryPolicy::default();
        let transient = [
            api("UNABLE_TO_LOCK_ROW", 400, "locked"),
            api("SERVER_UNAVAILABLE", 503, "down"),
            api(
                "REQUEST_LIMIT_EXCEEDED",
                403,
                "ConcurrentPerOrgLongTxn Limit exceeded.",
            ),
            Error::unexpected(503, "html", b"<html>maintenance</html>"),
            Error::Transport {
                kind: TransportKind::Timeout,
                message: String::new(),
                source: None,
            },
        ];
        for e in &transient {
            assert!(wait(&p, e, true, 1, 0.5).is_some(), "{e}");
            assert!(
                wait(&p, e, false, 1, 0.5).is_none(),
                "creates are not retried: {e}"
            );
        }
        let permanent = [
            api(
                "REQUEST_LIMIT_EXCEEDED",
                403,
                "TotalRequests Limit exceeded.",
            ),
            api("API_DISABLED_FOR_ORG", 403, "x"),
            api("REQUIRED_FIELD_MISSING", 400, "x"),
            api("INVALID_SESSION_ID", 401, "x"),
        ];
        for e in &permanent {
            assert!(wait(&p, e, true, 1, 0.5).is_none(), "{e}");
        }
        // Any 5xx of an idempotent call is retried (Salesforce's guidance);
        // a create is not, unless the caller opts in.
        for e in [
            Error::unexpected(500, "x", b""),
            api("UNKNOWN_EXCEPTION", 500, "x"),
        ] {
            assert!(wait(&p, &e, true, 1, 0.5).is_some(), "{e}");
            assert!(wait(&p, &e, false, 1, 0.5).is_none(), "{e}");
            assert!(
                wait(&p.with_retry_creates(true), &e, false, 1, 0.5).is_some(),
                "{e}"
            );
        }
        // Retry-After is honoured, and the time budget bounds everything.
        let busy = Error::unexpected(503, "x", b"");
        let budget = p.with_max_elapsed(Duration::from_secs(10));
        assert_eq!(
            wait_within(
                &budget,
                &busy,
                true,
                1,
                0.5,
                Some(Duration::from_secs(4)),
                Duration::ZERO
            ),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            wait_within(
                &budget,
                &busy,
                true,
                1,
                0.5,
                Some(Duration::from_secs(4)),
                Duration::from_secs(7)
            ),
            None,
            "the wait would end after the budget"
        );
        let connect = Error::Transport {
            kind: TransportKind::Connect,
            message: String::new(),
            source: None,
        };
        assert!(
            wait(&p, &connect, false, 1, 0.5).is_some(),
            "nothing was sent"
        );
        assert!(wait(&p, &connect, true, 3, 0.5).is_none(), "bounded");
    }

    #[test]
    fn backoff_is_exponential_with_jitter() {
        let p = RetryPolicy::new(10, Duration::from_millis(100), Duration::from_millis(400));
        let e = api("UNABLE_TO_LOCK_ROW", 400, "x");
        assert_eq!(wait(&p, &e, true, 1, 0.0), Some(Duration::from_millis(50)));
        assert_eq!(wait(&p, &e, true, 2, 1.0), Some(Duration::from_millis(200)));
        assert_eq!(wait(&p, &e, true, 9, 1.0), Some(Duration::from_millis(400)));
        assert!((0..50).map(|_| jitter()).all(|j| (0.0..1.0).contains(&j)));
    }
}
