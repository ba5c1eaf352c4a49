//! Issue 27, item 5: erasing one customer leaves no trace of their number,
//! message ids or text in the store's file, keeps their opt-out (hashed)
//! and leaves other customers alone.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::clock::ManualClock;
use crate::customers::{CustomerRecord, CustomerStore};
use crate::dedup::{Claim, DedupStore};
use crate::erase::Customer;
use crate::optout::OptOutStore;
use crate::queue::{DEFAULT_RETENTION, JobQueue, NewJob, from_millis};
use crate::sent::{SentLog, SentRecord};
use crate::window::WindowTracker;

const ANA: &str = "14155550123";
/// A message id of Ana's, as Meta makes them (her number inside, in base64).
const ANA_WAMID: &str = "wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQUFCQ0RFRg==";
const BEN: &str = "14155550188";

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn customer_data(store: &EmbeddedStore, number: &str, wamid: &str, text: &str) {
    let now = from_millis(1_735_689_600_000);
    let clock = Arc::new(ManualClock::at_millis(1_735_689_600_000));
    let inbox = store.queue("inbox").unwrap();
    let payload = format!(r#"{{"from":"{number}","id":"{wamid}","text":"{text}"}}"#);
    let group = format!("customer:{number}");
    // A message handled (completed key, dedup mark), one waiting, one dead.
    for (key, end) in [
        (format!("wa:msg:{wamid}"), "ack"),
        (format!("wa:msg:{wamid}.2"), "dead"),
    ] {
        inbox
            .enqueue(
                NewJob::new(key, group.clone(), payload.clone().into_bytes()),
                now,
            )
            .await
            .unwrap();
        for l in inbox.lease(10, Duration::from_secs(30), now).await.unwrap() {
            if l.job.group != group {
                inbox.release(&l, now).await.unwrap();
            } else if end == "ack" {
                inbox.ack(&l, now).await.unwrap();
            } else {
                inbox.dead_letter(&l, "131047", now).await.unwrap();
            }
        }
    }
    inbox
        .enqueue(
            NewJob::new(format!("wa:msg:{wamid}.3"), group, payload.into_bytes()),
            now,
        )
        .await
        .unwrap();
    let dedup = store.dedup().with_clock(clock);
    if let Claim::New(t) = dedup
        .claim(&format!("wa:msg:{wamid}"), Duration::from_secs(30))
        .await
        .unwrap()
    {
        dedup.complete(&t, DEFAULT_RETENTION).await.unwrap();
    }
    let window = store.window();
    window.record_inbound(number, now).await.unwrap();
    window
        .record_inbound(&format!("PNID1:{number}"), now)
        .await
        .unwrap();
    store
        .sent_log()
        .remember(
            &format!("{wamid}.out"),
            &SentRecord::new(number, text),
            Duration::from_secs(3600),
            now,
        )
        .await
        .unwrap();
    store
        .customers()
        .put(
            number,
            &CustomerRecord::default(),
            Duration::from_secs(3600),
            now,
        )
        .await
        .unwrap();
    store
        .opt_outs()
        .opt_out(number, "keyword STOP", now)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_customer_leaves_no_trace_in_the_file_and_stays_opted_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    customer_data(&store, ANA, ANA_WAMID, "my blender broke").await;
    customer_data(&store, BEN, "wamid.BEN0001", "where is my order").await;

    let erased = store
        .erase_customer(&Customer::new("+1 (415) 555-0123").unwrap())
        .await
        .unwrap();
    assert_eq!(erased.jobs, 2, "the waiting and the dead job: {erased:?}");
    assert!(
        erased.keys >= 3,
        "completed keys and the dedup mark: {erased:?}"
    );
    assert_eq!(erased.windows, 2, "{erased:?}");
    assert_eq!((erased.sent, erased.customer_records), (1, 1), "{erased:?}");
    assert!(erased.opt_out_hashed);
    // Ana stays opted out; Ben's data is untouched.
    assert!(store.opt_outs().get(ANA).await.unwrap().is_some());
    assert!(store.window().last_inbound(ANA).await.unwrap().is_none());
    assert!(store.window().last_inbound(BEN).await.unwrap().is_some());
    let ben = store
        .queue("inbox")
        .unwrap()
        .lease(10, Duration::from_secs(30), from_millis(1_735_689_601_000))
        .await
        .unwrap();
    assert_eq!(ben.len(), 1, "Ben's waiting message is still there");
    assert_eq!(ben[0].job.group, format!("customer:{BEN}"));
    drop((ben, store));

    EmbeddedStore::rewrite(dir.path()).unwrap();
    let raw = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
    for trace in [ANA, "HBgLMTQxNTU1NTAxMjM", "blender"] {
        assert!(!contains(&raw, trace), "{trace:?} is still in the file");
    }
    assert!(contains(&raw, BEN), "the grep finds what is there");
    assert!(contains(&raw, "where is my order"));
    // The rewritten store opens and still knows Ana opted out.
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert!(
        store
            .opt_outs()
            .get("+1 415 555 0123")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .queue("inbox")
            .unwrap()
            .dead_letters(10)
            .await
            .unwrap()
            .len(),
        1
    );
}
