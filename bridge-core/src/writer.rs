//! Writing actions to a CRM: the [`RecordWriter`] trait and its Salesforce
//! implementation (feature `salesforce`).

use async_trait::async_trait;

use crate::error::BridgeError;
use crate::inbound::InboundMessage;
use crate::mapping::Action;

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct WriteOutcome {
    /// The object written (`Case`, `Lead`...), empty when nothing was written.
    pub object: String,
    /// The record id.
    pub record_id: Option<String>,
    /// The case number, for Cases.
    pub case_number: Option<String>,
    /// Whether a new record was created (false: an existing one was updated).
    pub created: bool,
    /// The follow-up Task, when one was added.
    pub follow_up_task: Option<String>,
}

/// Carries out [`Action`]s in a CRM.
#[async_trait]
pub trait RecordWriter: Send + Sync {
    /// Writes the action for a message.
    async fn write(
        &self,
        action: &Action,
        message: &InboundMessage,
    ) -> Result<WriteOutcome, BridgeError>;
}

#[cfg(feature = "salesforce")]
pub use salesforce::{LeadLookup, SalesforceWriter};

#[cfg(feature = "salesforce")]
mod salesforce {
    use chrono::{Duration, Utc};
    use salesforce_rest::Client;
    use salesforce_rest::records::{Case, DynamicRecord, Field, Lead, Task};
    use salesforce_rest::sobjects::WriteOptions;
    use salesforce_rest::soql::{Soql, sosl_escape};
    use serde::Deserialize;

    use super::*;
    use crate::format::phone;
    use crate::mapping::{LeadDraft, limits, truncate_chars};

    /// How an existing Lead is found by phone.
    ///
    /// Salesforce stores phone fields exactly as typed and does not normalize
    /// them, so an exact `Phone = '...'` misses `(415) 555-0123` when you search
    /// for `+14155550123`. The default, [`LeadLookup::PhoneForms`], queries the
    /// ten forms a US number is commonly stored in (E.164, digits, display forms)
    /// on `Phone` and `MobilePhone`: exact, immediate (no search-index delay) and
    /// one query. [`LeadLookup::Sosl`] uses `FIND {...} IN PHONE FIELDS`, which
    /// tolerates any formatting but depends on the search index, which can lag
    /// new records by minutes. Orgs that need exactness should also keep an
    /// E.164 copy in a custom field.
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
    #[derive(Debug, Clone)]
    pub struct SalesforceWriter {
        client: Client,
        message_id_field: Option<String>,
        lookup: LeadLookup,
        options: WriteOptions,
    }

    impl SalesforceWriter {
        /// A writer over a client.
        pub fn new(client: Client) -> Self {
            Self {
                client,
                message_id_field: None,
                lookup: LeadLookup::default(),
                options: WriteOptions::default(),
            }
        }

        /// The external-ID field holding the WhatsApp message id (e.g.
        /// `WhatsApp_Message_Id__c`, unique, 255). With it, Cases are upserted on
        /// the message id (through the collections upsert: message ids contain
        /// `/`, `+` and `=`), so a retry after a lost answer cannot create a
        /// second Case.
        pub fn message_id_field(mut self, field: impl Into<String>) -> Self {
            self.message_id_field = Some(field.into());
            self
        }

        /// How Leads are found by phone.
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

        /// Finds a Lead (not converted) by phone number.
        pub async fn find_lead_by_phone(
            &self,
            raw_phone: &str,
        ) -> Result<Option<salesforce_rest::SalesforceId>, BridgeError> {
            #[derive(Deserialize)]
            struct Row {
                #[serde(rename = "Id")]
                id: salesforce_rest::SalesforceId,
                #[serde(rename = "IsConverted", default)]
                is_converted: Option<bool>,
            }
            let forms = match phone::parse(raw_phone) {
                Ok(p) => p.common_forms(),
                Err(_) => vec![raw_phone.trim().to_owned()],
            };
            match self.lookup {
                LeadLookup::PhoneForms => {
                    let soql = Soql::new("SELECT Id, IsConverted FROM Lead WHERE Phone IN {} OR MobilePhone IN {} LIMIT 20")
                        .bind(&forms)
                        .bind(&forms)
                        .build()?;
                    let page = self.client.query::<Row>(&soql).await?;
                    Ok(page
                        .records
                        .into_iter()
                        .find(|r| r.is_converted != Some(true))
                        .map(|r| r.id))
                }
                LeadLookup::Sosl => {
                    let digits: String = raw_phone.chars().filter(char::is_ascii_digit).collect();
                    let sosl = format!(
                        "FIND {{{}}} IN PHONE FIELDS RETURNING Lead(Id, IsConverted)",
                        sosl_escape(&digits)
                    );
                    let hits = self.client.search(&sosl).await?;
                    Ok(hits
                        .into_iter()
                        .filter(|r| {
                            r.get("IsConverted").and_then(serde_json::Value::as_bool) != Some(true)
                        })
                        .find_map(|r| r.id()))
                }
            }
        }

        async fn upsert_lead(
            &self,
            d: &LeadDraft,
            m: &InboundMessage,
            follow_up_hours: Option<u32>,
        ) -> Result<WriteOutcome, BridgeError> {
            let existing = match m.from.phone.as_deref() {
                Some(p) => self.find_lead_by_phone(p).await?,
                None => None,
            };
            let (id, created) = match existing {
                Some(id) => {
                    let mut patch = Lead::default();
                    patch.description = Field::Value(d.description.clone());
                    self.client.update_with(&id, &patch, &self.options).await?;
                    (id, false)
                }
                None => {
                    let mut lead = Lead::new(d.last_name.clone(), d.company.clone());
                    lead.first_name = d.first_name.clone().into();
                    lead.phone = d.phone.clone().map_or(Field::Unset, Field::Value);
                    lead.lead_source = Field::Value(d.lead_source.clone());
                    lead.description = Field::Value(d.description.clone());
                    (self.client.create_with(&lead, &self.options).await?, true)
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
    }

    #[async_trait]
    impl RecordWriter for SalesforceWriter {
        async fn write(
            &self,
            action: &Action,
            m: &InboundMessage,
        ) -> Result<WriteOutcome, BridgeError> {
            match action {
                Action::CreateCase { case: d, .. } => {
                    let mut case = Case::new(d.subject.clone(), d.description.clone());
                    case.origin = Field::Value(d.origin.clone());
                    case.priority = Field::Value(d.priority.as_str().to_owned());
                    case.supplied_phone =
                        d.supplied_phone.clone().map_or(Field::Unset, Field::Value);
                    case.supplied_name = d.supplied_name.clone().map_or(Field::Unset, Field::Value);
                    let (id, created) = match &self.message_id_field {
                        Some(field) => {
                            let value = truncate_chars(&m.id, limits::EXTERNAL_ID);
                            let o = self
                                .client
                                .upsert_with(field, value, &case, &self.options)
                                .await?;
                            let id = o.id.ok_or_else(|| {
                                BridgeError::Mapping("the upsert returned no record id".into())
                            })?;
                            (id, o.created)
                        }
                        None => (self.client.create_with(&case, &self.options).await?, true),
                    };
                    let read: Case = self.client.get(&id, &["CaseNumber"]).await?;
                    Ok(WriteOutcome {
                        object: "Case".into(),
                        record_id: Some(id.to_string()),
                        case_number: read.case_number,
                        created,
                        follow_up_task: None,
                    })
                }
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
                                .upsert_dynamic(object, field, value, &record)
                                .await?;
                            (o.id.map(|i| i.to_string()), o.created)
                        }
                        None => (
                            Some(
                                self.client
                                    .create_dynamic(object, &record, &self.options)
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
}
