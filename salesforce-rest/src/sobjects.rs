//! sObject calls: create, get, update, delete, upsert by external ID, describe.

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Client, Req};
use crate::error::{ApiErrorItem, Error};
use crate::id::SalesforceId;
use crate::records::{DynamicRecord, SObject};

/// Per-request options for writes.
///
/// ```
/// use salesforce_rest::sobjects::{AutoAssign, WriteOptions};
/// let opts = WriteOptions::new().auto_assign(AutoAssign::Off).allow_duplicates(true);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOptions {
    /// `Sforce-Auto-Assign`: assignment rules for Leads and Cases (Salesforce
    /// runs the default rule on REST unless told otherwise).
    pub auto_assign: Option<AutoAssign>,
    /// `Sforce-Duplicate-Rule-Header: allowSave=true`: save despite duplicate rules.
    pub allow_duplicates: bool,
}

/// Which assignment rule runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AutoAssign {
    /// The active default rule.
    Default,
    /// No assignment rule.
    Off,
    /// A specific rule by id.
    Rule(SalesforceId),
}

impl WriteOptions {
    /// No options: Salesforce's defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the assignment rule behaviour.
    pub fn auto_assign(mut self, a: AutoAssign) -> Self {
        self.auto_assign = Some(a);
        self
    }
    /// Saves despite duplicate rules.
    pub fn allow_duplicates(mut self, allow: bool) -> Self {
        self.allow_duplicates = allow;
        self
    }

    /// The request headers these options set, as `(name, value)` pairs (for
    /// composite subrequests, which carry their own headers).
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers()
            .into_iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect()
    }

    pub(crate) fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let mut h = Vec::new();
        if let Some(a) = &self.auto_assign {
            let v = match a {
                AutoAssign::Default => "TRUE".to_owned(),
                AutoAssign::Off => "FALSE".to_owned(),
                AutoAssign::Rule(id) => id.to_string(),
            };
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.push((HeaderName::from_static("sforce-auto-assign"), v));
            }
        }
        if self.allow_duplicates {
            h.push((
                HeaderName::from_static("sforce-duplicate-rule-header"),
                HeaderValue::from_static("allowSave=true"),
            ));
        }
        h
    }
}

/// The answer to a create.
#[derive(Debug, Clone, Deserialize)]
struct CreateAnswer {
    id: SalesforceId,
}

/// What an upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpsertOutcome {
    /// The record id (absent on API versions before 46.0 for updates).
    pub id: Option<SalesforceId>,
    /// Whether a new record was created (false: an existing one was updated).
    pub created: bool,
}

/// A per-record result of a collections call, in request order.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct SaveResult {
    /// The record id (absent for failed creates).
    #[serde(default)]
    pub id: Option<SalesforceId>,
    /// Whether the record was saved.
    #[serde(default)]
    pub success: bool,
    /// For upserts: whether the record was created.
    #[serde(default)]
    pub created: Option<bool>,
    /// Why the record failed (items use `statusCode`).
    #[serde(default)]
    pub errors: Vec<ApiErrorItem>,
}

/// The parts of an object's describe most integrations need; `raw` has it all.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ObjectDescribe {
    /// API name.
    pub name: String,
    /// Label.
    pub label: String,
    /// The fields.
    pub fields: Vec<FieldDescribe>,
    /// The whole answer.
    pub raw: Value,
}

/// A field of a describe.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct FieldDescribe {
    /// API name.
    #[serde(default)]
    pub name: String,
    /// Label.
    #[serde(default)]
    pub label: String,
    /// Type (`string`, `phone`, `picklist`, `reference`, ...).
    #[serde(default, rename = "type")]
    pub field_type: String,
    /// Maximum length, for text.
    #[serde(default)]
    pub length: u32,
    /// Whether it can be null.
    #[serde(default)]
    pub nillable: bool,
    /// Whether it can be set on create.
    #[serde(default)]
    pub createable: bool,
    /// Whether it can be set on update.
    #[serde(default)]
    pub updateable: bool,
    /// Whether it is an external ID.
    #[serde(default, rename = "externalId")]
    pub external_id: bool,
    /// Whether its values are unique.
    #[serde(default)]
    pub unique: bool,
    /// Picklist values.
    #[serde(default, rename = "picklistValues")]
    pub picklist_values: Vec<PicklistValue>,
}

/// A picklist value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PicklistValue {
    /// The value.
    #[serde(default)]
    pub value: String,
    /// Whether it is active.
    #[serde(default)]
    pub active: bool,
}

/// An object in the global describe.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SObjectSummary {
    /// API name.
    #[serde(default)]
    pub name: String,
    /// Label.
    #[serde(default)]
    pub label: String,
    /// Whether it is a custom object.
    #[serde(default)]
    pub custom: bool,
    /// Whether records can be created.
    #[serde(default)]
    pub createable: bool,
    /// Whether it can be queried.
    #[serde(default)]
    pub queryable: bool,
}

/// Whether a value can travel in a URL path segment unchanged. WhatsApp message
/// ids (`wamid.` + base64) contain `/`, `+` and `=`, which Salesforce does not
/// reliably accept even percent-encoded.
pub(crate) fn path_safe(value: &str) -> bool {
    // `.` and `..` are unreserved characters but path segments of their own:
    // `.../Case/WhatsApp_Message_Id__c/..` would resolve to another URL.
    !value.is_empty()
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

#[cfg(test)]
mod path_tests {
    #[test]
    fn dot_segments_never_travel_in_a_path() {
        assert!(!super::path_safe("."));
        assert!(!super::path_safe(".."));
        assert!(!super::path_safe("a/b"));
        assert!(super::path_safe("..."), "three dots are a plain segment");
        assert!(super::path_safe("wamid.ABC-1_2~"));
    }
}

fn check_name(kind: &str, name: &str) -> Result<(), Error> {
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "{name:?} is not a valid {kind} API name"
        )))
    }
}

impl Client {
    pub(crate) async fn create_bytes(
        &self,
        object: &str,
        body: Vec<u8>,
        opts: &WriteOptions,
    ) -> Result<SalesforceId, Error> {
        check_name("object", object)?;
        let answer = self
            .call(
                Req::new(Method::POST, format!("sobjects/{object}"))
                    .json_bytes(body)
                    .headers(opts.headers()),
            )
            .await?;
        let created: CreateAnswer = answer.json()?;
        tracing::info!(object, record_id = %created.id, "record created");
        Ok(created.id)
    }

    /// Reads a record, with only the chosen fields (all fields when empty).
    pub async fn get<T: SObject>(&self, id: &SalesforceId, fields: &[&str]) -> Result<T, Error> {
        self.get_value(T::API_NAME, id, fields).await?.json()
    }

    /// Reads a record of any object.
    pub async fn get_dynamic(
        &self,
        object: &str,
        id: &SalesforceId,
        fields: &[&str],
    ) -> Result<DynamicRecord, Error> {
        self.get_value(object, id, fields).await?.json()
    }

    async fn get_value(
        &self,
        object: &str,
        id: &SalesforceId,
        fields: &[&str],
    ) -> Result<crate::client::Answer, Error> {
        check_name("object", object)?;
        let mut req = Req::new(Method::GET, format!("sobjects/{object}/{id}"));
        if !fields.is_empty() {
            for f in fields {
                check_name("field", f)?;
            }
            req = req.query("fields", fields.join(","));
        }
        self.call(req).await
    }

    pub(crate) async fn update_value(
        &self,
        object: &str,
        id: &SalesforceId,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<(), Error> {
        check_name("object", object)?;
        self.call(
            Req::new(Method::PATCH, format!("sobjects/{object}/{id}"))
                .json(&body)
                .headers(opts.headers()),
        )
        .await?;
        tracing::info!(object, record_id = %id, "record updated");
        Ok(())
    }

    /// Deletes a record.
    pub async fn delete(&self, object: &str, id: &SalesforceId) -> Result<(), Error> {
        check_name("object", object)?;
        self.call(Req::new(Method::DELETE, format!("sobjects/{object}/{id}")))
            .await?;
        tracing::info!(object, record_id = %id, "record deleted");
        Ok(())
    }

    pub(crate) async fn upsert_value(
        &self,
        object: &str,
        field: &str,
        value: &str,
        mut body: Value,
        opts: &WriteOptions,
    ) -> Result<UpsertOutcome, Error> {
        check_name("object", object)?;
        check_name("field", field)?;
        if value.is_empty() {
            return Err(Error::Config("the external ID value is empty".into()));
        }
        if let Some(map) = body.as_object_mut() {
            map.remove(field);
        }
        if !path_safe(value) {
            return self
                .upsert_via_collection(object, field, value, body, opts)
                .await;
        }
        let answer = self
            .call(
                Req::new(Method::PATCH, format!("sobjects/{object}/{field}/{value}"))
                    .json(&body)
                    .headers(opts.headers()),
            )
            .await?;
        let outcome = match answer.status {
            300 => {
                let records: Vec<String> =
                    serde_json::from_slice::<Vec<String>>(&answer.body).unwrap_or_default();
                return Err(Error::MultipleMatches { records });
            }
            204 => UpsertOutcome {
                id: None,
                created: false,
            },
            status => {
                #[derive(Deserialize)]
                struct A {
                    id: Option<SalesforceId>,
                    #[serde(default)]
                    created: Option<bool>,
                }
                let a: A = answer.json()?;
                UpsertOutcome {
                    id: a.id,
                    created: a.created.unwrap_or(status == 201),
                }
            }
        };
        tracing::info!(object, created = outcome.created, "record upserted");
        Ok(outcome)
    }

    async fn upsert_via_collection(
        &self,
        object: &str,
        field: &str,
        value: &str,
        mut body: Value,
        opts: &WriteOptions,
    ) -> Result<UpsertOutcome, Error> {
        if let Some(map) = body.as_object_mut() {
            map.insert("attributes".into(), serde_json::json!({ "type": object }));
            map.insert(field.into(), Value::String(value.to_owned()));
        }
        let req = Req::new(
            Method::PATCH,
            format!("composite/sobjects/{object}/{field}"),
        )
        .json(&serde_json::json!({ "allOrNone": true, "records": [body] }))
        .headers(opts.headers());
        let results: Vec<SaveResult> = self.call(req).await?.json()?;
        let r = results.into_iter().next().ok_or_else(|| {
            Error::unexpected(200, "the collections upsert returned no result", b"")
        })?;
        if !r.success {
            return Err(crate::error::ApiError {
                http_status: 400,
                errors: r.errors,
            }
            .into());
        }
        tracing::info!(
            object,
            created = r.created.unwrap_or(false),
            "record upserted (collections)"
        );
        Ok(UpsertOutcome {
            id: r.id,
            created: r.created.unwrap_or(false),
        })
    }

    /// Describes an object: fields, types, lengths, picklists.
    pub async fn describe(&self, object: &str) -> Result<ObjectDescribe, Error> {
        check_name("object", object)?;
        let raw: Value = self
            .call(Req::new(Method::GET, format!("sobjects/{object}/describe")))
            .await?
            .json()?;
        #[derive(Deserialize)]
        struct D {
            #[serde(default)]
            name: String,
            #[serde(default)]
            label: String,
            #[serde(default)]
            fields: Vec<FieldDescribe>,
        }
        let d: D = serde_json::from_value(raw.clone())
            .map_err(|e| Error::unexpected(200, format!("unexpected describe shape ({e})"), b""))?;
        Ok(ObjectDescribe {
            name: d.name,
            label: d.label,
            fields: d.fields,
            raw,
        })
    }

    /// Lists the org's objects.
    pub async fn describe_global(&self) -> Result<Vec<SObjectSummary>, Error> {
        #[derive(Deserialize)]
        struct G {
            #[serde(default)]
            sobjects: Vec<SObjectSummary>,
        }
        let g: G = self.call(Req::new(Method::GET, "sobjects")).await?.json()?;
        Ok(g.sobjects)
    }
}

/// Serializes a record straight to JSON bytes, checking that it is an object.
pub(crate) fn to_json_bytes<T: Serialize>(record: &T) -> Result<Vec<u8>, Error> {
    let bytes = serde_json::to_vec(record)
        .map_err(|e| Error::Config(format!("cannot encode the record: {e}")))?;
    if bytes.first() != Some(&b'{') {
        return Err(Error::Config(
            "a record must serialize to a JSON object".into(),
        ));
    }
    Ok(bytes)
}

pub(crate) fn to_json<T: Serialize>(record: &T) -> Result<Value, Error> {
    let v = serde_json::to_value(record)
        .map_err(|e| Error::Config(format!("cannot encode the record: {e}")))?;
    if !v.is_object() {
        return Err(Error::Config(
            "a record must serialize to a JSON object".into(),
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whatsapp_ids_are_not_path_safe() {
        assert!(path_safe("INV-1042"));
        assert!(!path_safe("wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQTdBQjE2/+=="));
        assert!(!path_safe("a b"));
        assert!(!path_safe(""));
        assert!(!path_safe("é"));
    }

    #[test]
    fn write_option_headers() {
        let h = WriteOptions::new()
            .auto_assign(AutoAssign::Off)
            .allow_duplicates(true)
            .headers();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].1, "FALSE");
        assert_eq!(h[1].1, "allowSave=true");
        assert!(WriteOptions::new().headers().is_empty());
    }
}
