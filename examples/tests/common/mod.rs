//! The harness of the crash tests: `webhook_to_case` as a real child
//! process (the ignored `common::child_server` test of the same binary),
//! mock Graph and Salesforce servers in the parent, and helpers that deliver
//! signed webhooks as Meta does.
#![allow(dead_code, unreachable_pub)]

#[path = "../../examples/webhook_to_case.rs"]
mod webhook_to_case;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use salesforce_rest::testkit::{MOCK_CLIENT_ID, MOCK_CLIENT_SECRET, MOCK_REFRESH_TOKEN, MockOrg};
use whatsapp_cloud::testkit::{
    MOCK_PHONE_NUMBER_ID, MOCK_TOKEN, MockGraph, payloads, signed_webhook,
};

pub const SECRET: &str = "durability-app-secret";

/// The child: runs the example's command line when the parent asks for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by the crash tests in a child process"]
async fn child_server() {
    if std::env::var("WTC_CHILD").is_ok() {
        examples::init_tracing();
        // A one-off command (`erase ...`), arguments separated by U+001F.
        let args: Vec<String> = std::env::var("WTC_ARGS")
            .map(|a| a.split('\u{1f}').map(str::to_owned).collect())
            .unwrap_or_default();
        if let Err(e) = webhook_to_case::run_cli(&args).await {
            panic!("error: {e}");
        }
    }
}

/// The child process of the example, with the mock servers' environment
/// and `extra`.
fn child_command(
    org: &MockOrg,
    graph: &MockGraph,
    extra: &[(&str, String)],
    addr: &str,
) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "common::child_server",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("WTC_CHILD", "1")
    .env("BIND_ADDR", addr)
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
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd
}

/// Runs one command of the example (`erase --phone ...`) in a child with
/// the servers' environment and `extra`; returns whether it succeeded and
/// what it printed.
pub async fn run_command(
    org: &MockOrg,
    graph: &MockGraph,
    extra: &[(&str, String)],
    args: &[&str],
) -> (bool, String) {
    let mut cmd = child_command(org, graph, extra, "127.0.0.1:0");
    cmd.env("WTC_ARGS", args.join("\u{1f}"));
    // The mock servers run on this runtime: wait off it.
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), printed)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub output: tempfile::NamedTempFile,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub async fn start(org: &MockOrg, graph: &MockGraph, extra: &[(&str, String)]) -> Self {
        Self::start_at(org, graph, extra, format!("127.0.0.1:{}", free_port())).await
    }

    /// Starts the child on a given address (a restart where it was).
    pub async fn start_at(
        org: &MockOrg,
        graph: &MockGraph,
        extra: &[(&str, String)],
        addr: String,
    ) -> Self {
        let mut cmd = child_command(org, graph, extra, &addr);
        let output = tempfile::NamedTempFile::new().unwrap();
        cmd.stdout(Stdio::from(output.reopen().unwrap()))
            .stderr(Stdio::from(output.reopen().unwrap()));
        let child = cmd.spawn().unwrap();

        let server = Server {
            child,
            addr,
            output,
        };
        let http = reqwest::Client::new();
        // A restart after kill -9 recovers the embedded store first (redb
        // repairs an unclean file): on a loaded 2-core machine that can take
        // a while in a debug build.
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut server = server;
        loop {
            if let Ok(r) = http
                .get(format!("http://{}/health", server.addr))
                .send()
                .await
                && r.status() == 200
            {
                return server;
            }
            let exited = server.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() >= deadline {
                let _ = server.child.kill();
                panic!(
                    "the child server did not come up ({}); its output:\n{}",
                    exited.map_or_else(|| "still starting".to_owned(), |s| s.to_string()),
                    std::fs::read_to_string(server.output.path()).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the child printed so far.
    pub fn printed(&self) -> String {
        std::fs::read_to_string(self.output.path()).unwrap_or_default()
    }

    /// [`settles_at`], with the child's output in the failure when the work
    /// does not finish in time.
    pub async fn settles_at(&self, org: &MockOrg, graph: &MockGraph, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        if let Err(stuck) = reaches(org, graph, n, deadline).await {
            let printed = self.printed();
            let tail: Vec<&str> = printed.lines().rev().take(200).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!("{stuck}; the child's last lines:\n{}", tail.join("\n"));
        }
        settles_at(org, graph, n, Duration::ZERO).await;
    }

    pub fn kill9(mut self) -> String {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
        std::fs::read_to_string(self.output.path()).unwrap_or_default()
    }
}

pub fn signed(i: usize, id: &str) -> (Vec<u8>, String) {
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
pub async fn deliver_sequentially(
    addr: &str,
    ids: &[String],
    first: usize,
) -> Vec<(u16, Duration)> {
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

pub fn summary(answers: &[(u16, Duration)]) -> String {
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
pub async fn deliver(addr: &str, ids: &[String], first: usize) -> Vec<(u16, Duration)> {
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

/// Waits until the org holds `n` Cases and the Graph API got `n` replies;
/// `Err` saying where it was stuck once `deadline` passed.
async fn reaches(
    org: &MockOrg,
    graph: &MockGraph,
    n: usize,
    deadline: Instant,
) -> Result<(), String> {
    loop {
        let cases = org.records("Case").len();
        let replies = graph.message_requests().await.len();
        if cases >= n && replies >= n {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "stuck at {cases} Cases and {replies} replies of {n}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (at most `within`) until the org holds `n` Cases and the Graph API
/// got `n` replies, then a little longer, and checks nothing more arrives.
pub async fn settles_at(org: &MockOrg, graph: &MockGraph, n: usize, within: Duration) {
    if let Err(stuck) = reaches(org, graph, n, Instant::now() + within).await {
        panic!("{stuck}");
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

pub fn unique_ids(n: usize, tag: &str) -> Vec<String> {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    (0..n).map(|i| format!("wamid.{tag}{nonce}x{i}")).collect()
}

/// Posts a webhook to the first live instance from `start`, as Meta does:
/// again (elsewhere) until one answers 200.
pub async fn post_until_accepted(
    http: &reqwest::Client,
    addrs: &[String],
    start: usize,
    body: Vec<u8>,
    sig: &str,
) {
    for attempt in 0..600 {
        let addr = &addrs[(start + attempt) % addrs.len()];
        let r = http
            .post(format!("http://{addr}/webhook"))
            .header("x-hub-signature-256", sig)
            .body(body.clone())
            .send()
            .await;
        if r.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no instance accepted a webhook for 30 s");
}
