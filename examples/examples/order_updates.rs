//! Order updates: poll the orders whose status changed since a watermark
//! (`SystemModstamp`), and send each customer the `shipping_update` template
//! (when shipped) or the `order_confirmation` template (when activated), then
//! move the watermark forward. Run it on a schedule; keep the watermark in your
//! own storage (this example keeps it in `ORDER_WATERMARK` or starts 24 hours back).
//!
//! ```text
//! cargo run --example order_updates
//! ```
//!
//! Reads `WHATSAPP_*` and `SALESFORCE_*` (real APIs when set). The sandbox seeds
//! `Order__c` records (`Order_Number__c`, `Status__c`, `Total__c`,
//! `Customer_Phone__c`, `Customer_Name__c`, `Carrier__c`, `Tracking__c`, `ETA__c`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use bridge_core::format;
use bridge_core::replies::{order_confirmation, shipping_update};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use examples::{Backends, BoxError};
use salesforce_rest::records::{DynamicRecord, SfDateTime};
use serde_json::{Value, json};
use whatsapp_cloud::messages::Message;

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

/// Polls once; returns the notices sent and the next watermark.
pub async fn poll(
    b: &Backends,
    watermark: DateTime<Utc>,
) -> Result<(Vec<String>, DateTime<Utc>), BoxError> {
    let mut rows = b
        .salesforce
        .changed_since::<DynamicRecord>("Order__c", FIELDS, watermark)?;
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
        let text = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let (phone, name, number) = (
            text("Customer_Phone__c"),
            text("Customer_Name__c"),
            text("Order_Number__c"),
        );
        if phone.is_empty() {
            continue;
        }
        let template = match text("Status__c").as_str() {
            "Shipped" => {
                let eta = NaiveDate::parse_from_str(&text("ETA__c"), "%Y-%m-%d")
                    .unwrap_or_else(|_| Utc::now().date_naive() + Duration::days(3));
                let line = format!(
                    "order {number} shipped with {}, arriving by {}",
                    text("Carrier__c"),
                    format::date(eta)
                );
                sent.push(line);
                shipping_update(
                    "shipping_update",
                    "en_US",
                    &name,
                    &number,
                    &text("Carrier__c"),
                    eta,
                    &text("Tracking__c"),
                )
            }
            "Activated" => {
                let total = row
                    .get("Total__c")
                    .map(ToString::to_string)
                    .and_then(|t| format::parse_money(&t))
                    .unwrap_or(0);
                sent.push(format!(
                    "order {number} confirmed, total {}",
                    format::money(total)
                ));
                order_confirmation(
                    "order_confirmation",
                    "en_US",
                    &name,
                    &number,
                    total,
                    Utc::now().date_naive(),
                )
            }
            _ => continue,
        };
        let r = b
            .whatsapp
            .send(Message::new(phone.as_str(), template))
            .await?;
        println!(
            "-> {} ({}): {} [{}]",
            name,
            format::phone::format_or_raw(&phone),
            sent.last().map(String::as_str).unwrap_or(""),
            r.message_id().unwrap_or("-")
        );
    }
    Ok((sent, next))
}

/// Seeds the sandbox, polls, changes two orders, polls again.
pub async fn run(b: &Backends) -> Result<usize, BoxError> {
    println!("Order updates ({})\n", b.describe());
    let start = std::env::var("ORDER_WATERMARK")
        .ok()
        .and_then(|w| SfDateTime::parse(&w))
        .map_or_else(|| Utc::now() - Duration::hours(24), |w| w.0);
    let mut total = 0;
    let Some(org) = &b.org else {
        let (sent, next) = poll(b, start).await?;
        println!("\nnext watermark: {}", SfDateTime(next));
        return Ok(sent.len());
    };
    let a = org.insert("Order__c", json!({"Order_Number__c": "1042", "Status__c": "Draft", "Total__c": 1499.99, "Customer_Phone__c": "14155550123", "Customer_Name__c": "Ana", "Carrier__c": "UPS", "Tracking__c": "1Z999AA10123456784", "ETA__c": "2026-12-02"}));
    let c = org.insert("Order__c", json!({"Order_Number__c": "1043", "Status__c": "Draft", "Total__c": 89.5, "Customer_Phone__c": "14155550199", "Customer_Name__c": "Ben"}));
    // The first poll starts from the beginning of the sandbox's clock.
    let (sent, watermark) = poll(b, DateTime::from_timestamp(0, 0).unwrap_or(start)).await?;
    println!(
        "first poll: {} notice(s) (drafts are not announced); watermark {}",
        sent.len(),
        SfDateTime(watermark)
    );
    org.touch("Order__c", &a, json!({"Status__c": "Shipped"}));
    org.touch("Order__c", &c, json!({"Status__c": "Activated"}));
    let (sent, watermark) = poll(b, watermark).await?;
    total += sent.len();
    let (again, _) = poll(b, watermark).await?;
    println!(
        "\nsecond poll: {} notice(s); third poll: {} (nothing changed since the watermark)",
        sent.len(),
        again.len()
    );
    Ok(total)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    examples::init_tracing();
    let b = Backends::from_env().await?;
    run(&b).await?;
    Ok(())
}
