//! Events as delivered: Avro payloads decoded with their schema into JSON
//! fields, and the Change Data Capture header typed, with the changed-fields
//! bitmaps turned into field names.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use apache_avro::Schema;
use apache_avro::schema::RecordSchema;
use serde_json::{Map, Value};

use super::PubSubError;

/// An event: its fields, the schema it was written with, and the replay id to
/// resume after it.
#[derive(Clone)]
#[non_exhaustive]
pub struct Event {
    /// The event's own id.
    pub id: String,
    /// The schema id.
    pub schema_id: String,
    /// Where to resume after this event (opaque bytes).
    pub replay_id: Vec<u8>,
    /// Every field, decoded to JSON (a CDC event's header is under
    /// `ChangeEventHeader`).
    pub fields: Map<String, Value>,
    /// The Change Data Capture header, for change events.
    pub change: Option<ChangeEventHeader>,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Field values are the org's data: only their names are shown.
        f.debug_struct("Event")
            .field("id", &self.id)
            .field("schema_id", &self.schema_id)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("change", &self.change)
            .finish()
    }
}

impl Event {
    /// Whether a change event changed `field` (always true for creates).
    pub fn changed(&self, field: &str) -> bool {
        self.change.as_ref().is_some_and(|c| {
            c.change_type == ChangeType::Create || c.changed_fields.iter().any(|f| f == field)
        })
    }

    /// A field's value as text, when it is one.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.fields.get(field).and_then(Value::as_str)
    }
}

/// What changed a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChangeType {
    /// Created.
    Create,
    /// Updated.
    Update,
    /// Deleted.
    Delete,
    /// Undeleted.
    Undelete,
    /// A gap event: changes happened that could not be captured one by one;
    /// read the records to catch up (`GAP_CREATE`, `GAP_UPDATE`, ...).
    Gap(String),
    /// Too many changes in one transaction: read the records to catch up.
    GapOverflow,
    /// Any other value, as sent.
    Other(String),
}

impl ChangeType {
    /// Parses a `changeType` value.
    pub fn parse(s: &str) -> Self {
        match s {
            "CREATE" => Self::Create,
            "UPDATE" => Self::Update,
            "DELETE" => Self::Delete,
            "UNDELETE" => Self::Undelete,
            "GAP_OVERFLOW" => Self::GapOverflow,
            gap if gap.starts_with("GAP_") => Self::Gap(gap.to_owned()),
            other => Self::Other(other.to_owned()),
        }
    }

    /// Whether this is a gap or overflow event (the fields are not there).
    pub fn is_gap(&self) -> bool {
        matches!(self, Self::Gap(_) | Self::GapOverflow)
    }
}

/// The header of a Change Data Capture event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangeEventHeader {
    /// The object (`Order`).
    pub entity_name: String,
    /// The records changed in this transaction (one event may cover several).
    pub record_ids: Vec<String>,
    /// What happened.
    pub change_type: ChangeType,
    /// Who caused it (`com/salesforce/api/rest/66.0;client=...`), as sent.
    pub change_origin: String,
    /// The transaction.
    pub transaction_key: String,
    /// The event's place in its transaction.
    pub sequence_number: i64,
    /// When the transaction committed (Unix milliseconds).
    pub commit_timestamp: i64,
    /// The commit's system change number.
    pub commit_number: i64,
    /// The user who committed.
    pub commit_user: String,
    /// The changed fields, by name (bitmaps decoded with the schema;
    /// compound fields as `Parent.Child`).
    pub changed_fields: Vec<String>,
    /// The fields set to null, by name.
    pub nulled_fields: Vec<String>,
    /// The fields sent as diffs (long text), by name.
    pub diff_fields: Vec<String>,
}

/// Schemas by id, parsed once.
#[derive(Default)]
pub(crate) struct Schemas {
    by_id: Mutex<HashMap<String, Arc<Schema>>>,
}

impl Schemas {
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Schema>> {
        self.by_id.lock().ok()?.get(id).cloned()
    }

    pub(crate) fn insert(&self, id: &str, json: &str) -> Result<Arc<Schema>, PubSubError> {
        let schema = Arc::new(
            Schema::parse_str(json)
                .map_err(|e| PubSubError::Decode(format!("schema {id} does not parse: {e}")))?,
        );
        if let Ok(mut m) = self.by_id.lock() {
            m.insert(id.to_owned(), schema.clone());
        }
        Ok(schema)
    }
}

/// Decodes an Avro payload (no container, as the Pub/Sub API sends it).
pub fn decode(schema: &Schema, payload: &[u8]) -> Result<Map<String, Value>, PubSubError> {
    let mut reader = payload;
    let value = apache_avro::from_avro_datum(schema, &mut reader, None)
        .map_err(|e| PubSubError::Decode(format!("the payload does not match its schema: {e}")))?;
    match Value::try_from(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(PubSubError::Decode("the payload is not a record".into())),
        Err(e) => Err(PubSubError::Decode(format!(
            "the payload has no JSON form: {e}"
        ))),
    }
}

/// Encodes fields given as JSON into an Avro payload of `schema`.
pub fn encode(schema: &Schema, fields: &Value) -> Result<Vec<u8>, PubSubError> {
    let fit = |e: apache_avro::Error| {
        PubSubError::Encode(format!("the event does not fit its schema: {e}"))
    };
    let value = apache_avro::to_value(fields)
        .map_err(fit)?
        .resolve(schema)
        .map_err(fit)?;
    apache_avro::to_avro_datum(schema, value)
        .map_err(|e| PubSubError::Encode(format!("the event does not encode: {e}")))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The record fields of a schema, in order.
fn record_fields(schema: &Schema) -> Option<&RecordSchema> {
    match schema {
        Schema::Record(r) => Some(r),
        _ => None,
    }
}

/// The record schema inside a field's schema (a union with null, or the record).
fn nested_record(schema: &Schema) -> Option<&RecordSchema> {
    match schema {
        Schema::Record(r) => Some(r),
        Schema::Union(u) => u.variants().iter().find_map(|v| match v {
            Schema::Record(r) => Some(r),
            _ => None,
        }),
        _ => None,
    }
}

/// The set bits of a hex bitmap (`0x1A`), lowest first: bit 0 is the least
/// significant bit of the last byte.
fn bits(hex: &str) -> Vec<usize> {
    let digits = hex.trim().trim_start_matches("0x").trim_start_matches("0X");
    let mut out = Vec::new();
    for (pos, c) in digits.chars().rev().enumerate() {
        let Some(v) = c.to_digit(16) else {
            return Vec::new();
        };
        for b in 0..4 {
            if v & (1 << b) != 0 {
                out.push(pos * 4 + b);
            }
        }
    }
    out
}

/// Field names from CDC bitmaps: `0x...` indexes the top-level fields;
/// `n-0x...` indexes the fields of the compound field at position `n`.
pub fn bitmap_fields(schema: &Schema, bitmaps: &[String]) -> Vec<String> {
    let Some(record) = record_fields(schema) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for map in bitmaps {
        match map.split_once('-') {
            None => {
                for i in bits(map) {
                    if let Some(f) = record.fields.get(i) {
                        out.push(f.name.clone());
                    }
                }
            }
            Some((parent, hex)) => {
                let Some(parent) = parent
                    .parse::<usize>()
                    .ok()
                    .and_then(|p| record.fields.get(p))
                else {
                    continue;
                };
                let Some(nested) = nested_record(&parent.schema) else {
                    continue;
                };
                for i in bits(hex) {
                    if let Some(f) = nested.fields.get(i) {
                        out.push(format!("{}.{}", parent.name, f.name));
                    }
                }
            }
        }
    }
    out
}

/// The typed CDC header of decoded fields, when they have one.
pub fn change_header(schema: &Schema, fields: &Map<String, Value>) -> Option<ChangeEventHeader> {
    let h = fields.get("ChangeEventHeader")?.as_object()?;
    let text = |k: &str| {
        h.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let number = |k: &str| h.get(k).and_then(Value::as_i64).unwrap_or_default();
    Some(ChangeEventHeader {
        entity_name: text("entityName"),
        record_ids: strings(h.get("recordIds")),
        change_type: ChangeType::parse(&text("changeType")),
        change_origin: text("changeOrigin"),
        transaction_key: text("transactionKey"),
        sequence_number: number("sequenceNumber"),
        commit_timestamp: number("commitTimestamp"),
        commit_number: number("commitNumber"),
        commit_user: text("commitUser"),
        changed_fields: bitmap_fields(schema, &strings(h.get("changedFields"))),
        nulled_fields: bitmap_fields(schema, &strings(h.get("nulledFields"))),
        diff_fields: bitmap_fields(schema, &strings(h.get("diffFields"))),
    })
}

#[cfg(test)]
mod tests {
    use super::{bitmap_fields, bits};

    #[test]
    fn compound_fields_are_named_parent_dot_child() {
        let schema = apache_avro::Schema::parse_str(
            r#"{"type": "record", "name": "AccountChangeEvent", "fields": [
                {"name": "ChangeEventHeader", "type": "string"},
                {"name": "Name", "type": ["null", "string"]},
                {"name": "BillingAddress", "type": ["null", {"type": "record", "name": "Address", "fields": [
                    {"name": "Street", "type": ["null", "string"]},
                    {"name": "City", "type": ["null", "string"]},
                    {"name": "PostalCode", "type": ["null", "string"]}]}]},
                {"name": "Phone", "type": ["null", "string"]}]}"#,
        )
        .unwrap();
        let names = bitmap_fields(&schema, &["0xA".into(), "2-0x5".into(), "9-0x1".into()]);
        assert_eq!(
            names,
            [
                "Name",
                "Phone",
                "BillingAddress.Street",
                "BillingAddress.PostalCode"
            ]
        );
    }

    #[test]
    fn bitmaps_count_from_the_lowest_bit_of_the_last_digit() {
        assert_eq!(bits("0x1"), [0]);
        assert_eq!(bits("0x12"), [1, 4]);
        assert_eq!(bits("0x100"), [8]);
        assert!(bits("0xZZ").is_empty());
        assert!(bits("").is_empty());
    }
}
