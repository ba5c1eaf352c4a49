//! Dedup: in-memory claim + complete at 1 and 8 tasks; memory per key at 1M keys.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::{criterion, human, quick, rss_bytes};
use bridge_core::dedup::{Claim, DedupStore, MemoryDedupStore};
use criterion::{criterion_group, criterion_main};

const TTL: Duration = Duration::from_secs(3600);

async fn claim_complete(store: &MemoryDedupStore, key: &str) {
    if let Claim::New(t) = store.claim(key, TTL).await.unwrap() {
        store.complete(&t, TTL).await.unwrap();
    }
}

fn dedup(c: &mut criterion::Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("dedup (memory)");
    for tasks in [1usize, 8] {
        g.bench_function(format!("claim + complete, {tasks} task(s), per op"), |b| {
            b.to_async(&rt).iter_custom(|iters| async move {
                let store = Arc::new(MemoryDedupStore::new(2_000_000));
                let per_task = (iters as usize).div_ceil(tasks);
                let start = Instant::now();
                let handles: Vec<_> = (0..tasks)
                    .map(|t| {
                        let s = store.clone();
                        tokio::spawn(async move {
                            for i in 0..per_task {
                                claim_complete(
                                    &s,
                                    &format!(
                                        "wa:msg:wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQz{t:02}{i:010}"
                                    ),
                                )
                                .await;
                            }
                        })
                    })
                    .collect();
                for h in handles {
                    h.await.unwrap();
                }
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per_task * tasks) as f64)
            });
        });
    }
    g.finish();

    if !benches::measuring() {
        return;
    }
    let keys = if quick() { 200_000 } else { 1_000_000 };
    let before = rss_bytes().unwrap_or(0);
    let store = MemoryDedupStore::new(keys + keys / 4);
    rt.block_on(async {
        for i in 0..keys {
            claim_complete(
                &store,
                &format!("wa:msg:wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQz{i:012}=="),
            )
            .await;
        }
    });
    let after = rss_bytes().unwrap_or(0);
    let key_len = "wa:msg:wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQz000000000000==".len();
    let per_key = after.saturating_sub(before) as f64 / keys as f64;
    println!(
        "RATIO dedup memory: {per_key:.0} bytes per key at {keys} keys of {key_len} bytes, key included (target < 200: {}); {} keys held",
        if per_key < 200.0 { "meets" } else { "MISSES" },
        store.len()
    );
    let t = Instant::now();
    let probe = rt
        .block_on(store.claim(
            "wa:msg:wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQz000000000042==",
            TTL,
        ))
        .unwrap();
    println!(
        "RATIO dedup lookup in a full store: {} ({probe:?})",
        human(t.elapsed().as_nanos() as f64)
    );
}

criterion_group! { name = benches; config = criterion(); targets = dedup }
criterion_main!(benches);
