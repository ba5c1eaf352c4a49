//! US formatting: money, date, time with zone, phone.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use benches::criterion;
use bridge_core::format;
use chrono::{NaiveDate, TimeZone, Utc};
use criterion::{criterion_group, criterion_main};

fn formats(c: &mut criterion::Criterion) {
    let mut g = c.benchmark_group("US formats");
    g.bench_function("money($1,499.99)", |b| {
        b.iter(|| format::money(black_box(149_999)));
    });
    let d = NaiveDate::from_ymd_opt(2025, 4, 30).unwrap();
    g.bench_function("date(04/30/2025)", |b| {
        b.iter(|| format::date(black_box(d)));
    });
    let t = Utc.with_ymd_and_hms(2026, 1, 15, 19, 30, 0).unwrap();
    g.bench_function("time(2:30 PM EST)", |b| {
        b.iter(|| format::time(black_box(t), chrono_tz::America::New_York));
    });
    g.bench_function("phone(+1 (415) 555-0123)", |b| {
        b.iter(|| format::phone::format(black_box("415.555.0123")).unwrap());
    });
    g.finish();
}

criterion_group! { name = benches; config = criterion(); targets = formats }
criterion_main!(benches);
