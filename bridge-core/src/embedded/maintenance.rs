//! Keeping the embedded store bounded: a full prune of every table on a
//! schedule ([`EmbeddedStore::maintain`]), what it holds
//! ([`EmbeddedStore::usage`]), and compaction when it is opened.

use chrono::{DateTime, Utc};
use redb::{ReadableTableMetadata, TableHandle};

use super::EmbeddedStore;
use super::queue::PRUNE_CHUNK;
use crate::queue::{JobQueue, Pruned, QueueError, Retention};

/// What an [`EmbeddedStore`] holds: the file's size and each table's
/// entries, by name (`q.inbox.keys`, `dedup`, `window`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreUsage {
    /// The database file's size in bytes (`None` in memory).
    pub file_bytes: Option<u64>,
    /// Entries per table, sorted by table name.
    pub tables: Vec<(String, u64)>,
}

impl StoreUsage {
    /// Entries of one table (0 when it does not exist).
    pub fn entries(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .find(|(name, _)| name == table)
            .map_or(0, |(_, n)| *n)
    }

    /// Entries of every table.
    pub fn total_entries(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

impl EmbeddedStore {
    /// Prunes everything the store no longer needs at `now`, in every
    /// table: each queue's completed keys past their retention and dead
    /// letters older than [`Retention::dead_letters`], dedup keys past
    /// their time, closed 24-hour windows, sent-log entries that ran out
    /// and expired customer records. (Writes prune a few entries each as
    /// they go; this catches up after a quiet spell.) Opt-outs and replay
    /// ids are kept. Call it every [`Retention::every`].
    pub async fn maintain(
        &self,
        now: DateTime<Utc>,
        retention: &Retention,
    ) -> Result<Pruned, QueueError> {
        let mut total = Pruned::default();
        for name in self.queue_names().await? {
            total += self.queue(&name)?.prune(now, retention).await?;
        }
        type Prune = fn(&redb::WriteTransaction, DateTime<Utc>, usize) -> Result<u64, redb::Error>;
        let prunes: [Prune; 4] = [
            |txn, now, n| super::dedup::prune_due(txn, now.timestamp_millis(), n),
            |txn, now, n| super::window::prune_due(txn, now.timestamp_millis(), n),
            |txn, now, n| super::sent::prune_due(txn, now.timestamp_millis(), n),
            super::customers::prune_expired,
        ];
        for prune in prunes {
            loop {
                let n = self
                    .write(move |txn| Ok(Ok(prune(txn, now, PRUNE_CHUNK)?)))
                    .await?;
                total.other += n;
                if n < PRUNE_CHUNK as u64 {
                    break;
                }
            }
        }
        Ok(total)
    }

    /// The names of the queues in the database.
    pub async fn queue_names(&self) -> Result<Vec<String>, QueueError> {
        self.read(|txn| {
            Ok(txn
                .list_tables()?
                .filter_map(|t| {
                    let name = t.name();
                    name.strip_prefix("q.")
                        .and_then(|n| n.strip_suffix(".jobs"))
                        .map(str::to_owned)
                })
                .collect())
        })
        .await
    }

    /// What the store holds now.
    pub async fn usage(&self) -> Result<StoreUsage, QueueError> {
        let mut tables = self
            .read(|txn| {
                let mut out = Vec::new();
                for handle in txn.list_tables()? {
                    let name = handle.name().to_owned();
                    let len = txn.open_untyped_table(handle)?.len()?;
                    out.push((name, len));
                }
                Ok(out)
            })
            .await?;
        tables.sort();
        let file_bytes = match self.path() {
            Some(path) => Some(
                std::fs::metadata(path)
                    .map_err(|e| QueueError::storage(Box::new(e)))?
                    .len(),
            ),
            None => None,
        };
        Ok(StoreUsage { file_bytes, tables })
    }
}

/// Up to `limit` entries of an expiry index (`(when, key)`) due before
/// `now`, oldest first.
pub(super) fn due(
    index: &redb::Table<'_, (i64, &'static str), ()>,
    now: i64,
    limit: usize,
) -> Result<Vec<(i64, String)>, redb::Error> {
    use redb::ReadableTable;
    index
        .range((i64::MIN, "")..(now, ""))?
        .take(limit)
        .map(|r| {
            r.map(|(k, _)| (k.value().0, k.value().1.to_owned()))
                .map_err(redb::Error::from)
        })
        .collect()
}

/// Compacts a database before it is shared (on open): the space freed by
/// pruned entries goes back to the file system. A failure leaves the file
/// as it was (redb compacts in place, transactionally) and is only logged.
pub(super) fn compact(db: &mut redb::Database) {
    match db.compact() {
        Ok(true) => tracing::debug!("the embedded store was compacted"),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(error = %e, "the embedded store could not be compacted; carrying on");
        }
    }
}
