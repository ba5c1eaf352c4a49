//! Agents' replies with files (issue 23, item 3): a file uploaded on an
//! Outbound ledger record in the mock org is checked against WhatsApp's
//! types and sizes, fetched from Salesforce at send time, uploaded to the
//! mock Graph API's media endpoint from the number the reply leaves from,
//! and sent as a document or image with the agent's text as its caption.
#![cfg(feature = "whatsapp")]
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
use bridge_core::attachments::AttachmentSender;
use bridge_core::clock::SystemClock;
use bridge_core::embedded::MemoryQueue;
use bridge_core::pipeline::Bridge;
use bridge_core::queue::WorkerOptions;
use bridge_core::service::BridgeService;
use bridge_core::window::{MemoryWindowTracker, WindowTracker};
use bridge_core::writer::SalesforceWriter;
use chrono::Utc;
use salesforce_rest::SalesforceId;
use salesforce_rest::testkit::MockOrg;
use serde_json::{Map, Value, json};
use whatsapp_cloud::testkit::MockGraph;

const ANA: &str = "14155550123";
const BEN: &str = "14155550199";

fn queued(org: &MockOrg, body: &str, phone: &str) -> String {
    org.insert(
        "WhatsApp_Message__c",
        json!({ "Direction__c": "Outbound", "Status__c": "Queued", "Body__c": body, "Customer_Phone__c": phone }),
    )
}

async fn attach(org: &MockOrg, record: &str, name: &str, bytes: Vec<u8>) {
    let record = SalesforceId::parse(record).unwrap();
    org.client()
        .upload_file(name, name, std::io::Cursor::new(bytes), Some(&record))
        .await
        .expect("the file is uploaded on the record");
}

fn record(org: &MockOrg, id: &str) -> Map<String, Value> {
    org.records("WhatsApp_Message__c")
        .into_iter()
        .find(|r| r.get("Id").and_then(Value::as_str) == Some(id))
        .expect("the record")
}

fn field(r: &Map<String, Value>, k: &str) -> String {
    r.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_file_goes_as_media_with_the_text_as_its_caption() {
    let (org, graph) = (MockOrg::start().await, MockGraph::start().await);
    let window = Arc::new(MemoryWindowTracker::default());
    window.record_inbound(ANA, Utc::now()).await.unwrap();
    window
        .record_inbound(BEN, Utc::now() - chrono::Duration::hours(30))
        .await
        .unwrap();
    let pdf = b"%PDF-1.7 the invoice".to_vec();
    let invoice = queued(&org, "Here is your invoice.", ANA);
    attach(&org, &invoice, "invoice-1042.pdf", pdf.clone()).await;
    let photo = queued(&org, "", ANA);
    attach(&org, &photo, "label.png", b"\x89PNG the label".to_vec()).await;
    let program = queued(&org, "Run this.", ANA);
    attach(&org, &program, "setup.exe", b"MZ".to_vec()).await;
    let huge = queued(&org, "A big photo.", ANA);
    attach(&org, &huge, "big.jpg", vec![0xFF; 5 * 1024 * 1024 + 1]).await;
    let chatty = queued(&org, &"long ".repeat(300), ANA);
    attach(&org, &chatty, "notes.txt", b"notes".to_vec()).await;
    let late = queued(&org, "Your quote.", BEN);
    attach(&org, &late, "quote.pdf", b"%PDF quote".to_vec()).await;
    let plain = queued(&org, "No file with this one.", ANA);

    let writer = SalesforceWriter::new(org.client());
    let sender = AttachmentSender::new(graph.client(), org.client());
    let bridge = Bridge::builder(Arc::new(writer.clone()))
        .sender(Arc::new(sender))
        .build();
    let svc = BridgeService::start(
        bridge,
        Arc::new(MemoryQueue::new("inbox").unwrap()),
        Arc::new(MemoryQueue::new("outbox").unwrap()),
        WorkerOptions::default().concurrency(4),
        Arc::new(SystemClock),
    );
    let agents = AgentReplies::new(writer, svc.outbox().clone(), window, Arc::new(SystemClock))
        .outside_window_template("agent_followup", "en_US")
        .with_attachments();
    let calls = org.api_calls();
    let report = agents.poll(None).await.unwrap();
    assert_eq!(
        org.api_calls() - calls,
        3,
        "the queued records, their files' metadata, the stamps"
    );
    assert_eq!((report.picked, report.free_form, report.failed), (7, 3, 4));
    assert!(svc.drain(Duration::from_secs(30)).await);

    let sent = graph.message_requests().await;
    assert_eq!(sent.len(), 3, "the invoice, the photo and the plain text");
    let uploads: Vec<_> = graph
        .requests()
        .await
        .into_iter()
        .filter(|r| r.method() == "POST" && r.path().ends_with("/media"))
        .collect();
    assert_eq!(
        uploads.len(),
        2,
        "one upload per file sent, none for refused files"
    );
    assert!(
        uploads
            .iter()
            .any(|u| u.body().windows(pdf.len()).any(|w| w == pdf.as_slice())),
        "the file's bytes, fetched from Salesforce, are what is uploaded"
    );
    let document = sent
        .iter()
        .find(|m| m["type"] == "document")
        .expect("the invoice goes as a document");
    assert_eq!(document["document"]["caption"], "Here is your invoice.");
    assert_eq!(document["document"]["filename"], "invoice-1042.pdf");
    assert!(
        document["document"]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("media-"))
    );
    let image = sent
        .iter()
        .find(|m| m["type"] == "image")
        .expect("the label goes as an image");
    assert!(
        image["image"].get("caption").is_none(),
        "no text, no caption"
    );
    assert!(sent.iter().any(|m| m["type"] == "text"));

    for id in [&invoice, &photo, &plain] {
        let r = record(&org, id);
        assert_eq!(field(&r, "Status__c"), "Sent");
        assert!(!field(&r, "WhatsApp_Id__c").is_empty());
    }
    let failed = |id: &str, why: &str| {
        let r = record(&org, id);
        assert_eq!(field(&r, "Status__c"), "Failed");
        let detail = field(&r, "Error_Detail__c");
        assert!(detail.contains(why), "{detail:?} should name {why:?}");
    };
    failed(&program, ".exe");
    failed(&huge, "up to 5242880 bytes");
    failed(&chatty, "at most 1024");
    failed(&late, "template cannot carry the attachment");
    svc.shutdown().await;
}

/// A message with a file through a sender that cannot fetch it fails with
/// the fix named, instead of sending the caption alone.
#[tokio::test]
async fn a_file_is_never_dropped_by_a_sender_that_cannot_fetch_it() {
    use bridge_core::sender::{Attachment, ChannelSender, Outbound};
    let graph = MockGraph::start().await;
    let message = Outbound::text("See attached").attach(Attachment::new(
        "068000000000001AAA",
        "invoice.pdf",
        "application/pdf",
        10,
    ));
    let err = ChannelSender::send(&graph.client(), ANA, &message)
        .await
        .unwrap_err();
    assert!(err.message.contains("AttachmentSender"), "{}", err.message);
    assert!(!err.retryable);
    assert!(graph.message_requests().await.is_empty());
    let debug = format!("{message:?}");
    assert!(
        !debug.contains("invoice.pdf"),
        "file names stay out of Debug: {debug}"
    );
}
