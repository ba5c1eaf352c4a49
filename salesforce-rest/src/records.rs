//! Typed records: the [`SObject`] trait, the tri-state [`Field`], the objects a
//! messaging integration uses ([`Lead`], [`Case`], [`Contact`], [`Task`]) with room
//! for custom fields, dynamic records, and Salesforce's datetime format.
//!
//! ```
//! use salesforce_rest::records::{Field, Lead};
//!
//! let mut lead = Lead::new("Lima", "Acme Inc.");
//! lead.phone = Field::from("+1 (415) 555-0123");
//! lead.description = Field::Null; // clears the field on update
//! lead.extra.insert("WhatsApp_Id__c".into(), "14155550123".into());
//! let json = serde_json::to_value(&lead).unwrap();
//! assert_eq!(json["LastName"], "Lima");
//! assert!(json["Description"].is_null());
//! assert!(json.get("Email").is_none(), "unset fields are left unchanged");
//! assert_eq!(json["WhatsApp_Id__c"], "14155550123");
//! ```

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::id::SalesforceId;

/// A record type: its API name plus serde.
pub trait SObject: Serialize + DeserializeOwned + Send + Sync {
    /// The object's API name (`Lead`, `Case`, `Invoice__c`).
    const API_NAME: &'static str;
}

/// A field on write: left unchanged (omitted), cleared (JSON `null`) or set.
///
/// Use `#[serde(default, skip_serializing_if = "Field::is_unset")]` on struct
/// fields. On read, a missing key is `Unset` and `null` is `Null`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field<T> {
    /// Omitted: Salesforce leaves the field as it is.
    #[default]
    Unset,
    /// `null`: Salesforce clears the field.
    Null,
    /// A value.
    Value(T),
}

impl<T> Field<T> {
    /// Whether the field is omitted.
    pub fn is_unset(&self) -> bool {
        matches!(self, Field::Unset)
    }
    /// The value, if set.
    pub fn value(&self) -> Option<&T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }
    /// Takes the value, if set.
    pub fn into_value(self) -> Option<T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }
}

impl Field<String> {
    /// The text, if set.
    pub fn as_str(&self) -> Option<&str> {
        self.value().map(String::as_str)
    }
}

impl<T> From<T> for Field<T> {
    fn from(v: T) -> Self {
        Field::Value(v)
    }
}

impl From<&str> for Field<String> {
    fn from(v: &str) -> Self {
        Field::Value(v.to_owned())
    }
}

impl<T> From<Option<T>> for Field<T> {
    /// `None` clears the field.
    fn from(v: Option<T>) -> Self {
        v.map_or(Field::Null, Field::Value)
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Value(v) => v.serialize(s),
            Field::Unset | Field::Null => s.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(d)?.map_or(Field::Null, Field::Value))
    }
}

/// A datetime in Salesforce's forms. Parses `2026-11-20T17:03:11.000+0000`
/// (no colon), `+00:00`, `Z`, with or without milliseconds, and the space-
/// separated form; writes `2026-11-20T17:03:11.000Z`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SfDateTime(pub DateTime<Utc>);

impl SfDateTime {
    /// Parses any datetime form Salesforce emits.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Some(Self(dt.with_timezone(&Utc)));
        }
        for f in [
            "%Y-%m-%dT%H:%M:%S%.f%z",
            "%Y-%m-%dT%H:%M:%S%z",
            "%Y-%m-%d %H:%M:%S%.f%z",
        ] {
            if let Ok(dt) = DateTime::<FixedOffset>::parse_from_str(s, f) {
                return Some(Self(dt.with_timezone(&Utc)));
            }
        }
        for f in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M:%S",
        ] {
            if let Ok(dt) = NaiveDateTime::parse_from_str(s, f) {
                return Some(Self(dt.and_utc()));
            }
        }
        None
    }

    /// The form Salesforce expects on input: `2026-11-20T17:03:11.000Z`.
    pub fn to_salesforce(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

impl fmt::Debug for SfDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SfDateTime({})", self.to_salesforce())
    }
}

impl fmt::Display for SfDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_salesforce())
    }
}

impl From<DateTime<Utc>> for SfDateTime {
    fn from(v: DateTime<Utc>) -> Self {
        Self(v)
    }
}

impl Serialize for SfDateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_salesforce())
    }
}

impl<'de> Deserialize<'de> for SfDateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not a Salesforce datetime: {s:?}")))
    }
}

macro_rules! sobject {
    (
        $(#[$doc:meta])*
        $name:ident = $api:literal {
            $( $(#[$fdoc:meta])* $field:ident : $ty:ty => $json:literal, )*
        }
        read_only { $( $(#[$rdoc:meta])* $rfield:ident : $rty:ty => $rjson:literal, )* }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[non_exhaustive]
        pub struct $name {
            /// The record id (read only; never sent on write).
            #[serde(rename = "Id", default, skip_serializing)]
            pub id: Option<SalesforceId>,
            $(
                $(#[$fdoc])*
                #[serde(rename = $json, default, skip_serializing_if = "Field::is_unset")]
                pub $field: Field<$ty>,
            )*
            $(
                $(#[$rdoc])*
                #[serde(rename = $rjson, default, skip_serializing)]
                pub $rfield: Option<$rty>,
            )*
            /// Other fields: custom fields (`Something__c`) on write, anything
            /// else the query returned on read (`attributes` is dropped).
            #[serde(flatten, deserialize_with = "without_attributes")]
            pub extra: Map<String, Value>,
        }

        impl SObject for $name {
            const API_NAME: &'static str = $api;
        }
    };
}

fn without_attributes<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    let mut m = Map::deserialize(d)?;
    m.remove("attributes");
    Ok(m)
}

sobject! {
    /// A Lead: a prospect from a conversation.
    Lead = "Lead" {
        /// Last name (required, 80).
        last_name: String => "LastName",
        /// First name (40).
        first_name: String => "FirstName",
        /// Company (required, 255).
        company: String => "Company",
        /// Phone (40), stored exactly as written.
        phone: String => "Phone",
        /// Mobile phone (40).
        mobile_phone: String => "MobilePhone",
        /// Email (80).
        email: String => "Email",
        /// Lead source picklist (e.g. `WhatsApp`, if added to the picklist).
        lead_source: String => "LeadSource",
        /// Description (32,000).
        description: String => "Description",
        /// Status picklist.
        status: String => "Status",
    }
    read_only {
        /// Whether the lead was converted.
        is_converted: bool => "IsConverted",
        /// Last modification (for change polling).
        system_modstamp: SfDateTime => "SystemModstamp",
    }
}

impl Lead {
    /// A lead with the two required fields.
    pub fn new(last_name: impl Into<String>, company: impl Into<String>) -> Self {
        Self {
            last_name: Field::Value(last_name.into()),
            company: Field::Value(company.into()),
            ..Self::default()
        }
    }
}

sobject! {
    /// A Case: a support request.
    Case = "Case" {
        /// Subject (255).
        subject: String => "Subject",
        /// Description (32,000).
        description: String => "Description",
        /// Origin picklist (`Phone`, `Email`, `Web`; add `WhatsApp` in the org).
        origin: String => "Origin",
        /// Priority (`High`, `Medium`, `Low`).
        priority: String => "Priority",
        /// Status (`New`, `Working`, `Escalated`, `Closed`).
        status: String => "Status",
        /// The phone the customer supplied (40; set on creation).
        supplied_phone: String => "SuppliedPhone",
        /// The name the customer supplied (80; set on creation).
        supplied_name: String => "SuppliedName",
        /// The email the customer supplied (80).
        supplied_email: String => "SuppliedEmail",
        /// The related contact.
        contact_id: String => "ContactId",
    }
    read_only {
        /// The case number (auto-number, e.g. `00001026`).
        case_number: String => "CaseNumber",
        /// Whether the case is closed.
        is_closed: bool => "IsClosed",
        /// Last modification.
        system_modstamp: SfDateTime => "SystemModstamp",
    }
}

impl Case {
    /// A case with a subject and a description.
    pub fn new(subject: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            subject: Field::Value(subject.into()),
            description: Field::Value(description.into()),
            ..Self::default()
        }
    }
}

sobject! {
    /// A Contact.
    Contact = "Contact" {
        /// First name.
        first_name: String => "FirstName",
        /// Last name (required).
        last_name: String => "LastName",
        /// Phone.
        phone: String => "Phone",
        /// Mobile phone.
        mobile_phone: String => "MobilePhone",
        /// Email.
        email: String => "Email",
        /// The account.
        account_id: String => "AccountId",
    }
    read_only {
        /// Last modification.
        system_modstamp: SfDateTime => "SystemModstamp",
    }
}

sobject! {
    /// A Task: a follow-up activity.
    Task = "Task" {
        /// Subject.
        subject: String => "Subject",
        /// Comments.
        description: String => "Description",
        /// The Lead or Contact it is about.
        who_id: String => "WhoId",
        /// The record it relates to (Case, Account, ...).
        what_id: String => "WhatId",
        /// Due date (a date: never shifted by time zones).
        activity_date: NaiveDate => "ActivityDate",
        /// Status (`Not Started`, `Completed`, ...).
        status: String => "Status",
        /// Priority.
        priority: String => "Priority",
    }
    read_only {
        /// Last modification.
        system_modstamp: SfDateTime => "SystemModstamp",
    }
}

/// A record of any object, as a JSON map (for objects without a typed struct).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DynamicRecord(pub Map<String, Value>);

impl DynamicRecord {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets a field.
    pub fn set(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.0.insert(field.to_owned(), value.into());
        self
    }
    /// A field's value.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }
    /// The record id, when present.
    pub fn id(&self) -> Option<SalesforceId> {
        self.0
            .get("Id")
            .and_then(Value::as_str)
            .and_then(|s| SalesforceId::parse(s).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tri_state_fields_on_write_and_read() {
        let mut c = Case::new("Broken", "It arrived broken");
        c.priority = Field::Null;
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"Subject": "Broken", "Description": "It arrived broken", "Priority": null})
        );
        let read: Case = serde_json::from_value(serde_json::json!({
            "attributes": {"type": "Case", "url": "/services/data/v66.0/sobjects/Case/500A0000006Vm9rIAC"},
            "Id": "500A0000006Vm9rIAC", "CaseNumber": "00001026", "Subject": "S", "Priority": null, "Custom__c": 5,
            "SystemModstamp": "2026-11-20T17:03:11.000+0000"
        })).unwrap();
        assert_eq!(read.case_number.as_deref(), Some("00001026"));
        assert_eq!(read.priority, Field::Null);
        assert_eq!(read.status, Field::Unset);
        assert_eq!(read.extra.get("Custom__c"), Some(&serde_json::json!(5)));
        assert!(read.extra.get("attributes").is_none());
        assert_eq!(
            read.system_modstamp.unwrap().to_salesforce(),
            "2026-11-20T17:03:11.000Z"
        );
        let back = serde_json::to_value(&read).unwrap();
        assert!(
            back.get("Id").is_none() && back.get("CaseNumber").is_none(),
            "read-only fields are not written"
        );
    }

    #[test]
    fn datetimes_in_every_form() {
        let expect = "2026-11-20T17:03:11.000Z";
        for s in [
            "2026-11-20T17:03:11.000+0000",
            "2026-11-20T17:03:11.000+00:00",
            "2026-11-20T17:03:11Z",
            "2026-11-20T17:03:11.000Z",
            "2026-11-20T12:03:11.000-0500",
            "2026-11-20 17:03:11",
            "2026-11-20T17:03:11",
        ] {
            assert_eq!(SfDateTime::parse(s).unwrap().to_salesforce(), expect, "{s}");
        }
        assert!(SfDateTime::parse("20/11/2026").is_none());
        assert!(serde_json::from_str::<SfDateTime>("\"junk\"").is_err());
    }

    #[test]
    fn dates_never_shift() {
        let t = Task {
            activity_date: Field::Value(NaiveDate::from_ymd_opt(2025, 4, 30).unwrap()),
            ..Task::default()
        };
        assert_eq!(
            serde_json::to_value(&t).unwrap()["ActivityDate"],
            "2025-04-30"
        );
        let back: Task = serde_json::from_str(r#"{"ActivityDate":"2025-04-30"}"#).unwrap();
        assert_eq!(
            back.activity_date.value().unwrap().to_string(),
            "2025-04-30"
        );
    }

    #[test]
    fn dynamic_records() {
        let r = DynamicRecord::new()
            .set("Name", "INV-1")
            .set("Amount__c", 1499.99);
        assert_eq!(r.get("Name").unwrap(), "INV-1");
        let r: DynamicRecord = serde_json::from_str(r#"{"Id":"001A0000006Vm9r"}"#).unwrap();
        assert_eq!(r.id().unwrap().as_str(), "001A0000006Vm9rIAC");
    }
}
