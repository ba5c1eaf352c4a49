//! Appointment reminders: one `appointment_reminder` template per appointment
//! when it is less than 24 hours away, with the date and time in US formats and
//! two quick-reply buttons (confirm / reschedule); the button replies that come
//! back by webhook are handled: confirm updates the appointment, reschedule
//! opens a Task and answers with a list of new slots (free-form: the customer
//! just wrote, the window is open), and picking a slot books it.
//!
//! Every send goes through the outbox under a ledger key (the appointment and
//! its start time): run it every hour or every minute, the reminder goes out
//! once; a rescheduled appointment gets a new one.
//!
//! ```text
//! cargo run --example appointment_reminders
//! ```
//!
//! Reads `WHATSAPP_*` and `SALESFORCE_*` (real APIs when set), `REDIS_URL` or
//! `BRIDGE_DATA_DIR` (the ledger: `<dir>/appointment_reminders`). The sandbox seeds
//! `Appointment__c` records (`Start__c`, `Time_Zone__c`, `Customer_Phone__c`,
//! `Customer_Name__c`, `Status__c`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use bridge_core::format;
use bridge_core::queue::Enqueued;
use bridge_core::replies::{
    appointment_reminder, appointment_reminder_text, parse_appointment_reply,
};
use bridge_core::sender::Outbound;
use bridge_core::service::{SendJob, SendService};
use chrono::{DateTime, Duration, Utc};
use examples::{Backends, BoxError, Stores};
use salesforce_rest::SalesforceId;
use salesforce_rest::records::{DynamicRecord, Field, SfDateTime, Task};
use salesforce_rest::soql::Soql;
use serde_json::{Value, json};
use whatsapp_cloud::messages::{Interactive, ListRow, ListSection};
use whatsapp_cloud::testkit::{payloads, signed_webhook};
use whatsapp_cloud::webhooks::{Event, MessageContent};

/// Queues the reminder of every appointment starting within 24 hours that
/// has not had one; returns `(appointment id, phone)` of each new one.
pub async fn send_reminders(
    b: &Backends,
    svc: &SendService,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, BoxError> {
    let soql = Soql::new("SELECT Id, Start__c, Time_Zone__c, Customer_Phone__c, Customer_Name__c FROM Appointment__c WHERE Start__c > {} AND Start__c <= {} AND Status__c = 'Scheduled'")
        .bind(now)
        .bind(now + Duration::hours(24))
        .build()?;
    let rows = b
        .salesforce
        .query_stream::<DynamicRecord>(&soql)
        .collect_max(5_000)
        .await?;
    let mut sent = Vec::new();
    // Reminders can wait when the org's daily allowance is nearly spent.
    let usage = b.salesforce.api_usage().map(|u| (u.used, u.max));
    if !examples::deferrable_budget().allows(bridge_core::budget::Urgency::Deferrable, usage) {
        println!("   paused: the org is above 90% of its daily API allowance; run again later");
        return Ok(sent);
    }
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
        let key = format!("appointment_reminder:{id}:{}", start.0.timestamp());
        let job = SendJob::new(
            phone,
            Outbound::whatsapp(t, appointment_reminder_text(start.0, zone)),
            "appointment_reminder",
        );
        if let Enqueued::Duplicate(_) = svc.outbox().enqueue(&key, &job).await? {
            continue;
        }
        println!(
            "-> {} ({}): {}  [Confirm] [Reschedule]",
            examples::pii::name(name),
            examples::pii::phone(phone),
            examples::pii::text(&appointment_reminder_text(start.0, zone))
        );
        sent.push((id.to_string(), phone.to_owned()));
    }
    Ok(sent)
}

/// Answers a customer through the outbox, once per message answered.
async fn answer(
    svc: &SendService,
    to: &str,
    reply_to: &str,
    message: Outbound,
) -> Result<(), BoxError> {
    let job = SendJob::new(to, message.reply_to(reply_to), "appointment_reply");
    svc.outbox()
        .enqueue(&format!("reply:{reply_to}"), &job)
        .await?;
    Ok(())
}

/// Books a slot picked from the list (`SLOT:<appointment id>:<unix time>`).
async fn book(
    b: &Backends,
    svc: &SendService,
    from: &str,
    message_id: &str,
    row: &str,
) -> Result<Option<String>, BoxError> {
    let Some((id, at)) = row.strip_prefix("SLOT:").and_then(|r| r.rsplit_once(':')) else {
        return Ok(None);
    };
    let (id, Some(start)) = (
        SalesforceId::parse(id)?,
        at.parse().ok().and_then(|t| DateTime::from_timestamp(t, 0)),
    ) else {
        return Ok(None);
    };
    b.salesforce
        .update(
            &id,
            &DynamicRecord::new()
                .set("Start__c", SfDateTime(start).to_salesforce())
                .set("Status__c", "Scheduled"),
        )
        .object("Appointment__c")
        .await?;
    let text = format!(
        "You're booked: {}. See you then!",
        format::date_time(start, chrono_tz::America::New_York)
    );
    answer(svc, from, message_id, Outbound::text(text)).await?;
    println!(
        "<- {}: picked a slot => Appointment {id} moved",
        examples::pii::phone(from)
    );
    Ok(Some(format!("booked {id}")))
}

/// Handles a verified webhook with button and list replies; returns what was done.
pub async fn handle_replies(
    b: &Backends,
    svc: &SendService,
    notification: &whatsapp_cloud::webhooks::Notification,
) -> Result<Vec<String>, BoxError> {
    let mut done = Vec::new();
    for event in notification.events() {
        let Event::Message(m) = event else { continue };
        if let MessageContent::Interactive(
            whatsapp_cloud::webhooks::InteractiveReply::ListReply { id, .. },
        ) = &m.message.content
        {
            let from = m.sender_wa_id().unwrap_or_default();
            done.extend(book(b, svc, from, &m.message.id, id).await?);
            continue;
        }
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
                    .update(&id, &DynamicRecord::new().set("Status__c", "Confirmed"))
                    .object("Appointment__c")
                    .await?;
                answer(
                    svc,
                    from,
                    &m.message.id,
                    Outbound::text("Thanks, your appointment is confirmed. See you then!"),
                )
                .await?;
                println!(
                    "<- {}: Confirm   => Appointment {id} confirmed",
                    examples::pii::phone(from)
                );
                done.push(format!("confirmed {id}"));
            }
            _ => {
                let mut task = Task::default();
                task.subject = Field::Value("Reschedule appointment requested on WhatsApp".into());
                task.what_id = Field::Value(id.to_string());
                task.status = Field::Value("Not Started".into());
                let task_id = b.salesforce.create(&task).await?;
                let day = (Utc::now() + Duration::days(2)).date_naive();
                let eastern = chrono_tz::America::New_York;
                let rows = [(9, 0), (11, 30), (14, 30)]
                    .iter()
                    .filter_map(|&(h, min)| {
                        let local = day.and_hms_opt(h, min, 0)?;
                        let start =
                            chrono::TimeZone::from_local_datetime(&eastern, &local).single()?;
                        Some(
                            ListRow::new(
                                format!("SLOT:{id}:{}", start.timestamp()),
                                format::time(start.with_timezone(&Utc), eastern),
                            )
                            .description(format::date(day)),
                        )
                    })
                    .collect();
                let list = Interactive::list(
                    "No problem! Pick a new time:",
                    "See times",
                    vec![ListSection::new("Available", rows)],
                );
                answer(
                    svc,
                    from,
                    &m.message.id,
                    Outbound::whatsapp(
                        list,
                        "Pick a new time: 9:00 AM, 11:30 AM or 2:30 PM (Eastern)",
                    ),
                )
                .await?;
                println!(
                    "<- {}: Reschedule => Task {task_id} created, new slots offered",
                    examples::pii::phone(from)
                );
                done.push(format!("reschedule {id}"));
            }
        }
    }
    Ok(done)
}

/// The whole flow in the sandbox (or against real APIs).
pub async fn run(b: &Backends, stores: &Stores) -> Result<Vec<String>, BoxError> {
    println!("Appointment reminders ({})\n", b.describe());
    let now = Utc::now();
    let svc = examples::send_service(b, stores);
    if let Some(org) = b
        .org
        .as_ref()
        .filter(|o| o.records("Appointment__c").is_empty())
    {
        for (name, phone, hours, zone) in [
            ("Ana", "14155550123", 23, "Eastern"),
            ("Ben", "14155550199", 20, "Pacific"),
            ("Carla", "14155550177", 72, "Central"),
        ] {
            let start = SfDateTime(now + Duration::hours(hours)).to_salesforce();
            org.insert("Appointment__c", json!({"Start__c": start, "Time_Zone__c": zone, "Customer_Phone__c": phone, "Customer_Name__c": name, "Status__c": "Scheduled"}));
        }
    }
    let sent = send_reminders(b, &svc, now).await?;
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
            done.extend(handle_replies(b, &svc, &n).await?);
        }
    }
    svc.drain(std::time::Duration::from_secs(120)).await;
    svc.shutdown().await;
    Ok(done)
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
            "usage: appointment_reminders [--show-pii]\n\nSends one reminder per appointment starting within 24 hours. Times are shown in each appointment's Time_Zone__c (default Eastern). Reads WHATSAPP_*, SALESFORCE_*, REDIS_URL, BRIDGE_DATA_DIR."
        );
        return Ok(());
    }
    if let Err(e) = examples::check_flags(&args, &[], &[]) {
        // Printed once, by the exit handler, with the usage.
        return Err(Box::new(examples::UsageError(format!(
            "{e}\nusage: appointment_reminders"
        ))));
    }
    let b = Backends::from_env().await?;
    let stores = Stores::for_tool("appointment_reminders").await?;
    let done = run(&b, &stores).await?;
    println!("\n{} reply(ies) handled", done.len());
    Ok(())
}
