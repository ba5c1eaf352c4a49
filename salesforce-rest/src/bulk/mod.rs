//! Bulk API 2.0: ingest jobs (insert, update, upsert, delete millions of
//! records from CSV) and query jobs (export a SOQL result as CSV), streamed
//! both ways so memory stays bounded by a chunk, never by the data.
//!
//! ```no_run
//! # async fn demo(client: salesforce_rest::Client) -> Result<(), salesforce_rest::Error> {
//! use futures_util::StreamExt as _;
//! use salesforce_rest::bulk::{NewIngestJob, Poll};
//!
//! #[derive(serde::Serialize)]
//! struct LeadRow { #[serde(rename = "LastName")] last_name: String, #[serde(rename = "Company")] company: String }
//!
//! let rows = (0..100_000).map(|i| LeadRow { last_name: format!("Lead {i}"), company: "Acme".into() });
//! let bulk = client.bulk();
//! let job = bulk.ingest(&NewIngestJob::insert("Lead"), rows, &Poll::default()).await?;
//! println!("{} processed, {} failed", job.records_processed(), job.records_failed());
//! let mut failures = bulk
//!     .failed_results::<std::collections::HashMap<String, String>>(&job.id)
//!     .await?;
//! while let Some(row) = failures.next().await {
//!     let row = row?;
//!     eprintln!("{} ({})", row.code(), row.record["LastName"]);
//! }
//! # Ok(()) }
//! ```

mod csv_stream;
mod jobs;

pub use csv_stream::{MAX_UPLOAD_BYTES, Rows};
pub use jobs::*;
