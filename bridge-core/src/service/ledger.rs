//! The ledger queue: the outbox and the status handler enqueue ledger
//! entries (an outbound message, a delivery status) durably and move on; one
//! worker leases them by the hundred, waits a moment for company, and writes
//! them with one [`write_ledger`](crate::writer::RecordWriter::write_ledger)
//! call. No send waits for a CRM call, and a burst of statuses is a few calls.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::outbox::Enqueuer;
use crate::clock::Clock;
use crate::ledger::LedgerEntry;
use crate::queue::{FailureClass, JobQueue, Lease, QueueError, RetryPolicy};
use crate::writer::RecordWriter;

/// How the ledger worker batches.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LedgerOptions {
    /// Entries per write (default 1,000: five collections, one call).
    pub max_batch: usize,
    /// How long a batch that is not full waits for more entries (default
    /// 1 s): the write of a status is at most this late, and a trickle of
    /// events shares calls.
    pub linger: Duration,
    /// How long a leased batch stays hidden from other instances (default
    /// 30 s; it must outlast `linger` and one write).
    pub visibility: Duration,
    /// How often an idle worker looks for work without a wake-up (default 1 s).
    pub idle_poll: Duration,
    /// Retries of a failed write.
    pub retry: RetryPolicy,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        Self {
            max_batch: 1_000,
            linger: Duration::from_secs(1),
            visibility: Duration::from_secs(30),
            idle_poll: Duration::from_secs(1),
            retry: RetryPolicy::new(20, Duration::from_secs(1), Duration::from_secs(300)),
        }
    }
}

impl LedgerOptions {
    /// How long a batch waits for company.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// How long a leased batch stays hidden (a dead instance's batch comes
    /// back to another one after this).
    pub fn visibility(mut self, visibility: Duration) -> Self {
        self.visibility = visibility;
        self
    }

    /// How often an idle worker polls.
    pub fn idle_poll(mut self, poll: Duration) -> Self {
        self.idle_poll = poll;
        self
    }
}

/// The enqueue side: a durable put, no CRM call.
#[derive(Clone)]
pub(super) struct LedgerQueue {
    pub(super) q: Enqueuer,
}

impl std::fmt::Debug for LedgerQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerQueue").finish_non_exhaustive()
    }
}

impl LedgerQueue {
    /// Enqueues an entry (idempotently: the same entry twice is one job).
    pub(super) async fn put(&self, entry: &LedgerEntry) -> Result<(), QueueError> {
        // A whole record (it has a direction) and a bare status are distinct
        // jobs even when they carry the same status: a `sent` status that
        // beat the send's own record must not swallow that record.
        let what = match (entry.direction, entry.status) {
            (Some(_), _) | (None, None) => "record",
            (None, Some(s)) => s.as_str(),
        };
        let key = format!("ledger:{}:{what}", entry.key);
        // One group per ledger record: its entries are written in order.
        self.q
            .put(&key, format!("ledger:{}", entry.key), entry)
            .await?;
        Ok(())
    }
}

/// The running ledger worker.
#[derive(Debug)]
pub(super) struct LedgerWorker {
    stop: watch::Sender<bool>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl LedgerWorker {
    pub(super) fn spawn(
        queue: Arc<dyn JobQueue>,
        writer: Arc<dyn RecordWriter>,
        statuses: Option<Arc<dyn crate::dedup::DedupStore>>,
        options: LedgerOptions,
        clock: Arc<dyn Clock>,
        waker: Arc<Notify>,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(queue, writer, statuses, options, clock, waker, stopped));
        Self {
            stop,
            task: tokio::sync::Mutex::new(Some(task)),
        }
    }

    /// Stops after the batch in hand (its leases are released or expire).
    pub(super) async fn shutdown(&self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

async fn run(
    queue: Arc<dyn JobQueue>,
    writer: Arc<dyn RecordWriter>,
    statuses: Option<Arc<dyn crate::dedup::DedupStore>>,
    options: LedgerOptions,
    clock: Arc<dyn Clock>,
    waker: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
) {
    let max = options.max_batch.max(1);
    while !*stopped.borrow() {
        let mut leases = match queue.lease(max, options.visibility, clock.now()).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "the ledger queue could not be read; trying again");
                Vec::new()
            }
        };
        if leases.is_empty() {
            tokio::select! {
                () = waker.notified() => {}
                () = tokio::time::sleep(options.idle_poll) => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        if leases.len() < max && !options.linger.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(options.linger) => {}
                _ = stopped.changed() => {}
            }
            if let Ok(more) = queue
                .lease(max - leases.len(), options.visibility, clock.now())
                .await
            {
                leases.extend(more);
            }
        }
        write(
            &*queue,
            &*writer,
            statuses.as_deref(),
            &options,
            &*clock,
            leases,
        )
        .await;
    }
}

/// Writes a batch and settles each job: acked, retried later, or set aside.
async fn write(
    queue: &dyn JobQueue,
    writer: &dyn RecordWriter,
    statuses: Option<&dyn crate::dedup::DedupStore>,
    options: &LedgerOptions,
    clock: &dyn Clock,
    leases: Vec<Lease>,
) {
    let mut entries = Vec::with_capacity(leases.len());
    let mut kept = Vec::with_capacity(leases.len());
    for lease in leases {
        match serde_json::from_slice::<LedgerEntry>(&lease.job.payload) {
            Ok(e) => {
                entries.push(e);
                kept.push(lease);
            }
            Err(e) => {
                let why = format!("the ledger entry does not parse: {e}");
                if let Err(e) = queue.dead_letter(&lease, &why, clock.now()).await {
                    tracing::warn!(error = %e, "could not set a bad ledger entry aside");
                }
            }
        }
    }
    if entries.is_empty() {
        return;
    }
    // A status never goes back: a send's own record (`Sent`) queued after
    // its `delivered` status (statuses race the send's write) is written
    // without its status. Bare status entries were checked when queued.
    if let Some(statuses) = statuses {
        for e in &mut entries {
            if let Some(status) = e.status
                && e.direction.is_some()
                && super::later_status_recorded(statuses, &e.key, status).await
            {
                e.status = None;
                e.status_at = None;
            }
        }
    }
    tracing::debug!(entries = entries.len(), "writing ledger entries");
    let results = writer.write_ledger(&entries).await;
    let now = clock.now();
    for (lease, result) in kept.iter().zip(results) {
        let settled = match result {
            Ok(()) => queue.ack(lease, now).await,
            Err(e) => {
                let class = if e.is_retryable() {
                    FailureClass::Transient
                } else {
                    FailureClass::Permanent
                };
                let state =
                    crate::queue::RetryState::new(&lease.job.id, lease.job.attempts, class, now)
                        .with_retry_after(e.retry_after());
                match crate::queue::decide(&options.retry, &state) {
                    crate::queue::Decision::RetryAt(at) => {
                        queue.nack(lease, at, &e.to_string()).await
                    }
                    _ => {
                        tracing::warn!(error = %e, "a ledger entry could not be written: dead-lettered");
                        queue.dead_letter(lease, &e.to_string(), now).await
                    }
                }
            }
        };
        if let Err(e) = settled {
            tracing::warn!(error = %e, "a ledger job could not be settled; it comes back after its lease");
        }
    }
}
