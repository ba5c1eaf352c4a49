//! The outbox: every message we send is a job, sent once.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::payload_error;
use crate::audit;
use crate::clock::Clock;
use crate::error::BridgeError;
use crate::inbound::Channel;
use crate::optout::OptOutStore;
use crate::pipeline::LoopGuard;
use crate::queue::{
    Enqueued, JobContext, JobError, JobHandler, JobQueue, NewJob, QueueError, QueueStats,
};
use crate::sender::{ChannelSender, Outbound, SendReceipt};

/// What an outbox job carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SendJob {
    /// The customer's address.
    pub to: String,
    /// The message.
    pub message: Outbound,
    /// Why it is sent (`acknowledgement`, `payment_reminder`...), for the audit trail.
    pub purpose: String,
    /// Send on the fallback channel instead of the primary one.
    #[serde(default)]
    pub fallback: bool,
    /// The message's category: a marketing message to a customer who opted
    /// out is refused before any call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<MessageCategory>,
    /// When the message this answers was received (its inbox enqueue), for
    /// the end-to-end latency metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The categories WhatsApp prices and regulates messages by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MessageCategory {
    /// Offers, announcements, re-engagement: never to a customer who opted out.
    Marketing,
    /// Updates about something the customer did (orders, payments, appointments).
    Utility,
    /// One-time passwords.
    Authentication,
    /// Answers inside a conversation the customer opened.
    Service,
}

impl SendJob {
    /// A send on the primary channel.
    pub fn new(to: impl Into<String>, message: Outbound, purpose: impl Into<String>) -> Self {
        Self {
            to: to.into(),
            message,
            purpose: purpose.into(),
            fallback: false,
            category: None,
            received_at: None,
        }
    }

    /// Sets when the message this answers was received.
    pub fn received_at(mut self, at: chrono::DateTime<chrono::Utc>) -> Self {
        self.received_at = Some(at);
        self
    }

    /// Sets the category.
    pub fn category(mut self, category: MessageCategory) -> Self {
        self.category = Some(category);
        self
    }
}

/// What the inbox and the outbox share: a queue, the clock, and the waker of
/// the worker that drains it.
#[derive(Clone)]
pub(super) struct Enqueuer {
    pub(super) queue: Arc<dyn JobQueue>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) waker: Option<Arc<Notify>>,
}

impl Enqueuer {
    pub(super) async fn put<T: Serialize>(
        &self,
        key: &str,
        group: String,
        payload: &T,
    ) -> Result<Enqueued, QueueError> {
        let payload =
            serde_json::to_vec(payload).map_err(|e| QueueError::Invalid(e.to_string()))?;
        let r = self
            .queue
            .enqueue(NewJob::new(key, group, payload), self.clock.now())
            .await?;
        if let Some(w) = &self.waker {
            w.notify_one();
        }
        Ok(r)
    }

    pub(super) async fn stats(&self) -> Result<QueueStats, QueueError> {
        self.queue.stats(self.clock.now()).await
    }
}

/// The enqueue side of the outbox. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    pub(super) q: Enqueuer,
    pub(super) opt_outs: Option<Arc<dyn OptOutStore>>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

impl Outbox {
    /// An outbox over a queue (`waker`: the outbox worker's).
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
            opt_outs: None,
        }
    }

    /// Refuses marketing messages to customers in this registry.
    pub fn with_opt_outs(mut self, registry: Arc<dyn OptOutStore>) -> Self {
        self.opt_outs = Some(registry);
        self
    }

    /// Enqueues a send under an idempotency key (`reply:<message id>`,
    /// `payment_reminder:<invoice>:<due date>`...): the same key twice is one
    /// send. A marketing message to a customer who opted out is refused with
    /// [`BridgeError::OptedOut`], and nothing is queued.
    pub async fn enqueue(&self, key: &str, job: &SendJob) -> Result<Enqueued, BridgeError> {
        self.refuse_if_opted_out(job).await?;
        Ok(self.q.put(key, format!("customer:{}", job.to), job).await?)
    }

    pub(super) async fn refuse_if_opted_out(&self, job: &SendJob) -> Result<(), BridgeError> {
        if job.category != Some(MessageCategory::Marketing) {
            return Ok(());
        }
        if let Some(registry) = &self.opt_outs
            && let Some(o) = registry.get(&job.to).await?
        {
            audit::message_skipped(
                &job.purpose,
                "marketing message refused: the customer opted out",
            );
            return Err(BridgeError::OptedOut { reason: o.reason });
        }
        Ok(())
    }

    /// The queue's counters.
    pub async fn stats(&self) -> Result<QueueStats, QueueError> {
        self.q.stats().await
    }
}

/// How long a sent message is remembered for the fallback channel (failed
/// statuses come within seconds to hours).
pub(super) const SENT_KEEP: std::time::Duration = std::time::Duration::from_secs(72 * 3_600);

/// The outbox worker's handler.
pub struct OutboxHandler {
    pub(super) primary: Arc<dyn ChannelSender>,
    pub(super) fallback: Option<Arc<dyn ChannelSender>>,
    pub(super) outbox: Outbox,
    pub(super) guard: Arc<LoopGuard>,
    /// Where sent message ids are remembered durably, and for how long.
    pub(super) sent_ids: Option<(Arc<dyn crate::dedup::DedupStore>, std::time::Duration)>,
    pub(super) sent: Arc<dyn crate::sent::SentLog>,
    /// Where each sent message's ledger record is written (the bridge's writer).
    pub(super) ledger: Option<Arc<dyn crate::writer::RecordWriter>>,
    /// When set, ledger entries are enqueued here and written in batches.
    pub(super) ledger_queue: Option<super::ledger::LedgerQueue>,
    /// How long a send with an intent and no receipt waits for a status.
    pub(super) unconfirmed_wait: std::time::Duration,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) health: crate::health::Health,
}

/// The default of [`ServiceOptions::unconfirmed_send_wait`](super::ServiceOptions::unconfirmed_send_wait).
pub(super) const UNCONFIRMED_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// What the outbox checkpoints after a send the channel refused (it did
/// not leave): the next attempt sends without waiting.
#[derive(serde::Serialize, serde::Deserialize)]
struct NotSent {
    not_sent: bool,
}

/// What the outbox checkpoints just before a send: the send may have left
/// when the job is found with this and no receipt.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct SendIntent {
    /// When the send started (Unix milliseconds, the service's clock).
    pub(super) sending_since: i64,
}

impl OutboxHandler {
    /// Writes the ledger record of a sent message: a failure fails the job,
    /// which the checkpoint makes safe to retry (the send is not repeated).
    async fn record_sent(
        &self,
        key: &str,
        job: &SendJob,
        receipt: &SendReceipt,
    ) -> Result<(), JobError> {
        let Some(writer) = &self.ledger else {
            return Ok(());
        };
        let mut entry = crate::ledger::LedgerEntry::outbound(
            crate::ledger::outbound_key(key),
            &job.to,
            &job.message.text,
            receipt.message_id.clone(),
            self.clock.now(),
        );
        entry.template = job.message.template_name();
        entry.business.clone_from(&job.message.from);
        // A status that got there first (statuses race the send's own
        // write) is never set back to `Sent`.
        if let Some((store, _)) = &self.sent_ids
            && super::later_status_recorded(&**store, &entry.key, crate::ledger::LedgerStatus::Sent)
                .await
        {
            entry.status = None;
            entry.status_at = None;
        }
        if entry.template.is_some() {
            entry.kind = Some("template".into());
        }
        if receipt.channel != crate::inbound::Channel::WhatsApp {
            entry.kind = Some(receipt.channel.name().to_ascii_lowercase());
        }
        if let Some(q) = &self.ledger_queue {
            // Durable, no CRM call: the ledger worker writes it with others.
            return q.put(&entry).await.map_err(JobError::from);
        }
        match writer.write_ledger(&[entry]).await.into_iter().next() {
            Some(Err(e)) => {
                tracing::warn!(error = %e, "sent, but its ledger record was not written yet; retrying");
                Err(JobError::from(e))
            }
            _ => Ok(()),
        }
    }
}

impl OutboxHandler {
    /// A send found with an intent and no receipt: done when a status
    /// proves it left (its ledger record is written without a message id;
    /// the status brings it), held while the wait lasts, `None` to send
    /// again.
    async fn unconfirmed(
        &self,
        job_key: &str,
        job: &SendJob,
        intent: &SendIntent,
    ) -> Option<Result<(), JobError>> {
        let (store, _) = self.sent_ids.as_ref()?;
        let key = job.message.tracking.as_deref()?;
        if super::later_status_recorded(&**store, key, crate::ledger::LedgerStatus::Queued).await {
            tracing::info!("a send cut short by a crash had left: its status says so");
            let receipt = SendReceipt::new(Channel::WhatsApp, None);
            return Some(self.record_sent(job_key, job, &receipt).await);
        }
        let waited = self.clock.now().timestamp_millis() - intent.sending_since;
        let wait = i64::try_from(self.unconfirmed_wait.as_millis()).unwrap_or(i64::MAX);
        (waited < wait).then(|| {
            let left = std::time::Duration::from_millis(u64::try_from(wait - waited).unwrap_or(0));
            // One more attempt, when the wait is over.
            Err(JobError {
                retry_after: Some(left),
                ..JobError::transient(
                    "a send cut short by a crash: waiting for its status before sending again",
                )
            })
        })
    }
}

impl std::fmt::Debug for OutboxHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxHandler").finish_non_exhaustive()
    }
}

#[async_trait]
impl JobHandler for OutboxHandler {
    async fn handle(&self, cx: &JobContext<'_>) -> Result<(), JobError> {
        let mut job: SendJob =
            serde_json::from_slice(&cx.job().payload).map_err(|e| payload_error(&e))?;
        if self.ledger.is_some() && job.message.tracking.is_none() {
            // Statuses bring the ledger key back.
            job.message.tracking = Some(crate::ledger::outbound_key(&cx.job().key));
        }
        // Statuses can prove a WhatsApp send left: they carry its ledger key
        // and are remembered in the store.
        let provable = !job.fallback
            && self.primary.channel() == Channel::WhatsApp
            && self.sent_ids.is_some()
            && job
                .message
                .tracking
                .as_deref()
                .is_some_and(super::is_ledger_key);
        if let Some(done) = cx.job().checkpoint.as_deref() {
            // Sent by an earlier attempt that did not get to ack: never twice.
            if let Ok(receipt) = serde_json::from_slice::<SendReceipt>(done) {
                if let Some(id) = &receipt.message_id {
                    self.guard.note_sent(id);
                }
                return self.record_sent(&cx.job().key, &job, &receipt).await;
            }
            match serde_json::from_slice::<SendIntent>(done) {
                Ok(intent) if provable => {
                    if let Some(wait) = self.unconfirmed(&cx.job().key, &job, &intent).await {
                        return wait;
                    }
                    tracing::info!(
                        "a send cut short by a crash left no status in time: sending it again"
                    );
                }
                // No status can prove it: send again (at least once).
                Ok(_) => {}
                // The last attempt was refused: it did not leave.
                Err(_) if serde_json::from_slice::<NotSent>(done).is_ok() => {}
                // Progress of another kind, written by another version.
                Err(_) => return Ok(()),
            }
        }
        // The customer may have opted out since the job was queued.
        if let Err(e) = self.outbox.refuse_if_opted_out(&job).await {
            return Err(JobError::from(e));
        }
        let sender = match (job.fallback, &self.fallback) {
            (false, _) => &self.primary,
            (true, Some(f)) => f,
            (true, None) => {
                return Err(JobError::permanent(
                    "a fallback send, but no fallback channel is configured",
                ));
            }
        };
        if provable {
            let intent = SendIntent {
                sending_since: self.clock.now().timestamp_millis(),
            };
            let bytes = serde_json::to_vec(&intent).unwrap_or_default();
            // Without the intent on disk a crash could double the send:
            // better not to send now.
            cx.checkpoint(&bytes).await.map_err(JobError::from)?;
        }
        let sent = sender.send(&job.to, &job.message).await;
        if !job.fallback {
            match &sent {
                Ok(_) => self.health.call_succeeded(crate::health::Api::WhatsApp),
                Err(e) if e.credentials_refused() => self
                    .health
                    .auth_failed(crate::health::Api::WhatsApp, e.message.clone()),
                Err(_) => {}
            }
        }
        match sent {
            Ok(receipt) => {
                if let Some(at) = job.received_at {
                    crate::metrics::end_to_end(
                        "reply_sent",
                        (self.clock.now() - at).to_std().unwrap_or_default(),
                    );
                }
                let bytes = serde_json::to_vec(&receipt).unwrap_or_default();
                if let Err(e) = cx.checkpoint(&bytes).await {
                    tracing::warn!(error = %e, "sent, but the message id could not be recorded");
                }
                if let Some(id) = &receipt.message_id {
                    self.guard.note_sent(id);
                    if let Some((store, keep)) = &self.sent_ids
                        && let Err(e) = store.mark_done(&super::sent_key(id), *keep).await
                    {
                        tracing::warn!(error = %e, "sent, but the loop guard's store did not record it");
                    }
                    audit::message_sent(receipt.channel.name(), &job.to, id, &job.purpose);
                    if !job.fallback
                        && self.fallback.is_some()
                        && let Err(e) = self
                            .sent
                            .remember(
                                id,
                                &crate::sent::SentRecord::new(&job.to, &job.message.text),
                                SENT_KEEP,
                                self.clock.now(),
                            )
                            .await
                    {
                        // The send stands; only a later fallback is lost.
                        tracing::warn!(error = %e, "sent, but the sent log did not record it (no fallback for it)");
                    }
                }
                self.record_sent(&cx.job().key, &job, &receipt).await
            }
            Err(e) if e.unreachable && !job.fallback && self.fallback.is_some() => {
                let mut next = job.clone();
                next.fallback = true;
                self.outbox
                    .enqueue(&format!("{}:fallback", cx.job().key), &next)
                    .await?;
                tracing::info!(from = %e.channel, "customer unreachable; falling back");
                Ok(())
            }
            Err(e) => {
                if provable && !e.ambiguous {
                    // An answered refusal: it did not leave, the next
                    // attempt need not wait for a status.
                    let bytes = serde_json::to_vec(&NotSent { not_sent: true }).unwrap_or_default();
                    if let Err(c) = cx.checkpoint(&bytes).await {
                        tracing::warn!(error = %c, "a refused send could not be recorded as such; its retry will wait for a status");
                    }
                }
                if !e.retryable
                    && let Some(writer) = &self.ledger
                {
                    // Never sent: the ledger record says so, with the reason.
                    let mut entry = crate::ledger::LedgerEntry::status(
                        &crate::ledger::outbound_key(&cx.job().key),
                        crate::ledger::LedgerStatus::Failed,
                        Some(self.clock.now()),
                    );
                    entry.error_detail = Some(e.message.clone());
                    let written = match &self.ledger_queue {
                        Some(q) => q.put(&entry).await.map_err(BridgeError::from),
                        None => writer
                            .write_ledger(&[entry])
                            .await
                            .into_iter()
                            .next()
                            .unwrap_or(Ok(())),
                    };
                    if let Err(w) = written {
                        tracing::warn!(error = %w, "a failed send's ledger record was not marked");
                    }
                }
                Err(JobError::from(BridgeError::Send(e)))
            }
        }
    }
}

/// The sender of a bridge built without one: every send is a permanent failure.
pub(super) struct NoSender;

#[async_trait]
impl ChannelSender for NoSender {
    fn channel(&self) -> Channel {
        Channel::from("none")
    }
    async fn send(
        &self,
        _to: &str,
        _m: &Outbound,
    ) -> Result<SendReceipt, crate::sender::SendError> {
        Err(crate::sender::SendError::new(
            "none",
            "the bridge has no sender configured",
        ))
    }
}

/// An outbox with its worker running, for programs that only send
/// (reminders, notifications): enqueue under ledger keys, then drain.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # #[cfg(feature = "embedded")] {
/// use std::sync::Arc;
/// use bridge_core::clock::SystemClock;
/// use bridge_core::embedded::MemoryQueue;
/// use bridge_core::queue::{Enqueued, WorkerOptions};
/// use bridge_core::sender::{Outbound, RecordingSender};
/// use bridge_core::service::{SendJob, SendService};
///
/// let whatsapp = Arc::new(RecordingSender::new("WhatsApp"));
/// let svc = SendService::start(whatsapp.clone(), Arc::new(MemoryQueue::new("outbox")?), WorkerOptions::default(), Arc::new(SystemClock));
/// let job = SendJob::new("14155550123", Outbound::text("Your payment of $1,499.99 is due on 04/30/2025."), "payment_reminder");
/// // The key is the ledger entry: the same reminder twice is one send.
/// assert!(matches!(svc.outbox().enqueue("payment_reminder:a0B1:2025-04-30", &job).await?, Enqueued::New(_)));
/// assert!(matches!(svc.outbox().enqueue("payment_reminder:a0B1:2025-04-30", &job).await?, Enqueued::Duplicate(_)));
/// svc.drain(std::time::Duration::from_secs(5)).await;
/// assert_eq!(whatsapp.sent().len(), 1);
/// svc.shutdown().await;
/// # }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct SendService {
    outbox: Outbox,
    worker: crate::queue::WorkerHandle,
}

impl SendService {
    /// Starts the outbox worker over a sender.
    pub fn start(
        sender: Arc<dyn ChannelSender>,
        queue: Arc<dyn JobQueue>,
        workers: crate::queue::WorkerOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::start_with_opt_outs(sender, queue, workers, clock, None)
    }

    /// Starts the outbox worker, refusing marketing messages to customers in
    /// the opt-out registry.
    pub fn start_with_opt_outs(
        sender: Arc<dyn ChannelSender>,
        queue: Arc<dyn JobQueue>,
        workers: crate::queue::WorkerOptions,
        clock: Arc<dyn Clock>,
        opt_outs: Option<Arc<dyn OptOutStore>>,
    ) -> Self {
        let wake = Arc::new(Notify::new());
        let mut outbox = Outbox::new(queue.clone(), clock.clone(), Some(wake.clone()));
        outbox.opt_outs = opt_outs;
        let handler = OutboxHandler {
            primary: sender,
            fallback: None,
            outbox: outbox.clone(),
            guard: Arc::new(LoopGuard::default()),
            sent_ids: None,
            sent: Arc::new(crate::sent::MemorySentLog::default()),
            ledger: None,
            ledger_queue: None,
            unconfirmed_wait: UNCONFIRMED_WAIT,
            clock: clock.clone(),
            health: crate::health::Health::new(),
        };
        let worker =
            crate::queue::Worker::spawn_with_waker(queue, Arc::new(handler), workers, clock, wake);
        Self { outbox, worker }
    }

    /// The outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Waits until nothing is waiting or in flight (retries scheduled later
    /// count as waiting), or until `timeout`.
    pub async fn drain(&self, timeout: std::time::Duration) -> bool {
        super::wait_idle(&[&self.outbox.q], timeout).await
    }

    /// Stops the worker gracefully.
    pub async fn shutdown(&self) {
        self.worker.shutdown().await;
    }
}
