//! Erasing one customer from the Redis-backed stores other than the
//! queues (dedup marks, windows, customer records, the sent log, opt-outs):
//! every key under a prefix is looked at once.

use crate::erase::{Customer, Erased};
use crate::error::BridgeError;
use crate::redis::{RedisConnection, store_err};

/// Escapes Redis glob characters, so a prefix matches only itself.
fn glob_escape(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('*');
    out
}

/// Erases the customer from every Redis store whose keys start with
/// `prefix` (the queues are erased by
/// [`JobQueue::erase_customer`](crate::queue::JobQueue::erase_customer)):
/// a string key goes when its name or its value mentions them (a dedup
/// mark of their message id, their window, their customer record, a sent
/// message to them); an opt-out in a `…optouts` hash is kept under the
/// number's hash. Other keys (queues, counters, leases) are left alone.
/// Walks the keyspace (`SCAN`): an administrative operation.
pub async fn erase_customer(
    conn: &RedisConnection,
    prefix: &str,
    customer: &Customer,
) -> Result<Erased, BridgeError> {
    let mut erased = Erased::default();
    let mut c = conn.clone();
    for key in conn
        .scan_match(&glob_escape(prefix))
        .await
        .map_err(store_err)?
    {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut c)
            .await
            .map_err(store_err)?;
        match kind.as_str() {
            "string" => {
                let theirs = customer.mentions(key.as_bytes()) || {
                    let v: Option<Vec<u8>> = redis::cmd("GET")
                        .arg(&key)
                        .query_async(&mut c)
                        .await
                        .map_err(store_err)?;
                    v.is_some_and(|v| customer.mentions(&v))
                };
                if !theirs {
                    continue;
                }
                let n: i64 = redis::cmd("DEL")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .map_err(store_err)?;
                let n = u64::try_from(n).unwrap_or(0);
                let rest = &key[prefix.len().min(key.len())..];
                if rest.starts_with("window") {
                    erased.windows += n;
                } else if rest.starts_with("sent") {
                    erased.sent += n;
                } else if rest.starts_with("customer") {
                    erased.customer_records += n;
                } else {
                    erased.keys += n;
                }
            }
            "hash" if key.ends_with("optouts") => {
                let record: Option<String> = redis::cmd("HGET")
                    .arg(&key)
                    .arg(customer.digits())
                    .query_async(&mut c)
                    .await
                    .map_err(store_err)?;
                if let Some(record) = record {
                    let _: () = redis::pipe()
                        .atomic()
                        .cmd("HSET")
                        .arg(&key)
                        .arg(customer.opt_out_hash())
                        .arg(record)
                        .ignore()
                        .cmd("HDEL")
                        .arg(&key)
                        .arg(customer.digits())
                        .ignore()
                        .query_async(&mut c)
                        .await
                        .map_err(store_err)?;
                    erased.opt_out_hashed = true;
                }
            }
            _ => {}
        }
    }
    erased.audit();
    Ok(erased)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_matched_literally() {
        assert_eq!(glob_escape("wa-sf:"), "wa-sf:*");
        assert_eq!(glob_escape("a*b?[c]"), "a\\*b\\?\\[c\\]*");
    }

    /// Every store of a prefix, on one node and on a cluster: the
    /// customer's keys go, another customer's stay, the opt-out is hashed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_customer_is_erased_from_the_redis_stores_and_stays_opted_out() {
        use crate::customers::{CustomerRecord, CustomerStore};
        use crate::dedup::DedupStore;
        use crate::optout::OptOutStore;
        use crate::redis::RedisCustomerStore;
        use crate::redis::RedisDedupStore;
        use crate::redis::RedisOptOutStore;
        use crate::redis::RedisWindowTracker;
        use crate::window::WindowTracker;
        use std::time::Duration;
        let now = chrono::Utc::now();
        for url in crate::redis::test_urls() {
            let prefix = format!("erase-test:{}:{}:", std::process::id(), url.len());
            let dedup = RedisDedupStore::connect(&url, &format!("{prefix}dedup:"))
                .await
                .unwrap();
            let window = RedisWindowTracker::connect(&url, &format!("{prefix}window:"))
                .await
                .unwrap();
            let customers = RedisCustomerStore::connect(&url, &prefix).await.unwrap();
            let opt_outs = RedisOptOutStore::connect(&url, &prefix).await.unwrap();
            for (number, wamid) in [
                (
                    "14155550123",
                    "wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQUFCQ0RFRg==",
                ),
                ("14155550188", "wamid.BEN"),
            ] {
                dedup
                    .mark_done(&format!("wa:msg:{wamid}"), Duration::from_secs(600))
                    .await
                    .unwrap();
                window.record_inbound(number, now).await.unwrap();
                customers
                    .put(
                        number,
                        &CustomerRecord::default(),
                        Duration::from_secs(600),
                        now,
                    )
                    .await
                    .unwrap();
                opt_outs.opt_out(number, "keyword STOP", now).await.unwrap();
            }
            let conn = crate::redis::connect(&url).await.unwrap();
            let ana = Customer::new("+1 (415) 555-0123").unwrap();
            let erased = erase_customer(&conn, &prefix, &ana).await.unwrap();
            assert_eq!(
                (erased.keys, erased.windows, erased.customer_records),
                (1, 1, 1),
                "{erased:?}"
            );
            assert!(erased.opt_out_hashed);
            assert!(
                opt_outs.get("14155550123").await.unwrap().is_some(),
                "still opted out"
            );
            assert!(window.last_inbound("14155550123").await.unwrap().is_none());
            assert!(window.last_inbound("14155550188").await.unwrap().is_some());
            // Nothing under the prefix names Ana any more, in keys or values.
            let mut c = conn.clone();
            for key in conn.scan_match(&glob_escape(&prefix)).await.unwrap() {
                assert!(!ana.mentions(key.as_bytes()), "{key}");
                let dump: Option<Vec<u8>> = redis::cmd("DUMP")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .unwrap();
                assert!(!dump.is_some_and(|d| ana.mentions(&d)), "{key}");
            }
        }
    }
}
