//! The behaviour every [`JobQueue`] must have. Run it against your own store
//! in your tests, on a **fresh, empty** queue (it checks counters):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # #[cfg(feature = "embedded")] {
//! use std::sync::Arc;
//! use bridge_core::clock::ManualClock;
//! use bridge_core::embedded::MemoryQueue;
//! use bridge_core::queue::conformance;
//!
//! let clock = ManualClock::at_millis(1_735_689_600_000); // 2025-01-01
//! conformance::run(Arc::new(MemoryQueue::new("conformance").unwrap()), &clock).await;
//! # }
//! # }
//! ```
//!
//! The suite passes times in explicitly, from the clock's time when it starts
//! (start it away from the real time), so a store that reads the wall clock
//! instead of the `now` it is given fails it.

#![allow(clippy::panic, clippy::indexing_slicing)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Enqueued, JobQueue, Lease, NewJob, QueueError, Retention};
use crate::clock::{Clock, ManualClock};

/// The suite's times: `offset_ms` after the clock's time when the run
/// started (the queue is given every time; it keeps no clock).
#[derive(Clone, Copy)]
struct Times(DateTime<Utc>);

impl Times {
    fn t(self, offset_ms: i64) -> DateTime<Utc> {
        self.0 + chrono::Duration::milliseconds(offset_ms)
    }
}

fn job(key: &str, group: &str) -> NewJob {
    NewJob::new(key, group, format!("payload of {key}").into_bytes())
}

async fn lease_keys<Q: JobQueue + ?Sized>(
    q: &Q,
    max: usize,
    vis: Duration,
    now: DateTime<Utc>,
) -> Vec<Lease> {
    q.lease(max, vis, now)
        .await
        .unwrap_or_else(|e| panic!("lease failed: {e}"))
}

fn keys(leases: &[Lease]) -> Vec<&str> {
    keys_of(leases)
}

fn keys_of(leases: &[Lease]) -> Vec<&str> {
    let mut k: Vec<&str> = leases.iter().map(|l| l.job.key.as_str()).collect();
    k.sort_unstable();
    k
}

/// Runs the suite; panics with a message naming the broken rule.
///
/// The same signature as every conformance suite of the workspace: the
/// store behind an `Arc`, and the `ManualClock` the suite reads and moves
/// (build the store with it when it keeps time).
///
/// # Panics
///
/// When the queue breaks a rule of the [contract](super).
pub async fn run<Q: JobQueue + ?Sized + 'static>(q: Arc<Q>, clock: &ManualClock) {
    let vis = Duration::from_secs(60);
    let times = Times(clock.now());
    // A healthy store takes the readiness probe's write.
    if let Err(e) = q.probe().await {
        panic!("a healthy store refused the readiness probe: {e}");
    }
    idempotent_enqueue(&*q, times).await;
    leases_hide_and_expire(&*q, vis, times).await;
    per_group_order(&*q, vis, times).await;
    retries_hold_the_group(&*q, vis, times).await;
    dead_letters(&*q, vis, times).await;
    checkpoints_and_release(&*q, vis, times).await;
    extensions(&*q, vis, times).await;
    stats(&*q, vis, times).await;
    pruning(&*q, vis, times).await;
    erasing(&*q, vis, times).await;
    concurrency(q, vis, times).await;
}

async fn idempotent_enqueue<Q: JobQueue + ?Sized>(q: &Q, times: Times) {
    let a = q.enqueue(job("idem", "g-idem"), times.t(0)).await;
    let Ok(Enqueued::New(id)) = a else {
        panic!("a new key must give a new job: {a:?}")
    };
    let b = q.enqueue(job("idem", "g-idem"), times.t(1)).await;
    assert!(
        matches!(&b, Ok(Enqueued::Duplicate(d)) if *d == id),
        "the same key again must be the same job: {b:?}"
    );
    assert!(
        matches!(
            q.enqueue(NewJob::new("", "g", vec![]), times.t(0)).await,
            Err(QueueError::Invalid(_))
        ),
        "an empty key must be refused"
    );
    let l = lease_keys(q, 10, Duration::from_secs(60), times.t(2)).await;
    assert_eq!(keys(&l), ["idem"], "the one job must be leasable");
    assert_eq!(
        l[0].job.payload, b"payload of idem",
        "the payload must come back"
    );
    assert_eq!(l[0].job.attempts, 1, "the first lease is attempt 1");
    q.ack(&l[0], times.t(3))
        .await
        .unwrap_or_else(|e| panic!("ack failed: {e}"));
    assert!(
        matches!(
            q.enqueue(job("idem", "g-idem"), times.t(4)).await,
            Ok(Enqueued::Duplicate(_))
        ),
        "a completed key must stay a duplicate within the retention"
    );
    assert!(
        lease_keys(q, 10, Duration::from_secs(60), times.t(5))
            .await
            .is_empty(),
        "a duplicate enqueue must not create work"
    );
}

async fn leases_hide_and_expire<Q: JobQueue + ?Sized>(q: &Q, vis: Duration, times: Times) {
    q.enqueue(job("hide", "g-hide"), times.t(10))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let first = lease_keys(q, 10, vis, times.t(11)).await;
    assert_eq!(keys(&first), ["hide"]);
    assert!(
        lease_keys(q, 10, vis, times.t(12)).await.is_empty(),
        "a leased job must be invisible while its lease lasts"
    );
    let later = times.t(11 + 60_000 + 1);
    let second = lease_keys(q, 10, vis, later).await;
    assert_eq!(
        keys(&second),
        ["hide"],
        "an expired lease must make the job leasable again"
    );
    assert_eq!(second[0].job.attempts, 2, "each lease is an attempt");
    assert!(
        matches!(
            q.ack(&first[0], later).await,
            Err(QueueError::LeaseLost { .. })
        ),
        "the holder of an expired lease must not ack"
    );
    assert!(
        matches!(
            q.checkpoint(&first[0], b"x").await,
            Err(QueueError::LeaseLost { .. })
        ),
        "the holder of an expired lease must not checkpoint"
    );
    q.ack(&second[0], later)
        .await
        .unwrap_or_else(|e| panic!("ack by the current holder failed: {e}"));
}

async fn per_group_order<Q: JobQueue + ?Sized>(q: &Q, vis: Duration, times: Times) {
    for (k, g) in [
        ("o-a1", "g-a"),
        ("o-a2", "g-a"),
        ("o-b1", "g-b"),
        ("o-a3", "g-a"),
    ] {
        q.enqueue(job(k, g), times.t(100))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let l = lease_keys(q, 10, vis, times.t(101)).await;
    assert_eq!(
        keys(&l),
        ["o-a1", "o-b1"],
        "only the oldest job of each group may be leased"
    );
    for lease in &l {
        q.ack(lease, times.t(102))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let l = lease_keys(q, 10, vis, times.t(103)).await;
    assert_eq!(keys(&l), ["o-a2"], "the group moves on in enqueue order");
    q.ack(&l[0], times.t(104))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let l = lease_keys(q, 10, vis, times.t(105)).await;
    assert_eq!(keys(&l), ["o-a3"]);
    q.ack(&l[0], times.t(106))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

async fn retries_hold_the_group<Q: JobQueue + ?Sized>(q: &Q, vis: Duration, times: Times) {
    q.enqueue(job("r-1", "g-r"), times.t(200))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    q.enqueue(job("r-2", "g-r"), times.t(200))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let l = lease_keys(q, 10, vis, times.t(201)).await;
    assert_eq!(keys(&l), ["r-1"]);
    q.nack(&l[0], times.t(10_000), "CRM timed out")
        .await
        .unwrap_or_else(|e| panic!("nack failed: {e}"));
    assert!(
        lease_keys(q, 10, vis, times.t(5_000)).await.is_empty(),
        "a job waiting for its retry must hold its group and not run early"
    );
    let l = lease_keys(q, 10, vis, times.t(10_001)).await;
    assert_eq!(
        keys(&l),
        ["r-1"],
        "a nacked job must come back at its retry time"
    );
    assert_eq!(l[0].job.attempts, 2);
    assert_eq!(
        l[0].job.last_error.as_deref(),
        Some("CRM timed out"),
        "the last error must be kept"
    );
    q.ack(&l[0], times.t(10_002))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let l = lease_keys(q, 10, vis, times.t(10_003)).await;
    assert_eq!(keys(&l), ["r-2"]);
    q.ack(&l[0], times.t(10_004))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

async fn dead_letters<Q: JobQueue + ?Sized>(q: &Q, vis: Duration, times: Times) {
    q.enqueue(job("d-1", "g-d"), times.t(300))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    q.enqueue(job("d-2", "g-d"), times.t(300))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let l = lease_keys(q, 10, vis, times.t(301)).await;
    assert_eq!(keys(&l), ["d-1"]);
    q.dead_letter(&l[0], "131047: outside the window", times.t(302))
        .await
        .unwrap_or_else(|e| panic!("dead_letter failed: {e}"));
    let l2 = lease_keys(q, 10, vis, times.t(303)).await;
    assert_eq!(keys(&l2), ["d-2"], "a dead letter must free its group");
    q.ack(&l2[0], times.t(304))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let dead = q.dead_letters(10).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dead.len(), 1, "one dead letter");
    assert_eq!(dead[0].job.key, "d-1");
    assert_eq!(
        dead[0].error, "131047: outside the window",
        "the error must be kept"
    );
    assert_eq!(dead[0].died_at, times.t(302));
    assert_eq!(dead[0].job.payload, b"payload of d-1");
    assert!(
        matches!(
            q.enqueue(job("d-1", "g-d"), times.t(305)).await,
            Ok(Enqueued::Duplicate(_))
        ),
        "a dead letter's key must stay a duplicate (a redelivery must not bypass it)"
    );
    q.replay(&dead[0].job.id, times.t(306))
        .await
        .unwrap_or_else(|e| panic!("replay failed: {e}"));
    assert!(
        q.dead_letters(10)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty(),
        "a replayed job is no longer dead"
    );
    let l = lease_keys(q, 10, vis, times.t(307)).await;
    assert_eq!(keys(&l), ["d-1"], "a replayed job must be leasable");
    assert_eq!(l[0].job.attempts, 1, "replay resets the attempts");
    q.dead_letter(&l[0], "still bad", times.t(308))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let dead = q.dead_letters(10).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dead.len(), 1);
    assert!(
        matches!(
            q.replay(&l2[0].job.id, times.t(309)).await,
            Err(QueueError::NotFound { .. })
        ),
        "replaying a job that is not dead must be NotFound"
    );
    assert_eq!(
        q.purge(Some(&dead[0].job.id), times.t(310))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        1
    );
    assert!(
        q.dead_letters(10)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty(),
        "purged"
    );
    assert!(
        matches!(
            q.enqueue(job("d-1", "g-d"), times.t(311)).await,
            Ok(Enqueued::Duplicate(_))
        ),
        "a purged key must stay remembered"
    );
    // Purge all.
    for k in ["d-3", "d-4"] {
        q.enqueue(job(k, k), times.t(400))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for l in lease_keys(q, 10, vis, times.t(401)).await {
        q.dead_letter(&l, "bad", times.t(402))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(
        q.purge(None, times.t(403))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        2,
        "purge all"
    );
}

async fn checkpoints_and_release<Q: JobQueue + ?Sized>(q: &Q, vis: Duration, times: Times) {
    q.enqueue(job("c-1", "g-c"), times.t(500))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let l = lease_keys(q, 10, vis, times.t(501)).await;
    assert_eq!(l[0].job.checkpoint, None);
    q.checkpoint(&l[0], b"record 500Aa000001")
        .await
        .unwrap_or_else(|e| panic!("checkpoint failed: {e}"));
    q.release(&l[0], times.t(502))
        .await
        .unwrap_or_else(|e| panic!("release failed: {e}"));
    let l = lease_keys(q, 10, vis, times.t(503)).await;
    assert_eq!(keys(&l), ["c-1"], "a released job must be leasable at once");
    assert_eq!(
        l[0].job.attempts, 1,
        "a release must not count as an attempt"
    );
    assert_eq!(
        l[0].job.checkpoint.as_deref(),
        Some(&b"record 500Aa000001"[..]),
        "a checkpoint must survive to the next attempt"
    );
    q.ack(&l[0], times.t(504))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

async fn extensions<Q: JobQueue + ?Sized>(q: &Q, vis: Duration, times: Times) {
    q.enqueue(job("x-1", "g-x"), times.t(550))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let l = lease_keys(q, 10, vis, times.t(551)).await;
    assert_eq!(keys(&l), ["x-1"]);
    // Kept alive at 50 s for another 60 s: still hidden at 61 s.
    q.extend(&l[0], vis, times.t(50_551))
        .await
        .unwrap_or_else(|e| panic!("extend failed: {e}"));
    assert!(
        lease_keys(q, 10, vis, times.t(61_552)).await.is_empty(),
        "an extended lease must keep the job hidden past its first deadline"
    );
    let again = lease_keys(q, 10, vis, times.t(110_552)).await;
    assert_eq!(
        keys(&again),
        ["x-1"],
        "and release it when the extension ends"
    );
    assert!(
        matches!(
            q.extend(&l[0], vis, times.t(110_553)).await,
            Err(QueueError::LeaseLost { .. })
        ),
        "a lost lease cannot be extended"
    );
    q.ack(&again[0], times.t(110_554))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

async fn stats<Q: JobQueue + ?Sized>(q: &Q, vis: Duration, times: Times) {
    let base = q
        .stats(times.t(600))
        .await
        .unwrap_or_else(|e| panic!("stats failed: {e}"));
    assert_eq!(
        (base.depth, base.in_flight, base.dead_letters),
        (0, 0, 0),
        "the suite needs a fresh queue: {base:?}"
    );
    assert!(base.retries >= 1, "retries must be counted: {base:?}");
    q.enqueue(job("s-1", "g-s1"), times.t(600))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    q.enqueue(job("s-2", "g-s2"), times.t(700))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    q.enqueue(job("s-3", "g-s2"), times.t(800))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let s = q
        .stats(times.t(1_600))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((s.depth, s.in_flight), (3, 0), "{s:?}");
    assert_eq!(
        s.oldest_age,
        Some(Duration::from_secs(1)),
        "age of the oldest job: {s:?}"
    );
    let l = lease_keys(q, 1, vis, times.t(1_601)).await;
    let s = q
        .stats(times.t(1_602))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((s.depth, s.in_flight), (2, 1), "{s:?}");
    q.ack(&l[0], times.t(1_603))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for l in lease_keys(q, 10, vis, times.t(1_604)).await {
        q.ack(&l, times.t(1_605))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for l in lease_keys(q, 10, vis, times.t(1_606)).await {
        q.ack(&l, times.t(1_607))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let s = q
        .stats(times.t(1_608))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (s.depth, s.in_flight, s.oldest_age),
        (0, 0, None),
        "drained: {s:?}"
    );
}

/// `prune`: dead letters past their retention are purged (their keys still
/// duplicates), younger ones kept, completed keys past the queue's
/// retention forgotten (the suite assumes a retention under 200 days).
async fn pruning<Q: JobQueue + ?Sized>(q: &Q, vis: Duration, times: Times) {
    const DAY: i64 = 24 * 3600 * 1000;
    let later = 200 * DAY;
    let dies = |key: &'static str, at: i64| async move {
        q.enqueue(job(key, key), times.t(at))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for l in lease_keys(q, 10, vis, times.t(at + 1)).await {
            q.dead_letter(&l, "bad", times.t(at + 2))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    };
    dies("x-old", 2_000).await;
    // Before any write at the later time (writes may prune a few keys
    // each): the keys completed 200 days earlier are due.
    let kept = q
        .prune(times.t(later), &Retention::default().dead_letters(None))
        .await
        .unwrap_or_else(|e| panic!("prune failed: {e}"));
    assert_eq!(
        kept.dead_letters, 0,
        "dead letters kept until purged by hand"
    );
    assert!(
        kept.completed_keys >= 1,
        "keys completed 200 days ago must be forgotten: {kept:?}"
    );
    let again = q.enqueue(job("s-1", "g-s1"), times.t(later + 1)).await;
    assert!(
        matches!(again, Ok(Enqueued::New(_))),
        "a forgotten key makes a new job: {again:?}"
    );
    for l in lease_keys(q, 10, vis, times.t(later + 2)).await {
        q.ack(&l, times.t(later + 3))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    dies("x-young", later + 4).await;
    assert_eq!(q.dead_letters(10).await.map(|d| d.len()).ok(), Some(2));
    let pruned = q
        .prune(times.t(later + 10), &Retention::default())
        .await
        .unwrap_or_else(|e| panic!("prune failed: {e}"));
    assert_eq!(
        pruned.dead_letters, 1,
        "the dead letter older than 30 days: {pruned:?}"
    );
    let dead = q.dead_letters(10).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        dead.iter().map(|d| d.job.key.as_str()).collect::<Vec<_>>(),
        ["x-young"],
        "the younger dead letter stays"
    );
    assert!(
        matches!(
            q.enqueue(job("x-old", "x-old"), times.t(later + 11)).await,
            Ok(Enqueued::Duplicate(_))
        ),
        "a pruned dead letter's key must stay remembered"
    );
    q.purge(None, times.t(later + 12))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// `erase_customer`: every job of the customer goes (waiting, leased,
/// dead), with the completed keys that hold their number; another
/// customer's job stays.
async fn erasing<Q: JobQueue + ?Sized>(q: &Q, vis: Duration, times: Times) {
    const DAY: i64 = 24 * 3600 * 1000;
    let at = |ms: i64| times.t(300 * DAY + ms);
    let ana = "customer:14155550123";
    // A message id of Ana's (her number inside, in base64), handled.
    let done = "wa:msg:wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQUFCQ0RFRg==";
    q.enqueue(job(done, "g-e-done"), at(0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for l in lease_keys(q, 10, vis, at(1)).await {
        q.ack(&l, at(2)).await.unwrap_or_else(|e| panic!("{e}"));
    }
    // One dead, one leased, one waiting behind it; Ben's waiting.
    for (key, group) in [
        ("e-ana-dead", "customer:14155550123:x"),
        ("e-ana-1", ana),
        ("e-ana-2", ana),
        ("e-ben", "customer:14155550188"),
    ] {
        q.enqueue(job(key, group), at(10))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for l in lease_keys(q, 10, vis, at(11)).await {
        match l.job.key.as_str() {
            "e-ana-dead" => q.dead_letter(&l, "bad", at(12)).await,
            "e-ben" => q.release(&l, at(12)).await,
            _ => Ok(()),
        }
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let customer = crate::erase::Customer::new("+1 415 555 0123").unwrap_or_else(|e| panic!("{e}"));
    let (jobs, keys) = q
        .erase_customer(&customer)
        .await
        .unwrap_or_else(|e| panic!("erase_customer failed: {e}"));
    assert_eq!(jobs, 3, "Ana's dead, leased and waiting jobs");
    assert!(keys >= 4, "their keys and the completed one: {keys}");
    let left = lease_keys(q, 10, vis, at(20)).await;
    assert_eq!(keys_of(&left), ["e-ben"], "only Ben's job is left");
    assert!(
        q.dead_letters(10)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty(),
        "Ana's dead letter is gone"
    );
    assert!(
        matches!(
            q.enqueue(job(done, "g-e-done"), at(21)).await,
            Ok(Enqueued::New(_))
        ),
        "Ana's completed key is forgotten"
    );
    for l in left {
        q.ack(&l, at(22)).await.unwrap_or_else(|e| panic!("{e}"));
    }
    for l in lease_keys(q, 10, vis, at(23)).await {
        q.ack(&l, at(24)).await.unwrap_or_else(|e| panic!("{e}"));
    }
    let s = q.stats(at(25)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((s.depth, s.in_flight, s.dead_letters), (0, 0, 0), "{s:?}");
}

async fn concurrency<Q: JobQueue + ?Sized + 'static>(q: Arc<Q>, vis: Duration, times: Times) {
    // Many enqueues of one key: one job.
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(async move { q.enqueue(job("race", "g-race"), times.t(900)).await })
        })
        .collect();
    let mut new = 0;
    for task in tasks {
        if matches!(task.await, Ok(Ok(Enqueued::New(_)))) {
            new += 1;
        }
    }
    assert_eq!(new, 1, "concurrent enqueues of one key must make one job");
    // Many jobs, many concurrent leasers: each job leased exactly once.
    for i in 0..64 {
        q.enqueue(job(&format!("p-{i}"), &format!("g-p{i}")), times.t(901))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(async move { q.lease(16, vis, times.t(902)).await })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut all = Vec::new();
    for task in tasks {
        let leases = task
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("lease failed: {e}"));
        for l in leases {
            assert!(
                seen.insert(l.job.key.clone()),
                "job {} leased twice",
                l.job.key
            );
            all.push(l);
        }
    }
    assert_eq!(seen.len(), 65, "every job must be leased once");
    for l in all {
        q.ack(&l, times.t(903))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
