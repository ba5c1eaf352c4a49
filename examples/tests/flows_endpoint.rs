//! The Flows endpoint example: a simulated customer books over HTTP in the
//! sandbox, and the booking rules hold (taken slots, expired tokens, full
//! days, retries).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    dead_code,
    unreachable_pub
)]

#[path = "../examples/flows_endpoint.rs"]
mod flows_endpoint;

use std::sync::Arc;

use chrono::NaiveDate;
use examples::{Backends, Stores};
use flows_endpoint::{Booking, FLOW_JSON, weekdays_after};
use serde_json::{Value, json};
use whatsapp_cloud::flows::{FlowsHandler, FlowsKey, check_flow_json};
use whatsapp_cloud::testkit::FlowsSimulator;

/// A Wednesday: the days offered are Thu, Fri, Mon, Tue, Wed.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()
}

#[test]
fn weekends_are_never_offered() {
    let days: Vec<String> = weekdays_after(today(), 5)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        days,
        [
            "2026-12-03",
            "2026-12-04",
            "2026-12-07",
            "2026-12-08",
            "2026-12-09"
        ]
    );
}

#[test]
fn the_flow_json_declares_the_screens_the_endpoint_answers() {
    check_flow_json(FLOW_JSON).unwrap();
    let flow: Value = serde_json::from_str(FLOW_JSON).unwrap();
    let ids: Vec<&str> = flow["screens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["PICK_DATE", "PICK_SLOT", "NOTICE"]);
    assert_eq!(flow["data_api_version"], "3.0");
}

/// Whether the Flow JSON's `routing_model` lets `from` answer with `to`
/// (the same screen again, a declared route, or the completion).
fn routed(from: &str, to: &str) -> bool {
    let flow: Value = serde_json::from_str(FLOW_JSON).unwrap();
    to == from
        || to == "SUCCESS"
        || flow["routing_model"][from]
            .as_array()
            .is_some_and(|r| r.iter().any(|s| s == to))
}

/// Issue 26, item 5: every screen the endpoint answers with is a route the
/// Flow JSON declares from the screen that asked (WhatsApp checks answers
/// against the routing model): unknown tokens, unreadable or unoffered
/// times, taken times, a day that filled up, bookings, full days.
#[tokio::test]
async fn every_answer_is_a_declared_route() {
    let r = rig().await;
    r.stores
        .marks
        .set("flow-token-book-r", "14155550125")
        .await
        .unwrap();
    r.stores
        .marks
        .set("flow-token-book-s", "14155550126")
        .await
        .unwrap();
    let date = |d: &str| json!({"version": "3.0", "action": "data_exchange", "screen": "PICK_DATE", "data": {"date": d}, "flow_token": "book-r"});
    // Thursday 12/03/2026, 10:30 AM Eastern; Friday filled below.
    let mut cases = vec![
        ("PICK_DATE", date("2026-12-03")),
        ("PICK_DATE", date("2026-12-05")),
        ("PICK_SLOT", slot_request("book-unknown", "1796311800")),
        ("PICK_SLOT", slot_request("book-r", "not-a-time")),
        ("PICK_SLOT", slot_request("book-r", "1796313000")),
        ("PICK_SLOT", slot_request("book-r", "1796311800")),
        ("PICK_SLOT", slot_request("book-s", "1796311800")),
        // A time on a day not offered (a year earlier).
        ("PICK_SLOT", slot_request("book-s", "1764775800")),
    ];
    let org = r.b.org.as_ref().unwrap();
    // Friday: all but 4 PM taken; book-s asks for 9 AM (taken), the day has
    // one time left; then 4 PM goes too and book-s asks again: full.
    for (h, m) in [(9, 0), (10, 30), (13, 0), (14, 30)] {
        let at = format!("2026-12-04T{:02}:{m:02}:00.000+0000", h + 5);
        org.insert(
            "Appointment__c",
            json!({"Start__c": at, "Status__c": "Confirmed", "Slot_Key__c": format!("pre{h}")}),
        );
    }
    cases.push(("PICK_SLOT", slot_request("book-s", "1796392800")));
    let mut answered = Vec::new();
    for (from, request) in cases {
        let a = ask(&r.booking, request).await;
        let to = a["screen"].as_str().unwrap().to_owned();
        assert!(routed(from, &to), "{from} answered {to}: {a}");
        answered.push(to);
    }
    org.insert(
        "Appointment__c",
        json!({"Start__c": "2026-12-04T21:00:00.000+0000", "Status__c": "Confirmed", "Slot_Key__c": "pre16"}),
    );
    let full = ask(&r.booking, slot_request("book-s", "1796392800")).await;
    assert_eq!(full["screen"], "NOTICE", "{full}");
    assert!(
        full["data"]["message"]
            .as_str()
            .unwrap()
            .contains("filled up")
    );
    assert!(answered.contains(&"NOTICE".to_owned()));
    assert!(answered.contains(&"SUCCESS".to_owned()));
}

/// Issue 26, item 5: with `reject_unknown_tokens`, a token the endpoint does
/// not hold gets HTTP 427 (Meta's "flow token no longer valid"), through the
/// whole endpoint.
#[tokio::test]
async fn unknown_tokens_can_get_427() {
    let r = rig().await;
    let booking = Booking::new(
        r.b.salesforce.clone(),
        r.stores.clone(),
        chrono_tz::America::New_York,
        today(),
    )
    .reject_unknown_tokens();
    let key = FlowsKey::generate(1024).unwrap();
    let sealed = FlowsSimulator::new(&key.public_key_pem().unwrap())
        .unwrap()
        .seal(&slot_request("book-unknown", "1796311800"))
        .unwrap();
    let answer =
        whatsapp_cloud::flows::handle(&key, None, None, &sealed.body, |req| booking.handle(req))
            .await;
    assert_eq!(answer.status, whatsapp_cloud::flows::FLOW_TOKEN_INVALID);
    assert_eq!(answer.status, 427);
}

#[tokio::test]
async fn a_customer_books_once_over_http_and_taken_slots_are_not_offered() {
    let b = Backends::sandbox().await.unwrap();
    let stores = Arc::new(Stores::memory().unwrap());
    let s = flows_endpoint::run(&b, stores, today()).await.unwrap();
    assert_eq!(s.screens, ["PICK_DATE", "PICK_SLOT", "SUCCESS"]);
    assert_eq!(
        s.offered,
        ["10:30 AM EST", "1:00 PM EST", "2:30 PM EST", "4:00 PM EST"],
        "9:00 AM was taken"
    );
    assert!(s.retry_same);
    let org = b.org.as_ref().unwrap();
    let appointments = org.records("Appointment__c");
    assert_eq!(
        appointments.len(),
        2,
        "the seeded one and ours, none twice: {appointments:?}"
    );
    let ours = appointments
        .iter()
        .find(|a| a["Booking_Key__c"] != "seeded")
        .unwrap();
    assert_eq!(ours["Customer_Phone__c"], "14155550123");
    assert_eq!(
        ours["Start__c"].as_str().unwrap()[..16],
        *"2026-12-03T15:30"
    );
    let sent = b.graph.as_ref().unwrap().message_requests().await;
    assert_eq!(sent[0]["interactive"]["type"], "flow");
    assert_eq!(
        sent[0]["interactive"]["action"]["parameters"]["flow_action"],
        "data_exchange"
    );
}

struct Rig {
    b: Backends,
    booking: Booking,
    stores: Arc<Stores>,
}

async fn rig() -> Rig {
    let b = Backends::sandbox().await.unwrap();
    let stores = Arc::new(Stores::memory().unwrap());
    let booking = Booking::new(
        b.salesforce.clone(),
        stores.clone(),
        chrono_tz::America::New_York,
        today(),
    );
    Rig { b, booking, stores }
}

async fn ask(booking: &Booking, request: Value) -> Value {
    // Through the real decryption path, as the endpoint receives it.
    let key = FlowsKey::generate(1024).unwrap();
    let sealed = FlowsSimulator::new(&key.public_key_pem().unwrap())
        .unwrap()
        .seal(&request)
        .unwrap();
    let decrypted = whatsapp_cloud::flows::decrypt(&key, &sealed.body).unwrap();
    booking.handle(decrypted.request).await.unwrap()
}

fn slot_request(token: &str, slot: &str) -> Value {
    json!({"version": "3.0", "action": "data_exchange", "screen": "PICK_SLOT", "data": {"slot": slot}, "flow_token": token})
}

#[tokio::test]
async fn unknown_tokens_taken_slots_and_full_days_get_an_error_screen() {
    let r = rig().await;
    // 10:30 AM Eastern on Thu 12/03/2026.
    let slot = "1796311800";
    let expired = ask(&r.booking, slot_request("book-unknown", slot)).await;
    assert_eq!(expired["screen"], "NOTICE");
    assert!(
        expired["data"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    r.stores
        .marks
        .set("flow-token-book-a", "14155550123")
        .await
        .unwrap();
    r.stores
        .marks
        .set("flow-token-book-b", "14155550124")
        .await
        .unwrap();
    let first = ask(&r.booking, slot_request("book-a", slot)).await;
    assert_eq!(first["screen"], "SUCCESS");
    let second = ask(&r.booking, slot_request("book-b", slot)).await;
    assert_eq!(second["screen"], "PICK_SLOT", "{second}");
    assert!(
        second["data"]["error_message"]
            .as_str()
            .unwrap()
            .contains("just taken")
    );
    let titles: Vec<&str> = second["data"]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert!(!titles.contains(&"10:30 AM EST"), "{titles:?}");

    let not_offered = ask(&r.booking, slot_request("book-b", "1796313000")).await;
    assert!(
        not_offered["data"]["error_message"]
            .as_str()
            .unwrap()
            .contains("not offered")
    );

    // Fill Friday, then ask for it.
    let org = r.b.org.as_ref().unwrap();
    for (h, m) in [(9, 0), (10, 30), (13, 0), (14, 30), (16, 0)] {
        let at = format!("2026-12-04T{:02}:{m:02}:00.000+0000", h + 5);
        org.insert(
            "Appointment__c",
            json!({"Start__c": at, "Status__c": "Confirmed", "Booking_Key__c": format!("k{h}")}),
        );
    }
    let friday = ask(&r.booking, json!({"version": "3.0", "action": "data_exchange", "screen": "PICK_DATE", "data": {"date": "2026-12-04"}, "flow_token": "book-b"})).await;
    assert_eq!(friday["screen"], "PICK_DATE");
    assert!(
        friday["data"]["error_message"]
            .as_str()
            .unwrap()
            .contains("fully booked")
    );
    let saturday = ask(&r.booking, json!({"version": "3.0", "action": "data_exchange", "screen": "PICK_DATE", "data": {"date": "2026-12-05"}, "flow_token": "book-b"})).await;
    assert!(
        saturday["data"]["error_message"]
            .as_str()
            .unwrap()
            .contains("days shown")
    );
}

/// Issue 26, item 1: two customers choosing the same free time at the same
/// moment: one gets it, the other is asked to pick another, whatever the
/// CRM's latency; WhatsApp retrying the winner's request books nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_customers_racing_for_one_slot_never_both_get_it() {
    // 10:30 AM Eastern on Thu 12/03/2026.
    let slot = "1796311800";
    for latency_ms in [0, 20, 50] {
        let r = rig().await;
        let org = r.b.org.as_ref().unwrap();
        org.set_latency(std::time::Duration::from_millis(latency_ms));
        for (token, phone) in [("race-a", "14155550123"), ("race-b", "14155550124")] {
            r.stores
                .marks
                .set(&format!("flow-token-{token}"), phone)
                .await
                .unwrap();
        }
        let (a, b) = tokio::join!(
            ask(&r.booking, slot_request("race-a", slot)),
            ask(&r.booking, slot_request("race-b", slot))
        );
        let screens = [a["screen"].as_str().unwrap(), b["screen"].as_str().unwrap()];
        assert_eq!(
            screens.iter().filter(|s| **s == "SUCCESS").count(),
            1,
            "{latency_ms} ms: {screens:?}"
        );
        assert!(screens.contains(&"PICK_SLOT"), "{screens:?}");
        let booked = || {
            org.records("Appointment__c")
                .into_iter()
                .filter(|r| r["Slot_Key__c"] == format!("slot-{slot}").as_str())
                .count()
        };
        assert_eq!(
            booked(),
            1,
            "{latency_ms} ms: one appointment for the slot: {:?}",
            org.records("Appointment__c")
        );
        // The winner's request again (a WhatsApp retry): the same booking.
        let (winner, first) = if screens[0] == "SUCCESS" {
            ("race-a", &a)
        } else {
            ("race-b", &b)
        };
        let again = ask(&r.booking, slot_request(winner, slot)).await;
        assert_eq!(again["screen"], "SUCCESS");
        let id =
            |v: &Value| v["data"]["extension_message_response"]["params"]["appointment_id"].clone();
        assert_eq!(id(&again), id(first), "the same appointment");
        assert_eq!(booked(), 1);
    }
}
