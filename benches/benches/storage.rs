//! The embedded store's size under a constant message rate (issue 27, item
//! 4): every table the message path writes (inbox and outbox jobs and
//! their completed keys, dedup marks, 24-hour windows, the sent log,
//! customer records), a simulated clock at one message a second (86,400 a
//! day, 10,000 customers), `maintain` every simulated hour as the service
//! runs it. Prints the file's size and live entries each simulated day,
//! then bytes per message: per message sent, and per message the retention
//! keeps (steady state). Not a timing: `cargo bench --bench storage`
//! (`STORAGE_MESSAGES`, default 1,000,000; `BENCH_QUICK=1`: 100,000).
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bridge_core::clock::{Clock, ManualClock};
use bridge_core::customers::{CustomerRecord, CustomerStore};
use bridge_core::dedup::{Claim, DedupStore};
use bridge_core::embedded::EmbeddedStore;
use bridge_core::queue::{DEFAULT_RETENTION, JobQueue, NewJob, Retention};
use bridge_core::sent::{SentLog, SentRecord};
use bridge_core::window::WindowTracker;
use futures_util::future::join_all;

const CHUNK: usize = 600;
const PER_DAY: usize = 86_400;

fn main() {
    if !benches::measuring() {
        return;
    }
    let messages: usize = std::env::var("STORAGE_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benches::quick() { 100_000 } else { 1_000_000 });
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(messages));
}

async fn run(messages: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let clock = Arc::new(ManualClock::at_millis(1_735_689_600_000));
    let inbox = store.queue("inbox").unwrap();
    let outbox = store.queue("outbox").unwrap();
    let dedup = store.dedup().with_clock(clock.clone());
    let (window, sent, customers) = (store.window(), store.sent_log(), store.customers());
    let payload = |n: usize| {
        format!(
            r#"{{"event":"message","message":{{"id":"wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQz{n:012}==","from":"1415555{:04}","name":"Ana Lima","text":"Hi, the blender I bought last week stopped working, can you help?"}}}}"#,
            n % 10_000
        )
        .into_bytes()
    };
    let started = Instant::now();
    let mut next_maintain = clock.now() + chrono::Duration::hours(1);
    println!("day  messages  file MB  live entries");
    let mut sent_so_far = 0;
    while sent_so_far < messages {
        let n0 = sent_so_far;
        let count = CHUNK.min(messages - n0);
        let now = clock.now();
        join_all((n0..n0 + count).map(|n| {
            let (inbox, outbox, dedup, window, sent, customers) =
                (&inbox, &outbox, &dedup, &window, &sent, &customers);
            let body = payload(n);
            async move {
                let id = format!("wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQz{n:012}==");
                let customer = format!("1415555{:04}", n % 10_000);
                inbox
                    .enqueue(NewJob::new(format!("wa:msg:{id}"), format!("customer:{customer}"), body), now)
                    .await
                    .unwrap();
                let Claim::New(t) = dedup.claim(&format!("wa:msg:{id}"), Duration::from_secs(30)).await.unwrap() else {
                    panic!("new")
                };
                window.record_inbound(&customer, now).await.unwrap();
                customers
                    .put(&customer, &CustomerRecord::default(), Duration::from_secs(7 * 86_400), now)
                    .await
                    .unwrap();
                dedup.complete(&t, DEFAULT_RETENTION).await.unwrap();
                outbox
                    .enqueue(
                        NewJob::new(
                            format!("reply:wa:msg:{id}"),
                            format!("customer:{customer}"),
                            br#"{"to":"14155550123","message":{"text":"Thanks, your case number is 00001026."}}"#.to_vec(),
                        ),
                        now,
                    )
                    .await
                    .unwrap();
                sent.remember(&format!("{id}.out"), &SentRecord::new(&customer, "Thanks, your case number is 00001026."), Duration::from_secs(72 * 3600), now)
                    .await
                    .unwrap();
            }
        }))
        .await;
        for q in [&inbox, &outbox] {
            loop {
                let leases = q.lease(CHUNK, Duration::from_secs(60), now).await.unwrap();
                if leases.is_empty() {
                    break;
                }
                join_all(leases.iter().map(|l| q.ack(l, now))).await;
            }
        }
        sent_so_far += count;
        clock.advance(Duration::from_secs(count as u64));
        if clock.now() >= next_maintain {
            store
                .maintain(clock.now(), &Retention::default())
                .await
                .unwrap();
            next_maintain = clock.now() + chrono::Duration::hours(1);
        }
        if sent_so_far % PER_DAY < CHUNK || sent_so_far == messages {
            let u = store.usage().await.unwrap();
            println!(
                "{:>3}  {:>8}  {:>7.1}  {:>12}",
                sent_so_far / PER_DAY,
                sent_so_far,
                u.file_bytes.unwrap_or(0) as f64 / 1e6,
                u.total_entries()
            );
        }
    }
    let u = store.usage().await.unwrap();
    let bytes = u.file_bytes.unwrap_or(0) as f64;
    let retained = messages.min(DEFAULT_RETENTION.as_secs() as usize);
    println!(
        "\n{messages} messages at 1/s in {:.0} s: file {:.1} MB, {:.0} bytes per message sent, {:.0} bytes per message retained ({retained} within the {}-day retention)",
        started.elapsed().as_secs_f64(),
        bytes / 1e6,
        bytes / messages as f64,
        bytes / retained as f64,
        DEFAULT_RETENTION.as_secs() / 86_400,
    );
    drop((inbox, outbox, dedup, window, sent, customers, store));
    let reopened = EmbeddedStore::open(dir.path()).unwrap();
    let u = reopened.usage().await.unwrap();
    println!(
        "after a restart (compacted on open): {:.1} MB",
        u.file_bytes.unwrap_or(0) as f64 / 1e6
    );
}
