//! Issue 27, item 4: the embedded store stays bounded. 100,000 messages go
//! through every table the message path writes (inbox and outbox jobs and
//! their completed keys, dedup marks, windows, the sent log, customer
//! records, a few dead letters) on a moving clock; once the retention has
//! elapsed, `maintain` leaves nothing of them.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::customers::{CustomerRecord, CustomerStore};
use crate::dedup::{Claim, DedupStore};
use crate::queue::{DEFAULT_RETENTION, JobQueue, NewJob, Retention};
use crate::sent::{SentLog, SentRecord};
use crate::window::WindowTracker;

const MESSAGES: usize = 100_000;
const CHUNK: usize = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_100k_messages_and_the_retention_the_store_keeps_nothing_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let clock = Arc::new(ManualClock::at_millis(1_735_689_600_000));
    let inbox = store.queue("inbox").unwrap();
    let outbox = store.queue("outbox").unwrap();
    let dedup = store.dedup().with_clock(clock.clone());
    let (window, sent, customers) = (store.window(), store.sent_log(), store.customers());
    // 100,000 messages over ten days (one every 8.64 s).
    let step = Duration::from_millis(8_640);
    for chunk in 0..MESSAGES / CHUNK {
        let now = clock.now();
        join_all((0..CHUNK).map(|i| {
            let n = chunk * CHUNK + i;
            let (inbox, outbox, dedup) = (&inbox, &outbox, &dedup);
            let (window, sent, customers) = (&window, &sent, &customers);
            async move {
                let id = format!("wamid.R{n:07}");
                let customer = format!("1415555{:04}", n % 10_000);
                inbox
                    .enqueue(
                        NewJob::new(id.clone(), customer.clone(), vec![b'x'; 600]),
                        now,
                    )
                    .await
                    .unwrap();
                let Claim::New(token) = dedup.claim(&id, Duration::from_secs(60)).await.unwrap()
                else {
                    panic!("a new message is new")
                };
                window.record_inbound(&customer, now).await.unwrap();
                customers
                    .put(
                        &customer,
                        &CustomerRecord::default(),
                        Duration::from_secs(86_400),
                        now,
                    )
                    .await
                    .unwrap();
                dedup.complete(&token, DEFAULT_RETENTION).await.unwrap();
                outbox
                    .enqueue(
                        NewJob::new(format!("reply:{id}"), customer.clone(), vec![b'y'; 300]),
                        now,
                    )
                    .await
                    .unwrap();
                sent.remember(
                    &id,
                    &SentRecord::new(&customer, "Case 00001026"),
                    Duration::from_secs(72 * 3600),
                    now,
                )
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
                // One message in ten thousand cannot be processed.
                join_all(leases.iter().map(|l| async move {
                    if l.job.key.ends_with("0000") {
                        q.dead_letter(l, "131047", now).await.unwrap();
                    } else {
                        q.ack(l, now).await.unwrap();
                    }
                }))
                .await;
            }
        }
        clock.advance(step * CHUNK as u32);
    }
    let busy = store.usage().await.unwrap();
    // Under a constant rate, completed keys stay within their retention:
    // at most the last 8 days' messages (80,000), however many went by.
    for q in ["inbox", "outbox"] {
        let keys = busy.entries(&format!("q.{q}.keys"));
        assert!(keys <= 82_000, "{q}: {keys} completed keys: {busy:?}");
        assert_eq!(
            busy.entries(&format!("q.{q}.jobs")),
            MESSAGES as u64 / 10_000,
            "the dead letters' jobs"
        );
    }
    assert!(busy.entries("window") <= 10_000, "{busy:?}");

    // The retention elapses: nothing of the messages is left.
    clock.advance(DEFAULT_RETENTION + Duration::from_secs(31 * 86_400));
    let pruned = store
        .maintain(clock.now(), &Retention::default())
        .await
        .unwrap();
    assert_eq!(
        pruned.dead_letters,
        2 * MESSAGES as u64 / 10_000,
        "{pruned:?}"
    );
    let idle = store.usage().await.unwrap();
    for (table, entries) in &idle.tables {
        // Counters (a few numbers per queue) and the keys of the purged
        // dead letters (remembered for the retention from now) are all that
        // may stay.
        let allowed = if table.ends_with(".counters") {
            4
        } else if table.ends_with(".keys") || table.ends_with(".key_expiry") {
            MESSAGES as u64 / 10_000
        } else {
            0
        };
        assert!(
            *entries <= allowed,
            "{table}: {entries} entries left: {idle:?}"
        );
    }
    println!("busy: {busy:?}\nidle: {idle:?}\npruned: {pruned:?}");
    // Reopened, the store compacts: the file gives the space back.
    drop((inbox, outbox, dedup, window, sent, customers, store));
    let reopened = EmbeddedStore::open(dir.path()).unwrap();
    let compacted = reopened.usage().await.unwrap().file_bytes.unwrap();
    let before = busy.file_bytes.unwrap();
    assert!(
        compacted * 4 < before,
        "compaction on open: {compacted} bytes of {before}"
    );
}
