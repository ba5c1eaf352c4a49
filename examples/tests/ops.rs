//! Operating a running bridge (issue 27): the load-test tool (item 6) and
//! the readiness probe (item 2), against a child `webhook_to_case` on mock
//! Salesforce and Graph servers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    dead_code,
    unreachable_pub
)]

mod common;

use std::time::Duration;

use common::*;
use examples::loadtest::{LoadOptions, run};
use salesforce_rest::testkit::MockOrg;
use whatsapp_cloud::testkit::MockGraph;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_test_counts_every_acknowledgement_and_the_bridge_does_the_work() {
    let (org, graph) = (MockOrg::start().await, MockGraph::start().await);
    org.set_latency(Duration::from_millis(50));
    graph.set_latency(Duration::from_millis(50));
    let dir = tempfile::tempdir().unwrap();
    let data = [("BRIDGE_DATA_DIR", dir.path().display().to_string())];
    let server = Server::start(&org, &graph, &data).await;
    let url = format!("http://{}/webhook", server.addr);
    let report = run(LoadOptions::new(&url, SECRET)
        .messages(60)
        .rate(300.0)
        .concurrency(8))
    .await
    .unwrap();
    println!("{report}");
    assert_eq!(report.sent, 60);
    assert_eq!(report.acknowledged(), 60, "{report}");
    assert_eq!(report.latencies.len(), 60);
    assert!(report.percentile(0.5) <= report.percentile(0.99));
    // Each webhook was a different customer's message: 60 Cases, 60 replies.
    server
        .settles_at(&org, &graph, 60, Duration::from_secs(90))
        .await;

    // Signed with the wrong secret: refused, and reported as not acknowledged.
    let refused = run(LoadOptions::new(&url, "not-the-secret").messages(5))
        .await
        .unwrap();
    assert_eq!(refused.acknowledged(), 0, "{refused}");
    assert_eq!(refused.answers.values().sum::<usize>(), 5);
    assert!(refused.to_string().contains("answers: 401: 5"), "{refused}");
    let printed = server.kill9();
    assert!(!printed.contains("55501"), "no customer number in the log");
}

/// Issue 27, item 2: `/ready` is 200 while the bridge can work, and 503
/// naming Salesforce once the org refuses the credentials (the refresh
/// token revoked, the session expired), without customer data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_turns_503_when_salesforce_refuses_the_credentials() {
    let (org, graph) = (MockOrg::start().await, MockGraph::start().await);
    let dir = tempfile::tempdir().unwrap();
    let data = [("BRIDGE_DATA_DIR", dir.path().display().to_string())];
    let server = Server::start(&org, &graph, &data).await;
    let http = reqwest::Client::new();
    let ready = || async {
        let r = http
            .get(format!("http://{}/ready", server.addr))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<serde_json::Value>().await.unwrap())
    };
    let (status, body) = ready().await;
    assert_eq!(
        (status, body["ready"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    org.revoke_refresh_tokens();
    org.expire_sessions();
    let answers = deliver(&server.addr, &unique_ids(1, "R"), 0).await;
    assert_eq!(answers[0].0, 200, "the webhook is still acknowledged");
    let mut last = (0, serde_json::Value::Null);
    for _ in 0..300 {
        last = ready().await;
        if last.0 == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = last;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);
    let reasons = body["reasons"].to_string();
    assert!(
        reasons.contains("Salesforce: credentials refused"),
        "{reasons}"
    );
    assert!(
        !reasons.contains("1415555"),
        "no customer number: {reasons}"
    );
    let _ = server.kill9();
}
