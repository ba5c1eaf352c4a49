//! The bridge on the queue: an **inbox** that the webhook endpoint fills (it
//! answers Meta once every event is durably enqueued) and an **outbox** for
//! every message we send. Workers drain both.
//!
//! - Inbound messages: loop guard → window → dedup claim → map → write →
//!   reply (as an outbox job) → complete. A claim held by another worker is
//!   *retried later*, never acknowledged and forgotten. The record written is
//!   checkpointed, so an attempt after a crash does not write it again.
//! - Statuses: a status proves the message id is ours (loop guard); a failed
//!   delivery that means "unreachable" sends the text again on the fallback
//!   channel (as an outbox job); every status reaches an optional callback.
//! - Outbox jobs: sent once. The API's message id is checkpointed before the
//!   job is acked, so a crash after the send does not send again; retryable
//!   errors are retried with backoff (honouring `retry_after`), others are
//!   dead-lettered with the error (e.g. 131047, outside the window).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(feature = "embedded")] {
//! use std::sync::Arc;
//! use bridge_core::clock::SystemClock;
//! use bridge_core::inbound::{Channel, CustomerMessage};
//! use bridge_core::pipeline::Bridge;
//! use bridge_core::embedded::MemoryQueue;
//! use bridge_core::queue::WorkerOptions;
//! use bridge_core::sender::RecordingSender;
//! use bridge_core::service::BridgeService;
//! use bridge_core::writer::{RecordWriter, WriteOutcome};
//! # struct Crm;
//! # #[async_trait::async_trait]
//! # impl RecordWriter for Crm {
//! #     async fn write(&self, _: &bridge_core::mapping::Action, _: &CustomerMessage) -> Result<WriteOutcome, bridge_core::BridgeError> {
//! #         let mut w = WriteOutcome::default(); w.object = "Case".into(); w.case_number = Some("00001026".into()); Ok(w)
//! #     }
//! # }
//!
//! let whatsapp = Arc::new(RecordingSender::new("WhatsApp"));
//! let bridge = Bridge::builder(Arc::new(Crm)).sender(whatsapp.clone()).build();
//! let service = BridgeService::start(
//!     bridge,
//!     Arc::new(MemoryQueue::new("inbox")?),
//!     Arc::new(MemoryQueue::new("outbox")?),
//!     WorkerOptions::default(),
//!     Arc::new(SystemClock),
//! );
//! let mut m = CustomerMessage::text(Channel::WhatsApp, "wamid.1", "14155550123", "my order arrived broken");
//! m.sent_at = Some(chrono::Utc::now());
//! service.inbox().enqueue_message(&m).await?; // durable: answer the webhook now
//! service.drain(std::time::Duration::from_secs(5)).await;
//! assert!(whatsapp.sent()[0].1.contains("00001026"));
//! service.shutdown().await;
//! # }
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::audit;
use crate::clock::Clock;
use crate::dedup::Claim;
use crate::inbound::CustomerMessage;
use crate::mapping::Action;
use crate::optout::{ConsentChange, OptOutStore};
use crate::pipeline::Bridge;
use crate::queue::{
    Enqueued, JobContext, JobError, JobHandler, JobQueue, QueueError, QueueStats, Worker,
    WorkerHandle, WorkerOptions,
};
use crate::replies;
use crate::sender::{ChannelSender, Outbound};
use crate::window::Delivery;
use crate::writer::WriteOutcome;

/// A delivery status of a message we sent, as the inbox carries it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatusUpdate {
    /// The id of the message we sent.
    pub message_id: String,
    /// `sent`, `delivered`, `read`, `failed`, or anything newer.
    pub status: String,
    /// The customer.
    pub recipient: Option<String>,
    /// The error codes of a failure.
    #[serde(default)]
    pub error_codes: Vec<i64>,
    /// Whether the failure means the customer cannot be reached on this channel.
    #[serde(default)]
    pub unreachable: bool,
    /// When it happened.
    pub at: Option<DateTime<Utc>>,
    /// The tracking data set on the send (the ledger key of our messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<String>,
    /// Meta's error title, for a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_title: Option<String>,
}

impl StatusUpdate {
    /// A status.
    pub fn new(message_id: impl Into<String>, status: impl Into<String>) -> Self {
        Self {
            message_id: message_id.into(),
            status: status.into(),
            recipient: None,
            error_codes: Vec::new(),
            unreachable: false,
            at: None,
            tracking: None,
            error_title: None,
        }
    }

    /// Sets the tracking data (the ledger key).
    pub fn tracking(mut self, data: impl Into<String>) -> Self {
        self.tracking = Some(data.into());
        self
    }

    /// Marks it a failure that means the customer is unreachable.
    pub fn unreachable(mut self, recipient: impl Into<String>) -> Self {
        self.status = "failed".into();
        self.recipient = Some(recipient.into());
        self.unreachable = true;
        self
    }
}

impl std::fmt::Debug for StatusUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusUpdate")
            .field("message_id", &self.message_id)
            .field("status", &self.status)
            .field(
                "recipient",
                &self.recipient.as_deref().map(audit::redact_phone),
            )
            .field("error_codes", &self.error_codes)
            .field("unreachable", &self.unreachable)
            .finish()
    }
}

/// What an inbox job carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum InboxEvent {
    /// A customer's message.
    Message {
        /// The message.
        message: CustomerMessage,
    },
    /// A status of a message we sent.
    Status {
        /// The status.
        status: StatusUpdate,
    },
    /// A customer stopped (or resumed) marketing messages in WhatsApp's
    /// settings (`user_preferences`).
    Preference {
        /// The customer's address.
        customer: String,
        /// `true`: stopped; `false`: resumed.
        opted_out: bool,
    },
    /// A message the business sent from the WhatsApp Business app
    /// (`smb_message_echoes`): audited, and its id marked as ours so it is
    /// never taken for a customer's message.
    Echo {
        /// The message id.
        message_id: String,
        /// Its type.
        kind: String,
    },
    /// An account or template event for the operators.
    Notice {
        /// The notice.
        notice: BusinessNotice,
    },
}

/// The enqueue side of the inbox. Cheap to clone.
#[derive(Clone)]
pub struct Inbox {
    q: Enqueuer,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox").finish_non_exhaustive()
    }
}

impl Inbox {
    /// An inbox over a queue (`waker`: the inbox worker's, to start at once).
    pub fn new(
        queue: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
        waker: Option<Arc<Notify>>,
    ) -> Self {
        Self {
            q: Enqueuer {
                queue,
                clock,
                waker,
            },
        }
    }

    /// Enqueues a customer's message (idempotent by its dedup key; ordered per customer).
    pub async fn enqueue_message(&self, m: &CustomerMessage) -> Result<Enqueued, QueueError> {
        let group = m
            .from
            .address()
            .map_or_else(|| format!("message:{}", m.id), |a| format!("customer:{a}"));
        let event = InboxEvent::Message { message: m.clone() };
        self.q.put(&m.dedup_key(), group, &event).await
    }

    /// Enqueues a status (idempotent by message id and status).
    pub async fn enqueue_status(&self, s: &StatusUpdate) -> Result<Enqueued, QueueError> {
        let key = format!("status:{}:{}", s.message_id, s.status);
        let group = s.recipient.as_deref().map_or_else(
            || format!("status:{}", s.message_id),
            |r| format!("customer:{r}"),
        );
        let event = InboxEvent::Status { status: s.clone() };
        self.q.put(&key, group, &event).await
    }

    /// Enqueues every message and status of a WhatsApp notification. `Err`
    /// when any enqueue failed: answer 500, Meta redelivers, and what was
    /// already enqueued is a duplicate the second time.
    #[cfg(feature = "whatsapp")]
    pub async fn enqueue_notification(
        &self,
        n: &whatsapp_cloud::webhooks::Notification,
    ) -> Result<usize, QueueError> {
        use whatsapp_cloud::webhooks::Event;
        let mut queued = 0;
        for event in n.events() {
            match event {
                Event::Message(m) => {
                    self.enqueue_message(&CustomerMessage::from_whatsapp(&m))
                        .await?;
                    queued += 1;
                }
                Event::Status(s) => {
                    self.enqueue_status(&status_from_whatsapp(s.status)).await?;
                    queued += 1;
                }
                Event::Invalid(i) => {
                    tracing::warn!(field = i.context.field, problem = %i.item.problem, "invalid webhook item kept aside");
                }
                Event::Preference(p) => {
                    let (Some(customer), Some(opted_out)) =
                        (p.preference.address(), p.preference.marketing_opt_out())
                    else {
                        continue;
                    };
                    let event = InboxEvent::Preference {
                        customer: customer.to_owned(),
                        opted_out,
                    };
                    let group = format!("customer:{customer}");
                    self.q
                        .put(&event_key(&Event::Preference(p)), group, &event)
                        .await?;
                    queued += 1;
                }
                Event::Echo(e) => {
                    let event = InboxEvent::Echo {
                        message_id: e.echo.id.clone(),
                        kind: e.echo.kind.clone(),
                    };
                    let group = e.echo.to.as_deref().map_or_else(
                        || format!("echo:{}", e.echo.id),
                        |to| format!("customer:{to}"),
                    );
                    self.q
                        .put(&event_key(&Event::Echo(e)), group, &event)
                        .await?;
                    queued += 1;
                }
                other => {
                    if let Some(notice) = BusinessNotice::from_event(&other) {
                        let event = InboxEvent::Notice { notice };
                        self.q
                            .put(&event_key(&other), "notices".to_owned(), &event)
                            .await?;
                        queued += 1;
                    }
                }
            }
        }
        Ok(queued)
    }

    /// The queue's counters.
    pub async fn stats(&self) -> Result<QueueStats, QueueError> {
        self.q.stats().await
    }
}

/// The inbox key of a WhatsApp event (redeliveries share it).
#[cfg(feature = "whatsapp")]
fn event_key(e: &whatsapp_cloud::webhooks::Event<'_>) -> String {
    e.dedup_key()
}

/// A WhatsApp status as an inbox event.
#[cfg(feature = "whatsapp")]
pub fn status_from_whatsapp(s: &whatsapp_cloud::webhooks::Status) -> StatusUpdate {
    StatusUpdate {
        message_id: s.id.clone(),
        status: s.status.to_string(),
        recipient: s
            .recipient_id
            .clone()
            .or_else(|| s.recipient_user_id.clone()),
        error_codes: s.errors.iter().filter_map(|e| e.code).collect(),
        unreachable: crate::sender::status_means_unreachable(s),
        at: s.timestamp.and_then(|t| DateTime::from_timestamp(t, 0)),
        tracking: s.biz_opaque_callback_data.clone(),
        error_title: s
            .errors
            .iter()
            .find_map(|e| e.title.clone().or_else(|| e.message.clone())),
    }
}

/// A callback for every status that reaches the inbox worker.
pub type StatusCallback = Arc<dyn Fn(&StatusUpdate) + Send + Sync>;

/// The bridge with its inbox and outbox workers running.
#[derive(Debug)]
pub struct BridgeService {
    inbox: Inbox,
    outbox: Outbox,
    inbox_worker: WorkerHandle,
    outbox_worker: WorkerHandle,
    orphans: Arc<std::sync::atomic::AtomicU64>,
    ledger_worker: Option<ledger::LedgerWorker>,
    ledger_queue: Option<ledger::LedgerQueue>,
    health: crate::health::Health,
    /// The queues pruned on the retention schedule, and the schedule's task.
    pruned: maintenance::Queues,
    retention: crate::queue::Retention,
    clock: Arc<dyn Clock>,
    pruning: tokio::task::JoinHandle<()>,
}

impl Drop for BridgeService {
    fn drop(&mut self) {
        self.pruning.abort();
    }
}

/// Extra settings of a [`BridgeService`].
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ServiceOptions {
    /// Workers of the inbox.
    pub inbox: WorkerOptions,
    /// Workers of the outbox.
    pub outbox: WorkerOptions,
    /// The fallback channel for customers WhatsApp cannot reach (e.g. SMS).
    pub fallback: Option<Arc<dyn ChannelSender>>,
    /// Where sent messages are remembered for the fallback (72 hours): give
    /// a durable one (`EmbeddedStore::sent_log`, `RedisSentLog`) so a failed
    /// status after a restart, or at another instance, still falls back
    /// once. Default: in memory.
    pub sent_log: Option<Arc<dyn crate::sent::SentLog>>,
    /// Called with every status.
    pub on_status: Option<StatusCallback>,
    /// The opt-out registry: STOP / START, WhatsApp's marketing preference
    /// (`user_preferences`) and error 131050 are recorded in it, and
    /// marketing messages to opted-out customers are refused.
    pub opt_outs: Option<Arc<dyn OptOutStore>>,
    /// Called with every account or template notice (bans, restrictions,
    /// paused or rejected templates...), after a tracing warning for the
    /// urgent ones.
    pub on_notice: Option<NoticeCallback>,
    /// A queue for conversation-ledger entries (outbound messages, statuses):
    /// the outbox and the status handler enqueue them and move on, and one
    /// worker writes them in batches (recommended: no send waits for a CRM
    /// call). Without it they are written as they come.
    pub ledger: Option<Arc<dyn JobQueue>>,
    /// How the ledger worker batches.
    pub ledger_options: LedgerOptions,
    /// How long a send cut short by a crash waits for proof before it goes
    /// again (default 2 minutes). The outbox records its intent before each
    /// WhatsApp send; a job found with an intent and no receipt may have
    /// reached WhatsApp before the crash, so it is held until a status of
    /// it (sent, delivered, read, failed: they carry its ledger key) proves
    /// it went, or until this much time has passed without one, when it is
    /// sent again. Statuses arrive within seconds: the wait turns a crash's
    /// double send into none, at the cost of this delay for a send that
    /// never left.
    pub unconfirmed_send_wait: Option<std::time::Duration>,
    /// How long completed keys and dead letters are kept, and how often
    /// the service prunes its queues (default: dead letters 30 days,
    /// hourly; see [`crate::queue::Retention`]).
    pub retention: crate::queue::Retention,
}

impl std::fmt::Debug for ServiceOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceOptions")
            .field("inbox", &self.inbox)
            .field("outbox", &self.outbox)
            .field("fallback", &self.fallback.as_ref().map(|s| s.channel()))
            .finish_non_exhaustive()
    }
}

impl BridgeService {
    /// Starts the inbox and outbox workers (same options for both).
    pub fn start(
        bridge: Bridge,
        inbox: Arc<dyn JobQueue>,
        outbox: Arc<dyn JobQueue>,
        workers: WorkerOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let options = ServiceOptions {
            inbox: workers.clone(),
            outbox: workers,
            ..ServiceOptions::default()
        };
        Self::start_with(bridge, inbox, outbox, options, clock)
    }

    /// Starts the workers with full options.
    pub fn start_with(
        bridge: Bridge,
        inbox_queue: Arc<dyn JobQueue>,
        outbox_queue: Arc<dyn JobQueue>,
        options: ServiceOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let sent: Arc<dyn crate::sent::SentLog> = options
            .sent_log
            .clone()
            .unwrap_or_else(|| Arc::new(crate::sent::MemorySentLog::default()));
        let orphans = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let health = crate::health::Health::new();
        let ledger = options.ledger.clone().map(|queue| {
            let wake = Arc::new(Notify::new());
            let worker = ledger::LedgerWorker::spawn(
                queue.clone(),
                bridge.writer.clone(),
                Some(bridge.dedup.clone()),
                options.ledger_options.clone(),
                clock.clone(),
                wake.clone(),
            );
            let q = ledger::LedgerQueue {
                q: Enqueuer {
                    queue,
                    clock: clock.clone(),
                    waker: Some(wake),
                },
            };
            (worker, q)
        });
        let ledger_queue = ledger.as_ref().map(|(_, q)| q.clone());
        // The outbox worker first: the inbox enqueues into it.
        let outbox_wake = Arc::new(Notify::new());
        let mut outbox = Outbox::new(
            outbox_queue.clone(),
            clock.clone(),
            Some(outbox_wake.clone()),
        );
        outbox.opt_outs = options.opt_outs.clone();
        let primary: Arc<dyn ChannelSender> =
            bridge.sender.clone().unwrap_or_else(|| Arc::new(NoSender));
        let outbox_handler = OutboxHandler {
            primary,
            fallback: options.fallback.clone(),
            outbox: outbox.clone(),
            guard: bridge.guard.clone(),
            sent_ids: Some((bridge.dedup.clone(), bridge.options.remember_for)),
            sent: sent.clone(),
            ledger: Some(bridge.writer.clone()),
            ledger_queue: ledger_queue.clone(),
            unconfirmed_wait: options
                .unconfirmed_send_wait
                .unwrap_or(outbox::UNCONFIRMED_WAIT),
            clock: clock.clone(),
            health: health.clone(),
        };
        let named = |w: WorkerOptions, name: &str| {
            if w.name == crate::queue::UNNAMED {
                w.name(name)
            } else {
                w
            }
        };
        let outbox_worker = Worker::spawn_with_waker(
            outbox_queue,
            Arc::new(outbox_handler),
            named(options.outbox, "outbox"),
            clock.clone(),
            outbox_wake,
        );
        let inbox_handler = InboxHandler {
            bridge,
            outbox: outbox.clone(),
            sent,
            fallback: options.fallback.is_some(),
            on_status: options.on_status,
            opt_outs: options.opt_outs,
            on_notice: options.on_notice,
            clock: clock.clone(),
            orphans: orphans.clone(),
            ledger_queue,
            health: health.clone(),
        };
        let inbox_worker = Worker::spawn(
            inbox_queue.clone(),
            Arc::new(inbox_handler),
            named(options.inbox, "inbox"),
            clock.clone(),
        );
        let mut pruned = maintenance::Queues(vec![
            ("inbox", inbox_queue.clone()),
            ("outbox", outbox.q.queue.clone()),
        ]);
        if let Some(q) = &options.ledger {
            pruned.0.push(("ledger", q.clone()));
        }
        let pruning = maintenance::spawn(pruned.clone(), clock.clone(), options.retention.clone());
        let inbox = Inbox::new(inbox_queue, clock.clone(), Some(inbox_worker.waker()));
        let (ledger_worker, ledger_queue) = ledger.unzip();
        Self {
            inbox,
            outbox,
            inbox_worker,
            outbox_worker,
            orphans,
            ledger_worker,
            ledger_queue,
            health,
            pruned,
            retention: options.retention,
            clock,
            pruning,
        }
    }

    /// Prunes the service's queues now (the service also does it every
    /// [`Retention::every`](crate::queue::Retention::every)): completed keys
    /// past their retention, dead letters older than the retention's.
    pub async fn prune(&self) -> Result<crate::queue::Pruned, QueueError> {
        maintenance::prune(&self.pruned, &*self.clock, &self.retention).await
    }

    /// Whether the service can do its work now (a readiness probe): both
    /// queues' stores take writes ([`JobQueue::probe`]), both workers run,
    /// and neither Salesforce nor WhatsApp refused the credentials on the
    /// last call that reached it. Not ready: the reasons, one per failed
    /// check.
    pub async fn readiness(&self) -> crate::health::Readiness {
        let mut reasons = Vec::new();
        for (name, q) in [("inbox", &self.inbox.q), ("outbox", &self.outbox.q)] {
            if let Err(e) = q.queue.probe().await {
                reasons.push(format!("store ({name}): {e}"));
            }
        }
        for (name, worker) in [
            ("inbox", &self.inbox_worker),
            ("outbox", &self.outbox_worker),
        ] {
            if !worker.is_running() {
                reasons.push(format!("workers ({name}): stopped"));
            }
        }
        for (api, detail) in self.health.auth_problems() {
            reasons.push(format!("{api}: credentials refused: {detail}"));
        }
        crate::health::Readiness::from_reasons(reasons)
    }

    /// Samples the queues' counters into the metrics gauges (see
    /// [`crate::metrics`]): call it before each scrape. Without the
    /// `metrics` feature it only reads the counters.
    pub async fn record_metrics(&self) -> Result<(), QueueError> {
        let mut queues = vec![("inbox", &self.inbox.q), ("outbox", &self.outbox.q)];
        if let Some(l) = &self.ledger_queue {
            queues.push(("ledger", &l.q));
        }
        for (name, q) in queues {
            let stats = q.queue.stats(q.clock.now()).await?;
            stats.record_metrics(name, q.queue.backend());
        }
        Ok(())
    }

    /// The credentials' state the workers keep up to date.
    pub fn health(&self) -> &crate::health::Health {
        &self.health
    }

    /// How many statuses arrived for messages with no ledger record (sent by
    /// another system, or before the ledger): counted, never retried.
    pub fn orphan_statuses(&self) -> u64 {
        self.orphans.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The inbox (what the webhook endpoint enqueues into).
    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    /// The outbox (enqueue reminders and notifications here).
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Waits until both queues have nothing waiting or in flight, or until
    /// `timeout` (retries scheduled later count as waiting). For tests and
    /// one-shot tools.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let mut queues = vec![&self.inbox.q, &self.outbox.q];
        if let Some(l) = &self.ledger_queue {
            queues.push(&l.q);
        }
        wait_idle(&queues, timeout).await
    }

    /// Stops the workers gracefully (running jobs finish or are released;
    /// the ledger worker after its batch in hand).
    pub async fn shutdown(&self) {
        self.pruning.abort();
        self.inbox_worker.shutdown().await;
        self.outbox_worker.shutdown().await;
        if let Some(l) = &self.ledger_worker {
            l.shutdown().await;
        }
    }
}

/// The dedup-store key that remembers a message id we sent (the loop guard's
/// durable memory, shared by every instance).
pub(crate) fn sent_key(message_id: &str) -> String {
    format!("wa:sent:{message_id}")
}

/// Waits until the queues have nothing waiting or in flight, or until `timeout`.
async fn wait_idle(queues: &[&Enqueuer], timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut idle = true;
        for q in queues {
            idle &= q
                .stats()
                .await
                .is_ok_and(|s| s.depth == 0 && s.in_flight == 0);
        }
        if idle {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

mod inbox;
mod ledger;
mod maintenance;
mod notices;
mod outbox;

pub use inbox::InboxHandler;
pub(crate) use inbox::{is_ledger_key, later_status_recorded, payload_error};
pub use ledger::LedgerOptions;
pub use notices::{BusinessNotice, NoticeCallback};

use outbox::{Enqueuer, NoSender};
pub use outbox::{MessageCategory, Outbox, OutboxHandler, SendJob, SendService};

#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod readiness_tests;
#[cfg(test)]
mod tests;
