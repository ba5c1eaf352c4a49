//! The inbox worker's handler: a customer's message (dedup, route, write,
//! reply through the outbox), statuses, preferences and notices.

use super::*;

/// The inbox worker's handler.
pub struct InboxHandler {
    pub(super) bridge: Bridge,
    pub(super) outbox: Outbox,
    pub(super) sent: Arc<dyn crate::sent::SentLog>,
    pub(super) fallback: bool,
    pub(super) on_status: Option<StatusCallback>,
    pub(super) opt_outs: Option<Arc<dyn OptOutStore>>,
    pub(super) on_notice: Option<NoticeCallback>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) orphans: Arc<std::sync::atomic::AtomicU64>,
    pub(super) ledger_queue: Option<ledger::LedgerQueue>,
    pub(super) health: crate::health::Health,
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
    async fn message(&self, cx: &JobContext<'_>, m: CustomerMessage) -> Result<(), JobError> {
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
    async fn subscription(&self, m: &CustomerMessage) -> Result<bool, JobError> {
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
            ConsentChange::Stop => {
                registry
                    .opt_out(customer, &format!("keyword {}", text.trim()), now)
                    .await?;
            }
            _ => registry.opt_in(customer, now).await?,
        }
        self.bridge
            .writer
            .record_opt_out(m, kind == ConsentChange::Stop)
            .await
            .map_err(JobError::from)?;
        let stop = kind == ConsentChange::Stop;
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

    async fn process(&self, cx: &JobContext<'_>, m: &CustomerMessage) -> Result<(), JobError> {
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
                crate::metrics::message_written(w.metric_outcome());
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
        m: &CustomerMessage,
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
        let outbound = match b
            .window
            .delivery(&key, self.clock.now())
            .await
            .map_err(JobError::from)?
        {
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
