//! Many messages in a few calls: the Cases of a batch are upserted through
//! one sObject Collections request and their `CaseNumber`s read back in the
//! same composite call; new customers' Leads are created through one
//! collection, their follow-up Tasks through another (references to the new
//! ids) and their rows read back, again in one call. Each record's result goes
//! back to its own message: one failure fails only that message.

use std::collections::{HashMap, HashSet};

use futures_util::future::join_all;
use salesforce_rest::composite::{CompositeRequest, CompositeResult, Subrequest};
use salesforce_rest::error::ApiError;
use salesforce_rest::records::{Case, Field};
use salesforce_rest::sobjects::SaveResult;
use serde_json::{Map, Value, json};

use super::lead::{KnownLead, entry};
use super::{SalesforceWriter, api_name, case_key};
use crate::error::BridgeError;
use crate::inbound::InboundMessage;
use crate::mapping::{Action, CaseDraft, LeadDraft};
use crate::writer::{RecordWriter, WriteOutcome};

/// Records per collection request.
const CHUNK: usize = salesforce_rest::composite::COLLECTION_CHUNK;
/// Keys per read-back query (keeps the query URL well under 16 KB).
const KEYS_PER_QUERY: usize = 100;

type Slot = Option<Result<WriteOutcome, BridgeError>>;

/// A Case of the batch: its index, draft and message.
type CaseItem<'a> = (usize, &'a CaseDraft, &'a InboundMessage);
/// A new customer's Lead: index, key, draft, follow-up hours, message.
type LeadItem<'a> = (
    usize,
    String,
    &'a LeadDraft,
    Option<u32>,
    &'a InboundMessage,
);

fn put(slots: &mut [Slot], i: usize, result: Result<WriteOutcome, BridgeError>) {
    if let Some(slot) = slots.get_mut(i) {
        *slot = Some(result);
    }
}

fn failed(errors: Vec<salesforce_rest::error::ApiErrorItem>) -> BridgeError {
    BridgeError::Salesforce(salesforce_rest::Error::Api(Box::new(ApiError::new(
        400, errors,
    ))))
}

/// The per-record results of a collections subresponse.
fn save_results(out: &CompositeResult, index: usize) -> Result<Vec<SaveResult>, BridgeError> {
    let r = out.get(index).ok_or_else(|| {
        BridgeError::Store(
            "a collections subrequest got no answer in the composite response".into(),
        )
    })?;
    if let Some(e) = super::api_error(r) {
        return Err(e);
    }
    serde_json::from_value(r.body.clone())
        .map_err(|e| BridgeError::store("a collections answer could not be read", e))
}

/// Every row of the query subresponses from `from` on.
fn rows(out: &CompositeResult, from: usize) -> Vec<Value> {
    out.iter()
        .skip(from)
        .filter(|r| r.error().is_none())
        .filter_map(|r| r.body.get("records")?.as_array().cloned())
        .flatten()
        .collect()
}

/// The Case record of a draft.
pub(super) fn case_record(d: &CaseDraft) -> Case {
    let mut case = Case::new(d.subject.clone(), d.description.clone());
    case.origin = Field::Value(d.origin.clone());
    case.priority = Field::Value(d.priority.as_str().to_owned());
    case.supplied_phone = d.supplied_phone.clone().map_or(Field::Unset, Field::Value);
    case.supplied_name = d.supplied_name.clone().map_or(Field::Unset, Field::Value);
    case
}

impl SalesforceWriter {
    fn collection(
        &self,
        method: &str,
        path: &str,
        reference: &str,
        records: Vec<Value>,
    ) -> Subrequest {
        self.with_options(
            Subrequest::new(method, self.client.data_path(path), reference)
                .body(json!({ "allOrNone": false, "records": Value::Array(records) })),
        )
    }

    /// Read-back queries for keys, `KEYS_PER_QUERY` each.
    fn read_backs(
        &self,
        soql: impl Fn(&[&str]) -> Result<String, BridgeError>,
        keys: &[&str],
        prefix: &str,
    ) -> Result<Vec<Subrequest>, BridgeError> {
        keys.chunks(KEYS_PER_QUERY)
            .enumerate()
            .map(|(n, chunk)| {
                Ok(Subrequest::new(
                    "GET",
                    self.client.query_path(&soql(chunk)?),
                    format!("{prefix}{n}"),
                ))
            })
            .collect()
    }

    /// Writes a batch: Cases and new Leads in collections, everything else
    /// one by one (messages of one customer in order).
    pub(super) async fn batch(
        &self,
        items: &[(Action, InboundMessage)],
    ) -> Vec<Result<WriteOutcome, BridgeError>> {
        let mut slots: Vec<Slot> = items.iter().map(|_| None).collect();
        let mut cases = Vec::new();
        let mut leads = Vec::new();
        let mut phones = HashSet::new();
        for (i, (action, m)) in items.iter().enumerate() {
            if let Err(e) = self.check_budget(super::urgency(action)) {
                put(&mut slots, i, Err(e));
                continue;
            }
            match action {
                Action::CreateCase { case, .. } if self.case_key_field.is_some() => {
                    cases.push((i, case, m));
                }
                Action::UpsertLead {
                    lead,
                    follow_up_hours,
                    ..
                } if self.lead_key_field.is_some() => {
                    let Some(key) = self.lead_key(m) else {
                        continue;
                    };
                    // Known customers are updated with their own precondition;
                    // a second message of a customer waits for the first.
                    if self.known(&key).is_none() && phones.insert(key.clone()) {
                        leads.push((i, key, lead, *follow_up_hours, m));
                    }
                }
                _ => {}
            }
        }
        if cases.len() + leads.len() > 1 {
            for chunk in cases.chunks(CHUNK) {
                self.case_chunk(chunk, &mut slots).await;
            }
            for chunk in leads.chunks(CHUNK) {
                self.lead_chunk(chunk, &mut slots).await;
            }
        }
        // The rest one by one, customers in parallel, each customer in order.
        let mut by_customer: HashMap<String, Vec<(usize, &Action, &InboundMessage)>> =
            HashMap::new();
        for (i, (action, m)) in items.iter().enumerate() {
            if slots.get(i).is_some_and(Option::is_none) {
                let who = m
                    .from
                    .address()
                    .map_or_else(|| format!("#{i}"), str::to_owned);
                by_customer.entry(who).or_default().push((i, action, m));
            }
        }
        let done = join_all(by_customer.into_values().map(|indexes| async move {
            let mut out = Vec::new();
            for (i, action, m) in indexes {
                out.push((i, self.write(action, m).await));
            }
            out
        }))
        .await;
        for (i, r) in done.into_iter().flatten() {
            put(&mut slots, i, r);
        }
        slots
            .into_iter()
            .map(|s| {
                s.unwrap_or_else(|| {
                    Err(BridgeError::Interrupted("no result for this write".into()))
                })
            })
            .collect()
    }

    /// The customer's Lead key: the E.164 number, or the raw number when it
    /// does not parse.
    pub(super) fn lead_key(&self, m: &InboundMessage) -> Option<String> {
        let raw = m.from.phone.as_deref()?;
        Some(crate::format::phone::parse(raw).map_or_else(|_| raw.trim().to_owned(), |n| n.e164()))
    }

    async fn case_chunk(&self, chunk: &[CaseItem<'_>], slots: &mut [Slot]) {
        let Some(field) = self.case_key_field.clone() else {
            return;
        };
        let Ok(field) = api_name(&field).map(str::to_owned) else {
            return;
        };
        let keys: Vec<String> = chunk
            .iter()
            .map(|(_, _, m)| case_key(m.edit_of.as_deref().unwrap_or(&m.id)))
            .collect();
        let mut records = Vec::new();
        for ((_, case, _), key) in chunk.iter().zip(&keys) {
            let mut v = serde_json::to_value(case_record(case)).unwrap_or_else(|_| json!({}));
            if let Value::Object(m) = &mut v {
                m.insert("attributes".into(), json!({ "type": "Case" }));
                m.insert(field.clone(), json!(key));
            }
            records.push(v);
        }
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let soql = |k: &[&str]| -> Result<String, BridgeError> {
            Ok(salesforce_rest::soql::Soql::new(format!(
                "SELECT Id, CaseNumber, {field} FROM Case WHERE {field} IN {{}}"
            ))
            .bind(k)
            .build()?)
        };
        let request = self.read_backs(soql, &key_refs, "n").map(|reads| {
            reads.into_iter().fold(
                CompositeRequest::new(false).push(self.collection(
                    "PATCH",
                    &format!("composite/sobjects/Case/{field}"),
                    "cases",
                    records,
                )),
                CompositeRequest::push,
            )
        });
        let answer = match request {
            Ok(r) => self.client.composite(&r).await.map_err(BridgeError::from),
            Err(e) => Err(e),
        };
        let (out, results) = match answer.and_then(|out| save_results(&out, 0).map(|r| (out, r))) {
            Ok(x) => x,
            Err(e) => {
                // The whole call failed: each message retries on its own.
                let e = format!("{e}");
                for &(i, _, _) in chunk {
                    put(
                        slots,
                        i,
                        Err(BridgeError::Store(format!("the batch failed: {e}"))),
                    );
                }
                return;
            }
        };
        let numbers: HashMap<String, (String, Option<String>)> = rows(&out, 1)
            .into_iter()
            .filter_map(|r| {
                let key = r.get(&field)?.as_str()?.to_owned();
                let id = r.get("Id")?.as_str()?.to_owned();
                let number = r
                    .get("CaseNumber")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                Some((key, (id, number)))
            })
            .collect();
        for ((&(i, _, _), key), result) in chunk
            .iter()
            .zip(&keys)
            .zip(results.into_iter().map(Some).chain(std::iter::repeat(None)))
        {
            put(
                slots,
                i,
                match result {
                    Some(r) if r.success => {
                        let found = numbers.get(key);
                        Ok(WriteOutcome {
                            object: "Case".into(),
                            record_id: r
                                .id
                                .map(|id| id.to_string())
                                .or_else(|| found.map(|f| f.0.clone())),
                            case_number: found.and_then(|f| f.1.clone()),
                            created: r.created.unwrap_or(true),
                            follow_up_task: None,
                        })
                    }
                    Some(r) => Err(failed(r.errors)),
                    None => Err(BridgeError::Interrupted(
                        "the collection answered fewer records than sent".into(),
                    )),
                },
            );
        }
    }

    async fn lead_chunk(&self, chunk: &[LeadItem<'_>], slots: &mut [Slot]) {
        let Some(field) = self.lead_key_field.clone() else {
            return;
        };
        let Ok(field) = api_name(&field).map(str::to_owned) else {
            return;
        };
        let mut records = Vec::new();
        let mut tasks = Vec::new();
        let mut task_of: HashMap<usize, usize> = HashMap::new();
        for (k, (_, key, lead, follow_up_hours, m)) in chunk.iter().enumerate() {
            let mut f = self.new_lead_fields(lead, &entry(lead, m, self.tags_field.is_some()));
            f.insert("attributes".into(), json!({ "type": "Lead" }));
            f.insert(field.clone(), json!(key));
            records.push(Value::Object(f));
            if let Some(hours) = follow_up_hours {
                let mut t = self.follow_up_fields(lead, m, *hours, &format!("@{{leads[{k}].id}}"));
                t.insert("attributes".into(), json!({ "type": "Task" }));
                task_of.insert(k, tasks.len());
                tasks.push(Value::Object(t));
            }
        }
        let keys: Vec<&str> = chunk.iter().map(|(_, k, ..)| k.as_str()).collect();
        let mut request = CompositeRequest::new(false).push(self.collection(
            "POST",
            "composite/sobjects",
            "leads",
            records,
        ));
        let reads_from = if tasks.is_empty() { 1 } else { 2 };
        if !tasks.is_empty() {
            request =
                request.push(self.collection("POST", "composite/sobjects", "tasks", tasks.clone()));
        }
        let answer = match self.read_backs(|k| self.lead_rows_soql(&field, k), &keys, "r") {
            Ok(reads) => {
                let request = reads.into_iter().fold(request, CompositeRequest::push);
                self.client
                    .composite(&request)
                    .await
                    .map_err(BridgeError::from)
            }
            Err(e) => Err(e),
        };
        let (out, results) = match answer.and_then(|out| save_results(&out, 0).map(|r| (out, r))) {
            Ok(x) => x,
            Err(e) => {
                let e = format!("{e}");
                for (i, ..) in chunk {
                    put(
                        slots,
                        *i,
                        Err(BridgeError::Store(format!("the batch failed: {e}"))),
                    );
                }
                return;
            }
        };
        let task_results = if reads_from == 2 {
            save_results(&out, 1).ok()
        } else {
            None
        };
        let known: HashMap<String, KnownLead> = rows(&out, reads_from)
            .into_iter()
            .filter_map(|r| {
                let key = r.get(&field)?.as_str()?.to_owned();
                Some((key, KnownLead::from_row(&r, self.tags_field.as_deref())?))
            })
            .collect();
        // Tasks whose collection failed as a whole (a reference to a Lead that
        // failed halts it): created again for the Leads that were saved.
        let mut missing_tasks = Vec::new();
        for (k, ((i, key, ..), result)) in chunk
            .iter()
            .zip(results.into_iter().map(Some).chain(std::iter::repeat(None)))
            .enumerate()
        {
            let row = known.get(key).cloned();
            match result {
                Some(r) if r.success => {
                    let follow_up_task = task_of.get(&k).and_then(|&t| {
                        let saved = task_results.as_ref()?.get(t)?;
                        saved
                            .success
                            .then(|| saved.id.as_ref().map(ToString::to_string))
                            .flatten()
                    });
                    if follow_up_task.is_none()
                        && let (Some(&t), Some(id)) = (task_of.get(&k), &r.id)
                    {
                        missing_tasks.push((*i, t, id.to_string()));
                    }
                    self.remember(key, row);
                    put(
                        slots,
                        *i,
                        Ok(WriteOutcome {
                            object: "Lead".into(),
                            record_id: r.id.map(|id| id.to_string()),
                            created: true,
                            follow_up_task,
                            ..WriteOutcome::default()
                        }),
                    );
                }
                // The customer has a Lead already: update it on its own.
                Some(_) if row.is_some() => self.remember(key, row),
                Some(r) => put(slots, *i, Err(failed(r.errors))),
                None => put(
                    slots,
                    *i,
                    Err(BridgeError::Interrupted(
                        "the collection answered fewer records than sent".into(),
                    )),
                ),
            }
        }
        if !missing_tasks.is_empty() {
            self.create_missing_tasks(&tasks, missing_tasks, slots)
                .await;
        }
    }

    async fn create_missing_tasks(
        &self,
        tasks: &[Value],
        missing: Vec<(usize, usize, String)>,
        slots: &mut [Slot],
    ) {
        let records: Vec<Value> = missing
            .iter()
            .filter_map(|(_, t, id)| {
                let mut task: Map<String, Value> = tasks.get(*t)?.as_object()?.clone();
                task.insert("WhoId".into(), json!(id));
                Some(Value::Object(task))
            })
            .collect();
        let request = CompositeRequest::new(false).push(self.collection(
            "POST",
            "composite/sobjects",
            "tasks",
            records,
        ));
        let saved = match self.client.composite(&request).await {
            Ok(out) => save_results(&out, 0).unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "follow-up Tasks of new Leads were not created");
                Vec::new()
            }
        };
        for ((i, _, _), r) in missing.iter().zip(saved) {
            if let Some(Some(Ok(outcome))) = slots.get_mut(*i) {
                outcome.follow_up_task = r.success.then(|| r.id.map(|id| id.to_string())).flatten();
            }
        }
    }
}
