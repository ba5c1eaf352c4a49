use std::sync::Arc;

use super::*;
use crate::dedup::{Claim, DedupStore};
use crate::queue::conformance;
use crate::queue::{Enqueued, JobQueue, NewJob, QueueError, from_millis};
use chrono::{DateTime, Utc};
use std::time::Duration;

fn t(ms: i64) -> DateTime<Utc> {
    from_millis(1_735_689_600_000 + ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_queue_passes_the_behaviour_suite() {
    conformance::run(
        Arc::new(MemoryQueue::new("inbox").unwrap()),
        &crate::clock::ManualClock::at_millis(1_767_225_600_000),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_queue_passes_the_behaviour_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    conformance::run(
        Arc::new(store.queue("inbox").unwrap()),
        &crate::clock::ManualClock::at_millis(1_767_225_600_000),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_dedup_passes_the_dedup_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let clock = Arc::new(crate::clock::ManualClock::new(chrono::Utc::now()));
    let dedup = store.dedup().with_clock(clock.clone());
    crate::dedup::conformance::run(Arc::new(dedup), &clock).await;
}

#[tokio::test]
async fn jobs_leases_and_dedup_marks_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let lease_token = {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let q = store.queue("inbox").unwrap();
        q.enqueue(NewJob::new("k1", "g1", b"one".to_vec()), t(0))
            .await
            .unwrap();
        q.enqueue(NewJob::new("k2", "g2", b"two".to_vec()), t(0))
            .await
            .unwrap();
        let l = q.lease(1, Duration::from_secs(60), t(1)).await.unwrap();
        let Claim::New(c) = store
            .dedup()
            .claim("wa:msg:1", Duration::from_secs(60))
            .await
            .unwrap()
        else {
            panic!()
        };
        store
            .dedup()
            .complete(&c, Duration::from_secs(3600))
            .await
            .unwrap();
        l[0].clone()
        // The store is dropped here, as by a crash after the commits.
    };
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let q = store.queue("inbox").unwrap();
    assert!(matches!(
        store
            .dedup()
            .claim("wa:msg:1", Duration::from_secs(60))
            .await
            .unwrap(),
        Claim::Done
    ));
    // Both jobs are there at once: the dead process's lease is void.
    let mut l = q.lease(10, Duration::from_secs(60), t(2)).await.unwrap();
    l.sort_by(|a, b| a.job.key.cmp(&b.job.key));
    let seen: Vec<(&str, u32)> = l
        .iter()
        .map(|l| (l.job.key.as_str(), l.job.attempts))
        .collect();
    assert_eq!(seen, [("k1", 2), ("k2", 1)]);
    assert_eq!(l[0].job.key, lease_token.job.key);
    assert!(matches!(
        q.ack(&lease_token, t(3)).await,
        Err(QueueError::LeaseLost { .. })
    ));
}

#[test]
fn a_corrupt_store_is_a_typed_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(FILE_NAME),
        b"this is not a database at all, just text",
    )
    .unwrap();
    let e = EmbeddedStore::open(dir.path()).unwrap_err();
    assert!(matches!(e, QueueError::Open { .. }), "{e:?}");
    assert!(e.to_string().contains(FILE_NAME), "{e}");
    // A path that cannot be a directory.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let e = EmbeddedStore::open(&file).unwrap_err();
    assert!(e.to_string().contains("plain-file"), "{e}");
}

#[test]
fn a_second_open_of_a_held_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = EmbeddedStore::open(dir.path()).unwrap();
    let e = EmbeddedStore::open(dir.path()).unwrap_err();
    assert!(matches!(e, QueueError::Open { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_enqueues_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let q = Arc::new(store.queue("inbox").unwrap());
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let q = q.clone();
            tokio::spawn(async move {
                q.enqueue(
                    NewJob::new(format!("k{i}"), format!("g{i}"), vec![1; 64]),
                    t(0),
                )
                .await
            })
        })
        .collect();
    for task in tasks {
        assert!(matches!(task.await.unwrap().unwrap(), Enqueued::New(_)));
    }
    assert_eq!(q.stats(t(1)).await.unwrap().depth, 200);
}

#[test]
fn queue_names_are_checked() {
    let store = EmbeddedStore::in_memory().unwrap();
    assert!(matches!(store.queue("in box"), Err(QueueError::Invalid(_))));
    assert!(matches!(store.queue(""), Err(QueueError::Invalid(_))));
}

#[tokio::test]
async fn embedded_opt_outs_pass_the_suite_and_survive_a_reopen() {
    use crate::optout::OptOutStore as _;
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        crate::optout::conformance::run(
            Arc::new(store.opt_outs()),
            &crate::clock::ManualClock::at_millis(1_767_225_600_000),
        )
        .await;
        store
            .opt_outs()
            .opt_out("+1 415 555 0123", "keyword STOP", t(0))
            .await
            .unwrap();
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert!(store.opt_outs().get("14155550123").await.unwrap().is_some());
}

#[tokio::test]
async fn embedded_customer_records_pass_the_suite_and_survive_a_reopen() {
    use crate::customers::{CustomerRecord, CustomerStore as _};
    let dir = tempfile::tempdir().unwrap();
    let keep = std::time::Duration::from_secs(3600);
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        crate::customers::conformance::run(
            Arc::new(store.customers()),
            &crate::clock::ManualClock::at_millis(1_767_225_600_000),
        )
        .await;
        store
            .customers()
            .put("+1 415 555 0123", &CustomerRecord::default(), keep, t(0))
            .await
            .unwrap();
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert!(
        store
            .customers()
            .get("14155550123", t(0))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn leases_of_a_dead_process_are_due_at_once_when_the_store_reopens() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let q = store.queue("inbox").unwrap();
        q.enqueue(NewJob::new("k1", "g1", b"one".to_vec()), t(0))
            .await
            .unwrap();
        let l = q.lease(1, Duration::from_secs(3600), t(1)).await.unwrap();
        assert_eq!(l.len(), 1);
        // The process dies holding the lease for an hour.
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let q = store.queue("inbox").unwrap();
    let l = q.lease(1, Duration::from_secs(60), t(2)).await.unwrap();
    assert_eq!(
        l.len(),
        1,
        "only one process owns the directory: the old lease is void"
    );
    assert_eq!(l[0].job.attempts, 2, "the interrupted attempt counts");
    // A second open of the same queue in this process recovers nothing.
    let again = store.queue("inbox").unwrap();
    assert!(
        again
            .lease(1, Duration::from_secs(60), t(3))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn dedup_claims_of_a_dead_process_are_void_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let d = store.dedup();
        assert!(matches!(
            d.claim("in-flight", Duration::from_secs(3600))
                .await
                .unwrap(),
            Claim::New(_)
        ));
        let Claim::New(t) = d.claim("done", Duration::from_secs(3600)).await.unwrap() else {
            panic!()
        };
        d.complete(&t, Duration::from_secs(3600)).await.unwrap();
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let d = store.dedup();
    assert!(
        matches!(
            d.claim("in-flight", Duration::from_secs(60)).await.unwrap(),
            Claim::New(_)
        ),
        "the dead process's claim is void"
    );
    assert!(
        matches!(
            d.claim("done", Duration::from_secs(60)).await.unwrap(),
            Claim::Done
        ),
        "finished work stays finished"
    );
    // A later handle in the same process keeps this process's live claims.
    assert!(matches!(
        store
            .dedup()
            .claim("in-flight", Duration::from_secs(60))
            .await
            .unwrap(),
        Claim::InFlight
    ));
}
