//! Payment reminders: find invoices due in 48 hours (a SOQL query on
//! `Invoice__c`, or on Opportunities with `--object Opportunity`), send each
//! customer the approved `payment_reminder` template with the amount and date in
//! US formats ("Your payment of $1,499.99 is due on 04/30/2025"), which works
//! outside the 24-hour window, and a follow-up when an invoice is still unpaid
//! 24 hours later.
//!
//! Every send goes through the outbox under a ledger key (template, invoice,
//! due date): run it as often as you like, from several machines at once, and
//! each reminder and follow-up goes out once (retried on transient errors,
//! dead-lettered with its error otherwise).
//!
//! ```text
//! cargo run --example payment_reminders               # sends
//! cargo run --example payment_reminders -- --dry-run  # prints what would be sent
//! ```
//!
//! Reads `WHATSAPP_*` and `SALESFORCE_*` (real APIs when set), `CUSTOMER_TIME_ZONE`
//! (whose calendar "today" is; default Eastern), `REDIS_URL` or
//! `BRIDGE_DATA_DIR` (the ledger: `<dir>/payment_reminders`). Template names:
//! `payment_reminder` and `payment_reminder_followup` (en_US), each with
//! {{1}} name, {{2}} amount, {{3}} due date and a URL button.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use bridge_core::budget::Urgency;
use bridge_core::format;
use bridge_core::queue::Enqueued;
use bridge_core::replies::{payment_reminder, payment_reminder_text};
use bridge_core::sender::Outbound;
use bridge_core::service::SendJob;
use chrono::{Duration, NaiveDate, Utc};
use examples::{Backends, BoxError, Stores};
use salesforce_rest::records::DynamicRecord;
use salesforce_rest::soql::Soql;
use serde_json::{Value, json};

/// Where the data lives: an invoice object or Opportunities.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    object: &'static str,
    amount: &'static str,
    due: &'static str,
    phone: &'static str,
    name: &'static str,
    paid_filter: &'static str,
    reminded: &'static str,
}

const INVOICE: Fields = Fields {
    object: "Invoice__c",
    amount: "Amount__c",
    due: "Due_Date__c",
    phone: "Customer_Phone__c",
    name: "Customer_Name__c",
    paid_filter: "Status__c != 'Paid'",
    reminded: "Reminder_Sent__c",
};
const OPPORTUNITY: Fields = Fields {
    object: "Opportunity",
    amount: "Amount",
    due: "CloseDate",
    phone: "Contact_Phone__c",
    name: "Contact_Name__c",
    paid_filter: "IsWon = false",
    reminded: "Reminder_Sent__c",
};

/// The default field map (`Invoice__c`).
pub fn invoice_fields() -> Fields {
    INVOICE
}

/// What was (or would have been) sent.
#[derive(Debug, Default)]
pub struct Sent {
    /// First reminders.
    pub reminders: Vec<String>,
    /// Follow-ups.
    pub follow_ups: Vec<String>,
    /// Reminders the ledger says went out on an earlier run.
    pub already_sent: usize,
}

fn cents(v: &Value) -> Option<i64> {
    // Read the number's text, never through a float.
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    format::parse_money(&text)
}

/// Runs the job for `today`.
pub async fn run(
    b: &Backends,
    stores: &Stores,
    f: Fields,
    today: NaiveDate,
    dry_run: bool,
) -> Result<Sent, BoxError> {
    println!(
        "Payment reminders for {} ({}{})\n",
        format::date(today),
        b.describe(),
        if dry_run { ", dry run" } else { "" }
    );
    if let Some(org) = &b.org
        && org.records(f.object).is_empty()
    {
        seed(org, f, today);
    }
    let svc = examples::send_service(b, stores);
    let mut to_mark = Vec::new();
    let mut sent = Sent::default();
    // Due in 48 hours: the first reminder. Due in 24 hours, reminded, unpaid: the follow-up.
    for (due, follow_up) in [
        (today + Duration::days(2), false),
        (today + Duration::days(1), true),
    ] {
        let soql = Soql::new(format!(
            "SELECT Id, {amount}, {due_f}, {phone}, {name}, {rem} FROM {obj} WHERE {due_f} = {{}} AND {paid} AND {rem} = {{}}",
            amount = f.amount, due_f = f.due, phone = f.phone, name = f.name, rem = f.reminded, obj = f.object, paid = f.paid_filter
        ))
        .bind(due)
        .bind(follow_up)
        .build()?;
        let rows = b
            .salesforce
            .query_stream::<DynamicRecord>(&soql)
            .collect_max(10_000)
            .await?;
        // Reminders can wait; the org's allowance is shared with new Cases.
        let usage = b.salesforce.api_usage().map(|u| (u.used, u.max));
        if !examples::deferrable_budget().allows(Urgency::Deferrable, usage) {
            println!("   paused: the org is above 90% of its daily API allowance; run again later");
            break;
        }
        for row in rows {
            let (Some(amount), Some(phone)) = (
                row.get(f.amount).and_then(cents),
                row.get(f.phone).and_then(Value::as_str),
            ) else {
                println!("   skipped {:?}: no amount or phone", row.id());
                continue;
            };
            let name = row.get(f.name).and_then(Value::as_str).unwrap_or("there");
            let template_name = if follow_up {
                "payment_reminder_followup"
            } else {
                "payment_reminder"
            };
            let id = row.id().map(|i| i.to_string()).unwrap_or_default();
            let template = payment_reminder(
                template_name,
                "en_US",
                name,
                amount,
                due,
                &format!("pay/{id}"),
            );
            let line = format!(
                "{template_name} to {}: {}",
                format::phone::format_or_raw(phone),
                payment_reminder_text(amount, due)
            );
            // What stdout shows: redacted unless --show-pii.
            let shown = format!(
                "{template_name} to {}: {}",
                examples::pii::phone(phone),
                examples::pii::text(&payment_reminder_text(amount, due))
            );
            if dry_run {
                println!("   would send {shown}");
            } else {
                let job = SendJob::new(
                    phone,
                    Outbound::whatsapp(template, payment_reminder_text(amount, due)),
                    template_name,
                );
                // The ledger entry: one send per template, invoice and due date.
                let key = format!("{template_name}:{id}:{due}");
                if let Enqueued::Duplicate(_) = svc.outbox().enqueue(&key, &job).await? {
                    println!("   already sent {shown}");
                    sent.already_sent += 1;
                    continue;
                }
                println!("-> queued {shown}");
                if let (false, Some(rid)) = (follow_up, row.id()) {
                    to_mark.push(rid);
                }
            }
            if follow_up {
                sent.follow_ups.push(line);
            } else {
                sent.reminders.push(line);
            }
        }
    }
    if !svc.drain(std::time::Duration::from_secs(120)).await {
        println!(
            "some sends are still waiting for a retry; they stay in the outbox for the next run"
        );
    }
    svc.shutdown().await;
    for rid in to_mark {
        b.salesforce
            .update(&rid, &DynamicRecord::new().set(f.reminded, true))
            .object(f.object)
            .await?;
    }
    Ok(sent)
}

fn seed(org: &salesforce_rest::testkit::MockOrg, f: Fields, today: NaiveDate) {
    let day = |d: i64| (today + Duration::days(d)).format("%Y-%m-%d").to_string();
    for (name, phone, amount, due, status, reminded) in [
        (
            "Ana",
            "14155550123",
            json!(1499.99),
            day(2),
            "Unpaid",
            false,
        ),
        ("Ben", "14155550199", json!(250), day(2), "Paid", false),
        ("Carla", "14155550177", json!(89.5), day(1), "Unpaid", true),
        ("Dan", "14155550188", json!(10), day(5), "Unpaid", false),
    ] {
        org.insert(f.object, json!({ f.name: name, f.phone: phone, f.amount: amount, f.due: due, "Status__c": status, "IsWon": status == "Paid", f.reminded: reminded }));
    }
}

const USAGE: &str =
    "usage: payment_reminders [--dry-run] [--object Invoice__c|Opportunity] [--show-pii]";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit_code(cli().await)
}

async fn cli() -> Result<(), BoxError> {
    examples::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "{USAGE}\n\nSends the payment_reminder template for invoices due in 48 hours and a follow-up\nfor those still unpaid a day later. Reads WHATSAPP_*, SALESFORCE_*, REDIS_URL, BRIDGE_DATA_DIR, CUSTOMER_TIME_ZONE (whose \"today\" and due dates, default America/New_York)."
        );
        return Ok(());
    }
    if let Err(e) = examples::check_flags(&args, &["--dry-run"], &["--object"]) {
        // Printed once, by the exit handler, with the usage.
        return Err(Box::new(examples::UsageError(format!("{e}\n{USAGE}"))));
    }
    let dry_run = args.iter().any(|a| a == "--dry-run");
    let fields = match args
        .iter()
        .position(|a| a == "--object")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
    {
        Some("Opportunity") => OPPORTUNITY,
        Some("Invoice__c") | None => INVOICE,
        Some(other) => {
            return Err(format!("unknown --object {other}: use Invoice__c or Opportunity").into());
        }
    };
    let b = Backends::from_env().await?;
    let stores = Stores::for_tool("payment_reminders").await?;
    // "Due in 48 hours" counts in the customer's calendar, not UTC's.
    let today = Utc::now()
        .with_timezone(&examples::customer_zone()?)
        .date_naive();
    let sent = run(&b, &stores, fields, today, dry_run).await?;
    println!(
        "\n{} reminder(s), {} follow-up(s), {} already sent earlier{}",
        sent.reminders.len(),
        sent.follow_ups.len(),
        sent.already_sent,
        if dry_run {
            " (dry run: nothing sent)"
        } else {
            ""
        }
    );
    Ok(())
}
