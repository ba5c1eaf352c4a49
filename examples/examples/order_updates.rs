//! Order updates: poll the orders changed since a watermark
//! (`SystemModstamp`), and tell each customer when an order's **status
//! changes** to one that has a template: `Activated` → `order_confirmation`,
//! `Shipped` → `shipping_update`, `Delivered` → `order_delivered`.
//!
//! Each notice goes through the outbox under a ledger key (order and status), so
//! an edit of a shipped order sends nothing, a rerun sends nothing twice, and an
//! order moving New → Shipped → Delivered gets exactly two notices. Each poll
//! re-reads a five-minute overlap before the watermark (a transaction that
//! committed late is not lost; what was seen already is a ledger duplicate),
//! and the watermark is saved after the notices are queued. No delivery
//! estimate is invented: without `ETA__c` the template says it is to be
//! confirmed.
//!
//! ```text
//! cargo run --example order_updates
//! ```
//!
//! Reads `WHATSAPP_*` and `SALESFORCE_*` (real APIs when set), `REDIS_URL` or
//! `BRIDGE_DATA_DIR` (ledger and watermark: `<dir>/order_updates`), and
//! `ORDER_WATERMARK` (where to start when no watermark was saved; default 24
//! hours back). The sandbox seeds `Order__c` records (`Order_Number__c`,
//! `Status__c`, `Total__c`, `Customer_Phone__c`, `Customer_Name__c`,
//! `Carrier__c`, `Tracking__c`, `ETA__c`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use bridge_core::format;
use bridge_core::queue::Enqueued;
use bridge_core::replies::{
    order_confirmation, order_confirmation_text, order_delivered, order_delivered_text,
    shipping_update, shipping_update_text,
};
use bridge_core::sender::Outbound;
use bridge_core::service::{SendJob, SendService};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use examples::{Backends, BoxError, Stores};
use salesforce_rest::records::{DynamicRecord, SfDateTime};
use serde_json::{Value, json};

const FIELDS: &[&str] = &[
    "Id",
    "Order_Number__c",
    "Status__c",
    "Total__c",
    "Customer_Phone__c",
    "Customer_Name__c",
    "Carrier__c",
    "Tracking__c",
    "ETA__c",
];

/// How far before the watermark each poll reads again.
pub const OVERLAP: Duration = Duration::minutes(5);

/// The notice for a status, if it has one: the template and its text.
fn notice(row: &DynamicRecord) -> Option<(whatsapp_cloud::messages::Template, String, String)> {
    let text = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (name, number) = (text("Customer_Name__c"), text("Order_Number__c"));
    match text("Status__c").as_str() {
        "Shipped" => {
            let eta = NaiveDate::parse_from_str(&text("ETA__c"), "%Y-%m-%d").ok();
            let t = shipping_update(
                "shipping_update",
                "en_US",
                &name,
                &number,
                &text("Carrier__c"),
                eta,
                &text("Tracking__c"),
            );
            Some((
                t,
                shipping_update_text(&number, eta),
                "shipping_update".into(),
            ))
        }
        "Activated" => {
            let total = row
                .get("Total__c")
                .map(ToString::to_string)
                .and_then(|t| format::parse_money(&t))?;
            let t = order_confirmation(
                "order_confirmation",
                "en_US",
                &name,
                &number,
                total,
                Utc::now().date_naive(),
            );
            Some((
                t,
                order_confirmation_text(&number, total),
                "order_confirmation".into(),
            ))
        }
        "Delivered" => Some((
            order_delivered("order_delivered", "en_US", &name, &number),
            order_delivered_text(&number),
            "order_delivered".into(),
        )),
        _ => None,
    }
}

/// Polls once: queues the notices of status changes; returns them and the next watermark.
pub async fn poll(
    b: &Backends,
    svc: &SendService,
    watermark: DateTime<Utc>,
) -> Result<(Vec<String>, DateTime<Utc>), BoxError> {
    let mut rows =
        b.salesforce
            .changed_since::<DynamicRecord>("Order__c", FIELDS, watermark - OVERLAP)?;
    let mut next = watermark;
    let mut sent = Vec::new();
    while let Some(row) = rows.next().await {
        let row = row?;
        if let Some(stamp) = row
            .get("SystemModstamp")
            .and_then(Value::as_str)
            .and_then(SfDateTime::parse)
        {
            next = next.max(stamp.0);
        }
        let phone = row
            .get("Customer_Phone__c")
            .and_then(Value::as_str)
            .unwrap_or("");
        let (Some(id), false) = (row.id(), phone.is_empty()) else {
            continue;
        };
        let Some((template, text, kind)) = notice(&row) else {
            continue;
        };
        let status = row.get("Status__c").and_then(Value::as_str).unwrap_or("");
        // The ledger entry: one notice per order and status.
        let key = format!("order_status:{id}:{status}");
        let job = SendJob::new(phone, Outbound::whatsapp(template, text.clone()), kind);
        if let Enqueued::Duplicate(_) = svc.outbox().enqueue(&key, &job).await? {
            continue;
        }
        println!("-> {}: {text}", format::phone::format_or_raw(phone));
        sent.push(text);
    }
    Ok((sent, next))
}

/// Polls from the saved watermark (or `ORDER_WATERMARK`, or 24 hours back) and saves the next one.
pub async fn poll_and_save(b: &Backends, stores: &Stores) -> Result<Vec<String>, BoxError> {
    let saved = stores.marks.get("order_updates.watermark").await?;
    let start = saved
        .or_else(|| std::env::var("ORDER_WATERMARK").ok())
        .and_then(|w| SfDateTime::parse(&w))
        .map_or_else(|| Utc::now() - Duration::hours(24), |w| w.0);
    let svc = examples::send_service(b, stores);
    let (sent, next) = poll(b, &svc, start).await?;
    // Queued durably: the watermark can move on even if a send is still retrying.
    stores
        .marks
        .set("order_updates.watermark", &SfDateTime(next).to_salesforce())
        .await?;
    svc.drain(std::time::Duration::from_secs(120)).await;
    svc.shutdown().await;
    println!("next watermark: {}", SfDateTime(next));
    Ok(sent)
}

/// The sandbox story: orders are created, shipped, edited and delivered
/// between polls. Returns the number of notices.
pub async fn run(b: &Backends, stores: &Stores) -> Result<usize, BoxError> {
    println!("Order updates ({})\n", b.describe());
    let Some(org) = &b.org else {
        return Ok(poll_and_save(b, stores).await?.len());
    };
    let a = org.insert("Order__c", json!({"Order_Number__c": "1042", "Status__c": "Draft", "Total__c": 1499.99, "Customer_Phone__c": "14155550123", "Customer_Name__c": "Ana", "Carrier__c": "UPS", "Tracking__c": "1Z999AA10123456784", "ETA__c": "2026-12-02"}));
    let c = org.insert("Order__c", json!({"Order_Number__c": "1043", "Status__c": "Draft", "Total__c": 89.5, "Customer_Phone__c": "14155550199", "Customer_Name__c": "Ben"}));
    let svc = examples::send_service(b, stores);
    let mut total = 0;
    // The sandbox's clock starts at the epoch.
    let mut watermark = DateTime::from_timestamp(0, 0).unwrap_or_default();
    let steps: [(&str, Vec<(&str, Value)>); 4] = [
        ("drafts are not announced", vec![]),
        (
            "1042 shipped, 1043 activated",
            vec![
                (a.as_str(), json!({"Status__c": "Shipped"})),
                (c.as_str(), json!({"Status__c": "Activated"})),
            ],
        ),
        (
            "1042 edited while shipped (new tracking number)",
            vec![(a.as_str(), json!({"Tracking__c": "1Z999AA10123456785"}))],
        ),
        (
            "1042 delivered",
            vec![(a.as_str(), json!({"Status__c": "Delivered"}))],
        ),
    ];
    for (what, changes) in steps {
        for (id, fields) in changes {
            org.touch("Order__c", id, fields);
        }
        let (sent, next) = poll(b, &svc, watermark).await?;
        println!("poll ({what}): {} notice(s)", sent.len());
        total += sent.len();
        watermark = next;
    }
    svc.drain(std::time::Duration::from_secs(60)).await;
    svc.shutdown().await;
    Ok(total)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit_code(cli().await)
}

async fn cli() -> Result<(), BoxError> {
    examples::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "usage: order_updates\n\nNotifies customers of order status changes since the saved watermark. Reads WHATSAPP_*, SALESFORCE_*, REDIS_URL, BRIDGE_DATA_DIR, ORDER_WATERMARK."
        );
        return Ok(());
    }
    if let Err(e) = examples::check_flags(&args, &[], &[]) {
        eprintln!("error: {e}\nusage: order_updates");
        return Err(Box::new(examples::UsageError(e)));
    }
    let b = Backends::from_env().await?;
    let stores = Stores::for_tool("order_updates").await?;
    run(&b, &stores).await?;
    Ok(())
}
