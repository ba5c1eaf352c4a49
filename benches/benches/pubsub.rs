//! Change events decoded per second: an Avro payload of the Order change
//! schema to JSON fields plus the typed header (changed-fields bitmaps turned
//! into names) and typed dates, beside the floor of `apache-avro` decoding
//! the same payload to its own value type. Then a burst of 500 change events
//! end to end over the fake Pub/Sub API: subscribed with flow control,
//! decoded, read back from the mock org one query per delivery (`WHERE Id
//! IN (...)`) and queued as notices (issue 24, item 5).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    missing_docs
)]

use benches::{criterion, measuring, ns_per_iter, report};
use criterion::{Throughput, criterion_group, criterion_main};
use salesforce_rest::pubsub::{
    EventSchema, Flow, MemoryReplayStore, PubSubClient, StartFrom, change_header, decode, encode,
    normalize_temporal,
};
use salesforce_rest::testkit::ORDER_CHANGE_SCHEMA;
use serde_json::json;

fn payloads(n: usize) -> Vec<Vec<u8>> {
    let schema = EventSchema::parse(ORDER_CHANGE_SCHEMA).unwrap();
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
                "Customer_Phone__c": null, "Customer_Name__c": "Ana", "LastModifiedDate": null,
                "Carrier__c": null, "Tracking__c": null, "ETA__c": 20_796
            });
            encode(&schema, &event).unwrap()
        })
        .collect()
}

fn pubsub(c: &mut criterion::Criterion) {
    let schema = EventSchema::parse(ORDER_CHANGE_SCHEMA).unwrap();
    let avro = apache_avro::Schema::parse_str(ORDER_CHANGE_SCHEMA).unwrap();
    let events = payloads(1_000);
    let ours = || {
        for p in &events {
            let mut fields = decode(&schema, p).unwrap();
            normalize_temporal(&schema, &mut fields);
            let header = change_header(&schema, &fields).unwrap();
            assert_eq!(header.changed_fields.len(), 2);
        }
    };
    let floor = || {
        for p in &events {
            let mut r = p.as_slice();
            apache_avro::from_avro_datum(&avro, &mut r, None).unwrap();
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

/// A burst of `n` change events through the subscriber, a batched
/// read-back and a queued notice each: events/s and REST calls per event.
async fn burst(n: usize) -> (f64, f64) {
    use bridge_core::embedded::MemoryQueue;
    use bridge_core::queue::{JobQueue, NewJob};
    use salesforce_rest::testkit::{FakePubSub, MockOrg};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let (org, fake) = (MockOrg::start().await, FakePubSub::start().await);
    let ids: Vec<String> = (0..n)
        .map(|i| {
            org.insert(
                "Order",
                json!({"OrderNumber": format!("{:08}", i), "Status": "Activated",
                       "Customer_Phone__c": format!("1415{:07}", i), "Customer_Name__c": "Ana"}),
            )
        })
        .collect();
    for id in &ids {
        fake.order_change(id, "UPDATE", &json!({"Status": "Delivered"}));
    }
    let client = org.client();
    let pubsub = PubSubClient::builder(org.session())
        .endpoint(fake.url())
        .build()
        .unwrap();
    let outbox = Arc::new(MemoryQueue::new("outbox").unwrap());
    let handled = Arc::new(AtomicUsize::new(0));
    let calls = org.api_calls();
    let t = std::time::Instant::now();
    pubsub
        .subscribe("/data/OrderChangeEvent", Arc::new(MemoryReplayStore::default()))
        .start_from(StartFrom::Earliest)
        .batch(200)
        .run_batches(|events| {
            let (client, outbox, handled) = (client.clone(), outbox.clone(), handled.clone());
            async move {
                let ids: Vec<String> = events
                    .iter()
                    .filter_map(|e| Some(e.change.as_ref()?.record_ids.first()?.clone()))
                    .collect();
                let soql = salesforce_rest::soql::Soql::new(
                    "SELECT Id, OrderNumber, Customer_Phone__c, Customer_Name__c FROM Order WHERE Id IN {}",
                )
                .bind(&ids)
                .build()?;
                let rows = client
                    .query_stream::<salesforce_rest::records::DynamicRecord>(&soql)
                    .collect_max(ids.len())
                    .await?;
                for row in rows {
                    let key = format!("order_status:{}:Delivered", row.get("Id").unwrap());
                    let job = NewJob::new(key, "notice", serde_json::to_vec(&row)?);
                    outbox.enqueue(job, chrono::Utc::now()).await?;
                }
                let done = handled.fetch_add(events.len(), Ordering::SeqCst) + events.len();
                Ok(if done >= n { Flow::Stop } else { Flow::Continue })
            }
        })
        .await
        .unwrap();
    let rate = n as f64 / t.elapsed().as_secs_f64();
    assert_eq!(
        outbox.stats(chrono::Utc::now()).await.unwrap().depth,
        n as u64
    );
    (rate, (org.api_calls() - calls) as f64 / n as f64)
}

fn end_to_end(_: &mut criterion::Criterion) {
    if !measuring() {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (rate, calls) = rt.block_on(burst(500));
    println!(
        "RATIO pubsub burst of 500 change events: {rate:.0} events/s subscribed, decoded, read back and queued; {calls:.3} REST calls per event"
    );
}

criterion_group! { name = benches; config = criterion(); targets = pubsub, end_to_end }
criterion_main!(benches);
