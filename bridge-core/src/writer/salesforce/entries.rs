//! Ledger entries as Salesforce records, and the composite plumbing every
//! write path shares: collections, their per-record results, query rows.

use salesforce_rest::composite::{
    CompositeRequest, CompositeResponse, CompositeResult, Subrequest,
};
use salesforce_rest::error::ApiError;
use salesforce_rest::records::{Case, Field};
use salesforce_rest::sobjects::SaveResult;
use serde_json::{Map, Value, json};

use super::{SalesforceWriter, api_error, api_name};
use crate::error::BridgeError;
use crate::ledger::{LedgerEntry, LedgerSchema, Link};
use crate::mapping::{CaseDraft, truncate_chars};

/// Records per collection request.
pub(super) const CHUNK: usize = salesforce_rest::composite::COLLECTION_CHUNK;
/// Collections (or queries) per composite call: the API's limit.
pub(super) const HEAVY_PER_CALL: usize = 5;

/// A collections subresponse's per-record results.
pub(super) fn save_results(r: Option<&CompositeResponse>) -> Result<Vec<SaveResult>, BridgeError> {
    let r = r.ok_or_else(|| {
        BridgeError::Store(
            "a collections subrequest got no answer in the composite response".into(),
        )
    })?;
    if let Some(e) = api_error(r) {
        return Err(e);
    }
    serde_json::from_value(r.body.clone())
        .map_err(|e| BridgeError::store("a collections answer could not be read", e))
}

/// The error of one failed record of a collection.
pub(super) fn record_error(r: SaveResult) -> BridgeError {
    BridgeError::Salesforce(salesforce_rest::Error::Api(Box::new(ApiError::new(
        400, r.errors,
    ))))
}

/// Whether a failed record only says its unique key is taken.
pub(super) fn is_duplicate(r: &SaveResult) -> bool {
    !r.success && r.errors.iter().any(|e| e.code.code() == "DUPLICATE_VALUE")
}

/// The rows of a query subresponse (none when it failed).
pub(super) fn rows(r: Option<&CompositeResponse>) -> Vec<Value> {
    r.filter(|r| r.error().is_none())
        .and_then(|r| r.body.get("records")?.as_array().cloned())
        .unwrap_or_default()
}

/// The rows of every query subresponse from index `from` on.
pub(super) fn rows_from(out: &CompositeResult, from: usize) -> Vec<Value> {
    out.iter().skip(from).flat_map(|r| rows(Some(r))).collect()
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

fn stamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl SalesforceWriter {
    /// A ledger write's error, as a typed set-up error when the org has no
    /// ledger object (never retried in a loop: run `setup`).
    pub(super) fn ledger_error(&self, e: BridgeError) -> BridgeError {
        let missing = match &e {
            BridgeError::Salesforce(se) => {
                se.http_status() == Some(404)
                    || se
                        .code()
                        .is_some_and(|c| matches!(c.code(), "NOT_FOUND" | "INVALID_TYPE"))
            }
            _ => false,
        };
        if missing {
            BridgeError::Setup {
                object: self.ledger.object.clone(),
                field: self.ledger.key.clone(),
                problem: "the conversation ledger object does not exist (or the integration user cannot see it); run `webhook_to_case setup` (or SalesforceWriter::setup)".into(),
            }
        } else {
            e
        }
    }

    /// A collections subrequest (`allOrNone: false`: each record on its own).
    pub(super) fn collection(
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

    /// A subrequest with the writer's options as headers.
    pub(super) fn with_options(&self, mut sub: Subrequest) -> Subrequest {
        for (k, v) in self.options.header_pairs() {
            sub = sub.header(k, v);
        }
        sub
    }

    /// Upserts of ledger records on their key, in one collection.
    pub(super) fn ledger_upsert(
        &self,
        records: Vec<Value>,
        reference: &str,
    ) -> Result<Subrequest, BridgeError> {
        let path = format!(
            "composite/sobjects/{}/{}",
            api_name(&self.ledger.object)?,
            api_name(&self.ledger.key)?
        );
        Ok(self.collection("PATCH", &path, reference, records))
    }

    /// The record of an entry: only the fields it sets (a blind upsert).
    pub(super) fn entry_record(&self, e: &LedgerEntry) -> Value {
        let s: &LedgerSchema = &self.ledger;
        let mut f = Map::new();
        f.insert("attributes".into(), json!({ "type": s.object }));
        f.insert(s.key.clone(), json!(e.key));
        let mut put = |field: &str, v: Value| {
            f.insert(field.to_owned(), v);
        };
        if let Some(d) = e.direction {
            put(&s.direction, json!(d.as_str()));
        }
        if let Some(b) = &e.body {
            put(&s.body, json!(b));
        }
        if let Some(k) = &e.kind {
            put(&s.kind, json!(truncate_chars(k, 40)));
        }
        if let Some(c) = &e.customer {
            put(&s.customer_phone, json!(truncate_chars(c, 40)));
        }
        if let Some(b) = &e.business {
            put(&s.business_phone, json!(truncate_chars(b, 40)));
        }
        if let Some(st) = e.status {
            put(&s.status, json!(st.as_str()));
        }
        if let Some(code) = e.error_code {
            put(&s.error_code, json!(code.to_string()));
        }
        if let Some(d) = &e.error_detail {
            put(&s.error_detail, json!(truncate_chars(d, 255)));
        }
        if let Some(t) = &e.template {
            put(&s.template, json!(truncate_chars(t, 255)));
        }
        if let Some(w) = &e.whatsapp_id {
            put(&s.whatsapp_id, json!(truncate_chars(w, 255)));
        }
        if !e.tags.is_empty() {
            put(&s.tags, json!(truncate_chars(&e.tags.join(";"), 255)));
        }
        if let Some(at) = e.sent_at {
            put(&s.sent_at, json!(stamp(at)));
        }
        if let Some(at) = e.status_at {
            put(&s.status_at, json!(stamp(at)));
        }
        for link in &e.links {
            match link {
                Link::Case(id) => put(&s.case, json!(id)),
                Link::CaseKey(k) => put(
                    &LedgerSchema::relationship(&s.case),
                    json!({ self.case_key_field.as_str(): k }),
                ),
                Link::Lead(id) => put(&s.lead, json!(id)),
                Link::LeadKey(k) => put(
                    &LedgerSchema::relationship(&s.lead),
                    json!({ self.lead_key_field.as_str(): k }),
                ),
                Link::Contact(id) => put(&s.contact, json!(id)),
            }
        }
        Value::Object(f)
    }

    /// Upserts entries: 200 a collection, five collections a call (1,000
    /// entries per Salesforce call). One result per entry, in order.
    pub(super) async fn write_entries(
        &self,
        entries: &[LedgerEntry],
    ) -> Vec<Result<(), BridgeError>> {
        let mut out: Vec<Result<(), BridgeError>> = Vec::with_capacity(entries.len());
        for call in entries.chunks(CHUNK * HEAVY_PER_CALL) {
            let chunks: Vec<&[LedgerEntry]> = call.chunks(CHUNK).collect();
            let mut request = CompositeRequest::new(false);
            let mut built = Ok(());
            for (n, chunk) in chunks.iter().enumerate() {
                let records = chunk.iter().map(|e| self.entry_record(e)).collect();
                match self.ledger_upsert(records, &format!("ledger{n}")) {
                    Ok(sub) => request = request.push(sub),
                    Err(e) => built = Err(e),
                }
            }
            let answer = match built {
                Ok(()) => self
                    .client
                    .composite(&request)
                    .await
                    .map_err(BridgeError::from),
                Err(e) => Err(e),
            };
            let out_call = match answer {
                Ok(a) => a,
                Err(e) => {
                    let text = e.to_string();
                    let retryable = e.is_retryable();
                    out.extend(call.iter().map(|_| {
                        Err(if retryable {
                            BridgeError::Store(format!("the ledger write failed: {text}"))
                        } else {
                            BridgeError::Mapping(format!("the ledger write was refused: {text}"))
                        })
                    }));
                    continue;
                }
            };
            for (n, chunk) in chunks.iter().enumerate() {
                match save_results(out_call.get(n)).map_err(|e| self.ledger_error(e)) {
                    Ok(results) => {
                        let mut results = results.into_iter();
                        for _ in chunk.iter() {
                            out.push(match results.next() {
                                Some(r) if r.success => Ok(()),
                                Some(r) => Err(self.ledger_error(record_error(r))),
                                None => Err(BridgeError::Interrupted(
                                    "the collection answered fewer records than sent".into(),
                                )),
                            });
                        }
                    }
                    Err(e @ BridgeError::Setup { .. }) => {
                        out.extend(chunk.iter().map(|_| Err(e.clone_setup())));
                    }
                    Err(e) => {
                        let text = e.to_string();
                        out.extend(chunk.iter().map(|_| Err(BridgeError::Store(text.clone()))));
                    }
                }
            }
        }
        out
    }
}
