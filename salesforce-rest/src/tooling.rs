//! The Tooling API's schema calls: create custom objects and custom fields
//! from code, typed (`Client::tooling()`).
//!
//! Each definition serializes to the `FullName` + `Metadata` body the Tooling
//! API takes (`POST /services/data/vXX.X/tooling/sobjects/CustomField`).
//! Creating something that exists fails with the API's
//! `DUPLICATE_DEVELOPER_NAME`: describe the object first (`Client::describe`)
//! to make a set-up idempotent, as bridge-core's `setup` does.
//!
//! ```no_run
//! # async fn run(client: salesforce_rest::Client) -> Result<(), salesforce_rest::Error> {
//! use salesforce_rest::tooling::{CustomField, CustomObject, FieldKind};
//! let tooling = client.tooling();
//! tooling
//!     .create_object(&CustomObject::new("WhatsApp_Message__c", "WhatsApp Message", "WhatsApp Messages"))
//!     .await?;
//! tooling
//!     .create_field(
//!         &CustomField::new("WhatsApp_Message__c", "Message_Id__c", "Message Id", FieldKind::Text { length: 255 })
//!             .external_id(true)
//!             .unique(true),
//!     )
//!     .await?;
//! # Ok(())
//! # }
//! ```

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::Client;
use crate::error::Error;
use crate::id::SalesforceId;

/// The Tooling API of an org (see the [module](self) docs).
#[derive(Debug, Clone)]
pub struct Tooling {
    client: Client,
}

impl Client {
    /// The Tooling API's schema calls.
    pub fn tooling(&self) -> Tooling {
        Tooling {
            client: self.clone(),
        }
    }
}

/// A custom object to create. Its record name is an auto number.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CustomObject {
    /// The API name, ending in `__c`.
    pub api_name: String,
    /// The label.
    pub label: String,
    /// The plural label.
    pub plural_label: String,
    /// The auto-number format of the record name (`WAM-{0000000}`).
    pub name_format: String,
    /// A description for admins.
    pub description: Option<String>,
}

impl CustomObject {
    /// An object with an auto-numbered name (`<first letters>-{0000000}`).
    pub fn new(
        api_name: impl Into<String>,
        label: impl Into<String>,
        plural_label: impl Into<String>,
    ) -> Self {
        let label = label.into();
        let initials: String = label
            .split_whitespace()
            .filter_map(|w| w.chars().next())
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        Self {
            api_name: api_name.into(),
            name_format: format!(
                "{}-{{0000000}}",
                if initials.is_empty() { "R" } else { &initials }
            ),
            label,
            plural_label: plural_label.into(),
            description: None,
        }
    }

    /// A description for admins.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// The Tooling API body.
    pub fn to_tooling_json(&self) -> Value {
        let mut metadata = json!({
            "label": self.label,
            "pluralLabel": self.plural_label,
            "nameField": { "type": "AutoNumber", "label": format!("{} Number", self.label), "displayFormat": self.name_format },
            "deploymentStatus": "Deployed",
            "sharingModel": "ReadWrite",
        });
        if let Some(d) = &self.description {
            set(&mut metadata, "description", json!(d));
        }
        json!({ "FullName": self.api_name, "Metadata": metadata })
    }
}

/// The type of a custom field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldKind {
    /// Text of at most `length` characters (1 to 255).
    Text {
        /// The longest value.
        length: u32,
    },
    /// Long text (up to 131,072 characters).
    LongText {
        /// The longest value.
        length: u32,
    },
    /// A restricted picklist of these values (the first is not a default).
    Picklist(Vec<String>),
    /// A date and time.
    DateTime,
    /// A checkbox (default unchecked).
    Checkbox,
    /// A lookup to another object; deleting the parent clears it.
    Lookup {
        /// The object it points at (`Case`, `Lead`...).
        to: String,
        /// The relationship name, unique on the parent (`WhatsApp_Messages`).
        relationship: String,
    },
}

/// A custom field to create on a standard or custom object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CustomField {
    /// The object's API name.
    pub object: String,
    /// The field's API name, ending in `__c`.
    pub api_name: String,
    /// The label.
    pub label: String,
    /// The type.
    pub kind: FieldKind,
    /// External ID (indexed, usable as an upsert key).
    pub external_id: bool,
    /// Unique (case-insensitively).
    pub unique: bool,
    /// Help text for users.
    pub help: Option<String>,
}

impl CustomField {
    /// A field on `object`.
    pub fn new(
        object: impl Into<String>,
        api_name: impl Into<String>,
        label: impl Into<String>,
        kind: FieldKind,
    ) -> Self {
        Self {
            object: object.into(),
            api_name: api_name.into(),
            label: label.into(),
            kind,
            external_id: false,
            unique: false,
            help: None,
        }
    }

    /// Marks it an External ID.
    pub fn external_id(mut self, on: bool) -> Self {
        self.external_id = on;
        self
    }

    /// Marks it Unique.
    pub fn unique(mut self, on: bool) -> Self {
        self.unique = on;
        self
    }

    /// Help text.
    pub fn help(mut self, text: impl Into<String>) -> Self {
        self.help = Some(text.into());
        self
    }

    /// `Object.Field__c`.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.object, self.api_name)
    }

    /// The Tooling API body.
    pub fn to_tooling_json(&self) -> Value {
        let mut m = match &self.kind {
            FieldKind::Text { length } => json!({ "type": "Text", "length": length }),
            FieldKind::LongText { length } => {
                json!({ "type": "LongTextArea", "length": length, "visibleLines": 5 })
            }
            FieldKind::Picklist(values) => json!({
                "type": "Picklist",
                "valueSet": {
                    "restricted": true,
                    "valueSetDefinition": {
                        "sorted": false,
                        "value": values.iter().map(|v| json!({ "fullName": v, "label": v, "default": false })).collect::<Vec<_>>(),
                    }
                }
            }),
            FieldKind::DateTime => json!({ "type": "DateTime" }),
            FieldKind::Checkbox => json!({ "type": "Checkbox", "defaultValue": "false" }),
            FieldKind::Lookup { to, relationship } => json!({
                "type": "Lookup",
                "referenceTo": to,
                "relationshipName": relationship,
                "relationshipLabel": relationship.replace('_', " "),
                "deleteConstraint": "SetNull",
            }),
        };
        set(&mut m, "label", json!(self.label));
        if self.external_id {
            set(&mut m, "externalId", json!(true));
        }
        if self.unique {
            set(&mut m, "unique", json!(true));
            set(&mut m, "caseSensitive", json!(false));
        }
        if let Some(h) = &self.help {
            set(&mut m, "inlineHelpText", json!(h));
        }
        json!({ "FullName": self.full_name(), "Metadata": m })
    }
}

/// Sets a key of a JSON object (no-op on anything else).
fn set(v: &mut Value, key: &str, value: Value) {
    if let Value::Object(m) = v {
        m.insert(key.to_owned(), value);
    }
}

impl Tooling {
    /// Creates a custom object; returns the new `CustomObject` id.
    pub async fn create_object(&self, object: &CustomObject) -> Result<SalesforceId, Error> {
        self.create("CustomObject", &object.to_tooling_json()).await
    }

    /// Creates a custom field; returns the new `CustomField` id.
    pub async fn create_field(&self, field: &CustomField) -> Result<SalesforceId, Error> {
        self.create("CustomField", &field.to_tooling_json()).await
    }

    async fn create(&self, kind: &str, body: &Value) -> Result<SalesforceId, Error> {
        let answer = self
            .client
            .request(Method::POST, &format!("tooling/sobjects/{kind}"))?
            .json(body)?
            .send()
            .await?;
        let id = answer
            .json::<Value>()?
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::unexpected(
                    answer.status(),
                    "the Tooling API answered a create with no id",
                    answer.bytes(),
                )
            })?;
        SalesforceId::parse(&id).map_err(|e| Error::Config(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_tooling_shape() {
        let o = CustomObject::new(
            "WhatsApp_Message__c",
            "WhatsApp Message",
            "WhatsApp Messages",
        );
        let v = o.to_tooling_json();
        assert_eq!(v["FullName"], "WhatsApp_Message__c");
        assert_eq!(v["Metadata"]["nameField"]["displayFormat"], "WM-{0000000}");
        assert_eq!(v["Metadata"]["deploymentStatus"], "Deployed");
        let f = CustomField::new(
            "Lead",
            "WhatsApp_Phone__c",
            "WhatsApp Phone",
            FieldKind::Text { length: 40 },
        )
        .external_id(true)
        .unique(true)
        .to_tooling_json();
        assert_eq!(f["FullName"], "Lead.WhatsApp_Phone__c");
        assert_eq!(f["Metadata"]["type"], "Text");
        assert_eq!(f["Metadata"]["externalId"], true);
        assert_eq!(f["Metadata"]["unique"], true);
        let l = CustomField::new(
            "WhatsApp_Message__c",
            "Case__c",
            "Case",
            FieldKind::Lookup {
                to: "Case".into(),
                relationship: "WhatsApp_Messages".into(),
            },
        )
        .to_tooling_json();
        assert_eq!(l["Metadata"]["referenceTo"], "Case");
        assert_eq!(l["Metadata"]["deleteConstraint"], "SetNull");
        let p = CustomField::new(
            "X__c",
            "Y__c",
            "Y",
            FieldKind::Picklist(vec!["A".into(), "B".into()]),
        )
        .to_tooling_json();
        assert_eq!(
            p["Metadata"]["valueSet"]["valueSetDefinition"]["value"][1]["fullName"],
            "B"
        );
    }
}
