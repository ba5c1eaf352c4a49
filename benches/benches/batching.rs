//! The org's API allowance: messages per second end to end through the bridge
//! (inbox -> Salesforce writer -> outbox -> reply) against a mock org that
//! takes 50 ms per call, with batching on and off, and the Salesforce calls
//! each message cost. Criterion measures the client-side cost of a batch of
//! 200 Cases written through `write_batch` against 200 single writes (an
//! instant mock org).
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::{criterion, measuring, quick};
use bridge_core::clock::SystemClock;
use bridge_core::embedded::MemoryQueue;
use bridge_core::inbound::{Channel, CustomerMessage};
use bridge_core::mapping::{DefaultMapper, Mapper};
use bridge_core::pipeline::Bridge;
use bridge_core::queue::WorkerOptions;
use bridge_core::sender::RecordingSender;
use bridge_core::service::{BridgeService, Inbox};
use bridge_core::writer::{BatchOptions, Batching, RecordWriter, SalesforceWriter};
use criterion::{criterion_group, criterion_main};
use salesforce_rest::testkit::MockOrg;

fn message(i: usize) -> CustomerMessage {
    let text = if i.is_multiple_of(2) {
        "my order arrived broken"
    } else {
        "I'd like a quote"
    };
    let mut m = CustomerMessage::text(
        Channel::WhatsApp,
        format!("wamid.B{i}"),
        format!("1415{:07}", 2_000_000 + i),
        text,
    );
    m.sent_at = Some(chrono::Utc::now());
    m
}

/// Messages per second and calls per message for a burst of `n` messages.
async fn burst(n: usize, batching: bool) -> (f64, f64) {
    let org = MockOrg::start().await;
    org.set_latency(Duration::from_millis(50));
    let sf = SalesforceWriter::new(org.client());
    let writer: Arc<dyn RecordWriter> = if batching {
        Arc::new(Batching::new(sf, BatchOptions::default()))
    } else {
        Arc::new(sf)
    };
    let bridge = Bridge::builder(writer)
        .sender(Arc::new(RecordingSender::new("WhatsApp")))
        .build();
    let inbox = Arc::new(MemoryQueue::new("inbox").unwrap());
    let outbox = Arc::new(MemoryQueue::new("outbox").unwrap());
    let early = Inbox::new(inbox.clone(), Arc::new(SystemClock), None);
    for i in 0..n {
        early.enqueue_message(&message(i)).await.unwrap();
    }
    let t = Instant::now();
    let svc = BridgeService::start(
        bridge,
        inbox,
        outbox,
        WorkerOptions::default()
            .concurrency(256)
            .idle_poll(Duration::from_millis(5)),
        Arc::new(SystemClock),
    );
    assert!(svc.drain(Duration::from_secs(600)).await);
    let rate = n as f64 / t.elapsed().as_secs_f64();
    assert_eq!(org.records("Case").len() + org.records("Lead").len(), n);
    svc.shutdown().await;
    (rate, org.api_calls() as f64 / n as f64)
}

/// Messages per second and calls per message for a burst of `n` second
/// messages of customers who already have their Lead (the path that used to
/// read, merge and conditionally update the Lead, one call each).
async fn returning_burst(n: usize) -> (f64, f64) {
    let org = MockOrg::start().await;
    let start = |org: &MockOrg| {
        let writer = Arc::new(Batching::new(
            SalesforceWriter::new(org.client()),
            BatchOptions::default(),
        ));
        let bridge = Bridge::builder(writer)
            .sender(Arc::new(RecordingSender::new("WhatsApp")))
            .build();
        let inbox = Arc::new(MemoryQueue::new("inbox").unwrap());
        let outbox = Arc::new(MemoryQueue::new("outbox").unwrap());
        (inbox, outbox, bridge)
    };
    let sales = |i: usize, round: &str| {
        let mut m = CustomerMessage::text(
            Channel::WhatsApp,
            format!("wamid.{round}{i}"),
            format!("1415{:07}", 3_000_000 + i),
            "I'd like a quote for 20 more",
        );
        m.sent_at = Some(chrono::Utc::now());
        m
    };
    let workers = || {
        WorkerOptions::default()
            .concurrency(256)
            .idle_poll(Duration::from_millis(5))
    };
    // The first messages (not measured): every customer gets a Lead.
    let (inbox, outbox, bridge) = start(&org);
    let svc = BridgeService::start(bridge, inbox, outbox, workers(), Arc::new(SystemClock));
    for i in 0..n {
        svc.inbox().enqueue_message(&sales(i, "F")).await.unwrap();
    }
    assert!(svc.drain(Duration::from_secs(600)).await);
    svc.shutdown().await;
    // The measured burst: every customer writes again, through the same org
    // (the process is new: it remembers nothing).
    org.set_latency(Duration::from_millis(50));
    let (inbox, outbox, bridge) = start(&org);
    let early = Inbox::new(inbox.clone(), Arc::new(SystemClock), None);
    for i in 0..n {
        early.enqueue_message(&sales(i, "R")).await.unwrap();
    }
    let calls = org.api_calls();
    let t = Instant::now();
    let svc = BridgeService::start(bridge, inbox, outbox, workers(), Arc::new(SystemClock));
    assert!(svc.drain(Duration::from_secs(600)).await);
    let rate = n as f64 / t.elapsed().as_secs_f64();
    assert_eq!(org.records("Lead").len(), n);
    svc.shutdown().await;
    (rate, (org.api_calls() - calls) as f64 / n as f64)
}

fn batching(c: &mut criterion::Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let org = rt.block_on(MockOrg::start());
    let writer = SalesforceWriter::new(org.client());
    let mapper = DefaultMapper::default();
    let mut counter = 0usize;
    let mut next_batch = |size: usize| {
        let items: Vec<_> = (0..size)
            .map(|_| {
                counter += 1;
                let mut m = message(counter);
                m.content =
                    bridge_core::inbound::CustomerContent::Text("my order arrived broken".into());
                m
            })
            .collect();
        rt.block_on(async {
            let mut out = Vec::new();
            for m in items {
                out.push((mapper.map(&m).await.unwrap(), m));
            }
            out
        })
    };
    let mut group = c.benchmark_group("salesforce writer, 200 Cases (instant mock org)");
    group.bench_function("write_batch: one call", |b| {
        b.iter_batched(
            || next_batch(200),
            |items| rt.block_on(writer.write_batch(&items)),
            criterion::BatchSize::PerIteration,
        );
    });
    group.bench_function("200 single writes", |b| {
        b.iter_batched(
            || next_batch(200),
            |items| {
                rt.block_on(async {
                    for (a, m) in &items {
                        writer.write(a, m).await.unwrap();
                    }
                });
            },
            criterion::BatchSize::PerIteration,
        );
    });
    group.finish();
    if !measuring() {
        return;
    }
    let n = if quick() { 400 } else { 2_000 };
    for on in [false, true] {
        let (rate, calls) = rt.block_on(burst(n, on));
        println!(
            "RATIO bridge burst of {n} (half Cases, half new Leads), 50 ms per Salesforce call, batching {}: {rate:.0} messages/s, {calls:.3} Salesforce calls per message",
            if on { "on" } else { "off" }
        );
    }
    let (rate, calls) = rt.block_on(returning_burst(n));
    println!(
        "RATIO bridge burst of {n} returning customers (their Leads exist), 50 ms per Salesforce call, batching on: {rate:.0} messages/s, {calls:.3} Salesforce calls per message"
    );
}

criterion_group! { name = benches; config = criterion(); targets = batching }
criterion_main!(benches);
