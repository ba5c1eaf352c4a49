//! `order_updates --realtime`: change events over the (fake) Pub/Sub API give
//! one notice per status that has a template, edits and gaps give none, and a
//! redelivery (a replay from an older position) sends nothing twice.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    dead_code,
    unreachable_pub
)]

#[path = "../examples/order_updates.rs"]
mod order_updates;

use std::sync::Arc;

use examples::{Backends, Stores};
use salesforce_rest::pubsub::{MemoryReplayStore, PubSubClient, StartFrom};
use salesforce_rest::testkit::FakePubSub;
use serde_json::json;

#[tokio::test]
async fn the_story_sends_three_notices_and_a_replay_sends_none() {
    let b = Backends::sandbox().await.unwrap();
    let stores = Stores::memory().unwrap();
    let sent = order_updates::run_realtime(&b, &stores).await.unwrap();
    assert_eq!(sent.len(), 3, "{sent:?}");
    let templates: Vec<String> = b
        .graph
        .as_ref()
        .unwrap()
        .message_requests()
        .await
        .iter()
        .map(|m| m["template"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        templates,
        ["order_confirmation", "shipping_update", "order_delivered"]
    );
}

#[tokio::test]
async fn edits_gaps_and_redeliveries_send_nothing() {
    let b = Backends::sandbox().await.unwrap();
    let stores = Stores::memory().unwrap();
    let org = b.org.as_ref().unwrap();
    let fake = FakePubSub::start().await;
    let id = org.insert("Order", json!({"OrderNumber": "00000200", "Status": "Shipped", "Customer_Phone__c": "14155550188", "Customer_Name__c": "Ben"}));
    fake.order_change(&id, "UPDATE", &json!({"Status": "Shipped"}));
    fake.order_change(&id, "UPDATE", &json!({"Customer_Name__c": "Benjamin"}));
    fake.order_change(&id, "GAP_UPDATE", &json!({}));
    fake.order_change(&id, "UPDATE", &json!({"Status": "Draft"}));
    let pubsub = PubSubClient::builder(b.salesforce.session().clone())
        .endpoint(fake.url())
        .build()
        .unwrap();
    let first = order_updates::realtime(
        &b,
        &stores,
        &pubsub,
        Arc::new(MemoryReplayStore::default()),
        StartFrom::Earliest,
        Some(4),
    )
    .await
    .unwrap();
    assert_eq!(
        first.len(),
        1,
        "only the status change with a template: {first:?}"
    );
    // The same events again (a new subscriber from the earliest): the ledger holds.
    let again = order_updates::realtime(
        &b,
        &stores,
        &pubsub,
        Arc::new(MemoryReplayStore::default()),
        StartFrom::Earliest,
        Some(4),
    )
    .await
    .unwrap();
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(b.graph.as_ref().unwrap().message_requests().await.len(), 1);
}
