//! The whole bridge under API latency (issue 24): a burst of messages from
//! distinct customers through the inbox → Salesforce writer (batched) →
//! outbox → WhatsApp reply, over the real HTTP clients, against the mock org
//! and the mock Graph API answering every call after 0, 50 or 300 ms.
//! Reports messages per second (enqueue of the burst to the last reply),
//! p50/p99 end-to-end latency (enqueue to reply sent) and Salesforce calls
//! per message. Pacing is set far above the run's rate so
//! that only latency and the bridge itself bound it.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Notify;

use benches::{criterion, measuring, quick};
use bridge_core::clock::SystemClock;
use bridge_core::embedded::MemoryQueue;
use bridge_core::inbound::{Channel, CustomerMessage};
use bridge_core::pipeline::Bridge;
use bridge_core::queue::WorkerOptions;
use bridge_core::sender::{ChannelSender, Outbound, SendError, SendReceipt};
use bridge_core::service::{BridgeService, Inbox, ServiceOptions};
use bridge_core::writer::{BatchOptions, Batching, SalesforceWriter};
use criterion::{criterion_group, criterion_main};
use salesforce_rest::testkit::MockOrg;
use whatsapp_cloud::Pacing;
use whatsapp_cloud::testkit::MockGraph;

fn message(i: usize) -> CustomerMessage {
    let mut m = CustomerMessage::text(
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

/// A sender that notes when each reply has been sent.
struct Timed<S> {
    inner: S,
    done: Mutex<Vec<Instant>>,
    sent: Notify,
}

#[async_trait]
impl<S: ChannelSender> ChannelSender for Timed<S> {
    fn channel(&self) -> Channel {
        self.inner.channel()
    }

    async fn send(&self, to: &str, message: &Outbound) -> Result<SendReceipt, SendError> {
        let receipt = self.inner.send(to, message).await;
        if receipt.is_ok() {
            self.done.lock().unwrap().push(Instant::now());
            self.sent.notify_waiters();
        }
        receipt
    }
}

/// What one burst measured.
struct Figures {
    rate: f64,
    p50: Duration,
    p99: Duration,
    calls: f64,
}

/// The mocks, the timed sender and a bridge over them, every API call
/// answered after `latency`; the workers wake on enqueue and otherwise look
/// for work every `idle_poll`.
async fn parts(
    latency: Duration,
    idle_poll: Duration,
) -> (
    MockOrg,
    MockGraph,
    Arc<Timed<whatsapp_cloud::Client>>,
    Bridge,
    ServiceOptions,
) {
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
    let sender = Arc::new(Timed {
        inner: whatsapp,
        done: Mutex::new(Vec::new()),
        sent: Notify::new(),
    });
    let bridge = Bridge::builder(Arc::new(writer))
        .sender(sender.clone())
        .build();
    let workers = WorkerOptions::default()
        .concurrency(1024)
        .idle_poll(idle_poll);
    let mut options = ServiceOptions::default();
    options.inbox = workers.clone();
    options.outbox = workers;
    options.ledger = Some(Arc::new(MemoryQueue::new("ledger").unwrap()));
    (org, graph, sender, bridge, options)
}

/// The internal chain's latency (issue 24, item 4): messages one at a time
/// at 0 ms per API call, each through inbox → write → outbox → reply before
/// the next is enqueued. The workers' idle poll is 1 s, so anything above a
/// few milliseconds would be a missed wake-up. Returns p50 and p99.
async fn trickle(n: usize) -> (Duration, Duration) {
    let (_org, _graph, sender, bridge, options) =
        parts(Duration::ZERO, Duration::from_secs(1)).await;
    let inbox = Arc::new(MemoryQueue::new("inbox").unwrap());
    let outbox = Arc::new(MemoryQueue::new("outbox").unwrap());
    let svc = BridgeService::start_with(bridge, inbox, outbox, options, Arc::new(SystemClock));
    let mut hops = Vec::with_capacity(n);
    for i in 0..n {
        let sent = sender.sent.notified();
        tokio::pin!(sent);
        sent.as_mut().enable();
        let t = Instant::now();
        svc.inbox().enqueue_message(&message(i)).await.unwrap();
        sent.await;
        hops.push(t.elapsed());
    }
    svc.shutdown().await;
    hops.sort();
    (percentile(&hops, 0.50), percentile(&hops, 0.99))
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

/// The figures of a burst of `n` messages.
async fn run(n: usize, latency: Duration) -> Figures {
    let (org, graph, sender, bridge, options) = parts(latency, Duration::from_millis(5)).await;
    let inbox = Arc::new(MemoryQueue::new("inbox").unwrap());
    let outbox = Arc::new(MemoryQueue::new("outbox").unwrap());
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
    // Every message was enqueued at the start of the burst: its end-to-end
    // latency is the time its reply went out.
    let mut done: Vec<Duration> = sender
        .done
        .lock()
        .unwrap()
        .iter()
        .map(|at| at.duration_since(t))
        .collect();
    done.sort();
    Figures {
        rate,
        p50: percentile(&done, 0.50),
        p99: percentile(&done, 0.99),
        calls: org.api_calls() as f64 / n as f64,
    }
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
    let (p50, p99) = rt.block_on(trickle(200));
    println!(
        "RATIO internal chain, one message at a time at 0 ms per API call (webhook enqueue to reply sent): p50 {:.2} ms, p99 {:.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    let latencies: Vec<u64> = std::env::var("BRIDGE_BENCH_LATENCIES")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![0, 50, 300]);
    for ms in latencies {
        let f = rt.block_on(run(n, Duration::from_millis(ms)));
        println!(
            "RATIO whole bridge, burst of {n} (half Cases, half new Leads), {ms} ms per API call: {:.0} messages/s, end to end p50 {:.2} s p99 {:.2} s, {:.3} Salesforce calls per message",
            f.rate,
            f.p50.as_secs_f64(),
            f.p99.as_secs_f64(),
            f.calls
        );
    }
}

criterion_group! { name = benches; config = criterion(); targets = bridge }
criterion_main!(benches);
