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

/// A message whose `field` holds `value` (about 1 MB of non-ASCII text).
fn one_large_field(field: &str, value: serde_json::Value) -> Vec<u8> {
    use whatsapp_cloud::testkit::payloads;
    let mut message = serde_json::json!({
        "from": "14155550100",
        "id": "wamid.HBgLMTQxNTU1NTAxMDAVAgASGBQzQTdBQjE2RDc5QjQ2MDAwMDAxAA==",
        "timestamp": "1714000000",
        "type": "text",
        "text": { "body": "short" },
    });
    if let Some(m) = message.as_object_mut() {
        m.insert(field.to_owned(), value);
    }
    let contacts = [payloads::contact("14155550100", "Ana")];
    payloads::envelope(vec![payloads::messages_value(&contacts, &[message])]).into_bytes()
}

/// Issue 26 item 10: a 1 MB string where an object belongs (the lenient
/// path leaves the field out) beside the same string where a string
/// belongs (the happy path).
fn wrong_typed(c: &mut criterion::Criterion) {
    let config = WebhookConfig::new(&SecretString::from(SECRET));
    let text = "Olá, não recebi o pedido; ção ü € ".repeat(30_000);
    let right = one_large_field("text", serde_json::json!({ "body": text }));
    let wrong = one_large_field("location", serde_json::json!(text));
    let mut g = c.benchmark_group(format!(
        "webhook with a 1 MB non-ASCII string ({} bytes)",
        right.len()
    ));
    g.sample_size(20);
    for (name, body) in [
        ("right-typed (text.body)", &right),
        ("wrong-typed (location)", &wrong),
    ] {
        let header = config.sign(body);
        let n = config.receive(Some(&header), body).unwrap();
        assert_eq!(n.events().count(), 1, "{name}: the message is kept");
        g.bench_function(name, |b| {
            b.iter(|| black_box(config.receive(Some(&header), black_box(body)).unwrap()));
        });
    }
    g.finish();
    if benches::measuring() {
        let (hr, hw) = (config.sign(&right), config.sign(&wrong));
        let right_ns = ns_per_iter(30, || {
            black_box(config.receive(Some(&hr), black_box(&right)).unwrap());
        });
        let wrong_ns = ns_per_iter(30, || {
            black_box(config.receive(Some(&hw), black_box(&wrong)).unwrap());
        });
        report(
            "1 MB non-ASCII string: wrong-typed vs right-typed field",
            wrong_ns,
            right_ns,
            2.0,
        );
    }
}

criterion_group! { name = benches; config = criterion(); targets = ingest, wrong_typed }
criterion_main!(benches);
