//! The mock org's data: records by object, with the write rules of a real
//! org that the SDK's behaviour depends on (required fields, unique external
//! ids, upsert matching, conditional updates, validation rules).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde_json::{Map, Value, json};

use super::MockFailure;

use super::schema::Schema;

#[derive(Default)]
pub(super) struct State {
    pub(super) latency_ms: AtomicU64,
    pub(super) fail_after_commit: Mutex<Option<(MockFailure, u64)>>,
    /// Every n-th write is committed, then answered with the failure
    /// (failure, n, writes seen).
    pub(super) fail_every: Mutex<Option<(MockFailure, u64, u64)>>,
    pub(super) counter: AtomicU64,
    /// The bytes of each uploaded `ContentVersion`, by its id.
    pub(super) files: Mutex<HashMap<String, bytes::Bytes>>,
    pub(super) token_requests: AtomicU64,
    pub(super) access_tokens: Mutex<HashSet<String>>,
    pub(super) refresh_tokens: Mutex<HashSet<String>>,
    pub(super) spent_refresh_tokens: Mutex<HashSet<String>>,
    pub(super) codes: Mutex<HashSet<String>>,
    pub(super) rotation: AtomicBool,
    pub(super) token_html: AtomicBool,
    pub(super) token_delay_ms: AtomicU64,
    pub(super) records: Mutex<BTreeMap<String, Vec<Map<String, Value>>>>,
    /// The records' string values, kept in step with `records` (always
    /// locked after it).
    pub(super) index: Mutex<super::index::ValueIndex>,
    pub(super) locators: Mutex<HashMap<String, Vec<Value>>>,
    pub(super) page_size: AtomicU64,
    pub(super) case_number: AtomicU64,
    pub(super) api_calls: AtomicU64,
    pub(super) clock: AtomicU64,
    /// Held from a write's uniqueness check to its insert or update, so two
    /// concurrent writes of one unique value cannot both pass (as in an org).
    pub(super) writes: Mutex<()>,
    /// Where the clock starts (Unix seconds): midnight UTC of the day the
    /// mock started, so sandbox data is dated today.
    pub(super) origin: i64,
    /// (object, field, value) that a validation rule rejects.
    pub(super) rejections: Mutex<Vec<(String, String, String)>>,
    /// Bulk API 2.0 jobs by id.
    pub(super) bulk_jobs: Mutex<HashMap<String, super::bulk::Job>>,
    /// Told of every created or updated record (a change-event feed).
    pub(super) on_change: Mutex<Option<ChangeHook>>,
    /// Custom objects and fields (the bridge's, unless the org is bare).
    pub(super) schema: Mutex<Schema>,
}

/// A listener of record changes: object, record id, `CREATE` or `UPDATE`, and
/// the fields written.
pub(crate) type ChangeHook =
    std::sync::Arc<dyn Fn(&str, &str, &str, &Map<String, Value>) + Send + Sync>;

impl State {
    /// Tells the change listener, if any (never while a lock is held).
    pub(super) fn changed(&self, object: &str, id: &str, kind: &str, fields: &Map<String, Value>) {
        let hook = lock(&self.on_change).clone();
        if let Some(hook) = hook {
            hook(object, id, kind, fields);
        }
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A failed write: status and error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WriteError {
    pub(super) status: u16,
    pub(super) code: &'static str,
    pub(super) message: String,
    pub(super) fields: Vec<String>,
}

impl WriteError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    fn on(mut self, field: &str) -> Self {
        self.fields.push(field.to_owned());
        self
    }

    /// An error of a Bulk row (no HTTP status of its own).
    pub(super) fn bulk(code: &'static str, message: &str) -> Self {
        Self::new(400, code, message)
    }

    /// The `sf__Error` text of a Bulk row: `CODE:message:fields --`.
    pub(super) fn bulk_message(&self) -> String {
        format!(
            "{}:{}:{} --",
            self.code,
            self.message,
            self.fields.join(",")
        )
    }

    /// The REST error array.
    pub(super) fn array(&self) -> Value {
        json!([{ "message": self.message, "errorCode": self.code, "fields": self.fields }])
    }

    /// The item of a collections answer.
    pub(super) fn item(&self) -> Value {
        json!({ "success": false, "errors": [{ "statusCode": self.code, "message": self.message, "fields": self.fields }] })
    }
}

fn prefix(object: &str) -> &'static str {
    match object {
        "Lead" => "00Q",
        "Case" => "500",
        "Contact" => "003",
        "Account" => "001",
        "Task" => "00T",
        "Opportunity" => "006",
        _ => "a0X",
    }
}

/// Record ids compare on their first 15 characters when one side is short.
pub(super) fn same_id(stored: &Value, id: &str) -> bool {
    stored
        .as_str()
        .is_some_and(|s| s == id || s.get(..15) == id.get(..15) && id.len() == 15)
}

fn required_missing(object: &str, fields: &Map<String, Value>) -> Option<&'static str> {
    let need: &[&'static str] = match object {
        "Lead" => &["LastName", "Company"],
        "Contact" => &["LastName"],
        _ => &[],
    };
    need.iter().copied().find(|f| {
        fields
            .get(*f)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    })
}

/// A second-resolution timestamp that advances one second per write, so
/// `LastModifiedDate` orders every change (and conditional requests work).
pub(super) fn next_stamp(state: &State) -> String {
    let t = state.clock.fetch_add(1, Ordering::SeqCst);
    let dt = chrono::DateTime::from_timestamp(state.origin + t as i64, 0).unwrap_or_default();
    format!("{}+0000", dt.format("%Y-%m-%dT%H:%M:%S%.3f"))
}

/// Unique-field values of one object: (field, value) to record id.
pub(super) type UniqueIndex = HashMap<(String, String), String>;

impl State {
    fn validate(
        &self,
        object: &str,
        fields: &Map<String, Value>,
        except: Option<&str>,
    ) -> Result<(), WriteError> {
        self.validate_with(object, fields, except, None)
    }

    /// The validation rules and unique fields; with `index`, uniqueness is
    /// looked up there instead of scanning the records.
    fn validate_with(
        &self,
        object: &str,
        fields: &Map<String, Value>,
        except: Option<&str>,
        index: Option<&UniqueIndex>,
    ) -> Result<(), WriteError> {
        for (o, f, v) in lock(&self.rejections).iter() {
            if o == object && fields.get(f).and_then(Value::as_str) == Some(v.as_str()) {
                return Err(WriteError::new(
                    400,
                    "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                    format!("a validation rule rejects this {f}"),
                )
                .on(f));
            }
        }
        let unique = lock(&self.schema).unique_fields(object);
        for field in &unique {
            let field = field.as_str();
            let Some(value) = fields.get(field).and_then(Value::as_str) else {
                continue;
            };
            let taken: Option<String> = match index {
                Some(index) => index
                    .get(&(field.to_owned(), value.to_owned()))
                    .filter(|id| except.is_none_or(|e| !same_id(&Value::String((*id).clone()), e)))
                    .cloned(),
                None => lock(&self.index)
                    .ids(object, field, value)
                    .into_iter()
                    .find(|id| except.is_none_or(|e| !same_id(&Value::String(id.clone()), e))),
            };
            if let Some(id) = taken {
                return Err(WriteError::new(
                    400,
                    "DUPLICATE_VALUE",
                    format!(
                        "duplicate value found: {field} duplicates value on record with id: {id}"
                    ),
                )
                .on(field));
            }
        }
        Ok(())
    }

    /// Inserts a record, as `POST /sobjects/{object}` does.
    pub(super) fn create(
        &self,
        object: &str,
        mut fields: Map<String, Value>,
    ) -> Result<String, WriteError> {
        fields.remove("attributes");
        fields.remove("Id");
        self.object_exists(object)?;
        self.resolve_relationships(object, &mut fields)?;
        if let Some(missing) = required_missing(object, &fields) {
            return Err(WriteError::new(
                400,
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{missing}]"),
            )
            .on(missing));
        }
        let _one_at_a_time = lock(&self.writes);
        self.validate(object, &fields, None)?;
        Ok(self.insert(object, fields))
    }

    /// The unique-field values of `object`'s records, for many creates in a
    /// row ([`create_indexed`](Self::create_indexed)).
    pub(super) fn unique_index(&self, object: &str) -> UniqueIndex {
        let unique = lock(&self.schema).unique_fields(object);
        let records = lock(&self.records);
        let mut index = UniqueIndex::new();
        for r in records.get(object).into_iter().flatten() {
            for field in &unique {
                let field = field.as_str();
                if let (Some(v), Some(id)) =
                    (r.get(field).and_then(Value::as_str), r["Id"].as_str())
                {
                    index.insert((field.to_owned(), v.to_owned()), id.to_owned());
                }
            }
        }
        index
    }

    /// `NOT_FOUND` for a custom object the org does not have.
    pub(super) fn object_exists(&self, object: &str) -> Result<(), WriteError> {
        if lock(&self.schema).has_object(object) {
            Ok(())
        } else {
            Err(WriteError::new(
                404,
                "NOT_FOUND",
                format!("sObject type '{object}' is not supported"),
            ))
        }
    }

    /// Replaces external-ID relationship references
    /// (`"Lead__r": {"WhatsApp_Phone__c": "+1..."}`) with the parent's id, as
    /// Salesforce does; a parent that does not exist fails the write.
    fn resolve_relationships(
        &self,
        object: &str,
        fields: &mut Map<String, Value>,
    ) -> Result<(), WriteError> {
        let refs: Vec<String> = fields
            .iter()
            .filter(|(_, v)| v.is_object())
            .map(|(k, _)| k.clone())
            .collect();
        for name in refs {
            let Some((parent, id_field)) = lock(&self.schema).relationship(object, &name) else {
                continue;
            };
            let Some(Value::Object(key)) = fields.remove(&name) else {
                continue;
            };
            let Some((key_field, Value::String(key_value))) = key.into_iter().next() else {
                return Err(WriteError::new(
                    400,
                    "INVALID_FIELD",
                    format!("the relationship {name} names no external ID"),
                ));
            };
            let id = lock(&self.index)
                .ids(&parent, &key_field, &key_value)
                .into_iter()
                .next();
            match id {
                Some(id) => {
                    fields.insert(id_field, Value::String(id));
                }
                None => {
                    return Err(WriteError::new(
                        400,
                        "INVALID_FIELD",
                        format!(
                            "Foreign key external ID: {key_value} not found for field {key_field} in entity {parent}"
                        ),
                    )
                    .on(&name));
                }
            }
        }
        Ok(())
    }

    /// Inserts as [`create`](Self::create) does, checking uniqueness against
    /// `index` (kept up to date here) instead of scanning: a bulk job's rows
    /// cost O(1) each, not O(records).
    pub(super) fn create_indexed(
        &self,
        object: &str,
        mut fields: Map<String, Value>,
        index: &mut UniqueIndex,
    ) -> Result<String, WriteError> {
        fields.remove("attributes");
        fields.remove("Id");
        if let Some(missing) = required_missing(object, &fields) {
            return Err(WriteError::new(
                400,
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{missing}]"),
            )
            .on(missing));
        }
        self.validate_with(object, &fields, None, Some(index))?;
        let keys: Vec<(String, String)> = lock(&self.schema)
            .unique_fields(object)
            .into_iter()
            .filter_map(|f| {
                let v = fields.get(&f)?.as_str()?.to_owned();
                Some((f, v))
            })
            .collect();
        let id = self.insert(object, fields);
        for key in keys {
            index.insert(key, id.clone());
        }
        Ok(id)
    }

    /// Inserts without checks (test set-up).
    pub(super) fn insert(&self, object: &str, mut fields: Map<String, Value>) -> String {
        let n = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let raw = format!("{}{:012}", prefix(object), n);
        let id = crate::id::SalesforceId::parse(&raw)
            .map(|i| i.to_string())
            .unwrap_or(raw);
        fields.remove("attributes");
        fields.insert("Id".into(), Value::String(id.clone()));
        let stamp = next_stamp(self);
        fields.insert("SystemModstamp".into(), Value::String(stamp.clone()));
        fields.insert("LastModifiedDate".into(), Value::String(stamp.clone()));
        fields.insert("CreatedDate".into(), Value::String(stamp));
        if object == "Case" {
            let num = self.case_number.fetch_add(1, Ordering::SeqCst) + 1;
            fields.insert("CaseNumber".into(), Value::String(format!("{num:08}")));
        }
        let written = fields.clone();
        let mut records = lock(&self.records);
        lock(&self.index).add(object, &fields);
        records.entry(object.to_owned()).or_default().push(fields);
        drop(records);
        self.changed(object, &id, "CREATE", &written);
        id
    }

    /// Deletes a record of `object` (of any object with `None`); whether
    /// one was found.
    pub(super) fn delete(&self, object: Option<&str>, id: &str) -> bool {
        let mut records = lock(&self.records);
        let mut found = false;
        for (name, rows) in records.iter_mut() {
            if object.is_some_and(|o| o != name) {
                continue;
            }
            if let Some(at) = rows.iter().position(|r| same_id(&r["Id"], id)) {
                let gone = rows.remove(at);
                lock(&self.index).remove(name, &gone);
                found = true;
            }
        }
        found
    }

    /// A copy of a record.
    pub(super) fn find(&self, object: &str, id: &str) -> Option<Map<String, Value>> {
        lock(&self.records)
            .get(object)?
            .iter()
            .find(|r| same_id(&r["Id"], id))
            .cloned()
    }

    /// Updates a record by id. With `unmodified_since` (an HTTP date), a
    /// record changed after it answers 412, as `If-Unmodified-Since` does.
    pub(super) fn update(
        &self,
        object: &str,
        id: &str,
        mut fields: Map<String, Value>,
        unmodified_since: Option<&str>,
    ) -> Result<(), WriteError> {
        fields.remove("attributes");
        fields.remove("Id");
        self.resolve_relationships(object, &mut fields)?;
        let Some(current) = self.find(object, id) else {
            return Err(WriteError::new(
                404,
                "NOT_FOUND",
                "The requested resource does not exist",
            ));
        };
        if let Some(since) = unmodified_since {
            let Ok(since) = chrono::DateTime::parse_from_rfc2822(since) else {
                return Err(WriteError::new(
                    400,
                    "INVALID_HEADER_TYPE",
                    "If-Unmodified-Since is not an HTTP date",
                ));
            };
            let modified = current
                .get("LastModifiedDate")
                .and_then(Value::as_str)
                .and_then(crate::records::SfDateTime::parse);
            if modified.is_some_and(|m| m.0 > since.to_utc()) {
                return Err(WriteError::new(
                    412,
                    "PRECONDITION_FAILED",
                    "The record was modified since the given date",
                ));
            }
        }
        let mut merged = current;
        merged.extend(fields.clone());
        let _one_at_a_time = lock(&self.writes);
        self.validate(object, &merged, Some(id))?;
        let stamp = next_stamp(self);
        let mut recs = lock(&self.records);
        if let Some(r) = recs
            .get_mut(object)
            .and_then(|rows| rows.iter_mut().find(|r| same_id(&r["Id"], id)))
        {
            let mut changes = fields.clone();
            changes.insert("SystemModstamp".into(), Value::String(stamp.clone()));
            changes.insert("LastModifiedDate".into(), Value::String(stamp));
            lock(&self.index).change(object, r, &changes);
            r.extend(changes);
        }
        drop(recs);
        self.changed(object, id, "UPDATE", &fields);
        Ok(())
    }

    /// Upserts on an external id: `(status, body)` as the REST API answers.
    pub(super) fn upsert(
        &self,
        object: &str,
        field: &str,
        value: &str,
        mut fields: Map<String, Value>,
    ) -> Result<(u16, Value), WriteError> {
        fields.remove("attributes");
        let matches = lock(&self.index).ids(object, field, value);
        match matches.as_slice() {
            [] => {
                fields.insert(field.to_owned(), Value::String(value.to_owned()));
                let id = self.create(object, fields)?;
                Ok((
                    201,
                    json!({ "id": id, "success": true, "errors": [], "created": true }),
                ))
            }
            [id] => {
                self.update(object, id, fields, None)?;
                Ok((
                    200,
                    json!({ "id": id, "success": true, "errors": [], "created": false }),
                ))
            }
            many => Ok((300, json!(many))),
        }
    }
}
