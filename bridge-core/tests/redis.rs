//! The Redis stores against a real Redis server (started by `scripts/test`).
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use bridge_core::dedup::{RedisDedupStore, conformance};
use bridge_core::window::{RedisWindowTracker, conformance as window_conformance};

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!("the Redis tests need REDIS_URL; run scripts/test, which installs and starts a throwaway Redis server")
    })
}

/// The single node and the cluster (`REDIS_CLUSTER_URL`), both started by
/// `scripts/test`: every suite here runs on both.
fn redis_urls() -> Vec<String> {
    let cluster = std::env::var("REDIS_CLUSTER_URL").unwrap_or_else(|_| {
        panic!("the Redis tests need REDIS_CLUSTER_URL; run scripts/test, which starts a throwaway Redis cluster")
    });
    vec![redis_url(), cluster]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_dedup_store_passes_the_behaviour_suite() {
    for url in redis_urls() {
        let prefix = format!("test:{}:{}:", std::process::id(), url.len());
        let store = RedisDedupStore::connect(&url, &prefix).await.unwrap();
        conformance::run(Arc::new(store)).await;
    }
}

#[tokio::test]
async fn redis_window_tracker_passes_the_suite() {
    for url in redis_urls() {
        let prefix = format!("test-window:{}:", std::process::id());
        let t = RedisWindowTracker::connect(&url, &prefix).await.unwrap();
        window_conformance::run(&t).await;
    }
}

#[tokio::test]
async fn a_bad_url_is_a_typed_error() {
    let err = RedisDedupStore::connect("not-a-url", "x")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Redis URL"), "{err}");
}

/// Issue 24: Meta's send rate across instances. Two "instances" (two
/// clients, two paced senders) share one Redis send rate of 50 a second;
/// 200 replies at once from both: the mock Graph API, enforcing 50 a second,
/// refuses none, and the burst took the rate's time (a lower bound, not a
/// speed figure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_numbers_send_rate_through_redis() {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use bridge_core::clock::SystemClock;
    use bridge_core::pacing::{PacedSender, RedisSendRate};
    use bridge_core::sender::{Outbound, Sender};
    use whatsapp_cloud::testkit::MockGraph;
    let graph = MockGraph::start().await;
    graph.limit_throughput(50.0);
    let prefix = format!("wa-sf:rate{}:", std::process::id());
    let mut instances: Vec<Arc<dyn Sender>> = Vec::new();
    for _ in 0..2 {
        let rate = RedisSendRate::connect(&redis_url(), &prefix, 50.0)
            .await
            .expect("redis");
        instances.push(Arc::new(PacedSender::new(
            graph.client(),
            Arc::new(rate),
            "15550001111",
            Arc::new(SystemClock),
        )));
    }
    let start = Instant::now();
    let sends: Vec<_> = (0..200)
        .map(|i| {
            let s = instances[i % 2].clone();
            tokio::spawn(async move {
                s.send(
                    &format!("1415555{i:04}"),
                    &Outbound::text("Your order shipped"),
                )
                .await
            })
        })
        .collect();
    for s in sends {
        s.await.expect("joined").expect("sent");
    }
    assert_eq!(
        graph.throughput_rejections(),
        0,
        "no 130429 across the fleet"
    );
    assert!(
        start.elapsed() >= Duration::from_secs_f64(199.0 / 50.0),
        "{:?}",
        start.elapsed()
    );
}

/// Issue 23: two instances on one Redis poll the same queued agents'
/// records at once, again and again: each record is sent once (the outbox
/// key is the record id, and both instances share the outbox).
#[cfg(all(feature = "salesforce", feature = "whatsapp"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_polling_the_same_agent_replies_send_each_once() {
    for url in redis_urls() {
        agent_replies_once_on(&url).await;
    }
}

#[cfg(all(feature = "salesforce", feature = "whatsapp"))]
async fn agent_replies_once_on(url: &str) {
    use std::time::Duration;

    use bridge_core::agent::AgentReplies;
    use bridge_core::clock::SystemClock;
    use bridge_core::pipeline::Bridge;
    use bridge_core::queue::{RedisQueue, WorkerOptions};
    use bridge_core::service::BridgeService;
    use bridge_core::window::WindowTracker;
    use bridge_core::writer::SalesforceWriter;
    use salesforce_rest::testkit::MockOrg;
    use whatsapp_cloud::testkit::MockGraph;
    let (org, graph) = (MockOrg::start().await, MockGraph::start().await);
    let prefix = format!(
        "wa-sf:agents{}:",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    );
    let window = Arc::new(
        RedisWindowTracker::connect(url, &format!("{prefix}window:"))
            .await
            .unwrap(),
    );
    let mut ids = Vec::new();
    for i in 0..30 {
        let customer = format!("1415558{i:04}");
        window
            .record_inbound(&customer, chrono::Utc::now())
            .await
            .unwrap();
        ids.push(org.insert(
            "WhatsApp_Message__c",
            serde_json::json!({"Direction__c": "Outbound", "Status__c": "Queued",
                "Body__c": format!("Answer {i}"), "Customer_Phone__c": customer}),
        ));
    }
    let mut instances = Vec::new();
    for _ in 0..2 {
        let writer = SalesforceWriter::new(org.client());
        let bridge = Bridge::builder(Arc::new(writer.clone()))
            .sender(Arc::new(graph.client()))
            .build();
        let svc = BridgeService::start(
            bridge,
            Arc::new(RedisQueue::connect(url, &prefix, "inbox").await.unwrap()),
            Arc::new(RedisQueue::connect(url, &prefix, "outbox").await.unwrap()),
            WorkerOptions::default().concurrency(8),
            Arc::new(SystemClock),
        );
        let agents = AgentReplies::new(
            writer,
            svc.outbox().clone(),
            window.clone(),
            Arc::new(SystemClock),
        );
        instances.push((svc, agents));
    }
    let polls: Vec<_> = instances
        .iter()
        .flat_map(|(_, agents)| (0..3).map(move |_| agents.clone()))
        .map(|agents| tokio::spawn(async move { agents.poll(None).await.unwrap() }))
        .collect();
    for p in polls {
        p.await.unwrap();
    }
    for (svc, _) in &instances {
        assert!(svc.drain(Duration::from_secs(30)).await);
    }
    let sent = graph.accepted_messages();
    assert_eq!(sent.len(), 30, "each record once, whatever the polls");
    let records = org.records("WhatsApp_Message__c");
    for id in &ids {
        let r = records
            .iter()
            .find(|r| r.get("Id").and_then(|v| v.as_str()) == Some(id.as_str()))
            .unwrap();
        assert_eq!(r["Status__c"], "Sent", "{r:?}");
    }
    for (svc, _) in instances {
        svc.shutdown().await;
    }
}
