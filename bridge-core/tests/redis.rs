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
