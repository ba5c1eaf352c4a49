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

/// Runs `order_updates --realtime` from the earliest event until `n` events
/// were handled, with a fresh replay store; returns the notices' texts.
async fn from_earliest(
    b: &Backends,
    stores: &Stores,
    pubsub: &PubSubClient,
    n: usize,
) -> Vec<String> {
    order_updates::realtime(
        b,
        stores,
        pubsub,
        Arc::new(MemoryReplayStore::default()),
        StartFrom::Earliest,
        Some(n),
    )
    .await
    .unwrap()
}

/// A Pub/Sub client over the sandbox's session, to the fake server.
fn pubsub_of(b: &Backends, fake: &FakePubSub) -> PubSubClient {
    PubSubClient::builder(b.salesforce.session().clone())
        .endpoint(fake.url())
        .build()
        .unwrap()
}

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
    let pubsub = pubsub_of(&b, &fake);
    let first = from_earliest(&b, &stores, &pubsub, 4).await;
    assert_eq!(
        first.len(),
        1,
        "only the status change with a template: {first:?}"
    );
    // The same events again (a new subscriber from the earliest): the ledger holds.
    let again = from_earliest(&b, &stores, &pubsub, 4).await;
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(b.graph.as_ref().unwrap().message_requests().await.len(), 1);
}

/// The notices' template parameters, in order, of every message sent.
async fn parameters(b: &Backends) -> Vec<(String, Vec<String>)> {
    b.graph
        .as_ref()
        .unwrap()
        .message_requests()
        .await
        .iter()
        .map(|m| {
            let name = m["template"]["name"].as_str().unwrap().to_owned();
            let params = m["template"]["components"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["parameters"].as_array().cloned().unwrap_or_default())
                .map(|p| {
                    p["text"]
                        .as_str()
                        .or_else(|| p["currency"]["fallback_value"].as_str())
                        .or_else(|| p["date_time"]["fallback_value"].as_str())
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            (name, params)
        })
        .collect()
}

#[tokio::test]
async fn the_eta_in_the_event_reaches_the_notice_as_a_us_date() {
    let b = Backends::sandbox().await.unwrap();
    let stores = Stores::memory().unwrap();
    order_updates::run_realtime(&b, &stores).await.unwrap();
    let sent = parameters(&b).await;
    let shipped = sent
        .iter()
        .find(|(n, _)| n == "shipping_update")
        .expect("a shipping notice");
    // The story's ETA is three days after the sandbox's today.
    let eta = chrono::NaiveDate::parse_from_str(
        &order_updates::sandbox_eta(b.org.as_ref().unwrap()),
        "%Y-%m-%d",
    )
    .unwrap();
    assert!(
        shipped.1.contains(&bridge_core::format::date(eta)),
        "{shipped:?}"
    );
    assert!(shipped.1.contains(&"UPS".to_owned()), "{shipped:?}");
}

#[tokio::test]
async fn missing_optional_fields_never_send_an_empty_parameter() {
    let b = Backends::sandbox().await.unwrap();
    let stores = Stores::memory().unwrap();
    let org = b.org.as_ref().unwrap();
    let fake = FakePubSub::start().await;
    // A standard Order shipped with no carrier, tracking, ETA or name.
    let id = org.insert(
        "Order",
        json!({"OrderNumber": "00000300", "Status": "Draft", "Customer_Phone__c": "14155550177"}),
    );
    fake.order_change(&id, "UPDATE", &json!({"Status": "Shipped"}));
    let pubsub = pubsub_of(&b, &fake);
    let sent = from_earliest(&b, &stores, &pubsub, 1).await;
    assert_eq!(sent.len(), 1);
    let requests = b.graph.as_ref().unwrap().message_requests().await;
    assert_eq!(requests.len(), 1);
    let body = requests[0].to_string();
    assert!(
        !body.contains("\"text\":\"\""),
        "an empty parameter: {body}"
    );
    assert_eq!(
        requests[0]["template"]["name"], "shipping_update_no_tracking",
        "the variant without a tracking button"
    );
    assert!(!body.contains("button"), "{body}");
    let (_, params) = &parameters(&b).await[0];
    assert_eq!(
        params,
        &[
            "there",
            "00000300",
            bridge_core::replies::NO_CARRIER,
            bridge_core::replies::NO_ETA
        ]
    );
}

/// Issue 24, item 5: a burst of change events is read back in a few queries.
#[tokio::test]
async fn a_burst_of_500_change_events_is_read_back_in_a_few_calls() {
    let b = Backends::sandbox().await.unwrap();
    let stores = Stores::memory().unwrap();
    let org = b.org.as_ref().unwrap();
    let fake = FakePubSub::start().await;
    let ids: Vec<String> = (0..500)
        .map(|i| {
            org.insert(
                "Order",
                json!({"OrderNumber": format!("{:08}", 1_000 + i), "Status": "Activated", "TotalAmount": 10.0,
                       "Customer_Phone__c": format!("1415{:07}", 5_000_000 + i), "Customer_Name__c": "Ana",
                       "Carrier__c": "UPS", "Tracking__c": format!("1Z{i}")}),
            )
        })
        .collect();
    // The events carry only the status: every notice needs a read-back.
    for id in &ids {
        fake.order_change(id, "UPDATE", &json!({"Status": "Delivered"}));
    }
    let pubsub = pubsub_of(&b, &fake);
    let calls = org.api_calls();
    let sent = from_earliest(&b, &stores, &pubsub, 500).await;
    assert_eq!(sent.len(), 500, "every order notified");
    let spent = org.api_calls() - calls;
    assert!(
        spent as f64 / 500.0 <= 0.05,
        "{spent} Salesforce calls for 500 events"
    );
}

/// Issue 25, item 7: two instances on one Redis: one subscribes; when it dies
/// (its future dropped, no goodbye) the other takes over within the lease;
/// every order is notified once and read back once.
#[tokio::test]
async fn two_instances_on_redis_one_subscribes_and_the_other_takes_over() {
    let Ok(url) = std::env::var("REDIS_URL") else {
        panic!("REDIS_URL is not set: scripts/test starts Redis for this test");
    };
    let prefix = format!(
        "test-order-lease-{}-{}:",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let b = Backends::sandbox().await.unwrap();
    let org = b.org.as_ref().unwrap();
    let fake = FakePubSub::start().await;
    let ids: Vec<String> = (0..20)
        .map(|i| {
            org.insert(
                "Order",
                json!({"OrderNumber": format!("{:08}", 500 + i), "Status": "Shipped",
                       "Customer_Phone__c": format!("1415{:07}", 6_000_000 + i), "Customer_Name__c": "Ana"}),
            )
        })
        .collect();
    for id in &ids[..10] {
        fake.order_change(id, "UPDATE", &json!({"Status": "Delivered"}));
    }
    let pubsub = pubsub_of(&b, &fake);
    let conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap();
    let replay: Arc<dyn salesforce_rest::pubsub::ReplayStore> = Arc::new(
        salesforce_rest::pubsub::RedisReplayStore::new(conn, prefix.clone()),
    );
    let (stores_a, stores_b) = (
        Stores::redis_with_prefix(&url, &prefix).await.unwrap(),
        Stores::redis_with_prefix(&url, &prefix).await.unwrap(),
    );
    let lease = std::time::Duration::from_secs(1);
    let graph = b.graph.as_ref().unwrap();
    let sent_to = |n: usize| async move {
        while graph.message_requests().await.len() < n {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    let calls = org.api_calls();
    let mut a = Some(Box::pin(order_updates::realtime_with(
        &b,
        &stores_a,
        &pubsub,
        replay.clone(),
        StartFrom::Earliest,
        None,
        lease,
    )));
    let mut second = Box::pin(order_updates::realtime_with(
        &b,
        &stores_b,
        &pubsub,
        replay.clone(),
        StartFrom::Earliest,
        None,
        lease,
    ));
    // The first instance starts alone and leads; then the second starts.
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        tokio::select! {
            r = a.as_mut().unwrap() => panic!("the first instance ended: {r:?}"),
            () = async {
                while fake.subscribes() == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            } => {}
        }
    })
    .await
    .expect("the first instance subscribes");
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        tokio::select! {
            r = a.as_mut().unwrap() => panic!("the first instance ended: {r:?}"),
            r = &mut second => panic!("the second instance ended: {r:?}"),
            () = sent_to(10) => {}
        }
    })
    .await
    .expect("the first ten notices");
    assert_eq!(fake.subscribes(), 1, "one subscriber for the fleet");
    // The leader dies: no release, no goodbye.
    a = None;
    drop(a);
    for id in &ids[10..] {
        fake.order_change(id, "UPDATE", &json!({"Status": "Delivered"}));
    }
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        tokio::select! {
            r = &mut second => panic!("the second instance ended: {r:?}"),
            () = sent_to(20) => {}
        }
    })
    .await
    .expect("the second instance took over");
    // A moment for anything doubled to show.
    tokio::time::timeout(std::time::Duration::from_millis(500), &mut second)
        .await
        .ok();
    assert_eq!(fake.subscribes(), 2, "the second instance subscribed once");
    let requests = graph.message_requests().await;
    let mut to: Vec<String> = requests
        .iter()
        .map(|m| m["to"].as_str().unwrap_or_default().to_owned())
        .collect();
    to.sort();
    to.dedup();
    assert_eq!((requests.len(), to.len()), (20, 20), "each order once");
    let spent = org.api_calls() - calls;
    assert!(spent <= 20, "{spent} Salesforce calls for 20 events");
}

/// Issue 25, item 8: the confirmation carries the customer's date, not
/// UTC's: at 00:03 UTC it is still the day before in New York.
#[test]
fn the_confirmation_date_is_the_customers_date() {
    use chrono::TimeZone;
    let row = salesforce_rest::records::DynamicRecord::new()
        .set("Id", "801000000000001")
        .set("Status__c", "Activated")
        .set("Order_Number__c", "00000100")
        .set("Total__c", 1499.99)
        .set("Customer_Phone__c", "14155550123");
    let at = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 0, 3, 0).unwrap();
    let (template, _, _) = order_updates::notice(&row, at).unwrap();
    let json = serde_json::to_value(&template).unwrap().to_string();
    assert!(json.contains("12/06/2026"), "{json}");
    assert!(!json.contains("12/07/2026"), "{json}");
    assert!(json.contains("\"there\""), "no name: Hi there: {json}");
}
