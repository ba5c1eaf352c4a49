//! Several business numbers (issue 23, item 4): a support line and a sales
//! line on one WhatsApp account and one client. Each message is answered
//! from the number it arrived on; the 24-hour window is per number and
//! customer; an agent's reply leaves from the number its record names.
#![cfg(all(feature = "whatsapp", feature = "salesforce", feature = "embedded"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;
use std::time::Duration;

use bridge_core::agent::AgentReplies;
use bridge_core::clock::SystemClock;
use bridge_core::embedded::MemoryQueue;
use bridge_core::inbound::{Channel, CustomerMessage};
use bridge_core::pipeline::Bridge;
use bridge_core::queue::WorkerOptions;
use bridge_core::service::{BridgeService, ServiceOptions};
use bridge_core::window::MemoryWindowTracker;
use bridge_core::writer::SalesforceWriter;
use salesforce_rest::testkit::MockOrg;
use serde_json::json;
use whatsapp_cloud::testkit::{
    MOCK_PHONE_NUMBER_ID as SUPPORT, MOCK_SECOND_PHONE_NUMBER_ID as SALES, MockGraph,
};

fn message(id: &str, from: &str, to_number: &str, text: &str) -> CustomerMessage {
    let mut m = CustomerMessage::text(Channel::WhatsApp, id, from, text);
    m.business_id = Some(to_number.to_owned());
    m.sent_at = Some(chrono::Utc::now());
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_message_is_answered_from_its_number_and_windows_are_per_number() {
    let (org, graph) = (MockOrg::start().await, MockGraph::start().await);
    let window = Arc::new(MemoryWindowTracker::default());
    let writer = SalesforceWriter::new(org.client());
    let bridge = Bridge::builder(Arc::new(writer.clone()))
        .window(window.clone())
        .sender(Arc::new(graph.client()))
        .build();
    let mut options = ServiceOptions::default();
    options.inbox = WorkerOptions::default().concurrency(4);
    options.outbox = WorkerOptions::default().concurrency(4);
    let svc = BridgeService::start_with(
        bridge,
        Arc::new(MemoryQueue::new("inbox").unwrap()),
        Arc::new(MemoryQueue::new("outbox").unwrap()),
        options,
        Arc::new(SystemClock),
    );
    // Ana writes to the support line, Ben to the sales line.
    svc.inbox()
        .enqueue_message(&message(
            "wamid.A1",
            "14155550123",
            SUPPORT,
            "my order arrived broken",
        ))
        .await
        .unwrap();
    svc.inbox()
        .enqueue_message(&message(
            "wamid.B1",
            "14155550199",
            SALES,
            "I'd like a quote",
        ))
        .await
        .unwrap();
    assert!(svc.drain(Duration::from_secs(30)).await);
    let sent = graph.messages_by_number().await;
    let from = |to: &str| {
        sent.iter()
            .filter(|(_, b)| b["to"] == to)
            .map(|(n, _)| n.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        from("14155550123"),
        [SUPPORT],
        "Ana is answered from support"
    );
    assert_eq!(from("14155550199"), [SALES], "Ben is answered from sales");

    // An agent answers Ana twice: from support (her window is open there)
    // and from sales (she never wrote to sales: closed, so the template).
    let queued = |number: &str, body: &str| {
        org.insert(
            "WhatsApp_Message__c",
            json!({"Direction__c": "Outbound", "Status__c": "Queued", "Body__c": body,
                   "Customer_Phone__c": "+14155550123", "Business_Phone__c": number}),
        )
    };
    let on_support = queued(SUPPORT, "Your replacement ships today.");
    let on_sales = queued(SALES, "We also have a deal for you.");
    // The sales line has its own approved wording; others use the default.
    let agents = AgentReplies::new(writer, svc.outbox().clone(), window, Arc::new(SystemClock))
        .outside_window_template("agent_followup", "en_US")
        .outside_window_template_for(SALES, "sales_followup", "en_US");
    let report = agents.poll(None).await.unwrap();
    assert_eq!((report.free_form, report.templates), (1, 1));
    assert!(svc.drain(Duration::from_secs(30)).await);
    let sent = graph.messages_by_number().await;
    let ana: Vec<(String, String)> = sent
        .iter()
        .filter(|(_, b)| b["to"] == "14155550123")
        .map(|(n, b)| (n.clone(), b["type"].as_str().unwrap_or_default().to_owned()))
        .collect();
    assert_eq!(
        ana,
        [
            (SUPPORT.to_owned(), "text".to_owned()),
            (SUPPORT.to_owned(), "text".to_owned()),
            (SALES.to_owned(), "template".to_owned())
        ],
        "the acknowledgement and the agent's text from support; the template from sales"
    );
    let record = |id: &str| {
        org.records("WhatsApp_Message__c")
            .into_iter()
            .find(|r| r["Id"] == id)
            .unwrap()
    };
    assert_eq!(record(&on_support)["Status__c"], "Sent");
    assert_eq!(
        record(&on_sales)["Template__c"],
        "sales_followup",
        "the sales line's own template"
    );
    svc.shutdown().await;
}
