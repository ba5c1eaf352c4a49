//! Helpers both SDK crates need, kept byte-identical in `whatsapp-cloud` and
//! `salesforce-rest` (`src/shared.rs`; `.ci/run` fails when the copies
//! differ). Plain standard library only, so the file builds in either crate
//! with any feature set.

#![allow(dead_code)]

use std::fmt;

/// The underlying error of a transport failure (the HTTP client's, an I/O
/// error), kept as the error's `source()` so the chain is not lost.
pub type TransportSource = std::sync::Arc<dyn std::error::Error + Send + Sync>;

/// What kind of transport failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The connection never opened: nothing reached the server.
    Connect,
    /// The request timed out; it may or may not have reached the server.
    Timeout,
    /// The body could not be read or written.
    Body,
    /// Anything else.
    Other,
}

impl TransportKind {
    /// Classifies a failed request from what the HTTP client reports.
    pub(crate) fn classify(connect: bool, timeout: bool, body: bool) -> Self {
        if connect {
            TransportKind::Connect
        } else if timeout {
            TransportKind::Timeout
        } else if body {
            TransportKind::Body
        } else {
            TransportKind::Other
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "connect",
            TransportKind::Timeout => "timeout",
            TransportKind::Body => "body",
            TransportKind::Other => "other",
        })
    }
}

/// Whether a URL host is loopback (`localhost`, 127.0.0.0/8, `::1`), the only
/// hosts plain `http` is accepted for without an explicit opt-in.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A short, redacted excerpt of a response body, for error messages: HTML
/// tags dropped and whitespace folded first (so an HTML error page keeps its
/// message), every digit as `#` (phone numbers, ids) and any word of 20
/// characters or more (tokens, signed URLs) as `[…]`, then cut to at most
/// `max` bytes on a character boundary. Only the first 64 KiB are read.
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    const SCAN: usize = 64 * 1024;
    let raw = String::from_utf8_lossy(body.get(..body.len().min(SCAN)).unwrap_or(body));
    // Style sheets and scripts are not the message: drop their contents.
    let lower = raw.to_ascii_lowercase();
    let mut text = String::with_capacity(raw.len());
    let mut at = 0;
    while let Some(start) = ["<style", "<script"]
        .iter()
        .filter_map(|t| lower.get(at..)?.find(t).map(|i| (at + i, *t)))
        .min()
    {
        text.push_str(raw.get(at..start.0).unwrap_or_default());
        let close = if start.1 == "<style" {
            "</style>"
        } else {
            "</script>"
        };
        at = lower
            .get(start.0..)
            .and_then(|r| r.find(close))
            .map_or(raw.len(), |i| start.0 + i + close.len());
    }
    text.push_str(raw.get(at..).unwrap_or_default());
    let mut plain = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => {
                in_tag = true;
                plain.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let mut out = String::with_capacity(max.min(plain.len()) + 4);
    let mut cut = body.len() > SCAN;
    for word in plain.split_whitespace() {
        if out.len() > max {
            cut = true;
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        if word.chars().count() >= 20 {
            out.push_str("[…]");
        } else {
            out.extend(
                word.chars()
                    .map(|c| if c.is_ascii_digit() { '#' } else { c }),
            );
        }
    }
    if out.len() > max {
        let mut end = max;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        cut = true;
    }
    if cut {
        out.push('…');
    }
    out
}

/// The wait before retry `attempt` (1 after the first failure): the initial
/// backoff doubled once per earlier retry (at most `max_doublings` times),
/// capped at `max`, then jittered into its upper half (`jitter` in `[0, 1)`).
pub(crate) fn jittered_backoff(
    initial: std::time::Duration,
    max: std::time::Duration,
    attempt: u32,
    max_doublings: u32,
    jitter: f64,
) -> std::time::Duration {
    let exp = attempt.saturating_sub(1).min(max_doublings);
    let step = initial.saturating_mul(1u32 << exp).min(max);
    let half = step / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// A random number in `[0, 1)` for retry jitter, from the standard library's
/// randomly keyed hasher (no RNG dependency).
pub(crate) fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Wait this long, then try again.
    RetryAfter(std::time::Duration),
    /// Give up and return the error.
    Stop,
}

/// Everything [`decide`](crate::retry::decide) looks at after a failed
/// attempt: `F` is what the attempt ended with (an `Outcome` in
/// `whatsapp-cloud`, an `&Error` in `salesforce-rest`). `#[non_exhaustive]`:
/// build it with [`RetryState::new`] and the `with_*` setters, so a new input
/// is not a breaking change. `bridge_core::queue::RetryState` has the same
/// shape for jobs.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RetryState<F> {
    /// What the attempt ended with.
    pub failure: F,
    /// The attempts made so far (1 after the first).
    pub attempt: u32,
    /// Whether repeating the call is harmless (a read, a delete, an upsert;
    /// not a WhatsApp send nor a Salesforce create).
    pub idempotent: bool,
    /// The time spent since the call started.
    pub elapsed: std::time::Duration,
    /// How long the server asked to wait (`Retry-After`), when it did: the
    /// wait is at least that long.
    pub retry_after: Option<std::time::Duration>,
    /// A random number in `[0, 1)` for the backoff's jitter.
    pub jitter: f64,
}

impl<F> RetryState<F> {
    /// Attempt number `attempt` (1 for the first) ended in `failure`: not
    /// idempotent, no time spent, no `Retry-After`, jitter 0.5.
    pub fn new(failure: F, attempt: u32) -> Self {
        Self {
            failure,
            attempt,
            idempotent: false,
            elapsed: std::time::Duration::ZERO,
            retry_after: None,
            jitter: 0.5,
        }
    }

    /// Sets whether repeating the call is harmless.
    #[must_use]
    pub fn with_idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Sets the time spent since the call started.
    #[must_use]
    pub fn with_elapsed(mut self, elapsed: std::time::Duration) -> Self {
        self.elapsed = elapsed;
        self
    }

    /// Sets the server's `Retry-After`.
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Option<std::time::Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// Sets the jitter, a number in `[0, 1)`.
    #[must_use]
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.8.9.1",
            "[::1]",
            "::1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "10.0.0.1",
            "localhost.example.com",
            "[::2]",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn excerpts_mask_digits_and_tokens() {
        let body = "<html><b>Call</b> +1 415 555 0123 token=abcdefghijklmnopqrstuvwxyz</html>";
        assert_eq!(excerpt(body.as_bytes(), 500), "Call +# ### ### #### […]");
        assert_eq!(excerpt("héllo wörld".as_bytes(), 3), "hé…");
        assert_eq!(
            excerpt("héllo wörld".as_bytes(), 2),
            "h…",
            "never inside a character"
        );
        // Tags are stripped before the cut: the message of an HTML page stays.
        let page = format!(
            "<!DOCTYPE html><html><head><style>{}</style><script>var x = 1;</script></head><body><h1>This instance is down for scheduled maintenance</h1></body></html>",
            "body { margin: 0 } ".repeat(20)
        );
        assert_eq!(
            excerpt(page.as_bytes(), 120),
            "This instance is down for scheduled maintenance"
        );
    }

    #[test]
    fn jitter_is_in_range_and_varies() {
        let values: Vec<f64> = (0..64).map(|_| jitter()).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        assert!(values.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn transport_kinds() {
        assert_eq!(
            TransportKind::classify(true, true, true),
            TransportKind::Connect
        );
        assert_eq!(
            TransportKind::classify(false, true, false),
            TransportKind::Timeout
        );
        assert_eq!(
            TransportKind::classify(false, false, true),
            TransportKind::Body
        );
        assert_eq!(
            TransportKind::classify(false, false, false).to_string(),
            "other"
        );
    }
}
