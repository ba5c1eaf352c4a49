//! Readiness (issue 27, item 2): the store takes writes, the workers run,
//! and neither API refused the credentials on its last call.
#![cfg(feature = "embedded")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::BridgeError;
use crate::clock::SystemClock;
use crate::embedded::EmbeddedStore;
use crate::inbound::{Channel, CustomerMessage};
use crate::mapping::Action;
use crate::pipeline::Bridge;
use crate::queue::{JobQueue, WorkerOptions};
use crate::sender::{RecordingSender, SendError};
use crate::service::{BridgeService, ServiceOptions};
use crate::writer::{RecordWriter, WriteOutcome};

/// Writes a Case, or fails as an org that refuses our credentials.
#[derive(Default)]
struct Org {
    refusing: AtomicBool,
}

#[async_trait]
impl RecordWriter for Org {
    async fn write(&self, _a: &Action, _m: &CustomerMessage) -> Result<WriteOutcome, BridgeError> {
        if self.refusing.load(Ordering::SeqCst) {
            return Err(BridgeError::Send(
                SendError::new("Salesforce", "invalid_grant: expired access/refresh token")
                    .auth(true),
            ));
        }
        Ok(WriteOutcome {
            object: "Case".into(),
            record_id: Some("500000000000001AAA".into()),
            case_number: Some("00001026".into()),
            created: true,
            follow_up_task: None,
            acknowledgement: None,
        })
    }
}

fn message(id: &str, from: &str) -> CustomerMessage {
    CustomerMessage::text(Channel::from("WhatsApp"), id, from, "my order is broken")
}

fn service(dir: &std::path::Path, org: Arc<Org>) -> BridgeService {
    let store = EmbeddedStore::open(dir).unwrap();
    let inbox: Arc<dyn JobQueue> = Arc::new(store.queue("inbox").unwrap());
    let outbox: Arc<dyn JobQueue> = Arc::new(store.queue("outbox").unwrap());
    let bridge = Bridge::builder(org)
        .sender(Arc::new(RecordingSender::new("WhatsApp")))
        .build();
    let mut options = ServiceOptions::default();
    let fast = WorkerOptions::default().idle_poll(Duration::from_millis(5));
    options.inbox = fast.clone();
    options.outbox = fast;
    BridgeService::start_with(bridge, inbox, outbox, options, Arc::new(SystemClock))
}

async fn until_not_ready(s: &BridgeService) -> Vec<String> {
    for _ in 0..400 {
        let r = s.readiness().await;
        if !r.ready {
            return r.reasons;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("still ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_takes_no_writes_is_not_ready_until_it_does() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), Arc::default());
    assert!(s.readiness().await.ready, "{:?}", s.readiness().await);
    // Tests run as root, where a read-only mode is not enforced: the probe's
    // file is made impossible to create instead (a directory in its place).
    let blocker = dir.path().join(".ready-probe");
    std::fs::create_dir(&blocker).unwrap();
    let r = s.readiness().await;
    assert!(!r.ready);
    assert!(
        r.reasons
            .iter()
            .any(|x| x.starts_with("store (inbox)") && x.contains("takes no writes")),
        "{r:?}"
    );
    assert_eq!(r.to_json()["ready"], false);
    std::fs::remove_dir(&blocker).unwrap();
    assert!(s.readiness().await.ready);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_make_it_unready_until_a_call_goes_through() {
    let dir = tempfile::tempdir().unwrap();
    let org = Arc::new(Org::default());
    let s = service(dir.path(), org.clone());
    org.refusing.store(true, Ordering::SeqCst);
    s.inbox()
        .enqueue_message(&message("wamid.R1", "14155550123"))
        .await
        .unwrap();
    let reasons = until_not_ready(&s).await;
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("Salesforce: credentials refused")),
        "{reasons:?}"
    );
    assert!(
        !reasons.iter().any(|r| r.contains("14155550123")),
        "{reasons:?}"
    );
    // The credentials are fixed: another customer's message goes through
    // and it is ready again (the refused one waits `AUTH_RETRY_AFTER` for
    // its next attempt, holding its customer's later messages behind it).
    org.refusing.store(false, Ordering::SeqCst);
    s.inbox()
        .enqueue_message(&message("wamid.R2", "14155550188"))
        .await
        .unwrap();
    for _ in 0..600 {
        if s.readiness().await.ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(s.readiness().await.ready, "{:?}", s.readiness().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_workers_are_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), Arc::default());
    s.shutdown().await;
    let r = s.readiness().await;
    assert!(
        r.reasons.iter().any(|x| x.starts_with("workers (inbox)")),
        "{r:?}"
    );
    assert!(
        r.reasons.iter().any(|x| x.starts_with("workers (outbox)")),
        "{r:?}"
    );
}
