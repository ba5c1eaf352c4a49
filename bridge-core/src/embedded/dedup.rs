//! The dedup store of the embedded store.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::EmbeddedStore;
use crate::clock::Clock;
use crate::dedup::{Claim, ClaimToken, DedupStore};
use crate::error::BridgeError;
use crate::queue::{JobId, QueueError, duration_ms, millis};

/// The dedup store of an [`EmbeddedStore`]: the two-phase contract of
/// [`DedupStore`], durable across restarts.
#[derive(Clone)]
pub struct EmbeddedDedupStore {
    store: EmbeddedStore,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for EmbeddedDedupStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedDedupStore")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

const DEDUP: TableDefinition<'static, &'static str, (u64, i64)> = TableDefinition::new("dedup");
const DEDUP_EXPIRY: TableDefinition<'static, (i64, &'static str), ()> =
    TableDefinition::new("dedup.expiry");
const DONE: u64 = 0;

impl EmbeddedDedupStore {
    pub(super) fn new(store: EmbeddedStore, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Removes every claim still in flight (done keys stay); returns how many.
    pub(super) fn void_claims(&self) -> Result<u64, QueueError> {
        let db = self.store.inner.db.clone();
        (|| -> Result<u64, redb::Error> {
            let txn = db.begin_write()?;
            let mut n = 0;
            {
                let mut t = txn.open_table(DEDUP)?;
                let mut expiry = txn.open_table(DEDUP_EXPIRY)?;
                let live: Vec<(String, i64)> = t
                    .iter()?
                    .filter_map(Result::ok)
                    .filter(|(_, v)| v.value().0 != DONE)
                    .map(|(k, v)| (k.value().to_owned(), v.value().1))
                    .collect();
                for (key, until) in live {
                    t.remove(key.as_str())?;
                    expiry.remove((until, key.as_str()))?;
                    n += 1;
                }
            }
            txn.commit()?;
            Ok(n)
        })()
        .map_err(super::storage)
    }

    /// The same store reading time from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn set(txn: &WriteTransaction, key: &str, token: u64, until: i64) -> Result<(), redb::Error> {
        let mut t = txn.open_table(DEDUP)?;
        if let Some(old) = t.insert(key, (token, until))?.map(|v| v.value()) {
            txn.open_table(DEDUP_EXPIRY)?.remove((old.1, key))?;
        }
        drop(t);
        txn.open_table(DEDUP_EXPIRY)?.insert((until, key), ())?;
        Ok(())
    }

    fn prune(txn: &WriteTransaction, now: i64) -> Result<(), redb::Error> {
        prune_due(txn, now, 32).map(|_| ())
    }
}

/// Removes up to `limit` dedup entries that expired before `now`.
pub(super) fn prune_due(
    txn: &WriteTransaction,
    now: i64,
    limit: usize,
) -> Result<u64, redb::Error> {
    let mut expiry = txn.open_table(DEDUP_EXPIRY)?;
    let due = super::maintenance::due(&expiry, now, limit)?;
    let n = due.len() as u64;
    let mut t = txn.open_table(DEDUP)?;
    for (at, key) in due {
        expiry.remove((at, key.as_str()))?;
        if t.get(key.as_str())?.is_some_and(|v| v.value().1 == at) {
            t.remove(key.as_str())?;
        }
    }
    Ok(n)
}

fn to_bridge(e: QueueError) -> BridgeError {
    BridgeError::Queue(e)
}

#[async_trait]
impl DedupStore for EmbeddedDedupStore {
    async fn claim(&self, key: &str, ttl: Duration) -> Result<Claim, BridgeError> {
        let now = millis(self.clock.now());
        let until = now.saturating_add(duration_ms(ttl).max(1));
        let key = key.to_owned();
        self.store
            .write(move |txn| {
                Self::prune(txn, now)?;
                let current = txn.open_table(DEDUP)?.get(key.as_str())?.map(|v| v.value());
                if let Some((token, expires)) = current
                    && expires > now
                {
                    return Ok(Ok(if token == DONE {
                        Claim::Done
                    } else {
                        Claim::InFlight
                    }));
                }
                let token = crate::dedup::random_token();
                Self::set(txn, &key, token, until)?;
                Ok(Ok(Claim::New(ClaimToken::new(key, token))))
            })
            .await
            .map_err(to_bridge)
    }

    async fn complete(&self, token: &ClaimToken, keep: Duration) -> Result<(), BridgeError> {
        let now = millis(self.clock.now());
        let until = now.saturating_add(duration_ms(keep).max(1));
        let t = token.clone();
        self.store
            .write(move |txn| {
                let current = txn.open_table(DEDUP)?.get(t.key())?.map(|v| v.value());
                match current {
                    Some((owner, expires)) if owner == t.token() && expires > now => {
                        Self::set(txn, t.key(), DONE, until)?;
                        Ok(Ok(()))
                    }
                    _ => Ok(Err(QueueError::LeaseLost {
                        job: JobId::new("dedup claim"),
                    })),
                }
            })
            .await
            .map_err(|e| match e {
                QueueError::LeaseLost { .. } => BridgeError::Store(format!(
                    "the claim on {} expired before it was completed",
                    token.key()
                )),
                other => to_bridge(other),
            })
    }

    async fn is_done(&self, key: &str) -> Result<bool, BridgeError> {
        let now = millis(self.clock.now());
        let key = key.to_owned();
        self.store
            .read(move |txn| {
                Ok(txn
                    .open_table(DEDUP)
                    .ok()
                    .map(|t| {
                        t.get(key.as_str())
                            .map(|v| v.is_some_and(|v| v.value().0 == DONE && v.value().1 > now))
                    })
                    .transpose()?
                    .unwrap_or(false))
            })
            .await
            .map_err(to_bridge)
    }

    async fn release(&self, token: &ClaimToken) -> Result<(), BridgeError> {
        let t = token.clone();
        self.store
            .write(move |txn| {
                let mut table = txn.open_table(DEDUP)?;
                let current = table.get(t.key())?.map(|v| v.value());
                if let Some((owner, expires)) = current
                    && owner == t.token()
                {
                    table.remove(t.key())?;
                    drop(table);
                    txn.open_table(DEDUP_EXPIRY)?.remove((expires, t.key()))?;
                }
                Ok(Ok(()))
            })
            .await
            .map_err(to_bridge)
    }
}

/// Removes the dedup marks of the customer's message ids.
pub(super) fn erase_customer(
    txn: &WriteTransaction,
    customer: &crate::erase::Customer,
) -> Result<u64, redb::Error> {
    let mut t = txn.open_table(DEDUP)?;
    let theirs = super::erase::theirs(&t, |k, (_, until)| {
        customer.mentions(k.as_bytes()).then_some(until)
    })?;
    let mut expiry = txn.open_table(DEDUP_EXPIRY)?;
    for (key, until) in &theirs {
        t.remove(key.as_str())?;
        expiry.remove((*until, key.as_str()))?;
    }
    Ok(theirs.len() as u64)
}
