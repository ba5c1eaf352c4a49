//! The inbound pipeline, composed from the traits: loop guard → window →
//! dedup claim → map → write → reply → complete.
//!
//! [`Bridge::handle`] processes one message; [`Bridge::handle_notification`]
//! processes a whole WhatsApp webhook and says whether the endpoint may answer
//! 200 (everything done, or safely left for a redelivery).

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;

use crate::audit;
use crate::dedup::{Claim, DedupStore, MemoryDedupStore};
use crate::error::BridgeError;
use crate::inbound::CustomerMessage;
use crate::mapping::{Action, ActionKind, DefaultMapper, Mapper};
use crate::replies;
use crate::sender::{ChannelSender, Outbound, SendReceipt};
use crate::window::{Delivery, MemoryWindowTracker, WindowTracker};
use crate::writer::{RecordWriter, WriteOutcome};

/// What happened to a message: its id and what became of it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MessageOutcome {
    /// The message id.
    pub message_id: String,
    /// What became of it.
    pub kind: OutcomeKind,
}

impl MessageOutcome {
    fn new(message_id: impl Into<String>, kind: OutcomeKind) -> Self {
        Self {
            message_id: message_id.into(),
            kind,
        }
    }
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OutcomeKind {
    /// Mapped, written and (maybe) answered.
    Processed {
        /// The action taken.
        action: ActionKind,
        /// What was written.
        write: WriteOutcome,
        /// The reply: sent, skipped (why) or failed (why).
        reply: Reply,
    },
    /// Already processed (a redelivery).
    Duplicate,
    /// Another worker is processing it right now.
    InFlight,
    /// The mapper decided to do nothing.
    Ignored {
        /// Why.
        reason: String,
    },
    /// The message came from one of our own numbers (an automation loop).
    FromUs,
}

/// What became of the reply to a processed message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// Sent.
    Sent(SendReceipt),
    /// Not sent, and why.
    Skipped(SkipReason),
    /// Sending failed (the record was written all the same).
    Failed(String),
}

/// Why no reply was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SkipReason {
    /// Replies are off, or there is no sender.
    RepliesOff,
    /// The customer has no address to reply to.
    NoAddress,
    /// Nothing to acknowledge (an update, a Task, a custom write).
    NothingToAcknowledge,
    /// Outside the 24-hour window: only a template may be sent.
    OutsideWindow,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::RepliesOff => "replies are off",
            SkipReason::NoAddress => "no address to reply to",
            SkipReason::NothingToAcknowledge => "nothing to acknowledge",
            SkipReason::OutsideWindow => "outside the 24-hour window: a template is required",
        })
    }
}

/// Remembers the ids of our own outbound messages and our own numbers, so that
/// echoes and status callbacks are never taken for customer messages.
#[derive(Debug, Default)]
pub struct LoopGuard {
    own_numbers: HashSet<String>,
    sent: Mutex<(VecDeque<String>, HashSet<String>)>,
}

const SENT_MEMORY: usize = 100_000;

impl LoopGuard {
    /// A guard that knows our business numbers (any formatting).
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(own_numbers: I) -> Self {
        Self {
            own_numbers: own_numbers
                .into_iter()
                .map(|n| digits(n.as_ref()))
                .filter(|d| !d.is_empty())
                .collect(),
            sent: Mutex::default(),
        }
    }

    /// Notes a message we sent.
    pub fn note_sent(&self, message_id: &str) {
        if let Ok(mut g) = self.sent.lock() {
            let (order, set) = &mut *g;
            if set.insert(message_id.to_owned()) {
                order.push_back(message_id.to_owned());
                if order.len() > SENT_MEMORY
                    && let Some(old) = order.pop_front()
                {
                    set.remove(&old);
                }
            }
        }
    }

    /// Whether a message id is one we sent.
    pub fn is_ours(&self, message_id: &str) -> bool {
        self.sent
            .lock()
            .map(|g| g.1.contains(message_id))
            .unwrap_or(false)
    }

    /// Whether an inbound message came from us (our number, or an id we sent).
    pub fn is_from_us(&self, m: &CustomerMessage) -> bool {
        self.is_ours(&m.id)
            || m.from
                .phone
                .as_deref()
                .is_some_and(|p| self.own_numbers.contains(&digits(p)))
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Settings of the pipeline.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BridgeOptions {
    /// How long a claim blocks other workers (a crashed worker's claim expires).
    pub claim_ttl: Duration,
    /// How long a processed message is remembered (Meta redelivers for up to 7 days).
    pub remember_for: Duration,
    /// Whether to answer customers (case number, lead acknowledgement).
    pub reply: bool,
    /// Messages signed longer ago than this are skipped (with an audit event):
    /// a correctly signed body replayed after its dedup key expired must not be
    /// processed as new. Default: `remember_for` (Meta retries for 7 days).
    pub max_message_age: Option<Duration>,
    /// The approved template (`name`, `language`) for the bridge's own
    /// replies when the customer's 24-hour window has closed by the time
    /// the reply goes (a reply held back, a redelivery days later): the
    /// reply's text is its one body parameter. Without it such a reply is
    /// not sent and its ledger record says why (queued service). Never a
    /// silent drop, never a predictable 131047.
    pub late_reply_template: Option<(String, String)>,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        Self {
            claim_ttl: Duration::from_secs(300),
            remember_for: Duration::from_secs(8 * 24 * 3600),
            reply: true,
            max_message_age: None,
            late_reply_template: None,
        }
    }
}

/// The composed pipeline. Cheap to clone.
#[derive(Clone)]
pub struct Bridge {
    pub(crate) dedup: Arc<dyn DedupStore>,
    pub(crate) mapper: Arc<dyn Mapper>,
    pub(crate) writer: Arc<dyn RecordWriter>,
    pub(crate) sender: Option<Arc<dyn ChannelSender>>,
    pub(crate) window: Arc<dyn WindowTracker>,
    pub(crate) guard: Arc<LoopGuard>,
    pub(crate) options: BridgeOptions,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Bridge`]; every part but the writer has a default.
pub struct BridgeBuilder {
    dedup: Option<Arc<dyn DedupStore>>,
    mapper: Option<Arc<dyn Mapper>>,
    writer: Arc<dyn RecordWriter>,
    sender: Option<Arc<dyn ChannelSender>>,
    window: Option<Arc<dyn WindowTracker>>,
    guard: Option<LoopGuard>,
    options: BridgeOptions,
}

impl std::fmt::Debug for BridgeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeBuilder").finish_non_exhaustive()
    }
}

impl BridgeBuilder {
    /// The dedup store (default: in memory, 1M keys).
    pub fn dedup(mut self, store: Arc<dyn DedupStore>) -> Self {
        self.dedup = Some(store);
        self
    }
    /// The mapper (default: [`DefaultMapper`]).
    pub fn mapper(mut self, mapper: Arc<dyn Mapper>) -> Self {
        self.mapper = Some(mapper);
        self
    }
    /// The sender for replies (default: none, no replies).
    pub fn sender(mut self, sender: Arc<dyn ChannelSender>) -> Self {
        self.sender = Some(sender);
        self
    }
    /// The window tracker (default: in memory).
    pub fn window(mut self, window: Arc<dyn WindowTracker>) -> Self {
        self.window = Some(window);
        self
    }
    /// Our own business numbers, for loop prevention.
    pub fn own_numbers<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, numbers: I) -> Self {
        self.guard = Some(LoopGuard::new(numbers));
        self
    }
    /// Options.
    pub fn options(mut self, options: BridgeOptions) -> Self {
        self.options = options;
        self
    }
    /// Builds the bridge.
    pub fn build(self) -> Bridge {
        Bridge {
            dedup: self
                .dedup
                .unwrap_or_else(|| Arc::new(MemoryDedupStore::new(1_000_000))),
            mapper: self
                .mapper
                .unwrap_or_else(|| Arc::new(DefaultMapper::default())),
            writer: self.writer,
            sender: self.sender,
            window: self
                .window
                .unwrap_or_else(|| Arc::new(MemoryWindowTracker::default())),
            guard: Arc::new(self.guard.unwrap_or_default()),
            options: self.options,
        }
    }
}

impl Bridge {
    /// A builder around a record writer.
    pub fn builder(writer: Arc<dyn RecordWriter>) -> BridgeBuilder {
        BridgeBuilder {
            dedup: None,
            mapper: None,
            writer,
            sender: None,
            window: None,
            guard: None,
            options: BridgeOptions::default(),
        }
    }

    /// Whether a message is too old to process at `now` (a replay).
    pub(crate) fn is_replay(&self, m: &CustomerMessage, now: chrono::DateTime<Utc>) -> bool {
        let max = self
            .options
            .max_message_age
            .unwrap_or(self.options.remember_for);
        m.sent_at
            .is_some_and(|at| chrono::Duration::from_std(max).is_ok_and(|max| now - at > max))
    }

    /// The loop guard (note ids of messages you send yourself).
    pub fn loop_guard(&self) -> &LoopGuard {
        &self.guard
    }

    /// The window tracker.
    pub fn window(&self) -> &Arc<dyn WindowTracker> {
        &self.window
    }

    /// Processes one inbound message: at most once per message id, and never
    /// lost: a failure releases the claim so a redelivery retries it.
    pub async fn handle(&self, m: CustomerMessage) -> Result<MessageOutcome, BridgeError> {
        let span = tracing::info_span!("bridge.handle", channel = %m.channel, message_id = %crate::audit::redact_message_id(&m.id), kind = m.kind());
        tracing::Instrument::instrument(self.handle_inner(m), span).await
    }

    async fn handle_inner(&self, m: CustomerMessage) -> Result<MessageOutcome, BridgeError> {
        let message_id = m.id.clone();
        if self.is_replay(&m, Utc::now()) {
            audit::message_skipped(&message_id, "older than the dedup retention: a replay");
            return Ok(MessageOutcome::new(
                message_id,
                OutcomeKind::Ignored {
                    reason: "older than the dedup retention (a replay)".into(),
                },
            ));
        }
        if self.guard.is_from_us(&m) {
            audit::message_skipped(&message_id, "sent by us (loop prevention)");
            return Ok(MessageOutcome::new(message_id, OutcomeKind::FromUs));
        }
        if let Some(customer) = m.from.address() {
            let at = m.sent_at.unwrap_or_else(Utc::now);
            self.window.record_inbound(customer, at).await?;
            if m.business_id.is_some() {
                let key = crate::window::window_key(m.business_id.as_deref(), customer);
                self.window.record_inbound(&key, at).await?;
            }
        }
        let token = match self
            .dedup
            .claim(&m.dedup_key(), self.options.claim_ttl)
            .await?
        {
            Claim::New(t) => t,
            Claim::InFlight => {
                audit::message_skipped(&message_id, "in flight in another worker");
                return Ok(MessageOutcome::new(message_id, OutcomeKind::InFlight));
            }
            Claim::Done => {
                audit::message_skipped(&message_id, "duplicate delivery");
                return Ok(MessageOutcome::new(message_id, OutcomeKind::Duplicate));
            }
        };
        let result = self.process(&m).await;
        match result {
            Ok(outcome) => {
                // The work is done: a failure to record that must not turn into
                // an error (Meta would redeliver and the work would run twice).
                if let Err(e) = self.dedup.complete(&token, self.options.remember_for).await {
                    tracing::warn!(error = %e, "processed, but the dedup store did not record it");
                }
                Ok(outcome)
            }
            Err(e) => {
                if let Err(release) = self.dedup.release(&token).await {
                    tracing::warn!(error = %release, "could not release the claim; it will expire");
                }
                tracing::warn!(error = %e, retryable = e.is_retryable(), "processing failed; released for redelivery");
                Err(e)
            }
        }
    }

    async fn process(&self, m: &CustomerMessage) -> Result<MessageOutcome, BridgeError> {
        let action = self.mapper.map(m).await?;
        if let Action::Ignore { reason } = &action {
            audit::message_skipped(&m.id, reason);
            return Ok(MessageOutcome::new(
                m.id.clone(),
                OutcomeKind::Ignored {
                    reason: reason.clone(),
                },
            ));
        }
        let write = self.writer.write(&action, m).await?;
        let why = match &action {
            Action::CreateCase { route, .. } | Action::UpsertLead { route, .. } => {
                route.matched.join(", ")
            }
            _ => String::new(),
        };
        audit::record_written(
            &write.object,
            write.record_id.as_deref().unwrap_or(""),
            &m.id,
            action.name(),
            &why,
            write.created,
        );
        let reply = self.reply(m, &action, &write).await;
        Ok(MessageOutcome::new(
            m.id.clone(),
            OutcomeKind::Processed {
                action: action.kind(),
                write,
                reply,
            },
        ))
    }

    async fn reply(&self, m: &CustomerMessage, action: &Action, write: &WriteOutcome) -> Reply {
        let Some(sender) = self.sender.as_ref().filter(|_| self.options.reply) else {
            return Reply::Skipped(SkipReason::RepliesOff);
        };
        let Some(to) = m.from.address() else {
            return Reply::Skipped(SkipReason::NoAddress);
        };
        let Some(text) = replies::acknowledgement_text(action, write) else {
            return Reply::Skipped(SkipReason::NothingToAcknowledge);
        };
        let key = crate::window::window_key(m.business_id.as_deref(), to);
        match self.window.delivery(&key, Utc::now()).await {
            Ok(Delivery::FreeForm) => {}
            Ok(_) => {
                return Reply::Skipped(SkipReason::OutsideWindow);
            }
            Err(e) => return Reply::Failed(e.to_string()),
        }
        // The same ledger key as the queued service's reply job.
        let ledger_key = crate::ledger::outbound_key(&format!("reply:{}", m.dedup_key()));
        let outbound = Outbound::text(text.clone())
            .reply_to(m.id.clone())
            .tracking(ledger_key.clone())
            .from_number_opt(m.business_id.clone());
        match sender.send(to, &outbound).await {
            Ok(receipt) => {
                if let Some(id) = &receipt.message_id {
                    self.guard.note_sent(id);
                    audit::message_sent(receipt.channel.name(), to, id, "acknowledgement");
                }
                let entry = crate::ledger::LedgerEntry::outbound(
                    ledger_key,
                    to,
                    &text,
                    receipt.message_id.clone(),
                    Utc::now(),
                );
                if let Some(Err(e)) = self.writer.write_ledger(&[entry]).await.into_iter().next() {
                    tracing::warn!(error = %e, "replied, but the reply's ledger record was not written");
                }
                Reply::Sent(receipt)
            }
            Err(e) => {
                tracing::warn!(error = %e, "reply failed; the record was written");
                Reply::Failed(e.to_string())
            }
        }
    }
}

#[cfg(feature = "whatsapp")]
pub use notification::Report;

/// A message that failed, and why (the id is absent when the item had none).
#[derive(Debug)]
#[non_exhaustive]
pub struct Failure {
    /// The message that failed.
    pub message_id: Option<String>,
    /// Why.
    pub error: BridgeError,
}

#[cfg(feature = "whatsapp")]
mod notification {
    use super::*;
    use whatsapp_cloud::webhooks::{Event, Notification};

    /// What a webhook notification came to.
    #[derive(Debug, Default)]
    #[non_exhaustive]
    pub struct Report {
        /// One outcome per inbound message handled.
        pub outcomes: Vec<MessageOutcome>,
        /// Statuses seen (delivery receipts of our messages).
        pub statuses: usize,
        /// Items that could not be parsed (kept raw, logged).
        pub invalid: usize,
        /// Messages that failed and were released for redelivery.
        pub failures: Vec<Failure>,
    }

    impl Report {
        /// Whether the endpoint may answer 200: nothing failed in a way a
        /// redelivery could fix, and no message was left to another worker
        /// (that worker may die: only a redelivery would bring it back).
        /// Prefer the queue ([`crate::service`]), which answers at once.
        pub fn may_acknowledge(&self) -> bool {
            !self.failures.iter().any(|f| f.error.is_retryable())
                && !self
                    .outcomes
                    .iter()
                    .any(|o| matches!(o.kind, OutcomeKind::InFlight))
        }
    }

    impl Bridge {
        /// Processes every event of a webhook. One failing message does not stop
        /// the others; processed messages are remembered, so a redelivery only
        /// redoes the failed ones. Answer 200 when
        /// [`Report::may_acknowledge`], else 500 so that Meta redelivers.
        pub async fn handle_notification(&self, n: &Notification) -> Report {
            let mut report = Report::default();
            for event in n.events() {
                match event {
                    Event::Message(m) => {
                        match self.handle(CustomerMessage::from_whatsapp(&m)).await {
                            Ok(o) => report.outcomes.push(o),
                            Err(error) => report.failures.push(Failure {
                                message_id: Some(m.message.id.clone()),
                                error,
                            }),
                        }
                    }
                    Event::Status(s) => {
                        report.statuses += 1;
                        tracing::debug!(status = %s.status.status, ours = self.guard.is_ours(&s.status.id), "status");
                        if s.status.status == whatsapp_cloud::webhooks::StatusKind::Failed {
                            let codes: Vec<i64> =
                                s.status.errors.iter().filter_map(|e| e.code).collect();
                            tracing::warn!(message_id = %crate::audit::redact_message_id(&s.status.id), ?codes, "a message failed to deliver");
                        }
                    }
                    Event::Invalid(i) => {
                        report.invalid += 1;
                        tracing::warn!(field = i.context.field, problem = %i.item.problem, "invalid webhook item kept aside");
                    }
                    _ => {}
                }
            }
            report
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::inbound::Channel;
    use crate::sender::RecordingSender;

    #[derive(Default)]
    struct FakeWriter {
        writes: AtomicUsize,
        fail_first: AtomicUsize,
    }

    #[async_trait]
    impl RecordWriter for FakeWriter {
        async fn write(
            &self,
            action: &Action,
            _m: &CustomerMessage,
        ) -> Result<WriteOutcome, BridgeError> {
            if self.fail_first.load(Ordering::SeqCst) > 0 {
                self.fail_first.fetch_sub(1, Ordering::SeqCst);
                return Err(BridgeError::Store("CRM down".into()));
            }
            let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
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

    fn msg(id: &str, body: &str) -> CustomerMessage {
        let mut m =
            CustomerMessage::text(Channel::WhatsApp, id, "14155550123", body).with_name("Ana Lima");
        m.sent_at = Some(Utc::now());
        m
    }

    #[tokio::test]
    async fn processes_once_replies_with_the_case_number_and_retries_failures() {
        let writer = Arc::new(FakeWriter::default());
        let sender = Arc::new(RecordingSender::new("WhatsApp"));
        let bridge = Bridge::builder(writer.clone())
            .sender(sender.clone())
            .own_numbers(["+1 555 000 1111"])
            .build();
        let o = bridge
            .handle(msg("w1", "my order arrived broken"))
            .await
            .unwrap();
        let OutcomeKind::Processed {
            action,
            write,
            reply: Reply::Sent(_),
            ..
        } = o.kind
        else {
            panic!("{o:?}")
        };
        assert_eq!(action, ActionKind::CreateCase);
        assert_eq!(write.case_number.as_deref(), Some("00001026"));
        assert!(sender.sent()[0].1.contains("00001026"));
        assert!(matches!(
            bridge
                .handle(msg("w1", "my order arrived broken"))
                .await
                .unwrap()
                .kind,
            OutcomeKind::Duplicate
        ));
        assert_eq!(writer.writes.load(Ordering::SeqCst), 1);
        // A failure releases the claim: the redelivery processes it.
        writer.fail_first.store(1, Ordering::SeqCst);
        assert!(bridge.handle(msg("w2", "quote please")).await.is_err());
        assert!(matches!(
            bridge.handle(msg("w2", "quote please")).await.unwrap().kind,
            OutcomeKind::Processed { .. }
        ));
        // Loop prevention: our own number and our own sent ids.
        let mut echo = msg("w3", "hello");
        echo.from.phone = Some("15550001111".into());
        assert!(matches!(
            bridge.handle(echo).await.unwrap().kind,
            OutcomeKind::FromUs
        ));
        let our_reply_id = sender.sent().len();
        assert!(
            bridge
                .loop_guard()
                .is_ours(&format!("whatsapp-{our_reply_id}"))
        );
    }

    /// A store that claims but cannot record completion.
    struct ForgetfulStore(MemoryDedupStore);

    #[async_trait]
    impl DedupStore for ForgetfulStore {
        async fn claim(&self, key: &str, ttl: Duration) -> Result<Claim, BridgeError> {
            self.0.claim(key, ttl).await
        }
        async fn complete(
            &self,
            _t: &crate::dedup::ClaimToken,
            _keep: Duration,
        ) -> Result<(), BridgeError> {
            Err(BridgeError::Store("redis went away".into()))
        }
        async fn release(&self, t: &crate::dedup::ClaimToken) -> Result<(), BridgeError> {
            self.0.release(t).await
        }
    }

    #[tokio::test]
    async fn done_work_is_not_reported_as_failed_when_bookkeeping_fails() {
        let writer = Arc::new(FakeWriter::default());
        let bridge = Bridge::builder(writer.clone())
            .dedup(Arc::new(ForgetfulStore(MemoryDedupStore::new(10))))
            .build();
        let o = bridge.handle(msg("w1", "broken")).await.unwrap();
        assert!(matches!(o.kind, OutcomeKind::Processed { .. }));
        assert_eq!(writer.writes.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn no_free_form_reply_outside_the_window() {
        let sender = Arc::new(RecordingSender::new("WhatsApp"));
        let bridge = Bridge::builder(Arc::new(FakeWriter::default()))
            .sender(sender.clone())
            .build();
        let mut old = msg("w9", "broken");
        old.sent_at = Some(Utc::now() - chrono::Duration::hours(30));
        let OutcomeKind::Processed { reply, .. } = bridge.handle(old).await.unwrap().kind else {
            panic!()
        };
        assert_eq!(reply, Reply::Skipped(SkipReason::OutsideWindow));
        assert!(sender.sent().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_deliveries_of_one_message_write_once() {
        let writer = Arc::new(FakeWriter::default());
        let bridge = Bridge::builder(writer.clone()).build();
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let b = bridge.clone();
                tokio::spawn(async move { b.handle(msg("same", "broken")).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(writer.writes.load(Ordering::SeqCst), 1);
    }
}

#[cfg(test)]
mod traits {
    #[test]
    fn bridge_is_send_sync_clone_and_debug() {
        fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
        assert_traits::<super::Bridge>();
    }
}
