//! Quickstart: a customer's WhatsApp message arrives as a signed webhook, is
//! verified, parsed, deduplicated, routed ("my order arrived broken" → Case,
//! "I'd like a quote" → Lead), written to Salesforce, and answered with the
//! case number. The customer's follow-up joins the same Case; a customer who
//! is already a Contact gets no Lead; every message is one record of the
//! conversation ledger (`WhatsApp_Message__c`). A redelivery of the first
//! webhook shows that nothing is created twice.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! With no environment it runs against the embedded sandbox. With `WHATSAPP_*`
//! and `SALESFORCE_*` set it uses the real APIs; the simulated customer is
//! `QUICKSTART_CUSTOMER` (default +1 415 555 0123; use a number on your test
//! allowed list).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;

use bridge_core::pipeline::{Bridge, MessageOutcome, OutcomeKind, Reply};
use bridge_core::writer::SalesforceWriter;
use examples::{Backends, BoxError};
use whatsapp_cloud::testkit::{payloads, signed_webhook};

/// What the run did, for the tests.
#[derive(Debug, Default)]
pub struct Summary {
    /// Records written (object names).
    pub written: Vec<String>,
    /// Replies sent.
    pub replies: usize,
    /// Redeliveries recognized as duplicates.
    pub duplicates: usize,
}

/// Runs the quickstart against the given backends.
pub async fn run(b: &Backends) -> Result<Summary, BoxError> {
    let chosen = std::env::var("QUICKSTART_CUSTOMER").ok();
    let number = |default: &str| -> String {
        chosen
            .as_deref()
            .unwrap_or(default)
            .chars()
            .filter(char::is_ascii_digit)
            .collect()
    };
    println!("WhatsApp -> Salesforce quickstart ({})\n", b.describe());

    if let Some(org) = &b.org {
        // A customer the sandbox org knows as a Contact (at Acme).
        let account = org.insert("Account", serde_json::json!({ "Name": "Acme Hotels" }));
        org.insert(
            "Contact",
            serde_json::json!({ "FirstName": "Carla", "LastName": "Reyes", "MobilePhone": "(415) 555-0142", "AccountId": account }),
        );
    }
    // The org must have the ledger and key fields: `webhook_to_case setup`.
    let writer = SalesforceWriter::new(b.salesforce.clone());
    writer.check_setup().await?;
    let bridge = Bridge::builder(Arc::new(writer))
        .sender(Arc::new(b.whatsapp.clone()))
        .build();

    let stamp = chrono::Utc::now().timestamp();
    let conversations = [
        (
            "Ana Lima",
            number("14155550123"),
            format!("wamid.QS{stamp}A/+="),
            "Hi, my order #1042 arrived broken. Can you help?",
        ),
        (
            "Ben Ortiz",
            number("14155550199"),
            format!("wamid.QS{stamp}B/+="),
            "Hello! I'd like a quote for 20 office chairs.",
        ),
        (
            "Ana Lima",
            number("14155550123"),
            format!("wamid.QS{stamp}C/+="),
            "Any news? The box was also damaged, it's broken.",
        ),
        (
            "Carla Reyes",
            number("14155550142"),
            format!("wamid.QS{stamp}D/+="),
            "Hi, I'd like a quote for 40 more rooms' worth of towels.",
        ),
    ];
    let mut summary = Summary::default();
    let mut first_delivery = None;
    for (name, customer, id, text) in &conversations {
        let payload = payloads::text_message(customer, name, id, text);
        let (body, signature) = signed_webhook(&payload, &b.app_secret);
        if first_delivery.is_none() {
            first_delivery = Some((body.clone(), signature.clone()));
        }
        println!(
            "<- {name} ({}): {text}",
            bridge_core::format::phone::format_or_raw(customer)
        );
        let notification = b.webhook.receive(Some(&signature), &body)?;
        println!(
            "   webhook: signature verified, {} message(s) parsed",
            notification.message_count()
        );
        let report = bridge.handle_notification(&notification).await;
        if let Some(f) = report.failures.first() {
            return Err(format!(
                "processing {} failed: {}",
                f.message_id.as_deref().unwrap_or("an item"),
                f.error
            )
            .into());
        }
        let replies_before = summary.replies;
        for outcome in &report.outcomes {
            print_outcome(outcome, &mut summary);
        }
        if summary.replies > replies_before
            && let Some(last) = match &b.graph {
                Some(g) => g.message_requests().await.pop(),
                None => None,
            }
        {
            println!(
                "   \"{}\"",
                last.pointer("/text/body")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
            );
        }
        println!();
    }

    let (body, signature) = first_delivery.ok_or("no delivery")?;
    println!("Meta redelivers the first webhook (it does that when it missed a 200)...");
    let notification = b.webhook.receive(Some(&signature), &body)?;
    for outcome in bridge.handle_notification(&notification).await.outcomes {
        print_outcome(&outcome, &mut summary);
    }

    if let Some(org) = &b.org {
        println!(
            "\nSandbox org now holds {} Case(s), {} Lead(s), {} Task(s), {} conversation record(s); the sandbox Graph API got {} message(s).",
            org.records("Case").len(),
            org.records("Lead").len(),
            org.records("Task").len(),
            org.records("WhatsApp_Message__c").len(),
            match &b.graph {
                Some(g) => g.message_requests().await.len(),
                None => summary.replies,
            }
        );
    }
    Ok(summary)
}

fn print_outcome(outcome: &MessageOutcome, summary: &mut Summary) {
    let message_id = &outcome.message_id;
    match &outcome.kind {
        OutcomeKind::Processed {
            action,
            write,
            reply,
            ..
        } => {
            let what = match &write.case_number {
                Some(n) => format!("Case {n}"),
                None => write.object.clone(),
            };
            let verb = match &write.acknowledgement {
                Some(bridge_core::writer::Acknowledgement::CaseJoined { .. }) => {
                    "joined (the customer's open Case)"
                }
                _ if write.object == "Contact" => "matched (a known Contact: no Lead)",
                _ if write.created => "created",
                _ => "updated",
            };
            println!(
                "   routed: {action} -> {what} {verb} in Salesforce ({})",
                write.record_id.as_deref().unwrap_or("-")
            );
            if let Some(task) = &write.follow_up_task {
                println!("   follow-up Task due in 24 hours ({task})");
            }
            summary.written.push(write.object.clone());
            match reply {
                Reply::Sent(r) => {
                    summary.replies += 1;
                    println!(
                        "-> replied on {} ({})",
                        r.channel,
                        r.message_id.as_deref().unwrap_or("-")
                    );
                }
                Reply::Skipped(why) => println!("   no reply: {why}"),
                Reply::Failed(why) => println!("   reply failed (record kept): {why}"),
                _ => {}
            }
        }
        OutcomeKind::Duplicate => {
            summary.duplicates += 1;
            println!("   {message_id}: already processed, nothing created twice");
        }
        OutcomeKind::InFlight => println!("   {message_id}: being processed elsewhere"),
        OutcomeKind::Ignored { reason } => println!("   {message_id}: ignored ({reason})"),
        OutcomeKind::FromUs => println!("   {message_id}: our own message, ignored"),
        _ => {}
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit_code(cli().await)
}

async fn cli() -> Result<(), BoxError> {
    examples::init_tracing();
    if examples::cli_args("usage: quickstart\n\nA signed webhook through the whole bridge, in the sandbox or against real APIs. Reads WHATSAPP_*, SALESFORCE_*, QUICKSTART_CUSTOMER.", &[], &[])?.1 {
        return Ok(());
    }
    let backends = Backends::from_env().await?;
    let summary = run(&backends).await?;
    println!(
        "\nDone: {} record(s) written, {} reply(ies) sent, {} duplicate(s) skipped.",
        summary.written.len(),
        summary.replies,
        summary.duplicates
    );
    Ok(())
}
