//! Change events decoded per second: an Avro payload of the Order change
//! schema to JSON fields plus the typed header (changed-fields bitmaps turned
//! into names), beside the floor of `apache-avro` decoding the same payload
//! to its own value type.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    missing_docs
)]

use benches::{criterion, measuring, ns_per_iter, report};
use criterion::{Throughput, criterion_group, criterion_main};
use salesforce_rest::pubsub::{change_header, decode, encode};
use salesforce_rest::testkit::ORDER_CHANGE_SCHEMA;
use serde_json::json;

fn payloads(n: usize) -> Vec<Vec<u8>> {
    let schema = apache_avro::Schema::parse_str(ORDER_CHANGE_SCHEMA).unwrap();
    (0..n)
        .map(|i| {
            let event = json!({
                "ChangeEventHeader": {
                    "entityName": "Order", "recordIds": [format!("801{i:012}")], "changeType": "UPDATE",
                    "changeOrigin": "com/salesforce/api/rest/66.0", "transactionKey": format!("tx-{i}"),
                    "sequenceNumber": 1, "commitTimestamp": 1_767_225_600_000_i64 + i as i64,
                    "commitNumber": i as i64, "commitUser": "005000000000001AAA",
                    "nulledFields": [], "diffFields": [], "changedFields": ["0x22"]
                },
                "Status": "Shipped", "OrderNumber": null, "TotalAmount": null,
                "Customer_Phone__c": null, "Customer_Name__c": "Ana", "LastModifiedDate": null
            });
            encode(&schema, &event).unwrap()
        })
        .collect()
}

fn pubsub(c: &mut criterion::Criterion) {
    let schema = apache_avro::Schema::parse_str(ORDER_CHANGE_SCHEMA).unwrap();
    let events = payloads(1_000);
    let ours = || {
        for p in &events {
            let fields = decode(&schema, p).unwrap();
            let header = change_header(&schema, &fields).unwrap();
            assert_eq!(header.changed_fields.len(), 2);
        }
    };
    let floor = || {
        for p in &events {
            let mut r = p.as_slice();
            apache_avro::from_avro_datum(&schema, &mut r, None).unwrap();
        }
    };
    let mut g = c.benchmark_group("pubsub");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("decode + typed header (1,000 change events)", |b| {
        b.iter(ours);
    });
    g.bench_function("floor: apache-avro datum decode (1,000)", |b| b.iter(floor));
    g.finish();
    if measuring() {
        let (o, f) = (ns_per_iter(20, ours), ns_per_iter(20, floor));
        report("pubsub change event decode", o / 1_000.0, f / 1_000.0, 2.0);
        println!(
            "EVENTS/s pubsub: {:.0} decoded and typed ({:.0} for the avro floor)",
            1e12 / o,
            1e12 / f
        );
    }
}

criterion_group! { name = benches; config = criterion(); targets = pubsub }
criterion_main!(benches);
