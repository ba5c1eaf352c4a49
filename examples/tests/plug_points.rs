//! Every trait an app plugs behaviour into is implemented here, outside its
//! crate, and checked with the crate's own conformance suite where there is
//! one: if a type becomes impossible to build from outside (a private field, a
//! missing constructor), this stops compiling.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bridge_core::BridgeError;
use bridge_core::clock::{Clock, ManualClock};
use bridge_core::dedup::{Claim, ClaimToken, DedupStore};
use bridge_core::embedded::MemoryQueue;
use bridge_core::inbound::{Channel, CustomerMessage};
use bridge_core::mapping::{Action, Mapper, case_draft};
use bridge_core::optout::{OptOut, OptOutStore, customer_key};
use bridge_core::pipeline::{Bridge, OutcomeKind};
use bridge_core::queue::{
    DeadLetter, Enqueued, JobContext, JobError, JobHandler, JobId, JobQueue, Lease, NewJob,
    QueueError, QueueStats,
};
use bridge_core::routing::Priority;
use bridge_core::sender::{ChannelSender, Outbound, SendError, SendReceipt};
use bridge_core::window::WindowTracker;
use bridge_core::writer::{RecordWriter, WriteOutcome};
use chrono::{DateTime, Utc};
use salesforce_rest::auth::{StoredToken, TokenStore};

/// A dedup store written from scratch, on the clock it is given.
struct MyDedup {
    keys: Mutex<HashMap<String, (u64, DateTime<Utc>)>>,
    next: Mutex<u64>,
    clock: Arc<dyn Clock>,
}

impl MyDedup {
    fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            keys: Mutex::default(),
            next: Mutex::default(),
            clock,
        }
    }

    fn until(&self, d: Duration) -> DateTime<Utc> {
        self.clock.now() + chrono::Duration::from_std(d).unwrap()
    }
}

#[async_trait]
impl DedupStore for MyDedup {
    async fn claim(&self, key: &str, ttl: Duration) -> Result<Claim, BridgeError> {
        let mut keys = self.keys.lock().unwrap();
        if let Some((token, until)) = keys.get(key)
            && *until > self.clock.now()
        {
            return Ok(if *token == 0 {
                Claim::Done
            } else {
                Claim::InFlight
            });
        }
        let mut next = self.next.lock().unwrap();
        *next += 1;
        keys.insert(key.to_owned(), (*next, self.until(ttl)));
        Ok(Claim::New(ClaimToken::new(key, *next)))
    }
    async fn complete(&self, t: &ClaimToken, keep: Duration) -> Result<(), BridgeError> {
        let mut keys = self.keys.lock().unwrap();
        match keys.get(t.key()) {
            Some((token, until)) if *token == t.token() && *until > self.clock.now() => {
                keys.insert(t.key().to_owned(), (0, self.until(keep)));
                Ok(())
            }
            _ => Err(BridgeError::Store("claim lost".into())),
        }
    }
    async fn release(&self, t: &ClaimToken) -> Result<(), BridgeError> {
        let mut keys = self.keys.lock().unwrap();
        if keys
            .get(t.key())
            .is_some_and(|(token, _)| *token == t.token())
        {
            keys.remove(t.key());
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dedup_store_from_outside_passes_the_suite() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    bridge_core::dedup::conformance::run(Arc::new(MyDedup::new(clock.clone())), &clock).await;
}

/// A queue that delegates (say, to add metrics): the trait is open.
struct Counted(MemoryQueue, std::sync::atomic::AtomicUsize);

#[async_trait]
impl JobQueue for Counted {
    async fn enqueue(&self, job: NewJob, now: DateTime<Utc>) -> Result<Enqueued, QueueError> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.0.enqueue(job, now).await
    }
    async fn lease(
        &self,
        max: usize,
        vis: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Lease>, QueueError> {
        self.0.lease(max, vis, now).await
    }
    async fn checkpoint(&self, l: &Lease, data: &[u8]) -> Result<(), QueueError> {
        self.0.checkpoint(l, data).await
    }
    async fn ack(&self, l: &Lease, now: DateTime<Utc>) -> Result<(), QueueError> {
        self.0.ack(l, now).await
    }
    async fn nack(&self, l: &Lease, at: DateTime<Utc>, e: &str) -> Result<(), QueueError> {
        self.0.nack(l, at, e).await
    }
    async fn dead_letter(&self, l: &Lease, e: &str, now: DateTime<Utc>) -> Result<(), QueueError> {
        self.0.dead_letter(l, e, now).await
    }
    async fn release(&self, l: &Lease, now: DateTime<Utc>) -> Result<(), QueueError> {
        self.0.release(l, now).await
    }
    async fn extend(&self, l: &Lease, vis: Duration, now: DateTime<Utc>) -> Result<(), QueueError> {
        self.0.extend(l, vis, now).await
    }
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        self.0.dead_letters(limit).await
    }
    async fn replay(&self, id: &JobId, now: DateTime<Utc>) -> Result<(), QueueError> {
        self.0.replay(id, now).await
    }
    async fn purge(&self, id: Option<&JobId>, now: DateTime<Utc>) -> Result<u64, QueueError> {
        self.0.purge(id, now).await
    }
    async fn stats(&self, now: DateTime<Utc>) -> Result<QueueStats, QueueError> {
        self.0.stats(now).await
    }
    async fn prune(
        &self,
        now: DateTime<Utc>,
        retention: &bridge_core::queue::Retention,
    ) -> Result<bridge_core::queue::Pruned, QueueError> {
        self.0.prune(now, retention).await
    }
    async fn erase_customer(
        &self,
        customer: &bridge_core::erase::Customer,
    ) -> Result<(u64, u64), QueueError> {
        self.0.erase_customer(customer).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_from_outside_passes_the_suite() {
    let q = Arc::new(Counted(
        MemoryQueue::new("outside").unwrap(),
        Default::default(),
    ));
    bridge_core::queue::conformance::run(q.clone(), &ManualClock::at_millis(1_767_225_600_000))
        .await;
    assert!(q.1.load(std::sync::atomic::Ordering::Relaxed) > 0);
}

#[derive(Default)]
struct MyWindow(Mutex<HashMap<String, DateTime<Utc>>>);

#[async_trait]
impl WindowTracker for MyWindow {
    async fn record_inbound(&self, customer: &str, at: DateTime<Utc>) -> Result<(), BridgeError> {
        let mut m = self.0.lock().unwrap();
        let e = m.entry(customer.to_owned()).or_insert(at);
        *e = (*e).max(at);
        Ok(())
    }
    async fn last_inbound(&self, customer: &str) -> Result<Option<DateTime<Utc>>, BridgeError> {
        Ok(self.0.lock().unwrap().get(customer).copied())
    }
}

#[tokio::test]
async fn a_window_tracker_from_outside_passes_the_suite() {
    bridge_core::window::conformance::run(
        Arc::new(MyWindow::default()),
        &ManualClock::at_millis(1_767_225_600_000),
    )
    .await;
}

#[derive(Default)]
struct MyOptOuts(Mutex<HashMap<String, OptOut>>);

#[async_trait]
impl OptOutStore for MyOptOuts {
    async fn opt_out(&self, c: &str, reason: &str, at: DateTime<Utc>) -> Result<(), BridgeError> {
        self.0
            .lock()
            .unwrap()
            .entry(customer_key(c))
            .or_insert_with(|| OptOut::new(at, reason));
        Ok(())
    }
    async fn opt_in(&self, c: &str, _at: DateTime<Utc>) -> Result<(), BridgeError> {
        self.0.lock().unwrap().remove(&customer_key(c));
        Ok(())
    }
    async fn get(&self, c: &str) -> Result<Option<OptOut>, BridgeError> {
        Ok(self.0.lock().unwrap().get(&customer_key(c)).cloned())
    }
}

#[tokio::test]
async fn an_opt_out_store_from_outside_passes_the_suite() {
    bridge_core::optout::conformance::run(
        Arc::new(MyOptOuts::default()),
        &ManualClock::at_millis(1_767_225_600_000),
    )
    .await;
}

#[derive(Default)]
struct MyTokens(Mutex<Option<StoredToken>>);

#[async_trait]
impl TokenStore for MyTokens {
    async fn load(&self) -> Result<Option<StoredToken>, salesforce_rest::Error> {
        Ok(self.0.lock().unwrap().clone())
    }
    async fn compare_and_swap(
        &self,
        expected: Option<u64>,
        new: StoredToken,
    ) -> Result<bool, salesforce_rest::Error> {
        let mut slot = self.0.lock().unwrap();
        if slot.as_ref().map(|t| t.version) != expected {
            return Ok(false);
        }
        *slot = Some(new);
        Ok(true)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_store_from_outside_passes_the_suite() {
    salesforce_rest::auth::store_conformance::run(
        Arc::new(MyTokens::default()),
        &salesforce_rest::auth::ManualClock::at_millis(1_767_225_600_000),
    )
    .await;
}

/// Every message is a Case, with the crate's draft helper.
struct AlwaysCase;

#[async_trait]
impl Mapper for AlwaysCase {
    async fn map(&self, m: &CustomerMessage) -> Result<Action, BridgeError> {
        let text = m.text_content().unwrap_or("(no text)");
        let route = bridge_core::routing::KeywordRouter::default().route(text);
        Ok(Action::CreateCase {
            case: case_draft(m, text, Priority::Medium, 8),
            route,
        })
    }
}

#[derive(Default)]
struct MyCrm(Mutex<Vec<String>>);

#[async_trait]
impl RecordWriter for MyCrm {
    async fn write(
        &self,
        action: &Action,
        m: &CustomerMessage,
    ) -> Result<WriteOutcome, BridgeError> {
        self.0.lock().unwrap().push(m.id.clone());
        let mut out = WriteOutcome::default();
        out.object = if matches!(action, Action::CreateCase { .. }) {
            "Case"
        } else {
            "Lead"
        }
        .into();
        out.record_id = Some("500000000000001AAA".into());
        out.case_number = Some("00001026".into());
        out.created = true;
        Ok(out)
    }
}

#[derive(Default)]
struct MySms(Mutex<Vec<String>>);

#[async_trait]
impl ChannelSender for MySms {
    fn channel(&self) -> Channel {
        Channel::Sms
    }
    async fn send(&self, to: &str, m: &Outbound) -> Result<SendReceipt, SendError> {
        if to.is_empty() {
            return Err(SendError::new("SMS", "no number").unreachable(true));
        }
        self.0.lock().unwrap().push(m.text.clone());
        Ok(SendReceipt::new(
            "SMS",
            Some(format!("sms-{}", self.0.lock().unwrap().len())),
        ))
    }
}

struct Echo;

#[async_trait]
impl JobHandler for Echo {
    async fn handle(&self, cx: &JobContext<'_>) -> Result<(), JobError> {
        if cx.job().payload.is_empty() {
            return Err(JobError::permanent("empty"));
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_bridge_composed_only_of_outside_parts_works() {
    let crm = Arc::new(MyCrm::default());
    let sms = Arc::new(MySms::default());
    let bridge = Bridge::builder(crm.clone())
        .mapper(Arc::new(AlwaysCase))
        .dedup(Arc::new(MyDedup::new(Arc::new(
            bridge_core::clock::SystemClock,
        ))))
        .window(Arc::new(MyWindow::default()))
        .sender(sms.clone())
        .build();
    let mut m = CustomerMessage::text(Channel::Sms, "sms.1", "14155550123", "hello there");
    m.sent_at = Some(Utc::now());
    let outcome = bridge.handle(m.clone()).await.unwrap();
    assert!(
        matches!(outcome.kind, OutcomeKind::Processed { .. }),
        "{outcome:?}"
    );
    assert_eq!(bridge.handle(m).await.unwrap().kind, OutcomeKind::Duplicate);
    assert_eq!(crm.0.lock().unwrap().len(), 1);
    assert!(sms.0.lock().unwrap()[0].contains("00001026"));
    let _handler: Arc<dyn JobHandler> = Arc::new(Echo);
}
