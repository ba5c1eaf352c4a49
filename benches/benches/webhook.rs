//! Webhook ingest: signature check + parse, beside the bare floor of
//! HMAC-SHA256 + `serde_json::from_slice::<Value>` on the same bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::hint::black_box;

use benches::{batch_body, criterion, ns_per_iter, one_message_body, report};
use criterion::{Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use sha2::Sha256;
use whatsapp_cloud::webhooks::WebhookConfig;

const SECRET: &str = "bench-app-secret";

fn bare(body: &[u8], header: &str) -> serde_json::Value {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let expected = hex::decode(header.trim_start_matches("sha256=")).unwrap();
    mac.verify_slice(&expected).unwrap();
    serde_json::from_slice(body).unwrap()
}

fn ingest(c: &mut criterion::Criterion) {
    let config = WebhookConfig::new(&SecretString::from(SECRET));
    for (name, body) in [
        ("1 message", one_message_body()),
        ("100 messages", batch_body(100)),
    ] {
        let header = config.sign(&body);
        let mut g = c.benchmark_group(format!("webhook ingest ({name}, {} bytes)", body.len()));
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("ours: verify + typed parse", |b| {
            b.iter(|| {
                black_box(
                    config
                        .receive(Some(black_box(&header)), black_box(&body))
                        .unwrap(),
                )
            });
        });
        g.bench_function("ours: verify + parse + flatten events", |b| {
            b.iter(|| {
                let n = config.receive(Some(&header), black_box(&body)).unwrap();
                black_box(n.events().count())
            });
        });
        g.bench_function("floor: HMAC-SHA256 + from_slice::<Value>", |b| {
            b.iter(|| black_box(bare(black_box(&body), &header)));
        });
        g.finish();
        if !benches::measuring() {
            continue;
        }
        let iters = if body.len() > 10_000 { 200 } else { 5_000 };
        let ours = ns_per_iter(iters, || {
            black_box(config.receive(Some(&header), black_box(&body)).unwrap());
        });
        let floor = ns_per_iter(iters, || {
            black_box(bare(black_box(&body), &header));
        });
        report(
            &format!("webhook ingest, {name} ({} bytes)", body.len()),
            ours,
            floor,
            1.5,
        );
    }
}

criterion_group! { name = benches; config = criterion(); targets = ingest }
criterion_main!(benches);
