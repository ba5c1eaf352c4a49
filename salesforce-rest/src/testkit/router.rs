//! The mock org's REST router. Every REST resource answers through
//! [`Router::rest`], which takes a plain [`Call`] and gives a plain [`Answer`],
//! so a composite subrequest runs exactly the code a direct call runs.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Map, Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

use super::soql::MiniSoql;
use super::state::{State, WriteError, lock};

pub(super) struct Router {
    pub(super) state: std::sync::Arc<State>,
    pub(super) base: String,
    pub(super) version: String,
}

/// One REST call, from the wire or from a composite subrequest.
struct Call<'a> {
    method: String,
    /// The path after `/services/data/vXX.X/`.
    path: String,
    query: Vec<(String, String)>,
    /// Lower-case header names.
    headers: HashMap<String, String>,
    body: Value,
    /// The raw request, for multipart uploads (never inside composite).
    raw: Option<&'a Request>,
}

impl Call<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A REST answer.
struct Answer {
    status: u16,
    body: Option<Value>,
}

impl Answer {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
        }
    }

    fn empty(status: u16) -> Self {
        Self { status, body: None }
    }

    fn error(status: u16, code: &str, message: &str) -> Self {
        Self::json(
            status,
            json!([{ "message": message, "errorCode": code, "fields": [] }]),
        )
    }

    fn not_found() -> Self {
        Self::error(404, "NOT_FOUND", "The requested resource does not exist")
    }

    fn template(self) -> ResponseTemplate {
        let t = ResponseTemplate::new(self.status);
        match self.body {
            Some(b) => t.set_body_json(b),
            None => t,
        }
    }
}

impl From<WriteError> for Answer {
    fn from(e: WriteError) -> Self {
        Self::json(e.status, e.array())
    }
}

pub(super) fn errors(status: u16, code: &str, message: &str) -> ResponseTemplate {
    Answer::error(status, code, message).template()
}

pub(super) fn oauth_error(error: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(400)
        .set_body_json(json!({ "error": error, "error_description": description }))
}

pub(super) fn form(req: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}

impl Respond for Router {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut answer = self.route(req);
        // A write that Salesforce commits but whose answer is lost (a 503 from
        // a proxy, a timeout): the change stays, the caller sees a failure.
        let writes = req.method.as_str() != "GET" && req.url.path().starts_with("/services/data/");
        if writes && let Some((failure, n, seen)) = lock(&self.state.fail_every).as_mut() {
            *seen += 1;
            if *seen % (*n).max(1) == 0 {
                answer = failure.response();
            }
        }
        if writes {
            let mut slot = lock(&self.state.fail_after_commit);
            if let Some((failure, left)) = slot.as_mut() {
                answer = failure.response();
                *left -= 1;
                if *left == 0 {
                    *slot = None;
                }
            }
        }
        match self.state.latency_ms.load(Ordering::SeqCst) {
            0 => answer,
            ms => answer.set_delay(Duration::from_millis(ms)),
        }
    }
}

impl Router {
    fn route(&self, req: &Request) -> ResponseTemplate {
        let path = req.url.path().to_owned();
        if path == "/services/oauth2/token" {
            return self.token(req);
        }
        if path == "/services/oauth2/revoke" {
            let form = form(req);
            if let Some(t) = form.get("token") {
                lock(&self.state.refresh_tokens).remove(t);
                lock(&self.state.access_tokens).remove(t);
            }
            return ResponseTemplate::new(200);
        }
        if path == "/services/oauth2/introspect" {
            let form = form(req);
            let active = form
                .get("token")
                .is_some_and(|t| lock(&self.state.access_tokens).contains(t));
            return ResponseTemplate::new(200).set_body_json(
                json!({ "active": active, "exp": chrono::Utc::now().timestamp() + 7200 }),
            );
        }
        if path == "/services/oauth2/userinfo" {
            let token = req
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            if !token.is_some_and(|t| lock(&self.state.access_tokens).contains(t)) {
                return errors(403, "Bad_OAuth_Token", "Bad_OAuth_Token");
            }
            return ResponseTemplate::new(200).set_body_json(json!({
                "sub": format!("{}/id/00D000000000001EAA/005000000000001AAA", self.base),
                "user_id": "005000000000001AAA",
                "organization_id": "00D000000000001EAA",
                "preferred_username": "integration@example.com",
                "urls": {}
            }));
        }
        if path == "/services/data" || path == "/services/data/" {
            return ResponseTemplate::new(200).set_body_json(json!([
                { "label": "Spring '26", "url": "/services/data/v66.0", "version": "66.0" },
                { "label": "Summer '26", "url": "/services/data/v67.0", "version": "67.0" },
            ]));
        }
        let authorized = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| lock(&self.state.access_tokens).contains(t));
        if !authorized {
            return errors(401, "INVALID_SESSION_ID", "Session expired or invalid");
        }
        let prefix = format!("/services/data/v{}/", self.version);
        let Some(rest) = path.strip_prefix(&prefix) else {
            return errors(404, "NOT_FOUND", "The requested resource does not exist");
        };
        let calls = self.state.api_calls.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(id) = rest
            .strip_prefix("sobjects/ContentVersion/")
            .and_then(|r| r.strip_suffix("/VersionData"))
            && req.method.as_str() == "GET"
        {
            return match lock(&self.state.files).get(id) {
                Some(bytes) => ResponseTemplate::new(200)
                    .set_body_raw(bytes.to_vec(), "application/octet-stream"),
                None => errors(404, "NOT_FOUND", "The requested resource does not exist"),
            }
            .insert_header(
                "Sforce-Limit-Info",
                format!("api-usage={calls}/15000").as_str(),
            );
        }
        if rest.starts_with("jobs/") {
            return self.bulk(req, rest).insert_header(
                "Sforce-Limit-Info",
                format!("api-usage={calls}/15000").as_str(),
            );
        }
        let call = Call {
            method: req.method.as_str().to_owned(),
            path: rest.to_owned(),
            query: req.url.query_pairs().into_owned().collect(),
            headers: req
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            body: serde_json::from_slice(&req.body).unwrap_or(Value::Null),
            raw: Some(req),
        };
        self.rest(&call).template().insert_header(
            "Sforce-Limit-Info",
            format!("api-usage={calls}/15000").as_str(),
        )
    }

    fn rest(&self, call: &Call<'_>) -> Answer {
        let segs: Vec<&str> = call.path.split('/').filter(|s| !s.is_empty()).collect();
        let state = &self.state;
        let fields = || match &call.body {
            Value::Object(m) => Some(m.clone()),
            _ => None,
        };
        match (call.method.as_str(), segs.as_slice()) {
            ("POST", ["sobjects", "ContentVersion"]) if call.raw.is_some_and(is_multipart) => call
                .raw
                .map_or_else(Answer::not_found, |r| self.content_version(r)),
            ("POST", ["sobjects", object]) => {
                let Some(fields) = fields() else {
                    return Answer::error(400, "JSON_PARSER_ERROR", "bad body");
                };
                match state.create(object, fields) {
                    Ok(id) => Answer::json(201, json!({ "id": id, "success": true, "errors": [] })),
                    Err(e) => e.into(),
                }
            }
            ("GET", ["sobjects", object, "describe"]) => match lock(&state.schema).describe(object)
            {
                Some(d) => Answer::json(200, d),
                None => Answer::error(
                    404,
                    "NOT_FOUND",
                    &format!("The requested resource does not exist: {object}"),
                ),
            },
            (
                "POST",
                [
                    "tooling",
                    "sobjects",
                    kind @ ("CustomObject" | "CustomField"),
                ],
            ) => self.tooling_create(kind, &call.body),
            ("GET", ["sobjects"]) => Answer::json(
                200,
                json!({ "sobjects": [
                    { "name": "Lead", "label": "Lead", "custom": false, "createable": true, "queryable": true },
                    { "name": "Case", "label": "Case", "custom": false, "createable": true, "queryable": true },
                ] }),
            ),
            ("GET", ["sobjects", object, id]) => match state.find(object, id) {
                Some(r) => Answer::json(200, self.shaped(object, r, call.param("fields"))),
                None => Answer::not_found(),
            },
            ("GET", ["sobjects", object, field, value]) => {
                let found = lock(&state.records).get(*object).and_then(|rows| {
                    rows.iter()
                        .find(|r| r.get(*field).and_then(Value::as_str) == Some(*value))
                        .cloned()
                });
                match found {
                    Some(r) => Answer::json(200, self.shaped(object, r, call.param("fields"))),
                    None => Answer::not_found(),
                }
            }
            ("PATCH", ["sobjects", object, id]) => {
                let Some(fields) = fields() else {
                    return Answer::error(400, "JSON_PARSER_ERROR", "bad body");
                };
                let since = call.headers.get("if-unmodified-since").map(String::as_str);
                match state.update(object, id, fields, since) {
                    Ok(()) => Answer::empty(204),
                    Err(e) => e.into(),
                }
            }
            ("DELETE", ["sobjects", object, id]) => {
                if state.delete(Some(object), id) {
                    Answer::empty(204)
                } else {
                    Answer::error(404, "ENTITY_IS_DELETED", "entity is deleted")
                }
            }
            ("PATCH", ["sobjects", object, field, value]) => {
                let Some(fields) = fields() else {
                    return Answer::error(400, "JSON_PARSER_ERROR", "bad body");
                };
                match state.upsert(object, field, value, fields) {
                    Ok((300, ids)) => Answer::json(300, self.urls(object, &ids)),
                    Ok((status, body)) => Answer::json(status, body),
                    Err(e) => e.into(),
                }
            }
            (_, ["composite", "sobjects", ..]) => self.collections(call, &segs),
            ("POST", ["composite"]) => self.composite(&call.body),
            ("GET", ["query" | "queryAll", locator]) => self.page(locator),
            ("GET", ["query" | "queryAll"]) => self.query(call.param("q").unwrap_or("")),
            ("GET", ["search"]) => self.search(call.param("q").unwrap_or("")),
            ("GET", ["limits"]) => Answer::json(
                200,
                json!({
                    "DailyApiRequests": { "Max": 15000, "Remaining": 15000 - state.api_calls.load(Ordering::SeqCst) as i64 },
                    "DataStorageMB": { "Max": 5, "Remaining": 5 }
                }),
            ),
            _ => Answer::not_found(),
        }
    }

    /// A record as `GET /sobjects/...` returns it, limited to `fields`.
    fn shaped(&self, object: &str, mut r: Map<String, Value>, fields: Option<&str>) -> Value {
        if let Some(fields) = fields {
            let keep: Vec<&str> = fields.split(',').map(str::trim).collect();
            r.retain(|k, _| k == "Id" || keep.contains(&k.as_str()));
        }
        let id = r.get("Id").and_then(Value::as_str).unwrap_or("").to_owned();
        r.insert(
            "attributes".into(),
            json!({ "type": object, "url": format!("/services/data/v{}/sobjects/{object}/{id}", self.version) }),
        );
        Value::Object(r)
    }

    fn urls(&self, object: &str, ids: &Value) -> Value {
        let list: Vec<String> = ids
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|id| format!("/services/data/v{}/sobjects/{object}/{id}", self.version))
            .collect();
        json!(list)
    }

    /// Tooling API: a custom object or field joins the schema (describes,
    /// unique keys, relationships), as a deployment does.
    fn tooling_create(&self, kind: &str, body: &Value) -> Answer {
        let Some(full_name) = body["FullName"].as_str() else {
            return Answer::error(400, "REQUIRED_FIELD_MISSING", "FullName is required");
        };
        let mut schema = lock(&self.state.schema);
        let n = self.state.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let id = |prefix: &str| {
            crate::SalesforceId::parse(&format!("{prefix}{n:012}"))
                .map(|i| i.to_string())
                .unwrap_or_default()
        };
        let duplicate = || {
            Answer::error(
                400,
                "DUPLICATE_DEVELOPER_NAME",
                &format!("{full_name} already exists"),
            )
        };
        if kind == "CustomObject" {
            if schema.has_object(full_name) {
                return duplicate();
            }
            schema.objects.push(full_name.to_owned());
            return Answer::json(
                201,
                json!({ "id": id("01I"), "success": true, "errors": [] }),
            );
        }
        let Some((object, field)) = full_name.split_once('.') else {
            return Answer::error(400, "INVALID_FIELD", "FullName must be Object.Field__c");
        };
        if !schema.has_object(object) {
            return Answer::error(400, "INVALID_TYPE", &format!("no such object: {object}"));
        }
        let fields = schema.fields.entry(object.to_owned()).or_default();
        if fields.iter().any(|f| f.name == field) {
            return duplicate();
        }
        fields.push(super::schema::FieldDef::from_tooling(
            field,
            &body["Metadata"],
        ));
        Answer::json(
            201,
            json!({ "id": id("00N"), "success": true, "errors": [] }),
        )
    }

    /// sObject Collections: create, update, upsert on an external id, delete.
    fn collections(&self, call: &Call<'_>, segs: &[&str]) -> Answer {
        let state = &self.state;
        let records = call.body["records"].as_array().cloned().unwrap_or_default();
        if records.len() > 200 {
            return Answer::error(400, "EXCEEDED_ID_LIMIT", "record limit exceeded");
        }
        let typed = |r: &Value| r["attributes"]["type"].as_str().unwrap_or("").to_owned();
        let out: Vec<Value> = match (call.method.as_str(), segs) {
            ("POST", ["composite", "sobjects"]) => records
                .into_iter()
                .map(|r| {
                    let object = typed(&r);
                    let Value::Object(fields) = r else {
                        return WriteError::bad_body().item();
                    };
                    match state.create(&object, fields) {
                        Ok(id) => json!({ "id": id, "success": true, "errors": [] }),
                        Err(e) => e.item(),
                    }
                })
                .collect(),
            ("PATCH", ["composite", "sobjects"]) => records
                .into_iter()
                .map(|r| {
                    let object = typed(&r);
                    let id = r["id"].as_str().unwrap_or("").to_owned();
                    let Value::Object(mut fields) = r else {
                        return WriteError::bad_body().item();
                    };
                    fields.remove("id");
                    match state.update(&object, &id, fields, None) {
                        Ok(()) => json!({ "id": id, "success": true, "errors": [] }),
                        Err(e) => e.item(),
                    }
                })
                .collect(),
            ("PATCH", ["composite", "sobjects", object, field]) => records
                .into_iter()
                .map(|r| {
                    let value = r[*field].as_str().unwrap_or("").to_owned();
                    let Value::Object(fields) = r else {
                        return WriteError::bad_body().item();
                    };
                    match state.upsert(object, field, &value, fields) {
                        Ok((300, _)) => json!({ "success": false, "errors": [{ "statusCode": "DUPLICATE_EXTERNAL_ID", "message": "more than one record matches", "fields": [field] }] }),
                        Ok((_, mut result)) => {
                            result["success"] = json!(true);
                            result
                        }
                        Err(e) => e.item(),
                    }
                })
                .collect(),
            ("DELETE", ["composite", "sobjects"]) => {
                let ids = call.param("ids").unwrap_or("").to_owned();
                ids.split(',')
                    .map(|id| {
                        if state.delete(None, id) {
                            json!({ "id": id, "success": true, "errors": [] })
                        } else {
                            json!({ "id": id, "success": false, "errors": [{ "statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": [] }] })
                        }
                    })
                    .collect()
            }
            _ => return Answer::not_found(),
        };
        Answer::json(200, Value::Array(out))
    }

    /// A `ContentVersion` uploaded as multipart: its metadata, its size, its
    /// extension, a new `ContentDocumentId` and its bytes are stored (served
    /// back at `ContentVersion/{id}/VersionData`).
    fn content_version(&self, req: &Request) -> Answer {
        let parts = multipart_parts(req);
        let entity = parts.iter().find(|(n, _)| n == "entity_content");
        let data = parts.iter().find(|(n, _)| n == "VersionData");
        let (Some((_, entity)), Some((_, data))) = (entity, data) else {
            return Answer::error(
                400,
                "INVALID_MULTIPART_REQUEST",
                "entity_content and VersionData are required",
            );
        };
        let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(entity) else {
            return Answer::error(
                400,
                "JSON_PARSER_ERROR",
                "entity_content is not a JSON object",
            );
        };
        let n = self.state.counter.fetch_add(1, Ordering::SeqCst) + 1;
        fields.insert(
            "ContentDocumentId".into(),
            json!(
                crate::SalesforceId::parse(&format!("069{n:012}"))
                    .map(|i| i.to_string())
                    .unwrap_or_default()
            ),
        );
        fields.insert("ContentSize".into(), json!(data.len()));
        fields.insert("IsLatest".into(), json!(true));
        if let Some(ext) = fields
            .get("PathOnClient")
            .and_then(Value::as_str)
            .and_then(|p| p.rsplit_once('.'))
            .map(|(_, ext)| ext.to_ascii_lowercase())
        {
            fields.insert("FileExtension".into(), json!(ext));
        }
        let id = self.state.insert("ContentVersion", fields);
        lock(&self.state.files).insert(id.clone(), bytes::Bytes::from(data.clone()));
        Answer::json(201, json!({ "id": id, "success": true, "errors": [] }))
    }

    /// Composite: subrequests in order, references resolved in their URL and
    /// body, dependents of a failure halted, everything rolled back on a
    /// failure when `allOrNone` is set. The limits of the real resource hold:
    /// at most 25 subrequests, at most 5 of them queries or collections.
    fn composite(&self, body: &Value) -> Answer {
        let subs = body["compositeRequest"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let all_or_none = body["allOrNone"].as_bool().unwrap_or(false);
        let heavy = subs
            .iter()
            .filter(|s| {
                let url = s["url"].as_str().unwrap_or("");
                url.contains("/composite/sobjects") || url.contains("/query")
            })
            .count();
        if subs.is_empty() || subs.len() > 25 || heavy > 5 {
            return Answer::error(
                400,
                "INVALID_API_INPUT",
                "a composite request takes 1 to 25 subrequests, at most 5 of them queries or collections",
            );
        }
        let snapshot = all_or_none.then(|| lock(&self.state.records).clone());
        let prefix = format!("/services/data/v{}/", self.version);
        let mut refs: HashMap<String, Value> = HashMap::new();
        let mut out: Vec<Value> = Vec::new();
        let mut failed = false;
        for s in subs {
            let reference = s["referenceId"].as_str().unwrap_or("").to_owned();
            let halted = |why: &str| json!({ "httpStatusCode": 400, "referenceId": reference, "httpHeaders": {}, "body": [{ "errorCode": "PROCESSING_HALTED", "message": why }] });
            if failed && all_or_none {
                out.push(halted("The transaction was rolled back since another operation in the same transaction failed."));
                continue;
            }
            let mut sub_body = s["body"].clone();
            let url = s["url"].as_str().map(|u| substitute(u, &refs));
            let (Some(Ok(url)), Ok(())) = (url, resolve_refs(&mut sub_body, &refs)) else {
                failed = true;
                out.push(halted("Invalid reference specified: the subrequest it names failed or does not exist."));
                continue;
            };
            let Some(parsed) = url::Url::parse("http://mock")
                .ok()
                .and_then(|b| b.join(&url).ok())
            else {
                failed = true;
                out.push(halted("Invalid URL."));
                continue;
            };
            let Some(path) = parsed.path().strip_prefix(&prefix) else {
                failed = true;
                out.push(json!({ "httpStatusCode": 404, "referenceId": reference, "httpHeaders": {}, "body": [{ "errorCode": "NOT_FOUND", "message": "The requested resource does not exist" }] }));
                continue;
            };
            let headers = s["httpHeaders"]
                .as_object()
                .map(|h| {
                    h.iter()
                        .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            let call = Call {
                method: s["method"].as_str().unwrap_or("GET").to_owned(),
                path: path.to_owned(),
                query: parsed.query_pairs().into_owned().collect(),
                headers,
                body: sub_body,
                raw: None,
            };
            let answer = self.rest(&call);
            let ok = (200..300).contains(&answer.status);
            failed |= !ok;
            let body = answer.body.unwrap_or(Value::Null);
            if ok {
                refs.insert(reference.clone(), body.clone());
            }
            out.push(json!({ "httpStatusCode": answer.status, "referenceId": reference, "httpHeaders": {}, "body": body }));
        }
        if failed && let Some(snapshot) = snapshot {
            *lock(&self.state.records) = snapshot;
            for item in &mut out {
                if (200..300).contains(&item["httpStatusCode"].as_u64().unwrap_or(0)) {
                    item["httpStatusCode"] = json!(400);
                    item["body"] = json!([{ "errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed." }]);
                }
            }
        }
        Answer::json(200, json!({ "compositeResponse": out }))
    }

    fn query(&self, soql: &str) -> Answer {
        let Some(q) = MiniSoql::parse(soql) else {
            return Answer::error(400, "MALFORMED_QUERY", "the mock could not parse the query");
        };
        let recs = lock(&self.state.records);
        let mut rows: Vec<&Map<String, Value>> = recs
            .get(&q.object)
            .map(|r| r.iter().filter(|r| q.matches(r)).collect())
            .unwrap_or_default();
        if q.order_by_modstamp {
            rows.sort_by(|a, b| {
                a["SystemModstamp"]
                    .as_str()
                    .cmp(&b["SystemModstamp"].as_str())
            });
            if q.descending {
                rows.reverse();
            }
        }
        if let Some(limit) = q.limit {
            rows.truncate(limit);
        }
        if q.count {
            return Answer::json(
                200,
                json!({ "totalSize": rows.len(), "done": true, "records": [] }),
            );
        }
        let all: Vec<Value> = rows
            .into_iter()
            .map(|r| {
                let mut m = Map::new();
                m.insert("attributes".into(), json!({ "type": q.object }));
                for f in &q.fields {
                    m.insert(f.clone(), r.get(f).cloned().unwrap_or(Value::Null));
                }
                Value::Object(m)
            })
            .collect();
        drop(recs);
        let locator = format!(
            "01gMOCK{}",
            self.state.counter.fetch_add(1, Ordering::SeqCst)
        );
        lock(&self.state.locators).insert(locator.clone(), all);
        self.page(&format!("{locator}-0"))
    }

    fn page(&self, locator: &str) -> Answer {
        let Some((id, offset)) = locator.rsplit_once('-') else {
            return Answer::error(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
        };
        let offset: usize = offset.parse().unwrap_or(0);
        let size = self.state.page_size.load(Ordering::SeqCst) as usize;
        let locators = lock(&self.state.locators);
        let Some(all) = locators.get(id) else {
            return Answer::error(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
        };
        let page: Vec<Value> = all.iter().skip(offset).take(size).cloned().collect();
        let end = offset + page.len();
        let mut body = json!({ "totalSize": all.len(), "done": end >= all.len(), "records": page });
        if end < all.len() {
            body["nextRecordsUrl"] =
                json!(format!("/services/data/v{}/query/{id}-{end}", self.version));
        }
        Answer::json(200, body)
    }

    /// `FIND {digits} IN PHONE FIELDS`: records whose phone digits match.
    fn search(&self, q: &str) -> Answer {
        let term: String = q
            .split('{')
            .nth(1)
            .and_then(|s| s.split('}').next())
            .unwrap_or("")
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let recs = lock(&self.state.records);
        let phone_matches = |r: &Map<String, Value>| {
            ["Phone", "MobilePhone"].iter().any(|f| {
                r.get(*f).and_then(Value::as_str).is_some_and(|p| {
                    let digits: String = p.chars().filter(char::is_ascii_digit).collect();
                    !term.is_empty() && (digits.ends_with(&term) || term.ends_with(&digits))
                })
            })
        };
        let hits: Vec<Value> = recs
            .iter()
            .flat_map(|(object, rows)| {
                rows.iter().filter(|r| phone_matches(r)).map(move |r| {
                    let mut r = r.clone();
                    r.insert("attributes".into(), json!({ "type": object }));
                    Value::Object(r)
                })
            })
            .collect();
        Answer::json(200, json!({ "searchRecords": hits }))
    }
}

impl WriteError {
    fn bad_body() -> Self {
        Self {
            status: 400,
            code: "JSON_PARSER_ERROR",
            message: "a record is not a JSON object".into(),
            fields: Vec::new(),
        }
    }
}

/// The value a reference (`ref.field`, `ref[0].id`, `ref.records[1].Name`)
/// names in the earlier results.
fn lookup<'a>(refs: &'a HashMap<String, Value>, path: &str) -> Option<&'a Value> {
    let name_end = path.find(['.', '[']).unwrap_or(path.len());
    let mut value = refs.get(path.get(..name_end)?)?;
    let mut rest = path.get(name_end..)?;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            value = value.get(r.get(..end)?)?;
            rest = r.get(end..)?;
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            value = value.get(r.get(..end)?.parse::<usize>().ok()?)?;
            rest = r.get(end + 1..)?;
        } else {
            return None;
        }
    }
    Some(value)
}

/// Replaces every `@{...}` in a string with the text of the value it names.
fn substitute(s: &str, refs: &HashMap<String, Value>) -> Result<String, ()> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("@{") {
        out.push_str(rest.get(..start).ok_or(())?);
        let after = rest.get(start + 2..).ok_or(())?;
        let end = after.find('}').ok_or(())?;
        let value = lookup(refs, after.get(..end).ok_or(())?).ok_or(())?;
        match value {
            Value::String(v) => out.push_str(v),
            Value::Null => return Err(()),
            other => out.push_str(&other.to_string()),
        }
        rest = after.get(end + 1..).ok_or(())?;
    }
    out.push_str(rest);
    Ok(out)
}

/// Resolves references in a body: a string that is one reference takes the
/// value itself (a number stays a number); references inside text are replaced.
fn resolve_refs(v: &mut Value, refs: &HashMap<String, Value>) -> Result<(), ()> {
    match v {
        Value::String(s) if s.contains("@{") => {
            let whole = s
                .strip_prefix("@{")
                .and_then(|r| r.strip_suffix('}'))
                .filter(|r| !r.contains('}'));
            *v = match whole {
                Some(path) => lookup(refs, path).cloned().ok_or(())?,
                None => Value::String(substitute(s, refs)?),
            };
            Ok(())
        }
        Value::Object(m) => m.values_mut().try_for_each(|x| resolve_refs(x, refs)),
        Value::Array(a) => a.iter_mut().try_for_each(|x| resolve_refs(x, refs)),
        _ => Ok(()),
    }
}

fn is_multipart(req: &Request) -> bool {
    req.headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// The parts of a multipart body: (name, bytes).
fn multipart_parts(req: &Request) -> Vec<(String, Vec<u8>)> {
    let boundary = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("boundary=").nth(1))
        .map(|b| format!("--{}", b.trim_matches('"')))
        .unwrap_or_default();
    let body = &req.body;
    let b = boundary.as_bytes();
    let mut starts: Vec<usize> = Vec::new();
    let mut i = 0;
    while !b.is_empty() && i + b.len() <= body.len() {
        if body.get(i..i + b.len()) == Some(b) {
            starts.push(i);
            i += b.len();
        } else {
            i += 1;
        }
    }
    let mut parts = Vec::new();
    for w in starts.windows(2) {
        let Some(chunk) = body.get(w[0] + b.len()..w[1]) else {
            continue;
        };
        let Some(split) = chunk.windows(4).position(|x| x == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&chunk[..split]).to_string();
        let name = head
            .split("name=\"")
            .nth(1)
            .and_then(|n| n.split('"').next())
            .unwrap_or("")
            .to_owned();
        let data = &chunk[split + 4..];
        let data = data.strip_suffix(b"\r\n").unwrap_or(data);
        parts.push((name, data.to_vec()));
    }
    parts
}
