//! A support desk on WhatsApp and Salesforce, both ways: a customer writes, a
//! Case opens and the reply carries its number; an agent answers from
//! Salesforce (an Outbound `WhatsApp_Message__c` record, with a file from its
//! Files list) and the customer receives both; a day later the agent's next answer goes out as the approved
//! template, because the 24-hour window has closed; and when WhatsApp
//! reports a message undeliverable, the text goes by SMS, once.
//!
//! ```text
//! cargo run --example support_desk            # the sandbox story, clock moved, nothing slept
//! ```
//!
//! With WhatsApp and Salesforce credentials it runs the server instead: the
//! webhook and the agent replies in one process (`webhook_to_case`: polling
//! every `BRIDGE_AGENT_POLL_SECS`, and Change Data Capture with
//! `BRIDGE_AGENT_CDC`). Reads `WHATSAPP_*`, `SALESFORCE_*`,
//! `AGENT_REPLY_TEMPLATE`.
#![allow(clippy::print_stdout, clippy::print_stderr, dead_code, unreachable_pub)]

#[path = "webhook_to_case.rs"]
mod server;

use std::sync::Arc;
use std::time::Duration;

use bridge_core::agent::AgentReplies;
use bridge_core::clock::{Clock, ManualClock};
use bridge_core::inbound::{Channel, CustomerMessage};
use bridge_core::pipeline::Bridge;
use bridge_core::sender::RecordingSender;
use bridge_core::service::{BridgeService, ServiceOptions, StatusUpdate};
use examples::{Backends, BoxError, Stores};
use serde_json::json;

/// What the story did, for the tests.
#[derive(Debug, Default)]
pub struct Story {
    /// WhatsApp messages the customer got: (type, text or template name).
    pub whatsapp: Vec<(String, String)>,
    /// SMS the customer got.
    pub sms: Vec<String>,
    /// The Case number the reply carried.
    pub case_number: Option<String>,
}

const CUSTOMER: &str = "14155550123";
const LATER: &str = "Did the replacement arrive in good shape?";

/// The sandbox story (see the module docs).
pub async fn story(b: &Backends, stores: &Stores) -> Result<Story, BoxError> {
    let (Some(org), Some(graph)) = (&b.org, &b.graph) else {
        return Err("the story runs in the sandbox (no credentials set)".into());
    };
    println!("Support desk ({})\n", b.describe());
    let clock = Arc::new(ManualClock::at_millis(
        chrono::Utc::now().timestamp_millis(),
    ));
    let writer = examples::salesforce_writer(b, stores);
    let bridge = Bridge::builder(Arc::new(writer.clone()))
        .dedup(stores.dedup.clone())
        .window(stores.window.clone())
        // Agents' files are fetched from Salesforce and uploaded at send time.
        .sender(Arc::new(bridge_core::attachments::AttachmentSender::new(
            b.whatsapp.clone(),
            b.salesforce.clone(),
        )))
        .build();
    // The sandbox's SMS gateway records what it would send.
    let sms = Arc::new(RecordingSender::new(Channel::Sms));
    let mut options = ServiceOptions::default();
    options.fallback = Some(sms.clone());
    options.sent_log = Some(stores.sent_log.clone());
    let svc = BridgeService::start_with(
        bridge,
        stores.inbox.clone(),
        stores.outbox.clone(),
        options,
        clock.clone(),
    );
    let template =
        std::env::var("AGENT_REPLY_TEMPLATE").unwrap_or_else(|_| "agent_followup".into());
    let agents = AgentReplies::new(
        writer,
        svc.outbox().clone(),
        stores.window.clone(),
        clock.clone(),
    )
    .outside_window_template(template.clone(), "en_US")
    .with_attachments();
    let settle = || svc.drain(Duration::from_secs(30));

    // 1. The customer writes.
    let mut m = CustomerMessage::text(
        Channel::WhatsApp,
        "wamid.support-desk-1",
        CUSTOMER,
        "My blender arrived broken, please help",
    );
    m.sent_at = Some(clock.now());
    m.business_id = Some(b.whatsapp.phone_number_id().to_owned());
    svc.inbox().enqueue_message(&m).await?;
    settle().await;
    let case_number = org.records("Case").first().and_then(|c| {
        c.get("CaseNumber")
            .and_then(|n| n.as_str())
            .map(str::to_owned)
    });
    println!(
        "<- {}: {}",
        examples::pii::phone(CUSTOMER),
        examples::pii::text(m.text_content().unwrap_or_default())
    );
    println!("   Case {} opened", case_number.as_deref().unwrap_or("?"));

    // 2. An agent answers from Salesforce, inside the window.
    let agent_reply = |body: &str| {
        org.insert(
            "WhatsApp_Message__c",
            json!({"Direction__c": "Outbound", "Status__c": "Queued", "Body__c": body,
                   "Customer_Phone__c": format!("+{CUSTOMER}")}),
        )
    };
    let answer = agent_reply("A replacement ships today; the return label is attached.");
    // The agent attaches the return label in the record's Files list.
    let label = b"%PDF-1.7 return label for the broken blender".to_vec();
    b.salesforce
        .upload_file(
            "Return label",
            "return-label.pdf",
            std::io::Cursor::new(label),
            Some(&salesforce_rest::SalesforceId::parse(&answer)?),
        )
        .await?;
    let first = agents.poll(None).await?;
    settle().await;
    println!(
        "   agent -> free-form text with a PDF ({} sent)",
        first.free_form
    );

    // 3. A day later (the clock is moved, nothing sleeps): the window has
    //    closed, so the agent's next answer goes out as the template.
    clock.advance(Duration::from_secs(25 * 3_600));
    agent_reply(LATER);
    let later = agents.poll(first.watermark).await?;
    settle().await;
    println!(
        "   25 hours later, agent -> template {template} ({} sent)",
        later.templates
    );

    // 4. WhatsApp reports that last message undeliverable: SMS, once (the
    //    status comes twice, as webhooks do).
    let sent_id = org
        .records("WhatsApp_Message__c")
        .iter()
        .find(|r| r.get("Body__c").and_then(|v| v.as_str()) == Some(LATER))
        .and_then(|r| {
            r.get("WhatsApp_Id__c")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .ok_or("the agent's second reply has no WhatsApp id")?;
    let failed = StatusUpdate::new(&sent_id, "failed").unreachable(CUSTOMER);
    svc.inbox().enqueue_status(&failed).await?;
    svc.inbox().enqueue_status(&failed).await?;
    settle().await;
    println!("   delivery failed: {} SMS sent", sms.sent().len());

    let whatsapp = graph
        .message_requests()
        .await
        .iter()
        .map(|r| {
            let at = |path: &str| r.pointer(path).and_then(|v| v.as_str()).unwrap_or_default();
            let kind = at("/type").to_owned();
            let what = match kind.as_str() {
                "template" => at("/template/name"),
                "document" => at("/document/caption"),
                _ => at("/text/body"),
            };
            (kind, what.to_owned())
        })
        .collect();
    let story = Story {
        whatsapp,
        sms: sms.sent().into_iter().map(|(_, text)| text).collect(),
        case_number,
    };
    svc.shutdown().await;
    Ok(story)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit_code(cli().await)
}

async fn cli() -> Result<(), BoxError> {
    examples::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if examples::cli_args(
        "usage: support_desk [--show-pii]\n\nThe two-way support loop: a customer's message opens a Case, agents answer from Salesforce (Outbound WhatsApp_Message__c records), outside the 24-hour window as AGENT_REPLY_TEMPLATE (default agent_followup), and undeliverable messages fall back to SMS. Without credentials it tells the story in the sandbox; with them it runs the server (webhook_to_case: BIND_ADDR, BRIDGE_AGENT_POLL_SECS, BRIDGE_AGENT_CDC, SMS_FALLBACK).\nReads WHATSAPP_*, SALESFORCE_*, AGENT_REPLY_TEMPLATE, REDIS_URL, BRIDGE_DATA_DIR.",
        &[],
        &[],
    )?
    .1
    {
        return Ok(());
    }
    let b = Backends::from_env().await?;
    if b.org.is_none() || b.graph.is_none() {
        // Real accounts: the server, webhook and agent replies in one process.
        drop(b);
        return server::run_cli(&args).await;
    }
    let stores = Stores::memory()?;
    let s = story(&b, &stores).await?;
    println!(
        "\n{} WhatsApp message(s), {} SMS; Case {}",
        s.whatsapp.len(),
        s.sms.len(),
        s.case_number.as_deref().unwrap_or("?")
    );
    Ok(())
}
