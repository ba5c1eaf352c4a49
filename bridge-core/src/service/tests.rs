use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::BridgeError;
use crate::clock::{ManualClock, SystemClock};
use crate::dedup::{DedupStore, MemoryDedupStore};
use crate::embedded::MemoryQueue;
use crate::inbound::Channel;
use crate::queue::{Lease, NewJob, RetryPolicy};
use crate::sender::SendReceipt;
use crate::sender::{RecordingSender, SendError};
use crate::writer::RecordWriter;

#[derive(Default)]
struct Crm {
    writes: AtomicUsize,
    order: Mutex<Vec<String>>,
    slow_first: bool,
}

#[async_trait]
impl RecordWriter for Crm {
    async fn write(
        &self,
        action: &Action,
        m: &CustomerMessage,
    ) -> Result<WriteOutcome, BridgeError> {
        if self.slow_first && self.writes.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(80)).await;
        }
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(mut o) = self.order.lock() {
            o.push(m.id.clone());
        }
        let case = matches!(action, Action::CreateCase { .. });
        Ok(WriteOutcome {
            object: if case { "Case" } else { "Lead" }.into(),
            record_id: Some(format!("rec{n}")),
            case_number: case.then(|| format!("{:08}", 1025 + n)),
            created: true,
            follow_up_task: None,
            acknowledgement: None,
        })
    }
}

/// Fails the first `failures` sends with a retryable (or not) error.
struct Flaky {
    inner: RecordingSender,
    failures: AtomicUsize,
    retryable: bool,
    attempts: AtomicUsize,
}

impl Flaky {
    fn new(failures: usize, retryable: bool) -> Self {
        Self {
            inner: RecordingSender::new("WhatsApp"),
            failures: AtomicUsize::new(failures),
            retryable,
            attempts: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl ChannelSender for Flaky {
    fn channel(&self) -> Channel {
        Channel::from("WhatsApp")
    }
    async fn send(&self, to: &str, m: &Outbound) -> Result<SendReceipt, SendError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.failures.load(Ordering::SeqCst) > 0 {
            self.failures.fetch_sub(1, Ordering::SeqCst);
            let e = SendError::new(
                "WhatsApp",
                if self.retryable {
                    "131000: something went wrong"
                } else {
                    "131047: re-engagement message"
                },
            );
            return Err(if self.retryable {
                e.rate_limited(Some(Duration::from_millis(5)))
            } else {
                e
            });
        }
        self.inner.send(to, m).await
    }
}

fn fast() -> WorkerOptions {
    WorkerOptions::default()
        .idle_poll(Duration::from_millis(5))
        .retry(RetryPolicy::new(
            5,
            Duration::from_millis(5),
            Duration::from_millis(40),
        ))
}

fn msg(id: &str, from: &str, body: &str) -> CustomerMessage {
    let mut m = CustomerMessage::text(Channel::WhatsApp, id, from, body);
    m.sent_at = Some(Utc::now());
    m
}

fn queues() -> (Arc<MemoryQueue>, Arc<MemoryQueue>) {
    (
        Arc::new(MemoryQueue::new("inbox").unwrap()),
        Arc::new(MemoryQueue::new("outbox").unwrap()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_written_once_and_answered_once_through_the_outbox() {
    let crm = Arc::new(Crm::default());
    let wa = Arc::new(RecordingSender::new("WhatsApp"));
    let bridge = Bridge::builder(crm.clone()).sender(wa.clone()).build();
    let (inbox, outbox) = queues();
    let svc = BridgeService::start(bridge, inbox, outbox, fast(), Arc::new(SystemClock));
    let m = msg("wamid.1", "14155550123", "my order arrived broken");
    assert!(matches!(
        svc.inbox().enqueue_message(&m).await.unwrap(),
        Enqueued::New(_)
    ));
    assert!(svc.drain(Duration::from_secs(10)).await);
    // Meta redelivers: one job, nothing more.
    assert!(matches!(
        svc.inbox().enqueue_message(&m).await.unwrap(),
        Enqueued::Duplicate(_)
    ));
    assert!(svc.drain(Duration::from_secs(10)).await);
    assert_eq!(crm.writes.load(Ordering::SeqCst), 1);
    let sent = wa.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].1.contains("00001026"));
    svc.shutdown().await;
}

/// A bridge replying through `sender`, after one support message was processed.
async fn one_message_through(
    sender: Arc<dyn ChannelSender>,
    id: &str,
) -> (BridgeService, Arc<MemoryQueue>) {
    let bridge = Bridge::builder(Arc::new(Crm::default()))
        .sender(sender)
        .build();
    let (inbox, outbox) = queues();
    let svc = BridgeService::start(bridge, inbox, outbox.clone(), fast(), Arc::new(SystemClock));
    svc.inbox()
        .enqueue_message(&msg(id, "14155550123", "broken"))
        .await
        .unwrap();
    assert!(svc.drain(Duration::from_secs(10)).await);
    (svc, outbox)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_fails_transiently_is_delivered_once() {
    let flaky = Arc::new(Flaky::new(3, true));
    let (svc, outbox) = one_message_through(flaky.clone(), "wamid.2").await;
    assert_eq!(flaky.attempts.load(Ordering::SeqCst), 4);
    assert_eq!(flaky.inner.sent().len(), 1);
    let stats = outbox.stats(Utc::now()).await.unwrap();
    assert_eq!((stats.retries, stats.dead_letters), (3, 0));
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_outside_the_window_is_dead_lettered_with_its_error() {
    let flaky = Arc::new(Flaky::new(1, false));
    let (svc, outbox) = one_message_through(flaky.clone(), "wamid.3").await;
    assert_eq!(flaky.attempts.load(Ordering::SeqCst), 1, "never retried");
    let dead = outbox.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].error.contains("131047"), "{}", dead[0].error);
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_claimed_elsewhere_is_retried_not_acknowledged_and_lost() {
    let crm = Arc::new(Crm::default());
    let dedup = Arc::new(MemoryDedupStore::new(100));
    // Another worker claimed it and died: the claim expires in 150 ms.
    let m = msg("wamid.4", "14155550123", "broken");
    assert!(matches!(
        dedup
            .claim(&m.dedup_key(), Duration::from_millis(150))
            .await
            .unwrap(),
        Claim::New(_)
    ));
    let bridge = Bridge::builder(crm.clone()).dedup(dedup).build();
    let (inbox, outbox) = queues();
    // Retries that outlast the claim (5 attempts over at least 350 ms; the
    // `fast` policy's 75 ms ran out before the claim did once the store
    // got faster).
    let patient = fast().retry(RetryPolicy::new(
        5,
        Duration::from_millis(50),
        Duration::from_millis(200),
    ));
    let svc = BridgeService::start(bridge, inbox, outbox, patient, Arc::new(SystemClock));
    svc.inbox().enqueue_message(&m).await.unwrap();
    assert!(svc.drain(Duration::from_secs(10)).await);
    assert_eq!(
        crm.writes.load(Ordering::SeqCst),
        1,
        "processed after the dead worker's claim expired"
    );
    svc.shutdown().await;
}

#[tokio::test]
async fn after_a_crash_the_next_attempt_neither_writes_nor_sends_again() {
    let clock = Arc::new(ManualClock::at_millis(1_735_689_600_000));
    let crm = Arc::new(Crm::default());
    let wa = Arc::new(RecordingSender::new("WhatsApp"));
    let bridge = Bridge::builder(crm.clone()).sender(wa.clone()).build();
    let (inbox_q, outbox_q) = queues();
    let outbox = Outbox::new(outbox_q.clone(), clock.clone(), None);
    let sent: Arc<dyn crate::sent::SentLog> = Arc::new(crate::sent::MemorySentLog::default());
    let inbox_h = InboxHandler {
        bridge: bridge.clone(),
        outbox: outbox.clone(),
        sent: sent.clone(),
        fallback: false,
        on_status: None,
        opt_outs: None,
        on_notice: None,
        clock: clock.clone(),
        orphans: Arc::default(),
        ledger_queue: None,
        health: crate::health::Health::new(),
    };
    let outbox_h = OutboxHandler {
        primary: wa.clone(),
        fallback: None,
        outbox: outbox.clone(),
        guard: bridge.guard.clone(),
        sent_ids: None,
        sent,
        ledger: None,
        ledger_queue: None,
        unconfirmed_wait: Duration::from_secs(120),
        clock: clock.clone(),
        health: crate::health::Health::new(),
    };
    let inbox = Inbox::new(inbox_q.clone(), clock.clone(), None);
    inbox
        .enqueue_message(&msg("wamid.5", "14155550123", "broken"))
        .await
        .unwrap();
    let vis = Duration::from_secs(60);
    // Attempt 1 writes (and checkpoints), then "crashes" before the ack.
    let l: Vec<Lease> = inbox_q.lease(1, vis, clock.now()).await.unwrap();
    inbox_h
        .handle(&JobContext::new(&l[0], &*inbox_q))
        .await
        .unwrap();
    // The dedup claim is done in this process; a restarted process would only
    // have the checkpoint: drop the claim memory by using a fresh dedup store.
    clock.advance(Duration::from_secs(61));
    let l2 = inbox_q.lease(1, vis, clock.now()).await.unwrap();
    assert_eq!(l2[0].job.attempts, 2);
    assert!(l2[0].job.checkpoint.is_some(), "the write was checkpointed");
    let fresh = Bridge::builder(crm.clone()).sender(wa.clone()).build();
    let h2 = InboxHandler {
        bridge: fresh,
        outbox: outbox.clone(),
        sent: Arc::new(crate::sent::MemorySentLog::default()),
        fallback: false,
        on_status: None,
        opt_outs: None,
        on_notice: None,
        clock: clock.clone(),
        orphans: Arc::default(),
        ledger_queue: None,
        health: crate::health::Health::new(),
    };
    h2.handle(&JobContext::new(&l2[0], &*inbox_q))
        .await
        .unwrap();
    inbox_q.ack(&l2[0], clock.now()).await.unwrap();
    assert_eq!(
        crm.writes.load(Ordering::SeqCst),
        1,
        "the checkpoint prevents a second write"
    );
    // The reply job: sent, then a crash before the ack.
    let o = outbox_q.lease(1, vis, clock.now()).await.unwrap();
    assert_eq!(o.len(), 1, "one reply job despite two attempts");
    outbox_h
        .handle(&JobContext::new(&o[0], &*outbox_q))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(61));
    let o2 = outbox_q.lease(1, vis, clock.now()).await.unwrap();
    outbox_h
        .handle(&JobContext::new(&o2[0], &*outbox_q))
        .await
        .unwrap();
    outbox_q.ack(&o2[0], clock.now()).await.unwrap();
    assert_eq!(
        wa.sent().len(),
        1,
        "the recorded message id prevents a second send"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_statuses_drive_the_fallback_channel() {
    let wa = Arc::new(RecordingSender::new("WhatsApp"));
    let sms = Arc::new(RecordingSender::new("SMS"));
    let bridge = Bridge::builder(Arc::new(Crm::default()))
        .sender(wa.clone())
        .build();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let options = ServiceOptions {
        inbox: fast(),
        outbox: fast(),
        fallback: Some(sms.clone()),
        opt_outs: None,
        on_notice: None,
        on_status: Some(Arc::new(move |s: &StatusUpdate| {
            if let Ok(mut v) = seen2.lock() {
                v.push(s.status.clone());
            }
        })),
        ..ServiceOptions::default()
    };
    let (inbox, outbox) = queues();
    let svc = BridgeService::start_with(bridge, inbox, outbox, options, Arc::new(SystemClock));
    svc.inbox()
        .enqueue_message(&msg("wamid.6", "14155550123", "broken"))
        .await
        .unwrap();
    assert!(svc.drain(Duration::from_secs(10)).await);
    assert_eq!(wa.sent().len(), 1);
    // WhatsApp accepted the reply (id whatsapp-1), then reports it undeliverable.
    let status = StatusUpdate::new("whatsapp-1", "failed").unreachable("14155550123");
    svc.inbox().enqueue_status(&status).await.unwrap();
    svc.inbox().enqueue_status(&status).await.unwrap(); // redelivered
    assert!(svc.drain(Duration::from_secs(10)).await);
    let texts = sms.sent();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].1.contains("00001026"));
    assert_eq!(seen.lock().unwrap().as_slice(), ["failed"]);
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unparsable_job_is_dead_lettered_and_the_queue_moves_on() {
    let crm = Arc::new(Crm::default());
    let bridge = Bridge::builder(crm.clone()).build();
    let (inbox, outbox) = queues();
    inbox
        .enqueue(
            NewJob::new("old", "customer:1", b"{\"event\":\"from_v9\"}".to_vec()),
            Utc::now(),
        )
        .await
        .unwrap();
    let svc = BridgeService::start(bridge, inbox.clone(), outbox, fast(), Arc::new(SystemClock));
    svc.inbox()
        .enqueue_message(&msg("wamid.7", "1", "broken"))
        .await
        .unwrap();
    assert!(svc.drain(Duration::from_secs(10)).await);
    assert_eq!(
        crm.writes.load(Ordering::SeqCst),
        1,
        "the next job of the same customer ran"
    );
    let dead = inbox.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].error.contains("does not parse"),
        "{}",
        dead[0].error
    );
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_customers_messages_run_in_arrival_order() {
    let crm = Arc::new(Crm {
        slow_first: true,
        ..Crm::default()
    });
    let bridge = Bridge::builder(crm.clone()).build();
    let (inbox, outbox) = queues();
    let svc = BridgeService::start(
        bridge,
        inbox,
        outbox,
        fast().concurrency(8),
        Arc::new(SystemClock),
    );
    for i in 0..5 {
        svc.inbox()
            .enqueue_message(&msg(&format!("m{i}"), "14155550123", "broken"))
            .await
            .unwrap();
    }
    assert!(svc.drain(Duration::from_secs(10)).await);
    assert_eq!(
        crm.order.lock().unwrap().as_slice(),
        ["m0", "m1", "m2", "m3", "m4"]
    );
    svc.shutdown().await;
}

/// Tags every Lead with a word of its message (tags land on the message records).
struct Tagging(crate::mapping::DefaultMapper);

#[async_trait]
impl crate::mapping::Mapper for Tagging {
    async fn map(&self, m: &CustomerMessage) -> Result<Action, BridgeError> {
        let mut action = self.0.map(m).await?;
        if let Action::UpsertLead { lead, .. } = &mut action {
            let n: usize = m
                .text_content()
                .and_then(|t| t.rsplit(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            lead.tags = vec![format!("topic{}", n % 3)];
        }
        Ok(action)
    }
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_first_messages_across_two_bridges_on_redis_make_one_lead() {
    // On one node and on a cluster.
    for url in crate::redis::test_urls() {
        twenty_first_messages_make_one_lead_on(&url).await;
    }
}

#[cfg(feature = "redis")]
async fn twenty_first_messages_make_one_lead_on(url: &str) {
    use crate::redis::RedisCustomerStore;
    use crate::redis::RedisDedupStore;
    use crate::redis::RedisQueue;
    use crate::writer::SalesforceWriter;
    let prefix = format!("wa-sf:lead{:x}:", crate::dedup::random_token());
    let org = salesforce_rest::testkit::MockOrg::start().await;
    org.set_latency(Duration::from_millis(10));
    let wa = Arc::new(RecordingSender::new("WhatsApp"));
    let mut services = Vec::new();
    for _ in 0..2 {
        let customers = RedisCustomerStore::connect(url, &prefix).await.unwrap();
        let writer = SalesforceWriter::new(org.client()).customers(Arc::new(customers));
        let bridge = Bridge::builder(Arc::new(writer))
            .mapper(Arc::new(Tagging(crate::mapping::DefaultMapper::default())))
            .sender(wa.clone())
            .dedup(Arc::new(
                RedisDedupStore::connect(url, &format!("{prefix}dedup:"))
                    .await
                    .unwrap(),
            ))
            .build();
        services.push(BridgeService::start(
            bridge,
            Arc::new(RedisQueue::connect(url, &prefix, "inbox").await.unwrap()),
            Arc::new(RedisQueue::connect(url, &prefix, "outbox").await.unwrap()),
            fast().concurrency(8),
            Arc::new(SystemClock),
        ));
    }
    for i in 0..20 {
        let mut m = msg(
            &format!("wamid.LEAD{i:02}"),
            "14155550123",
            &format!("question number {i:02}"),
        );
        m.sent_at = Some(chrono::Utc::now());
        services[i % 2].inbox().enqueue_message(&m).await.unwrap();
    }
    for s in &services {
        assert!(s.drain(Duration::from_secs(30)).await);
    }
    let leads = org.records("Lead");
    assert_eq!(leads.len(), 1, "one Lead for one customer");
    let inbound: Vec<_> = org
        .records("WhatsApp_Message__c")
        .into_iter()
        .filter(|e| e["Direction__c"] == "Inbound")
        .collect();
    assert_eq!(
        inbound.len(),
        20,
        "every message is one ledger record, none lost"
    );
    for i in 0..20 {
        let e = inbound
            .iter()
            .find(|e| e["Message_Id__c"] == format!("wamid.LEAD{i:02}"))
            .unwrap_or_else(|| panic!("message {i} lost"));
        assert_eq!(e["Lead__c"], leads[0]["Id"]);
        assert_eq!(
            e["Tags__c"],
            format!("topic{}", i % 3),
            "tags on the message record"
        );
    }
    let welcomes = wa
        .sent()
        .iter()
        .filter(|(_, t)| t.contains("contact you shortly"))
        .count();
    assert_eq!(welcomes, 1, "one welcome for the new customer");
    assert_eq!(org.records("Task").len(), 1, "one follow-up");
    let outbound = org
        .records("WhatsApp_Message__c")
        .into_iter()
        .filter(|e| e["Direction__c"] == "Outbound")
        .count();
    assert_eq!(outbound, 1, "the welcome is in the conversation too");
    for s in &services {
        s.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_blocks_marketing_before_any_call_and_start_lifts_it() {
    use crate::optout::{MemoryOptOutStore, OptOutStore};
    let crm = Arc::new(Crm::default());
    let wa = Arc::new(RecordingSender::new("WhatsApp"));
    let registry = Arc::new(MemoryOptOutStore::default());
    let bridge = Bridge::builder(crm.clone()).sender(wa.clone()).build();
    let options = ServiceOptions {
        inbox: fast(),
        outbox: fast(),
        opt_outs: Some(registry.clone()),
        on_notice: None,
        ..ServiceOptions::default()
    };
    let (inbox, outbox) = queues();
    let svc = BridgeService::start_with(bridge, inbox, outbox, options, Arc::new(SystemClock));
    svc.inbox()
        .enqueue_message(&msg("wamid.S1", "14155550123", "STOP"))
        .await
        .unwrap();
    assert!(svc.drain(Duration::from_secs(10)).await);
    assert_eq!(crm.writes.load(Ordering::SeqCst), 0, "STOP creates no Lead");
    assert!(registry.get("+1 415 555 0123").await.unwrap().is_some());
    let offer = SendJob::new(
        "+1 (415) 555-0123",
        Outbound::text("20% off this weekend"),
        "promotion",
    )
    .category(MessageCategory::Marketing);
    let refused = svc.outbox().enqueue("promo:1", &offer).await.unwrap_err();
    assert!(matches!(refused, BridgeError::OptedOut { .. }), "{refused}");
    let utility = SendJob::new(
        "14155550123",
        Outbound::text("Your order shipped"),
        "shipping_update",
    )
    .category(MessageCategory::Utility);
    svc.outbox().enqueue("ship:1", &utility).await.unwrap();
    assert!(svc.drain(Duration::from_secs(10)).await);
    assert_eq!(
        wa.sent().len(),
        1,
        "utility messages still go out; the offer made no call"
    );
    svc.inbox()
        .enqueue_message(&msg("wamid.S2", "14155550123", "start"))
        .await
        .unwrap();
    assert!(svc.drain(Duration::from_secs(10)).await);
    svc.outbox().enqueue("promo:2", &offer).await.unwrap();
    assert!(svc.drain(Duration::from_secs(10)).await);
    assert_eq!(wa.sent().len(), 2, "after START the offer is sent");
    // WhatsApp reports 131050 on a marketing message: recorded too.
    let mut s = StatusUpdate::new("wamid.OUT9", "failed");
    s.recipient = Some("14155550199".into());
    s.error_codes = vec![131_050];
    svc.inbox().enqueue_status(&s).await.unwrap();
    assert!(svc.drain(Duration::from_secs(10)).await);
    let o = registry.get("14155550199").await.unwrap().unwrap();
    assert!(o.reason.contains("131050"), "{o:?}");
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echo_of_our_reply_is_recognized_after_a_restart() {
    let dedup = Arc::new(MemoryDedupStore::new(1_000));
    let crm = Arc::new(Crm::default());
    let wa = Arc::new(RecordingSender::new("WhatsApp"));
    let first = Bridge::builder(crm.clone())
        .sender(wa.clone())
        .dedup(dedup.clone())
        .build();
    let (inbox, outbox) = queues();
    let svc = BridgeService::start(first, inbox, outbox, fast(), Arc::new(SystemClock));
    svc.inbox()
        .enqueue_message(&msg("wamid.E1", "14155550123", "broken"))
        .await
        .unwrap();
    assert!(svc.drain(Duration::from_secs(10)).await);
    svc.shutdown().await;
    // A new process (a fresh in-memory loop guard) sharing the store.
    let second = Bridge::builder(crm.clone())
        .sender(wa.clone())
        .dedup(dedup)
        .build();
    let (inbox, outbox) = queues();
    let svc = BridgeService::start(second, inbox, outbox, fast(), Arc::new(SystemClock));
    let echo = msg(
        "whatsapp-1",
        "14155550123",
        "Thanks, your case number is 00001026",
    );
    svc.inbox().enqueue_message(&echo).await.unwrap();
    assert!(svc.drain(Duration::from_secs(10)).await);
    assert_eq!(
        crm.writes.load(Ordering::SeqCst),
        1,
        "our own message is never taken for a customer's"
    );
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_message_from_long_ago_is_a_replay_and_is_skipped() {
    let crm = Arc::new(Crm::default());
    let bridge = Bridge::builder(crm.clone()).build();
    let (inbox, outbox) = queues();
    let svc = BridgeService::start(bridge, inbox, outbox, fast(), Arc::new(SystemClock));
    let mut old = msg("wamid.OLD", "14155550123", "my order arrived broken");
    old.sent_at = Some(Utc::now() - chrono::Duration::days(30));
    svc.inbox().enqueue_message(&old).await.unwrap();
    let mut recent = msg("wamid.NEW", "14155550123", "my order arrived broken");
    recent.sent_at = Some(Utc::now() - chrono::Duration::days(6));
    svc.inbox().enqueue_message(&recent).await.unwrap();
    assert!(svc.drain(Duration::from_secs(10)).await);
    assert_eq!(
        crm.order.lock().unwrap().as_slice(),
        ["wamid.NEW"],
        "only the one within Meta's retry period"
    );
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_echoes_edits_and_account_events_from_a_webhook() {
    use crate::optout::{MemoryOptOutStore, OptOutStore};
    use serde_json::json;
    let crm = Arc::new(Crm::default());
    let wa = Arc::new(RecordingSender::new("WhatsApp"));
    let registry = Arc::new(MemoryOptOutStore::default());
    let dedup = Arc::new(MemoryDedupStore::new(100));
    let notices: Arc<Mutex<Vec<BusinessNotice>>> = Arc::default();
    let seen = notices.clone();
    let bridge = Bridge::builder(crm.clone())
        .sender(wa.clone())
        .dedup(dedup.clone())
        .build();
    let options = ServiceOptions {
        inbox: fast(),
        outbox: fast(),
        opt_outs: Some(registry.clone()),
        on_notice: Some(Arc::new(move |n: &BusinessNotice| {
            seen.lock().unwrap().push(n.clone());
        })),
        ..ServiceOptions::default()
    };
    let (inbox, outbox) = queues();
    let svc = BridgeService::start_with(bridge, inbox, outbox, options, Arc::new(SystemClock));
    let now = Utc::now().timestamp().to_string();
    let meta =
        json!({ "display_phone_number": "15550783881", "phone_number_id": "106540352242922" });
    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [
        { "field": "messages", "value": { "metadata": meta, "contacts": [{ "wa_id": "14155550123" }], "messages": [
            { "from": "14155550123", "id": "wamid.first", "timestamp": now, "type": "text", "text": { "body": "my order arrived broken" } },
            { "from": "14155550123", "id": "wamid.edit", "timestamp": now, "type": "edit",
              "edit": { "original_message_id": "wamid.first", "message": { "type": "text", "text": { "body": "my order arrived broken and late" } } } } ] } },
        { "field": "smb_message_echoes", "value": { "metadata": meta, "message_echoes": [
            { "from": "15550783881", "to": "14155550123", "id": "wamid.echo", "timestamp": now, "type": "text", "text": { "body": "We're on it" } } ] } },
        { "field": "user_preferences", "value": { "metadata": meta, "user_preferences": [
            { "wa_id": "14155550777", "category": "marketing_messages", "value": "stop", "timestamp": 1 } ] } },
        { "field": "account_update", "value": { "event": "ACCOUNT_RESTRICTION",
            "restriction_info": [{ "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": "2027-01-01" }] } },
        { "field": "message_template_status_update", "value": { "event": "PAUSED", "message_template_id": 77,
            "message_template_name": "payment_due", "message_template_language": "en_US", "reason": "LOW_QUALITY" } }
    ] }] });
    let n = whatsapp_cloud::webhooks::parse_unverified(body.to_string().as_bytes()).unwrap();
    assert_eq!(svc.inbox().enqueue_notification(&n).await.unwrap(), 6);
    assert!(svc.drain(Duration::from_secs(10)).await);
    // The echo is ours: never written as a customer's message, marked as sent.
    assert_eq!(
        crm.order.lock().unwrap().clone(),
        ["wamid.first", "wamid.edit"]
    );
    assert!(dedup.is_done(&sent_key("wamid.echo")).await.unwrap());
    // The edit updated the first message's record and was not acknowledged again.
    assert_eq!(wa.sent().len(), 1, "{:?}", wa.sent());
    // WhatsApp's marketing setting feeds the registry.
    assert!(registry.get("14155550777").await.unwrap().is_some());
    let notices = notices.lock().unwrap().clone();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(notices.iter().all(|n| n.urgent));
    assert_eq!(notices[1].subject.as_deref(), Some("payment_due (en_US)"));
    svc.shutdown().await;
}

/// Issue 23, item 5: the sent log is durable: a failed status that arrives
/// after a restart still falls back, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_status_after_a_restart_falls_back_once() {
    let dir = tempfile::tempdir().unwrap();
    let start = |store: &crate::embedded::EmbeddedStore,
                 wa: Arc<RecordingSender>,
                 sms: Arc<RecordingSender>| {
        let bridge = Bridge::builder(Arc::new(Crm::default())).sender(wa).build();
        let options = ServiceOptions {
            inbox: fast(),
            outbox: fast(),
            fallback: Some(sms),
            sent_log: Some(Arc::new(store.sent_log())),
            ..ServiceOptions::default()
        };
        BridgeService::start_with(
            bridge,
            Arc::new(store.queue("inbox").unwrap()),
            Arc::new(store.queue("outbox").unwrap()),
            options,
            Arc::new(SystemClock),
        )
    };
    let store = crate::embedded::EmbeddedStore::open(dir.path()).unwrap();
    let wa = Arc::new(RecordingSender::new("WhatsApp"));
    let svc = start(&store, wa.clone(), Arc::new(RecordingSender::new("SMS")));
    svc.inbox()
        .enqueue_message(&msg("wamid.9", "14155550123", "broken"))
        .await
        .unwrap();
    assert!(svc.drain(Duration::from_secs(10)).await);
    assert_eq!(wa.sent().len(), 1);
    svc.shutdown().await;
    drop(svc);
    drop(store);
    // A new process on the same data directory.
    let store = crate::embedded::EmbeddedStore::open(dir.path()).unwrap();
    let sms = Arc::new(RecordingSender::new("SMS"));
    let svc = start(
        &store,
        Arc::new(RecordingSender::new("WhatsApp")),
        sms.clone(),
    );
    let status = StatusUpdate::new("whatsapp-1", "failed").unreachable("14155550123");
    svc.inbox().enqueue_status(&status).await.unwrap();
    svc.inbox().enqueue_status(&status).await.unwrap(); // redelivered
    assert!(svc.drain(Duration::from_secs(10)).await);
    let texts = sms.sent();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].1.contains("00001026"));
    svc.shutdown().await;
}

/// Keeps the ledger entries it is given.
#[derive(Default)]
struct LedgerCrm {
    crm: Crm,
    entries: Mutex<Vec<crate::ledger::LedgerEntry>>,
}

#[async_trait]
impl RecordWriter for LedgerCrm {
    async fn write(
        &self,
        action: &Action,
        m: &CustomerMessage,
    ) -> Result<WriteOutcome, BridgeError> {
        self.crm.write(action, m).await
    }

    async fn write_ledger(
        &self,
        entries: &[crate::ledger::LedgerEntry],
    ) -> Vec<Result<(), BridgeError>> {
        self.entries.lock().unwrap().extend(entries.iter().cloned());
        entries.iter().map(|_| Ok(())).collect()
    }
}

/// Notes the template of each message it sends.
#[derive(Default)]
struct TemplateNotes(Mutex<Vec<Option<String>>>);

#[async_trait]
impl crate::sender::ChannelSender for TemplateNotes {
    fn channel(&self) -> Channel {
        Channel::WhatsApp
    }

    async fn send(&self, _to: &str, m: &Outbound) -> Result<SendReceipt, SendError> {
        let mut v = self.0.lock().unwrap();
        v.push(m.template_name());
        Ok(SendReceipt::new(
            Channel::WhatsApp,
            Some(format!("wamid.t{}", v.len())),
        ))
    }
}

/// Issue 23, item 2: the bridge's own reply, once the window has closed,
/// goes as the configured template, or its ledger record says why.
#[cfg(feature = "whatsapp")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_reply_goes_as_the_template_or_is_recorded_failed() {
    for template in [Some(("case_update", "en_US")), None] {
        let crm = Arc::new(LedgerCrm::default());
        let wa = Arc::new(TemplateNotes::default());
        let options = crate::pipeline::BridgeOptions {
            late_reply_template: template.map(|(n, l)| (n.to_owned(), l.to_owned())),
            ..Default::default()
        };
        let bridge = Bridge::builder(crm.clone())
            .sender(wa.clone())
            .options(options)
            .build();
        let (inbox, outbox) = queues();
        let svc = BridgeService::start(bridge, inbox, outbox, fast(), Arc::new(SystemClock));
        // Written 26 hours ago, processed now (a backlog): the window closed.
        let mut m = msg("wamid.late", "14155550123", "my order arrived broken");
        m.sent_at = Some(Utc::now() - chrono::Duration::hours(26));
        svc.inbox().enqueue_message(&m).await.unwrap();
        assert!(svc.drain(Duration::from_secs(10)).await);
        let sent = wa.0.lock().unwrap().clone();
        let failed: Vec<_> = crm
            .entries
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.status == Some(crate::ledger::LedgerStatus::Failed))
            .cloned()
            .collect();
        match template {
            Some((name, _)) => {
                assert_eq!(sent, [Some(name.to_owned())], "the template goes");
                assert!(failed.is_empty());
            }
            None => {
                assert!(sent.is_empty(), "nothing sent: {sent:?}");
                assert_eq!(failed.len(), 1, "the ledger says why");
                assert!(
                    failed[0]
                        .error_detail
                        .as_deref()
                        .is_some_and(|d| d.contains("24-hour window")),
                    "{:?}",
                    failed[0].error_detail
                );
            }
        }
        svc.shutdown().await;
    }
}
