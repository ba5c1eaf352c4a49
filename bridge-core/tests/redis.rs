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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_dedup_store_passes_the_behaviour_suite() {
    let prefix = format!("test:{}:", std::process::id());
    let store = RedisDedupStore::connect(&redis_url(), &prefix)
        .await
        .unwrap();
    conformance::run(Arc::new(store)).await;
}

#[tokio::test]
async fn redis_window_tracker_passes_the_suite() {
    let prefix = format!("test-window:{}:", std::process::id());
    let t = RedisWindowTracker::connect(&redis_url(), &prefix)
        .await
        .unwrap();
    window_conformance::run(&t).await;
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
