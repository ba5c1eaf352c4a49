//! Agent replies triggered by Change Data Capture (issue 23): an Outbound
//! `WhatsApp_Message__c` record inserted in the mock org becomes a change
//! event on the fake Pub/Sub API; the subscriber hands the delivery to
//! `AgentReplies::on_changes`, the outbox sends it through the real
//! WhatsApp client to the mock Graph API, and the record ends `Sent`.
#![cfg(all(feature = "pubsub", feature = "whatsapp"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bridge_core::agent::AgentReplies;
use bridge_core::clock::SystemClock;
use bridge_core::embedded::MemoryQueue;
use bridge_core::pipeline::Bridge;
use bridge_core::queue::WorkerOptions;
use bridge_core::service::BridgeService;
use bridge_core::window::{MemoryWindowTracker, WindowTracker};
use bridge_core::writer::SalesforceWriter;
use chrono::Utc;
use salesforce_rest::pubsub::{Flow, MemoryReplayStore, PubSubClient, StartFrom};
use salesforce_rest::testkit::{FakePubSub, MockOrg};
use serde_json::json;
use whatsapp_cloud::testkit::MockGraph;

/// The mock org and Graph API, the fake Pub/Sub API with the ledger's
/// change channel, a bridge whose outbox sends through the WhatsApp client,
/// and agent replies over it; `customers` wrote just now.
struct Rig {
    org: MockOrg,
    graph: MockGraph,
    fake: FakePubSub,
    topic: String,
    svc: BridgeService,
    agents: AgentReplies,
}

async fn rig(customers: &[String]) -> Rig {
    let (org, graph, fake) = (
        MockOrg::start().await,
        MockGraph::start().await,
        FakePubSub::start().await,
    );
    let topic = fake.add_change_topic(
        "WhatsApp_Message__c",
        &["Direction__c", "Status__c", "Body__c", "Customer_Phone__c"],
    );
    let clock = Arc::new(SystemClock);
    let window = Arc::new(MemoryWindowTracker::default());
    for c in customers {
        window.record_inbound(c, Utc::now()).await.unwrap();
    }
    let writer = SalesforceWriter::new(org.client());
    let bridge = Bridge::builder(Arc::new(writer.clone()))
        .sender(Arc::new(graph.client()))
        .build();
    let svc = BridgeService::start(
        bridge,
        Arc::new(MemoryQueue::new("inbox").unwrap()),
        Arc::new(MemoryQueue::new("outbox").unwrap()),
        WorkerOptions::default().concurrency(8),
        clock.clone(),
    );
    let agents = AgentReplies::new(writer, svc.outbox().clone(), window, clock);
    Rig {
        org,
        graph,
        fake,
        topic,
        svc,
        agents,
    }
}

impl Rig {
    /// Subscribes to the change channel from its start, handing every
    /// delivery to `AgentReplies::on_changes`, and polling after a gap
    /// (counted in `gaps`), as `webhook_to_case` does.
    async fn subscribe(
        &self,
        gaps: Arc<std::sync::atomic::AtomicUsize>,
    ) -> tokio::task::JoinHandle<Result<(), salesforce_rest::pubsub::PubSubError>> {
        let pubsub = PubSubClient::builder(self.org.session())
            .endpoint(self.fake.url())
            .build()
            .unwrap();
        let (agents, topic) = (self.agents.clone(), self.topic.clone());
        let subscriber = tokio::spawn(async move {
            pubsub
                .subscribe(&topic, Arc::new(MemoryReplayStore::default()))
                .start_from(StartFrom::Earliest)
                .run_batches(move |events| {
                    let (agents, gaps) = (agents.clone(), gaps.clone());
                    async move {
                        let report = agents.on_changes(&events).await?;
                        if report.gap {
                            gaps.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            agents.poll(None).await?;
                        }
                        Ok(Flow::Continue)
                    }
                })
                .await
        });
        while self.fake.subscribes() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        subscriber
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_replies_reach_the_graph_api_within_a_second_of_their_commit() {
    let customers: Vec<String> = (0..20).map(|i| format!("1415555{:04}", 100 + i)).collect();
    let r = rig(&customers).await;
    r.fake.follow(&r.org);
    let subscriber = r.subscribe(Arc::default()).await;
    let (org, graph, svc) = (&r.org, &r.graph, &r.svc);
    // Inbound messages and the bridge's own records make events too: none
    // of them is sent.
    org.insert(
        "WhatsApp_Message__c",
        json!({"Direction__c": "Inbound", "Status__c": "Received", "Body__c": "hi", "Customer_Phone__c": customers[0]}),
    );
    let mut latencies = Vec::new();
    let mut ids = Vec::new();
    for (i, c) in customers.iter().enumerate() {
        let committed = Instant::now();
        ids.push(org.insert(
            "WhatsApp_Message__c",
            json!({"Direction__c": "Outbound", "Status__c": "Queued",
                   "Body__c": format!("Your replacement ships today ({i})."), "Customer_Phone__c": c}),
        ));
        while graph.message_requests().await.len() < i + 1 {
            assert!(
                committed.elapsed() < Duration::from_secs(20),
                "reply {i} never reached the Graph API"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(committed.elapsed());
    }
    assert!(svc.drain(Duration::from_secs(30)).await);
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    println!(
        "agent reply, commit to Graph API: p50 {p50:?}, max {:?}",
        latencies.last()
    );
    assert!(p50 < Duration::from_secs(1), "p50 {p50:?}");
    let requests = graph.message_requests().await;
    assert_eq!(requests.len(), 20, "each record sent once");
    // Every record ends Sent with its WhatsApp id.
    let records = org.records("WhatsApp_Message__c");
    for id in &ids {
        let r = records
            .iter()
            .find(|r| r.get("Id").and_then(|v| v.as_str()) == Some(id.as_str()))
            .unwrap();
        assert_eq!(r["Status__c"], "Sent", "{r:?}");
        assert!(r.get("WhatsApp_Id__c").is_some_and(|v| v.is_string()));
    }
    subscriber.abort();
    svc.shutdown().await;
}

/// CDC gap events (Salesforce could not capture the change itself, or
/// overflowed) name no fields: the subscriber sees `PollReport::gap` and
/// polls, and the records the events missed are sent, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_event_makes_the_poller_catch_up() {
    // The channel exists, but the org's writes make no events (not
    // followed): only the gap events below arrive.
    let customers: Vec<String> = (0..3).map(|i| format!("1415555{:04}", 300 + i)).collect();
    let r = rig(&customers).await;
    let ids: Vec<String> = customers
        .iter()
        .map(|c| {
            r.org.insert(
                "WhatsApp_Message__c",
                json!({"Direction__c": "Outbound", "Status__c": "Queued", "Body__c": "We are on it.", "Customer_Phone__c": c}),
            )
        })
        .collect();
    let gaps = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let subscriber = r.subscribe(gaps.clone()).await;
    let (fake, graph, svc) = (&r.fake, &r.graph, &r.svc);
    fake.push_change_event("WhatsApp_Message__c", &ids[0], "GAP_CREATE", &json!({}))
        .unwrap();
    fake.push_change_event("WhatsApp_Message__c", &ids[1], "GAP_OVERFLOW", &json!({}))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while graph.message_requests().await.len() < 3 {
        assert!(Instant::now() < deadline, "the poller did not catch up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(svc.drain(Duration::from_secs(30)).await);
    assert!(gaps.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert_eq!(
        graph.message_requests().await.len(),
        3,
        "each record sent once, however many gaps"
    );
    subscriber.abort();
    svc.shutdown().await;
}
