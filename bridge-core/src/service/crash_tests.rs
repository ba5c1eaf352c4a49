//! A WhatsApp send cut short by a crash (the request left, the receipt was
//! never recorded): the job comes back with the outbox's intent and no
//! receipt, and is sent again only when no status proves it left in time.

use std::sync::Mutex;

use super::inbox::status_rank_key;
use super::*;
use crate::BridgeError;
use crate::clock::ManualClock;
use crate::dedup::{DedupStore, MemoryDedupStore};
use crate::embedded::MemoryQueue;
use crate::inbound::Channel;
use crate::ledger::{LedgerEntry, LedgerStatus};
use crate::queue::Lease;
use crate::sender::{RecordingSender, SendReceipt};
use crate::writer::RecordWriter;

/// Keeps the ledger entries it is given.
#[derive(Default)]
struct Ledger(Mutex<Vec<LedgerEntry>>);

#[async_trait]
impl RecordWriter for Ledger {
    async fn write(
        &self,
        _action: &Action,
        _m: &CustomerMessage,
    ) -> Result<WriteOutcome, BridgeError> {
        Err(BridgeError::Mapping("no records in this test".into()))
    }
    async fn write_ledger(&self, entries: &[LedgerEntry]) -> Vec<Result<(), BridgeError>> {
        if let Ok(mut l) = self.0.lock() {
            l.extend(entries.iter().cloned());
        }
        entries.iter().map(|_| Ok(())).collect()
    }
}

struct Rig {
    clock: Arc<ManualClock>,
    queue: Arc<MemoryQueue>,
    wa: Arc<RecordingSender>,
    statuses: Arc<MemoryDedupStore>,
    ledger: Arc<Ledger>,
    handler: OutboxHandler,
}

const VIS: Duration = Duration::from_secs(60);

impl Rig {
    fn new() -> Self {
        let clock = Arc::new(ManualClock::at_millis(1_735_689_600_000));
        let queue = Arc::new(MemoryQueue::new("outbox").unwrap_or_else(|e| panic!("{e}")));
        let wa = Arc::new(RecordingSender::new("WhatsApp"));
        let statuses = Arc::new(MemoryDedupStore::new(100));
        let ledger = Arc::new(Ledger::default());
        let outbox = Outbox::new(queue.clone(), clock.clone(), None);
        let handler = OutboxHandler {
            primary: wa.clone(),
            fallback: None,
            outbox,
            guard: Arc::default(),
            sent_ids: Some((statuses.clone(), Duration::from_secs(3_600))),
            sent: Arc::new(crate::sent::MemorySentLog::default()),
            ledger: Some(ledger.clone()),
            ledger_queue: None,
            unconfirmed_wait: Duration::from_secs(120),
            clock: clock.clone(),
            health: crate::health::Health::new(),
        };
        Self {
            clock,
            queue,
            wa,
            statuses,
            ledger,
            handler,
        }
    }

    /// Queues an agent's reply, and plays an attempt that recorded its
    /// intent, sent, and died before the receipt.
    async fn crashed_mid_send(&self) -> String {
        let job = SendJob::new(
            "14155550123",
            Outbound::text("Your refund is on its way"),
            "agent_reply",
        );
        self.handler
            .outbox
            .enqueue("agent:a0X000000000001AAA", &job)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let l = self.lease().await;
        let intent = outbox::SendIntent {
            sending_since: self.clock.now().timestamp_millis(),
        };
        self.queue
            .checkpoint(&l, &serde_json::to_vec(&intent).unwrap_or_default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        self.clock.advance(VIS + Duration::from_secs(1));
        crate::ledger::outbound_key("agent:a0X000000000001AAA")
    }

    async fn lease(&self) -> Lease {
        let mut l = self
            .queue
            .lease(1, VIS, self.clock.now())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.len(), 1, "the job is due");
        l.remove(0)
    }

    async fn attempt(&self) -> Result<(), JobError> {
        let l = self.lease().await;
        let r = self
            .handler
            .handle(&JobContext::new(&l, &*self.queue))
            .await;
        if r.is_ok() {
            self.queue
                .ack(&l, self.clock.now())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        } else {
            self.queue
                .release(&l, self.clock.now())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        r
    }
}

#[tokio::test]
async fn a_status_proves_the_send_left_and_it_is_not_sent_again() {
    let rig = Rig::new();
    let key = rig.crashed_mid_send().await;
    // WhatsApp's "delivered" status came back (it carries the ledger key).
    rig.statuses
        .mark_done(
            &status_rank_key(&key, LedgerStatus::Delivered.rank()),
            Duration::from_secs(3_600),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    rig.attempt().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(rig.wa.sent().is_empty(), "never sent twice");
    let entries = rig.ledger.0.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(entries.len(), 1, "its ledger record is written");
    assert_eq!(entries[0].key, key);
    assert_eq!(entries[0].status, None, "the later status stands");
    assert_eq!(entries[0].whatsapp_id, None, "the status brings the id");
}

#[tokio::test]
async fn without_a_status_the_send_waits_then_goes_once() {
    let rig = Rig::new();
    let _ = rig.crashed_mid_send().await;
    let held = rig.attempt().await.unwrap_err();
    assert!(held.message.contains("waiting for its status"), "{held}");
    let wait = held.retry_after.unwrap_or_default();
    assert!(
        wait > Duration::from_secs(50) && wait <= Duration::from_secs(120),
        "held for the rest of the wait: {wait:?}"
    );
    assert!(
        rig.wa.sent().is_empty(),
        "nothing sent while it may have left"
    );
    // The wait is over and no status came: it never left. Send it.
    rig.clock.advance(Duration::from_secs(120));
    rig.attempt().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rig.wa.sent().len(), 1);
}

#[tokio::test]
async fn every_send_records_its_intent_first() {
    let rig = Rig::new();
    let job = SendJob::new("14155550123", Outbound::text("Hello"), "agent_reply");
    rig.handler
        .outbox
        .enqueue("agent:a0X000000000002AAA", &job)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    rig.attempt().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rig.wa.sent().len(), 1);
    // The receipt replaced the intent: a redelivery sends nothing.
    let stats = rig
        .queue
        .stats(rig.clock.now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.depth + stats.in_flight, 0, "done");
}

/// Times out once (the request may have left), then sends.
struct TimesOutOnce {
    inner: RecordingSender,
    failed: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl ChannelSender for TimesOutOnce {
    fn channel(&self) -> Channel {
        Channel::WhatsApp
    }
    async fn send(&self, to: &str, m: &Outbound) -> Result<SendReceipt, crate::sender::SendError> {
        if !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(crate::sender::SendError::new("WhatsApp", "timed out")
                .retryable(true)
                .ambiguous(true));
        }
        self.inner.send(to, m).await
    }
}

#[tokio::test]
async fn a_timed_out_send_waits_for_its_status() {
    let mut rig = Rig::new();
    let sender = Arc::new(TimesOutOnce {
        inner: RecordingSender::new("WhatsApp"),
        failed: std::sync::atomic::AtomicBool::new(false),
    });
    rig.handler.primary = sender.clone();
    let job = SendJob::new("14155550123", Outbound::text("Hello"), "agent_reply");
    rig.handler
        .outbox
        .enqueue("agent:a0X000000000003AAA", &job)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let timed_out = rig.attempt().await.unwrap_err();
    assert!(timed_out.message.contains("timed out"), "{timed_out}");
    let held = rig.attempt().await.unwrap_err();
    assert!(
        held.message.contains("waiting for its status"),
        "a timeout may have sent it: {held}"
    );
    assert!(sender.inner.sent().is_empty());
    rig.clock.advance(Duration::from_secs(121));
    rig.attempt().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sender.inner.sent().len(), 1, "no status came: sent once");
}

/// A `sent` status that beats the send's own ledger record (statuses race
/// it) is queued beside it, never in its place: both are written.
#[tokio::test]
async fn a_status_that_beats_the_sends_record_does_not_swallow_it() {
    let clock = Arc::new(ManualClock::at_millis(1_735_689_600_000));
    let queue = Arc::new(MemoryQueue::new("ledger").unwrap_or_else(|e| panic!("{e}")));
    let ledger = ledger::LedgerQueue {
        q: Enqueuer {
            queue: queue.clone(),
            clock: clock.clone(),
            waker: None,
        },
    };
    let key = crate::ledger::outbound_key("agent:a0X000000000004AAA");
    let status = LedgerEntry::status(&key, LedgerStatus::Sent, Some(clock.now()));
    ledger.put(&status).await.unwrap_or_else(|e| panic!("{e}"));
    let record = LedgerEntry::outbound(
        key.clone(),
        "14155550123",
        "Your refund is on its way",
        Some("wamid.X".into()),
        clock.now(),
    );
    assert_eq!(record.status, Some(LedgerStatus::Sent));
    ledger.put(&record).await.unwrap_or_else(|e| panic!("{e}"));
    let stats = queue
        .stats(clock.now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.depth, 2, "the record and the status are two entries");
}

/// A send's own record (`Sent`) that reaches the ledger worker after its
/// `delivered` status was recorded is written without its status: a
/// status never goes back, whatever order the two were queued in.
#[tokio::test]
async fn a_sends_record_never_sets_a_delivered_message_back_to_sent() {
    let clock = Arc::new(ManualClock::at_millis(1_735_689_600_000));
    let queue = Arc::new(MemoryQueue::new("ledger").unwrap_or_else(|e| panic!("{e}")));
    let writer = Arc::new(Ledger::default());
    let statuses = Arc::new(MemoryDedupStore::new(100));
    let key = crate::ledger::outbound_key("agent:a0X000000000005AAA");
    statuses
        .mark_done(
            &status_rank_key(&key, LedgerStatus::Delivered.rank()),
            Duration::from_secs(3_600),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let wake = Arc::new(tokio::sync::Notify::new());
    let worker = ledger::LedgerWorker::spawn(
        queue.clone(),
        writer.clone(),
        Some(statuses),
        ledger::LedgerOptions::default()
            .linger(Duration::ZERO)
            .idle_poll(Duration::from_millis(5)),
        clock.clone(),
        wake.clone(),
    );
    let put = ledger::LedgerQueue {
        q: Enqueuer {
            queue: queue.clone(),
            clock: clock.clone(),
            waker: Some(wake),
        },
    };
    let record = LedgerEntry::outbound(
        key.clone(),
        "14155550123",
        "Your refund is on its way",
        Some("wamid.X".into()),
        clock.now(),
    );
    put.put(&record).await.unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..200 {
        if !writer.0.lock().map(|l| l.is_empty()).unwrap_or(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    worker.shutdown().await;
    let written = writer.0.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(written.len(), 1, "the record is written");
    assert_eq!(written[0].status, None, "delivered stays delivered");
    assert_eq!(written[0].whatsapp_id.as_deref(), Some("wamid.X"));
    assert_eq!(
        written[0].body.as_deref(),
        Some("Your refund is on its way")
    );
}
