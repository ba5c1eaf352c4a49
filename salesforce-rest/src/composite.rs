//! Bulk writes: sObject Collections (chunked into requests of at most 200
//! records) and Composite (up to 25 subrequests with references).
//!
//! ```
//! # #[cfg(feature = "testkit")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), salesforce_rest::Error> {
//! use salesforce_rest::records::Lead;
//! # let org = salesforce_rest::testkit::MockOrg::start().await;
//! # let client = org.client();
//! let leads: Vec<Lead> = (0..450).map(|i| Lead::new(format!("Lead {i}"), "Acme")).collect();
//! let results = client.create_many(&leads, false).await?;
//! assert_eq!(results.len(), 450); // three requests: 200 + 200 + 50
//! assert!(results.iter().all(|r| r.success));
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "testkit"))]
//! # fn main() {}
//! ```

mod graph;

pub use graph::{Graph, GraphResult, TreeRecord, TreeResult};

use reqwest::Method;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Client, Req};
use crate::error::Error;
use crate::id::SalesforceId;
use crate::records::SObject;
use crate::sobjects::SaveResult;

/// The most records one collections request takes.
pub const COLLECTION_CHUNK: usize = 200;
/// The most subrequests one composite request takes.
pub const MAX_SUBREQUESTS: usize = 25;
/// The most queries and sObject Collections operations one composite request takes.
pub const MAX_HEAVY_SUBREQUESTS: usize = 5;

/// A record with its `attributes.type`, serialized straight from the typed
/// record (no intermediate `Value`), with an optional `id`.
#[derive(Serialize)]
struct Typed<'a, R> {
    attributes: Attributes<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(flatten)]
    record: &'a R,
}

#[derive(Serialize)]
struct Attributes<'a> {
    #[serde(rename = "type")]
    object: &'a str,
}

#[derive(Serialize)]
struct CollectionBody<'a, R> {
    #[serde(rename = "allOrNone")]
    all_or_none: bool,
    records: Vec<Typed<'a, R>>,
}

fn collection_body<'a, R: Serialize + 'a>(
    object: &'a str,
    all_or_none: bool,
    items: impl Iterator<Item = (Option<&'a str>, &'a R)>,
) -> Result<Vec<u8>, Error> {
    let body = CollectionBody {
        all_or_none,
        records: items
            .map(|(id, record)| Typed {
                attributes: Attributes { object },
                id,
                record,
            })
            .collect(),
    };
    serde_json::to_vec(&body).map_err(|e| Error::Config(format!("cannot encode the records: {e}")))
}

impl Client {
    /// Creates records through sObject Collections, 200 per request, results in
    /// order. With `all_or_none`, a failure rolls back its chunk.
    pub async fn create_many<T: SObject>(
        &self,
        records: &[T],
        all_or_none: bool,
    ) -> Result<Vec<SaveResult>, Error> {
        let mut out = Vec::with_capacity(records.len());
        for chunk in records.chunks(COLLECTION_CHUNK) {
            let body = collection_body(T::API_NAME, all_or_none, chunk.iter().map(|r| (None, r)))?;
            let req = Req::new(Method::POST, "composite/sobjects").json_bytes(body);
            out.extend(self.call(req).await?.json::<Vec<SaveResult>>()?);
        }
        tracing::info!(
            object = T::API_NAME,
            count = out.len(),
            "collection created"
        );
        Ok(out)
    }

    /// Updates records by id through sObject Collections, 200 per request.
    pub async fn update_many<T: SObject>(
        &self,
        records: &[(SalesforceId, T)],
        all_or_none: bool,
    ) -> Result<Vec<SaveResult>, Error> {
        let mut out = Vec::with_capacity(records.len());
        for chunk in records.chunks(COLLECTION_CHUNK) {
            let body = collection_body(
                T::API_NAME,
                all_or_none,
                chunk.iter().map(|(id, r)| (Some(id.as_str()), r)),
            )?;
            let req = Req::new(Method::PATCH, "composite/sobjects").json_bytes(body);
            out.extend(self.call(req).await?.json::<Vec<SaveResult>>()?);
        }
        Ok(out)
    }

    /// Upserts records on an external ID field through sObject Collections (the
    /// value travels in the body, so any value works), 200 per request.
    pub async fn upsert_many<T: SObject>(
        &self,
        external_id_field: &str,
        records: &[T],
        all_or_none: bool,
    ) -> Result<Vec<SaveResult>, Error> {
        if external_id_field.is_empty()
            || !external_id_field
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(Error::Config(format!(
                "{external_id_field:?} is not a field API name"
            )));
        }
        let mut out = Vec::with_capacity(records.len());
        for chunk in records.chunks(COLLECTION_CHUNK) {
            let body = collection_body(T::API_NAME, all_or_none, chunk.iter().map(|r| (None, r)))?;
            let req = Req::new(
                Method::PATCH,
                format!("composite/sobjects/{}/{external_id_field}", T::API_NAME),
            )
            .json_bytes(body);
            out.extend(self.call(req).await?.json::<Vec<SaveResult>>()?);
        }
        Ok(out)
    }

    /// Deletes records by id through sObject Collections, 200 per request.
    pub async fn delete_many(
        &self,
        ids: &[SalesforceId],
        all_or_none: bool,
    ) -> Result<Vec<SaveResult>, Error> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(COLLECTION_CHUNK) {
            let list = chunk
                .iter()
                .map(SalesforceId::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let req = Req::new(Method::DELETE, "composite/sobjects")
                .query("ids", list)
                .query("allOrNone", all_or_none.to_string());
            out.extend(self.call(req).await?.json::<Vec<SaveResult>>()?);
        }
        Ok(out)
    }

    /// Sends a composite request: subrequests run in order and may refer to
    /// earlier results (`@{refLead.id}`). The whole call counts as one API request.
    ///
    /// The call succeeds when Salesforce answered, even if subrequests failed:
    /// look at [`CompositeResult::is_success`], or turn it into a `Result` with
    /// [`CompositeResult::into_result`]. With `all_or_none`, one failure rolls
    /// every subrequest back ([`CompositeResult::rolled_back`]).
    pub async fn composite(&self, request: &CompositeRequest) -> Result<CompositeResult, Error> {
        if request.subrequests.is_empty() || request.subrequests.len() > MAX_SUBREQUESTS {
            return Err(Error::Config(format!(
                "a composite request takes 1 to {MAX_SUBREQUESTS} subrequests, got {}",
                request.subrequests.len()
            )));
        }
        let heavy = request.subrequests.iter().filter(|s| s.is_heavy()).count();
        if heavy > MAX_HEAVY_SUBREQUESTS {
            return Err(Error::Config(format!(
                "a composite request takes at most {MAX_HEAVY_SUBREQUESTS} queries or sObject Collections, got {heavy}"
            )));
        }
        if let Some(bad) = request.subrequests.iter().find(|s| {
            s.reference_id.is_empty()
                || !s
                    .reference_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }) {
            return Err(Error::Config(format!(
                "the reference id {:?} may hold only letters, digits and _",
                bad.reference_id
            )));
        }
        #[derive(Deserialize)]
        struct Wire {
            #[serde(rename = "compositeResponse", default)]
            composite_response: Vec<CompositeResponse>,
        }
        let body = serde_json::to_value(request)
            .map_err(|e| Error::Config(format!("cannot encode: {e}")))?;
        // Creates are not retried after an ambiguous failure unless declared safe.
        let mut req = Req::new(Method::POST, "composite").json(&body);
        req.idempotent = request.is_retry_safe();
        let w: Wire = self.call(req).await?.json()?;
        Ok(CompositeResult {
            responses: w.composite_response,
            all_or_none: request.all_or_none,
        })
    }
}

/// The answer to a composite request: one response per subrequest, in order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CompositeResult {
    /// The subresponses.
    pub responses: Vec<CompositeResponse>,
    all_or_none: bool,
}

impl CompositeResult {
    /// Whether every subrequest succeeded.
    pub fn is_success(&self) -> bool {
        self.responses.iter().all(|r| r.error().is_none())
    }

    /// Whether the request was all-or-none and something failed, so nothing
    /// it did was kept (the others answer `PROCESSING_HALTED`).
    pub fn rolled_back(&self) -> bool {
        self.all_or_none && !self.is_success()
    }

    /// The subrequests that failed, with their errors (the rolled-back ones
    /// included).
    pub fn failures(&self) -> impl Iterator<Item = (&CompositeResponse, crate::error::ApiError)> {
        self.responses
            .iter()
            .filter_map(|r| r.error().map(|e| (r, e)))
    }

    /// The responses when everything succeeded; else the first real error
    /// (not a `PROCESSING_HALTED` of a rolled-back neighbour).
    pub fn into_result(self) -> Result<Vec<CompositeResponse>, Error> {
        let cause = self
            .failures()
            .map(|(_, e)| e)
            .find(|e| {
                !e.errors
                    .iter()
                    .all(|i| i.code.as_str() == "PROCESSING_HALTED")
            })
            .or_else(|| self.failures().map(|(_, e)| e).next());
        match cause {
            Some(e) => Err(Error::Api(Box::new(e))),
            None => Ok(self.responses),
        }
    }
}

impl std::ops::Deref for CompositeResult {
    type Target = [CompositeResponse];
    fn deref(&self) -> &[CompositeResponse] {
        &self.responses
    }
}

/// A composite request.
///
/// Subrequests run in the order they were added: `collateSubrequests` is
/// sent as `false` unless [`collate`](Self::collate) turns it on (the API's
/// own default since v49.0 is to collate, which may reorder unrelated
/// subrequests, so a read after a write could see the old record).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CompositeRequest {
    #[serde(rename = "allOrNone")]
    all_or_none: bool,
    #[serde(rename = "collateSubrequests")]
    collate: bool,
    #[serde(rename = "compositeRequest")]
    subrequests: Vec<Subrequest>,
    #[serde(skip)]
    retry_safe: bool,
}

/// One subrequest of a [`CompositeRequest`].
///
/// ```
/// use salesforce_rest::composite::Subrequest;
/// use serde_json::json;
///
/// let update = Subrequest::new("PATCH", "/services/data/v66.0/sobjects/Lead/00Q000000000001AAA", "lead")
///     .body(json!({ "Description": "called back" }))
///     .header("If-Unmodified-Since", "Tue, 10 Aug 2027 00:00:00 GMT");
/// assert_eq!(update.reference_id(), "lead");
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Subrequest {
    method: String,
    url: String,
    #[serde(rename = "referenceId")]
    reference_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Value>,
    #[serde(rename = "httpHeaders", skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, String>,
}

impl Subrequest {
    /// A subrequest: a method, a full path (`/services/data/v66.0/...`, which
    /// may hold references such as `@{lead.id}`) and the reference id its
    /// result is known by (letters, digits and `_`).
    pub fn new(method: &str, url: impl Into<String>, reference_id: impl Into<String>) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            url: url.into(),
            reference_id: reference_id.into(),
            body: None,
            headers: BTreeMap::new(),
        }
    }

    /// The JSON body (may hold references).
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// A request header for this subrequest (`If-Unmodified-Since`,
    /// `Sforce-Auto-Assign`...). `Accept`, `Authorization` and `Content-Type`
    /// come from the top-level request and cannot be set here.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Its reference id.
    pub fn reference_id(&self) -> &str {
        &self.reference_id
    }

    /// Whether it counts against the five queries or collections a composite
    /// request may hold.
    fn is_heavy(&self) -> bool {
        self.url.contains("/composite/sobjects") || self.url.contains("/query")
    }
}

impl CompositeRequest {
    /// An empty request; with `all_or_none`, any failure rolls everything back.
    pub fn new(all_or_none: bool) -> Self {
        Self {
            all_or_none,
            collate: false,
            subrequests: Vec::new(),
            retry_safe: false,
        }
    }

    /// Declares that sending the request twice does no harm (for example,
    /// creates that carry a unique external id), so the client may retry it
    /// after an ambiguous failure (a timeout, a 503 after the commit). A
    /// request without `POST` subrequests (reads, updates, upserts, deletes)
    /// is retried anyway.
    pub fn retry_safe(mut self, safe: bool) -> Self {
        self.retry_safe = safe;
        self
    }

    fn is_retry_safe(&self) -> bool {
        self.retry_safe || self.subrequests.iter().all(|s| s.method != "POST")
    }

    /// Lets Salesforce collate unrelated subrequests (faster, but the order of
    /// execution is then only guaranteed between dependent subrequests).
    pub fn collate(mut self, on: bool) -> Self {
        self.collate = on;
        self
    }

    /// Adds a subrequest.
    pub fn push(mut self, subrequest: Subrequest) -> Self {
        self.subrequests.push(subrequest);
        self
    }

    /// Adds a subrequest. `url` is a full path
    /// (`/services/data/v66.0/sobjects/Lead`), and may use references.
    pub fn add(
        self,
        method: &str,
        url: impl Into<String>,
        reference_id: impl Into<String>,
        body: Option<Value>,
    ) -> Self {
        let sub = Subrequest::new(method, url, reference_id);
        self.push(match body {
            Some(b) => sub.body(b),
            None => sub,
        })
    }

    /// The number of subrequests.
    pub fn len(&self) -> usize {
        self.subrequests.len()
    }

    /// Whether there are no subrequests.
    pub fn is_empty(&self) -> bool {
        self.subrequests.is_empty()
    }
}

/// One subresponse of a composite request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct CompositeResponse {
    /// The body (an object, or an error array).
    #[serde(default)]
    pub body: Value,
    /// The HTTP status of the subrequest.
    #[serde(rename = "httpStatusCode", default)]
    pub http_status_code: u16,
    /// Its reference id.
    #[serde(rename = "referenceId", default)]
    pub reference_id: String,
    /// Its response headers (`Location`, `Last-Modified`...).
    #[serde(rename = "httpHeaders", default)]
    pub http_headers: BTreeMap<String, String>,
}

impl CompositeResponse {
    /// The subrequest's error, when it failed.
    pub fn error(&self) -> Option<crate::error::ApiError> {
        if (200..300).contains(&self.http_status_code) {
            return None;
        }
        crate::error::ApiError::from_body(self.http_status_code, self.body.to_string().as_bytes())
    }
}
