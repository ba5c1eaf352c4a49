//! The Pub/Sub subscriber through ordinary faults (issue 25): a refused
//! login, many healthy disconnects, a long outage behind the handler, a
//! replay id past the retention window, bad events among good ones; each
//! against the fake server over real HTTP/2.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use salesforce_rest::pubsub::{
    EventMessage, Flow, Gap, MemoryReplayStore, ReplayStore, StartFrom, SubscriberState,
};
use salesforce_rest::testkit::{FakeFailure, FakePubSub, MockOrg};
use serde_json::json;

use super::pubsub::{TOPIC, client, orders};

fn record_id(e: &EventMessage) -> String {
    e.change.as_ref().unwrap().record_ids[0].clone()
}

/// How many times each record id was handled.
type Counts = Arc<Mutex<HashMap<String, u32>>>;

fn count(counts: &Counts, id: String) -> usize {
    let mut c = counts.lock().unwrap();
    *c.entry(id).or_default() += 1;
    c.len()
}

#[tokio::test]
async fn refused_auth_for_ten_seconds_costs_a_few_logins_then_service_resumes() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    orders(&fake, 0..5);
    let pubsub = client(&org, &fake);
    pubsub.session().token().await.unwrap();
    let logins = org.token_requests();
    fake.refuse_auth_for(Duration::from_secs(10));
    let counts: Counts = Arc::default();
    let c = counts.clone();
    let sub = pubsub.subscribe(TOPIC, Arc::new(MemoryReplayStore::default()));
    let health = sub.health();
    let run = sub.start_from(StartFrom::Earliest).run(move |e| {
        let n = count(&c, record_id(&e));
        async move { Ok(if n == 5 { Flow::Stop } else { Flow::Continue }) }
    });
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the subscriber came back after the refusal")
        .unwrap();
    let renewals = org.token_requests() - logins;
    assert!(renewals <= 5, "{renewals} token requests in a 10 s refusal");
    assert!(
        fake.subscribes() <= 10,
        "{} Subscribe attempts in a 10 s refusal",
        fake.subscribes()
    );
    let counts = counts.lock().unwrap();
    assert_eq!(counts.len(), 5, "nothing lost");
    assert!(counts.values().all(|n| *n == 1), "nothing repeated");
    assert_eq!(health.borrow().state, SubscriberState::Stopped);
}

#[tokio::test]
async fn twenty_healthy_disconnects_in_a_row_do_not_end_the_run() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    orders(&fake, 0..42);
    fake.fail_every(2, FakeFailure::Disconnect);
    let counts: Counts = Arc::default();
    let c = counts.clone();
    let sub = client(&org, &fake)
        .subscribe(TOPIC, Arc::new(MemoryReplayStore::default()))
        .start_from(StartFrom::Earliest)
        .reconnect(Duration::from_millis(2), Duration::from_millis(10))
        // Three faults in a row would end it: reconnections after streams
        // that delivered are not faults in a row.
        .give_up_after(3);
    let health = sub.health();
    let run = sub.run(move |e| {
        let n = count(&c, record_id(&e));
        async move { Ok(if n == 42 { Flow::Stop } else { Flow::Continue }) }
    });
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .unwrap()
        .unwrap();
    assert!(fake.subscribes() >= 21, "{} streams", fake.subscribes());
    assert!(counts.lock().unwrap().values().all(|n| *n == 1));
    assert_eq!(health.borrow().events, 42);
    assert!(health.borrow().reconnects >= 20);
}

#[tokio::test]
async fn a_long_outage_behind_the_handler_is_outlasted_and_nothing_is_skipped() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    orders(&fake, 0..10);
    // The CRM answers 503 to the first 12 attempts (at 3, mid-stream).
    let failures = Arc::new(Mutex::new(0u32));
    let counts: Counts = Arc::default();
    let (f, c) = (failures.clone(), counts.clone());
    let sub = client(&org, &fake)
        .subscribe(TOPIC, Arc::new(MemoryReplayStore::default()))
        .start_from(StartFrom::Earliest)
        .reconnect(Duration::from_millis(2), Duration::from_millis(20));
    let health = sub.health();
    let run = sub.run(move |e| {
        let (f, c) = (f.clone(), c.clone());
        async move {
            let id = record_id(&e);
            if id.ends_with("03") {
                let mut failed = f.lock().unwrap();
                if *failed < 12 {
                    *failed += 1;
                    return Err("Salesforce answered 503 Service Unavailable".into());
                }
            }
            let n = count(&c, id);
            Ok(if n == 10 { Flow::Stop } else { Flow::Continue })
        }
    });
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .unwrap()
        .unwrap();
    let counts = counts.lock().unwrap();
    assert_eq!(counts.len(), 10, "every event handled after the outage");
    assert!(counts.values().all(|n| *n == 1), "none twice: {counts:?}");
    assert_eq!(*failures.lock().unwrap(), 12);
    let h = health.borrow();
    assert!(h.reconnects >= 12);
    assert!(h.last_error.as_deref().is_some_and(|e| e.contains("503")));
}

#[tokio::test]
async fn a_replay_id_past_retention_resubscribes_once_and_reports_the_gap() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    orders(&fake, 0..3);
    let store: Arc<dyn ReplayStore> = Arc::new(MemoryReplayStore::default());
    // A first run handles the three events and saves its place.
    let seen = Arc::new(Mutex::new(0));
    let s = seen.clone();
    client(&org, &fake)
        .subscribe(TOPIC, store.clone())
        .start_from(StartFrom::Earliest)
        .run(move |_| {
            let mut n = s.lock().unwrap();
            *n += 1;
            let stop = *n == 3;
            async move { Ok(if stop { Flow::Stop } else { Flow::Continue }) }
        })
        .await
        .unwrap();
    // Down for more than 72 hours: those events (and the saved id) are gone.
    fake.expire_events();
    orders(&fake, 3..6);
    let gaps: Arc<Mutex<Vec<Gap>>> = Arc::default();
    let counts: Counts = Arc::default();
    let (g, c) = (gaps.clone(), counts.clone());
    let subscribes = fake.subscribes();
    let run = client(&org, &fake)
        .subscribe(TOPIC, store.clone())
        .on_gap(move |gap| g.lock().unwrap().push(gap.clone()))
        .run(move |e| {
            let n = count(&c, record_id(&e));
            async move { Ok(if n == 3 { Flow::Stop } else { Flow::Continue }) }
        });
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .unwrap()
        .unwrap();
    let gaps = gaps.lock().unwrap().clone();
    assert_eq!(gaps.len(), 1, "one gap");
    assert_eq!(gaps[0].resumed_from, StartFrom::Earliest);
    assert_eq!(gaps[0].refused_replay_id, 3u64.to_be_bytes().to_vec());
    assert_eq!(
        fake.subscribes() - subscribes,
        2,
        "refused once, resubscribed once"
    );
    let mut ids: Vec<String> = counts.lock().unwrap().keys().cloned().collect();
    ids.sort();
    assert_eq!(
        ids,
        (3..6).map(|i| format!("801{i:012}")).collect::<Vec<_>>(),
        "the events still retained"
    );
    // A restart resumes from the new place: no gap, no crash.
    orders(&fake, 6..7);
    let again = client(&org, &fake)
        .subscribe(TOPIC, store)
        .on_gap(|_| panic!("no second gap"))
        .run(|_| async { Ok(Flow::Stop) });
    tokio::time::timeout(Duration::from_secs(10), again)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn bad_events_among_good_ones_are_dead_lettered_and_the_stream_moves_on() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    orders(&fake, 0..50);
    fake.push_raw(
        TOPIC,
        salesforce_rest::testkit::ORDER_CHANGE_SCHEMA_ID,
        vec![0xff, 0xff, 0xff, 0xff, 0x01],
    );
    orders(&fake, 50..75);
    fake.push_raw(TOPIC, "no-such-schema", vec![2, 4]);
    orders(&fake, 75..100);
    let store: Arc<dyn ReplayStore> = Arc::new(MemoryReplayStore::default());
    let counts: Counts = Arc::default();
    let c = counts.clone();
    let sub = client(&org, &fake)
        .subscribe(TOPIC, store.clone())
        .start_from(StartFrom::Earliest)
        .batch(20)
        .give_up_after(2);
    let health = sub.health();
    let run = sub.run_batches(move |events| {
        let n = events
            .iter()
            .map(|e| count(&c, record_id(e)))
            .max()
            .unwrap_or(0);
        async move { Ok(if n == 100 { Flow::Stop } else { Flow::Continue }) }
    });
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counts.lock().unwrap().len(), 100, "every good event");
    let dead = store.dead_letters(TOPIC).await.unwrap();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert_eq!(dead[0].payload, vec![0xff, 0xff, 0xff, 0xff, 0x01]);
    assert_eq!(dead[0].replay_id, 51u64.to_be_bytes().to_vec());
    assert!(dead[0].reason.contains("undecodable"), "{}", dead[0].reason);
    assert_eq!(dead[1].schema_id, "no-such-schema");
    assert_eq!(health.borrow().dead_letters, 2);
    assert!(
        !format!("{:?}", dead[0]).contains("255"),
        "Debug shows the payload's size, not its bytes"
    );
}

#[tokio::test]
async fn the_tenant_id_is_the_18_character_org_id() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    orders(&fake, 0..1);
    client(&org, &fake)
        .subscribe(TOPIC, Arc::new(MemoryReplayStore::default()))
        .start_from(StartFrom::Earliest)
        .run(|_| async { Ok(Flow::Stop) })
        .await
        .unwrap();
    let tenants = fake.tenant_ids();
    assert_eq!(tenants.len(), 1);
    assert_eq!(
        tenants,
        ["00D000000000001EAA"],
        "the token's org id, in 18 characters"
    );
}

#[tokio::test]
async fn dates_in_change_events_are_typed() {
    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    fake.order_change(
        "801000000000001",
        "UPDATE",
        &json!({"Status": "Shipped", "ETA__c": 20_796, "LastModifiedDate": 1_796_826_600_000_i64}),
    );
    let events = Arc::new(Mutex::new(Vec::new()));
    let e2 = events.clone();
    client(&org, &fake)
        .subscribe(TOPIC, Arc::new(MemoryReplayStore::default()))
        .start_from(StartFrom::Earliest)
        .run(move |e| {
            e2.lock().unwrap().push(e);
            async { Ok(Flow::Stop) }
        })
        .await
        .unwrap();
    let e = events.lock().unwrap()[0].clone();
    assert_eq!(e.text("ETA__c"), Some("2026-12-09"));
    assert_eq!(
        e.date("ETA__c"),
        chrono::NaiveDate::from_ymd_opt(2026, 12, 9)
    );
    assert_eq!(
        e.text("LastModifiedDate"),
        Some("2026-12-09T14:30:00.000+0000")
    );
}
