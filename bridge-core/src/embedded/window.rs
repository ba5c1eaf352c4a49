//! The 24-hour window of the embedded store: the last inbound time of each
//! customer (per business number), durable across restarts, so a reply
//! after a restart takes the form the window allows.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{ReadableTable, TableDefinition};

use super::EmbeddedStore;
use crate::error::BridgeError;
use crate::window::{WINDOW, WindowTracker};

/// Customer key → the last inbound time (Unix ms).
const LAST: TableDefinition<'static, &'static str, i64> = TableDefinition::new("window");
/// (when the window closes, Unix ms; customer key): the order entries
/// run out in.
const CLOSES: TableDefinition<'static, (i64, &'static str), ()> =
    TableDefinition::new("window.closes");

/// Closed windows removed per write (the table stays bounded by the
/// customers who wrote within a day).
const PURGE: usize = 64;

/// Removes up to `limit` windows that closed before `now`.
pub(super) fn prune_due(
    txn: &redb::WriteTransaction,
    now: i64,
    limit: usize,
) -> Result<u64, redb::Error> {
    let mut last = txn.open_table(LAST)?;
    let mut closes = txn.open_table(CLOSES)?;
    let due = super::maintenance::due(&closes, now, limit)?;
    let n = due.len() as u64;
    for (closed, gone) in due {
        closes.remove((closed, gone.as_str()))?;
        last.remove(gone.as_str())?;
    }
    Ok(n)
}

/// The window tracker of an [`EmbeddedStore`].
#[derive(Debug, Clone)]
pub struct EmbeddedWindowTracker {
    store: EmbeddedStore,
}

impl EmbeddedWindowTracker {
    pub(super) fn new(store: EmbeddedStore) -> Self {
        Self { store }
    }
}

#[async_trait]
impl WindowTracker for EmbeddedWindowTracker {
    async fn record_inbound(&self, customer: &str, at: DateTime<Utc>) -> Result<(), BridgeError> {
        let key = customer.to_owned();
        let at_ms = at.timestamp_millis();
        let window = WINDOW.num_milliseconds();
        self.store
            .write(move |txn| {
                let mut last = txn.open_table(LAST)?;
                let mut closes = txn.open_table(CLOSES)?;
                let current = last.get(key.as_str())?.map(|v| v.value());
                if current.is_none_or(|c| c < at_ms) {
                    if let Some(c) = current {
                        closes.remove((c.saturating_add(window), key.as_str()))?;
                    }
                    last.insert(key.as_str(), at_ms)?;
                    closes.insert((at_ms.saturating_add(window), key.as_str()), ())?;
                }
                drop((last, closes));
                // Forget a few windows that closed before this message.
                prune_due(txn, at_ms, PURGE)?;
                Ok(Ok(()))
            })
            .await
            .map_err(BridgeError::Queue)
    }

    async fn last_inbound(&self, customer: &str) -> Result<Option<DateTime<Utc>>, BridgeError> {
        let key = customer.to_owned();
        self.store
            .read(move |txn| {
                let t = match txn.open_table(LAST) {
                    Ok(t) => t,
                    Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                Ok(t.get(key.as_str())?
                    .and_then(|v| DateTime::from_timestamp_millis(v.value())))
            })
            .await
            .map_err(BridgeError::Queue)
    }
}

/// Removes the customer's windows (with every business number).
pub(super) fn erase_customer(
    txn: &redb::WriteTransaction,
    customer: &crate::erase::Customer,
) -> Result<u64, redb::Error> {
    let mut last = txn.open_table(LAST)?;
    let theirs =
        super::erase::theirs(&last, |k, at| customer.mentions(k.as_bytes()).then_some(at))?;
    let mut closes = txn.open_table(CLOSES)?;
    for (key, at) in &theirs {
        last.remove(key.as_str())?;
        closes.remove((at.saturating_add(WINDOW.num_milliseconds()), key.as_str()))?;
    }
    Ok(theirs.len() as u64)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use crate::window::{WindowTracker, conformance};

    #[tokio::test]
    async fn the_embedded_window_passes_the_suite_survives_a_reopen_and_forgets_closed_windows() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let now = Utc::now();
        {
            let store = super::EmbeddedStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
            conformance::run(
                std::sync::Arc::new(store.window()),
                &crate::clock::ManualClock::new(chrono::Utc::now()),
            )
            .await;
            store
                .window()
                .record_inbound("14155550123", now - Duration::hours(30))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            store
                .window()
                .record_inbound("phone-1:14155550199", now - Duration::hours(1))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let store = super::EmbeddedStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let w = store.window();
        assert_eq!(
            w.last_inbound("phone-1:14155550199")
                .await
                .ok()
                .flatten()
                .map(|t| t.timestamp_millis()),
            Some((now - Duration::hours(1)).timestamp_millis()),
            "the window outlives a restart"
        );
        // A later message purges windows that closed before it.
        w.record_inbound("14155550100", now)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            w.last_inbound("14155550123").await.ok().flatten(),
            None,
            "a window closed for six hours is forgotten"
        );
    }
}
