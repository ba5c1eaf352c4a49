//! The Salesforce client's own overhead against an in-process HTTP server:
//! creates through the client vs the same requests by plain reqwest (at
//! concurrency 1 and 64), a refresh storm (1,000 requests on an expired token),
//! and 10,000 records through sObject Collections.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use benches::{criterion, human, quick, report};
use criterion::{criterion_group, criterion_main};
use salesforce_rest::auth::{ConnectedApp, Credentials, LoginHost, OAuthClient, Session};
use salesforce_rest::records::Lead;
use secrecy::SecretString;

#[derive(Default)]
struct Org {
    generation: AtomicU64,
    token_calls: AtomicU64,
    requests: AtomicU64,
    base: std::sync::OnceLock<String>,
}

impl Org {
    fn token(&self) -> String {
        format!("00DBENCH!{}", self.generation.load(Ordering::SeqCst))
    }
    fn authorized(&self, h: &HeaderMap) -> bool {
        h.get("authorization").and_then(|v| v.to_str().ok())
            == Some(format!("Bearer {}", self.token()).as_str())
    }
}

const UNAUTHORIZED: &str =
    r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#;

/// Counts the request, then answers 401 on a stale token, else `status` with `body`.
fn answer(
    org: &Org,
    h: &HeaderMap,
    status: StatusCode,
    body: impl FnOnce() -> String,
) -> axum::response::Response {
    org.requests.fetch_add(1, Ordering::Relaxed);
    let json = [("content-type", "application/json")];
    if !org.authorized(h) {
        return (StatusCode::UNAUTHORIZED, json, UNAUTHORIZED.to_owned()).into_response();
    }
    (status, json, body()).into_response()
}

async fn token(State(org): State<Arc<Org>>) -> impl IntoResponse {
    org.token_calls.fetch_add(1, Ordering::SeqCst);
    let body = format!(
        r#"{{"access_token":"{}","instance_url":"{}","id":"x","token_type":"Bearer","issued_at":"1","signature":"s"}}"#,
        org.token(),
        org.base.get().cloned().unwrap_or_default()
    );
    ([("content-type", "application/json")], body)
}

async fn create(
    State(org): State<Arc<Org>>,
    h: HeaderMap,
    _body: Bytes,
) -> axum::response::Response {
    answer(&org, &h, StatusCode::CREATED, || {
        r#"{"id":"00Q000000000001EAA","success":true,"errors":[]}"#.to_owned()
    })
}

async fn limits(State(org): State<Arc<Org>>, h: HeaderMap) -> axum::response::Response {
    answer(&org, &h, StatusCode::OK, || {
        r#"{"DailyApiRequests":{"Max":15000,"Remaining":14000}}"#.to_owned()
    })
}

async fn collection(
    State(org): State<Arc<Org>>,
    h: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    answer(&org, &h, StatusCode::OK, || {
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let n = v["records"].as_array().map_or(0, Vec::len);
        let one = r#"{"id":"00Q000000000001EAA","success":true,"errors":[]}"#;
        format!("[{}]", vec![one; n].join(","))
    })
}

async fn start_org(rt: &tokio::runtime::Runtime) -> (Arc<Org>, String) {
    let org = Arc::new(Org::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    org.base.set(base.clone()).unwrap();
    let app = axum::Router::new()
        .route("/services/oauth2/token", post(token))
        .route("/services/data/v66.0/sobjects/Lead", post(create))
        .route("/services/data/v66.0/limits", get(limits))
        .route("/services/data/v66.0/composite/sobjects", post(collection))
        .with_state(org.clone());
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    (org, base)
}

fn client_for(base: &str) -> salesforce_rest::Client {
    let app = ConnectedApp::new("bench").login_host(LoginHost::parse(base).unwrap());
    let session = Session::builder(
        OAuthClient::new(app).unwrap(),
        Credentials::RefreshToken(SecretString::from("r")),
    )
    .build();
    salesforce_rest::Client::builder(session).build().unwrap()
}

async fn plain_create(http: &reqwest::Client, url: &str, token: &str, body: &[u8]) {
    #[derive(serde::Deserialize)]
    struct Created {
        #[allow(dead_code)]
        id: String,
    }
    let r = http
        .post(url)
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let bytes = r.bytes().await.unwrap();
    let _: Created = serde_json::from_slice(&bytes).unwrap();
}

async fn timed_creates(
    total: usize,
    concurrency: usize,
    f: impl Fn() -> tokio::task::JoinHandle<()>,
) -> Duration {
    let start = Instant::now();
    let mut left = total;
    while left > 0 {
        let wave = left.min(concurrency);
        let handles: Vec<_> = (0..wave).map(|_| f()).collect();
        for h in handles {
            h.await.unwrap();
        }
        left -= wave;
    }
    start.elapsed()
}

fn salesforce(c: &mut criterion::Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (org, base) = rt.block_on(start_org(&rt));
    let client = client_for(&base);
    rt.block_on(client.limits()).unwrap();
    let http = reqwest::Client::new();
    let url = format!("{base}/services/data/v66.0/sobjects/Lead");
    let lead = Lead::new("Lima", "Acme Inc.");
    let body = serde_json::to_vec(&lead).unwrap();

    let mut g = c.benchmark_group("salesforce create (in-process server)");
    g.bench_function("ours: Client::create", |b| {
        b.to_async(&rt)
            .iter(|| async { client.create(&lead).await.unwrap() });
    });
    g.bench_function("floor: plain reqwest", |b| {
        b.to_async(&rt)
            .iter(|| async { plain_create(&http, &url, &org.token(), &body).await });
    });
    g.finish();

    if !benches::measuring() {
        return;
    }
    let total = if quick() { 640 } else { 3_200 };
    for concurrency in [1usize, 64] {
        let mut ours = Vec::new();
        let mut floor = Vec::new();
        for _ in 0..if quick() { 3 } else { 5 } {
            ours.push(rt.block_on(timed_creates(total, concurrency, || {
                let c = client.clone();
                let l = lead.clone();
                tokio::spawn(async move {
                    c.create(&l).await.unwrap();
                })
            })));
            floor.push(rt.block_on(timed_creates(total, concurrency, || {
                let (h, u, t, b) = (http.clone(), url.clone(), org.token(), body.clone());
                tokio::spawn(async move { plain_create(&h, &u, &t, &b).await })
            })));
        }
        ours.sort();
        floor.sort();
        let per = |d: Duration| d.as_nanos() as f64 / total as f64;
        report(
            &format!("salesforce create, concurrency {concurrency} (per request)"),
            per(ours[ours.len() / 2]),
            per(floor[floor.len() / 2]),
            1.25,
        );
    }

    // Refresh storm: 1,000 concurrent requests on an expired token.
    let storms = if quick() { 3 } else { 10 };
    let mut times = Vec::new();
    let mut calls = Vec::new();
    for _ in 0..storms {
        org.generation.fetch_add(1, Ordering::SeqCst);
        let before = org.token_calls.load(Ordering::SeqCst);
        let start = Instant::now();
        rt.block_on(async {
            let handles: Vec<_> = (0..1000)
                .map(|_| {
                    let c = client.clone();
                    tokio::spawn(async move { c.limits().await.map(|_| ()) })
                })
                .collect();
            for h in handles {
                h.await.unwrap().unwrap();
            }
        });
        times.push(start.elapsed());
        calls.push(org.token_calls.load(Ordering::SeqCst) - before);
    }
    times.sort();
    println!(
        "RATIO refresh storm: 1,000 requests on an expired token all succeeded in {} (median of {storms}); refresh calls per storm: {:?} (must be 1: {})",
        human(times[times.len() / 2].as_nanos() as f64),
        calls,
        if calls.iter().all(|c| *c == 1) {
            "meets"
        } else {
            "MISSES"
        }
    );

    // 10,000 records through sObject Collections vs the same 50 bodies by plain reqwest.
    let leads: Vec<Lead> = (0..10_000)
        .map(|i| Lead::new(format!("Lead {i}"), "Acme"))
        .collect();
    let before = org.requests.load(Ordering::SeqCst);
    let start = Instant::now();
    let results = rt.block_on(client.create_many(&leads, false)).unwrap();
    let ours = start.elapsed();
    let requests = org.requests.load(Ordering::SeqCst) - before;
    assert_eq!(results.len(), 10_000);
    let coll_url = format!("{base}/services/data/v66.0/composite/sobjects");
    let bodies: Vec<Vec<u8>> = leads
        .chunks(200)
        .map(|chunk| {
            let records: Vec<serde_json::Value> = chunk
                .iter()
                .map(|l| {
                    let mut v = serde_json::to_value(l).unwrap();
                    v["attributes"] = serde_json::json!({"type": "Lead"});
                    v
                })
                .collect();
            serde_json::to_vec(&serde_json::json!({"allOrNone": false, "records": records}))
                .unwrap()
        })
        .collect();
    let start = Instant::now();
    rt.block_on(async {
        for b in &bodies {
            let r = http
                .post(&coll_url)
                .header("authorization", format!("Bearer {}", org.token()))
                .header("content-type", "application/json")
                .body(b.clone())
                .send()
                .await
                .unwrap();
            let bytes = r.bytes().await.unwrap();
            let v: Vec<serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(v.len(), 200);
        }
    });
    let floor = start.elapsed();
    println!(
        "RATIO collections: 10,000 records in {requests} requests (must be 50: {})",
        if requests == 50 { "meets" } else { "MISSES" }
    );
    report(
        "collections, 10,000 records (whole job)",
        ours.as_nanos() as f64,
        floor.as_nanos() as f64,
        1.25,
    );
}

criterion_group! { name = benches; config = criterion(); targets = salesforce }
criterion_main!(benches);
