//! Lead capture: a sales conversation on WhatsApp creates a Lead (matched by
//! phone number on later messages, so one customer is one Lead), tagged by what
//! the customer talks about, with a follow-up Task 24 hours later. Shows how an
//! app plugs its own rule into the pipeline with the `Mapper` trait.
//!
//! ```text
//! cargo run --example lead_capture
//! ```
//!
//! Reads `WHATSAPP_*` and `SALESFORCE_*` (real APIs when set).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;

use async_trait::async_trait;
use bridge_core::BridgeError;
use bridge_core::inbound::{Channel, CustomerMessage};
use bridge_core::mapping::{Action, DefaultMapper, Mapper};
use bridge_core::pipeline::{Bridge, OutcomeKind};
use bridge_core::routing::tokenize;
use bridge_core::writer::SalesforceWriter;
use examples::{Backends, BoxError};

/// Adds interest tags to every Lead the default mapper makes.
#[derive(Debug, Default)]
pub struct TaggingMapper {
    inner: DefaultMapper,
}

const TAGS: &[(&str, &str)] = &[
    ("quote", "pricing"),
    ("price", "pricing"),
    ("pricing", "pricing"),
    ("cost", "pricing"),
    ("demo", "demo"),
    ("trial", "demo"),
    ("bulk", "volume"),
    ("wholesale", "volume"),
    ("chairs", "furniture"),
    ("desks", "furniture"),
    ("office", "furniture"),
];

/// The tags of a text.
pub fn tags(text: &str) -> Vec<&'static str> {
    let words = tokenize(text);
    let mut out: Vec<&'static str> = TAGS
        .iter()
        .filter(|(w, _)| words.iter().any(|x| x == w))
        .map(|(_, t)| *t)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[async_trait]
impl Mapper for TaggingMapper {
    async fn map(&self, message: &CustomerMessage) -> Result<Action, BridgeError> {
        let mut action = self.inner.map(message).await?;
        if let Action::UpsertLead { lead, .. } = &mut action {
            let t = tags(&lead.description);
            if !t.is_empty() {
                lead.description = format!("[{}] {}", t.join(", "), lead.description);
                lead.tags.extend(t.iter().map(|s| (*s).to_owned()));
            }
        }
        Ok(action)
    }
}

/// Runs the conversation; returns how many Leads the org holds for the customer.
pub async fn run(b: &Backends) -> Result<usize, BoxError> {
    println!("Lead capture ({})\n", b.describe());
    let bridge = Bridge::builder(Arc::new(SalesforceWriter::new(b.salesforce.clone())))
        .mapper(Arc::new(TaggingMapper::default()))
        .sender(Arc::new(b.whatsapp.clone()))
        .build();
    let stamp = chrono::Utc::now().timestamp();
    let messages = [
        "Hi, do you sell office chairs?",
        "We need about 40 for a new office, bulk pricing?",
        "Could you also send a quote for 10 desks?",
    ];
    for (i, text) in messages.iter().enumerate() {
        let mut m = CustomerMessage::text(
            Channel::WhatsApp,
            format!("wamid.LC{stamp}{i}"),
            "+1 (415) 555-0177",
            *text,
        )
        .with_name("Carla Diaz");
        m.sent_at = Some(chrono::Utc::now());
        println!(
            "<- {}: {}   tags: {:?}",
            examples::pii::name("Carla"),
            examples::pii::text(text),
            tags(text)
        );
        match bridge.handle(m).await?.kind {
            OutcomeKind::Processed { write, .. } => println!(
                "   Lead {} {}{}",
                write.record_id.as_deref().unwrap_or("-"),
                if write.created {
                    "created"
                } else {
                    "updated (matched by phone)"
                },
                write
                    .follow_up_task
                    .map(|t| format!(", follow-up Task {t} due in 24 hours"))
                    .unwrap_or_default()
            ),
            other => println!("   {other:?}"),
        }
    }
    let leads = match &b.org {
        Some(org) => {
            let leads = org.records("Lead");
            if let Some(l) = leads.first() {
                println!(
                    "\nThe Lead: {} {} <{}>, source {}, description {:?}",
                    l["FirstName"].as_str().unwrap_or(""),
                    l["LastName"].as_str().unwrap_or(""),
                    l["Phone"].as_str().unwrap_or(""),
                    l["LeadSource"].as_str().unwrap_or(""),
                    l["Description"].as_str().unwrap_or("")
                );
            }
            println!("Tasks: {}", org.records("Task").len());
            leads.len()
        }
        None => 1,
    };
    Ok(leads)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit_code(cli().await)
}

async fn cli() -> Result<(), BoxError> {
    examples::init_tracing();
    if examples::cli_args("usage: lead_capture [--show-pii]\n\nOne Lead per customer, tagged by content, with a follow-up Task. Reads WHATSAPP_*, SALESFORCE_*.", &[], &[])?.1 {
        return Ok(());
    }
    let b = Backends::from_env().await?;
    run(&b).await?;
    Ok(())
}
