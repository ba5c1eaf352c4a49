//! Bulk API 2.0 CSV throughput: rows per second through `upload_records`
//! (serialize and stream up) and `query_results` (stream down and
//! deserialize), against an in-process server that keeps nothing, beside the
//! floor of the `csv` crate doing the same serialization in memory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use benches::{criterion, human, measuring, quick, report};
use criterion::{Throughput, criterion_group, criterion_main};
use futures_util::StreamExt as _;
use salesforce_rest::auth::{ConnectedApp, Credentials, LoginHost, OAuthClient, Session};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Row {
    #[serde(rename = "LastName")]
    last_name: String,
    #[serde(rename = "Company")]
    company: String,
    #[serde(rename = "Phone")]
    phone: String,
    #[serde(rename = "Description")]
    description: String,
}

fn row(i: usize) -> Row {
    Row {
        last_name: format!("Customer {i}"),
        company: "WhatsApp".into(),
        phone: format!("1415{i:07}"),
        description: format!("first message {i}: where is my order, it was due on 04/30/2025"),
    }
}

fn csv_of(n: usize) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for i in 0..n {
        w.serialize(row(i)).unwrap();
    }
    w.into_inner().unwrap()
}

struct Stub {
    base: OnceLock<String>,
    results: Bytes,
}

async fn token(State(s): State<Arc<Stub>>) -> impl IntoResponse {
    let body = format!(
        r#"{{"access_token":"00DBENCH!1","instance_url":"{}","token_type":"Bearer","issued_at":"1"}}"#,
        s.base.get().cloned().unwrap_or_default()
    );
    ([("content-type", "application/json")], body)
}

async fn upload(body: Body) -> impl IntoResponse {
    // Read and drop: the client's streaming is what is measured.
    let mut stream = body.into_data_stream();
    while stream.next().await.is_some() {}
    axum::http::StatusCode::CREATED
}

async fn results(State(s): State<Arc<Stub>>) -> impl IntoResponse {
    (
        [("content-type", "text/csv"), ("sforce-locator", "null")],
        s.results.clone(),
    )
}

fn bulk(c: &mut criterion::Criterion) {
    let rows = if quick() { 20_000 } else { 100_000 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stub = Arc::new(Stub {
        base: OnceLock::new(),
        results: Bytes::from(csv_of(rows)),
    });
    let client = rt.block_on(async {
        let app = axum::Router::new()
            .route("/services/oauth2/token", post(token))
            .route("/services/data/v66.0/jobs/ingest/{id}/batches", put(upload))
            .route("/services/data/v66.0/jobs/query/{id}/results", get(results))
            .with_state(stub.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        stub.base.set(base.clone()).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let app = ConnectedApp::new("bench").login_host(LoginHost::parse(&base).unwrap());
        let session = Session::builder(
            OAuthClient::new(app).unwrap(),
            Credentials::RefreshToken(SecretString::from("bench")),
        )
        .build();
        let client = salesforce_rest::Client::builder(session)
            .api_version("66.0")
            .build()
            .unwrap();
        client.session().token().await.unwrap();
        client
    });
    let api = client.bulk();
    let upload_once = || {
        rt.block_on(api.upload_records("750BENCH", (0..rows).map(row)))
            .unwrap();
    };
    let read_once = || {
        rt.block_on(async {
            let mut s = api.query_results::<Row>("750BENCHQ", 1_000_000);
            let mut n = 0;
            while let Some(r) = s.next().await {
                r.unwrap();
                n += 1;
            }
            assert_eq!(n, rows);
        });
    };
    let mut g = c.benchmark_group("bulk");
    g.throughput(Throughput::Elements(rows as u64));
    g.bench_function("upload_records (serialize + stream up)", |b| {
        b.iter(upload_once);
    });
    g.bench_function("query_results (stream down + deserialize)", |b| {
        b.iter(read_once);
    });
    g.bench_function("floor: csv serialize in memory", |b| {
        b.iter(|| csv_of(rows));
    });
    let bytes = stub.results.clone();
    let parse = || {
        let mut r = csv::Reader::from_reader(bytes.as_ref());
        assert_eq!(r.deserialize::<Row>().map(Result::unwrap).count(), rows);
    };
    g.bench_function("floor: csv deserialize in memory", |b| b.iter(parse));
    // The naive client: download the whole body with reqwest, then parse it.
    let http = reqwest::Client::new();
    let url = format!(
        "{}/services/data/v66.0/jobs/query/750NAIVE/results",
        stub.base.get().cloned().unwrap_or_default()
    );
    let naive = || {
        let body =
            rt.block_on(async { http.get(&url).send().await.unwrap().bytes().await.unwrap() });
        let mut r = csv::Reader::from_reader(body.as_ref());
        assert_eq!(r.deserialize::<Row>().map(Result::unwrap).count(), rows);
    };
    g.bench_function("floor: buffered download + csv deserialize", |b| {
        b.iter(naive);
    });
    g.finish();
    if measuring() {
        let time = |f: &dyn Fn()| {
            let mut v: Vec<f64> = (0..if quick() { 3 } else { 7 })
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_nanos() as f64
                })
                .collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (up, ser) = (time(&upload_once), time(&|| drop(csv_of(rows))));
        let (down, de, buffered) = (time(&read_once), time(&parse), time(&naive));
        report(
            "bulk upload per row (vs csv in memory)",
            up / rows as f64,
            ser / rows as f64,
            1.5,
        );
        report(
            "bulk read per row (vs buffered download + parse)",
            down / rows as f64,
            buffered / rows as f64,
            1.5,
        );
        report(
            "bulk read per row (vs csv parse in memory, no network)",
            down / rows as f64,
            de / rows as f64,
            3.0,
        );
        println!(
            "ROWS/s bulk: upload {:.0}, read {:.0} ({} rows, {:.1} MB of CSV; per row {} up, {} down)",
            rows as f64 / (up / 1e9),
            rows as f64 / (down / 1e9),
            rows,
            stub.results.len() as f64 / 1e6,
            human(up / rows as f64),
            human(down / rows as f64)
        );
    }
}

criterion_group! { name = benches; config = criterion(); targets = bulk }
criterion_main!(benches);
