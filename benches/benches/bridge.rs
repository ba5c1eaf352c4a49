//! The whole bridge under API latency (issue 24): a burst of messages from
//! distinct customers through the inbox → Salesforce writer (batched) →
//! outbox → WhatsApp reply, over the real HTTP clients, against the mock org
//! and the mock Graph API answering every call after 0, 50 or 300 ms.
//! Reports messages per second (enqueue of the burst to the last reply) and
//! Salesforce calls per message. Pacing is set far above the run's rate so
//! that only latency and the bridge itself bound it.
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
use bridge_core::inbound::{Channel, InboundMessage};
use bridge_core::pipeline::Bridge;
use bridge_core::queue::{MemoryQueue, WorkerOptions};
use bridge_core::service::{BridgeService, Inbox, ServiceOptions};
use bridge_core::writer::{BatchOptions, Batching, SalesforceWriter};
use criterion::{criterion_group, criterion_main};
use salesforce_rest::testkit::MockOrg;
use whatsapp_cloud::Pacing;
use whatsapp_cloud::testkit::MockGraph;

fn message(i: usize) -> InboundMessage {
    let mut m = InboundMessage::text(
        Channel::WhatsApp,
        format!("wamid.E{i}"),
        format!("1415{:07}", 4_000_000 + i),
        if i.is_multiple_of(2) {
            "my order arrived broken"
        } else {
            "I'd like a quote"
        },
    );
    m.sent_at = Some(chrono::Utc::now());
    m
}

/// Messages per second and Salesforce calls per message for `n` messages.
async fn run(n: usize, latency: Duration) -> (f64, f64) {
    let (org, graph) = (MockOrg::start().await, MockGraph::start().await);
    org.set_latency(latency);
    graph.set_latency(latency);
    let whatsapp = graph
        .client_builder()
        .pacing(
            Pacing::default()
                .messages_per_second(100_000.0)
                .per_recipient(100, Duration::from_millis(1)),
        )
        .build()
        .unwrap();
    let writer = Batching::new(SalesforceWriter::new(org.client()), BatchOptions::default());
    let bridge = Bridge::builder(Arc::new(writer))
        .sender(Arc::new(whatsapp))
        .build();
    let inbox = Arc::new(MemoryQueue::new("inbox").unwrap());
    let outbox = Arc::new(MemoryQueue::new("outbox").unwrap());
    let workers = WorkerOptions::default()
        .concurrency(256)
        .idle_poll(Duration::from_millis(5));
    let mut options = ServiceOptions::default();
    options.inbox = workers.clone();
    options.outbox = workers;
    options.ledger = Some(Arc::new(MemoryQueue::new("ledger").unwrap()));
    let early = Inbox::new(inbox.clone(), Arc::new(SystemClock), None);
    let t = Instant::now();
    for i in 0..n {
        early.enqueue_message(&message(i)).await.unwrap();
    }
    let svc = BridgeService::start_with(bridge, inbox, outbox, options, Arc::new(SystemClock));
    // The burst is done when the inbox and the outbox are empty: every
    // message written and answered (the ledger queue trails by its linger).
    loop {
        let (i, o) = (
            svc.inbox().stats().await.unwrap(),
            svc.outbox().stats().await.unwrap(),
        );
        if i.depth + i.in_flight + o.depth + o.in_flight == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    assert!(svc.drain(Duration::from_secs(600)).await);
    assert_eq!(org.records("Case").len() + org.records("Lead").len(), n);
    assert_eq!(
        graph.message_requests().await.len(),
        n,
        "every message answered"
    );
    svc.shutdown().await;
    (rate, org.api_calls() as f64 / n as f64)
}

fn bridge(c: &mut criterion::Criterion) {
    // Criterion needs a measured function; the figures below are the point.
    c.bench_function("bridge: ledger key of a message id", |b| {
        b.iter(|| {
            bridge_core::ledger::ledger_key(
                "wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzRUIwNUE2QjUxQjQ0RjQwNzVBQQA=",
            )
        });
    });
    if !measuring() {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let n = if quick() { 1_000 } else { 2_000 };
    for ms in [0, 50, 300] {
        let (rate, calls) = rt.block_on(run(n, Duration::from_millis(ms)));
        println!(
            "RATIO whole bridge, burst of {n} (half Cases, half new Leads), {ms} ms per API call: {rate:.0} messages/s, {calls:.3} Salesforce calls per message"
        );
    }
}

criterion_group! { name = benches; config = criterion(); targets = bridge }
criterion_main!(benches);
