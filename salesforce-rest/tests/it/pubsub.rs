//! The Pub/Sub subscriber against the fake server over real HTTP/2: order,
//! flow control, replay across restarts, a server disconnect and an expired
//! token mid-stream (reconnect, one renewal, no loss, no repeat), publishing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use salesforce_rest::pubsub::{
    ChangeType, EventMessage, FileReplayStore, Flow, MemoryReplayStore, PubSubClient, PubSubError,
    ReplayStore, StartFrom,
};
use salesforce_rest::testkit::{FakeFailure, FakePubSub, MockOrg};
use serde_json::json;

pub(crate) const TOPIC: &str = "/data/OrderChangeEvent";

pub(crate) fn client(org: &MockOrg, fake: &FakePubSub) -> PubSubClient {
    PubSubClient::builder(org.session())
        .endpoint(fake.url())
        .build()
        .unwrap()
}

pub(crate) fn orders(fake: &FakePubSub, range: std::ops::Range<u32>) {
    for i in range {
        fake.order_change(
            &format!("801{i:012}"),
            "UPDATE",
            &json!({"Status": format!("Shipped {i}")}),
        );
    }
}

/// Runs a subscription until `stop_after` events were handled in this run;
/// returns the record ids seen.
async fn take(
    pubsub: &PubSubClient,
    store: Arc<dyn ReplayStore>,
    stop_after: usize,
) -> Result<Vec<String>, PubSubError> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let run = pubsub
        .subscribe(TOPIC, store)
        .start_from(StartFrom::Earliest)
        .batch(3)
        .reconnect(Duration::from_millis(5), Duration::from_millis(20))
        .give_up_after(5)
        .run(move |e: EventMessage| {
            let s = s.clone();
            async move {
                let mut v = s.lock().unwrap();
                v.push(e.change.unwrap().record_ids[0].clone());
                Ok(if v.len() == stop_after {
                    Flow::Stop
                } else {
                    Flow::Continue
                })
            }
        });
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the subscription hung")?;
    Ok(seen.lock().unwrap().clone())
}

/// The first `n` events of the topic, from the earliest.
async fn first_events(pubsub: &PubSubClient, n: usize) -> Vec<EventMessage> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let e2 = events.clone();
    pubsub
        .subscribe(TOPIC, Arc::new(MemoryReplayStore::default()))
        .start_from(StartFrom::Earliest)
        .run(move |e| {
            let e2 = e2.clone();
            async move {
                let mut v = e2.lock().unwrap();
                v.push(e);
                Ok(if v.len() == n {
                    Flow::Stop
                } else {
                    Flow::Continue
                })
            }
        })
        .await
        .unwrap();
    events.lock().unwrap().clone()
}

fn ids(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("801{i:012}")).collect()
}

#[tokio::test]
async fn change_events_arrive_in_order_with_a_typed_header() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    fake.order_change(
        "801000000000001",
        "CREATE",
        &json!({"Status": "Draft", "OrderNumber": "00000100", "TotalAmount": 1499.99}),
    );
    fake.order_change("801000000000001", "UPDATE", &json!({"Status": "Activated"}));
    fake.order_change(
        "801000000000001",
        "UPDATE",
        &json!({"TotalAmount": 1299.99, "Customer_Name__c": "Ana"}),
    );
    let events = first_events(&client(&org, &fake), 3).await;
    let header = |i: usize| events[i].change.clone().unwrap();
    assert_eq!(header(0).change_type, ChangeType::Create);
    assert!(events[0].changed("Status"), "a create changes every field");
    assert_eq!(events[0].fields["TotalAmount"], 1499.99);
    assert_eq!(header(1).change_type, ChangeType::Update);
    assert_eq!(header(1).changed_fields, ["Status"]);
    assert!(events[1].changed("Status"));
    assert_eq!(events[1].text("Status"), Some("Activated"));
    assert_eq!(
        header(2).changed_fields,
        ["TotalAmount", "Customer_Name__c"]
    );
    assert!(!events[2].changed("Status"));
    assert_eq!(header(2).entity_name, "Order");
    assert!(header(1).commit_timestamp < header(2).commit_timestamp);
    assert!(
        !format!("{:?}", events[2]).contains("Ana"),
        "Debug shows field names, not values"
    );
}

#[tokio::test]
async fn flow_control_asks_for_more_as_events_are_handled() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    orders(&fake, 0..10);
    let seen = take(
        &client(&org, &fake),
        Arc::new(MemoryReplayStore::default()),
        10,
    )
    .await
    .unwrap();
    assert_eq!(seen, ids(0..10), "ten events through batches of three");
    assert_eq!(fake.subscribes(), 1);
}

#[tokio::test]
async fn a_restart_resumes_after_the_last_handled_event() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    orders(&fake, 0..10);
    let dir = tempfile::tempdir().unwrap();
    let first = take(
        &client(&org, &fake),
        Arc::new(FileReplayStore::new(dir.path()).unwrap()),
        4,
    )
    .await
    .unwrap();
    assert_eq!(first, ids(0..4));

    // A handler that fails leaves its event unsaved: it comes again (here
    // the run is told to give up after three faults in a row).
    let store: Arc<dyn ReplayStore> = Arc::new(FileReplayStore::new(dir.path()).unwrap());
    let failing = client(&org, &fake)
        .subscribe(TOPIC, store.clone())
        .reconnect(Duration::from_millis(5), Duration::from_millis(10))
        .give_up_after(3)
        .run(|_| async { Err::<Flow, _>("the CRM is down".into()) })
        .await
        .unwrap_err();
    assert!(
        matches!(&failing, PubSubError::Unavailable { attempts: 3, last } if last.contains("the CRM is down")),
        "{failing}"
    );

    // A new process (new client, store reopened from disk).
    let rest = take(
        &client(&org, &fake),
        Arc::new(FileReplayStore::new(dir.path()).unwrap()),
        6,
    )
    .await
    .unwrap();
    assert_eq!(rest, ids(4..10), "nothing repeated, nothing lost");
}

#[tokio::test]
async fn a_server_disconnect_reconnects_without_loss_or_repeat() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    orders(&fake, 0..9);
    fake.fail_after(4, FakeFailure::Disconnect);
    let seen = take(
        &client(&org, &fake),
        Arc::new(MemoryReplayStore::default()),
        9,
    )
    .await
    .unwrap();
    assert_eq!(seen, ids(0..9));
    assert_eq!(fake.subscribes(), 2, "one reconnection");
}

#[tokio::test]
async fn an_expired_token_mid_stream_is_renewed_once_and_nothing_is_lost() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    orders(&fake, 0..8);
    let pubsub = client(&org, &fake);
    pubsub.session().token().await.unwrap();
    let logins = org.token_requests();
    fake.fail_after(3, FakeFailure::ExpiredToken);
    let seen = take(&pubsub, Arc::new(MemoryReplayStore::default()), 8)
        .await
        .unwrap();
    assert_eq!(seen, ids(0..8));
    assert_eq!(org.token_requests() - logins, 1, "one renewal");
    assert_eq!(fake.subscribes(), 2);
}

#[tokio::test]
async fn latest_starts_with_new_events_and_live_events_arrive() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    orders(&fake, 0..3);
    let pubsub = client(&org, &fake);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let run = tokio::spawn(
        pubsub
            .subscribe(TOPIC, Arc::new(MemoryReplayStore::default()))
            .run(move |e: EventMessage| {
                let s = s.clone();
                async move {
                    s.lock()
                        .unwrap()
                        .push(e.change.unwrap().record_ids[0].clone());
                    Ok(Flow::Stop)
                }
            }),
    );
    // Wait until the subscription is open and caught up (its first
    // keep-alive), then publish a live change.
    until(|| fake.keep_alives() > 0).await;
    orders(&fake, 3..4);
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        ids(3..4),
        "old events are not replayed with LATEST"
    );
}

#[tokio::test]
async fn bad_configuration_and_unknown_topics_are_refused() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    let plain = PubSubClient::builder(org.session())
        .endpoint("http://pubsub.example.com:7443")
        .build()
        .unwrap_err();
    assert!(plain.to_string().contains("plaintext"), "{plain}");
    let missing = client(&org, &fake)
        .subscribe(
            "/data/NoSuchChangeEvent",
            Arc::new(MemoryReplayStore::default()),
        )
        .run(|_| async { Ok(Flow::Continue) })
        .await
        .unwrap_err();
    assert!(matches!(missing, PubSubError::Refused { .. }));
}

#[tokio::test]
async fn platform_events_are_published_with_per_event_results() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    let schema = r#"{"type": "record", "name": "Order_Shipped__e", "fields": [
        {"name": "Order_Number__c", "type": ["null", "string"], "default": null},
        {"name": "Carrier__c", "type": ["null", "string"], "default": null}]}"#;
    fake.add_topic("/event/Order_Shipped__e", "shipped-1", schema);
    let pubsub = client(&org, &fake);
    let results = pubsub
        .publish(
            "/event/Order_Shipped__e",
            &[
                json!({"Order_Number__c": "00000100", "Carrier__c": "UPS"}),
                json!({"Order_Number__c": "00000101", "Carrier__c": null}),
            ],
        )
        .await
        .unwrap();
    assert_eq!(results.len(), 2);
    assert!(
        results
            .iter()
            .all(|r| r.replay_id.is_some() && r.error.is_none())
    );
    assert_eq!(fake.events("/event/Order_Shipped__e").len(), 2);
    let wrong = pubsub
        .publish("/event/Order_Shipped__e", &[json!({"Order_Number__c": 5})])
        .await
        .unwrap_err();
    assert!(matches!(wrong, PubSubError::Encode(_)), "{wrong}");
    let cdc = pubsub.publish(TOPIC, &[json!({})]).await.unwrap_err();
    assert!(
        matches!(cdc, PubSubError::Refused { .. }),
        "change channels cannot be published to"
    );
}

#[tokio::test]
async fn keep_alives_do_not_pile_up_requests() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    let pubsub = client(&org, &fake);
    let store: Arc<dyn ReplayStore> = Arc::new(MemoryReplayStore::default());
    let handled = Arc::new(Mutex::new(0));
    let h = handled.clone();
    let run = tokio::spawn(
        pubsub
            .subscribe(TOPIC, store.clone())
            .batch(5)
            .run(move |_| {
                let h = h.clone();
                async move {
                    let mut n = h.lock().unwrap();
                    *n += 1;
                    Ok(if *n == 5 { Flow::Stop } else { Flow::Continue })
                }
            }),
    );
    // Several keep-alives while nothing happens.
    until(|| fake.keep_alives() >= 4).await;
    assert_eq!(fake.requested(), 5, "the first request only");
    assert!(
        store.load(TOPIC).await.unwrap().is_some(),
        "a keep-alive's position is saved while caught up"
    );
    orders(&fake, 0..5);
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(*handled.lock().unwrap(), 5);
}

#[tokio::test]
async fn the_mock_orgs_writes_become_change_events() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    fake.follow(&org);
    let rest = org.client();
    let order = salesforce_rest::records::DynamicRecord::new()
        .set("OrderNumber", "00000300")
        .set("Status", "Draft")
        .set("Customer_Phone__c", "14155550111");
    let id = rest.create(&order).object("Order").await.unwrap();
    rest.update(
        &id,
        &salesforce_rest::records::DynamicRecord::new().set("Status", "Activated"),
    )
    .object("Order")
    .await
    .unwrap();
    org.insert("Lead", json!({"LastName": "Not an order", "Company": "x"}));
    let events = first_events(&client(&org, &fake), 2).await;
    let created = events[0].change.clone().unwrap();
    assert_eq!(
        (created.change_type, created.record_ids[0].as_str()),
        (ChangeType::Create, id.as_str())
    );
    assert_eq!(events[0].text("OrderNumber"), Some("00000300"));
    assert_eq!(events[1].change.clone().unwrap().changed_fields, ["Status"]);
    assert_eq!(fake.events(TOPIC).len(), 2, "the Lead made no order event");
}

/// Waits until `done` holds, checking every few milliseconds, for at most
/// ten seconds (a condition, not a guess at how long the other side takes).
async fn until(done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the condition never held"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
