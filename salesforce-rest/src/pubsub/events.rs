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
pub struct EventMessage {
    /// The event's own id.
    pub id: String,
    /// The schema id.
    pub schema_id: String,
    /// Where to resume after this event (opaque bytes).
    pub replay_id: Vec<u8>,
    /// Every field, decoded to JSON (a CDC event's header is under
    /// `ChangeEventHeader`). Dates, datetimes and times (by their Avro
    /// logical type or Salesforce's `Name:Date` / `Name:DateTime` /
    /// `Name:Time` field docs, sent as epoch days and milliseconds) are given
    /// as the REST API writes them (`2026-12-09`,
    /// `2026-12-09T14:30:00.000+0000`, `14:30:00.000Z`), so an event's
    /// fields and a queried record read alike.
    pub fields: Map<String, Value>,
    /// The Change Data Capture header, for change events.
    pub change: Option<ChangeEventHeader>,
}

impl std::fmt::Debug for EventMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Field values are the org's data: only their names are shown.
        f.debug_struct("EventMessage")
            .field("id", &self.id)
            .field("schema_id", &self.schema_id)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("change", &self.change)
            .finish()
    }
}

impl EventMessage {
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

    /// A date field's value (`None` when absent, null or not a date).
    pub fn date(&self, field: &str) -> Option<chrono::NaiveDate> {
        chrono::NaiveDate::parse_from_str(self.text(field)?, "%Y-%m-%d").ok()
    }

    /// A datetime field's value (`None` when absent, null or not a datetime).
    pub fn datetime(&self, field: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        crate::records::SfDateTime::parse(self.text(field)?).map(|d| d.0)
    }
}

/// How a field's number is to be read: Salesforce sends dates as days and
/// datetimes and times as milliseconds (Avro `long`/`int` with a
/// `Name:Type` doc), other producers as Avro logical types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Temporal {
    Date,
    DateTimeMillis,
    DateTimeMicros,
    TimeMillis,
    TimeMicros,
}

fn temporal(field: &apache_avro::schema::RecordField) -> Option<Temporal> {
    let logical = |s: &Schema| match s {
        Schema::Date => Some(Temporal::Date),
        Schema::TimestampMillis | Schema::LocalTimestampMillis => Some(Temporal::DateTimeMillis),
        Schema::TimestampMicros | Schema::LocalTimestampMicros => Some(Temporal::DateTimeMicros),
        Schema::TimeMillis => Some(Temporal::TimeMillis),
        Schema::TimeMicros => Some(Temporal::TimeMicros),
        _ => None,
    };
    let found = match &field.schema {
        Schema::Union(u) => u.variants().iter().find_map(logical),
        other => logical(other),
    };
    found.or_else(|| {
        let doc = field.doc.as_deref()?;
        let (_, kind) = doc.rsplit_once(':')?;
        match kind.trim() {
            "Date" => Some(Temporal::Date),
            "DateTime" => Some(Temporal::DateTimeMillis),
            "Time" => Some(Temporal::TimeMillis),
            _ => None,
        }
    })
}

/// The REST form of a temporal number, or `None` when it is out of range.
fn temporal_text(kind: Temporal, n: i64) -> Option<String> {
    use chrono::{DateTime, NaiveDate, NaiveTime};
    let datetime = |ms: i64| {
        DateTime::from_timestamp_millis(ms)
            .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string())
    };
    let time = |ms: i64| {
        let ms = u32::try_from(ms).ok()?;
        NaiveTime::from_num_seconds_from_midnight_opt(ms / 1_000, (ms % 1_000) * 1_000_000)
            .map(|t| t.format("%H:%M:%S%.3fZ").to_string())
    };
    match kind {
        Temporal::Date => NaiveDate::default()
            .checked_add_signed(chrono::Duration::try_days(n)?)
            .map(|d| d.format("%Y-%m-%d").to_string()),
        Temporal::DateTimeMillis => datetime(n),
        Temporal::DateTimeMicros => datetime(n.div_euclid(1_000)),
        Temporal::TimeMillis => time(n),
        Temporal::TimeMicros => time(n.div_euclid(1_000)),
    }
}

/// Rewrites the top-level date, datetime and time fields of decoded `fields`
/// in the REST API's text forms (see [`EventMessage::fields`]). A value out of
/// range is left as it came.
pub fn normalize_temporal(schema: &EventSchema, fields: &mut Map<String, Value>) {
    let Some(record) = record_fields(&schema.0) else {
        return;
    };
    for f in &record.fields {
        let Some(kind) = temporal(f) else {
            continue;
        };
        if let Some(v) = fields.get_mut(&f.name)
            && let Some(text) = v.as_i64().and_then(|n| temporal_text(kind, n))
        {
            *v = Value::String(text);
        }
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

/// The Avro schema of an event: what `GetSchema` returns, parsed. The Avro
/// library stays an implementation detail (it is not part of this crate's
/// API), so a new version of it is not a breaking change here.
///
/// ```
/// use salesforce_rest::pubsub::{decode, encode, EventSchema};
///
/// let schema = EventSchema::parse(
///     r#"{"type": "record", "name": "Order__e", "fields": [{"name": "Number__c", "type": "string"}]}"#,
/// )?;
/// let payload = encode(&schema, &serde_json::json!({"Number__c": "42"}))?;
/// assert_eq!(decode(&schema, &payload)?["Number__c"], "42");
/// # Ok::<(), salesforce_rest::pubsub::PubSubError>(())
/// ```
#[derive(Debug, Clone)]
pub struct EventSchema(Schema);

impl EventSchema {
    /// Parses a schema from its JSON form (`SchemaInfo.schema_json`).
    pub fn parse(json: &str) -> Result<Self, PubSubError> {
        Schema::parse_str(json)
            .map(Self)
            .map_err(|e| PubSubError::Decode(format!("the schema does not parse: {e}")))
    }

    /// The record's full name (`Order__e`, `AccountChangeEvent`), when the
    /// schema is a record.
    pub fn record_name(&self) -> Option<&str> {
        record_fields(&self.0).map(|r| r.name.name.as_str())
    }

    /// The record's top-level field names, in schema order.
    pub fn field_names(&self) -> Vec<&str> {
        record_fields(&self.0)
            .map(|r| r.fields.iter().map(|f| f.name.as_str()).collect())
            .unwrap_or_default()
    }
}

/// Schemas by id, parsed once.
#[derive(Default)]
pub(crate) struct Schemas {
    by_id: Mutex<HashMap<String, Arc<EventSchema>>>,
}

impl Schemas {
    pub(crate) fn get(&self, id: &str) -> Option<Arc<EventSchema>> {
        self.by_id.lock().ok()?.get(id).cloned()
    }

    pub(crate) fn insert(&self, id: &str, json: &str) -> Result<Arc<EventSchema>, PubSubError> {
        let schema = Arc::new(
            Schema::parse_str(json)
                .map(EventSchema)
                .map_err(|e| PubSubError::Decode(format!("schema {id} does not parse: {e}")))?,
        );
        if let Ok(mut m) = self.by_id.lock() {
            m.insert(id.to_owned(), schema.clone());
        }
        Ok(schema)
    }
}

/// Decodes an Avro payload (no container, as the Pub/Sub API sends it).
pub fn decode(schema: &EventSchema, payload: &[u8]) -> Result<Map<String, Value>, PubSubError> {
    let mut reader = payload;
    let value = apache_avro::from_avro_datum(&schema.0, &mut reader, None)
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
pub fn encode(schema: &EventSchema, fields: &Value) -> Result<Vec<u8>, PubSubError> {
    let fit = |e: apache_avro::Error| {
        PubSubError::Encode(format!("the event does not fit its schema: {e}"))
    };
    let value = apache_avro::to_value(fields)
        .map_err(fit)?
        .resolve(&schema.0)
        .map_err(fit)?;
    apache_avro::to_avro_datum(&schema.0, value)
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
pub fn bitmap_fields(schema: &EventSchema, bitmaps: &[String]) -> Vec<String> {
    let Some(record) = record_fields(&schema.0) else {
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
pub fn change_header(
    schema: &EventSchema,
    fields: &Map<String, Value>,
) -> Option<ChangeEventHeader> {
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
    use super::{EventMessage, EventSchema, bitmap_fields, bits, normalize_temporal};

    #[test]
    fn compound_fields_are_named_parent_dot_child() {
        let schema = EventSchema::parse(
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
    fn dates_datetimes_and_times_read_as_the_rest_api_writes_them() {
        let schema = EventSchema::parse(
            r#"{"type": "record", "name": "E", "fields": [
                {"name": "ETA__c", "type": ["null", "int"], "doc": "ETA__c:Date", "default": null},
                {"name": "CreatedDate", "type": "long", "doc": "CreatedDate:DateTime"},
                {"name": "Opens__c", "type": ["null", "long"], "doc": "Opens__c:Time", "default": null},
                {"name": "Day", "type": {"type": "int", "logicalType": "date"}},
                {"name": "At", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}], "default": null},
                {"name": "Count__c", "type": ["null", "long"], "doc": "Count__c:Double", "default": null}
            ]}"#,
        )
        .unwrap();
        let mut fields = serde_json::json!({
            "ETA__c": 20_796, "CreatedDate": 1_796_826_600_000_i64, "Opens__c": 52_200_000,
            "Day": 0, "At": 1_796_826_600_000_123_i64, "Count__c": 12
        })
        .as_object()
        .cloned()
        .unwrap();
        normalize_temporal(&schema, &mut fields);
        assert_eq!(fields["ETA__c"], "2026-12-09");
        assert_eq!(fields["CreatedDate"], "2026-12-09T14:30:00.000+0000");
        assert_eq!(fields["Opens__c"], "14:30:00.000Z");
        assert_eq!(fields["Day"], "1970-01-01");
        assert_eq!(fields["At"], "2026-12-09T14:30:00.000+0000");
        assert_eq!(fields["Count__c"], 12, "other numbers stay numbers");
        let event = EventMessage {
            id: "e".into(),
            schema_id: "s".into(),
            replay_id: Vec::new(),
            fields,
            change: None,
        };
        assert_eq!(
            event.date("ETA__c"),
            chrono::NaiveDate::from_ymd_opt(2026, 12, 9)
        );
        assert_eq!(
            event.datetime("CreatedDate").map(|d| d.timestamp_millis()),
            Some(1_796_826_600_000)
        );
        assert_eq!(event.date("Count__c"), None);
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
