//! Bulk jobs for large syncs (Bulk API 2.0), streamed both ways:
//!
//! - `leads`: export every Lead created from WhatsApp (`LeadSource =
//!   'WhatsApp'`) in a date range to a CSV file, row by row.
//! - `backfill-cases`: create the Cases of a WhatsApp history export (a CSV of
//!   `message_id,phone,name,text,received_at`) in one ingest job, upserted on
//!   the message id so a rerun adds nothing twice; rows Salesforce refuses
//!   are printed with their errors.
//!
//! ```text
//! cargo run --example bulk_export -- leads --from $(date -u +%F) --to $(date -u +%F) --out leads.csv
//! cargo run --example bulk_export -- backfill-cases --file history.csv
//! ```
//!
//! Reads `SALESFORCE_*` (the sandbox org when unset; it is seeded with Leads
//! dated today and, without `--file`, a generated history of 2,000
//! messages).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write as _;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use examples::{Backends, BoxError};
use futures_util::StreamExt as _;
use salesforce_rest::bulk::{NewIngestJob, Poll};
use salesforce_rest::soql::Soql;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A Lead as exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadRow {
    /// The record id.
    #[serde(rename = "Id")]
    pub id: String,
    /// The name.
    #[serde(rename = "LastName")]
    pub last_name: String,
    /// The customer's WhatsApp number.
    #[serde(rename = "Phone", default)]
    pub phone: Option<String>,
    /// When it was created.
    #[serde(rename = "CreatedDate")]
    pub created: String,
}

/// A message of a WhatsApp history export.
#[derive(Debug, Clone, Deserialize)]
pub struct HistoryRow {
    /// The wamid.
    pub message_id: String,
    /// The customer's number.
    pub phone: String,
    /// The customer's name.
    pub name: String,
    /// The text.
    pub text: String,
    /// When it arrived (ISO 8601).
    pub received_at: String,
}

/// A Case as uploaded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseRow {
    #[serde(rename = "WhatsApp_Message_Id__c")]
    message_id: String,
    #[serde(rename = "Subject")]
    subject: String,
    #[serde(rename = "Description")]
    description: String,
    #[serde(rename = "SuppliedPhone")]
    phone: String,
    #[serde(rename = "SuppliedName")]
    name: String,
    #[serde(rename = "Origin")]
    origin: String,
}

impl From<HistoryRow> for CaseRow {
    fn from(h: HistoryRow) -> Self {
        let subject: String = h.text.chars().take(80).collect();
        Self {
            message_id: h.message_id,
            subject: format!("WhatsApp: {subject}"),
            description: format!("{}\n\n(received {})", h.text, h.received_at),
            phone: h.phone,
            name: h.name,
            origin: "WhatsApp".into(),
        }
    }
}

fn poll() -> Poll {
    Poll::new(
        Duration::from_millis(500),
        Duration::from_secs(20),
        Duration::from_secs(2 * 3600),
    )
}

/// Streams the WhatsApp Leads created in `[from, to]` into `out`; returns how many.
pub async fn export_leads(
    b: &Backends,
    from: NaiveDate,
    to: NaiveDate,
    poll: &Poll,
    out: &mut dyn std::io::Write,
) -> Result<u64, BoxError> {
    if to < from {
        return Err(format!("--to {to} is before --from {from}").into());
    }
    let start = Utc.from_utc_datetime(&from.and_hms_opt(0, 0, 0).unwrap_or_default());
    let end = Utc.from_utc_datetime(
        &(to + chrono::Days::new(1))
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default(),
    );
    let soql = Soql::new("SELECT Id, LastName, Phone, CreatedDate FROM Lead WHERE LeadSource = 'WhatsApp' AND CreatedDate > {} AND CreatedDate <= {}")
        .bind(start - chrono::Duration::seconds(1))
        .bind(end - chrono::Duration::seconds(1))
        .build()?;
    let mut rows = b.salesforce.bulk().query::<LeadRow>(&soql, poll).await?;
    let mut csv = csv::Writer::from_writer(out);
    let mut n = 0;
    while let Some(row) = rows.next().await {
        csv.serialize(row?)?;
        n += 1;
    }
    csv.flush()?;
    Ok(n)
}

/// What a backfill did.
#[derive(Debug, Default)]
pub struct Backfill {
    /// Cases created.
    pub created: u64,
    /// Cases that existed already (a rerun).
    pub existing: u64,
    /// Rows refused, with Salesforce's error.
    pub failed: Vec<(String, String)>,
}

/// Upserts one Case per history row, in one ingest job.
pub async fn backfill_cases<R>(b: &Backends, history: R, poll: &Poll) -> Result<Backfill, BoxError>
where
    R: std::io::Read + Send + 'static,
{
    let rows = csv::Reader::from_reader(history)
        .into_deserialize::<HistoryRow>()
        .enumerate()
        .filter_map(|(i, r)| match r {
            Ok(h) => Some(CaseRow::from(h)),
            Err(e) => {
                // A broken line is reported, never silently dropped.
                eprintln!("   history line {}: skipped: {e}", i + 2);
                None
            }
        });
    let bulk = b.salesforce.bulk();
    let job = bulk
        .ingest(
            &NewIngestJob::upsert("Case", "WhatsApp_Message_Id__c"),
            rows,
            poll,
        )
        .await?;
    let mut report = Backfill::default();
    let mut ok = bulk.successful_results::<CaseRow>(&job.id).await?;
    while let Some(row) = ok.next().await {
        if row?.created {
            report.created += 1;
        } else {
            report.existing += 1;
        }
    }
    let mut failed = bulk.failed_results::<CaseRow>(&job.id).await?;
    while let Some(row) = failed.next().await {
        let row = row?;
        report.failed.push((row.record.message_id, row.error));
    }
    Ok(report)
}

/// A generated history export of `n` messages (sandbox).
pub fn sample_history(n: usize) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["message_id", "phone", "name", "text", "received_at"]);
    for i in 0..n {
        let _ = w.write_record([
            format!("wamid.HIST{i:06}"),
            format!("1415555{:04}", i % 10_000),
            format!("Customer {i}"),
            format!("Order #{} arrived damaged, \"box crushed\"", 10_000 + i),
            format!("2026-10-{:02}T14:30:00Z", 1 + i % 28),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit_code(cli().await)
}

const HELP: &str = "usage: bulk_export leads --from YYYY-MM-DD --to YYYY-MM-DD [--out FILE]\n       bulk_export backfill-cases [--file HISTORY.csv]\n\nLarge syncs through Bulk API 2.0, streamed.\n  leads           WhatsApp Leads (LeadSource = WhatsApp) created in the range, as CSV\n  backfill-cases  Cases from a WhatsApp history export: a CSV with the header\n                  message_id,phone,name,text,received_at (received_at kept as written),\n                  upserted on the message id (a rerun adds nothing twice)\nReads SALESFORCE_* (the sandbox org when unset).";

async fn cli() -> Result<(), BoxError> {
    examples::init_tracing();
    let all: Vec<String> = std::env::args().skip(1).collect();
    if all.iter().any(|a| a == "--help" || a == "-h") {
        println!("{HELP}");
        return Ok(());
    }
    // The job is the first word; flags follow it.
    let (job, args) = match all.split_first() {
        Some((job, rest)) if !job.starts_with('-') => (job.clone(), rest.to_vec()),
        _ => (String::new(), all.clone()),
    };
    examples::check_flags(&args, &[], &["--from", "--to", "--out", "--file"])
        .map_err(|e| examples::UsageError(format!("{e}\n{HELP}")))?;
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let date = |flag: &str| -> Result<NaiveDate, BoxError> {
        let v = value(flag)
            .ok_or_else(|| examples::UsageError(format!("{flag} is required\n{HELP}")))?;
        v.parse().map_err(|_| {
            Box::new(examples::UsageError(format!(
                "{flag} {v:?} is not a date: use YYYY-MM-DD"
            ))) as BoxError
        })
    };
    let b = Backends::from_env().await?;
    println!("Bulk export ({})\n", b.describe());
    match job.as_str() {
        "leads" => {
            let (from, to) = (date("--from")?, date("--to")?);
            if let Some(org) = &b.org {
                for i in 0..500 {
                    org.insert("Lead", json!({"LastName": format!("Customer {i}"), "Company": "WhatsApp", "Phone": format!("1415555{i:04}"), "LeadSource": if i % 5 == 0 { "Web" } else { "WhatsApp" }}));
                }
            }
            let n = match value("--out") {
                Some(path) => {
                    let mut file = std::fs::File::create(&path)
                        .map_err(|e| format!("cannot create {path}: {e}"))?;
                    let n = export_leads(&b, from, to, &poll(), &mut file).await?;
                    file.sync_all()?;
                    n
                }
                None => export_leads(&b, from, to, &poll(), &mut std::io::stdout()).await?,
            };
            eprintln!("{n} Lead(s) exported");
        }
        "backfill-cases" => {
            let report = match value("--file") {
                Some(path) => {
                    let file = std::fs::File::open(&path)
                        .map_err(|e| format!("cannot open {path}: {e}"))?;
                    backfill_cases(&b, file, &poll()).await?
                }
                None if b.org.is_some() => {
                    backfill_cases(&b, std::io::Cursor::new(sample_history(2_000)), &poll()).await?
                }
                None => {
                    return Err(examples::UsageError(format!(
                        "--file is required against a real org\n{HELP}"
                    ))
                    .into());
                }
            };
            println!(
                "{} Case(s) created, {} already there, {} refused",
                report.created,
                report.existing,
                report.failed.len()
            );
            for (id, error) in &report.failed {
                println!("   {id}: {error}");
            }
            std::io::stdout().flush()?;
        }
        "" => {
            return Err(examples::UsageError(format!(
                "name a job: leads or backfill-cases\n{HELP}"
            ))
            .into());
        }
        other => {
            return Err(examples::UsageError(format!(
                "unknown job {other:?}: leads or backfill-cases\n{HELP}"
            ))
            .into());
        }
    }
    Ok(())
}
