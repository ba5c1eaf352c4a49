//! Helpers shared by the benchmarks: quick mode, same-run ratios and payloads.
// A benchmark harness reports on stdout.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

/// Whether quick mode is on (`BENCH_QUICK=1`): fewer samples, shorter runs.
pub fn quick() -> bool {
    std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Whether this is a real benchmark run (`cargo bench`), not a listing or a
/// test-mode run: the same-run ratio reports only run then.
pub fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench") && !std::env::args().any(|a| a == "--list")
}

/// A Criterion configured for the mode.
pub fn criterion() -> criterion::Criterion {
    let c = criterion::Criterion::default().configure_from_args();
    if quick() {
        c.sample_size(10)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(600))
    } else {
        c.sample_size(30)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
    }
}

/// Median nanoseconds per call of `f` over several rounds (for same-run ratios).
pub fn ns_per_iter(iters: u32, mut f: impl FnMut()) -> f64 {
    let rounds = if quick() { 5 } else { 11 };
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Prints one line of the ratio report, the figures the README quotes.
pub fn report(name: &str, ours_ns: f64, floor_ns: f64, target: f64) {
    let ratio = ours_ns / floor_ns;
    let verdict = if ratio <= target { "meets" } else { "MISSES" };
    println!(
        "RATIO {name}: ours {} vs floor {} = {ratio:.2}x (target <= {target}x: {verdict})",
        human(ours_ns),
        human(floor_ns)
    );
}

/// `1.23 µs`.
pub fn human(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// A realistic one-message webhook body of about 1 KB, in Meta's wire form.
pub fn one_message_body() -> Vec<u8> {
    batch_body(1)
}

/// A webhook body with `n` text messages from `n` customers.
pub fn batch_body(n: usize) -> Vec<u8> {
    use serde_json::json;
    use whatsapp_cloud::testkit::payloads;
    let contacts: Vec<_> = (0..n)
        .map(|i| payloads::contact(&format!("1415555{:04}", i % 10_000), "Ana Lima de Souza"))
        .collect();
    let messages: Vec<_> = (0..n)
        .map(|i| {
            json!({
                "from": format!("1415555{:04}", i % 10_000),
                "id": format!("wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQTdBQjE2RDc5QjQ2{i:06}AA=="),
                "timestamp": "1714000000",
                "type": "text",
                "text": { "body": "Hi! My order #1042 arrived broken: the box was crushed and the lamp inside doesn't turn on. I'd like a replacement or a refund, please. Order placed 04/12 — thank you 🙏 https://example.com/orders/1042" },
                "context": { "from": "15550001111", "id": "wamid.HBgLMTU1NTAwMDExMTEVAgARGBI5QTNDRTRGNTk3MDc4QkFGMjAA" }
            })
        })
        .collect();
    payloads::envelope(vec![payloads::messages_value(&contacts, &messages)]).into_bytes()
}

/// Resident memory of this process in bytes (Linux), for memory-per-key figures.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
