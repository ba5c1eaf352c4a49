//! Appointment reminders: 24 hours ahead, the `appointment_reminder` template
//! with the date and time in US formats and two quick-reply buttons (confirm /
//! reschedule); the button replies that come back by webhook are handled:
//! confirm updates the appointment, reschedule opens a Task and answers with a
//! list of new slots (free-form: the customer just wrote, the window is open).
//!
//! ```text
//! cargo run --example appointment_reminders
//! ```
//!
//! Reads `WHATSAPP_*` and `SALESFORCE_*` (real APIs when set). The sandbox seeds
//! `Appointment__c` records (`Start__c`, `Time_Zone__c`, `Customer_Phone__c`,
//! `Customer_Name__c`, `Status__c`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use bridge_core::format;
use bridge_core::replies::{
    appointment_reminder, appointment_reminder_text, parse_appointment_reply,
};
use chrono::{DateTime, Duration, Utc};
use examples::{Backends, BoxError};
use salesforce_rest::SalesforceId;
use salesforce_rest::records::{DynamicRecord, Field, SfDateTime, Task};
use salesforce_rest::soql::Soql;
use serde_json::{Value, json};
use whatsapp_cloud::messages::{Interactive, ListRow, ListSection, Message};
use whatsapp_cloud::testkit::{payloads, signed_webhook};
use whatsapp_cloud::webhooks::{Event, MessageContent};

/// Sends tomorrow's reminders; returns `(appointment id, phone)` of each.
pub async fn send_reminders(
    b: &Backends,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, BoxError> {
    let soql = Soql::new("SELECT Id, Start__c, Time_Zone__c, Customer_Phone__c, Customer_Name__c FROM Appointment__c WHERE Start__c > {} AND Start__c <= {} AND Status__c = 'Scheduled'")
        .bind(now + Duration::hours(23))
        .bind(now + Duration::hours(25))
        .build()?;
    let rows = b
        .salesforce
        .query_stream::<DynamicRecord>(&soql)
        .collect_max(5_000)
        .await?;
    let mut sent = Vec::new();
    for row in rows {
        let (Some(id), Some(phone), Some(start)) = (
            row.id(),
            row.get("Customer_Phone__c").and_then(Value::as_str),
            row.get("Start__c")
                .and_then(Value::as_str)
                .and_then(SfDateTime::parse),
        ) else {
            continue;
        };
        let zone = row
            .get("Time_Zone__c")
            .and_then(Value::as_str)
            .and_then(format::us_zone)
            .unwrap_or(chrono_tz::America::New_York);
        let name = row
            .get("Customer_Name__c")
            .and_then(Value::as_str)
            .unwrap_or("there");
        let t = appointment_reminder(
            "appointment_reminder",
            "en_US",
            name,
            start.0,
            zone,
            id.as_str(),
        );
        b.whatsapp.send(Message::new(phone, t)).await?;
        println!(
            "-> {name} ({}): {}  [Confirm] [Reschedule]",
            format::phone::format_or_raw(phone),
            appointment_reminder_text(start.0, zone)
        );
        sent.push((id.to_string(), phone.to_owned()));
    }
    Ok(sent)
}

/// Handles a verified webhook with button replies; returns what was done.
pub async fn handle_replies(
    b: &Backends,
    notification: &whatsapp_cloud::webhooks::Notification,
) -> Result<Vec<String>, BoxError> {
    let mut done = Vec::new();
    for event in notification.events() {
        let Event::Message(m) = event else { continue };
        let payload = match &m.message.content {
            MessageContent::Button {
                payload: Some(p), ..
            } => p.clone(),
            MessageContent::Interactive(
                whatsapp_cloud::webhooks::InteractiveReply::ButtonReply { id, .. },
            ) => id.clone(),
            _ => continue,
        };
        let Some((action, id)) = parse_appointment_reply(&payload) else {
            continue;
        };
        let id = SalesforceId::parse(id)?;
        let from = m.sender_wa_id().unwrap_or_default();
        match action {
            "CONFIRM" => {
                b.salesforce
                    .update_dynamic(
                        "Appointment__c",
                        &id,
                        &DynamicRecord::new().set("Status__c", "Confirmed"),
                    )
                    .await?;
                b.whatsapp
                    .send_text(from, "Thanks, your appointment is confirmed. See you then!")
                    .await?;
                println!(
                    "<- {}: Confirm   => Appointment {id} confirmed",
                    format::phone::format_or_raw(from)
                );
                done.push(format!("confirmed {id}"));
            }
            _ => {
                let mut task = Task::default();
                task.subject = Field::Value("Reschedule appointment requested on WhatsApp".into());
                task.what_id = Field::Value(id.to_string());
                task.status = Field::Value("Not Started".into());
                let task_id = b.salesforce.create(&task).await?;
                let tomorrow = (Utc::now() + Duration::days(2)).date_naive();
                let rows = ["9:00 AM", "11:30 AM", "2:30 PM"]
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        ListRow::new(format!("SLOT:{id}:{i}"), *t)
                            .description(format!("{} (Eastern)", format::date(tomorrow)))
                    })
                    .collect();
                let list = Interactive::list(
                    "No problem! Pick a new time:",
                    "See times",
                    vec![ListSection::new("Available", rows)],
                );
                b.whatsapp
                    .send(Message::new(from, list).reply_to(m.message.id.clone()))
                    .await?;
                println!(
                    "<- {}: Reschedule => Task {task_id} created, new slots offered",
                    format::phone::format_or_raw(from)
                );
                done.push(format!("reschedule {id}"));
            }
        }
    }
    Ok(done)
}

/// The whole flow in the sandbox (or against real APIs).
pub async fn run(b: &Backends) -> Result<Vec<String>, BoxError> {
    println!("Appointment reminders ({})\n", b.describe());
    let now = Utc::now();
    if let Some(org) = &b.org {
        for (name, phone, hours, zone) in [
            ("Ana", "14155550123", 24, "Eastern"),
            ("Ben", "14155550199", 24, "Pacific"),
            ("Carla", "14155550177", 72, "Central"),
        ] {
            let start = SfDateTime(now + Duration::hours(hours)).to_salesforce();
            org.insert("Appointment__c", json!({"Start__c": start, "Time_Zone__c": zone, "Customer_Phone__c": phone, "Customer_Name__c": name, "Status__c": "Scheduled"}));
        }
    }
    let sent = send_reminders(b, now).await?;
    let mut done = Vec::new();
    if b.graph.is_some() {
        // The sandbox customers answer with the buttons.
        for ((id, phone), choice) in sent.iter().zip(["CONFIRM", "RESCHEDULE"]) {
            let body = payloads::envelope(vec![payloads::messages_value(
                &[payloads::contact(phone, "Customer")],
                &[
                    json!({"from": phone, "id": format!("wamid.AR{id}"), "timestamp": payloads::now(), "type": "button", "button": {"payload": format!("{choice}:{id}"), "text": choice}}),
                ],
            )]);
            let (bytes, sig) = signed_webhook(&body, &b.app_secret);
            let n = b.webhook.receive(Some(&sig), &bytes)?;
            done.extend(handle_replies(b, &n).await?);
        }
    }
    Ok(done)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    examples::init_tracing();
    let b = Backends::from_env().await?;
    let done = run(&b).await?;
    println!("\n{} reply(ies) handled", done.len());
    Ok(())
}
