//! Jobs: their descriptions, states and the calls on them.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::csv_stream::{self, Rows};
use crate::client::{Client, Req};
use crate::error::Error;
use crate::http::transport_error;

/// What an ingest job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Operation {
    /// Create records.
    Insert,
    /// Update records by `Id`.
    Update,
    /// Insert or update by an external id field.
    Upsert,
    /// Delete records by `Id` (to the recycle bin).
    Delete,
    /// Delete records by `Id` permanently.
    HardDelete,
}

/// An ingest job to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIngestJob {
    object: String,
    operation: Operation,
    external_id_field: Option<String>,
    assignment_rule_id: Option<String>,
}

impl NewIngestJob {
    fn new(object: &str, operation: Operation) -> Self {
        Self {
            object: object.to_owned(),
            operation,
            external_id_field: None,
            assignment_rule_id: None,
        }
    }
    /// Creates records of `object`.
    pub fn insert(object: &str) -> Self {
        Self::new(object, Operation::Insert)
    }
    /// Updates records of `object` by `Id` (a column of the CSV).
    pub fn update(object: &str) -> Self {
        Self::new(object, Operation::Update)
    }
    /// Inserts or updates records of `object` matched on `external_id_field`.
    pub fn upsert(object: &str, external_id_field: &str) -> Self {
        Self {
            external_id_field: Some(external_id_field.to_owned()),
            ..Self::new(object, Operation::Upsert)
        }
    }
    /// Deletes records of `object` by `Id`.
    pub fn delete(object: &str) -> Self {
        Self::new(object, Operation::Delete)
    }
    /// Deletes records of `object` by `Id`, skipping the recycle bin.
    pub fn hard_delete(object: &str) -> Self {
        Self::new(object, Operation::HardDelete)
    }
    /// Runs a Lead or Case assignment rule on the inserted records.
    pub fn assignment_rule(mut self, rule_id: &str) -> Self {
        self.assignment_rule_id = Some(rule_id.to_owned());
        self
    }

    fn body(&self) -> Result<Value, Error> {
        if self.object.trim().is_empty() {
            return Err(Error::Config("a bulk job needs an object".into()));
        }
        let mut body = serde_json::Map::new();
        body.insert("object".into(), json!(self.object));
        body.insert("operation".into(), json!(self.operation));
        body.insert("contentType".into(), json!("CSV"));
        body.insert("lineEnding".into(), json!("LF"));
        body.insert("columnDelimiter".into(), json!("COMMA"));
        if let Some(f) = &self.external_id_field {
            body.insert("externalIdFieldName".into(), json!(f));
        }
        if let Some(r) = &self.assignment_rule_id {
            body.insert("assignmentRuleId".into(), json!(r));
        }
        Ok(Value::Object(body))
    }
}

/// A job's state. Open: unknown values are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobState {
    /// Accepting data (ingest).
    Open,
    /// Data received; queued.
    UploadComplete,
    /// Running.
    InProgress,
    /// Done; results are ready.
    JobComplete,
    /// Failed as a whole (see the message).
    Failed,
    /// Aborted.
    Aborted,
    /// Any other value, as sent.
    Other(String),
}

impl JobState {
    /// Parses a state value.
    pub fn parse(s: &str) -> Self {
        match s {
            "Open" => Self::Open,
            "UploadComplete" => Self::UploadComplete,
            "InProgress" => Self::InProgress,
            "JobComplete" => Self::JobComplete,
            "Failed" => Self::Failed,
            "Aborted" => Self::Aborted,
            other => Self::Other(other.to_owned()),
        }
    }
    /// Whether the job will not change any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::JobComplete | Self::Failed | Self::Aborted)
    }
}

impl<'de> Deserialize<'de> for JobState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(d)?))
    }
}

/// A job as Salesforce describes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct JobInfo {
    /// The job id.
    pub id: String,
    /// The state.
    pub state: JobState,
    /// The object (ingest).
    #[serde(default)]
    pub object: Option<String>,
    /// The operation, as sent (`insert`, `query`, ...).
    #[serde(default)]
    pub operation: Option<String>,
    /// Records processed so far.
    #[serde(default)]
    pub number_records_processed: Option<u64>,
    /// Records that failed (ingest).
    #[serde(default)]
    pub number_records_failed: Option<u64>,
    /// Why a failed job failed.
    #[serde(default)]
    pub error_message: Option<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

impl JobInfo {
    /// Records processed (0 when not reported).
    pub fn records_processed(&self) -> u64 {
        self.number_records_processed.unwrap_or(0)
    }
    /// Records failed (0 when not reported).
    pub fn records_failed(&self) -> u64 {
        self.number_records_failed.unwrap_or(0)
    }
}

/// How to wait for a job: the first and the longest pause between polls, and
/// how long to wait in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Poll {
    /// The first pause.
    pub first: Duration,
    /// The longest pause (pauses double up to it).
    pub max: Duration,
    /// The longest wait in all.
    pub timeout: Duration,
}

impl Default for Poll {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(30),
            timeout: Duration::from_secs(3600),
        }
    }
}

impl Poll {
    /// Pauses doubling from `first` up to `max`, for at most `timeout` in all.
    pub fn new(first: Duration, max: Duration, timeout: Duration) -> Self {
        Self {
            first,
            max,
            timeout,
        }
    }

    /// The pause before poll number `n` (0-based): doubling from `first`, capped at `max`.
    pub fn pause(&self, n: u32) -> Duration {
        self.first
            .saturating_mul(2u32.saturating_pow(n.min(20)))
            .min(self.max)
    }
}

/// A successfully processed row of an ingest job.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SuccessRow<T> {
    /// The record id.
    pub id: String,
    /// Whether it was created (rather than updated).
    pub created: bool,
    /// The row as uploaded.
    pub record: T,
}

/// A failed row of an ingest job.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FailedRow<T> {
    /// The record id, when the row named one.
    pub id: Option<String>,
    /// Salesforce's error (`REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --`).
    pub error: String,
    /// The row as uploaded.
    pub record: T,
}

impl<T> FailedRow<T> {
    /// The error's status code (`REQUIRED_FIELD_MISSING`), before the first colon.
    pub fn code(&self) -> &str {
        self.error.split(':').next().unwrap_or_default()
    }
}

/// Bulk API 2.0 calls: [`Client::bulk`].
#[derive(Debug, Clone)]
pub struct BulkApi {
    client: Client,
}

impl Client {
    /// Bulk API 2.0: ingest and query jobs.
    pub fn bulk(&self) -> BulkApi {
        BulkApi {
            client: self.clone(),
        }
    }
}

fn job_path(kind: &str, id: &str) -> Result<String, Error> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::Config(format!("{id:?} is not a bulk job id")));
    }
    Ok(format!("jobs/{kind}/{id}"))
}

impl BulkApi {
    /// Creates an ingest job (state `Open`).
    pub async fn create_ingest_job(&self, job: &NewIngestJob) -> Result<JobInfo, Error> {
        self.client
            .call(Req::new(Method::POST, "jobs/ingest").json(&job.body()?))
            .await?
            .json()
    }

    /// Uploads a job's CSV from any async reader, streamed in 64 KiB chunks
    /// (at most [`MAX_UPLOAD_BYTES`](super::MAX_UPLOAD_BYTES)). The CSV's first line names the fields.
    /// A stream cannot be replayed, so the upload is not retried.
    pub async fn upload_csv<R>(&self, job_id: &str, reader: R) -> Result<(), Error>
    where
        R: tokio::io::AsyncRead + Send + Unpin + 'static,
    {
        self.put_batches(
            job_id,
            reqwest::Body::wrap_stream(csv_stream::reader_chunks(reader)),
        )
        .await
    }

    /// Uploads typed records as the job's CSV, serialized lazily in chunks of
    /// 1,000 rows: memory holds a chunk, not the data. Field names come from
    /// the serde names (`#[serde(rename = "LastName")]`); `None` is an empty
    /// cell (use `#N/A` to blank a field in an update).
    pub async fn upload_records<I, T>(&self, job_id: &str, records: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
        T: Serialize,
    {
        self.put_batches(
            job_id,
            reqwest::Body::wrap_stream(csv_stream::record_chunks(records.into_iter())),
        )
        .await
    }

    async fn put_batches(&self, job_id: &str, body: reqwest::Body) -> Result<(), Error> {
        let token = self.client.session().token().await?;
        let url = self
            .client
            .url_for(&token, &format!("{}/batches", job_path("ingest", job_id)?))?;
        let response = self
            .client
            .http()
            .put(url)
            .header(AUTHORIZATION, token.header().clone())
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "text/csv")
            .body(body)
            .send()
            .await
            .map_err(transport_error)?;
        self.client.read_answer(response).await.map(drop)
    }

    async fn set_state(&self, job_id: &str, state: &str) -> Result<JobInfo, Error> {
        self.client
            .call(
                Req::new(Method::PATCH, job_path("ingest", job_id)?)
                    .json(&json!({ "state": state })),
            )
            .await?
            .json()
    }

    /// Closes an ingest job's upload: Salesforce starts processing it.
    pub async fn close(&self, job_id: &str) -> Result<JobInfo, Error> {
        self.set_state(job_id, "UploadComplete").await
    }

    /// Aborts an ingest job.
    pub async fn abort(&self, job_id: &str) -> Result<JobInfo, Error> {
        self.set_state(job_id, "Aborted").await
    }

    /// Aborts a query job.
    pub async fn abort_query(&self, job_id: &str) -> Result<JobInfo, Error> {
        self.client
            .call(
                Req::new(Method::PATCH, job_path("query", job_id)?)
                    .json(&json!({ "state": "Aborted" })),
            )
            .await?
            .json()
    }

    /// Deletes a finished ingest job and its results.
    pub async fn delete(&self, job_id: &str) -> Result<(), Error> {
        self.client
            .call(Req::new(Method::DELETE, job_path("ingest", job_id)?))
            .await
            .map(drop)
    }

    /// An ingest job's state and counts.
    pub async fn ingest_job(&self, job_id: &str) -> Result<JobInfo, Error> {
        self.client
            .call(Req::new(Method::GET, job_path("ingest", job_id)?))
            .await?
            .json()
    }

    /// A query job's state and counts.
    pub async fn query_job(&self, job_id: &str) -> Result<JobInfo, Error> {
        self.client
            .call(Req::new(Method::GET, job_path("query", job_id)?))
            .await?
            .json()
    }

    async fn wait(&self, kind: &str, job_id: &str, poll: &Poll) -> Result<JobInfo, Error> {
        let started = tokio::time::Instant::now();
        let mut n = 0;
        loop {
            let info = if kind == "query" {
                self.query_job(job_id).await?
            } else {
                self.ingest_job(job_id).await?
            };
            if info.state.is_terminal() {
                return match info.state {
                    JobState::JobComplete => Ok(info),
                    _ => Err(Error::BulkJobFailed {
                        job_id: info.id.clone(),
                        state: format!("{:?}", info.state),
                        message: info.error_message.clone().unwrap_or_default(),
                    }),
                };
            }
            let pause = poll.pause(n);
            if started.elapsed() + pause > poll.timeout {
                return Err(Error::BulkJobFailed {
                    job_id: info.id,
                    state: format!("{:?}", info.state),
                    message: format!(
                        "still running after {:?}; poll it again later",
                        poll.timeout
                    ),
                });
            }
            tokio::time::sleep(pause).await;
            n += 1;
        }
    }

    /// Waits for an ingest job to finish (polling with doubling pauses):
    /// `JobComplete` gives its info; `Failed`, `Aborted` or the timeout give
    /// [`Error::BulkJobFailed`].
    pub async fn wait_ingest(&self, job_id: &str, poll: &Poll) -> Result<JobInfo, Error> {
        self.wait("ingest", job_id, poll).await
    }

    /// Waits for a query job to finish, as [`wait_ingest`](Self::wait_ingest).
    pub async fn wait_query(&self, job_id: &str, poll: &Poll) -> Result<JobInfo, Error> {
        self.wait("query", job_id, poll).await
    }

    /// The whole ingest: create the job, upload the records, close it and
    /// wait for it. Row-level failures are not errors: read them with
    /// [`failed_results`](Self::failed_results).
    pub async fn ingest<I, T>(
        &self,
        job: &NewIngestJob,
        records: I,
        poll: &Poll,
    ) -> Result<JobInfo, Error>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
        T: Serialize,
    {
        let created = self.create_ingest_job(job).await?;
        if let Err(e) = self.upload_records(&created.id, records).await {
            // Leave no open job behind; the upload's error is the one to report.
            let _ = self.abort(&created.id).await;
            return Err(e);
        }
        self.close(&created.id).await?;
        self.wait_ingest(&created.id, poll).await
    }

    async fn result_rows(
        &self,
        path: String,
        query: Vec<(&'static str, String)>,
    ) -> Result<(reqwest::Response, reqwest::header::HeaderMap), Error> {
        let token = self.client.session().token().await?;
        let url = self.client.url_for(&token, &path)?;
        let response = self
            .client
            .http()
            .get(url)
            .query(&query)
            .header(AUTHORIZATION, token.header().clone())
            .header(ACCEPT, "text/csv")
            .send()
            .await
            .map_err(transport_error)?;
        if !response.status().is_success() {
            // Error bodies are JSON: read them the usual way for a typed error.
            return Err(match self.client.read_answer(response).await {
                Err(e) => e,
                Ok(a) => Error::unexpected(a.status, "the results could not be read", &a.body),
            });
        }
        let headers = response.headers().clone();
        Ok((response, headers))
    }

    /// The rows an ingest job processed, streamed and typed.
    pub async fn successful_results<T>(&self, job_id: &str) -> Result<Rows<SuccessRow<T>>, Error>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let (response, _) = self
            .result_rows(
                format!("{}/successfulResults/", job_path("ingest", job_id)?),
                Vec::new(),
            )
            .await?;
        Ok(csv_stream::rows(response, |fields, record: T| {
            Some(SuccessRow {
                id: fields.get("sf__Id")?.clone(),
                created: fields.get("sf__Created").is_some_and(|c| c == "true"),
                record,
            })
        }))
    }

    /// The rows an ingest job could not process, with their errors.
    pub async fn failed_results<T>(&self, job_id: &str) -> Result<Rows<FailedRow<T>>, Error>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let (response, _) = self
            .result_rows(
                format!("{}/failedResults/", job_path("ingest", job_id)?),
                Vec::new(),
            )
            .await?;
        Ok(csv_stream::rows(response, |fields, record: T| {
            Some(FailedRow {
                id: fields.get("sf__Id").filter(|i| !i.is_empty()).cloned(),
                error: fields.get("sf__Error").cloned().unwrap_or_default(),
                record,
            })
        }))
    }

    /// The rows an ingest job never reached (it failed or was aborted).
    pub async fn unprocessed_records<T>(&self, job_id: &str) -> Result<Rows<T>, Error>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let (response, _) = self
            .result_rows(
                format!("{}/unprocessedrecords/", job_path("ingest", job_id)?),
                Vec::new(),
            )
            .await?;
        Ok(csv_stream::rows(response, |_, record: T| Some(record)))
    }

    /// Creates a query job for a SOQL query; `all_rows` includes deleted and
    /// archived records (`queryAll`).
    pub async fn create_query_job(&self, soql: &str, all_rows: bool) -> Result<JobInfo, Error> {
        if soql.trim().is_empty() {
            return Err(Error::Soql("the query is empty".into()));
        }
        let body = json!({
            "operation": if all_rows { "queryAll" } else { "query" },
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        });
        self.client
            .call(Req::new(Method::POST, "jobs/query").json(&body))
            .await?
            .json()
    }

    /// A finished query job's rows, page by page (`Sforce-Locator`), each
    /// page streamed: memory holds a chunk and a bounded queue of rows.
    /// `page_size` is the most rows per page (Salesforce's `maxRecords`).
    pub fn query_results<T>(&self, job_id: &str, page_size: u32) -> Rows<T>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let api = self.clone();
        let job_id = job_id.to_owned();
        csv_stream::paged(move |locator: Option<String>| {
            let (api, job_id) = (api.clone(), job_id.clone());
            async move {
                let mut query = vec![("maxRecords", page_size.max(1).to_string())];
                if let Some(l) = locator {
                    query.push(("locator", l));
                }
                let (response, headers) = api
                    .result_rows(format!("{}/results", job_path("query", &job_id)?), query)
                    .await?;
                let next = headers
                    .get("sforce-locator")
                    .and_then(|v| v.to_str().ok())
                    .filter(|l| !l.is_empty() && *l != "null")
                    .map(str::to_owned);
                Ok((response, next))
            }
        })
    }

    /// The whole query: create the job, wait for it, stream its rows.
    pub async fn query<T>(&self, soql: &str, poll: &Poll) -> Result<Rows<T>, Error>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let job = self.create_query_job(soql, false).await?;
        self.wait_query(&job.id, poll).await?;
        Ok(self.query_results(&job.id, 50_000))
    }
}
