//! The mock's management endpoints: phone numbers (with pagination),
//! registration and codes, the two-step PIN, display names, QR codes,
//! conversational components, commerce settings, blocked users, template
//! edits and deletes by id, analytics, and Flows with the business public key.
//! Each keeps state, so a test reads back what it changed.

use serde_json::{Value, json};
use wiremock::{Request, ResponseTemplate};

use super::{
    MOCK_BUSINESS_ACCOUNT_ID, MOCK_PHONE_NUMBER_ID, MockGraph, Router, graph_error, lock,
    multipart_field, phone_number, query, success,
};

/// The code the mock "sends" when a verification code is requested.
pub const MOCK_VERIFICATION_CODE: &str = "123456";

/// What the management endpoints change.
#[derive(Default)]
pub(crate) struct Account {
    extra_numbers: Vec<Value>,
    registered: bool,
    pin: Option<String>,
    code_requested: bool,
    verified: bool,
    new_display_name: Option<String>,
    qr_codes: Vec<Value>,
    conversational: Value,
    commerce: (bool, bool),
    blocked: Vec<String>,
    flows: Vec<Value>,
    public_key: Option<String>,
    sent: u64,
    templates_sent: u64,
}

fn bad(code: i64) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(graph_error(code))
}

fn body_of(req: &Request) -> Value {
    serde_json::from_slice(&req.body).unwrap_or(Value::Null)
}

/// The problems the mock finds in a Flow JSON: it must be an object with a
/// `version` and a non-empty `screens` array.
fn flow_json_problems(json: &str) -> Vec<Value> {
    let problem = |message: &str| {
        json!({"error": "INVALID_PROPERTY_VALUE", "error_type": "FLOW_JSON_ERROR",
               "message": message, "line_start": 1, "line_end": 1, "column_start": 1, "column_end": 1})
    };
    match serde_json::from_str::<Value>(json) {
        Ok(v) if v.is_object() => {
            let mut out = Vec::new();
            if !v["version"].is_string() {
                out.push(problem("the property version is required"));
            }
            if v["screens"].as_array().is_none_or(Vec::is_empty) {
                out.push(problem("at least one screen is required"));
            }
            out
        }
        _ => vec![problem("the Flow JSON is not a JSON object")],
    }
}

impl Router {
    pub(crate) fn count_send(&self, template: bool, _body: &Value) {
        let mut a = lock(&self.state.manage);
        a.sent += 1;
        a.templates_sent += u64::from(template);
    }

    /// Answers a management call, or `None` when the request is another kind.
    pub(crate) fn manage(
        &self,
        m: &str,
        segments: &[&str],
        req: &Request,
    ) -> Option<ResponseTemplate> {
        let phone = MOCK_PHONE_NUMBER_ID;
        let waba = MOCK_BUSINESS_ACCOUNT_ID;
        let answer = match (m, segments) {
            ("GET", [w, "phone_numbers"]) if *w == waba => {
                let mut numbers = vec![phone_number()];
                numbers.extend(lock(&self.state.manage).extra_numbers.iter().cloned());
                self.paged(req, &numbers, u64::MAX)
            }
            ("POST", [p, "register"]) if *p == phone => {
                let pin = body_of(req)["pin"].as_str().map(str::to_owned);
                let mut a = lock(&self.state.manage);
                match (&a.pin, pin) {
                    (Some(set), Some(given)) if *set != given => bad(133_005),
                    (_, Some(given)) => {
                        a.pin = Some(given);
                        a.registered = true;
                        success()
                    }
                    (_, None) => bad(100),
                }
            }
            ("POST", [p, "deregister"]) if *p == phone => {
                lock(&self.state.manage).registered = false;
                success()
            }
            ("POST", [p, "request_code"]) if *p == phone => {
                let b = body_of(req);
                if !matches!(b["code_method"].as_str(), Some("SMS" | "VOICE")) {
                    return Some(bad(100));
                }
                lock(&self.state.manage).code_requested = true;
                success()
            }
            ("POST", [p, "verify_code"]) if *p == phone => {
                let mut a = lock(&self.state.manage);
                if a.code_requested && body_of(req)["code"] == MOCK_VERIFICATION_CODE {
                    a.verified = true;
                    success()
                } else {
                    bad(136_025)
                }
            }
            ("POST", [p]) if *p == phone => {
                let b = body_of(req);
                let mut a = lock(&self.state.manage);
                if let Some(pin) = b["pin"].as_str() {
                    a.pin = Some(pin.to_owned());
                }
                if let Some(name) = b["new_display_name"].as_str() {
                    a.new_display_name = Some(name.to_owned());
                }
                success()
            }
            ("GET", [p]) if *p == phone => {
                let fields = query(req, "fields").unwrap_or_default();
                let a = lock(&self.state.manage);
                let mut out = phone_number();
                if fields.contains("conversational_automation") {
                    out["conversational_automation"] = a.conversational.clone();
                }
                if let Some(name) = &a.new_display_name {
                    out["new_display_name"] = json!(name);
                    out["new_name_status"] = json!("PENDING_REVIEW");
                } else {
                    out["new_name_status"] = json!("NONE");
                }
                ResponseTemplate::new(200).set_body_json(out)
            }
            ("POST", [p, "message_qrdls"]) if *p == phone => self.qr_upsert(req),
            ("GET", [p, "message_qrdls"]) if *p == phone => {
                let codes = lock(&self.state.manage).qr_codes.clone();
                self.paged(req, &codes, u64::MAX)
            }
            ("GET", [p, "message_qrdls", code]) if *p == phone => {
                let a = lock(&self.state.manage);
                let found: Vec<&Value> = a.qr_codes.iter().filter(|q| q["code"] == *code).collect();
                if found.is_empty() {
                    bad(100)
                } else {
                    ResponseTemplate::new(200).set_body_json(json!({ "data": found }))
                }
            }
            ("DELETE", [p, "message_qrdls", code]) if *p == phone => {
                let mut a = lock(&self.state.manage);
                let before = a.qr_codes.len();
                a.qr_codes.retain(|q| q["code"] != *code);
                if a.qr_codes.len() == before {
                    bad(100)
                } else {
                    success()
                }
            }
            ("POST", [p, "conversational_automation"]) if *p == phone => {
                let mut a = lock(&self.state.manage);
                if !a.conversational.is_object() {
                    a.conversational = json!({});
                }
                if let Value::Object(update) = body_of(req) {
                    for (k, v) in update {
                        a.conversational[k] = v;
                    }
                }
                success()
            }
            ("GET", [p, "whatsapp_commerce_settings"]) if *p == phone => {
                let (cart, catalog) = lock(&self.state.manage).commerce;
                ResponseTemplate::new(200).set_body_json(json!({"data": [
                    {"is_cart_enabled": cart, "is_catalog_visible": catalog, "id": "commerce-1"}
                ]}))
            }
            ("POST", [p, "whatsapp_commerce_settings"]) if *p == phone => {
                let flag = |k| query(req, k).map(|v| v == "true");
                let mut a = lock(&self.state.manage);
                if let Some(cart) = flag("is_cart_enabled") {
                    a.commerce.0 = cart;
                }
                if let Some(catalog) = flag("is_catalog_visible") {
                    a.commerce.1 = catalog;
                }
                success()
            }
            ("POST" | "DELETE", [p, "block_users"]) if *p == phone => self.block(m == "POST", req),
            ("GET", [p, "block_users"]) if *p == phone => {
                let blocked: Vec<Value> = lock(&self.state.manage)
                    .blocked
                    .iter()
                    .map(
                        |w| json!({"block_users": [{"messaging_product": "whatsapp", "wa_id": w}]}),
                    )
                    .collect();
                self.paged(req, &blocked, u64::MAX)
            }
            ("GET", [w]) if *w == waba => self.analytics(req),
            ("POST", [w, "flows"]) if *w == waba => self.create_flow(req),
            ("GET", [w, "flows"]) if *w == waba => {
                let flows = lock(&self.state.manage).flows.clone();
                self.paged(req, &flows, u64::MAX)
            }
            ("POST", [p, "whatsapp_business_encryption"]) if *p == phone => {
                let body = String::from_utf8_lossy(&req.body);
                let key = url::form_urlencoded::parse(body.as_bytes())
                    .find(|(k, _)| k == "business_public_key")
                    .map(|(_, v)| v.into_owned());
                match key {
                    Some(k) if k.contains("BEGIN PUBLIC KEY") => {
                        lock(&self.state.manage).public_key = Some(k);
                        success()
                    }
                    _ => bad(100),
                }
            }
            ("GET", [p, "whatsapp_business_encryption"]) if *p == phone => {
                let key = lock(&self.state.manage).public_key.clone();
                let data = key.map(|k| vec![json!({"business_public_key": k, "business_public_key_signature_status": "VALID"})]);
                ResponseTemplate::new(200)
                    .set_body_json(json!({ "data": data.unwrap_or_default() }))
            }
            (_, [id, rest @ ..]) if self.is_flow(id) => self.flow_call(m, id, rest, req),
            ("POST", [id]) if self.edit_template(id, req) => success(),
            ("DELETE", [w, "message_templates"])
                if *w == waba && query(req, "hsm_id").is_some() =>
            {
                let id = query(req, "hsm_id").unwrap_or_default();
                let name = query(req, "name").unwrap_or_default();
                let mut templates = lock(&self.state.templates);
                let before = templates.len();
                templates.retain(|t| !(t["id"] == json!(id) && t["name"] == json!(name)));
                if templates.len() == before {
                    bad(100)
                } else {
                    success()
                }
            }
            _ => return None,
        };
        Some(answer)
    }

    fn qr_upsert(&self, req: &Request) -> ResponseTemplate {
        let b = body_of(req);
        let Some(message) = b["prefilled_message"].as_str() else {
            return bad(100);
        };
        let mut a = lock(&self.state.manage);
        if let Some(code) = b["code"].as_str() {
            let Some(q) = a.qr_codes.iter_mut().find(|q| q["code"] == code) else {
                return bad(100);
            };
            q["prefilled_message"] = json!(message);
            return ResponseTemplate::new(200).set_body_json(q.clone());
        }
        let code = format!("MOCKQR{}", a.qr_codes.len() + 1);
        let format = b["generate_qr_image"]
            .as_str()
            .unwrap_or("PNG")
            .to_ascii_lowercase();
        let qr = json!({
            "code": code,
            "prefilled_message": message,
            "deep_link_url": format!("https://wa.me/message/{code}"),
            "qr_image_url": format!("{}/qr/{code}.{format}", self.base),
        });
        a.qr_codes.push(qr.clone());
        ResponseTemplate::new(200).set_body_json(qr)
    }

    /// Blocks or unblocks: a user fails (139100) unless it is 5 to 15 digits.
    fn block(&self, block: bool, req: &Request) -> ResponseTemplate {
        let b = body_of(req);
        let Some(users) = b["block_users"].as_array() else {
            return bad(100);
        };
        let mut a = lock(&self.state.manage);
        let (mut done, mut failed) = (Vec::new(), Vec::new());
        for u in users {
            let input = u["user"].as_str().unwrap_or_default();
            let wa_id: String = input.chars().filter(char::is_ascii_digit).collect();
            if !(5..=15).contains(&wa_id.len()) {
                failed.push(json!({"input": input, "errors": [{"code": 139_100, "message": "Failed to block/unblock users"}]}));
                continue;
            }
            if block {
                if !a.blocked.contains(&wa_id) {
                    a.blocked.push(wa_id.clone());
                }
            } else {
                a.blocked.retain(|w| *w != wa_id);
            }
            done.push(json!({"input": input, "wa_id": wa_id}));
        }
        let key = if block {
            "added_users"
        } else {
            "removed_users"
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "block_users": { key: done, "failed_users": failed }
        }))
    }

    /// Analytics from what the mock accepted: one data point over the range.
    fn analytics(&self, req: &Request) -> ResponseTemplate {
        let fields = query(req, "fields").unwrap_or_default();
        let arg = |name: &str| {
            let start = fields.find(&format!(".{name}("))? + name.len() + 2;
            let end = start + fields.get(start..)?.find(')')?;
            fields.get(start..end).map(str::to_owned)
        };
        let (Some(start), Some(end)) = (arg("start"), arg("end")) else {
            return bad(100);
        };
        let (start, end): (i64, i64) = (start.parse().unwrap_or(0), end.parse().unwrap_or(0));
        let a = lock(&self.state.manage);
        let mut out = json!({ "id": MOCK_BUSINESS_ACCOUNT_ID });
        if fields.starts_with("analytics.") {
            out["analytics"] = json!({
                "phone_numbers": ["15550001111"],
                "granularity": arg("granularity"),
                "data_points": [{"start": start, "end": end, "sent": a.sent, "delivered": a.sent}],
            });
        } else if fields.starts_with("pricing_analytics.")
            || fields.starts_with("conversation_analytics.")
        {
            let key = fields.split('.').next().unwrap_or_default().to_owned();
            let mut point = json!({"start": start, "end": end, "cost": 0.0});
            if key == "pricing_analytics" {
                point["volume"] = json!(a.templates_sent);
            } else {
                point["conversation"] = json!(a.sent);
            }
            if fields.contains("PRICING_CATEGORY") {
                point["pricing_category"] = json!("UTILITY");
            }
            out[key] = json!({ "data": [{ "data_points": [point] }] });
        } else {
            return bad(100);
        }
        ResponseTemplate::new(200).set_body_json(out)
    }

    fn edit_template(&self, id: &str, req: &Request) -> bool {
        let b = body_of(req);
        let mut templates = lock(&self.state.templates);
        let Some(t) = templates.iter_mut().find(|t| t["id"] == id) else {
            return false;
        };
        if let Some(components) = b.get("components") {
            t["components"] = components.clone();
        }
        if let Some(category) = b.get("category") {
            t["category"] = category.clone();
        }
        // An edited template goes back into review.
        t["status"] = json!("PENDING");
        true
    }

    fn is_flow(&self, id: &str) -> bool {
        lock(&self.state.manage).flows.iter().any(|f| f["id"] == id)
    }

    fn create_flow(&self, req: &Request) -> ResponseTemplate {
        let b = body_of(req);
        let (Some(name), Some(categories)) = (b["name"].as_str(), b["categories"].as_array())
        else {
            return bad(100);
        };
        if categories.is_empty() {
            return bad(100);
        }
        let mut a = lock(&self.state.manage);
        if a.flows.iter().any(|f| f["name"] == name) {
            return bad(139_001);
        }
        let id = format!("{}", 7_000_000 + a.flows.len() + 1);
        let problems = b["flow_json"]
            .as_str()
            .map(flow_json_problems)
            .unwrap_or_default();
        let publish = b["publish"] == true && b["flow_json"].is_string() && problems.is_empty();
        a.flows.push(json!({
            "id": id, "name": name, "categories": categories,
            "status": if publish { "PUBLISHED" } else { "DRAFT" },
            "validation_errors": problems, "json_version": "6.0",
            "endpoint_uri": b["endpoint_uri"], "flow_json": b["flow_json"],
        }));
        ResponseTemplate::new(200)
            .set_body_json(json!({"id": id, "success": true, "validation_errors": problems}))
    }

    fn flow_call(&self, m: &str, id: &str, rest: &[&str], req: &Request) -> ResponseTemplate {
        let mut a = lock(&self.state.manage);
        let Some(i) = a.flows.iter().position(|f| f["id"] == id) else {
            return bad(100);
        };
        let status = a.flows[i]["status"].as_str().unwrap_or_default().to_owned();
        match (m, rest) {
            ("GET", []) => {
                let fields = query(req, "fields").unwrap_or_default();
                let mut flow = a.flows[i].clone();
                if let Some(map) = flow.as_object_mut() {
                    map.remove("flow_json");
                }
                if fields.starts_with("preview") {
                    let n = a.flows[i]["preview_n"].as_u64().unwrap_or(1)
                        + u64::from(fields.contains("invalidate(true)"));
                    a.flows[i]["preview_n"] = json!(n);
                    return ResponseTemplate::new(200).set_body_json(json!({"id": id, "preview": {
                        "preview_url": format!("https://business.facebook.com/wa/manage/flows/{id}/preview/?token=mock{n}"),
                        "expires_at": "2026-12-29T00:00:00+0000"
                    }}));
                }
                if fields.starts_with("metric.") {
                    let name = fields
                        .split("name(")
                        .nth(1)
                        .and_then(|r| r.split(')').next())
                        .unwrap_or_default();
                    return ResponseTemplate::new(200).set_body_json(json!({"id": id, "metric": {
                        "name": name, "granularity": "DAY",
                        "data_points": [{"timestamp": "2026-11-01T07:00:00+0000", "data": [{"key": "value", "value": 0}]}]
                    }}));
                }
                ResponseTemplate::new(200).set_body_json(flow)
            }
            ("POST", []) => {
                let b = body_of(req);
                for key in ["name", "categories", "endpoint_uri"] {
                    if let Some(v) = b.get(key) {
                        a.flows[i][key] = v.clone();
                    }
                }
                success()
            }
            ("POST", ["assets"]) if status == "DRAFT" => {
                let text = String::from_utf8_lossy(&req.body);
                if multipart_field(&req.body, "asset_type").as_deref() != Some("FLOW_JSON") {
                    return bad(100);
                }
                // The file part is the JSON object between the part headers and the boundary.
                let json = text
                    .find("application/json")
                    .and_then(|at| text.get(at..))
                    .and_then(|r| r.find("\r\n\r\n").and_then(|s| r.get(s + 4..)))
                    .and_then(|r| r.find("\r\n--").and_then(|e| r.get(..e)))
                    .unwrap_or_default()
                    .to_owned();
                let problems = flow_json_problems(&json);
                a.flows[i]["flow_json"] = json!(json);
                a.flows[i]["validation_errors"] = json!(problems);
                ResponseTemplate::new(200)
                    .set_body_json(json!({"success": true, "validation_errors": problems}))
            }
            ("POST", ["publish"]) if status == "DRAFT" => {
                if a.flows[i]["validation_errors"]
                    .as_array()
                    .is_some_and(|v| !v.is_empty())
                    || !a.flows[i]["flow_json"].is_string()
                {
                    return bad(139_002);
                }
                a.flows[i]["status"] = json!("PUBLISHED");
                success()
            }
            ("POST", ["deprecate"]) if status == "PUBLISHED" => {
                a.flows[i]["status"] = json!("DEPRECATED");
                success()
            }
            ("DELETE", []) if status == "DRAFT" => {
                a.flows.remove(i);
                success()
            }
            // Publishing, editing or deleting in the wrong state.
            _ => bad(139_002),
        }
    }
}

impl MockGraph {
    /// Adds another phone number to the business account's listing.
    pub fn add_phone_number(&self, id: &str, display: &str) {
        lock(&self.state.manage).extra_numbers.push(json!({
            "id": id, "display_phone_number": display, "verified_name": "Mock Store",
            "quality_rating": "GREEN", "code_verification_status": "VERIFIED", "platform_type": "CLOUD_API",
        }));
    }

    /// Whether the number is registered, and its two-step PIN.
    pub fn registration(&self) -> (bool, Option<String>) {
        let a = lock(&self.state.manage);
        (a.registered, a.pin.clone())
    }

    /// Whether the number was verified with [`MOCK_VERIFICATION_CODE`].
    pub fn verified(&self) -> bool {
        lock(&self.state.manage).verified
    }

    /// The wa_ids on the block list.
    pub fn blocked_users(&self) -> Vec<String> {
        lock(&self.state.manage).blocked.clone()
    }

    /// The Flows as the mock holds them (with their `flow_json`).
    pub fn flows(&self) -> Vec<Value> {
        lock(&self.state.manage).flows.clone()
    }
}
