//! Every example runs in sandbox mode, so CI keeps them working; the webhook
//! server serves real traffic against mock backends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    dead_code,
    unreachable_pub
)]

#[path = "../examples/appointment_reminders.rs"]
mod appointment_reminders;
#[path = "../examples/lead_capture.rs"]
mod lead_capture;
#[path = "../examples/order_updates.rs"]
mod order_updates;
#[path = "../examples/payment_reminders.rs"]
mod payment_reminders;
#[path = "../examples/quickstart.rs"]
mod quickstart;
#[path = "../examples/salesforce_login.rs"]
mod salesforce_login;
#[path = "../examples/send_template.rs"]
mod send_template;
#[path = "../examples/webhook_to_case.rs"]
mod webhook_to_case;

use examples::Backends;

#[tokio::test]
async fn quickstart_creates_a_case_and_a_lead_once_and_replies() {
    let b = Backends::sandbox().await.unwrap();
    let s = quickstart::run(&b).await.unwrap();
    assert_eq!(s.written, vec!["Case", "Lead", "Case", "Contact"]);
    assert_eq!(
        s.replies, 3,
        "the Case, the welcome, the follow-up; no welcome for a Contact"
    );
    assert_eq!(s.duplicates, 1);
    let org = b.org.as_ref().unwrap();
    assert_eq!(
        org.records("Case").len(),
        1,
        "the follow-up joined the Case"
    );
    assert_eq!(org.records("Case")[0]["Origin"], "WhatsApp");
    assert_eq!(org.records("Lead").len(), 1, "the Contact got no Lead");
    let ledger = org.records("WhatsApp_Message__c");
    assert_eq!(
        ledger.len(),
        7,
        "one ledger record per message, the 3 replies too"
    );
    assert_eq!(
        ledger
            .iter()
            .filter(|e| e["Direction__c"] == "Outbound")
            .count(),
        3
    );
    let sent = b.graph.as_ref().unwrap().message_requests().await;
    assert!(
        sent[0]["text"]["body"]
            .as_str()
            .unwrap()
            .contains("Your case number is 00001026")
    );
    assert!(
        sent[2]["text"]["body"]
            .as_str()
            .unwrap()
            .contains("added your message to case 00001026")
    );
}

#[tokio::test]
async fn lead_capture_keeps_one_lead_per_customer() {
    let b = Backends::sandbox().await.unwrap();
    assert_eq!(lead_capture::run(&b).await.unwrap(), 1);
    let org = b.org.as_ref().unwrap();
    assert_eq!(
        org.records("Task").len(),
        1,
        "one follow-up for the new Lead"
    );
    let tags: Vec<String> = org
        .records("WhatsApp_Message__c")
        .iter()
        .filter_map(|e| e.get("Tags__c")?.as_str().map(str::to_owned))
        .collect();
    assert!(
        tags.iter().any(|t| t.contains("pricing")),
        "tags on the conversation records: {tags:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_reminders_send_and_dry_run_does_not() {
    let b = Backends::sandbox().await.unwrap();
    let stores = examples::Stores::memory().unwrap();
    let today = chrono::Utc::now().date_naive();
    let dry = payment_reminders::run(&b, &stores, payment_reminders_fields(), today, true)
        .await
        .unwrap();
    assert_eq!((dry.reminders.len(), dry.follow_ups.len()), (1, 1));
    assert!(
        b.graph
            .as_ref()
            .unwrap()
            .message_requests()
            .await
            .is_empty()
    );
    let sent = payment_reminders::run(&b, &stores, payment_reminders_fields(), today, false)
        .await
        .unwrap();
    assert!(sent.reminders[0].contains("$1,499.99"));
    let msgs = b.graph.as_ref().unwrap().message_requests().await;
    assert_eq!(msgs.len(), 2);
    // Two customers: the outbox sends to them in parallel, in either order.
    let reminder = msgs
        .iter()
        .find(|m| m["template"]["name"] == "payment_reminder")
        .unwrap();
    assert_eq!(
        reminder["template"]["components"][0]["parameters"][1]["currency"]["amount_1000"],
        1_499_990
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_reminders_go_out_once_across_reruns_and_concurrent_runs() {
    let b = Backends::sandbox().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let today = chrono::Utc::now().date_naive();
    for _ in 0..3 {
        // A fresh process each time: the ledger is on disk.
        let stores = examples::Stores::embedded(dir.path()).unwrap();
        payment_reminders::run(&b, &stores, payment_reminders_fields(), today, false)
            .await
            .unwrap();
    }
    let stores = examples::Stores::embedded(dir.path()).unwrap();
    let (x, y) = tokio::join!(
        payment_reminders::run(&b, &stores, payment_reminders_fields(), today, false),
        payment_reminders::run(&b, &stores, payment_reminders_fields(), today, false),
    );
    // The first reminder is no longer selected (its invoice is marked); the
    // follow-up is, and the ledger stops it in both runs.
    assert_eq!(x.unwrap().already_sent + y.unwrap().already_sent, 2);
    let msgs = b.graph.as_ref().unwrap().message_requests().await;
    assert_eq!(
        msgs.len(),
        2,
        "one reminder and one follow-up, whatever the runs"
    );
}

fn payment_reminders_fields() -> payment_reminders::Fields {
    payment_reminders::invoice_fields()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appointment_reminders_and_button_replies() {
    let b = Backends::sandbox().await.unwrap();
    let stores = examples::Stores::memory().unwrap();
    let done = appointment_reminders::run(&b, &stores).await.unwrap();
    assert_eq!(done.len(), 2);
    let org = b.org.as_ref().unwrap();
    assert!(
        org.records("Appointment__c")
            .iter()
            .any(|a| a["Status__c"] == "Confirmed")
    );
    assert_eq!(org.records("Task").len(), 1);
    let sent = b.graph.as_ref().unwrap().message_requests().await;
    assert!(sent.iter().any(|m| m["type"] == "interactive"));
    // The customer picks a slot from the list: the appointment moves.
    let list = sent.iter().find(|m| m["type"] == "interactive").unwrap();
    let row = list["interactive"]["action"]["sections"][0]["rows"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let appointment = row.split(':').nth(1).unwrap().to_owned();
    let body = whatsapp_cloud::testkit::payloads::envelope(vec![
        whatsapp_cloud::testkit::payloads::messages_value(
            &[whatsapp_cloud::testkit::payloads::contact(
                "14155550199",
                "Ben",
            )],
            &[
                serde_json::json!({"from": "14155550199", "id": "wamid.SLOT1", "timestamp": whatsapp_cloud::testkit::payloads::now(), "type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": row, "title": "11:30 AM"}}}),
            ],
        ),
    ]);
    let (bytes, sig) = whatsapp_cloud::testkit::signed_webhook(&body, &b.app_secret);
    let n = b.webhook.receive(Some(&sig), &bytes).unwrap();
    let svc = examples::send_service(&b, &stores);
    let booked = appointment_reminders::handle_replies(&b, &svc, &n)
        .await
        .unwrap();
    svc.drain(std::time::Duration::from_secs(10)).await;
    assert_eq!(booked, vec![format!("booked {appointment}")]);
    let moved = org
        .records("Appointment__c")
        .into_iter()
        .find(|a| a["Id"] == appointment.as_str())
        .unwrap();
    assert!(
        moved["Start__c"].as_str().unwrap().contains("T15:30:00")
            || moved["Start__c"].as_str().unwrap().contains("T16:30:00"),
        "{moved:?}"
    );
    let last = b.graph.as_ref().unwrap().message_requests().await;
    assert!(
        last.last().unwrap()["text"]["body"]
            .as_str()
            .unwrap()
            .contains("11:30 AM")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appointment_reminders_go_out_once_whatever_the_schedule() {
    let b = Backends::sandbox().await.unwrap();
    let stores = examples::Stores::memory().unwrap();
    for _ in 0..3 {
        let svc = examples::send_service(&b, &stores);
        appointment_reminders::send_reminders(&b, &svc, chrono::Utc::now())
            .await
            .unwrap_or_default();
        svc.drain(std::time::Duration::from_secs(10)).await;
        svc.shutdown().await;
    }
    // Seeded by the first full run below; three hourly runs before it saw nothing.
    assert!(
        b.graph
            .as_ref()
            .unwrap()
            .message_requests()
            .await
            .is_empty()
    );
    appointment_reminders::run(&b, &stores).await.unwrap();
    let reminders =
        |msgs: &[serde_json::Value]| msgs.iter().filter(|m| m["type"] == "template").count();
    assert_eq!(
        reminders(&b.graph.as_ref().unwrap().message_requests().await),
        2
    );
    for _ in 0..3 {
        let svc = examples::send_service(&b, &stores);
        let again = appointment_reminders::send_reminders(&b, &svc, chrono::Utc::now())
            .await
            .unwrap();
        assert!(again.is_empty(), "already reminded: {again:?}");
        svc.drain(std::time::Duration::from_secs(10)).await;
        svc.shutdown().await;
    }
    assert_eq!(
        reminders(&b.graph.as_ref().unwrap().message_requests().await),
        2,
        "one reminder per appointment"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_updates_notify_status_transitions_once() {
    let b = Backends::sandbox().await.unwrap();
    let stores = examples::Stores::memory().unwrap();
    // Shipped + activated, an edit of the shipped order (nothing), delivered.
    assert_eq!(order_updates::run(&b, &stores).await.unwrap(), 3);
    let sent = b.graph.as_ref().unwrap().message_requests().await;
    let names: Vec<&str> = sent
        .iter()
        .map(|m| m["template"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        names.contains(&"shipping_update")
            && names.contains(&"order_confirmation")
            && names.contains(&"order_delivered")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_updates_reruns_send_nothing_twice_and_save_the_watermark() {
    let b = Backends::sandbox().await.unwrap();
    let org = b.org.as_ref().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let id = org.insert("Order__c", serde_json::json!({"Order_Number__c": "2001", "Status__c": "Shipped", "Customer_Phone__c": "14155550123", "Customer_Name__c": "Ana", "Carrier__c": "UPS", "Tracking__c": "1Z"}));
    // The sandbox's clock starts at the epoch: start the watermark there.
    examples::Stores::embedded(dir.path())
        .unwrap()
        .marks
        .set("order_updates.watermark", "1970-01-01T00:00:00.000+0000")
        .await
        .unwrap();
    for _ in 0..3 {
        let stores = examples::Stores::embedded(dir.path()).unwrap();
        order_updates::poll_and_save(&b, &stores).await.unwrap();
    }
    let sent = b.graph.as_ref().unwrap().message_requests().await;
    assert_eq!(sent.len(), 1, "one notice across three runs");
    // No ETA on the order: none is invented.
    assert_eq!(
        sent[0]["template"]["components"][0]["parameters"][3]["text"],
        bridge_core::replies::NO_ETA
    );
    let stores = examples::Stores::embedded(dir.path()).unwrap();
    assert!(
        stores
            .marks
            .get("order_updates.watermark")
            .await
            .unwrap()
            .is_some(),
        "the watermark is saved"
    );
    org.touch(
        "Order__c",
        &id,
        serde_json::json!({"Status__c": "Delivered"}),
    );
    order_updates::poll_and_save(&b, &stores).await.unwrap();
    assert_eq!(
        b.graph.as_ref().unwrap().message_requests().await.len(),
        2,
        "the transition to Delivered is announced"
    );
}

#[tokio::test]
async fn salesforce_login_plays_the_whole_web_server_flow() {
    let org = salesforce_rest::testkit::MockOrg::start().await;
    let r = salesforce_login::run(Some(&org)).await.unwrap();
    assert!(r.has_refresh_token);
    assert_eq!(r.instance_url, org.uri());
}

#[tokio::test]
async fn send_template_parses_typed_parameters() {
    let b = Backends::sandbox().await.unwrap();
    let id = send_template::run(&b, &[]).await.unwrap();
    assert!(id.starts_with("wamid."));
    let args: Vec<String> = [
        "--to",
        "14155550123",
        "--template",
        "t",
        "--param",
        "usd:abc",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert!(send_template::parse(&args).is_err());
}

#[tokio::test]
async fn setup_creates_what_a_bare_org_lacks_once_and_check_fails_until_then() {
    use bridge_core::writer::SalesforceWriter;
    let org = salesforce_rest::testkit::MockOrg::start_bare().await;
    let writer = SalesforceWriter::new(org.client());
    let e = webhook_to_case::setup(&writer, true)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("MISSING  WhatsApp_Message__c") && e.contains("run `webhook_to_case setup`"),
        "{e}"
    );
    assert!(
        !org.has_field("WhatsApp_Message__c", "Message_Id__c"),
        "--check changes nothing"
    );
    let first = webhook_to_case::setup(&writer, false).await.unwrap();
    assert!(
        first.contains("created  Case.WhatsApp_Message_Id__c"),
        "{first}"
    );
    assert!(
        first.ends_with("the org is set up for the bridge"),
        "{first}"
    );
    let second = webhook_to_case::setup(&writer, false).await.unwrap();
    assert!(
        second.ends_with("nothing to change: the org was already set up"),
        "{second}"
    );
    assert!(!second.contains("created"), "{second}");
    webhook_to_case::setup(&writer, true).await.unwrap();
    assert_eq!(
        webhook_to_case::parse(&["setup".into(), "--check".into()]),
        Ok(webhook_to_case::Command::Setup { check: true })
    );
}

mod server {
    use whatsapp_cloud::testkit::{payloads, signed_webhook};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn webhook_to_case_serves_real_traffic() {
        let b = Backends::sandbox().await.unwrap();
        let stores = examples::Stores::memory().unwrap();
        let (app, routes) = webhook_to_case::build(&b, &stores, std::time::Duration::from_secs(60));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, routes).await });
        let http = reqwest::Client::new();
        let url = format!("http://{addr}/webhook");

        let hs = http
            .get(format!(
                "{url}?hub.mode=subscribe&hub.verify_token={}&hub.challenge=777",
                examples::SANDBOX_VERIFY_TOKEN
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(hs.status(), 200);
        assert_eq!(hs.text().await.unwrap(), "777");
        let bad_hs = http
            .get(format!(
                "{url}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(bad_hs.status(), 403);

        let post = |body: Vec<u8>, sig: String| {
            let http = http.clone();
            let url = url.clone();
            async move {
                http.post(url)
                    .header("x-hub-signature-256", sig)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        // A support message and a sales message.
        let (case_body, case_sig) = signed_webhook(
            &payloads::text_message(
                "14155550123",
                "Ana",
                "wamid.S1",
                "my package arrived damaged",
            ),
            &b.app_secret,
        );
        assert_eq!(post(case_body.clone(), case_sig.clone()).await, 200);
        let (lead_body, lead_sig) = signed_webhook(
            &payloads::text_message(
                "14155550199",
                "Ben",
                "wamid.S2",
                "what does the premium plan cost?",
            ),
            &b.app_secret,
        );
        assert_eq!(post(lead_body, lead_sig).await, 200);
        // Redelivery, bad signature, malformed body.
        assert_eq!(post(case_body.clone(), case_sig).await, 200);
        assert_eq!(
            post(case_body.clone(), "sha256=".to_owned() + &"0".repeat(64)).await,
            401
        );
        assert_eq!(post(case_body, String::new()).await, 401);
        let (junk, junk_sig) = signed_webhook(
            "{\"object\":\"whatsapp_business_account\",\"entry\":[",
            &b.app_secret,
        );
        assert_eq!(post(junk, junk_sig).await, 400);

        // 50 concurrent deliveries: 25 distinct support messages, each delivered twice.
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let n = i % 25;
                let (body, sig) = signed_webhook(
                    &payloads::text_message(
                        &format!("1415555{:04}", 1000 + n),
                        "Cust",
                        &format!("wamid.C{n}"),
                        "the screen is broken",
                    ),
                    &b.app_secret,
                );
                tokio::spawn(post(body, sig))
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 200);
        }

        assert!(
            app.service()
                .drain(std::time::Duration::from_secs(30))
                .await
        );
        let org = b.org.as_ref().unwrap();
        let graph = b.graph.as_ref().unwrap();
        assert_eq!(
            org.records("Case").len(),
            26,
            "one Case per distinct message, none twice"
        );
        assert_eq!(org.records("Lead").len(), 1);
        let sent = graph.message_requests().await;
        assert_eq!(sent.len(), 27, "one reply per processed message");
        assert!(
            sent.iter()
                .filter(|m| m["text"]["body"]
                    .as_str()
                    .unwrap_or("")
                    .contains("case number"))
                .count()
                == 26
        );
        assert_eq!(graph.read_receipts().await.len(), 27);

        // When Salesforce is down, the webhook is still answered at once and the
        // job is retried until it succeeds.
        org.fail_next(
            salesforce_rest::testkit::MockFailure::api(503, "SERVER_UNAVAILABLE", "down"),
            1,
        )
        .await;
        let (body, sig) = signed_webhook(
            &payloads::text_message("14155550123", "Ana", "wamid.RETRY", "still broken"),
            &b.app_secret,
        );
        assert_eq!(post(body.clone(), sig.clone()).await, 200);
        assert_eq!(post(body, sig).await, 200);
        assert!(
            app.service()
                .drain(std::time::Duration::from_secs(30))
                .await
        );
        assert_eq!(
            org.records("Case").len(),
            26,
            "a follow-up joins Ana's open Case"
        );
        let sent = graph.message_requests().await;
        assert_eq!(sent.len(), 28, "one reply, after the retry");
        assert!(
            sent.last().unwrap()["text"]["body"]
                .as_str()
                .unwrap()
                .contains("added your message to case"),
            "{:?}",
            sent.last()
        );
        server.abort();
    }
}

#[tokio::test]
async fn send_template_sends_nothing_real_without_explicit_arguments() {
    let mut b = Backends::sandbox().await.unwrap();
    b.graph = None; // as if WhatsApp were the real API
    let e = send_template::run(&b, &[]).await.unwrap_err();
    assert!(e.downcast_ref::<examples::UsageError>().is_some(), "{e}");
    assert!(e.to_string().contains("--to"), "{e}");
}

#[test]
fn unknown_flags_are_errors_never_ignored() {
    let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(examples::check_flags(&args(&["--dry-run"]), &["--dry-run"], &[]).is_ok());
    let e = examples::check_flags(&args(&["--dryrun"]), &["--dry-run"], &[]).unwrap_err();
    assert!(e.contains("--dryrun") && e.contains("--dry-run"), "{e}");
    assert!(
        examples::check_flags(&args(&["--object"]), &[], &["--object"])
            .unwrap_err()
            .contains("needs a value")
    );
    assert!(
        examples::check_flags(&args(&["x"]), &[], &[])
            .unwrap_err()
            .contains("no arguments")
    );
    let code = examples::exit_code(Err(Box::new(examples::UsageError("bad flag".into()))));
    assert_eq!(
        format!("{code:?}"),
        format!("{:?}", std::process::ExitCode::from(2))
    );
}

mod outbox_faults {
    use std::sync::Arc;
    use std::time::Duration;

    use async_trait::async_trait;
    use bridge_core::queue::{
        DeadLetter, Enqueued, JobId, JobQueue, Lease, NewJob, QueueError, QueueStats,
    };
    use chrono::{DateTime, Utc};
    use whatsapp_cloud::testkit::{GraphFailure, payloads, signed_webhook};

    use super::*;

    async fn serve(b: &Backends, stores: &examples::Stores) -> (webhook_to_case::App, String) {
        let (app, routes) = webhook_to_case::build(b, stores, Duration::from_secs(30));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, routes).await });
        (app, format!("http://{addr}/webhook"))
    }

    async fn post(url: &str, b: &Backends, id: &str) -> u16 {
        let (body, sig) = signed_webhook(
            &payloads::text_message("14155550123", "Ana", id, "my order arrived broken"),
            &b.app_secret,
        );
        reqwest::Client::new()
            .post(url)
            .header("x-hub-signature-256", sig)
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Issue 24: a Salesforce batch never waits on a WhatsApp call. The Graph
    /// API hangs (an hour per answer): read receipts and replies wait, but
    /// every Case is still written, batch after batch. (Before, the read
    /// receipts were sent inside the batch and held its slots: the third batch
    /// never started.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn salesforce_batches_never_wait_on_whatsapp_calls() {
        let b = Backends::sandbox().await.unwrap();
        b.graph
            .as_ref()
            .unwrap()
            .set_latency(Duration::from_secs(3600));
        let org = b.org.as_ref().unwrap();
        let stores = examples::Stores::memory().unwrap();
        let (_app, url) = serve(&b, &stores).await;
        let http = reqwest::Client::new();
        for i in 0..30 {
            let (body, sig) = signed_webhook(
                &payloads::text_message(
                    &format!("1415555{:04}", 3000 + i),
                    "Cust",
                    &format!("wamid.HANG{i}"),
                    "my order arrived broken",
                ),
                &b.app_secret,
            );
            let status = http
                .post(&url)
                .header("x-hub-signature-256", sig)
                .body(body)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while org.records("Case").len() < 30 {
            assert!(
                std::time::Instant::now() < deadline,
                "only {} Cases: a batch is waiting on the Graph API",
                org.records("Case").len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reply_failing_with_5xx_429_and_131000_is_delivered_once() {
        let b = Backends::sandbox().await.unwrap();
        let graph = b.graph.as_ref().unwrap();
        graph
            .fail_sends(GraphFailure::server_unavailable(), 1)
            .await;
        graph
            .fail_sends(GraphFailure::throughput_exceeded(), 1)
            .await;
        graph.fail_sends(GraphFailure::code(131_000, 500), 1).await;
        let stores = examples::Stores::memory().unwrap();
        let (app, url) = serve(&b, &stores).await;
        assert_eq!(post(&url, &b, "wamid.FAULT1").await, 200);
        assert!(app.service().drain(Duration::from_secs(60)).await);
        let replies: Vec<_> = graph
            .message_requests()
            .await
            .into_iter()
            .filter(|m| m["type"] == "text")
            .collect();
        // The injected failures hit replies and read receipts alike (the
        // receipts go on their own now): every text request is the same
        // reply retried, and it ended accepted once, in the ledger.
        assert!(!replies.is_empty());
        assert!(
            replies.iter().all(|r| r == &replies[0]),
            "one reply, retried"
        );
        assert!(stores.outbox.dead_letters(10).await.unwrap().is_empty());
        let sent: Vec<_> = b
            .org
            .as_ref()
            .unwrap()
            .records("WhatsApp_Message__c")
            .into_iter()
            .filter(|e| e.get("Direction__c").and_then(|d| d.as_str()) == Some("Outbound"))
            .collect();
        assert_eq!(sent.len(), 1, "delivered once despite three failures");
        assert!(sent[0].get("WhatsApp_Id__c").is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reply_outside_the_window_is_dead_lettered_with_131047() {
        let b = Backends::sandbox().await.unwrap();
        let graph = b.graph.as_ref().unwrap();
        graph
            .fail_sends(GraphFailure::re_engagement_required(), 100)
            .await;
        let stores = examples::Stores::memory().unwrap();
        let (app, url) = serve(&b, &stores).await;
        assert_eq!(post(&url, &b, "wamid.FAULT2").await, 200);
        assert!(app.service().drain(Duration::from_secs(30)).await);
        let dead = stores.outbox.dead_letters(10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert!(dead[0].error.contains("131047"), "{}", dead[0].error);
        assert_eq!(
            b.org.as_ref().unwrap().records("Case").len(),
            1,
            "the Case stands"
        );
    }

    /// A store that is down: every enqueue fails.
    struct Down;

    #[async_trait]
    impl JobQueue for Down {
        async fn enqueue(&self, _: NewJob, _: DateTime<Utc>) -> Result<Enqueued, QueueError> {
            Err(QueueError::storage("connection refused (Redis is down)"))
        }
        async fn prune(
            &self,
            _: DateTime<Utc>,
            _: &bridge_core::queue::Retention,
        ) -> Result<bridge_core::queue::Pruned, QueueError> {
            Err(QueueError::storage("connection refused (Redis is down)"))
        }
        async fn erase_customer(
            &self,
            _: &bridge_core::erase::Customer,
        ) -> Result<(u64, u64), QueueError> {
            Err(QueueError::storage("connection refused (Redis is down)"))
        }
        async fn lease(
            &self,
            _: usize,
            _: Duration,
            _: DateTime<Utc>,
        ) -> Result<Vec<Lease>, QueueError> {
            Ok(Vec::new())
        }
        async fn checkpoint(&self, _: &Lease, _: &[u8]) -> Result<(), QueueError> {
            Ok(())
        }
        async fn ack(&self, _: &Lease, _: DateTime<Utc>) -> Result<(), QueueError> {
            Ok(())
        }
        async fn nack(&self, _: &Lease, _: DateTime<Utc>, _: &str) -> Result<(), QueueError> {
            Ok(())
        }
        async fn dead_letter(
            &self,
            _: &Lease,
            _: &str,
            _: DateTime<Utc>,
        ) -> Result<(), QueueError> {
            Ok(())
        }
        async fn release(&self, _: &Lease, _: DateTime<Utc>) -> Result<(), QueueError> {
            Ok(())
        }
        async fn dead_letters(&self, _: usize) -> Result<Vec<DeadLetter>, QueueError> {
            Ok(Vec::new())
        }
        async fn replay(&self, id: &JobId, _: DateTime<Utc>) -> Result<(), QueueError> {
            Err(QueueError::NotFound { job: id.clone() })
        }
        async fn purge(&self, _: Option<&JobId>, _: DateTime<Utc>) -> Result<u64, QueueError> {
            Ok(0)
        }
        async fn stats(&self, _: DateTime<Utc>) -> Result<QueueStats, QueueError> {
            Ok(QueueStats::default())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn when_the_enqueue_fails_the_webhook_answers_500() {
        let b = Backends::sandbox().await.unwrap();
        let mut stores = examples::Stores::memory().unwrap();
        stores.inbox = Arc::new(Down);
        let (_app, url) = serve(&b, &stores).await;
        assert_eq!(
            post(&url, &b, "wamid.DOWN").await,
            500,
            "never 200 without the job"
        );
        assert!(b.org.as_ref().unwrap().records("Case").is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_runs_send_each_notice_once() {
    let b = Backends::sandbox().await.unwrap();
    let stores = examples::Stores::memory().unwrap();
    let now = chrono::Utc::now();
    // Appointments: the first full run seeds and reminds; then two runs at once.
    appointment_reminders::run(&b, &stores).await.unwrap();
    let (x, y) = {
        let (s1, s2) = (
            examples::send_service(&b, &stores),
            examples::send_service(&b, &stores),
        );
        let r = tokio::join!(
            appointment_reminders::send_reminders(&b, &s1, now),
            appointment_reminders::send_reminders(&b, &s2, now)
        );
        s1.drain(std::time::Duration::from_secs(10)).await;
        s2.drain(std::time::Duration::from_secs(10)).await;
        r
    };
    assert!(x.unwrap().is_empty() && y.unwrap().is_empty());
    let templates = |msgs: &[serde_json::Value], name: &str| {
        msgs.iter()
            .filter(|m| m["template"]["name"] == name)
            .count()
    };
    let sent = b.graph.as_ref().unwrap().message_requests().await;
    assert_eq!(templates(&sent, "appointment_reminder"), 2);
    // Orders: two polls at once over the same changes.
    let org = b.org.as_ref().unwrap();
    org.insert("Order__c", serde_json::json!({"Order_Number__c": "3001", "Status__c": "Shipped", "Customer_Phone__c": "14155550123", "Customer_Name__c": "Ana", "Carrier__c": "UPS", "Tracking__c": "1Z"}));
    let epoch = chrono::DateTime::from_timestamp(0, 0).unwrap();
    let (s1, s2) = (
        examples::send_service(&b, &stores),
        examples::send_service(&b, &stores),
    );
    let (p, q) = tokio::join!(
        order_updates::poll(&b, &s1, epoch),
        order_updates::poll(&b, &s2, epoch)
    );
    assert_eq!(
        p.unwrap().0.len() + q.unwrap().0.len(),
        1,
        "one of the two runs queues the notice"
    );
    s1.drain(std::time::Duration::from_secs(10)).await;
    s2.drain(std::time::Duration::from_secs(10)).await;
    let sent = b.graph.as_ref().unwrap().message_requests().await;
    assert_eq!(templates(&sent, "shipping_update"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customers_photo_ends_up_as_a_file_on_the_case() {
    use whatsapp_cloud::testkit::{payloads, signed_webhook};
    let b = Backends::sandbox().await.unwrap();
    let photo: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    b.graph
        .as_ref()
        .unwrap()
        .add_media("media-77", &photo, "image/jpeg");
    let stores = examples::Stores::memory().unwrap();
    let (app, routes) = webhook_to_case::build(&b, &stores, std::time::Duration::from_secs(30));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, routes).await });
    let body = payloads::envelope(vec![payloads::messages_value(
        &[payloads::contact("14155550123", "Ana")],
        &[
            serde_json::json!({"from": "14155550123", "id": "wamid.PHOTO", "timestamp": payloads::now(), "type": "image",
            "image": {"id": "media-77", "mime_type": "image/jpeg", "caption": "the screen arrived broken"}}),
        ],
    )]);
    let (bytes, sig) = signed_webhook(&body, &b.app_secret);
    let status = reqwest::Client::new()
        .post(format!("http://{addr}/webhook"))
        .header("x-hub-signature-256", sig)
        .body(bytes)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert!(
        app.service()
            .drain(std::time::Duration::from_secs(30))
            .await
    );
    let org = b.org.as_ref().unwrap();
    let case = &org.records("Case")[0];
    if org.records("ContentVersion").is_empty() {
        let e = webhook_to_case::attach(
            &b.whatsapp,
            &b.salesforce,
            "media-77",
            "image",
            Some("image/jpeg"),
            case["Id"].as_str().unwrap(),
        )
        .await;
        panic!("not attached: {e:?}");
    }
    let files = org.records("ContentVersion");
    assert_eq!(files.len(), 1, "the photo is on the Case");
    assert_eq!(files[0]["ContentSize"], 300_000);
    assert_eq!(files[0]["FirstPublishLocationId"], case["Id"]);
    assert_eq!(files[0]["PathOnClient"], "whatsapp-image.jpg");
}

/// The runnable binary of one example, as `cargo build --examples` leaves it
/// (`scripts/test` builds them before the tests run).
fn example_binary(name: &str) -> std::path::PathBuf {
    let bin = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("examples").join(name)))
        .expect("the test binary lives under target/<profile>/deps");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace --all-features --examples` first (scripts/test does)",
        bin.display()
    );
    bin
}

/// Issue 26, item 15: a usage error is printed once (it was printed by the
/// example, then again by the exit handler), with exit code 2.
#[test]
fn a_usage_error_is_printed_once() {
    for name in [
        "payment_reminders",
        "appointment_reminders",
        "order_updates",
        "flows_endpoint",
    ] {
        let bin = example_binary(name);
        let out = std::process::Command::new(&bin)
            .arg("--no-such-flag")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(stderr.matches("error:").count(), 1, "{name}: {stderr}");
        assert_eq!(stderr.matches("usage:").count(), 1, "{name}: {stderr}");
    }
}

/// Issue 26, item 18: no colour codes when the output is not a terminal.
#[test]
fn no_escape_codes_in_a_pipe() {
    let bin = example_binary("quickstart");
    let out = std::process::Command::new(&bin)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = [out.stdout, out.stderr].concat();
    assert!(
        String::from_utf8_lossy(&all).contains("INFO"),
        "the logs were on"
    );
    assert!(!all.contains(&0x1b), "an escape code in piped output");
}

/// Issue 27, item 3: `LOG_FORMAT=json` writes one JSON object per log line,
/// with stable field names, the job's id and the message's id in its spans,
/// and no customer number; any other value warns and keeps text.
#[test]
fn json_logs_carry_the_job_and_the_message_and_no_number() {
    let dir = tempfile::tempdir().unwrap();
    let run = |format: &str| {
        std::process::Command::new(example_binary("webhook_to_case"))
            .arg("--demo")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LOG_FORMAT", format)
            .env("RUST_LOG", "info")
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("BRIDGE_DATA_DIR", dir.path())
            .output()
            .unwrap()
    };
    let out = run("json");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() >= 3, "{text}");
    for line in &lines {
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
    }
    let written = lines
        .iter()
        .find(|l| l["event"] == "record_written")
        .unwrap_or_else(|| panic!("no record_written line: {text}"));
    let spans = written["spans"].as_array().unwrap();
    assert!(
        spans
            .iter()
            .any(|s| s["name"] == "job" && s["id"].is_string()),
        "{written}"
    );
    assert!(
        spans.iter().any(|s| s["message_id"].is_string()),
        "{written}"
    );
    assert!(!text.contains("4155550123"), "no customer number: {text}");
    // Message ids are cut to their tail (a WhatsApp id holds the number).
    assert!(!text.contains("wamid.MOCK000001"), "{text}");
    assert!(text.contains("wamid.…CK000001"), "{text}");
    let out = run("yaml");
    let all = String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).to_string();
    assert!(all.contains("LOG_FORMAT must be json or text"), "{all}");
    assert!(all.contains(" INFO "), "text logs instead: {all}");
}

/// Issue 26, item 16: every example's `--help` names every variable it reads:
/// the ones its own source reads, and the shared ones behind the helpers it
/// calls (`WHATSAPP_*` / `SALESFORCE_*` may stand for their families).
#[test]
fn every_help_lists_the_variables_its_example_reads() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // Shared helpers and the variables behind them.
    let helpers = [
        ("customer_zone", "CUSTOMER_TIME_ZONE"),
        ("Stores::", "BRIDGE_DATA_DIR"),
        ("Backends::from_env", "SALESFORCE_*"),
    ];
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let source = std::fs::read_to_string(&path).unwrap();
        let mut needed: Vec<String> = Vec::new();
        for piece in source.split("var(\"").skip(1) {
            let var: String = piece
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            if !var.is_empty() && piece[var.len()..].starts_with('"') {
                needed.push(var);
            }
        }
        for (call, var) in helpers {
            if source.contains(call) {
                needed.push(var.to_owned());
            }
        }
        let out = std::process::Command::new(example_binary(&name))
            .arg("--help")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name} --help failed");
        for var in needed {
            let family = ["WHATSAPP_", "SALESFORCE_"]
                .iter()
                .find(|p| var.starts_with(**p))
                .map(|p| format!("{p}*"));
            assert!(
                help.contains(&var) || family.is_some_and(|f| help.contains(&f)),
                "{name} --help does not name {var}:\n{help}"
            );
        }
    }
}

/// A bad `BRIDGE_WORKERS` is refused at start, naming the variable.
#[test]
fn a_bad_worker_count_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(example_binary("webhook_to_case"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BRIDGE_DATA_DIR", dir.path())
        .env("BRIDGE_WORKERS", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("BRIDGE_WORKERS"), "{stderr}");
}

/// Issue 25, item 9: stdout shows customers' numbers and message text
/// redacted, like the logs, unless `--show-pii` is given.
#[test]
fn stdout_redacts_customers_unless_asked() {
    let run = |extra: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(example_binary("order_updates"))
            .args(extra)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("BRIDGE_DATA_DIR", dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let quiet = run(&[]);
    assert!(quiet.contains("-> ***"), "{quiet}");
    assert!(
        !quiet.contains("(415)"),
        "a phone number on stdout: {quiet}"
    );
    assert!(
        !quiet.contains("Your order"),
        "message text on stdout: {quiet}"
    );
    let shown = run(&["--show-pii"]);
    assert!(shown.contains("(415)"), "{shown}");
    assert!(shown.contains("Your order"), "{shown}");
}

/// Issue 23, item 4: `WHATSAPP_NUMBER_ROLES` routes by the number written
/// to; mistakes are refused by name.
#[tokio::test]
async fn number_roles_route_by_the_number_written_to() {
    use bridge_core::inbound::{Channel, CustomerMessage};
    use bridge_core::mapping::{Action, Mapper};
    let mapper = examples::number_roles_from("1234567890:support, 1234567891:SALES").unwrap();
    let to = |number: &str| {
        let mut m = CustomerMessage::text(Channel::WhatsApp, "wamid.1", "14155550123", "hello");
        m.business_id = Some(number.to_owned());
        m
    };
    assert!(matches!(
        mapper.map(&to("1234567890")).await.unwrap(),
        Action::CreateCase { .. }
    ));
    assert!(matches!(
        mapper.map(&to("1234567891")).await.unwrap(),
        Action::UpsertLead { .. }
    ));
    for bad in ["1234567890", "abc:support", "1234567890:billing"] {
        let e = examples::number_roles_from(bad).unwrap_err().to_string();
        assert!(e.contains("WHATSAPP_NUMBER_ROLES"), "{e}");
    }
}

/// Issue 23, item 4: a number's own agent reply template; mistakes are
/// refused by name.
#[test]
fn agent_templates_by_number_parse_and_refuse_mistakes_by_name() {
    let parsed = examples::agent_templates_by_number_from(
        "1234567890=support_followup, 1234567891=sales_followup:es_US",
    )
    .unwrap();
    assert_eq!(
        parsed,
        [
            (
                "1234567890".into(),
                "support_followup".into(),
                "en_US".into()
            ),
            ("1234567891".into(), "sales_followup".into(), "es_US".into())
        ]
    );
    for bad in ["1234567890", "abc=x", "1234567890=", "1234567890=x:"] {
        let e = examples::agent_templates_by_number_from(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("AGENT_REPLY_TEMPLATE_BY_NUMBER"), "{bad}: {e}");
    }
}

/// Issue 26, item 3: `--serve` without a configured key says so and prints
/// the public key of the key it made, and says where flow tokens come from.
#[test]
fn serving_flows_without_a_key_warns_and_prints_its_public_key() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(example_binary("flows_endpoint"))
        .args(["--serve", "127.0.0.1:0"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BRIDGE_DATA_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("note: bookings need flow tokens") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.contains("warning: no WHATSAPP_FLOWS_PRIVATE_KEY"),
        "{seen}"
    );
    assert!(seen.contains("BEGIN PUBLIC KEY"), "{seen}");
    assert!(seen.contains("BRIDGE_DATA_DIR"), "{seen}");
}
