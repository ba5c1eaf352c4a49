//! Leads keyed by the customer's number, in one Salesforce call per message.
//!
//! A Lead's description and tags are merged with what is stored, so a write
//! needs the stored values. The writer remembers, per customer, the Lead it
//! last wrote or read (id, description, tags, `LastModifiedDate`) and writes
//! with `If-Unmodified-Since`: when nobody changed the Lead since, the update
//! and the read of its new state are one composite call. When someone did,
//! Salesforce answers 412 and the same call's read brings the fresh state,
//! and the write is merged again. A customer the writer does not know yet is
//! created in one call with its follow-up Task (a reference to the new id) and
//! the read of the row; when the Lead existed after all (the unique key says
//! `DUPLICATE_VALUE`), the row read in that call makes the next try an update.

use std::num::NonZeroUsize;

use chrono::{DateTime, Duration, Utc};
use salesforce_rest::SalesforceId;
use salesforce_rest::composite::{CompositeRequest, CompositeResponse, Subrequest};
use serde_json::{Map, Value, json};

use super::{SalesforceWriter, api_error, merge_description, merge_tags};
use crate::error::BridgeError;
use crate::inbound::InboundMessage;
use crate::mapping::{LeadDraft, limits, truncate_chars};
use crate::writer::WriteOutcome;

/// How many customers' Leads the writer remembers.
pub(super) const LEAD_CACHE: NonZeroUsize = match NonZeroUsize::new(10_000) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};

/// How often a write is merged again when the Lead keeps changing under it.
const ATTEMPTS: usize = 4;

/// The stored state of a customer's Lead, as last written or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KnownLead {
    pub(super) id: SalesforceId,
    pub(super) description: Option<String>,
    pub(super) tags: Option<String>,
    pub(super) modified: Option<DateTime<Utc>>,
}

impl KnownLead {
    /// From a query row (`Id`, `Description`, `LastModifiedDate`, tags).
    pub(super) fn from_row(row: &Value, tags_field: Option<&str>) -> Option<Self> {
        let text = |f: &str| row.get(f).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            id: SalesforceId::parse(row.get("Id")?.as_str()?).ok()?,
            description: text("Description"),
            tags: tags_field.and_then(text),
            modified: row
                .get("LastModifiedDate")
                .and_then(Value::as_str)
                .and_then(salesforce_rest::records::SfDateTime::parse)
                .map(|d| d.0),
        })
    }
}

/// What one try did.
enum Step {
    Done(WriteOutcome),
    /// Try again with this state (`None`: the Lead is not there).
    Retry(Option<KnownLead>),
}

/// The text written for a message: the draft's description, with its tags
/// when there is no tags field to hold them.
pub(super) fn entry(d: &LeadDraft, m: &InboundMessage, has_tags_field: bool) -> String {
    let text = if !has_tags_field && !d.tags.is_empty() {
        format!("{}\nTags: {}", d.description, d.tags.join(", "))
    } else {
        d.description.clone()
    };
    // An edit is logged as such: the conversation keeps both versions.
    match &m.edit_of {
        Some(_) => format!("(edited) {text}"),
        None => text,
    }
}

impl SalesforceWriter {
    /// The SOQL reading the Leads of some keys.
    pub(super) fn lead_rows_soql(&self, field: &str, keys: &[&str]) -> Result<String, BridgeError> {
        let mut fields = format!("Id, Description, LastModifiedDate, {field}");
        if let Some(t) = &self.tags_field {
            fields.push_str(", ");
            fields.push_str(t);
        }
        Ok(salesforce_rest::soql::Soql::new(format!(
            "SELECT {fields} FROM Lead WHERE {field} IN {{}}"
        ))
        .bind(keys)
        .build()?)
    }

    pub(super) fn remember(&self, key: &str, lead: Option<KnownLead>) {
        if let Ok(mut cache) = self.leads.lock() {
            match lead {
                Some(l) => {
                    cache.put(key.to_owned(), l);
                }
                None => {
                    cache.pop(key);
                }
            }
        }
    }

    pub(super) fn known(&self, key: &str) -> Option<KnownLead> {
        self.leads.lock().ok()?.get(key).cloned()
    }

    /// The fields of a new Lead.
    pub(super) fn new_lead_fields(&self, d: &LeadDraft, entry: &str) -> Map<String, Value> {
        let mut f = Map::new();
        f.insert("LastName".into(), json!(d.last_name));
        f.insert("Company".into(), json!(d.company));
        f.insert("LeadSource".into(), json!(d.lead_source));
        if let Some(first) = &d.first_name {
            f.insert("FirstName".into(), json!(first));
        }
        if let Some(p) = &d.phone {
            f.insert("Phone".into(), json!(p));
        }
        f.insert(
            "Description".into(),
            json!(merge_description(entry, None, limits::DESCRIPTION)),
        );
        if let Some(tags) = &self.tags_field {
            let merged = merge_tags(None, &d.tags);
            if !merged.is_empty() {
                f.insert(tags.clone(), json!(merged));
            }
        }
        f
    }

    /// The follow-up Task of a new Lead (`who`: its id or a reference).
    pub(super) fn follow_up_fields(
        &self,
        d: &LeadDraft,
        m: &InboundMessage,
        hours: u32,
        who: &str,
    ) -> Map<String, Value> {
        let sent = m.sent_at.unwrap_or_else(Utc::now);
        let due = (sent + Duration::hours(i64::from(hours))).date_naive();
        let mut f = Map::new();
        f.insert(
            "Subject".into(),
            json!(format!("Follow up on {} enquiry", m.channel.name())),
        );
        f.insert(
            "Description".into(),
            json!(truncate_chars(&d.description, limits::DESCRIPTION)),
        );
        f.insert("WhoId".into(), json!(who));
        f.insert("ActivityDate".into(), json!(due.to_string()));
        f.insert("Status".into(), json!("Not Started"));
        f
    }

    /// A subrequest with the writer's options as headers.
    pub(super) fn with_options(&self, mut sub: Subrequest) -> Subrequest {
        for (k, v) in self.options.header_pairs() {
            sub = sub.header(k, v);
        }
        sub
    }

    /// Writes a Lead keyed by `key` (the E.164 number in `field`).
    pub(super) async fn write_keyed_lead(
        &self,
        field: &str,
        key: &str,
        d: &LeadDraft,
        m: &InboundMessage,
        follow_up_hours: Option<u32>,
    ) -> Result<WriteOutcome, BridgeError> {
        let entry = entry(d, m, self.tags_field.is_some());
        let mut known = self.known(key);
        for _ in 0..ATTEMPTS {
            let step = match &known {
                Some(lead) => self.update_known(field, key, lead, d, &entry).await?,
                None => {
                    self.create_new(field, key, d, m, &entry, follow_up_hours)
                        .await?
                }
            };
            match step {
                Step::Done(outcome) => return Ok(outcome),
                Step::Retry(state) => {
                    self.remember(key, state.clone());
                    known = state;
                }
            }
        }
        Err(BridgeError::Store(format!(
            "the Lead kept changing during {ATTEMPTS} tries to merge the message into it; trying again later"
        )))
    }

    async fn update_known(
        &self,
        field: &str,
        key: &str,
        lead: &KnownLead,
        d: &LeadDraft,
        entry: &str,
    ) -> Result<Step, BridgeError> {
        let mut patch = Map::new();
        patch.insert(
            "Description".into(),
            json!(merge_description(
                entry,
                lead.description.as_deref(),
                limits::DESCRIPTION
            )),
        );
        if let Some(tags) = &self.tags_field {
            let merged = merge_tags(lead.tags.as_deref(), &d.tags);
            if !merged.is_empty() {
                patch.insert(tags.clone(), json!(merged));
            }
        }
        let mut update = Subrequest::new(
            "PATCH",
            self.client.data_path(&format!("sobjects/Lead/{}", lead.id)),
            "lead",
        )
        .body(Value::Object(patch));
        if let Some(at) = lead.modified {
            update = update.header(
                "If-Unmodified-Since",
                at.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            );
        }
        let read = Subrequest::new(
            "GET",
            self.client.query_path(&self.lead_rows_soql(field, &[key])?),
            "row",
        );
        let out = self
            .client
            .composite(&CompositeRequest::new(false).push(update).push(read))
            .await?;
        let fresh = self.first_row(out.get(1));
        let written = out.first();
        match written.map(|r| r.http_status_code) {
            Some(200..=299) => {
                let id = fresh.as_ref().map_or(lead.id.clone(), |f| f.id.clone());
                self.remember(key, fresh);
                Ok(Step::Done(WriteOutcome {
                    object: "Lead".into(),
                    record_id: Some(id.to_string()),
                    created: false,
                    ..WriteOutcome::default()
                }))
            }
            // Changed since we read it, or deleted / merged away.
            Some(412 | 404) => Ok(Step::Retry(fresh)),
            _ => Err(written.and_then(api_error).unwrap_or_else(|| {
                BridgeError::Store("the Lead update got no answer in the composite response".into())
            })),
        }
    }

    async fn create_new(
        &self,
        field: &str,
        key: &str,
        d: &LeadDraft,
        m: &InboundMessage,
        entry: &str,
        follow_up_hours: Option<u32>,
    ) -> Result<Step, BridgeError> {
        let mut fields = self.new_lead_fields(d, entry);
        fields.insert(field.to_owned(), json!(key));
        let mut req = CompositeRequest::new(false).push(
            self.with_options(Subrequest::new(
                "POST",
                self.client.data_path("sobjects/Lead"),
                "lead",
            ))
            .body(Value::Object(fields)),
        );
        if let Some(hours) = follow_up_hours {
            req = req.push(
                Subrequest::new("POST", self.client.data_path("sobjects/Task"), "task").body(
                    Value::Object(self.follow_up_fields(d, m, hours, "@{lead.id}")),
                ),
            );
        }
        req = req.push(Subrequest::new(
            "GET",
            self.client.query_path(&self.lead_rows_soql(field, &[key])?),
            "row",
        ));
        let out = self.client.composite(&req).await?;
        let row = self.first_row(out.last());
        let Some(created) = out.first() else {
            return Err(BridgeError::Store(
                "the Lead create got no answer in the composite response".into(),
            ));
        };
        if let Some(err) = api_error(created) {
            // The key is taken: the Lead exists; update it next.
            return match row {
                Some(row) => Ok(Step::Retry(Some(row))),
                None => Err(err),
            };
        }
        let id = created
            .body
            .get("id")
            .and_then(Value::as_str)
            .and_then(|i| SalesforceId::parse(i).ok());
        let task = follow_up_hours.and_then(|_| out.get(1));
        let follow_up_task = match task {
            Some(t) if t.error().is_none() => {
                t.body.get("id").and_then(Value::as_str).map(str::to_owned)
            }
            Some(t) => {
                // The Lead is saved; a lost follow-up must not fail the message.
                tracing::warn!(error = ?t.error(), "the follow-up Task of a new Lead was not created");
                None
            }
            None => None,
        };
        self.remember(key, row);
        Ok(Step::Done(WriteOutcome {
            object: "Lead".into(),
            record_id: id.map(|i| i.to_string()),
            created: true,
            follow_up_task,
            ..WriteOutcome::default()
        }))
    }

    /// The first row of a query subresponse.
    pub(super) fn first_row(&self, r: Option<&CompositeResponse>) -> Option<KnownLead> {
        let r = r.filter(|r| r.error().is_none())?;
        let row = r.body.get("records")?.as_array()?.first()?;
        KnownLead::from_row(row, self.tags_field.as_deref())
    }
}
