//! The sent log of the embedded store: what was sent, for the fallback
//! channel, durable across restarts.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::TableDefinition;

use super::EmbeddedStore;
use crate::error::BridgeError;
use crate::sent::{SentLog, SentRecord};

/// Message id → (expiry in Unix ms, the message as JSON).
const SENT: TableDefinition<'static, &'static str, (i64, &'static [u8])> =
    TableDefinition::new("sent");
/// (expiry in Unix ms, message id): the order in which entries run out.
const SENT_EXPIRY: TableDefinition<'static, (i64, &'static str), ()> =
    TableDefinition::new("sent.expiry");

/// Expired entries removed per write (the log stays bounded by its traffic).
const PURGE: usize = 64;

/// Removes up to `limit` entries that ran out before `now`.
pub(super) fn prune_due(
    txn: &redb::WriteTransaction,
    now: i64,
    limit: usize,
) -> Result<u64, redb::Error> {
    let mut sent = txn.open_table(SENT)?;
    let mut expiry = txn.open_table(SENT_EXPIRY)?;
    let due = super::maintenance::due(&expiry, now, limit)?;
    let n = due.len() as u64;
    for (at, gone) in due {
        expiry.remove((at, gone.as_str()))?;
        sent.remove(gone.as_str())?;
    }
    Ok(n)
}

/// The sent log of an [`EmbeddedStore`].
#[derive(Debug, Clone)]
pub struct EmbeddedSentLog {
    store: EmbeddedStore,
}

impl EmbeddedSentLog {
    pub(super) fn new(store: EmbeddedStore) -> Self {
        Self { store }
    }
}

#[async_trait]
impl SentLog for EmbeddedSentLog {
    async fn remember(
        &self,
        message_id: &str,
        message: &SentRecord,
        keep: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), BridgeError> {
        let bytes = serde_json::to_vec(message)
            .map_err(|e| BridgeError::store("encoding a sent message", e))?;
        let id = message_id.to_owned();
        let now_ms = now.timestamp_millis();
        let until = now_ms.saturating_add(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX));
        self.store
            .write(move |txn| {
                let mut sent = txn.open_table(SENT)?;
                let mut expiry = txn.open_table(SENT_EXPIRY)?;
                let old = sent
                    .insert(id.as_str(), (until, bytes.as_slice()))?
                    .map(|v| v.value().0);
                if let Some(old) = old {
                    expiry.remove((old, id.as_str()))?;
                }
                expiry.insert((until, id.as_str()), ())?;
                drop((sent, expiry));
                // Purge a few of the entries that ran out.
                prune_due(txn, now_ms, PURGE)?;
                Ok(Ok(()))
            })
            .await
            .map_err(BridgeError::Queue)
    }

    async fn take(
        &self,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SentRecord>, BridgeError> {
        let id = message_id.to_owned();
        let now_ms = now.timestamp_millis();
        self.store
            .write(move |txn| {
                let mut sent = txn.open_table(SENT)?;
                let mut expiry = txn.open_table(SENT_EXPIRY)?;
                let Some((until, bytes)) = sent
                    .remove(id.as_str())?
                    .map(|v| (v.value().0, v.value().1.to_vec()))
                else {
                    return Ok(Ok(None));
                };
                expiry.remove((until, id.as_str()))?;
                Ok(Ok((until > now_ms)
                    .then(|| serde_json::from_slice(&bytes).ok())
                    .flatten()))
            })
            .await
            .map_err(BridgeError::Queue)
    }
}

/// Removes the sent-log entries of messages to the customer.
pub(super) fn erase_customer(
    txn: &redb::WriteTransaction,
    customer: &crate::erase::Customer,
) -> Result<u64, redb::Error> {
    let mut sent = txn.open_table(SENT)?;
    let theirs = super::erase::theirs(&sent, |k, (until, bytes)| {
        (customer.mentions(k.as_bytes()) || customer.mentions(bytes)).then_some(until)
    })?;
    let mut expiry = txn.open_table(SENT_EXPIRY)?;
    for (key, until) in &theirs {
        sent.remove(key.as_str())?;
        expiry.remove((*until, key.as_str()))?;
    }
    Ok(theirs.len() as u64)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Utc;

    use crate::sent::{SentLog, SentRecord, conformance};

    #[tokio::test]
    async fn the_embedded_log_passes_the_suite_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::EmbeddedStore::open(dir.path()).unwrap();
        conformance::run(
            Arc::new(store.sent_log()),
            &crate::clock::ManualClock::new(Utc::now()),
        )
        .await;
        let now = Utc::now();
        store
            .sent_log()
            .remember(
                "wamid.1",
                &SentRecord::new("14155550123", "hi"),
                std::time::Duration::from_secs(60),
                now,
            )
            .await
            .unwrap();
        drop(store);
        let again = super::EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(
            again.sent_log().take("wamid.1", now).await.unwrap(),
            Some(SentRecord::new("14155550123", "hi"))
        );
        assert_eq!(again.sent_log().take("wamid.1", now).await.unwrap(), None);
    }
}
