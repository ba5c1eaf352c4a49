//! The inbound pipeline's pure part: normalize a WhatsApp message, route it and
//! map it to a Salesforce record draft. Target: under 2 µs beside the ingest cost.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::hint::black_box;

use benches::{criterion, human, ns_per_iter, one_message_body};
use bridge_core::inbound::CustomerMessage;
use bridge_core::mapping::DefaultMapper;
use criterion::{criterion_group, criterion_main};
use whatsapp_cloud::webhooks::{Event, parse_unverified};

fn pipeline(c: &mut criterion::Criterion) {
    let body = one_message_body();
    let n = parse_unverified(&body).unwrap();
    let mapper = DefaultMapper::default();
    let one = |n: &whatsapp_cloud::webhooks::Notification| {
        let Some(Event::Message(m)) = n.events().next() else {
            unreachable!()
        };
        let inbound = CustomerMessage::from_whatsapp(&m);
        black_box(mapper.decide(&inbound))
    };
    c.bench_function("pipeline: normalize + route + map one message", |b| {
        b.iter(|| one(black_box(&n)));
    });
    if !benches::measuring() {
        return;
    }
    let ns = ns_per_iter(20_000, || {
        one(&n);
    });
    println!(
        "RATIO pipeline: normalize + route + map = {} per message (target < 2 µs: {})",
        human(ns),
        if ns < 2_000.0 { "meets" } else { "MISSES" }
    );
}

criterion_group! { name = benches; config = criterion(); targets = pipeline }
criterion_main!(benches);
