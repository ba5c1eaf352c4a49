//! The Redis stores against a real Redis server (started by `scripts/test`).
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use bridge_core::clock::ManualClock;
use bridge_core::dedup::conformance;
use bridge_core::redis::RedisDedupStore;
use bridge_core::redis::RedisWindowTracker;
use bridge_core::window::conformance as window_conformance;

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!("the Redis tests need REDIS_URL; run scripts/test, which installs and starts a throwaway Redis server")
    })
}

/// The single node and the cluster (`REDIS_CLUSTER_URL`), both started by
/// `scripts/test`: every suite here runs on both.
fn redis_urls() -> Vec<String> {
    let cluster = std::env::var("REDIS_CLUSTER_URL").unwrap_or_else(|_| {
        panic!("the Redis tests need REDIS_CLUSTER_URL; run scripts/test, which starts a throwaway Redis cluster")
    });
    vec![redis_url(), cluster]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_dedup_store_passes_the_behaviour_suite() {
    for url in redis_urls() {
        let prefix = format!("test:{}:{}:", std::process::id(), url.len());
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let store = RedisDedupStore::connect(&url, &prefix)
            .await
            .unwrap()
            .with_clock(clock.clone());
        conformance::run(Arc::new(store), &clock).await;
    }
}

#[tokio::test]
async fn redis_window_tracker_passes_the_suite() {
    for url in redis_urls() {
        let prefix = format!("test-window:{}:", std::process::id());
        let t = RedisWindowTracker::connect(&url, &prefix).await.unwrap();
        window_conformance::run(Arc::new(t), &ManualClock::new(chrono::Utc::now())).await;
    }
}

#[tokio::test]
async fn a_bad_url_is_a_typed_error() {
    let err = RedisDedupStore::connect("not-a-url", "x")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Redis URL"), "{err}");
}

/// Issue 24: Meta's send rate across instances. Two "instances" (two
/// clients, two paced senders) share one Redis send rate of 50 a second;
/// 200 replies at once from both: the mock Graph API, enforcing 50 a second,
/// refuses none, and the burst took the rate's time (a lower bound, not a
/// speed figure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_numbers_send_rate_through_redis() {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use bridge_core::clock::SystemClock;
    use bridge_core::pacing::PacedSender;
    use bridge_core::redis::RedisSendRate;
    use bridge_core::sender::{ChannelSender, Outbound};
    use whatsapp_cloud::testkit::MockGraph;
    let graph = MockGraph::start().await;
    graph.limit_throughput(50.0);
    let prefix = format!("wa-sf:rate{}:", std::process::id());
    let mut instances: Vec<Arc<dyn ChannelSender>> = Vec::new();
    for _ in 0..2 {
        let rate = RedisSendRate::connect(&redis_url(), &prefix, 50.0)
            .await
            .expect("redis");
        instances.push(Arc::new(PacedSender::new(
            graph.client(),
            Arc::new(rate),
            "15550001111",
            Arc::new(SystemClock),
        )));
    }
    let start = Instant::now();
    let sends: Vec<_> = (0..200)
        .map(|i| {
            let s = instances[i % 2].clone();
            tokio::spawn(async move {
                s.send(
                    &format!("1415555{i:04}"),
                    &Outbound::text("Your order shipped"),
                )
                .await
            })
        })
        .collect();
    for s in sends {
        s.await.expect("joined").expect("sent");
    }
    assert_eq!(
        graph.throughput_rejections(),
        0,
        "no 130429 across the fleet"
    );
    assert!(
        start.elapsed() >= Duration::from_secs_f64(199.0 / 50.0),
        "{:?}",
        start.elapsed()
    );
}

/// Issue 23: two instances on one Redis poll the same queued agents'
/// records at once, again and again: each record is sent once (the outbox
/// key is the record id, and both instances share the outbox).
#[cfg(all(feature = "salesforce", feature = "whatsapp"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_polling_the_same_agent_replies_send_each_once() {
    for url in redis_urls() {
        agent_replies_once_on(&url).await;
    }
}

#[cfg(all(feature = "salesforce", feature = "whatsapp"))]
async fn agent_replies_once_on(url: &str) {
    use std::time::Duration;

    use bridge_core::agent::AgentReplies;
    use bridge_core::clock::SystemClock;
    use bridge_core::pipeline::Bridge;
    use bridge_core::queue::WorkerOptions;
    use bridge_core::redis::RedisQueue;
    use bridge_core::service::BridgeService;
    use bridge_core::window::WindowTracker;
    use bridge_core::writer::SalesforceWriter;
    use salesforce_rest::testkit::MockOrg;
    use whatsapp_cloud::testkit::MockGraph;
    let (org, graph) = (MockOrg::start().await, MockGraph::start().await);
    let prefix = format!(
        "wa-sf:agents{}:",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    );
    let window = Arc::new(
        RedisWindowTracker::connect(url, &format!("{prefix}window:"))
            .await
            .unwrap(),
    );
    let mut ids = Vec::new();
    for i in 0..30 {
        let customer = format!("1415558{i:04}");
        window
            .record_inbound(&customer, chrono::Utc::now())
            .await
            .unwrap();
        ids.push(org.insert(
            "WhatsApp_Message__c",
            serde_json::json!({"Direction__c": "Outbound", "Status__c": "Queued",
                "Body__c": format!("Answer {i}"), "Customer_Phone__c": customer}),
        ));
    }
    let mut instances = Vec::new();
    for _ in 0..2 {
        let writer = SalesforceWriter::new(org.client());
        let bridge = Bridge::builder(Arc::new(writer.clone()))
            .sender(Arc::new(graph.client()))
            .build();
        let svc = BridgeService::start(
            bridge,
            Arc::new(RedisQueue::connect(url, &prefix, "inbox").await.unwrap()),
            Arc::new(RedisQueue::connect(url, &prefix, "outbox").await.unwrap()),
            WorkerOptions::default().concurrency(8),
            Arc::new(SystemClock),
        );
        let agents = AgentReplies::new(
            writer,
            svc.outbox().clone(),
            window.clone(),
            Arc::new(SystemClock),
        );
        instances.push((svc, agents));
    }
    let polls: Vec<_> = instances
        .iter()
        .flat_map(|(_, agents)| (0..3).map(move |_| agents.clone()))
        .map(|agents| tokio::spawn(async move { agents.poll(None).await.unwrap() }))
        .collect();
    for p in polls {
        p.await.unwrap();
    }
    for (svc, _) in &instances {
        assert!(svc.drain(Duration::from_secs(30)).await);
    }
    let sent = graph.accepted_messages();
    assert_eq!(sent.len(), 30, "each record once, whatever the polls");
    let records = org.records("WhatsApp_Message__c");
    for id in &ids {
        let r = records
            .iter()
            .find(|r| r.get("Id").and_then(|v| v.as_str()) == Some(id.as_str()))
            .unwrap();
        assert_eq!(r["Status__c"], "Sent", "{r:?}");
    }
    for (svc, _) in instances {
        svc.shutdown().await;
    }
}

/// Issue 29: TLS (`rediss://`) and an ACL user. The test makes a CA-less
/// self-signed certificate with `openssl`, starts a TLS-only Redis with a
/// user `bridge`, and runs the queue suite in a child process that trusts
/// the certificate (`SSL_CERT_FILE`: the system trust store is what the
/// client reads); a wrong password is refused with a typed error that does
/// not show it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_over_tls_as_an_acl_user() {
    if std::env::var("REDIS_TLS_CHILD").is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let (ca, cert, key) = (path("ca.pem"), path("cert.pem"), path("key.pem"));
    std::fs::write(
        path("leaf.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    // A test CA, and a certificate for localhost signed by it.
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-key-file")
        .arg(&key)
        .arg("--dir")
        .arg(dir.path())
        .args(["--user", "default", "off"])
        .args(["--user", "bridge", "on", ">s3cret-pass", "~*", "+@all"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server");
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Kill(&mut server);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let url = format!("rediss://bridge:s3cret-pass@localhost:{port}/");
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["tls_child", "--exact", "--ignored", "--nocapture"])
        .env("REDIS_TLS_CHILD", &url)
        .env("SSL_CERT_FILE", &ca)
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(child.status.success(), "{printed}");
    assert!(printed.contains("1 passed"), "{printed}");
    assert!(!printed.contains("s3cret-pass"), "{printed}");
}

/// The child of [`redis_over_tls_as_an_acl_user`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by redis_over_tls_as_an_acl_user with its certificate trusted"]
async fn tls_child() {
    use bridge_core::redis::RedisConnection;
    use bridge_core::redis::RedisQueue;
    let url = std::env::var("REDIS_TLS_CHILD").unwrap();
    let q = RedisQueue::connect(&url, "wa-sf:tls:", "inbox")
        .await
        .unwrap();
    bridge_core::queue::conformance::run(Arc::new(q), &ManualClock::new(chrono::Utc::now())).await;
    let wrong = url.replace("s3cret-pass", "not-the-pass");
    let err = RedisConnection::connect(&wrong)
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains("not-the-pass"), "{err}");
    println!("refused: {err}");
}
