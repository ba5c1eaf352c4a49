//! The durable queue: enqueue + lease + ack latency (p50 / p99) on the embedded
//! store and on Redis, bytes per queued job, and messages per second end to end
//! through the bridge's inbox and outbox with an in-process CRM.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use benches::{criterion, human, quick};
use bridge_core::BridgeError;
use bridge_core::clock::{Clock, SystemClock};
use bridge_core::embedded::EmbeddedStore;
use bridge_core::inbound::{Channel, CustomerMessage};
use bridge_core::mapping::Action;
use bridge_core::pipeline::Bridge;
use bridge_core::queue::{JobQueue, NewJob, WorkerOptions};
use bridge_core::redis::RedisQueue;
use bridge_core::sender::RecordingSender;
use bridge_core::service::BridgeService;
use bridge_core::writer::{RecordWriter, WriteOutcome};
use criterion::{criterion_group, criterion_main};

/// A typical inbox payload: one text message, serialized as the bridge does.
fn payload(i: usize) -> Vec<u8> {
    let m = CustomerMessage::text(
        Channel::WhatsApp,
        format!("wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQz{i:012}=="),
        format!("1415555{:04}", i % 10_000),
        "Hi, the blender I bought last week stopped working, can you help?",
    )
    .with_name("Ana Lima");
    serde_json::to_vec(&serde_json::json!({"event": "message", "message": m})).unwrap()
}

fn job(i: usize) -> NewJob {
    NewJob::new(
        format!("wa:msg:wamid.{i:012}"),
        format!("customer:1415555{:04}", i % 10_000),
        payload(i),
    )
}

async fn round_trip(q: &dyn JobQueue, i: usize) -> Duration {
    let t = Instant::now();
    let now = SystemClock.now();
    q.enqueue(job(i), now).await.unwrap();
    let l = q.lease(1, Duration::from_secs(60), now).await.unwrap();
    q.ack(&l[0], now).await.unwrap();
    t.elapsed()
}

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[(v.len() * 99 / 100).min(v.len() - 1)])
}

async fn latency_report(name: &str, q: &dyn JobQueue, n: usize, offset: usize) {
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        times.push(round_trip(q, offset + i).await);
    }
    let (p50, p99) = percentiles(times);
    println!(
        "RATIO queue {name}: enqueue + lease + ack p50 {} p99 {} (enqueue durable before it returns)",
        human(p50.as_nanos() as f64),
        human(p99.as_nanos() as f64)
    );
}

struct Crm {
    latency: Duration,
    writes: AtomicU64,
}

#[async_trait]
impl RecordWriter for Crm {
    async fn write(&self, _a: &Action, _m: &CustomerMessage) -> Result<WriteOutcome, BridgeError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let n = self.writes.fetch_add(1, Ordering::Relaxed);
        let mut w = WriteOutcome::default();
        w.object = "Case".into();
        w.case_number = Some(format!("{:08}", 1025 + n));
        w.created = true;
        Ok(w)
    }
}

async fn end_to_end(n: usize, latency: Duration) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let crm = Arc::new(Crm {
        latency,
        writes: AtomicU64::new(0),
    });
    let bridge = Bridge::builder(crm.clone())
        .sender(Arc::new(RecordingSender::new("WhatsApp")))
        .build();
    let svc = BridgeService::start(
        bridge,
        Arc::new(store.queue("inbox").unwrap()),
        Arc::new(store.queue("outbox").unwrap()),
        WorkerOptions::default()
            .concurrency(32)
            .idle_poll(Duration::from_millis(5)),
        Arc::new(SystemClock),
    );
    let t = Instant::now();
    for i in 0..n {
        let mut m = CustomerMessage::text(
            Channel::WhatsApp,
            format!("wamid.E{i}"),
            format!("1415{i:07}"),
            "my order arrived broken",
        );
        m.sent_at = Some(chrono::Utc::now());
        svc.inbox().enqueue_message(&m).await.unwrap();
    }
    assert!(svc.drain(Duration::from_secs(600)).await);
    let rate = n as f64 / t.elapsed().as_secs_f64();
    assert_eq!(crm.writes.load(Ordering::Relaxed), n as u64);
    svc.shutdown().await;
    rate
}

fn queue(c: &mut criterion::Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let q = store.queue("bench").unwrap();
    let next = AtomicU64::new(0);
    let mut g = c.benchmark_group("queue");
    g.bench_function("embedded: enqueue + lease + ack", |b| {
        b.to_async(&rt).iter(|| {
            let i = next.fetch_add(1, Ordering::Relaxed) as usize;
            let q = &q;
            async move { round_trip(q, i).await }
        });
    });
    g.finish();
    if !benches::measuring() {
        return;
    }
    let n = if quick() { 200 } else { 2_000 };
    rt.block_on(latency_report(
        "embedded (redb, fsync per enqueue)",
        &q,
        n,
        10_000_000,
    ));
    // Bytes per queued job: file growth over many waiting jobs.
    let dir2 = tempfile::tempdir().unwrap();
    let jobs = if quick() { 5_000 } else { 50_000 };
    let per_job = rt.block_on(async {
        let s = EmbeddedStore::open(dir2.path()).unwrap();
        let q = s.queue("size").unwrap();
        let before = std::fs::metadata(dir2.path().join("bridge.redb"))
            .unwrap()
            .len();
        let tasks: Vec<_> = (0..jobs)
            .map(|i| {
                let q = q.clone();
                tokio::spawn(async move { q.enqueue(job(i), SystemClock.now()).await.unwrap() })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let after = std::fs::metadata(dir2.path().join("bridge.redb"))
            .unwrap()
            .len();
        after.saturating_sub(before) as f64 / jobs as f64
    });
    println!(
        "RATIO queue embedded: {per_job:.0} bytes of file per waiting job ({} bytes of payload each)",
        payload(1).len()
    );
    if let Some(url) = std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty()) {
        rt.block_on(async {
            let name = format!("bench{}", std::process::id());
            let q = RedisQueue::connect(&url, "wa-sf:bench:", &name)
                .await
                .unwrap();
            latency_report("Redis (loopback)", &q, n, 0).await;
            let client = redis::Client::open(url.as_str()).unwrap();
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            let used = |info: String| -> u64 {
                info.lines()
                    .find_map(|l| l.strip_prefix("used_memory:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0)
            };
            let before: String = redis::cmd("INFO")
                .arg("memory")
                .query_async(&mut conn)
                .await
                .unwrap();
            let name2 = format!("size{}", std::process::id());
            let q2 = RedisQueue::connect(&url, "wa-sf:bench:", &name2)
                .await
                .unwrap();
            let count = jobs / 5;
            for i in 0..count {
                q2.enqueue(job(i), SystemClock.now()).await.unwrap();
            }
            let after: String = redis::cmd("INFO")
                .arg("memory")
                .query_async(&mut conn)
                .await
                .unwrap();
            println!(
                "RATIO queue Redis: {:.0} bytes of memory per waiting job",
                used(after).saturating_sub(used(before)) as f64 / count as f64
            );
        });
    } else {
        println!("RATIO queue Redis: skipped (set REDIS_URL)");
    }
    // A cluster (scripts/redis-cluster: 3 primaries with a replica each),
    // with and without replicated acknowledgements (WAIT 1 per enqueue).
    if let Some(url) = std::env::var("REDIS_CLUSTER_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        rt.block_on(async {
            let name = format!("bench{}", std::process::id());
            let q = RedisQueue::connect(&url, "wa-sf:bench:", &name)
                .await
                .unwrap();
            latency_report("Redis Cluster (loopback, 3 primaries)", &q, n, 0).await;
            let name = format!("benchwait{}", std::process::id());
            let q = RedisQueue::connect(&url, "wa-sf:bench:", &name)
                .await
                .unwrap()
                .wait_for_replicas(1, Duration::from_secs(1));
            latency_report(
                "Redis Cluster, each enqueue acknowledged by a replica (WAIT 1)",
                &q,
                n,
                0,
            )
            .await;
        });
    } else {
        println!(
            "RATIO queue Redis Cluster: skipped (set REDIS_CLUSTER_URL; scripts/redis-cluster start)"
        );
    }
    let msgs = if quick() { 500 } else { 5_000 };
    let rate = rt.block_on(end_to_end(msgs, Duration::ZERO));
    println!(
        "RATIO bridge end to end (inbox -> CRM -> outbox -> reply, embedded store, instant CRM): {rate:.0} messages/s"
    );
    let slow = if quick() { 200 } else { 1_000 };
    let rate = rt.block_on(end_to_end(slow, Duration::from_millis(50)));
    println!("RATIO bridge end to end with a 50 ms CRM, 32 workers: {rate:.0} messages/s");
}

criterion_group! { name = benches; config = criterion(); targets = queue }
criterion_main!(benches);
