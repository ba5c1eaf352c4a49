//! SOQL queries (with lazy pagination), SOSL search, and change polling.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use futures_util::Stream;
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::client::{Client, Req};
use crate::error::Error;
use crate::records::DynamicRecord;
use crate::soql::Soql;

/// One page of a query answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(bound(deserialize = "T: DeserializeOwned"))]
#[non_exhaustive]
pub struct QueryPage<T> {
    /// The total number of rows (the answer to `SELECT COUNT()`).
    #[serde(rename = "totalSize", default)]
    pub total_size: u64,
    /// Whether this is the last page.
    #[serde(default = "yes")]
    pub done: bool,
    /// The path of the next page, relative to the instance URL.
    #[serde(rename = "nextRecordsUrl", default)]
    pub next_records_url: Option<String>,
    /// The rows.
    #[serde(default = "Vec::new")]
    pub records: Vec<T>,
}

fn yes() -> bool {
    true
}

/// A lazy stream of query rows that follows `nextRecordsUrl` page by page.
/// Owns a client clone: store it, return it, move it into a task.
///
/// ```
/// # #[cfg(feature = "testkit")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), salesforce_rest::Error> {
/// use salesforce_rest::records::Lead;
/// # let org = salesforce_rest::testkit::MockOrg::start().await;
/// # let client = org.client();
/// # for i in 0..5 { client.create(&Lead::new(format!("L{i}"), "Acme")).await?; }
/// # org.set_page_size(2);
/// let mut rows = client.query_stream::<Lead>("SELECT Id, LastName FROM Lead");
/// let mut n = 0;
/// while let Some(lead) = rows.next().await {
///     let lead = lead?;
///     n += 1;
/// #   let _ = lead;
/// }
/// assert_eq!(n, 5);
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "testkit"))]
/// # fn main() {}
/// ```
#[derive(Debug)]
pub struct RecordStream<T> {
    client: Client,
    first: Option<Req>,
    next_url: Option<String>,
    buffer: VecDeque<T>,
    done: bool,
    pages: u64,
    /// An error found after a page's rows were buffered: yielded once they are.
    pending: Option<Error>,
}

impl<T: DeserializeOwned> RecordStream<T> {
    fn new(client: Client, first: Req) -> Self {
        Self {
            client,
            first: Some(first),
            next_url: None,
            buffer: VecDeque::new(),
            done: false,
            pages: 0,
            pending: None,
        }
    }

    /// The next row, fetching the next page when needed. After an error the
    /// stream ends: a page whose rows arrived but whose continuation is broken
    /// yields its rows, then the error, then nothing.
    pub async fn next(&mut self) -> Option<Result<T, Error>> {
        loop {
            if let Some(row) = self.buffer.pop_front() {
                return Some(Ok(row));
            }
            if let Some(e) = self.pending.take() {
                self.done = true;
                return Some(Err(e));
            }
            if self.done {
                return None;
            }
            let req = match (self.first.take(), self.next_url.take()) {
                (Some(first), _) => first,
                (None, Some(url)) => Req::new(Method::GET, url),
                (None, None) => {
                    self.done = true;
                    return None;
                }
            };
            if let Err(e) = self.fetch(req).await {
                // Rows already buffered come first; the error ends the stream.
                self.done = true;
                self.pending = Some(e);
            }
        }
    }

    async fn fetch(&mut self, req: Req) -> Result<(), Error> {
        let page: QueryPage<T> = self.client.call(req).await?.json()?;
        self.pages += 1;
        let empty = page.records.is_empty();
        self.buffer.extend(page.records);
        match (page.done, page.next_records_url) {
            (true, _) => self.done = true,
            (false, Some(url)) if !empty => {
                if !url.starts_with("/services/") {
                    return Err(Error::unexpected(
                        200,
                        "nextRecordsUrl is not a /services/ path",
                        url.as_bytes(),
                    ));
                }
                self.next_url = Some(url);
            }
            (false, Some(_)) => self.done = true, // defensive: an empty page ends the stream
            (false, None) => {
                return Err(Error::unexpected(
                    200,
                    "done is false but nextRecordsUrl is missing",
                    b"",
                ));
            }
        }
        Ok(())
    }

    /// How many pages were fetched so far.
    pub fn pages_fetched(&self) -> u64 {
        self.pages
    }

    /// Collects every row, failing if there are more than `max` (a guard against
    /// loading a whole org into memory).
    pub async fn collect_max(mut self, max: usize) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        while let Some(row) = self.next().await {
            if out.len() == max {
                return Err(Error::Soql(format!(
                    "the query returned more than {max} rows"
                )));
            }
            out.push(row?);
        }
        Ok(out)
    }

    /// The rows as a `futures` stream.
    pub fn into_stream(self) -> impl Stream<Item = Result<T, Error>> + Send + 'static
    where
        T: Send + 'static,
    {
        futures_util::stream::unfold(
            self,
            |mut s| async move { s.next().await.map(|row| (row, s)) },
        )
    }
}

impl Client {
    /// Runs a SOQL query and returns its first page.
    pub async fn query<T: DeserializeOwned>(&self, soql: &str) -> Result<QueryPage<T>, Error> {
        self.call(Req::new(Method::GET, "query").query("q", soql))
            .await?
            .json()
    }

    /// Like [`query`](Self::query), including deleted and archived rows (`queryAll`).
    pub async fn query_all<T: DeserializeOwned>(&self, soql: &str) -> Result<QueryPage<T>, Error> {
        self.call(Req::new(Method::GET, "queryAll").query("q", soql))
            .await?
            .json()
    }

    /// Fetches the page at a `nextRecordsUrl`.
    pub async fn query_more<T: DeserializeOwned>(
        &self,
        next_records_url: &str,
    ) -> Result<QueryPage<T>, Error> {
        if !next_records_url.starts_with("/services/") {
            return Err(Error::Config(
                "nextRecordsUrl must be a /services/ path".into(),
            ));
        }
        self.call(Req::new(Method::GET, next_records_url))
            .await?
            .json()
    }

    /// Every row of a query, lazily, page by page. A session that expires
    /// between pages is renewed transparently.
    pub fn query_stream<T: DeserializeOwned>(&self, soql: &str) -> RecordStream<T> {
        RecordStream::new(
            self.clone(),
            Req::new(Method::GET, "query").query("q", soql),
        )
    }

    /// Like [`query_stream`](Self::query_stream) over `queryAll`.
    pub fn query_all_stream<T: DeserializeOwned>(&self, soql: &str) -> RecordStream<T> {
        RecordStream::new(
            self.clone(),
            Req::new(Method::GET, "queryAll").query("q", soql),
        )
    }

    /// Runs a SOSL search (`FIND {...} IN PHONE FIELDS RETURNING Lead(Id)`);
    /// escape user terms with [`soql::sosl_escape`](crate::soql::sosl_escape).
    pub async fn search(&self, sosl: &str) -> Result<Vec<DynamicRecord>, Error> {
        #[derive(Deserialize)]
        struct S {
            #[serde(rename = "searchRecords", default)]
            search_records: Vec<DynamicRecord>,
        }
        let s: S = self
            .call(Req::new(Method::GET, "search").query("q", sosl))
            .await?
            .json()?;
        Ok(s.search_records)
    }

    /// Rows of `object` modified after `watermark` (by `SystemModstamp`), oldest
    /// first.
    ///
    /// Do not pass the last row's `SystemModstamp` as is: a transaction that
    /// committed late can carry a stamp *before* rows you already read, and a
    /// strict `>` on the last stamp skips it for good. Re-read an overlap
    /// (pass `watermark - 5 minutes`) and make the effect of each row
    /// idempotent (a ledger keyed on the record and its new state, as the
    /// `order_updates` example does with the outbox), so rows read twice act
    /// once:
    ///
    /// ```no_run
    /// # async fn poll(client: salesforce_rest::Client, watermark: chrono::DateTime<chrono::Utc>) -> Result<(), salesforce_rest::Error> {
    /// let overlap = chrono::Duration::minutes(5);
    /// let mut rows = client.changed_since::<serde_json::Value>("Order", &["Status"], watermark - overlap)?;
    /// while let Some(row) = rows.next().await.transpose()? {
    ///     // act once per (record id, Status): a re-read row is a duplicate
    /// #   let _ = row;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn changed_since<T: DeserializeOwned>(
        &self,
        object: &str,
        fields: &[&str],
        watermark: DateTime<Utc>,
    ) -> Result<RecordStream<T>, Error> {
        let valid = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        };
        if !valid(object) || !fields.iter().all(|f| valid(f)) {
            return Err(Error::Soql(
                "object and field names must be API names".into(),
            ));
        }
        let mut list: Vec<&str> = fields.to_vec();
        if !list
            .iter()
            .any(|f| f.eq_ignore_ascii_case("SystemModstamp"))
        {
            list.push("SystemModstamp");
        }
        let soql = Soql::new(format!(
            "SELECT {} FROM {object} WHERE SystemModstamp > {{}} ORDER BY SystemModstamp ASC",
            list.join(", ")
        ))
        .bind(watermark)
        .build()?;
        Ok(self.query_stream(&soql))
    }
}
