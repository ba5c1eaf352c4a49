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
//! use bridge_core::inbound::{Channel, InboundMessage};
//! use bridge_core::pipeline::Bridge;
//! use bridge_core::queue::{MemoryQueue, WorkerOptions};
//! use bridge_core::sender::RecordingSender;
//! use bridge_core::service::BridgeService;
//! use bridge_core::writer::{RecordWriter, WriteOutcome};
//! # struct Crm;
//! # #[async_trait::async_trait]
//! # impl RecordWriter for Crm {
//! #     async fn write(&self, _: &bridge_core::mapping::Action, _: &InboundMessage) -> Result<WriteOutcome, bridge_core::BridgeError> {
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
//! let mut m = InboundMessage::text(Channel::WhatsApp, "wamid.1", "14155550123", "my order arrived broken");
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
use crate::inbound::InboundMessage;
use crate::mapping::Action;
use crate::optout::{OptOutStore, Subscription};
use crate::pipeline::Bridge;
use crate::queue::{
    Enqueued, JobContext, JobError, JobHandler, JobQueue, QueueError, QueueStats, Worker,
    WorkerHandle, WorkerOptions,
};
use crate::replies;
use crate::sender::{Outbound, Sender};
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
        message: InboundMessage,
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
    pub async fn enqueue_message(&self, m: &InboundMessage) -> Result<Enqueued, QueueError> {
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
                    self.enqueue_message(&InboundMessage::from_whatsapp(&m))
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

/// The inbox worker's handler.
pub struct InboxHandler {
    bridge: Bridge,
    outbox: Outbox,
    sent: Arc<dyn crate::sent::SentLog>,
    fallback: bool,
    on_status: Option<StatusCallback>,
    opt_outs: Option<Arc<dyn OptOutStore>>,
    on_notice: Option<NoticeCallback>,
    clock: Arc<dyn Clock>,
    orphans: Arc<std::sync::atomic::AtomicU64>,
    ledger_queue: Option<ledger::LedgerQueue>,
    health: crate::health::Health,
}

/// The dedup-store key remembering that a ledger record got a status of this
/// rank (a later status is never overwritten by an earlier one).
pub(crate) fn status_rank_key(ledger_key: &str, rank: u8) -> String {
    format!("wa:ledger-status:{ledger_key}:{rank}")
}

/// Whether a ledger record already got a status later than `status` (an
/// unreadable store counts as no).
pub(crate) async fn later_status_recorded(
    dedup: &dyn crate::dedup::DedupStore,
    ledger_key: &str,
    status: crate::ledger::LedgerStatus,
) -> bool {
    for later in (status.rank() + 1)..=crate::ledger::LedgerStatus::Failed.rank() {
        if dedup
            .is_done(&status_rank_key(ledger_key, later))
            .await
            .unwrap_or(false)
        {
            return true;
        }
    }
    false
}

/// Whether tracking data is a ledger key the outbox set (`outbound_key`).
pub(crate) fn is_ledger_key(tracking: &str) -> bool {
    tracking.len() == 71 && tracking.starts_with("sha256-")
}

impl InboxHandler {
    /// Writes a status onto its ledger record, unless a later one is there.
    async fn record_status(&self, s: &StatusUpdate) -> Result<(), JobError> {
        use crate::ledger::{LedgerEntry, LedgerStatus};
        let Some(status) = LedgerStatus::from_whatsapp(&s.status) else {
            return Ok(());
        };
        let Some(key) = s.tracking.as_deref().filter(|t| is_ledger_key(t)) else {
            // Sent by another system (or before the ledger): counted, not an error.
            self.orphans
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::debug!(message_id = %crate::audit::redact_message_id(&s.message_id), "a status of a message with no ledger record");
            return Ok(());
        };
        let b = &self.bridge;
        if later_status_recorded(&*b.dedup, key, status).await {
            return Ok(());
        }
        let mut entry = LedgerEntry::status(key, status, s.at.or_else(|| Some(self.clock.now())));
        // The message id rides along (blind: always the same), so a send
        // whose receipt a crash lost still gets its id on its record.
        entry.whatsapp_id = Some(s.message_id.clone()).filter(|id| !id.is_empty());
        if status == LedgerStatus::Failed {
            entry.error_code = s.error_codes.first().copied();
            entry.error_detail.clone_from(&s.error_title);
        }
        // The rank first: a send's own record (status `Sent`) written after
        // this sees it and leaves the status alone, whatever the order the
        // two reach the ledger in.
        if let Err(e) = b
            .dedup
            .mark_done(&status_rank_key(key, status.rank()), b.options.remember_for)
            .await
        {
            tracing::warn!(error = %e, "a status's rank was not remembered");
        }
        self.put_ledger(entry).await
    }
}

impl std::fmt::Debug for InboxHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxHandler").finish_non_exhaustive()
    }
}

pub(crate) fn payload_error(e: &serde_json::Error) -> JobError {
    JobError::permanent(format!(
        "the job's payload does not parse (written by another version?): {e}"
    ))
}

impl InboxHandler {
    async fn message(&self, cx: &JobContext<'_>, m: InboundMessage) -> Result<(), JobError> {
        let b = &self.bridge;
        if b.is_replay(&m, self.clock.now()) {
            audit::message_skipped(&m.id, "older than the dedup retention: a replay");
            crate::metrics::message_skipped("replay");
            return Ok(());
        }
        let ours = b.guard.is_from_us(&m)
            || b.dedup.is_done(&sent_key(&m.id)).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the loop guard's store could not be read");
                false
            });
        if ours {
            audit::message_skipped(&m.id, "sent by us (loop prevention)");
            crate::metrics::message_skipped("from_us");
            return Ok(());
        }
        if let Some(customer) = m.from.address() {
            let at = m.sent_at.unwrap_or_else(|| self.clock.now());
            b.window
                .record_inbound(customer, at)
                .await
                .map_err(JobError::from)?;
            if m.business_id.is_some() {
                let key = crate::window::window_key(m.business_id.as_deref(), customer);
                b.window
                    .record_inbound(&key, at)
                    .await
                    .map_err(JobError::from)?;
            }
        }
        let token = match b.dedup.claim(&m.dedup_key(), b.options.claim_ttl).await? {
            Claim::New(t) => t,
            Claim::Done => {
                audit::message_skipped(&m.id, "duplicate delivery");
                crate::metrics::message_skipped("duplicate");
                return Ok(());
            }
            _ => {
                // Never acknowledge and forget: try again once the other
                // worker finished or its claim expired.
                return Err(JobError::transient(
                    "another worker holds the message's claim",
                ));
            }
        };
        match self.process(cx, &m).await {
            Ok(()) => {
                if let Err(e) = b.dedup.complete(&token, b.options.remember_for).await {
                    tracing::warn!(error = %e, "processed, but the dedup store did not record it");
                }
                Ok(())
            }
            Err(e) => {
                if let Err(release) = b.dedup.release(&token).await {
                    tracing::warn!(error = %release, "could not release the claim; it will expire");
                }
                Err(e)
            }
        }
    }

    /// STOP / START: recorded in the registry (and on the record), nothing else done.
    async fn subscription(&self, m: &InboundMessage) -> Result<bool, JobError> {
        let (Some(registry), Some(text), Some(customer)) =
            (&self.opt_outs, m.text_content(), m.from.address())
        else {
            return Ok(false);
        };
        let Some(kind) = crate::optout::keyword(text) else {
            return Ok(false);
        };
        let now = self.clock.now();
        match kind {
            Subscription::Stop => {
                registry
                    .opt_out(customer, &format!("keyword {}", text.trim()), now)
                    .await?;
            }
            _ => registry.opt_in(customer, now).await?,
        }
        self.bridge
            .writer
            .record_opt_out(m, kind == Subscription::Stop)
            .await
            .map_err(JobError::from)?;
        let stop = kind == Subscription::Stop;
        audit::message_skipped(
            &m.id,
            if stop {
                "opt-out recorded"
            } else {
                "opt-in recorded"
            },
        );
        crate::metrics::message_skipped(if stop { "opt_out" } else { "opt_in" });
        Ok(true)
    }

    async fn process(&self, cx: &JobContext<'_>, m: &InboundMessage) -> Result<(), JobError> {
        let b = &self.bridge;
        if self.subscription(m).await? {
            return Ok(());
        }
        let action = b.mapper.map(m).await.map_err(JobError::from)?;
        if let Action::Ignore { reason } = &action {
            audit::message_skipped(&m.id, reason);
            crate::metrics::message_skipped("ignored");
            return Ok(());
        }
        let checkpointed = cx
            .job()
            .checkpoint
            .as_deref()
            .and_then(|c| serde_json::from_slice::<WriteOutcome>(c).ok());
        let write = match checkpointed {
            Some(w) => w,
            None => {
                let written = b.writer.write(&action, m).await;
                self.health.record(crate::health::Api::Salesforce, &written);
                let w = written.map_err(JobError::from)?;
                let why = match &action {
                    Action::CreateCase { route, .. } | Action::UpsertLead { route, .. } => {
                        route.matched.join(", ")
                    }
                    _ => String::new(),
                };
                audit::record_written(
                    &w.object,
                    w.record_id.as_deref().unwrap_or(""),
                    &m.id,
                    action.name(),
                    &why,
                    w.created,
                );
                if let Ok(bytes) = serde_json::to_vec(&w)
                    && let Err(e) = cx.checkpoint(&bytes).await
                {
                    tracing::warn!(error = %e, "could not checkpoint the write");
                }
                crate::metrics::message_written(&w);
                crate::metrics::end_to_end(
                    "record_written",
                    (self.clock.now() - cx.job().enqueued_at)
                        .to_std()
                        .unwrap_or_default(),
                );
                w
            }
        };
        self.reply(m, &action, &write, cx.job().enqueued_at).await
    }

    async fn reply(
        &self,
        m: &InboundMessage,
        action: &Action,
        write: &WriteOutcome,
        received_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), JobError> {
        let b = &self.bridge;
        // An edit updates what was written; the customer was answered already.
        if b.sender.is_none() || !b.options.reply || m.edit_of.is_some() {
            return Ok(());
        }
        let Some(to) = m.from.address() else {
            return Ok(());
        };
        let Some(text) = replies::acknowledgement_text(action, write) else {
            return Ok(());
        };
        let key = crate::window::window_key(m.business_id.as_deref(), to);
        let reply_key = format!("reply:{}", m.dedup_key());
        let outbound = match b.window.delivery(&key).await.map_err(JobError::from)? {
            Delivery::FreeForm => Outbound::text(text),
            _ => match self.late_reply(&text) {
                Ok(outbound) => outbound,
                Err(why) => {
                    // Not sent, and the ledger says why: never a silent drop.
                    audit::message_skipped(&m.id, "reply: outside the 24-hour window");
                    let mut entry = crate::ledger::LedgerEntry::outbound(
                        crate::ledger::outbound_key(&reply_key),
                        to,
                        &text,
                        None,
                        self.clock.now(),
                    );
                    entry.status = Some(crate::ledger::LedgerStatus::Failed);
                    entry.error_detail = Some(why);
                    entry.business.clone_from(&m.business_id);
                    return self.put_ledger(entry).await;
                }
            },
        };
        let job = SendJob::new(
            to,
            outbound
                .reply_to(m.id.clone())
                .from_number_opt(m.business_id.clone()),
            "acknowledgement",
        )
        .received_at(received_at);
        self.outbox.enqueue(&reply_key, &job).await?;
        Ok(())
    }

    /// The bridge's own reply once the window has closed: the configured
    /// template with the text as its parameter, or why it cannot go.
    fn late_reply(&self, text: &str) -> Result<Outbound, String> {
        #[cfg(feature = "whatsapp")]
        if let Some((name, language)) = &self.bridge.options.late_reply_template {
            if let Some(problem) = crate::replies::template_text_problem(text) {
                return Err(format!(
                    "outside the 24-hour window: the reply cannot fill the template parameter ({problem})"
                ));
            }
            use whatsapp_cloud::messages::{Template, TemplateParam};
            let t =
                Template::new(name.clone(), language.clone()).body(vec![TemplateParam::text(text)]);
            return Ok(Outbound::whatsapp(t, text));
        }
        let _ = text;
        Err("outside the 24-hour window, and no template is configured for late replies (BridgeOptions::late_reply_template)".into())
    }

    /// Writes a ledger entry (through the ledger queue when there is one).
    async fn put_ledger(&self, entry: crate::ledger::LedgerEntry) -> Result<(), JobError> {
        if let Some(q) = &self.ledger_queue {
            q.put(&entry).await.map_err(JobError::from)?;
        } else if let Some(Err(e)) = self
            .bridge
            .writer
            .write_ledger(&[entry])
            .await
            .into_iter()
            .next()
        {
            return Err(JobError::from(e));
        }
        Ok(())
    }

    async fn status(&self, s: StatusUpdate) -> Result<(), JobError> {
        // A status proves the id is one of ours: an echo of it is never a customer message.
        self.bridge.guard.note_sent(&s.message_id);
        let b = &self.bridge;
        b.dedup
            .mark_done(&sent_key(&s.message_id), b.options.remember_for)
            .await?;
        if let Some(cb) = &self.on_status {
            cb(&s);
        }
        self.record_status(&s).await?;
        if s.status == "failed" {
            tracing::warn!(message_id = %crate::audit::redact_message_id(&s.message_id), codes = ?s.error_codes, "a message failed to deliver");
        }
        if s.status == "failed"
            && s.error_codes.contains(&131_050)
            && let (Some(registry), Some(to)) = (&self.opt_outs, &s.recipient)
        {
            registry
                .opt_out(
                    to,
                    "WhatsApp error 131050 (the customer stopped marketing messages)",
                    self.clock.now(),
                )
                .await?;
        }
        if s.status != "failed" || !s.unreachable || !self.fallback {
            return Ok(());
        }
        // Taken once, whichever instance or restart sees the status (and the
        // outbox key keeps a redelivered status from sending twice).
        let Some(original) = self.sent.take(&s.message_id, self.clock.now()).await? else {
            tracing::info!(message_id = %crate::audit::redact_message_id(&s.message_id), "a failed message we no longer remember: no fallback");
            return Ok(());
        };
        let mut job = SendJob::new(original.to, Outbound::text(original.text), "fallback");
        job.fallback = true;
        self.outbox
            .enqueue(&format!("fallback:{}", s.message_id), &job)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl JobHandler for InboxHandler {
    async fn handle(&self, cx: &JobContext<'_>) -> Result<(), JobError> {
        let event: InboxEvent =
            serde_json::from_slice(&cx.job().payload).map_err(|e| payload_error(&e))?;
        match event {
            InboxEvent::Message { message } => {
                let span = tracing::info_span!("bridge.handle", channel = %message.channel, message_id = %crate::audit::redact_message_id(&message.id), kind = message.kind());
                tracing::Instrument::instrument(self.message(cx, message), span).await
            }
            InboxEvent::Status { status } => self.status(status).await,
            InboxEvent::Preference {
                customer,
                opted_out,
            } => self.preference(&customer, opted_out).await,
            InboxEvent::Echo { message_id, kind } => self.echo(&message_id, &kind).await,
            InboxEvent::Notice { notice } => {
                self.notice(&notice);
                Ok(())
            }
        }
    }
}

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
    pub fallback: Option<Arc<dyn Sender>>,
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
        let primary: Arc<dyn Sender> = bridge.sender.clone().unwrap_or_else(|| Arc::new(NoSender));
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
            if w.name == WorkerOptions::default().name {
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
            crate::metrics::record_queue_stats(name, q.queue.backend(), &stats);
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

mod ledger;
mod maintenance;
mod notices;
mod outbox;

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
