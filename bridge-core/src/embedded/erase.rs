//! Erasing one customer from the embedded store, and rewriting the file so
//! that no freed page keeps what was erased.

use std::path::Path;

use redb::{Database, Key, ReadableTable, TableDefinition, TableHandle, Value};

use super::{EmbeddedStore, FILE_NAME};
use crate::erase::{Customer, Erased};
use crate::queue::QueueError;

impl EmbeddedStore {
    /// Removes what the store holds about a customer, in one transaction:
    /// every job that mentions them in any queue (waiting, in flight or
    /// dead: the process handling one finds its lease lost), their message
    /// ids among completed and dedup keys, their 24-hour windows, sent-log
    /// entries and customer record. Their opt-out is kept as a hash of the
    /// number, still honoured. See [`crate::erase`].
    ///
    /// The database file may still hold erased bytes in freed pages until
    /// they are reused: once no process holds the store, [`rewrite`]
    /// leaves none.
    ///
    /// [`rewrite`]: EmbeddedStore::rewrite
    pub async fn erase_customer(&self, customer: &Customer) -> Result<Erased, QueueError> {
        let queues = self.queue_names().await?;
        let customer = customer.clone();
        let erased = self
            .write(move |txn| {
                let mut e = Erased::default();
                for name in &queues {
                    let (jobs, keys) = super::queue::erase_customer(name, txn, &customer)?;
                    e.jobs += jobs;
                    e.keys += keys;
                }
                e.keys += super::dedup::erase_customer(txn, &customer)?;
                e.windows = super::window::erase_customer(txn, &customer)?;
                e.sent = super::sent::erase_customer(txn, &customer)?;
                e.customer_records = super::customers::erase_customer(txn, &customer)?;
                e.opt_out_hashed = super::optout::hash_customer(txn, &customer)?;
                Ok(Ok(e))
            })
            .await?;
        erased.audit();
        Ok(erased)
    }

    /// Rewrites the store in `dir` into a fresh file holding only live
    /// entries, then puts it in place of the old one (no process may hold
    /// the store: [`QueueError::Open`] otherwise). Nothing erased or pruned
    /// survives in a freed page. A crash midway leaves the old file.
    pub fn rewrite(dir: impl AsRef<Path>) -> Result<(), QueueError> {
        let dir = dir.as_ref();
        let path = dir.join(FILE_NAME);
        let fresh = dir.join(format!("{FILE_NAME}.rewrite"));
        let open_err = |path: &Path, e: crate::queue::BoxError| QueueError::Open {
            path: path.to_path_buf(),
            source: e,
        };
        let old = Database::create(&path).map_err(|e| open_err(&path, Box::new(e)))?;
        let _ = std::fs::remove_file(&fresh);
        let new = Database::create(&fresh).map_err(|e| open_err(&fresh, Box::new(e)))?;
        copy_all(&old, &new).map_err(QueueError::storage)?;
        drop((old, new));
        std::fs::rename(&fresh, &path).map_err(|e| open_err(&path, Box::new(e)))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Copies every table of the store's schema from `from` into `to`, in one
/// transaction, committed durably.
fn copy_all(from: &Database, to: &Database) -> Result<(), redb::Error> {
    let read = from.begin_read()?;
    let names: Vec<String> = read.list_tables()?.map(|t| t.name().to_owned()).collect();
    let write = to.begin_write()?;
    for name in &names {
        let n = name.as_str();
        match kind(n) {
            Some(Kind::SeqBytes) => copy::<u64, &[u8]>(&read, &write, n)?,
            Some(Kind::SeqUnit) => copy::<u64, ()>(&read, &write, n)?,
            Some(Kind::StrBytes) => copy::<&str, &[u8]>(&read, &write, n)?,
            Some(Kind::StrSeqTime) => copy::<&str, (u64, i64)>(&read, &write, n)?,
            Some(Kind::TimeStrUnit) => copy::<(i64, &str), ()>(&read, &write, n)?,
            Some(Kind::StrSeqUnit) => copy::<(&str, u64), ()>(&read, &write, n)?,
            Some(Kind::TimeSeqUnit) => copy::<(i64, u64), ()>(&read, &write, n)?,
            Some(Kind::StrCount) => copy::<&str, u64>(&read, &write, n)?,
            Some(Kind::StrTime) => copy::<&str, i64>(&read, &write, n)?,
            Some(Kind::StrTimeBytes) => copy::<&str, (i64, &[u8])>(&read, &write, n)?,
            Some(Kind::StrSeqBytes) => copy::<(&str, u64), &[u8]>(&read, &write, n)?,
            None => {
                return Err(redb::Error::Corrupted(format!(
                    "table {name:?} is not one the store knows: nothing was rewritten"
                )));
            }
        }
    }
    write.commit()?;
    Ok(())
}

/// The key and value types of the store's tables.
enum Kind {
    SeqBytes,
    SeqUnit,
    StrBytes,
    StrSeqTime,
    TimeStrUnit,
    StrSeqUnit,
    TimeSeqUnit,
    StrCount,
    StrTime,
    StrTimeBytes,
    StrSeqBytes,
}

fn kind(table: &str) -> Option<Kind> {
    if let Some(rest) = table.strip_prefix("q.") {
        return match rest.rsplit_once('.')?.1 {
            "jobs" | "payloads" | "checkpoints" => Some(Kind::SeqBytes),
            "keys" => Some(Kind::StrSeqTime),
            "key_expiry" => Some(Kind::TimeStrUnit),
            "groups" => Some(Kind::StrSeqUnit),
            "ready" => Some(Kind::TimeSeqUnit),
            "dead" => Some(Kind::SeqUnit),
            "counters" => Some(Kind::StrCount),
            _ => None,
        };
    }
    match table {
        "dedup" => Some(Kind::StrSeqTime),
        "dedup.expiry" | "window.closes" | "sent.expiry" => Some(Kind::TimeStrUnit),
        "window" => Some(Kind::StrTime),
        "sent" => Some(Kind::StrTimeBytes),
        "customers" | "optouts" | "pubsub.replay" => Some(Kind::StrBytes),
        "pubsub.dead" => Some(Kind::StrSeqBytes),
        _ => None,
    }
}

fn copy<K: Key + 'static, V: Value + 'static>(
    read: &redb::ReadTransaction,
    write: &redb::WriteTransaction,
    name: &str,
) -> Result<(), redb::Error> {
    let def: TableDefinition<'_, K, V> = TableDefinition::new(name);
    let from = read.open_table(def)?;
    let mut to = write.open_table(def)?;
    for entry in from.iter()? {
        let (k, v) = entry?;
        to.insert(k.value(), v.value())?;
    }
    Ok(())
}

/// The entries of a string-keyed table that `pick` selects: each key with
/// what `pick` kept of its value (an expiry, to find its index entry).
pub(super) fn theirs<V, T>(
    table: &redb::Table<'_, &'static str, V>,
    mut pick: impl FnMut(&str, V::SelfType<'_>) -> Option<T>,
) -> Result<Vec<(String, T)>, redb::Error>
where
    V: Value + 'static,
{
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (k, v) = entry?;
        if let Some(kept) = pick(k.value(), v.value()) {
            out.push((k.value().to_owned(), kept));
        }
    }
    Ok(out)
}
