//! The mock org's schema: standard fields, and the custom objects and fields
//! an org has (all of the bridge's by default, none in a bare org), changed
//! through the Tooling API as a real org is. Describes, unique fields and
//! external-ID relationship references (`Lead__r: {"WhatsApp_Phone__c": ...}`)
//! come from here.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// One custom field as the mock knows it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FieldDef {
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) length: u64,
    pub(super) external_id: bool,
    pub(super) unique: bool,
    pub(super) reference_to: Option<String>,
}

impl FieldDef {
    fn text(name: &str, length: u64, key: bool) -> Self {
        Self {
            name: name.into(),
            kind: "string".into(),
            length,
            external_id: key,
            unique: key,
            reference_to: None,
        }
    }

    fn of(name: &str, kind: &str) -> Self {
        Self {
            name: name.into(),
            kind: kind.into(),
            length: 0,
            external_id: false,
            unique: false,
            reference_to: None,
        }
    }

    fn lookup(name: &str, to: &str) -> Self {
        Self {
            reference_to: Some(to.into()),
            ..Self::of(name, "reference")
        }
    }

    /// The field as `describe` lists it.
    fn describe(&self) -> Value {
        let mut v = json!({
            "name": self.name, "label": self.name.trim_end_matches("__c").replace('_', " "),
            "type": self.kind, "length": self.length, "nillable": true, "createable": true,
            "updateable": true, "externalId": self.external_id, "unique": self.unique, "custom": true,
        });
        if let Some(to) = &self.reference_to {
            v["referenceTo"] = json!([to]);
            v["relationshipName"] = json!(format!("{}__r", self.name.trim_end_matches("__c")));
        }
        v
    }

    /// From a Tooling API `CustomField` body's `Metadata`.
    pub(super) fn from_tooling(name: &str, m: &Value) -> Self {
        let kind = match m["type"].as_str().unwrap_or("Text") {
            "Text" => "string",
            "LongTextArea" => "textarea",
            "Picklist" => "picklist",
            "DateTime" => "datetime",
            "Checkbox" => "boolean",
            "Lookup" => "reference",
            other => other,
        };
        Self {
            name: name.into(),
            kind: kind.into(),
            length: m["length"].as_u64().unwrap_or(0),
            external_id: m["externalId"].as_bool().unwrap_or(false),
            unique: m["unique"].as_bool().unwrap_or(false),
            reference_to: m["referenceTo"].as_str().map(str::to_owned),
        }
    }
}

/// Custom objects and custom fields by object.
#[derive(Debug, Clone, Default)]
pub(super) struct Schema {
    /// Custom objects that exist (standard ones always do).
    pub(super) objects: Vec<String>,
    /// Custom fields by object.
    pub(super) fields: BTreeMap<String, Vec<FieldDef>>,
    /// Whether custom objects must be created before use (a bare org); a
    /// ready org takes any custom object (`Invoice__c`...) as existing.
    pub(super) strict: bool,
}

/// The conversation ledger object the bridge writes.
pub(super) const LEDGER: &str = "WhatsApp_Message__c";

impl Schema {
    /// A new org: standard objects only; custom ones must be created.
    pub(super) fn bare() -> Self {
        Self {
            strict: true,
            ..Self::default()
        }
    }

    /// An org set up for the bridge: key fields on Case, Lead and Contact,
    /// the conversation ledger object with its fields, and the unique keys
    /// of Flow-booked appointments.
    pub(super) fn bridge() -> Self {
        let mut s = Self::default();
        for object in [
            "Case",
            "Lead",
            "Contact",
            "Account",
            "Task",
            "Order",
            "Opportunity",
        ] {
            s.fields.insert(
                object.into(),
                vec![
                    FieldDef::text("WhatsApp_Message_Id__c", 80, true),
                    FieldDef::text("WhatsApp_Phone__c", 40, true),
                    FieldDef::of("WhatsApp_Tags__c", "multipicklist"),
                    FieldDef::text("WhatsApp_First_Message_Id__c", 80, false),
                    FieldDef::of("WhatsApp_Last_Message_At__c", "datetime"),
                    FieldDef::of("WhatsApp_Opt_Out__c", "boolean"),
                ],
            );
        }
        // Appointments booked from a WhatsApp Flow: one per Flow token and
        // one per slot (the org refuses a second booking of a time).
        s.fields.insert(
            "Appointment__c".into(),
            vec![
                FieldDef::text("Booking_Key__c", 80, true),
                FieldDef::text("Slot_Key__c", 80, true),
            ],
        );
        s.objects.push(LEDGER.into());
        s.fields.insert(
            LEDGER.into(),
            vec![
                FieldDef::text("Message_Id__c", 255, true),
                FieldDef::of("Direction__c", "picklist"),
                FieldDef::of("Body__c", "textarea"),
                FieldDef::of("Type__c", "picklist"),
                FieldDef::text("Customer_Phone__c", 40, false),
                FieldDef::text("Business_Phone__c", 40, false),
                FieldDef::of("Status__c", "picklist"),
                FieldDef::text("Error_Code__c", 40, false),
                FieldDef::text("Error_Detail__c", 255, false),
                FieldDef::text("Template__c", 255, false),
                FieldDef::text("WhatsApp_Id__c", 255, false),
                FieldDef::text("Tags__c", 255, false),
                FieldDef::of("Sent_At__c", "datetime"),
                FieldDef::of("Status_At__c", "datetime"),
                FieldDef::lookup("Case__c", "Case"),
                FieldDef::lookup("Lead__c", "Lead"),
                FieldDef::lookup("Contact__c", "Contact"),
            ],
        );
        s
    }

    /// Whether the object exists (standard objects always do).
    pub(super) fn has_object(&self, object: &str) -> bool {
        !self.strict || !object.ends_with("__c") || self.objects.iter().any(|o| o == object)
    }

    /// The unique fields of an object.
    pub(super) fn unique_fields(&self, object: &str) -> Vec<String> {
        self.fields
            .get(object)
            .into_iter()
            .flatten()
            .filter(|f| f.unique)
            .map(|f| f.name.clone())
            .collect()
    }

    /// The object a relationship (`Lead__r`, or standard `Contact`,
    /// `Account`, `Parent`) points at, and the id field it sets.
    pub(super) fn relationship(&self, object: &str, name: &str) -> Option<(String, String)> {
        if let Some(stem) = name.strip_suffix("__r") {
            let field = format!("{stem}__c");
            let to = self
                .fields
                .get(object)?
                .iter()
                .find(|f| f.name == field)?
                .reference_to
                .clone()?;
            return Some((to, field));
        }
        match name {
            "Contact" | "Account" | "Lead" | "Case" | "Owner" => {
                Some((name.to_owned(), format!("{name}Id")))
            }
            "Who" => Some(("Lead".into(), "WhoId".into())),
            _ => None,
        }
    }

    /// `describe` of an object, or `None` for a custom object the org lacks.
    pub(super) fn describe(&self, object: &str) -> Option<Value> {
        if !self.has_object(object) {
            return None;
        }
        let standard = |name: &str, kind: &str, length: u64| {
            json!({ "name": name, "label": name, "type": kind, "length": length, "nillable": true,
                    "createable": true, "updateable": true, "externalId": false, "unique": false })
        };
        let mut fields = vec![
            json!({ "name": "Id", "label": "Record ID", "type": "id", "length": 18, "nillable": false, "createable": false, "updateable": false }),
        ];
        if !object.ends_with("__c") {
            fields.push(standard("Phone", "phone", 40));
            fields.push(standard("MobilePhone", "phone", 40));
            fields.push(standard("Description", "textarea", 32000));
        }
        fields.extend(
            self.fields
                .get(object)
                .into_iter()
                .flatten()
                .map(FieldDef::describe),
        );
        Some(
            json!({ "name": object, "label": object, "custom": object.ends_with("__c"), "fields": fields }),
        )
    }
}
