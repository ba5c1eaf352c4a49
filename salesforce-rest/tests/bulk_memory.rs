//! Bulk API 2.0 in bounded memory: 100,000 records uploaded and 100,000 rows
//! read back while a counting allocator watches the heap. The server is a
//! stub that generates and discards the CSV as it goes, so every byte on the
//! heap is the client's: the peak stays at a few MB while the data is over
//! ten times that.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::StreamExt as _;
use peak_alloc::PeakAlloc;
use salesforce_rest::auth::{ConnectedApp, Credentials, LoginHost, OAuthClient, Session};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// Starts a measurement: the current heap, with the peak reset to it.
fn mark() -> usize {
    ALLOCATOR.reset_peak_usage();
    ALLOCATOR.current_usage()
}

/// The heap's growth above `base` at its highest since `mark`.
fn peak_since(base: usize) -> usize {
    ALLOCATOR.peak_usage().saturating_sub(base)
}

const ROWS: usize = 100_000;

#[derive(Serialize, Deserialize)]
struct Row {
    #[serde(rename = "LastName")]
    last_name: String,
    #[serde(rename = "Company")]
    company: String,
    #[serde(rename = "Description")]
    description: String,
}

fn row(i: usize) -> Row {
    Row {
        last_name: format!("Customer {i}"),
        company: "WhatsApp".into(),
        description: format!(
            "{i}: {}",
            "a first message of a realistic length, ".repeat(3)
        ),
    }
}

/// One HTTP/1.1 exchange per connection: the token, an upload (read and
/// dropped), or a result page (generated as it is written).
async fn stub(listener: TcpListener, uploaded: std::sync::Arc<AtomicUsize>) {
    let base = format!("http://{}", listener.local_addr().unwrap());
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            return;
        };
        let (base, uploaded) = (base.clone(), uploaded.clone());
        tokio::spawn(async move {
            let mut io = BufReader::new(socket);
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if io.read_line(&mut line).await.unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line.to_ascii_lowercase());
            }
            let request_line = head.lines().next().unwrap_or_default().to_owned();
            if head.contains("transfer-encoding: chunked") {
                // Read chunks to the end, keeping only a count.
                loop {
                    let mut size = String::new();
                    io.read_line(&mut size).await.unwrap();
                    let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                    let mut chunk = vec![0u8; n + 2];
                    io.read_exact(&mut chunk).await.unwrap();
                    uploaded.fetch_add(n, Ordering::Relaxed);
                    if n == 0 {
                        break;
                    }
                }
            } else if let Some(len) = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
            {
                let mut body = vec![0u8; len.trim().parse().unwrap_or(0)];
                io.read_exact(&mut body).await.unwrap();
            }
            let mut socket = io.into_inner();
            if request_line.contains("/services/oauth2/token") {
                let body = format!(
                    r#"{{"access_token":"stub-token","instance_url":"{base}","token_type":"Bearer","issued_at":"1767225600000"}}"#
                );
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                socket.write_all(answer.as_bytes()).await.unwrap();
            } else if request_line.starts_with("put ") {
                socket
                    .write_all(
                        b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await
                    .unwrap();
            } else {
                socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/csv\r\nsforce-locator: null\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n").await.unwrap();
                let mut w = csv::Writer::from_writer(Vec::new());
                let chunk = |w: csv::Writer<Vec<u8>>| w.into_inner().unwrap();
                w.write_record(["LastName", "Company", "Description"])
                    .unwrap();
                let mut pending = chunk(w);
                for i in 0..ROWS {
                    let mut w = csv::WriterBuilder::new()
                        .has_headers(false)
                        .from_writer(pending);
                    w.serialize(row(i)).unwrap();
                    pending = chunk(w);
                    if pending.len() > 32 * 1024 || i + 1 == ROWS {
                        let frame = [
                            format!("{:x}\r\n", pending.len()).into_bytes(),
                            std::mem::take(&mut pending),
                            b"\r\n".to_vec(),
                        ]
                        .concat();
                        if socket.write_all(&frame).await.is_err() {
                            return;
                        }
                    }
                }
                let _ = socket.write_all(b"0\r\n\r\n").await;
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_rows_each_way_in_a_few_megabytes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let uploaded = std::sync::Arc::new(AtomicUsize::new(0));
    tokio::spawn(stub(listener, uploaded.clone()));
    let app = ConnectedApp::new("stub-client").login_host(LoginHost::parse(&base).unwrap());
    let session = Session::builder(
        OAuthClient::new(app).unwrap(),
        Credentials::RefreshToken(SecretString::from("stub-refresh")),
    )
    .build();
    let client = salesforce_rest::Client::builder(session).build().unwrap();
    let bulk = client.bulk();
    // Log in before measuring: the session is not the subject.
    client.session().token().await.unwrap();

    let base_heap = mark();
    bulk.upload_records("750STUB", (0..ROWS).map(row))
        .await
        .unwrap();
    let upload_peak = peak_since(base_heap);
    let sent = uploaded.load(Ordering::Relaxed);
    assert!(sent > 10_000_000, "the data is large: {sent} bytes");
    assert!(
        upload_peak < 4_000_000,
        "upload peak {upload_peak} bytes for {sent} bytes of CSV"
    );

    let base_heap = mark();
    let mut rows = bulk.query_results::<Row>("750STUBQ", 100_000);
    let (mut n, mut bytes) = (0usize, 0usize);
    while let Some(r) = rows.next().await {
        let r = r.unwrap();
        bytes += r.last_name.len() + r.company.len() + r.description.len();
        n += 1;
    }
    let read_peak = peak_since(base_heap);
    assert_eq!(n, ROWS);
    assert!(bytes > 10_000_000, "{bytes}");
    assert!(
        read_peak < 8_000_000,
        "read peak {read_peak} bytes for {bytes} bytes of rows"
    );
    println!("upload: {sent} bytes, peak {upload_peak}; read: {bytes} bytes, peak {read_peak}");
}
