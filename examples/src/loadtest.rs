//! A load test for a running bridge: signed webhooks, as Meta sends them,
//! at a rate, with the acknowledgement latency they got.
//!
//! Run it before a campaign against a bridge on a test setup (the `loadtest`
//! example is the command line). Each webhook carries one text message from
//! a different customer, all in the range of numbers reserved for fiction
//! (`+1 NXX 555-01XX`), so the bridge's replies can never reach a person;
//! only loopback targets are accepted unless asked.
//!
//! ```no_run
//! # async fn demo() -> Result<(), examples::BoxError> {
//! use examples::loadtest::{LoadOptions, run};
//! let report = run(LoadOptions::new("http://127.0.0.1:3000/webhook", "app-secret")
//!     .messages(1_000)
//!     .rate(200.0))
//! .await?;
//! println!("{report}");
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use whatsapp_cloud::testkit::payloads;
use whatsapp_cloud::webhooks::WebhookConfig;

use crate::BoxError;

/// What to send, where, and how fast.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadOptions {
    /// The bridge's webhook URL (`http://127.0.0.1:3000/webhook`).
    pub url: String,
    /// The app secret the bridge checks signatures with.
    pub secret: SecretString,
    /// How many webhooks (one message each, from as many customers).
    pub messages: usize,
    /// Webhooks started per second; `None`: as fast as `concurrency` allows.
    pub rate: Option<f64>,
    /// Webhooks awaiting their answer at once (Meta keeps a handful per
    /// number in flight).
    pub concurrency: usize,
    /// The text of every message (the default opens a Case).
    pub text: String,
    /// Accept a target that is not on this machine.
    pub allow_remote: bool,
}

impl LoadOptions {
    /// 100 webhooks, 16 in flight, as fast as they are answered.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            secret: SecretString::from(secret.into()),
            messages: 100,
            rate: None,
            concurrency: 16,
            text: "my order arrived broken".to_owned(),
            allow_remote: false,
        }
    }

    /// Sets how many webhooks are sent.
    pub fn messages(mut self, n: usize) -> Self {
        self.messages = n;
        self
    }

    /// Sets the rate, webhooks per second (0 or less: unpaced).
    pub fn rate(mut self, per_second: f64) -> Self {
        self.rate = (per_second > 0.0).then_some(per_second);
        self
    }

    /// Sets how many webhooks await their answer at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets the message text.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = text.into();
        self
    }

    /// Accepts a target that is not on this machine.
    pub fn allow_remote(mut self, yes: bool) -> Self {
        self.allow_remote = yes;
        self
    }
}

/// What the bridge answered, and how fast.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoadReport {
    /// Webhooks sent.
    pub sent: usize,
    /// Answers by HTTP status.
    pub answers: BTreeMap<u16, usize>,
    /// Webhooks that got no answer (connection refused, reset, timeout).
    pub unanswered: usize,
    /// From the first webhook to the last answer.
    pub elapsed: Duration,
    /// The answered webhooks' latencies, shortest first.
    pub latencies: Vec<Duration>,
}

impl LoadReport {
    /// The latency below which `p` (0 to 1) of the answers came.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        percentile(&self.latencies, p)
    }

    /// Answered webhooks per second.
    pub fn per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.latencies.len() as f64 / secs
        } else {
            0.0
        }
    }

    /// How many were answered 200 (acknowledged: Meta would not redeliver).
    pub fn acknowledged(&self) -> usize {
        self.answers.get(&200).copied().unwrap_or(0)
    }
}

/// The value below which `p` of the sorted `values` fall (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .copied()
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".to_owned(),
        |d| format!("{:.1} ms", d.as_secs_f64() * 1e3),
    )
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} webhooks in {:.2} s: {:.0} answered per second",
            self.sent,
            self.elapsed.as_secs_f64(),
            self.per_second()
        )?;
        let answers: Vec<String> = self
            .answers
            .iter()
            .map(|(status, n)| format!("{status}: {n}"))
            .collect();
        writeln!(
            f,
            "answers: {}; unanswered: {}",
            if answers.is_empty() {
                "none".to_owned()
            } else {
                answers.join(", ")
            },
            self.unanswered
        )?;
        write!(
            f,
            "acknowledgement latency: p50 {}, p90 {}, p99 {}, max {}",
            ms(self.percentile(0.5)),
            ms(self.percentile(0.9)),
            ms(self.percentile(0.99)),
            ms(self.latencies.last().copied())
        )
    }
}

/// The `i`-th customer's number: `+1 (2NN) 555-01XX`, the range of US
/// numbers reserved for fiction (10,000 distinct ones, then they repeat).
pub fn customer_number(i: usize) -> String {
    let i = i % 10_000;
    format!("1{}55501{:02}", 200 + i / 100, i % 100)
}

/// Refuses a URL that is not http(s), or not on this machine unless
/// `allow_remote`.
pub fn check_target(url: &str, allow_remote: bool) -> Result<reqwest::Url, BoxError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        format!("--url {url:?} is not a URL ({e}); e.g. http://127.0.0.1:3000/webhook")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("--url must be http or https, got {:?}", parsed.scheme()).into());
    }
    let host = parsed.host_str().unwrap_or_default();
    let local = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !local && !allow_remote {
        return Err(format!(
            "{} is not on this machine: a load test writes records and sends replies \
             through the bridge it targets; pass --allow-remote if that bridge is a test setup",
            parsed.host_str().unwrap_or("the target")
        )
        .into());
    }
    Ok(parsed)
}

/// Sends the webhooks and collects the answers.
///
/// # Errors
///
/// A target refused by [`check_target`], or an HTTP client that cannot be
/// built. Webhooks that fail are counted in the report, not errors.
pub async fn run(options: LoadOptions) -> Result<LoadReport, BoxError> {
    let url = check_target(&options.url, options.allow_remote)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(options.concurrency)
        .build()?;
    let config = WebhookConfig::new(&SecretString::from(
        options.secret.expose_secret().to_owned(),
    ));
    // Ids unique to this run, so a second run is not deduplicated away.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let slots = Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1)));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..options.messages {
        if let Some(rate) = options.rate {
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let permit = slots.clone().acquire_owned().await?;
        let from = customer_number(i);
        let body = payloads::text_message(
            &from,
            "Load Test",
            &format!("wamid.LOADTEST.{run}.{i}"),
            &options.text,
        );
        let signature = config.sign(body.as_bytes());
        let (http, url) = (http.clone(), url.clone());
        tasks.spawn(async move {
            let sent = Instant::now();
            let answer = http
                .post(url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", signature)
                .body(body)
                .send()
                .await;
            drop(permit);
            answer.ok().map(|r| (r.status().as_u16(), sent.elapsed()))
        });
    }
    let mut report = LoadReport {
        sent: options.messages,
        ..LoadReport::default()
    };
    while let Some(done) = tasks.join_next().await {
        match done.ok().flatten() {
            Some((status, latency)) => {
                *report.answers.entry(status).or_default() += 1;
                report.latencies.push(latency);
            }
            None => report.unanswered += 1,
        }
    }
    report.elapsed = start.elapsed();
    report.latencies.sort();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&v, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&v, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&v, 0.0), Some(Duration::from_millis(1)));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn customers_are_fictional_and_distinct() {
        let numbers: std::collections::HashSet<String> = (0..10_000).map(customer_number).collect();
        assert_eq!(numbers.len(), 10_000);
        for n in &numbers {
            assert_eq!(n.len(), 11, "{n}");
            assert_eq!(&n[4..9], "55501", "{n}");
        }
    }

    #[test]
    fn only_this_machine_unless_asked() {
        assert!(check_target("http://127.0.0.1:3000/webhook", false).is_ok());
        assert!(check_target("http://localhost:3000/webhook", false).is_ok());
        assert!(check_target("http://[::1]:3000/webhook", false).is_ok());
        let e = check_target("https://bridge.example.com/webhook", false).unwrap_err();
        assert!(e.to_string().contains("--allow-remote"), "{e}");
        assert!(check_target("https://bridge.example.com/webhook", true).is_ok());
        assert!(check_target("ftp://127.0.0.1/x", true).is_err());
        assert!(check_target("not a url", true).is_err());
    }

    #[test]
    fn the_report_reads_like_a_summary() {
        let mut r = LoadReport {
            sent: 3,
            elapsed: Duration::from_secs(1),
            latencies: vec![Duration::from_millis(2), Duration::from_millis(4)],
            unanswered: 1,
            ..LoadReport::default()
        };
        r.answers.insert(200, 2);
        let text = r.to_string();
        assert!(
            text.contains("3 webhooks in 1.00 s: 2 answered per second"),
            "{text}"
        );
        assert!(text.contains("200: 2; unanswered: 1"), "{text}");
        assert!(text.contains("p50 2.0 ms"), "{text}");
        assert!(text.contains("max 4.0 ms"), "{text}");
        assert_eq!(r.acknowledged(), 2);
    }
}
