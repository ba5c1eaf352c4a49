//! The embedded durable store, on `redb` (feature `embedded`): job queues and a
//! dedup store in one file under a directory (by default `bridge-data/`).
//!
//! Every write goes through one writer thread that gathers the writes waiting
//! at that moment into one transaction and commits it with an fsync (group
//! commit): an enqueue returns only once it is on disk, and twenty concurrent
//! webhooks cost one or two fsyncs, not twenty. Reads run on the blocking pool.

// `redb::Error` is large, but it only travels on the cold path of a failed
// storage operation inside the writer thread; boxing it at every `?` would
// only add noise.
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use redb::{Database, WriteTransaction};
use tokio::sync::oneshot;

use crate::clock::SystemClock;
use crate::queue::{DEFAULT_RETENTION, QueueError, duration_ms};

/// The file inside the data directory.
pub(crate) const FILE_NAME: &str = "bridge.redb";
const MAX_BATCH: usize = 256;

/// A store failure, as text (redb errors are not `Clone`, and one failed
/// commit is reported to every write of its batch).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
struct StoreFailure(String);

fn storage(e: impl std::fmt::Display) -> QueueError {
    QueueError::storage(StoreFailure(e.to_string()))
}

trait WriteOp: Send {
    /// Whether the caller needs it on disk before it returns (an enqueue, a
    /// checkpoint). Others (leases, acks, retries) ride on the next durable
    /// commit: losing one in a crash only makes a job run again, which its
    /// checkpoint makes harmless.
    fn durable(&self) -> bool;
    /// Whether someone waits on it to answer (a webhook's enqueue): it is
    /// committed ahead of the other writes of its batch, in a transaction
    /// of its own kind.
    fn urgent(&self) -> bool;
    fn apply(&mut self, txn: &WriteTransaction) -> Result<(), redb::Error>;
    fn finish(self: Box<Self>, committed: Result<(), StoreFailure>);
}

pub(super) type OpResult<R> = Result<Result<R, QueueError>, redb::Error>;

struct Op<R, F> {
    durable: bool,
    urgent: bool,
    f: Option<F>,
    out: Option<Result<R, QueueError>>,
    tx: oneshot::Sender<Result<R, QueueError>>,
}

impl<R, F> WriteOp for Op<R, F>
where
    R: Send,
    F: FnOnce(&WriteTransaction) -> OpResult<R> + Send,
{
    fn durable(&self) -> bool {
        self.durable
    }

    fn urgent(&self) -> bool {
        self.urgent
    }

    fn apply(&mut self, txn: &WriteTransaction) -> Result<(), redb::Error> {
        if let Some(f) = self.f.take() {
            self.out = Some(f(txn)?);
        }
        Ok(())
    }

    fn finish(self: Box<Self>, committed: Result<(), StoreFailure>) {
        let result = match committed {
            Ok(()) => self
                .out
                .unwrap_or_else(|| Err(storage("the write was not applied"))),
            Err(e) => Err(QueueError::storage(e)),
        };
        let _ = self.tx.send(result);
    }
}

/// The file [`EmbeddedStore::probe`] writes and removes in the directory.
const PROBE_FILE: &str = ".ready-probe";

struct Inner {
    /// Queue names opened so far (leases are recovered on the first open only).
    opened: std::sync::Mutex<std::collections::HashSet<String>>,
    db: Arc<Database>,
    writes: Option<mpsc::Sender<Box<dyn WriteOp>>>,
    writer: Option<std::thread::JoinHandle<()>>,
    path: Option<PathBuf>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel stops the writer once it has committed what it
        // holds; joining it releases the file, so the directory can be opened
        // again right away.
        self.writes = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The embedded store: one `redb` file holding any number of named queues and
/// a dedup store. Cheap to clone. Only one process can open a directory at a
/// time (a second gets [`QueueError::Open`]).
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the store in a directory (created if missing).
    /// A database left by a crash is recovered; an unreadable or corrupt one is
    /// an [`QueueError::Open`] error naming the path.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, QueueError> {
        let dir = dir.as_ref();
        let path = dir.join(FILE_NAME);
        let open_err = |source: crate::queue::BoxError| QueueError::Open {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| QueueError::Open {
            path: dir.to_path_buf(),
            source: Box::new(e),
        })?;
        let mut db = Database::create(&path).map_err(|e| open_err(Box::new(e)))?;
        // The space pruned entries freed goes back to the file system now,
        // before the database is shared (redb reuses it meanwhile).
        maintenance::compact(&mut db);
        Self::start(db, Some(path.clone())).map_err(|e| open_err(Box::new(e)))
    }

    /// A store in memory: nothing survives the process (tests, demos).
    pub fn in_memory() -> Result<Self, QueueError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(storage)?;
        Self::start(db, None).map_err(storage)
    }

    fn start(db: Database, path: Option<PathBuf>) -> Result<Self, std::io::Error> {
        let db = Arc::new(db);
        let (tx, rx) = mpsc::channel::<Box<dyn WriteOp>>();
        let writer_db = db.clone();
        let writer = std::thread::Builder::new()
            .name("bridge-store-writer".into())
            .spawn(move || writer_loop(&writer_db, &rx))?;
        Ok(Self {
            inner: Arc::new(Inner {
                opened: std::sync::Mutex::default(),
                db,
                writes: Some(tx),
                writer: Some(writer),
                path,
            }),
        })
    }

    /// Whether this is the first time this store opens a queue of that name.
    fn first_open_of(&self, name: &str) -> bool {
        self.inner
            .opened
            .lock()
            .map(|mut s| s.insert(name.to_owned()))
            .unwrap_or(false)
    }

    /// The database file, when on disk.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// A named queue in this store, remembering completed keys for
    /// [`DEFAULT_RETENTION`].
    pub fn queue(&self, name: &str) -> Result<EmbeddedQueue, QueueError> {
        self.queue_with_retention(name, DEFAULT_RETENTION)
    }

    /// A named queue remembering completed keys for `retention`.
    pub fn queue_with_retention(
        &self,
        name: &str,
        retention: Duration,
    ) -> Result<EmbeddedQueue, QueueError> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(QueueError::Invalid(format!(
                "queue names are ASCII letters, digits, `-` and `_`, got {name:?}"
            )));
        }
        EmbeddedQueue::open(self.clone(), name, duration_ms(retention))
    }

    /// The dedup store in this database (its clock: the system clock).
    pub fn dedup(&self) -> EmbeddedDedupStore {
        let store = EmbeddedDedupStore::new(self.clone(), Arc::new(SystemClock));
        if self.first_open_of("\0dedup") {
            // Only this process can hold the store: claims still in flight
            // were made by a process that died. Void them, as the queue does
            // with its leases, so its work is redone at once.
            match store.void_claims() {
                Ok(0) => {}
                Ok(n) => tracing::info!(claims = n, "dedup claims of a previous process voided"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not void old dedup claims; they will expire");
                }
            }
        }
        store
    }

    /// What the bridge remembers of each customer (Contact matches, open
    /// Cases), in this database.
    pub fn customers(&self) -> EmbeddedCustomerStore {
        EmbeddedCustomerStore::new(self.clone())
    }

    /// The sent log in this database (for the fallback channel).
    pub fn sent_log(&self) -> EmbeddedSentLog {
        EmbeddedSentLog::new(self.clone())
    }

    /// The 24-hour window in this database: every customer's last inbound
    /// time (per business number), durable across restarts.
    pub fn window(&self) -> EmbeddedWindowTracker {
        EmbeddedWindowTracker::new(self.clone())
    }

    /// The opt-out registry in this database.
    pub fn opt_outs(&self) -> EmbeddedOptOutStore {
        EmbeddedOptOutStore::new(self.clone())
    }

    /// The Pub/Sub replay ids in this database (feature `pubsub`).
    #[cfg(feature = "pubsub")]
    pub fn replay_ids(&self) -> EmbeddedReplayStore {
        EmbeddedReplayStore::new(self.clone())
    }

    /// Checks that the store takes writes now (readiness): a small file is
    /// created, synced and removed in its directory (a directory made
    /// read-only, a full disk fail here, although the open database file
    /// might still take a write or two), then a commit goes through the
    /// writer.
    ///
    /// # Errors
    ///
    /// Either step failing, with the directory named.
    pub async fn probe(&self) -> Result<(), QueueError> {
        // `path` is the database file; the probe writes beside it.
        if let Some(dir) = self.inner.path.as_deref().and_then(Path::parent) {
            let dir = dir.to_path_buf();
            let checked = tokio::task::spawn_blocking(move || -> Result<(), String> {
                use std::io::Write;
                let file = dir.join(PROBE_FILE);
                let attempt = (|| {
                    let mut f = std::fs::File::create(&file)?;
                    f.write_all(b"ready")?;
                    f.sync_all()?;
                    std::fs::remove_file(&file)
                })();
                attempt.map_err(|e: std::io::Error| {
                    format!(
                        "the store's directory {} takes no writes: {e}",
                        dir.display()
                    )
                })
            })
            .await
            .map_err(storage)?;
            checked.map_err(storage)?;
        }
        self.write(|_txn| Ok(Ok(()))).await
    }

    /// A write that is on disk when it returns.
    pub(super) async fn write<R, F>(&self, f: F) -> Result<R, QueueError>
    where
        R: Send + 'static,
        F: FnOnce(&WriteTransaction) -> OpResult<R> + Send + 'static,
    {
        self.submit(true, false, f).await
    }

    /// A durable write someone waits on to answer (an enqueue): committed
    /// ahead of the background writes queued with it.
    pub(super) async fn write_urgent<R, F>(&self, f: F) -> Result<R, QueueError>
    where
        R: Send + 'static,
        F: FnOnce(&WriteTransaction) -> OpResult<R> + Send + 'static,
    {
        self.submit(true, true, f).await
    }

    /// A write that may be lost in a crash (made durable by the next durable one).
    async fn write_lazy<R, F>(&self, f: F) -> Result<R, QueueError>
    where
        R: Send + 'static,
        F: FnOnce(&WriteTransaction) -> OpResult<R> + Send + 'static,
    {
        self.submit(false, false, f).await
    }

    async fn submit<R, F>(&self, durable: bool, urgent: bool, f: F) -> Result<R, QueueError>
    where
        R: Send + 'static,
        F: FnOnce(&WriteTransaction) -> OpResult<R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let op = Box::new(Op {
            durable,
            urgent,
            f: Some(f),
            out: None,
            tx,
        });
        self.inner
            .writes
            .as_ref()
            .ok_or_else(|| storage("the store is closed"))?
            .send(op)
            .map_err(|_| storage("the store's writer has stopped"))?;
        rx.await
            .map_err(|_| storage("the store's writer has stopped"))?
    }

    pub(super) async fn read<R, F>(&self, f: F) -> Result<R, QueueError>
    where
        R: Send + 'static,
        F: FnOnce(&redb::ReadTransaction) -> Result<R, redb::Error> + Send + 'static,
    {
        let db = self.inner.db.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read().map_err(storage)?;
            f(&txn).map_err(storage)
        })
        .await
        .map_err(storage)?
    }
}

fn writer_loop(db: &Database, rx: &mpsc::Receiver<Box<dyn WriteOp>>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        // Writes someone waits on to answer go first, in their own commit:
        // a webhook's enqueue never waits for a burst of workers' writes.
        let (urgent, rest): (Vec<_>, Vec<_>) = batch.into_iter().partition(|op| op.urgent());
        for group in [urgent, rest] {
            if !group.is_empty() {
                commit(db, group);
            }
        }
    }
}

/// Applies a group of writes in one transaction and tells each how it went.
fn commit(db: &Database, mut batch: Vec<Box<dyn WriteOp>>) {
    let durable = batch.iter().any(|op| op.durable());
    let committed = (|| -> Result<(), redb::Error> {
        let mut txn = db.begin_write()?;
        if !durable {
            txn.set_durability(redb::Durability::None);
        }
        for op in &mut batch {
            op.apply(&txn)?;
        }
        txn.commit()?;
        Ok(())
    })()
    .map_err(|e| StoreFailure(e.to_string()));
    if let Err(e) = &committed {
        tracing::error!(error = %e, writes = batch.len(), "job store commit failed; nothing in this batch was written");
    }
    for op in batch {
        op.finish(committed.clone());
    }
}

mod customers;
mod dedup;
mod erase;
mod maintenance;
mod optout;
mod queue;
#[cfg(feature = "pubsub")]
mod replay;
mod sent;
mod window;

pub use customers::EmbeddedCustomerStore;
pub use dedup::EmbeddedDedupStore;
pub use maintenance::StoreUsage;
pub use optout::EmbeddedOptOutStore;
pub use queue::{EmbeddedQueue, MemoryQueue};
#[cfg(feature = "pubsub")]
pub use replay::EmbeddedReplayStore;
pub use sent::EmbeddedSentLog;
pub use window::EmbeddedWindowTracker;

#[cfg(test)]
mod erase_tests;
#[cfg(test)]
mod retention_tests;
#[cfg(test)]
mod tests;
