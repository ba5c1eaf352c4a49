//! The org's set-up, from code: the key fields on Case, Lead and Contact, the
//! conversation ledger object and its fields (Tooling API), and a permission
//! set granting the integration user access to them. Idempotent: a second
//! run finds everything and changes nothing.

use salesforce_rest::records::DynamicRecord;
use salesforce_rest::soql::Soql;
use salesforce_rest::tooling::{CustomField, CustomObject, FieldKind};
use serde_json::{Value, json};

use super::{SalesforceWriter, api_name};
use crate::error::BridgeError;

/// The permission set `setup` creates and assigns.
pub const PERMISSION_SET: &str = "WhatsApp_Bridge";

/// What [`SalesforceWriter::setup`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetupReport {
    /// What exists as it should (`Case.WhatsApp_Message_Id__c`...).
    pub present: Vec<String>,
    /// What was missing (created, unless it was a check).
    pub missing: Vec<String>,
    /// What this run created.
    pub created: Vec<String>,
    /// What exists but is wrong and must be fixed by hand (a key field that
    /// is not External ID + Unique), with the fix.
    pub wrong: Vec<String>,
}

impl SetupReport {
    /// Whether the org has everything (after this run).
    pub fn is_complete(&self) -> bool {
        self.wrong.is_empty() && self.missing.iter().all(|m| self.created.contains(m))
    }

    /// Whether this run changed the org.
    pub fn changed(&self) -> bool {
        !self.created.is_empty()
    }
}

fn text(object: &str, name: &str, label: &str, length: u32) -> CustomField {
    CustomField::new(object, name, label, FieldKind::Text { length })
}

fn key(object: &str, name: &str, label: &str, length: u32) -> CustomField {
    text(object, name, label, length)
        .external_id(true)
        .unique(true)
}

fn is_duplicate_name(e: &salesforce_rest::Error) -> bool {
    e.code()
        .is_some_and(|c| c.code() == "DUPLICATE_DEVELOPER_NAME")
}

impl SalesforceWriter {
    /// The ledger object `setup` creates.
    pub fn ledger_object(&self) -> CustomObject {
        CustomObject::new(&self.ledger.object, "WhatsApp Message", "WhatsApp Messages").description(
            "One record per WhatsApp message, inbound and outbound (written by the bridge).",
        )
    }

    /// Every custom field the writer needs, in creation order.
    pub fn required_fields(&self) -> Vec<CustomField> {
        let l = &self.ledger;
        let o = l.object.as_str();
        let lookup = |name: &str, label: &str, to: &str| {
            CustomField::new(
                o,
                name,
                label,
                FieldKind::Lookup {
                    to: to.into(),
                    relationship: format!("{}_WhatsApp_Messages", to),
                },
            )
        };
        let picklist = |name: &str, label: &str, values: &[&str]| {
            CustomField::new(
                o,
                name,
                label,
                FieldKind::Picklist(values.iter().map(|v| (*v).to_owned()).collect()),
            )
        };
        let mut f = vec![
            key("Case", &self.case_key_field, "WhatsApp Message Id", 80),
            key("Lead", &self.lead_key_field, "WhatsApp Phone", 40),
            text(
                "Lead",
                &self.first_message_field,
                "WhatsApp First Message Id",
                80,
            ),
        ];
        if let Some(at) = &self.last_message_at_field {
            f.push(CustomField::new(
                "Lead",
                at,
                "WhatsApp Last Message At",
                FieldKind::DateTime,
            ));
        }
        if let Some(opt) = &self.opt_out_field {
            f.push(CustomField::new(
                "Lead",
                opt,
                "WhatsApp Opt Out",
                FieldKind::Checkbox,
            ));
        }
        if let Some(k) = &self.contacts.key_field {
            f.push(key("Contact", k, "WhatsApp Phone", 40));
        }
        f.extend([
            key(o, &l.key, "Message Id", 255),
            picklist(&l.direction, "Direction", &["Inbound", "Outbound"]),
            CustomField::new(o, &l.body, "Body", FieldKind::LongText { length: 32_768 }),
            text(o, &l.kind, "Type", 40),
            text(o, &l.customer_phone, "Customer Phone", 40),
            text(o, &l.business_phone, "Business Phone", 40),
            picklist(
                &l.status,
                "Status",
                &["Received", "Queued", "Sent", "Delivered", "Read", "Failed"],
            ),
            text(o, &l.error_code, "Error Code", 40),
            text(o, &l.error_detail, "Error Detail", 255),
            text(o, &l.template, "Template", 255),
            text(o, &l.whatsapp_id, "WhatsApp Id", 255),
            text(o, &l.tags, "Tags", 255),
            CustomField::new(o, &l.sent_at, "Sent At", FieldKind::DateTime),
            CustomField::new(o, &l.status_at, "Status At", FieldKind::DateTime),
            lookup(&l.case, "Case", "Case"),
            lookup(&l.lead, "Lead", "Lead"),
            lookup(&l.contact, "Contact", "Contact"),
        ]);
        f
    }

    /// Checks, once per process (describes are cached), that the org has the
    /// ledger object and every field the writer needs, with the key fields
    /// External ID + Unique. The error names the first thing missing and
    /// points at `setup` (`webhook_to_case setup` creates everything).
    pub async fn check_setup(&self) -> Result<(), BridgeError> {
        let mut report = self.setup(false).await?;
        // Access may come from a profile instead of the permission set.
        report.missing.retain(|m| !m.starts_with("PermissionSet."));
        let first = report.wrong.first().or_else(|| report.missing.first());
        match first {
            None => Ok(()),
            Some(what) => {
                let (object, field) = what.split_once('.').unwrap_or((what.as_str(), ""));
                Err(BridgeError::Setup {
                    object: object.to_owned(),
                    field: field.to_owned(),
                    problem: format!(
                        "{} ({} thing(s) missing or wrong in all: {}); run `webhook_to_case setup` (or SalesforceWriter::setup) to create them",
                        if report.wrong.first() == Some(what) {
                            "is wrong"
                        } else {
                            "does not exist (or the integration user cannot see it)"
                        },
                        report.missing.len() + report.wrong.len(),
                        report
                            .missing
                            .iter()
                            .chain(&report.wrong)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })
            }
        }
    }

    /// Compares the org with what the writer needs and, with `apply`, creates
    /// what is missing: the ledger object, the fields (Tooling API) and the
    /// `WhatsApp_Bridge` permission set, assigned to the integration user.
    /// A second run changes nothing. Fields that exist with the wrong shape
    /// are reported, never changed.
    pub async fn setup(&self, apply: bool) -> Result<SetupReport, BridgeError> {
        let mut report = SetupReport::default();
        let tooling = self.client.tooling();
        let ledger = self.ledger.object.clone();
        if apply && let Ok(mut d) = self.describes.lock() {
            d.clear();
        }
        let ledger_exists = self.describe_opt(&ledger).await?.is_some();
        if ledger_exists {
            report.present.push(ledger.clone());
        } else {
            report.missing.push(ledger.clone());
            if apply {
                match tooling.create_object(&self.ledger_object()).await {
                    Ok(_) => report.created.push(ledger.clone()),
                    Err(e) if is_duplicate_name(&e) => report.created.push(ledger.clone()),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if apply && let Ok(mut d) = self.describes.lock() {
            d.clear();
        }
        let mut fields_made = false;
        for field in self.required_fields() {
            let name = field.full_name();
            let describe = self.describe_opt(&field.object).await?;
            let found = describe.as_ref().and_then(|d| {
                d.fields
                    .iter()
                    .find(|f| f.name.eq_ignore_ascii_case(&field.api_name))
            });
            match found {
                Some(f) if field.unique && !(f.external_id && f.unique) => report.wrong.push(
                    format!("{name} (mark it External ID and Unique in Setup > Object Manager)"),
                ),
                Some(_) => report.present.push(name),
                None => {
                    report.missing.push(name.clone());
                    if apply {
                        match tooling.create_field(&field).await {
                            Ok(_) => report.created.push(name),
                            // Exists, hidden from this user: the permission set shows it.
                            Err(e) if is_duplicate_name(&e) => report.created.push(name),
                            Err(e) => return Err(e.into()),
                        }
                        fields_made = true;
                    }
                }
            }
        }
        self.permission_set(apply, fields_made, &mut report).await?;
        if apply && let Ok(mut d) = self.describes.lock() {
            d.clear();
        }
        Ok(report)
    }

    /// The (cached) describe of an object; `None` when the org has no such object.
    async fn describe_opt(
        &self,
        object: &str,
    ) -> Result<Option<salesforce_rest::sobjects::ObjectDescribe>, BridgeError> {
        match self.describe(object).await {
            Ok(d) => Ok(Some(d)),
            Err(BridgeError::Salesforce(e)) if e.http_status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The permission set: created with object and field permissions, and
    /// assigned to the integration user, when missing.
    async fn permission_set(
        &self,
        apply: bool,
        fields_made: bool,
        report: &mut SetupReport,
    ) -> Result<(), BridgeError> {
        let label = format!("PermissionSet.{PERMISSION_SET}");
        let soql = Soql::new("SELECT Id FROM PermissionSet WHERE Name = {}")
            .bind(PERMISSION_SET)
            .build()?;
        let existing = self.client.query::<DynamicRecord>(&soql).await?.records;
        let id = match existing.first().and_then(DynamicRecord::id) {
            Some(id) if !fields_made => {
                report.present.push(label.clone());
                id
            }
            Some(id) => id,
            None => {
                report.missing.push(label.clone());
                if !apply {
                    return Ok(());
                }
                let ps = DynamicRecord::new()
                    .set("Name", PERMISSION_SET)
                    .set("Label", "WhatsApp Bridge")
                    .set("Description", "Access to the WhatsApp conversation ledger and key fields (made by setup).");
                let id = self.client.create(&ps).object("PermissionSet").await?;
                report.created.push(label.clone());
                id
            }
        };
        if !apply {
            return Ok(());
        }
        // Grants: object access to the ledger, read/edit on every field.
        let have = Soql::new("SELECT Field FROM FieldPermissions WHERE ParentId = {}")
            .bind(id.as_str())
            .build()?;
        let granted: Vec<String> = self
            .client
            .query::<DynamicRecord>(&have)
            .await?
            .records
            .iter()
            .filter_map(|r| r.get("Field").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let objects = Soql::new("SELECT SobjectType FROM ObjectPermissions WHERE ParentId = {}")
            .bind(id.as_str())
            .build()?;
        let has_object = self
            .client
            .query::<DynamicRecord>(&objects)
            .await?
            .records
            .iter()
            .any(|r| {
                r.get("SobjectType").and_then(Value::as_str) == Some(self.ledger.object.as_str())
            });
        let mut records = Vec::new();
        if !has_object {
            records.push(json!({
                "attributes": { "type": "ObjectPermissions" },
                "ParentId": id.as_str(), "SobjectType": api_name(&self.ledger.object)?,
                "PermissionsRead": true, "PermissionsCreate": true, "PermissionsEdit": true,
                "PermissionsDelete": true,
            }));
        }
        for field in self.required_fields() {
            let name = field.full_name();
            if !granted.iter().any(|g| g.eq_ignore_ascii_case(&name)) {
                records.push(json!({
                    "attributes": { "type": "FieldPermissions" },
                    "ParentId": id.as_str(), "SobjectType": field.object, "Field": name,
                    "PermissionsRead": true, "PermissionsEdit": true,
                }));
            }
        }
        let grants = records.len();
        for chunk in records.chunks(200) {
            let request = salesforce_rest::composite::CompositeRequest::new(false)
                .push(self.collection("POST", "composite/sobjects", "grants", chunk.to_vec()));
            let out = self.client.composite(&request).await?;
            let results = super::entries::save_results(out.first())?;
            if let Some(bad) = results.iter().find(|r| !r.success) {
                tracing::warn!(errors = ?bad.errors, "a permission of the bridge's permission set was refused");
            }
        }
        if grants > 0 {
            report
                .created
                .push(format!("{label} ({grants} permission(s))"));
        }
        // The integration user gets it.
        let me: Value = self
            .client
            .request(
                salesforce_rest::raw::Method::GET,
                "/services/oauth2/userinfo",
            )?
            .send()
            .await?
            .json()?;
        let user = me
            .get("user_id")
            .and_then(Value::as_str)
            .ok_or_else(|| BridgeError::Mapping("userinfo named no user_id".into()))?
            .to_owned();
        let assigned = Soql::new(
            "SELECT Id FROM PermissionSetAssignment WHERE PermissionSetId = {} AND AssigneeId = {}",
        )
        .bind(id.as_str())
        .bind(user.as_str())
        .build()?;
        if self
            .client
            .query::<DynamicRecord>(&assigned)
            .await?
            .records
            .is_empty()
        {
            let a = DynamicRecord::new()
                .set("PermissionSetId", id.as_str())
                .set("AssigneeId", user.as_str());
            self.client
                .create(&a)
                .object("PermissionSetAssignment")
                .await?;
            report
                .created
                .push(format!("{label} assigned to the integration user"));
        }
        Ok(())
    }
}
