//! What the bridge remembers about each customer between messages, so that a
//! message costs one Salesforce call: the Contact their number matched (or
//! that none did), and the open Case their support messages join.
//!
//! [`CustomerStore`] is the trait; [`MemoryCustomerStore`] (one process),
//! `EmbeddedCustomerStore` (feature `embedded`, durable) and
//! `RedisCustomerStore` (feature `redis`, shared by every instance) implement
//! it, and [`conformance::run`] checks any implementation. Entries expire:
//! a Contact lookup is repeated after a day, an open-Case link lapses after
//! the thread window (see `SalesforceWriter::thread_window`).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), bridge_core::BridgeError> {
//! use std::time::Duration;
//! use bridge_core::customers::{CaseLink, CustomerRecord, CustomerStore, MemoryCustomerStore};
//! let store = MemoryCustomerStore::default();
//! let now = chrono::Utc::now();
//! let mut record = CustomerRecord::default();
//! record.open_case = Some(CaseLink::new("500000000000001AAA", Some("00001026".into()), "wamid.1", now));
//! store.put("+1 (415) 555-0123", &record, Duration::from_secs(7 * 86_400), now).await?;
//! let back = store.get("14155550123", now).await?.unwrap();
//! assert_eq!(back.open_case.unwrap().number.as_deref(), Some("00001026"));
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::BridgeError;
pub use crate::optout::customer_key;

/// The Contact a customer's number matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ContactLink {
    /// The Contact's id.
    pub id: String,
    /// Its Account, when it has one.
    pub account_id: Option<String>,
    /// How many other Contacts had the same number (the most recently
    /// modified one is chosen; see `SalesforceWriter::contact_match`).
    #[serde(default)]
    pub others: u32,
}

impl ContactLink {
    /// A match.
    pub fn new(id: impl Into<String>, account_id: Option<String>) -> Self {
        Self {
            id: id.into(),
            account_id,
            others: 0,
        }
    }
}

/// The open Case a customer's support messages join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CaseLink {
    /// The Case's id.
    pub id: String,
    /// Its number, for the reply.
    pub number: Option<String>,
    /// The key of the message that opened it: a retry of that message is the
    /// opening, never a follow-up.
    pub opened_by: String,
    /// The last message that joined it (the thread window runs from here).
    pub last_message_at: DateTime<Utc>,
}

impl CaseLink {
    /// A link.
    pub fn new(
        id: impl Into<String>,
        number: Option<String>,
        opened_by: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: id.into(),
            number,
            opened_by: opened_by.into(),
            last_message_at: at,
        }
    }
}

/// What the bridge knows of one customer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CustomerRecord {
    /// When the Contact lookup last ran (`None`: never).
    pub contact_checked_at: Option<DateTime<Utc>>,
    /// The Contact found then (`None` with a check time: no Contact).
    pub contact: Option<ContactLink>,
    /// The open Case their support messages join.
    pub open_case: Option<CaseLink>,
}

/// Where [`CustomerRecord`]s live. Keys are customer addresses in any
/// formatting (`+1 (415) 555-0123` and `14155550123` are one customer).
#[async_trait]
pub trait CustomerStore: Send + Sync {
    /// The record, unless absent or expired at `now`.
    async fn get(
        &self,
        customer: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CustomerRecord>, BridgeError>;

    /// Stores the record, replacing any, until `now + keep`.
    async fn put(
        &self,
        customer: &str,
        record: &CustomerRecord,
        keep: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), BridgeError>;

    /// Forgets the customer.
    async fn remove(&self, customer: &str) -> Result<(), BridgeError>;
}

/// A stored record with its expiry (the embedded and Redis encodings).
#[cfg(any(feature = "embedded", feature = "redis"))]
#[derive(Serialize, Deserialize)]
pub(crate) struct Stored {
    record: CustomerRecord,
    expires_at: DateTime<Utc>,
}

#[cfg(any(feature = "embedded", feature = "redis"))]
impl Stored {
    /// The stored form of a record kept `keep` from `now`.
    pub(crate) fn encode(
        record: &CustomerRecord,
        keep: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, BridgeError> {
        serde_json::to_vec(&Stored {
            record: record.clone(),
            expires_at: expiry(now, keep),
        })
        .map_err(|e| BridgeError::store("cannot encode the customer record", e))
    }

    /// The record in stored bytes, unless unreadable or expired at `now`.
    pub(crate) fn decode(bytes: &[u8], now: DateTime<Utc>) -> Option<CustomerRecord> {
        serde_json::from_slice::<Stored>(bytes)
            .ok()
            .filter(|s| s.expires_at > now)
            .map(|s| s.record)
    }
}

fn expiry(now: DateTime<Utc>, keep: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(keep).map_or(DateTime::<Utc>::MAX_UTC, |k| {
        now.checked_add_signed(k)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    })
}

/// In memory (one process), bounded: past `capacity` customers, expired
/// entries are dropped, then arbitrary ones.
#[derive(Debug)]
pub struct MemoryCustomerStore {
    map: Mutex<HashMap<String, (CustomerRecord, DateTime<Utc>)>>,
    capacity: usize,
}

impl Default for MemoryCustomerStore {
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

impl MemoryCustomerStore {
    /// A store for about `capacity` customers.
    pub fn new(capacity: usize) -> Self {
        Self {
            map: Mutex::default(),
            capacity: capacity.max(1),
        }
    }
}

#[async_trait]
impl CustomerStore for MemoryCustomerStore {
    async fn get(
        &self,
        customer: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CustomerRecord>, BridgeError> {
        let map = self
            .map
            .lock()
            .map_err(|_| BridgeError::Store("the customer store's lock is poisoned".into()))?;
        Ok(map
            .get(&customer_key(customer))
            .filter(|(_, until)| *until > now)
            .map(|(r, _)| r.clone()))
    }

    async fn put(
        &self,
        customer: &str,
        record: &CustomerRecord,
        keep: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), BridgeError> {
        let mut map = self
            .map
            .lock()
            .map_err(|_| BridgeError::Store("the customer store's lock is poisoned".into()))?;
        if map.len() >= self.capacity {
            map.retain(|_, (_, until)| *until > now);
            while map.len() >= self.capacity {
                let Some(k) = map.keys().next().cloned() else {
                    break;
                };
                map.remove(&k);
            }
        }
        map.insert(customer_key(customer), (record.clone(), expiry(now, keep)));
        Ok(())
    }

    async fn remove(&self, customer: &str) -> Result<(), BridgeError> {
        if let Ok(mut map) = self.map.lock() {
            map.remove(&customer_key(customer));
        }
        Ok(())
    }
}

/// The behaviour every [`CustomerStore`] must have; run it against yours.
pub mod conformance {
    use std::sync::Arc;

    use super::*;
    use crate::clock::{Clock, ManualClock};

    /// Runs the suite on a store (customers it uses are random); panics
    /// naming the broken rule. Time is passed in: nothing sleeps.
    ///
    /// The same signature as every conformance suite of the workspace:
    /// the store behind an `Arc`, and the `ManualClock` the suite reads and
    /// moves (build the store with it when it keeps time).
    ///
    /// # Panics
    ///
    /// When the store breaks a rule.
    #[allow(clippy::panic)]
    pub async fn run<S: CustomerStore + ?Sized + 'static>(store: Arc<S>, clock: &ManualClock) {
        let store = &*store;
        let t0 = clock.now();
        let day = Duration::from_secs(86_400);
        let who = format!("1415556{:04}", crate::dedup::random_token() % 10_000);
        let who = who.as_str();
        let get = |at| async move { store.get(who, at).await.unwrap_or_else(|e| panic!("{e}")) };
        assert!(get(t0).await.is_none(), "an unknown customer has no record");
        let mut r = CustomerRecord {
            contact_checked_at: Some(t0),
            contact: Some(ContactLink::new(
                "003000000000001AAA",
                Some("001000000000001AAA".into()),
            )),
            open_case: None,
        };
        store
            .put(who, &r, day, t0)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(get(t0).await.as_ref(), Some(&r), "a record round-trips");
        let formatted = format!(
            "+{} ({}) {}-{}",
            &who[..1],
            &who[1..4],
            &who[4..7],
            &who[7..]
        );
        assert!(
            store
                .get(&formatted, t0)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .is_some(),
            "any formatting of the number is the same customer"
        );
        clock.advance(Duration::from_secs(25 * 3_600));
        let late = clock.now();
        assert!(get(late).await.is_none(), "a record expires after `keep`");
        r.open_case = Some(CaseLink::new(
            "500000000000001AAA",
            Some("00001026".into()),
            "wamid.A",
            t0,
        ));
        store
            .put(&formatted, &r, day * 7, t0)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            get(late).await.as_ref(),
            Some(&r),
            "a put replaces the record and its expiry"
        );
        store.remove(who).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(get(t0).await.is_none(), "remove forgets the customer");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_store_passes_the_suite_and_stays_bounded() {
        conformance::run(
            std::sync::Arc::new(MemoryCustomerStore::default()),
            &crate::clock::ManualClock::at_millis(1_767_225_600_000),
        )
        .await;
        let s = MemoryCustomerStore::new(3);
        let now = Utc::now();
        for i in 0..10 {
            s.put(
                &format!("1415555{i:04}"),
                &CustomerRecord::default(),
                Duration::from_secs(60),
                now,
            )
            .await
            .unwrap();
        }
        assert!(s.map.lock().unwrap().len() <= 3);
    }

    #[cfg(feature = "redis")]
    #[tokio::test]
    async fn the_redis_store_passes_the_suite() {
        for url in crate::redis::test_urls() {
            let s = crate::redis::RedisCustomerStore::connect(
                &url,
                &format!("wa-sf:test{}:", crate::dedup::random_token()),
            )
            .await
            .unwrap();
            conformance::run(
                std::sync::Arc::new(s),
                &crate::clock::ManualClock::new(Utc::now()),
            )
            .await;
        }
    }
}
