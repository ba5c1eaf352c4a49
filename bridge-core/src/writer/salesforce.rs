//! The Salesforce [`RecordWriter`]: every effect is a blind upsert on a key
//! derived from the message, so retries, crashes and several instances
//! neither lose nor double anything.
//!
//! | message | written (one composite call) |
//! |---|---|
//! | support, no open Case | Case upserted on the message key (with the Contact, if the number matched one), its ledger record, its `CaseNumber` read back |
//! | support, open Case | the ledger record linked to the Case, the Case's state read back (a closed Case means a new one) |
//! | sales, known Contact | the ledger record linked to the Contact |
//! | sales, anyone else | the Lead inserted with this message as its first (refused as a duplicate when it exists), its follow-up Task, the Lead upserted on the E.164 number, the ledger record, the Lead's first-message id read back |
//!
//! Whether a new customer is welcomed is decided by that read-back: the Lead
//! records the message that created it, so a create that committed and then
//! failed, a crash, or a redelivery still gets exactly one welcome.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use salesforce_rest::Client;
use salesforce_rest::composite::CompositeResponse;
use salesforce_rest::records::{DynamicRecord, Field, Task};
use salesforce_rest::sobjects::{ObjectDescribe, WriteOptions};
use salesforce_rest::soql::{Soql, sosl_escape};
use serde_json::Value;

use super::{RecordWriter, WriteOutcome};
use crate::budget::{ApiBudget, Urgency};
use crate::clock::{Clock, SystemClock};
use crate::customers::{CustomerStore, MemoryCustomerStore};
use crate::error::BridgeError;
use crate::format::phone;
use crate::inbound::CustomerMessage;
use crate::ledger::{LedgerEntry, LedgerSchema};
use crate::mapping::Action;

/// The default Case field holding the message key (External ID, Unique, Text(80)).
pub const DEFAULT_CASE_KEY_FIELD: &str = "WhatsApp_Message_Id__c";
/// The default Lead (and Contact) field holding the customer's E.164 number
/// (External ID, Unique).
pub const DEFAULT_LEAD_KEY_FIELD: &str = "WhatsApp_Phone__c";
/// The default Lead field recording the message that created the Lead (Text(80)).
pub const DEFAULT_FIRST_MESSAGE_FIELD: &str = "WhatsApp_First_Message_Id__c";

/// The message key of a Case: the message id when it is URL-safe and at most
/// 80 characters, else `sha256-<hex>` (see [`ledger_key`](crate::ledger::ledger_key)).
pub fn case_key(message_id: &str) -> String {
    crate::ledger::ledger_key(message_id)
}

/// How [`SalesforceWriter::find_lead_by_phone`] searches.
///
/// Salesforce stores phone fields exactly as typed, so an exact
/// `Phone = '...'` misses `(415) 555-0123` when you search for
/// `+14155550123`. [`LeadLookup::PhoneForms`] queries the forms a US number is
/// commonly stored in; [`LeadLookup::Sosl`] uses `FIND {...} IN PHONE FIELDS`,
/// which tolerates any formatting but lags new records by minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LeadLookup {
    /// SOQL over the common stored forms of the number (default).
    #[default]
    PhoneForms,
    /// SOSL phone search.
    Sosl,
}

/// How a customer's number is matched to a Contact, before any Lead is made.
///
/// A match is remembered in the writer's [`CustomerStore`]; a customer seen
/// for the first time costs one query (one per 25 customers in a batch).
/// When several Contacts share the number, the most recently modified one is
/// chosen and the others are counted ([`ContactLink::others`](crate::customers::ContactLink::others)) and logged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContactMatching {
    /// Whether to match at all (default: yes).
    pub enabled: bool,
    /// Phone fields compared in every common US form (default `MobilePhone`, `Phone`).
    pub phone_fields: Vec<String>,
    /// An External ID field on Contact holding the E.164 number, for an
    /// exact match instead of the phone forms.
    pub key_field: Option<String>,
    /// How long a lookup's answer (match or none) is trusted (default 30 days;
    /// a Lead converted in the meantime is noticed sooner, by its row).
    pub recheck_after: StdDuration,
    /// How long after a [`sync_contacts`](SalesforceWriter::sync_contacts)
    /// a first-seen customer absent from the customer store is taken as no
    /// Contact without a lookup (default 1 hour; sync more often than that).
    pub sync_fresh_for: StdDuration,
}

impl Default for ContactMatching {
    fn default() -> Self {
        Self {
            enabled: true,
            phone_fields: vec!["MobilePhone".into(), "Phone".into()],
            key_field: None,
            recheck_after: StdDuration::from_secs(30 * 86_400),
            sync_fresh_for: StdDuration::from_secs(3600),
        }
    }
}

impl ContactMatching {
    /// No Contact matching: every sales message makes or updates a Lead.
    pub fn off() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// The phone fields compared.
    pub fn phone_fields<I: IntoIterator<Item = S>, S: Into<String>>(mut self, fields: I) -> Self {
        self.phone_fields = fields.into_iter().map(Into::into).collect();
        self
    }

    /// An exact External ID field instead of the phone forms.
    pub fn key_field(mut self, field: impl Into<String>) -> Self {
        self.key_field = Some(field.into());
        self
    }

    /// How long a directory sync lets first-seen customers skip the lookup.
    pub fn sync_fresh_for(mut self, fresh_for: StdDuration) -> Self {
        self.sync_fresh_for = fresh_for;
        self
    }
}

/// Writes actions to Salesforce: every effect is a blind upsert on a key
/// derived from the message, so retries, crashes and several instances
/// neither lose nor double anything.
///
/// | message | written (one composite call) |
/// |---|---|
/// | support, no open Case | the Case upserted on the message key (with the customer's Contact and Account; for a first-seen customer, the Contact lookup too), its ledger record, its `CaseNumber` read back |
/// | support, open Case | the ledger record linked to the Case, the Case's state read back (closed: a new Case instead) |
/// | sales, known Contact | the ledger record linked to the Contact |
/// | sales, anyone else | the Lead inserted with this message as its first (refused when it exists), its follow-up Task, the ledger record, the Lead read back |
///
/// A customer seen for the first time is looked up among Contacts in the
/// same call when the message is a support message (the Case takes the
/// Contact through a reference) or the customer turns out to be a Contact;
/// a new sales customer costs the lookup and then the Lead's call (batched:
/// 125 customers a lookup call), unless the Contact directory is synced
/// ([`sync_contacts`](Self::sync_contacts)): then nobody is looked up. Whether a new customer is welcomed is
/// decided by the Lead's first-message field, never by whether a retried
/// write "created" something. [`write_batch`](RecordWriter::write_batch)
/// does the same for many messages in a few calls per thousand.
///
/// Call [`check_setup`](Self::check_setup) at start-up: it names exactly
/// what the org lacks and points at [`setup`](Self::setup).
///
/// With an [`ApiBudget`] (see [`budget`](Self::budget)), everything but new
/// Cases waits while the org's API usage is above the budget's threshold:
/// the write fails with [`BridgeError::Deferred`], which the queue retries later.
#[derive(Clone)]
pub struct SalesforceWriter {
    pub(super) client: Client,
    pub(super) case_key_field: String,
    pub(super) lead_key_field: String,
    pub(super) first_message_field: String,
    pub(super) last_message_at_field: Option<String>,
    pub(super) opt_out_field: Option<String>,
    pub(super) lookup: LeadLookup,
    pub(super) options: WriteOptions,
    pub(super) describes: Arc<Mutex<HashMap<String, ObjectDescribe>>>,
    pub(super) budget: Option<(Arc<ApiBudget>, StdDuration)>,
    pub(super) ledger: LedgerSchema,
    pub(super) customers: Arc<dyn CustomerStore>,
    pub(super) contacts: ContactMatching,
    pub(super) thread_window: StdDuration,
    pub(super) clock: Arc<dyn Clock>,
    /// When this process last synced the Contact directory.
    pub(super) synced: Arc<Mutex<Option<chrono::DateTime<chrono::Utc>>>>,
}

impl std::fmt::Debug for SalesforceWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalesforceWriter")
            .field("case_key_field", &self.case_key_field)
            .field("lead_key_field", &self.lead_key_field)
            .field("ledger", &self.ledger.object)
            .field("contacts", &self.contacts)
            .field("thread_window", &self.thread_window)
            .finish_non_exhaustive()
    }
}

/// How long a message may wait: new Cases (and doing nothing) never wait for
/// the budget; everything else can.
pub(super) fn urgency(action: &Action) -> Urgency {
    match action {
        Action::CreateCase { .. } | Action::Ignore { .. } => Urgency::Urgent,
        _ => Urgency::Deferrable,
    }
}

/// The error of a failed composite subrequest.
pub(super) fn api_error(r: &CompositeResponse) -> Option<BridgeError> {
    r.error()
        .map(|e| BridgeError::Salesforce(salesforce_rest::Error::Api(Box::new(e))))
}

/// Checks an API name before it goes into a path or a query.
pub(super) fn api_name(name: &str) -> Result<&str, BridgeError> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(name)
    } else {
        Err(BridgeError::Mapping(format!(
            "{name:?} is not a field API name"
        )))
    }
}

impl SalesforceWriter {
    /// A writer over a client, with the default key fields and ledger, an
    /// in-memory customer store (use a durable, shared one in production:
    /// `EmbeddedStore::customers` or `RedisCustomerStore`) and the system clock.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            case_key_field: DEFAULT_CASE_KEY_FIELD.into(),
            lead_key_field: DEFAULT_LEAD_KEY_FIELD.into(),
            first_message_field: DEFAULT_FIRST_MESSAGE_FIELD.into(),
            last_message_at_field: None,
            opt_out_field: None,
            lookup: LeadLookup::default(),
            options: WriteOptions::default(),
            describes: Arc::default(),
            budget: None,
            ledger: LedgerSchema::default(),
            customers: Arc::new(MemoryCustomerStore::default()),
            contacts: ContactMatching::default(),
            thread_window: StdDuration::from_secs(7 * 86_400),
            clock: Arc::new(SystemClock),
            synced: Arc::default(),
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
    pub(super) fn check_budget(&self, urgency: Urgency) -> Result<(), BridgeError> {
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

    /// The Case field holding the message key (External ID, Unique).
    pub fn case_key_field(mut self, field: impl Into<String>) -> Self {
        self.case_key_field = field.into();
        self
    }

    /// The Lead field holding the E.164 number (External ID, Unique).
    pub fn lead_key_field(mut self, field: impl Into<String>) -> Self {
        self.lead_key_field = field.into();
        self
    }

    /// The Lead field recording the message that created it (decides the welcome).
    pub fn first_message_field(mut self, field: impl Into<String>) -> Self {
        self.first_message_field = field.into();
        self
    }

    /// A date-time field on Lead stamped with each message's time (last
    /// writer wins; no read needed).
    pub fn last_message_at_field(mut self, field: Option<String>) -> Self {
        self.last_message_at_field = field;
        self
    }

    /// A checkbox field on Lead stamped `true` when the customer opts out of
    /// marketing messages (STOP) and `false` when they opt back in (START).
    pub fn opt_out_field(mut self, field: Option<String>) -> Self {
        self.opt_out_field = field;
        self
    }

    /// How [`find_lead_by_phone`](Self::find_lead_by_phone) searches.
    pub fn lead_lookup(mut self, lookup: LeadLookup) -> Self {
        self.lookup = lookup;
        self
    }

    /// Options for writes (assignment rules, duplicate rules).
    pub fn write_options(mut self, options: WriteOptions) -> Self {
        self.options = options;
        self
    }

    /// The ledger object and field names.
    pub fn ledger(mut self, schema: LedgerSchema) -> Self {
        self.ledger = schema;
        self
    }

    /// Where Contact matches and open-Case links are remembered (shared by
    /// every instance when it is Redis).
    pub fn customers(mut self, store: Arc<dyn CustomerStore>) -> Self {
        self.customers = store;
        self
    }

    /// How customers are matched to Contacts.
    pub fn contact_matching(mut self, matching: ContactMatching) -> Self {
        self.contacts = matching;
        self
    }

    /// How long after its last message an open Case still takes the
    /// customer's next support message (default 7 days). A closed Case never does.
    pub fn thread_window(mut self, window: StdDuration) -> Self {
        self.thread_window = window;
        self
    }

    /// The clock (thread windows, due dates).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The ledger's names.
    pub fn ledger_schema(&self) -> &LedgerSchema {
        &self.ledger
    }

    pub(super) async fn describe(&self, object: &str) -> Result<ObjectDescribe, BridgeError> {
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

    /// Finds a Lead (not converted) by phone number, in any stored form.
    pub async fn find_lead_by_phone(
        &self,
        raw_phone: &str,
    ) -> Result<Option<salesforce_rest::SalesforceId>, BridgeError> {
        let forms = match phone::parse(raw_phone) {
            Ok(p) => p.common_forms(),
            Err(_) => vec![raw_phone.trim().to_owned()],
        };
        let rows: Vec<DynamicRecord> = match self.lookup {
            LeadLookup::PhoneForms => {
                let soql = Soql::new(
                    "SELECT Id, IsConverted FROM Lead WHERE Phone IN {} OR MobilePhone IN {} LIMIT 20",
                )
                .bind(&forms)
                .bind(&forms)
                .build()?;
                self.client.query::<DynamicRecord>(&soql).await?.records
            }
            LeadLookup::Sosl => {
                let digits: String = raw_phone.chars().filter(char::is_ascii_digit).collect();
                let sosl = format!(
                    "FIND {{{}}} IN PHONE FIELDS RETURNING Lead(Id, IsConverted)",
                    sosl_escape(&digits)
                );
                self.client.search(&sosl).await?
            }
        };
        Ok(rows
            .into_iter()
            .filter(|r| r.get("IsConverted").and_then(Value::as_bool) != Some(true))
            .find_map(|r| r.id()))
    }

    /// The customer's Lead key: the E.164 number, or the number as received
    /// when it does not parse.
    pub(super) fn lead_key(&self, m: &CustomerMessage) -> Option<String> {
        let raw = m.from.phone.as_deref()?;
        Some(phone::parse(raw).map_or_else(|_| raw.trim().to_owned(), |n| n.e164()))
    }

    async fn other_action(
        &self,
        action: &Action,
        m: &CustomerMessage,
    ) -> Result<WriteOutcome, BridgeError> {
        let outcome = match action {
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
                WriteOutcome {
                    object: "Task".into(),
                    record_id: Some(id.to_string()),
                    created: true,
                    ..WriteOutcome::default()
                }
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
                WriteOutcome {
                    object: object.clone(),
                    record_id: id,
                    created,
                    ..WriteOutcome::default()
                }
            }
            _ => return Ok(WriteOutcome::default()),
        };
        // The conversation keeps the message, after the action's own write.
        let entry = LedgerEntry::inbound(m);
        if let Some(Err(e)) = self.write_entries(&[entry]).await.into_iter().next() {
            return Err(e);
        }
        Ok(outcome)
    }

    async fn write_action(
        &self,
        action: &Action,
        m: &CustomerMessage,
    ) -> Result<WriteOutcome, BridgeError> {
        self.check_budget(urgency(action))?;
        match action {
            Action::CreateCase { case, route } => self.support_message(case, route, m).await,
            Action::UpsertLead {
                lead,
                follow_up_hours,
                route,
            } => self.sales_message(lead, route, *follow_up_hours, m).await,
            Action::Ignore { .. } => Ok(WriteOutcome::default()),
            other => self.other_action(other, m).await,
        }
    }
}

#[async_trait]
impl RecordWriter for SalesforceWriter {
    async fn write(
        &self,
        action: &Action,
        m: &CustomerMessage,
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
        items: &[(Action, CustomerMessage)],
    ) -> Vec<Result<WriteOutcome, BridgeError>> {
        self.batch(items).await
    }

    async fn write_ledger(&self, entries: &[LedgerEntry]) -> Vec<Result<(), BridgeError>> {
        self.write_entries(entries).await
    }

    async fn record_opt_out(
        &self,
        m: &CustomerMessage,
        opted_out: bool,
    ) -> Result<(), BridgeError> {
        let (Some(field), Some(key)) = (&self.opt_out_field, self.lead_key(m)) else {
            return Ok(());
        };
        // Only the checkbox is written (blind), on the customer's Lead if any.
        let soql = Soql::new(format!(
            "SELECT Id FROM Lead WHERE {} = {{}} LIMIT 1",
            api_name(&self.lead_key_field)?
        ))
        .bind(&key)
        .build()?;
        let rows = self.client.query::<DynamicRecord>(&soql).await?.records;
        if let Some(id) = rows.first().and_then(DynamicRecord::id) {
            let patch = DynamicRecord::new().set(api_name(field)?, opted_out);
            self.client.update(&id, &patch).object("Lead").await?;
        }
        Ok(())
    }
}

mod batch;
mod contacts;
mod entries;
mod erase;
mod message;
mod setup;
#[cfg(test)]
mod tests;

pub use erase::{LedgerErased, LedgerErasure};
pub use setup::{PERMISSION_SET, SetupReport};
