//! The Salesforce [`RecordWriter`]: Cases upserted on the message key, Leads
//! upserted on the customer's E.164 number, both idempotent in every mode.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{Duration, Utc};
use salesforce_rest::Client;
use salesforce_rest::composite::{CompositeRequest, CompositeResponse, Subrequest};
use salesforce_rest::records::{DynamicRecord, Field, Task};
use salesforce_rest::sobjects::{ObjectDescribe, WriteOptions};
use salesforce_rest::soql::{Soql, sosl_escape};
use serde_json::Value;
use sha2::Digest;

use super::{RecordWriter, WriteOutcome};
use crate::budget::{ApiBudget, Urgency};
use crate::error::BridgeError;
use crate::format::phone;
use crate::inbound::InboundMessage;
use crate::mapping::{Action, LeadDraft, limits, truncate_chars};

/// The default Case field holding the message key (External ID, Unique, Text(80)).
pub const DEFAULT_CASE_KEY_FIELD: &str = "WhatsApp_Message_Id__c";
/// The default Lead field holding the customer's E.164 number (External ID, Unique).
pub const DEFAULT_LEAD_KEY_FIELD: &str = "WhatsApp_Phone__c";
/// The longest key kept as is; longer message ids are hashed.
const KEY_MAX: usize = 80;

/// How an existing Lead is found by phone when no Lead key field is used.
///
/// Salesforce stores phone fields exactly as typed and does not normalize
/// them, so an exact `Phone = '...'` misses `(415) 555-0123` when you search
/// for `+14155550123`. [`LeadLookup::PhoneForms`] queries the ten forms a US
/// number is commonly stored in (E.164, digits, display forms) on `Phone` and
/// `MobilePhone`: exact, immediate and one query. [`LeadLookup::Sosl`] uses
/// `FIND {...} IN PHONE FIELDS`, which tolerates any formatting but depends on
/// the search index, which can lag new records by minutes. With a Lead key
/// field (the default) neither is needed: the key is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LeadLookup {
    /// SOQL over the common stored forms of the number (default).
    #[default]
    PhoneForms,
    /// SOSL phone search.
    Sosl,
}

/// Writes actions to Salesforce.
///
/// By default every write is idempotent: a Case is upserted on
/// [`DEFAULT_CASE_KEY_FIELD`] holding the message key (the message id, or its
/// SHA-256 when it is not URL-safe or longer than 80 characters), so a retry after a lost answer
/// cannot create a second Case; a Lead is upserted on [`DEFAULT_LEAD_KEY_FIELD`]
/// holding the customer's E.164 number, so two first messages cannot create
/// two Leads. Later messages are **prepended** to the Lead's description
/// (newest first, trimmed to the field's length) and their tags **merged** into
/// the tags field, never overwritten. Call [`check_setup`](Self::check_setup)
/// at start-up: it fails with the exact setup steps when a field is missing.
///
/// # API calls
///
/// With the key fields (the default) a message costs one Salesforce call: a
/// Case is upserted and its `CaseNumber` read in one composite request; a
/// Lead is written with its follow-up Task and read back in one composite
/// request. The writer remembers the Leads it wrote and updates them with
/// `If-Unmodified-Since`, so a change someone made in the meantime is merged,
/// not overwritten (Salesforce answers 412 and the same call reads the fresh
/// Lead). [`write_batch`](RecordWriter::write_batch) writes many messages'
/// Cases and new Leads through sObject Collections, a few calls per thousand
/// messages; wrap the writer in [`Batching`](crate::writer::Batching) to
/// coalesce concurrent writes.
///
/// With an [`ApiBudget`] (see [`budget`](Self::budget)), everything but new
/// Cases waits while the org's API usage is above the budget's threshold:
/// the write fails with [`BridgeError::Deferred`], which the queue retries later.
#[derive(Debug, Clone)]
pub struct SalesforceWriter {
    client: Client,
    case_key_field: Option<String>,
    lead_key_field: Option<String>,
    tags_field: Option<String>,
    opt_out_field: Option<String>,
    lookup: LeadLookup,
    options: WriteOptions,
    describes: Arc<Mutex<HashMap<String, ObjectDescribe>>>,
    leads: Arc<Mutex<lru::LruCache<String, lead::KnownLead>>>,
    budget: Option<(Arc<ApiBudget>, StdDuration)>,
}

/// How long an action may wait: new Cases (and doing nothing) never wait for
/// the budget; everything else can.
fn urgency(action: &Action) -> Urgency {
    match action {
        Action::CreateCase { .. } | Action::Ignore { .. } => Urgency::Urgent,
        _ => Urgency::Deferrable,
    }
}

/// The error of a failed composite subrequest.
fn api_error(r: &CompositeResponse) -> Option<BridgeError> {
    r.error()
        .map(|e| BridgeError::Salesforce(salesforce_rest::Error::Api(Box::new(e))))
}

/// The message key of a Case: the id itself when it is safe in a URL path
/// (letters, digits, `-`, `_`, `.`, `~`) and fits in 80 characters, else
/// `sha256-` and the hex digest of it (71 characters, URL-safe), so the
/// upsert is the plain `PATCH /sobjects/Case/<field>/<key>`.
pub fn case_key(message_id: &str) -> String {
    let safe = !message_id.is_empty()
        && message_id != "."
        && message_id != ".."
        && message_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    if safe && message_id.len() <= KEY_MAX {
        message_id.to_owned()
    } else {
        format!(
            "sha256-{}",
            hex::encode(sha2::Sha256::digest(message_id.as_bytes()))
        )
    }
}

/// Prepends a new entry to a description, newest first, trimmed to `max`
/// characters (the oldest text goes first). An entry already at the top (a
/// retry of a write whose answer was lost) is not added twice.
pub fn merge_description(new: &str, old: Option<&str>, max: usize) -> String {
    let merged = match old.map(str::trim).filter(|o| !o.is_empty()) {
        Some(old) if !new.trim().is_empty() && old.starts_with(new.trim()) => old.to_owned(),
        Some(old) => format!("{new}\n\n{old}"),
        None => new.to_owned(),
    };
    truncate_chars(&merged, max).to_owned()
}

/// Merges tags into a `;`-separated multi-value field, keeping the existing
/// order and adding new ones (case-insensitively unique).
pub fn merge_tags(old: Option<&str>, new: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    for tag in old
        .unwrap_or("")
        .split(';')
        .map(str::to_owned)
        .chain(new.iter().cloned())
    {
        let tag = tag.trim().to_owned();
        if !tag.is_empty() && !out.iter().any(|t| t.eq_ignore_ascii_case(&tag)) {
            out.push(tag);
        }
    }
    out.join(";")
}

fn api_name(name: &str) -> Result<&str, BridgeError> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(name)
    } else {
        Err(BridgeError::Mapping(format!(
            "{name:?} is not a field API name"
        )))
    }
}

/// A Lead found for a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ExistingLead {
    id: salesforce_rest::SalesforceId,
    description: Option<String>,
    tags: Option<String>,
}

impl SalesforceWriter {
    /// A writer over a client, with the default key fields.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            case_key_field: Some(DEFAULT_CASE_KEY_FIELD.into()),
            lead_key_field: Some(DEFAULT_LEAD_KEY_FIELD.into()),
            tags_field: None,
            opt_out_field: None,
            lookup: LeadLookup::default(),
            options: WriteOptions::default(),
            describes: Arc::default(),
            leads: Arc::new(Mutex::new(lru::LruCache::new(lead::LEAD_CACHE))),
            budget: None,
        }
    }

    /// Pauses everything but new Cases while the org's API usage (from the
    /// client's last `Sforce-Limit-Info`) is at or above the budget's
    /// threshold: such writes fail with [`BridgeError::Deferred`] asking to be
    /// tried again after `retry_after`, and the queue keeps the message until
    /// then. Share one budget across the app so one warning is logged per
    /// crossing.
    pub fn budget(mut self, budget: Arc<ApiBudget>, retry_after: StdDuration) -> Self {
        self.budget = Some((budget, retry_after));
        self
    }

    /// `Err(Deferred)` when the budget holds back work of this urgency.
    fn check_budget(&self, urgency: Urgency) -> Result<(), BridgeError> {
        let Some((budget, retry_after)) = &self.budget else {
            return Ok(());
        };
        let usage = self.client.api_usage().map(|u| (u.used, u.max));
        if budget.allows(urgency, usage) {
            Ok(())
        } else {
            Err(BridgeError::Deferred {
                retry_after: *retry_after,
            })
        }
    }

    /// The Case field holding the message key (`None`: plain creates, which
    /// a retry after a lost answer can duplicate).
    pub fn case_key_field(mut self, field: Option<String>) -> Self {
        self.case_key_field = field;
        self
    }

    /// Same as `case_key_field(Some(field))`.
    pub fn message_id_field(self, field: impl Into<String>) -> Self {
        self.case_key_field(Some(field.into()))
    }

    /// The Lead field holding the E.164 number (`None`: look the Lead up by
    /// phone with [`LeadLookup`] and create it, which concurrent first messages
    /// can duplicate unless they are serialized, as the queue does).
    pub fn lead_key_field(mut self, field: Option<String>) -> Self {
        self.lead_key_field = field;
        self
    }

    /// A multi-value field (`;`-separated, e.g. a multi-select picklist) that
    /// collects the Lead's tags. Without one, tags are written in the
    /// description.
    pub fn tags_field(mut self, field: Option<String>) -> Self {
        self.tags_field = field;
        self
    }

    /// A checkbox field on Lead stamped `true` when the customer opts out of
    /// marketing messages (STOP) and `false` when they opt back in (START).
    pub fn opt_out_field(mut self, field: Option<String>) -> Self {
        self.opt_out_field = field;
        self
    }

    /// How Leads are found by phone when there is no Lead key field.
    pub fn lead_lookup(mut self, lookup: LeadLookup) -> Self {
        self.lookup = lookup;
        self
    }

    /// Options for writes (assignment rules, duplicate rules).
    pub fn write_options(mut self, options: WriteOptions) -> Self {
        self.options = options;
        self
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn describe(&self, object: &str) -> Result<ObjectDescribe, BridgeError> {
        if let Some(d) = self
            .describes
            .lock()
            .ok()
            .and_then(|m| m.get(object).cloned())
        {
            return Ok(d);
        }
        let d = self.client.describe(object).await?;
        if let Ok(mut m) = self.describes.lock() {
            m.insert(object.to_owned(), d.clone());
        }
        Ok(d)
    }

    /// Checks, once per process (describes are cached), that the configured
    /// key fields exist and are External ID + Unique, and that the tags field
    /// exists. The error names the object and field and gives the setup steps.
    pub async fn check_setup(&self) -> Result<(), BridgeError> {
        let keys = [
            ("Case", &self.case_key_field),
            ("Lead", &self.lead_key_field),
        ];
        for (object, field) in keys {
            let Some(field) = field else { continue };
            let d = self.describe(object).await?;
            let problem = match d.fields.iter().find(|f| f.name.eq_ignore_ascii_case(field)) {
                None => Some("does not exist (or the integration user cannot see it)"),
                Some(f) if !f.external_id => Some("is not marked External ID"),
                Some(f) if !f.unique => Some("is not marked Unique"),
                Some(_) => None,
            };
            if let Some(problem) = problem {
                return Err(BridgeError::Setup {
                    object: object.into(),
                    field: field.clone(),
                    problem: problem.into(),
                });
            }
        }
        if let Some(tags) = &self.tags_field {
            let d = self.describe("Lead").await?;
            if !d.fields.iter().any(|f| f.name.eq_ignore_ascii_case(tags)) {
                return Err(BridgeError::Setup {
                    object: "Lead".into(),
                    field: tags.clone(),
                    problem: "does not exist (create a multi-select picklist or a long text field)"
                        .into(),
                });
            }
        }
        Ok(())
    }

    /// Finds a Lead (not converted) by phone number, in any stored form.
    pub async fn find_lead_by_phone(
        &self,
        raw_phone: &str,
    ) -> Result<Option<salesforce_rest::SalesforceId>, BridgeError> {
        Ok(self.find_by_phone(raw_phone).await?.map(|l| l.id))
    }

    fn lead_fields(&self) -> String {
        let mut f = String::from("Id, IsConverted, Description");
        if let Some(t) = &self.tags_field {
            f.push_str(", ");
            f.push_str(t);
        }
        f
    }

    async fn find_by_phone(&self, raw_phone: &str) -> Result<Option<ExistingLead>, BridgeError> {
        let forms = match phone::parse(raw_phone) {
            Ok(p) => p.common_forms(),
            Err(_) => vec![raw_phone.trim().to_owned()],
        };
        let rows: Vec<DynamicRecord> = match self.lookup {
            LeadLookup::PhoneForms => {
                let soql = Soql::new(format!(
                    "SELECT {} FROM Lead WHERE Phone IN {{}} OR MobilePhone IN {{}} LIMIT 20",
                    self.lead_fields()
                ))
                .bind(&forms)
                .bind(&forms)
                .build()?;
                self.client.query::<DynamicRecord>(&soql).await?.records
            }
            LeadLookup::Sosl => {
                let digits: String = raw_phone.chars().filter(char::is_ascii_digit).collect();
                let sosl = format!(
                    "FIND {{{}}} IN PHONE FIELDS RETURNING Lead({})",
                    sosl_escape(&digits),
                    self.lead_fields()
                );
                self.client.search(&sosl).await?
            }
        };
        Ok(rows
            .into_iter()
            .filter(|r| r.get("IsConverted").and_then(Value::as_bool) != Some(true))
            .find_map(|r| self.existing(&r)))
    }

    fn existing(&self, r: &DynamicRecord) -> Option<ExistingLead> {
        let text = |f: &str| r.get(f).and_then(Value::as_str).map(str::to_owned);
        Some(ExistingLead {
            id: r.id()?,
            description: text("Description"),
            tags: self.tags_field.as_deref().and_then(text),
        })
    }

    async fn find_by_key(
        &self,
        field: &str,
        key: &str,
    ) -> Result<Option<ExistingLead>, BridgeError> {
        let soql = Soql::new(format!(
            "SELECT {} FROM Lead WHERE {} = {{}} LIMIT 1",
            self.lead_fields(),
            api_name(field)?
        ))
        .bind(key)
        .build()?;
        let rows = self.client.query::<DynamicRecord>(&soql).await?.records;
        Ok(rows.first().and_then(|r| self.existing(r)))
    }

    async fn upsert_lead(
        &self,
        d: &LeadDraft,
        m: &InboundMessage,
        follow_up_hours: Option<u32>,
    ) -> Result<WriteOutcome, BridgeError> {
        let raw_phone = m.from.phone.as_deref();
        let e164 = self.lead_key(m);
        let key = self.lead_key_field.as_deref().zip(e164.as_deref());
        if let Some((field, value)) = key {
            return self
                .write_keyed_lead(field, value, d, m, follow_up_hours)
                .await;
        }
        let existing = match (key, raw_phone) {
            (Some((field, value)), _) => self.find_by_key(field, value).await?,
            (None, Some(p)) => self.find_by_phone(p).await?,
            (None, None) => None,
        };
        let entry = if self.tags_field.is_none() && !d.tags.is_empty() {
            format!("{}\nTags: {}", d.description, d.tags.join(", "))
        } else {
            d.description.clone()
        };
        let mut record = DynamicRecord::new().set(
            "Description",
            merge_description(
                &entry,
                existing.as_ref().and_then(|e| e.description.as_deref()),
                limits::DESCRIPTION,
            ),
        );
        if let Some(tags) = &self.tags_field {
            let merged = merge_tags(existing.as_ref().and_then(|e| e.tags.as_deref()), &d.tags);
            if !merged.is_empty() {
                record = record.set(tags, merged);
            }
        }
        let (id, created) = match (existing, key) {
            (Some(e), _) => {
                self.client
                    .update(&e.id, &record)
                    .object("Lead")
                    .options(self.options.clone())
                    .await?;
                (e.id, false)
            }
            (None, key) => {
                record = record
                    .set("LastName", d.last_name.clone())
                    .set("Company", d.company.clone())
                    .set("LeadSource", d.lead_source.clone());
                if let Some(first) = &d.first_name {
                    record = record.set("FirstName", first.clone());
                }
                if let Some(p) = &d.phone {
                    record = record.set("Phone", p.clone());
                }
                match key {
                    Some((field, value)) => {
                        let o = self
                            .client
                            .upsert(field, value, &record)
                            .object("Lead")
                            .options(self.options.clone())
                            .await?;
                        let id = o.id.ok_or_else(|| {
                            BridgeError::Mapping("the Lead upsert returned no record id".into())
                        })?;
                        (id, o.created)
                    }
                    None => (
                        self.client
                            .create(&record)
                            .object("Lead")
                            .options(self.options.clone())
                            .await?,
                        true,
                    ),
                }
            }
        };
        let mut follow_up_task = None;
        // One follow-up per new Lead; later messages update the Lead only.
        if created && let Some(hours) = follow_up_hours {
            let due = (Utc::now() + Duration::hours(i64::from(hours))).date_naive();
            let mut task = Task::default();
            task.subject = Field::Value(format!("Follow up on {} enquiry", m.channel.name()));
            task.description =
                Field::Value(truncate_chars(&d.description, limits::DESCRIPTION).to_owned());
            task.who_id = Field::Value(id.to_string());
            task.activity_date = Field::Value(due);
            task.status = Field::Value("Not Started".into());
            follow_up_task = Some(self.client.create(&task).await?.to_string());
        }
        Ok(WriteOutcome {
            object: "Lead".into(),
            record_id: Some(id.to_string()),
            case_number: None,
            created,
            follow_up_task,
        })
    }

    async fn create_case(
        &self,
        d: &crate::mapping::CaseDraft,
        m: &InboundMessage,
    ) -> Result<WriteOutcome, BridgeError> {
        let case = batch::case_record(d);
        let body = serde_json::to_value(&case)
            .map_err(|e| BridgeError::Mapping(format!("cannot encode the Case: {e}")))?;
        // The write and the read of the CaseNumber in one call.
        let (write, read) = match &self.case_key_field {
            Some(field) => {
                // An edit updates the Case of the message it edits.
                let key = case_key(m.edit_of.as_deref().unwrap_or(&m.id));
                let path = format!("sobjects/Case/{}/{key}", api_name(field)?);
                let soql = Soql::new(format!(
                    "SELECT Id, CaseNumber FROM Case WHERE {field} = {{}} LIMIT 1"
                ))
                .bind(&key)
                .build()?;
                (
                    Subrequest::new("PATCH", self.client.data_path(&path), "kase"),
                    Subrequest::new("GET", self.client.query_path(&soql), "number"),
                )
            }
            None => (
                Subrequest::new("POST", self.client.data_path("sobjects/Case"), "kase"),
                Subrequest::new(
                    "GET",
                    self.client
                        .data_path("sobjects/Case/@{kase.id}?fields=Id,CaseNumber"),
                    "number",
                ),
            ),
        };
        let write = self.with_options(write.body(body));
        let out = self
            .client
            .composite(&CompositeRequest::new(false).push(write).push(read))
            .await?;
        let (Some(written), Some(number)) = (out.first(), out.get(1)) else {
            return Err(BridgeError::Store(
                "the Case write got no answer in the composite response".into(),
            ));
        };
        if let Some(e) = api_error(written) {
            return Err(e);
        }
        // A query answers with rows; a record read answers with the record.
        let row = match number.body.get("records") {
            Some(rows) => rows.as_array().and_then(|r| r.first()),
            None => Some(&number.body),
        };
        let id = written
            .body
            .get("id")
            .or_else(|| row.and_then(|r| r.get("Id")))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(WriteOutcome {
            object: "Case".into(),
            record_id: id,
            case_number: row
                .and_then(|r| r.get("CaseNumber"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            created: written.http_status_code == 201,
            follow_up_task: None,
        })
    }
}

impl SalesforceWriter {
    async fn write_action(
        &self,
        action: &Action,
        m: &InboundMessage,
    ) -> Result<WriteOutcome, BridgeError> {
        self.check_budget(urgency(action))?;
        match action {
            Action::CreateCase { case, .. } => self.create_case(case, m).await,
            Action::UpsertLead {
                lead,
                follow_up_hours,
                ..
            } => self.upsert_lead(lead, m, *follow_up_hours).await,
            Action::AddTask {
                subject,
                description,
                who_or_what,
            } => {
                let mut task = Task::default();
                task.subject = Field::Value(subject.clone());
                task.description = Field::Value(description.clone());
                task.who_id = who_or_what.clone().map_or(Field::Unset, Field::Value);
                let id = self.client.create(&task).await?;
                Ok(WriteOutcome {
                    object: "Task".into(),
                    record_id: Some(id.to_string()),
                    created: true,
                    ..WriteOutcome::default()
                })
            }
            Action::Custom {
                object,
                fields,
                external_id,
            } => {
                let record = DynamicRecord(fields.clone());
                let (id, created) = match external_id {
                    Some((field, value)) => {
                        let o = self
                            .client
                            .upsert(field, value, &record)
                            .object(object.as_str())
                            .options(self.options.clone())
                            .await?;
                        (o.id.map(|i| i.to_string()), o.created)
                    }
                    None => (
                        Some(
                            self.client
                                .create(&record)
                                .object(object.as_str())
                                .options(self.options.clone())
                                .await?
                                .to_string(),
                        ),
                        true,
                    ),
                };
                Ok(WriteOutcome {
                    object: object.clone(),
                    record_id: id,
                    created,
                    ..WriteOutcome::default()
                })
            }
            Action::Ignore { .. } => Ok(WriteOutcome::default()),
        }
    }
}

#[async_trait]
impl RecordWriter for SalesforceWriter {
    async fn write(
        &self,
        action: &Action,
        m: &InboundMessage,
    ) -> Result<WriteOutcome, BridgeError> {
        let result = self.write_action(action, m).await;
        if let Err(BridgeError::Salesforce(e)) = &result
            && e.code() == Some(&salesforce_rest::ErrorCode::InvalidField)
        {
            // A field changed in the org: check it again on the next start-up check.
            if let Ok(mut d) = self.describes.lock() {
                d.clear();
            }
        }
        result
    }

    async fn write_batch(
        &self,
        items: &[(Action, InboundMessage)],
    ) -> Vec<Result<WriteOutcome, BridgeError>> {
        self.batch(items).await
    }

    async fn record_opt_out(&self, m: &InboundMessage, opted_out: bool) -> Result<(), BridgeError> {
        let (Some(field), Some(raw)) = (&self.opt_out_field, m.from.phone.as_deref()) else {
            return Ok(());
        };
        let lead = match (&self.lead_key_field, self.lead_key(m)) {
            (Some(key), Some(e164)) => self.find_by_key(key, &e164).await?,
            _ => self.find_by_phone(raw).await?,
        };
        if let Some(lead) = lead {
            let patch = DynamicRecord::new().set(api_name(field)?, opted_out);
            self.client.update(&lead.id, &patch).object("Lead").await?;
        }
        Ok(())
    }
}

mod batch;
mod lead;
#[cfg(test)]
mod tests;
