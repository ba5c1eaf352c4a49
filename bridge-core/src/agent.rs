//! Agent replies from Salesforce (features `salesforce` and `whatsapp`): an
//! agent, or a Flow, inserts an Outbound ledger record (`WhatsApp_Message__c`
//! with `Direction__c = Outbound`, `Status__c = Queued`, the text in
//! `Body__c`, the customer in `Customer_Phone__c`); [`AgentReplies::poll`]
//! picks the queued records up and hands each to the outbox under the key
//! `agent:<record id>`, so each is sent once whatever the reruns, crashes or
//! instances. The record is stamped with its ledger key first: the send then
//! marks it `Sent` with the WhatsApp message id, and delivery statuses land on
//! it like on every outbound record.
//!
//! The trigger is a poll ([`AgentReplies::poll`], every few seconds), or
//! Change Data Capture on the ledger object ([`AgentReplies::on_changes`],
//! feature `pubsub`) with the poll as the fallback; both can run.
//!
//! The 24-hour window decides the form: inside it the text goes as is;
//! outside it the configured template goes (the text as its one body
//! parameter), or the record is marked `Failed` with the reason, never
//! dropped and never sent to collect a predictable 131047.
//!
//! With [`AgentReplies::with_attachments`], a file uploaded on the record
//! (its Files related list: a `ContentVersion` whose
//! `FirstPublishLocationId` is the record) goes with the text as its
//! caption, checked against WhatsApp's types and sizes before anything is
//! fetched; send through
//! [`AttachmentSender`](crate::attachments::AttachmentSender).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use salesforce_rest::composite::CompositeRequest;
use salesforce_rest::soql::Soql;
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::error::BridgeError;
use crate::ledger::{LedgerStatus, outbound_key};
use crate::sender::{Attachment, Outbound};
use crate::service::{MessageCategory, Outbox, SendJob};
use crate::window::{Delivery, WindowTracker};
use crate::writer::SalesforceWriter;

/// Records re-read before the watermark (late commits).
const OVERLAP: Duration = Duration::minutes(5);

/// What a poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollReport {
    /// Queued records read.
    pub picked: usize,
    /// Handed to the outbox as free-form text.
    pub free_form: usize,
    /// Handed to the outbox as the outside-the-window template.
    pub templates: usize,
    /// Marked `Failed` (no number, outside the window with no template, a
    /// text the template cannot carry).
    pub failed: usize,
    /// The watermark for the next poll (the newest record's `SystemModstamp`).
    pub watermark: Option<DateTime<Utc>>,
    /// A change-event gap was seen ([`AgentReplies::on_changes`]): poll to
    /// catch up.
    pub gap: bool,
}

/// Sends the agents' Outbound records (see the [module](self) docs).
#[derive(Clone)]
pub struct AgentReplies {
    writer: SalesforceWriter,
    outbox: Outbox,
    window: Arc<dyn WindowTracker>,
    template: Option<(String, String)>,
    /// Templates of particular business numbers (phone number id →
    /// name, language), before `template`.
    number_templates: std::collections::HashMap<String, (String, String)>,
    attachments: bool,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AgentReplies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentReplies")
            .field("template", &self.template)
            .field("number_templates", &self.number_templates)
            .finish_non_exhaustive()
    }
}

impl AgentReplies {
    /// Agent replies through `outbox`, with the window as `window` tracks it
    /// (share the bridge's tracker: it records every inbound message).
    pub fn new(
        writer: SalesforceWriter,
        outbox: Outbox,
        window: Arc<dyn WindowTracker>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            writer,
            outbox,
            window,
            template: None,
            number_templates: std::collections::HashMap::new(),
            attachments: false,
            clock,
        }
    }

    /// The template replies leaving from one business number (its phone
    /// number id) take outside the window, instead of
    /// [`outside_window_template`](Self::outside_window_template)'s: a sales
    /// line and a support line each with its own approved wording.
    pub fn outside_window_template_for(
        mut self,
        phone_number_id: impl Into<String>,
        name: impl Into<String>,
        language: impl Into<String>,
    ) -> Self {
        self.number_templates
            .insert(phone_number_id.into(), (name.into(), language.into()));
        self
    }

    /// Sends the file uploaded on each record with it (the newest, when
    /// there are several), the text as its caption. It costs one query per
    /// 200 records picked up (the files' metadata); the bytes are fetched at
    /// send time by [`AttachmentSender`](crate::attachments::AttachmentSender).
    /// A file WhatsApp would refuse (type, size, a caption over 1,024
    /// characters) marks the record `Failed` with the limit named; so does a
    /// file outside the 24-hour window, where only a template can go.
    pub fn with_attachments(mut self) -> Self {
        self.attachments = true;
        self
    }

    /// The approved template sent outside the 24-hour window, with the
    /// agent's text as its one body parameter (`agent_followup`, `en_US`).
    pub fn outside_window_template(
        mut self,
        name: impl Into<String>,
        language: impl Into<String>,
    ) -> Self {
        self.template = Some((name.into(), language.into()));
        self
    }

    /// Picks up the records queued since `watermark` (re-reading five
    /// minutes before it) and hands them to the outbox. Run it every few
    /// seconds with the report's watermark (with Change Data Capture, as the
    /// fallback and after a gap: the outbox keys keep each record single).
    pub async fn poll(&self, watermark: Option<DateTime<Utc>>) -> Result<PollReport, BridgeError> {
        let s = self.writer.ledger_schema().clone();
        let since = watermark.map_or(DateTime::<Utc>::MIN_UTC, |w| w - OVERLAP);
        let since = since.max(DateTime::from_timestamp(0, 0).unwrap_or_default());
        let soql = Soql::new(queued_select(
            &s,
            "AND SystemModstamp > {} ORDER BY SystemModstamp ASC",
        ))
        .bind("Outbound")
        .bind(LedgerStatus::Queued.as_str())
        .bind(since)
        .build()?;
        let rows = self
            .writer
            .client()
            .query_stream::<Value>(&soql)
            .collect_max(2_000)
            .await?;
        let mut report = PollReport {
            watermark,
            ..PollReport::default()
        };
        self.dispatch(&rows, &mut report).await?;
        Ok(report)
    }

    /// Handles a delivery of the ledger object's change events (Change Data
    /// Capture, `/data/WhatsApp_Message__ChangeEvent`; feature `pubsub`):
    /// the records created or updated as Outbound and `Queued` are read back
    /// together (one query per 200: the record is the source of truth) and
    /// handed to the outbox like [`poll`](Self::poll) does. Events of other
    /// objects, and changes that leave a record's status alone, cost
    /// nothing. A gap event sets [`PollReport::gap`]: poll to catch up.
    #[cfg(feature = "pubsub")]
    pub async fn on_changes(
        &self,
        events: &[salesforce_rest::pubsub::EventMessage],
    ) -> Result<PollReport, BridgeError> {
        use salesforce_rest::pubsub::ChangeType;
        let s = self.writer.ledger_schema().clone();
        let mut report = PollReport::default();
        let mut ids: Vec<String> = Vec::new();
        for event in events {
            let Some(change) = &event.change else {
                continue;
            };
            if change.entity_name != s.object {
                continue;
            }
            if change.change_type.is_gap() {
                report.gap = true;
                continue;
            }
            let carried = |f: &str| event.text(f);
            let candidate = match change.change_type {
                ChangeType::Create => {
                    carried(&s.direction) != Some("Inbound")
                        && carried(&s.status).is_none_or(|st| st == LedgerStatus::Queued.as_str())
                }
                ChangeType::Update | ChangeType::Undelete => {
                    event.changed(&s.status)
                        && carried(&s.status) == Some(LedgerStatus::Queued.as_str())
                }
                _ => false,
            };
            if candidate {
                ids.extend(change.record_ids.iter().cloned());
            }
        }
        ids.sort();
        ids.dedup();
        for part in ids.chunks(200) {
            let soql = Soql::new(queued_select(&s, "AND Id IN {}"))
                .bind("Outbound")
                .bind(LedgerStatus::Queued.as_str())
                .bind(part)
                .build()?;
            let rows = self
                .writer
                .client()
                .query_stream::<Value>(&soql)
                .collect_max(part.len())
                .await?;
            self.dispatch(&rows, &mut report).await?;
        }
        Ok(report)
    }

    /// Stamps the queued `rows` with their ledger keys (or `Failed` and the
    /// reason) and hands the sendable ones to the outbox.
    async fn dispatch(&self, rows: &[Value], report: &mut PollReport) -> Result<(), BridgeError> {
        let s = self.writer.ledger_schema().clone();
        report.picked += rows.len();
        let now = self.clock.now();
        let files = if self.attachments {
            self.files_of(rows).await?
        } else {
            std::collections::HashMap::new()
        };
        let mut stamps = Vec::new();
        let mut jobs = Vec::new();
        for row in rows {
            let Some(id) = row.get("Id").and_then(Value::as_str) else {
                continue;
            };
            if let Some(at) = row
                .get("SystemModstamp")
                .and_then(Value::as_str)
                .and_then(salesforce_rest::records::SfDateTime::parse)
            {
                report.watermark = Some(report.watermark.map_or(at.0, |w| w.max(at.0)));
            }
            let job_key = format!("agent:{id}");
            let key = outbound_key(&job_key);
            let text = row
                .get(&s.body)
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_owned();
            // The customer as WhatsApp names them (digits: `14155550123`),
            // the form the window and the outbox key them by.
            let phone = row
                .get(&s.customer_phone)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(crate::optout::customer_key);
            // The business number the reply leaves from (and whose window
            // counts): the record's, else the sender's own.
            let business = row
                .get(&s.business_phone)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|b| !b.is_empty())
                .map(str::to_owned);
            let mut stamp =
                json!({ "attributes": { "type": s.object }, "id": id, s.key.as_str(): key });
            let file = files.get(id);
            let failure = match (&phone, text.is_empty() && file.is_none()) {
                (None, _) => {
                    Some("no customer phone: set Customer_Phone__c on the record".to_owned())
                }
                (_, true) => Some("the message has no text".to_owned()),
                (Some(to), false) => {
                    match self.form(to, business.as_deref(), &text, file, now).await? {
                        Ok(outbound) => {
                            let outbound = outbound.from_number_opt(business.clone());
                            if outbound.whatsapp.is_some() {
                                report.templates += 1;
                            } else {
                                report.free_form += 1;
                            }
                            let job = SendJob::new(to.clone(), outbound, "agent_reply")
                                .category(MessageCategory::Service);
                            jobs.push((job_key, job));
                            None
                        }
                        Err(why) => Some(why),
                    }
                }
            };
            if let (Some(why), Value::Object(m)) = (failure, &mut stamp) {
                report.failed += 1;
                m.insert(s.status.clone(), json!(LedgerStatus::Failed.as_str()));
                m.insert(s.error_detail.clone(), json!(why));
                m.insert(
                    s.status_at.clone(),
                    json!(now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
                );
            }
            stamps.push(stamp);
        }
        // The key first, so the send's record and its statuses land here.
        for chunk in stamps.chunks(200) {
            let request = CompositeRequest::new(false).push(
                salesforce_rest::composite::Subrequest::new(
                    "PATCH",
                    self.writer.client().data_path("composite/sobjects"),
                    "stamp",
                )
                .body(json!({ "allOrNone": false, "records": chunk })),
            );
            self.writer.client().composite(&request).await?;
        }
        for (key, job) in jobs {
            self.outbox.enqueue(&key, &job).await?;
        }
        Ok(())
    }

    /// The newest file uploaded on each of `rows`, by record id: one query
    /// per 200 records.
    async fn files_of(
        &self,
        rows: &[Value],
    ) -> Result<std::collections::HashMap<String, Attachment>, BridgeError> {
        let ids: Vec<&str> = rows
            .iter()
            .filter_map(|r| r.get("Id").and_then(Value::as_str))
            .collect();
        // Record ids come back in 18 characters; a row's may be 15:
        // `SalesforceId` compares both forms as one.
        let by_id: std::collections::HashMap<salesforce_rest::SalesforceId, &str> = ids
            .iter()
            .filter_map(|i| Some((salesforce_rest::SalesforceId::parse(i).ok()?, *i)))
            .collect();
        let mut newest: std::collections::HashMap<String, (String, Attachment)> =
            std::collections::HashMap::new();
        for part in ids.chunks(200) {
            let soql = Soql::new(
                "SELECT Id, FirstPublishLocationId, PathOnClient, ContentSize FROM ContentVersion WHERE FirstPublishLocationId IN {} AND IsLatest = true",
            )
            .bind(part)
            .build()?;
            let versions = self
                .writer
                .client()
                .query_stream::<Value>(&soql)
                .collect_max(2_000)
                .await?;
            for v in versions {
                let (Some(id), Some(record)) = (
                    v.get("Id").and_then(Value::as_str),
                    v.get("FirstPublishLocationId").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let name = v
                    .get("PathOnClient")
                    .and_then(Value::as_str)
                    .map(|p| p.rsplit(['/', '\\']).next().unwrap_or(p))
                    .unwrap_or_default();
                let size = v.get("ContentSize").and_then(Value::as_u64).unwrap_or(0);
                let file = Attachment::new(id, name, "", size);
                let record = salesforce_rest::SalesforceId::parse(record)
                    .ok()
                    .and_then(|r| by_id.get(&r).copied())
                    .unwrap_or(record)
                    .to_owned();
                match newest.get(&record) {
                    Some((seen, _)) if seen.as_str() >= id => {}
                    _ => {
                        newest.insert(record, (id.to_owned(), file));
                    }
                }
            }
        }
        Ok(newest.into_iter().map(|(k, (_, f))| (k, f)).collect())
    }

    /// The form of a reply now: free-form inside the window, else the
    /// template, else why it cannot go.
    async fn form(
        &self,
        to: &str,
        business: Option<&str>,
        text: &str,
        file: Option<&Attachment>,
        now: DateTime<Utc>,
    ) -> Result<Result<Outbound, String>, BridgeError> {
        // The window of this customer on this business number.
        let last = self
            .window
            .last_inbound(&crate::window::window_key(business, to))
            .await?;
        let open = crate::window::delivery(last, now) == Delivery::FreeForm;
        if let Some(file) = file {
            let mime = match crate::attachments::check(&file.file_name, file.size, text) {
                Ok((mime, _)) => mime,
                Err(problem) => return Ok(Err(problem.to_string())),
            };
            if !open {
                return Ok(Err(
                    "outside the 24-hour window: a template cannot carry the attachment; send it once the customer writes again"
                        .into(),
                ));
            }
            let mut file = file.clone();
            file.mime_type = mime.to_owned();
            return Ok(Ok(Outbound::text(text).attach(file)));
        }
        if open {
            return Ok(Ok(Outbound::text(text)));
        }
        let template = business
            .and_then(|b| self.number_templates.get(b))
            .or(self.template.as_ref());
        let Some((name, language)) = template else {
            return Ok(Err(
                "outside the 24-hour window, and no template is configured for agent replies"
                    .into(),
            ));
        };
        if let Some(limit) = crate::replies::template_text_problem(text) {
            return Ok(Err(format!(
                "outside the 24-hour window: the text cannot fill the template parameter ({limit})"
            )));
        }
        use whatsapp_cloud::messages::{Template, TemplateParam};
        let template =
            Template::new(name.clone(), language.clone()).body(vec![TemplateParam::text(text)]);
        Ok(Ok(Outbound::whatsapp(template, text)))
    }
}

/// The queued Outbound records' fields, `WHERE` direction and status (two
/// placeholders), then `rest` (more conditions and placeholders).
fn queued_select(s: &crate::ledger::LedgerSchema, rest: &str) -> String {
    format!(
        "SELECT Id, {body}, {phone}, {business}, SystemModstamp FROM {object} WHERE {direction} = {{}} AND {status} = {{}} {rest}",
        body = s.body,
        phone = s.customer_phone,
        business = s.business_phone,
        object = s.object,
        direction = s.direction,
        status = s.status,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn template_parameters_follow_metas_rules() {
        use crate::replies::template_text_problem;
        assert_eq!(template_text_problem("See you at 2:30 PM EST"), None);
        assert!(template_text_problem("line\nbreak").is_some());
        assert!(template_text_problem("a     b").is_some());
        assert!(template_text_problem(&"x".repeat(1_025)).is_some());
    }
}
