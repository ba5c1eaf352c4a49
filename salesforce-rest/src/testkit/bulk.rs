//! The mock org's Bulk API 2.0: ingest jobs (CSV upload, close, processing
//! through the same write rules as the REST API, successful / failed /
//! unprocessed results) and query jobs (the mock's SOQL, results paged with
//! `Sforce-Locator`). A job is `InProgress` on its first poll after closing
//! and `JobComplete` on the next, so clients really poll.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use wiremock::{Request, ResponseTemplate};

use super::router::Router;
use super::soql::MiniSoql;
use super::state::{WriteError, lock};

/// A job the mock holds.
#[derive(Debug, Default)]
pub(super) struct Job {
    kind: &'static str,
    object: String,
    operation: String,
    external_id: Option<String>,
    state: String,
    polls: u32,
    upload: Vec<u8>,
    headers: Vec<String>,
    /// (id, created, row) of each processed row.
    succeeded: Vec<(String, bool, Vec<String>)>,
    /// (id, error, row) of each failed row.
    failed: Vec<(String, String, Vec<String>)>,
    unprocessed: Vec<Vec<String>>,
    /// Query results: the selected fields' values.
    rows: Vec<Vec<String>>,
}

fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!([{ "errorCode": code, "message": message }]))
}

fn csv_body(headers: &[String], rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = w.write_record(headers);
    for row in rows {
        let _ = w.write_record(&row);
    }
    w.into_inner().unwrap_or_default()
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

impl Router {
    fn info(id: &str, job: &Job) -> Value {
        json!({
            "id": id, "state": job.state, "object": job.object, "operation": job.operation,
            "contentType": "CSV", "apiVersion": 66.0, "lineEnding": "LF", "columnDelimiter": "COMMA",
            "numberRecordsProcessed": job.succeeded.len() + job.failed.len() + job.rows.len(),
            "numberRecordsFailed": job.failed.len(),
        })
    }

    /// Answers `jobs/...` (the path after `/services/data/vXX.X/`).
    pub(super) fn bulk(&self, req: &Request, path: &str) -> ResponseTemplate {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let body = || serde_json::from_slice::<Value>(&req.body).unwrap_or(Value::Null);
        let query = |k: &str| {
            req.url
                .query_pairs()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
        };
        let mut jobs = lock(&self.state.bulk_jobs);
        match (req.method.as_str(), segs.as_slice()) {
            ("POST", ["jobs", "ingest"]) => {
                let b = body();
                let (Some(object), Some(operation)) =
                    (b["object"].as_str(), b["operation"].as_str())
                else {
                    return error(400, "INVALIDJOB", "object and operation are required");
                };
                if !["insert", "update", "upsert", "delete", "hardDelete"].contains(&operation) {
                    return error(400, "INVALIDJOB", "unknown operation");
                }
                if operation == "upsert" && !b["externalIdFieldName"].is_string() {
                    return error(400, "INVALIDJOB", "an upsert needs externalIdFieldName");
                }
                let id = format!("750MOCK{:011}", jobs.len() + 1);
                let job = Job {
                    kind: "ingest",
                    object: object.to_owned(),
                    operation: operation.to_owned(),
                    external_id: b["externalIdFieldName"].as_str().map(str::to_owned),
                    state: "Open".into(),
                    ..Job::default()
                };
                let info = Self::info(&id, &job);
                jobs.insert(id, job);
                ResponseTemplate::new(200).set_body_json(info)
            }
            ("PUT", ["jobs", "ingest", id, "batches"]) => match jobs.get_mut(*id) {
                None => error(404, "NOT_FOUND", "no such job"),
                Some(job) if job.state != "Open" => {
                    error(409, "INVALIDJOBSTATE", "the job is not open")
                }
                Some(job) if !job.upload.is_empty() => {
                    error(409, "INVALIDJOBSTATE", "the job already has its data")
                }
                Some(job) => {
                    job.upload = req.body.clone();
                    ResponseTemplate::new(201)
                }
            },
            ("PATCH", ["jobs", kind @ ("ingest" | "query"), id]) => {
                let state = body()["state"].as_str().unwrap_or_default().to_owned();
                let Some(job) = jobs.get_mut(*id).filter(|j| j.kind == *kind) else {
                    return error(404, "NOT_FOUND", "no such job");
                };
                match (state.as_str(), job.state.as_str()) {
                    ("UploadComplete", "Open") => {
                        job.state = "UploadComplete".into();
                        drop(jobs);
                        self.process(id);
                        let jobs = lock(&self.state.bulk_jobs);
                        let info = jobs.get(*id).map(|j| Self::info(id, j)).unwrap_or_default();
                        ResponseTemplate::new(200).set_body_json(info)
                    }
                    ("Aborted", "Open" | "UploadComplete" | "InProgress") => {
                        job.state = "Aborted".into();
                        ResponseTemplate::new(200).set_body_json(Self::info(id, job))
                    }
                    _ => error(400, "INVALIDJOBSTATE", "that state change is not allowed"),
                }
            }
            ("GET", ["jobs", kind @ ("ingest" | "query"), id]) => {
                let Some(job) = jobs.get_mut(*id).filter(|j| j.kind == *kind) else {
                    return error(404, "NOT_FOUND", "no such job");
                };
                if matches!(job.state.as_str(), "UploadComplete" | "InProgress") {
                    job.polls += 1;
                    job.state = if job.polls == 1 {
                        "InProgress"
                    } else {
                        "JobComplete"
                    }
                    .into();
                }
                ResponseTemplate::new(200).set_body_json(Self::info(id, job))
            }
            ("DELETE", ["jobs", "ingest", id]) => match jobs.remove(*id) {
                Some(_) => ResponseTemplate::new(204),
                None => error(404, "NOT_FOUND", "no such job"),
            },
            ("GET", ["jobs", "ingest", id, which]) => {
                let Some(job) = jobs.get(*id) else {
                    return error(404, "NOT_FOUND", "no such job");
                };
                if !matches!(job.state.as_str(), "JobComplete" | "Failed" | "Aborted") {
                    return error(400, "INVALIDJOBSTATE", "the job has not finished");
                }
                let mut headers = job.headers.clone();
                let csv = match *which {
                    "successfulResults" => {
                        headers.splice(0..0, ["sf__Id".to_owned(), "sf__Created".to_owned()]);
                        csv_body(
                            &headers,
                            job.succeeded.iter().map(|(id, created, row)| {
                                [vec![id.clone(), created.to_string()], row.clone()].concat()
                            }),
                        )
                    }
                    "failedResults" => {
                        headers.splice(0..0, ["sf__Id".to_owned(), "sf__Error".to_owned()]);
                        csv_body(
                            &headers,
                            job.failed.iter().map(|(id, e, row)| {
                                [vec![id.clone(), e.clone()], row.clone()].concat()
                            }),
                        )
                    }
                    "unprocessedrecords" => csv_body(&headers, job.unprocessed.iter().cloned()),
                    _ => return error(404, "NOT_FOUND", "no such resource"),
                };
                ResponseTemplate::new(200)
                    .insert_header("content-type", "text/csv")
                    .set_body_bytes(csv)
            }
            ("POST", ["jobs", "query"]) => {
                let b = body();
                let Some(soql) = b["query"].as_str() else {
                    return error(400, "INVALIDJOB", "query is required");
                };
                let Some(q) = MiniSoql::parse(soql) else {
                    return error(400, "INVALIDJOB", "the mock could not parse the query");
                };
                let records = lock(&self.state.records);
                let rows: Vec<Vec<String>> = records
                    .get(&q.object)
                    .map(|rs| {
                        rs.iter()
                            .filter(|r| q.matches(r))
                            .map(|r| q.fields.iter().map(|f| cell(r.get(f))).collect())
                            .collect()
                    })
                    .unwrap_or_default();
                drop(records);
                let id = format!("750MOCKQ{:010}", jobs.len() + 1);
                let job = Job {
                    kind: "query",
                    object: q.object.clone(),
                    operation: b["operation"].as_str().unwrap_or("query").to_owned(),
                    state: "UploadComplete".into(),
                    headers: q.fields,
                    rows,
                    ..Job::default()
                };
                let info = Self::info(&id, &job);
                jobs.insert(id, job);
                ResponseTemplate::new(200).set_body_json(info)
            }
            ("GET", ["jobs", "query", id, "results"]) => {
                let Some(job) = jobs.get(*id).filter(|j| j.kind == "query") else {
                    return error(404, "NOT_FOUND", "no such job");
                };
                if job.state != "JobComplete" {
                    return error(400, "INVALIDJOBSTATE", "the job has not finished");
                }
                let size: usize = query("maxRecords")
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(50_000)
                    .max(1);
                let start: usize = match query("locator") {
                    Some(l) => match l.parse() {
                        Ok(n) => n,
                        Err(_) => return error(400, "INVALIDLOCATOR", "invalid locator"),
                    },
                    None => 0,
                };
                let end = (start + size).min(job.rows.len());
                let page = job.rows.get(start..end).unwrap_or_default();
                let next = if end < job.rows.len() {
                    end.to_string()
                } else {
                    "null".into()
                };
                ResponseTemplate::new(200)
                    .insert_header("content-type", "text/csv")
                    .insert_header("Sforce-Locator", next.as_str())
                    .insert_header("Sforce-NumberOfRecords", page.len().to_string().as_str())
                    .set_body_bytes(csv_body(&job.headers, page.iter().cloned()))
            }
            _ => error(404, "NOT_FOUND", "The requested resource does not exist"),
        }
    }

    /// Runs a closed ingest job's rows through the org's write rules.
    fn process(&self, id: &str) {
        let (object, operation, external_id, upload) = {
            let jobs = lock(&self.state.bulk_jobs);
            let Some(job) = jobs.get(id) else { return };
            (
                job.object.clone(),
                job.operation.clone(),
                job.external_id.clone(),
                job.upload.clone(),
            )
        };
        let mut reader = csv::ReaderBuilder::new().from_reader(upload.as_slice());
        let headers: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(str::to_owned).collect(),
            Err(_) => {
                if let Some(job) = lock(&self.state.bulk_jobs).get_mut(id) {
                    job.state = "Failed".into();
                }
                return;
            }
        };
        let mut succeeded = Vec::new();
        let mut failed = Vec::new();
        // Inserts check unique fields against an index, not a scan per row.
        let mut index = (operation == "insert").then(|| self.state.unique_index(&object));
        for record in reader.records() {
            let Ok(record) = record else { continue };
            let row: Vec<String> = record.iter().map(str::to_owned).collect();
            let mut fields = Map::new();
            for (h, v) in headers.iter().zip(&row) {
                match v.as_str() {
                    "" => {}
                    "#N/A" => {
                        fields.insert(h.clone(), Value::Null);
                    }
                    v => {
                        fields.insert(h.clone(), Value::String(v.to_owned()));
                    }
                }
            }
            let given_id = fields
                .get("Id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let result: Result<(String, bool), WriteError> = match operation.as_str() {
                "insert" => match index.as_mut() {
                    Some(index) => self.state.create_indexed(&object, fields, index),
                    None => self.state.create(&object, fields),
                }
                .map(|id| (id, true)),
                "update" => self
                    .state
                    .update(&object, &given_id, fields, None)
                    .map(|()| (given_id.clone(), false)),
                "upsert" => {
                    let field = external_id.clone().unwrap_or_default();
                    let value = fields
                        .get(&field)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    self.state
                        .upsert(&object, &field, &value, fields)
                        .map(|(status, body)| {
                            (
                                body["id"].as_str().unwrap_or_default().to_owned(),
                                status == 201,
                            )
                        })
                }
                _ => {
                    if self.state.delete(Some(&object), &given_id) {
                        Ok((given_id.clone(), false))
                    } else {
                        Err(WriteError::bulk("ENTITY_IS_DELETED", "entity is deleted"))
                    }
                }
            };
            match result {
                Ok((id, created)) => succeeded.push((id, created, row)),
                Err(e) => failed.push((given_id, e.bulk_message(), row)),
            }
        }
        if let Some(job) = lock(&self.state.bulk_jobs).get_mut(id) {
            job.headers = headers;
            job.succeeded = succeeded;
            job.failed = failed;
            job.upload = Vec::new();
        }
    }
}

impl super::MockOrg {
    /// The state of each Bulk job, by id.
    pub fn bulk_jobs(&self) -> HashMap<String, String> {
        lock(&self.state.bulk_jobs)
            .iter()
            .map(|(id, j)| (id.clone(), j.state.clone()))
            .collect()
    }
}
