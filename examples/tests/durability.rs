//! Crash tests of `webhook_to_case` as a real process: the test binary runs
//! the example in a child process (the ignored `child_server` test), against
//! mock Graph and Salesforce servers that live in the parent and answer every
//! call after a delay, and kills it with SIGKILL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    dead_code,
    unreachable_pub
)]

#[path = "../examples/webhook_to_case.rs"]
mod webhook_to_case;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use salesforce_rest::testkit::{MOCK_CLIENT_ID, MOCK_CLIENT_SECRET, MOCK_REFRESH_TOKEN, MockOrg};
use whatsapp_cloud::testkit::{
    MOCK_PHONE_NUMBER_ID, MOCK_TOKEN, MockGraph, payloads, signed_webhook,
};

const SECRET: &str = "durability-app-secret";

/// The child: runs the example's command line when the parent asks for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by the crash tests in a child process"]
async fn child_server() {
    if std::env::var("WTC_CHILD").is_ok() {
        webhook_to_case::run_cli(&[]).await.unwrap();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    addr: String,
    output: tempfile::NamedTempFile,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start(org: &MockOrg, graph: &MockGraph, extra: &[(&str, String)]) -> Self {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "child_server",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("WTC_CHILD", "1")
        .env("BIND_ADDR", &addr)
        .env("WHATSAPP_ACCESS_TOKEN", MOCK_TOKEN)
        .env("WHATSAPP_PHONE_NUMBER_ID", MOCK_PHONE_NUMBER_ID)
        .env("WHATSAPP_GRAPH_URL", graph.uri())
        .env("WHATSAPP_APP_SECRET", SECRET)
        .env("WHATSAPP_VERIFY_TOKEN", "durability-verify")
        .env("SALESFORCE_CLIENT_ID", MOCK_CLIENT_ID)
        .env("SALESFORCE_CLIENT_SECRET", MOCK_CLIENT_SECRET)
        .env("SALESFORCE_REFRESH_TOKEN", MOCK_REFRESH_TOKEN)
        .env("SALESFORCE_LOGIN_URL", org.uri())
        .env("RUST_LOG", "error")
        .env_remove("REDIS_URL");
        let output = tempfile::NamedTempFile::new().unwrap();
        cmd.stdout(Stdio::from(output.reopen().unwrap()))
            .stderr(Stdio::from(output.reopen().unwrap()));
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let server = Server {
            child,
            addr,
            output,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http
                .get(format!("http://{}/health", server.addr))
                .send()
                .await
                && r.status() == 200
            {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "the child server did not come up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill9(mut self) -> String {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
        std::fs::read_to_string(self.output.path()).unwrap_or_default()
    }
}

fn signed(i: usize, id: &str) -> (Vec<u8>, String) {
    signed_webhook(
        &payloads::text_message(
            &format!("1415555{:04}", 2000 + i),
            "Cust",
            id,
            "my order arrived broken",
        ),
        SECRET,
    )
}

/// Posts one signed message per id, one after the other.
async fn deliver_sequentially(addr: &str, ids: &[String], first: usize) -> Vec<(u16, Duration)> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let (body, sig) = signed(first + i, id);
        let t = Instant::now();
        let r = http
            .post(format!("http://{addr}/webhook"))
            .header("x-hub-signature-256", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        out.push((r.status().as_u16(), t.elapsed()));
    }
    out
}

fn summary(answers: &[(u16, Duration)]) -> String {
    let mut times: Vec<Duration> = answers.iter().map(|a| a.1).collect();
    times.sort();
    format!(
        "median {:?}, max {:?}",
        times[times.len() / 2],
        times[times.len() - 1]
    )
}

/// Posts one signed message per id, all at once; returns each answer's status and time.
/// Posts one signed message per id, all at once; customer `first + i` writes
/// the i-th (distinct customers: a customer's second support message would
/// join the first one's Case).
async fn deliver(addr: &str, ids: &[String], first: usize) -> Vec<(u16, Duration)> {
    let http = reqwest::Client::new();
    let tasks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let (body, sig) = signed_webhook(
                &payloads::text_message(
                    &format!("1415555{:04}", 2000 + first + i),
                    "Cust",
                    id,
                    "my order arrived broken",
                ),
                SECRET,
            );
            let (http, url) = (http.clone(), format!("http://{addr}/webhook"));
            tokio::spawn(async move {
                let t = Instant::now();
                let r = http
                    .post(url)
                    .header("x-hub-signature-256", sig)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), t.elapsed())
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Waits (at most `within`) until the org holds `n` Cases and the Graph API
/// got `n` replies, then a little longer, and checks nothing more arrives.
async fn settles_at(org: &MockOrg, graph: &MockGraph, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let cases = org.records("Case").len();
        let replies = graph.message_requests().await.len();
        if cases >= n && replies >= n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stuck at {cases} Cases and {replies} replies of {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cases = org.records("Case");
    let keys: HashSet<String> = cases
        .iter()
        .map(|c| {
            c["WhatsApp_Message_Id__c"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(cases.len(), n, "one Case per message, none twice");
    assert_eq!(keys.len(), n);
    let replies = graph.message_requests().await;
    assert_eq!(replies.len(), n, "one reply per message, none twice");
    let quoted: HashSet<String> = replies
        .iter()
        .map(|r| {
            r["context"]["message_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(quoted.len(), n, "every message answered");
}

fn unique_ids(n: usize, tag: &str) -> Vec<String> {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    (0..n).map(|i| format!("wamid.{tag}{nonce}x{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_the_200s_loses_and_doubles_nothing() {
    let (org, graph) = (MockOrg::start().await, MockGraph::start().await);
    org.set_latency(Duration::from_millis(300));
    graph.set_latency(Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let data = [("BRIDGE_DATA_DIR", dir.path().display().to_string())];
    let first = Server::start(&org, &graph, &data).await;
    let sequential = deliver_sequentially(&first.addr, &unique_ids(30, "S"), 0).await;
    let answers = deliver(&first.addr, &unique_ids(20, "K"), 30).await;
    let printed = first.kill9();
    assert!(printed.contains("listening on"), "{printed}");
    assert!(
        !printed.contains(SECRET),
        "a configured secret is never printed"
    );
    assert!(
        sequential.iter().chain(&answers).all(|(s, _)| *s == 200),
        "{sequential:?} {answers:?}"
    );
    // Figures for the record (benches/README.md); timing is not asserted here.
    println!(
        "30 sequential deliveries, CRM and Graph at 300 ms a call: {}",
        summary(&sequential)
    );
    println!(
        "20 concurrent deliveries, CRM and Graph at 300 ms a call: {}",
        summary(&answers)
    );
    assert!(
        org.records("Case").len() < 50 || graph.message_requests().await.len() < 50,
        "the work must still have been in progress when the 200s came back"
    );
    let second = Server::start(&org, &graph, &data).await;
    // Well under the 30 s lease: the restarted process does not wait for the
    // dead one's leases (it owns the store, so they are void).
    settles_at(&org, &graph, 50, Duration::from_secs(25)).await;
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_redis_finish_the_work_of_a_killed_one() {
    let Ok(url) = std::env::var("REDIS_URL") else {
        panic!("REDIS_URL is not set: run the tests through scripts/test, which starts Redis");
    };
    let (org, graph) = (MockOrg::start().await, MockGraph::start().await);
    org.set_latency(Duration::from_millis(700));
    let prefix = format!("wa-sf:test{}:", free_port());
    let env = [
        ("REDIS_URL", url),
        ("BRIDGE_REDIS_PREFIX", prefix),
        ("BRIDGE_LEASE_SECS", "2".to_owned()),
    ];
    let a = Server::start(&org, &graph, &env).await;
    let b = Server::start(&org, &graph, &env).await;
    let ids = unique_ids(12, "R");
    let answers = deliver(&a.addr, &ids, 0).await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    // Let A lease jobs and start on the CRM, then kill it while it holds them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = a.kill9();
    settles_at(&org, &graph, 12, Duration::from_secs(90)).await;
    drop(b);
}
