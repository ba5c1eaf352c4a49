//! A durable job queue for inbound events and outbound sends: the inbox and
//! the outbox of the bridge.
//!
//! The webhook endpoint answers Meta as soon as every event of a notification
//! is **durably enqueued**, never after the CRM work; workers then lease jobs,
//! do the work, and ack them. The contract every [`JobQueue`] keeps:
//!
//! - **Idempotent enqueue by key**: enqueuing a key that is queued, leased,
//!   dead-lettered or was completed within the retention is one job
//!   ([`Enqueued::Duplicate`]).
//! - **Leases with a visibility timeout**: a leased job is invisible to other
//!   workers until it is acked, nacked, dead-lettered, released, or its lease
//!   expires (a crashed worker's jobs come back). Every lease counts as an
//!   attempt. An ack, nack or checkpoint from a lease that expired and was
//!   taken by someone else fails with [`QueueError::LeaseLost`].
//! - **Per-group ordering**: jobs share a group (the customer): only the oldest
//!   unfinished job of a group can be leased, so one customer's messages are
//!   processed in arrival order and never concurrently; different groups run
//!   in parallel. A job waiting for a retry holds its group.
//! - **Retries and dead letters**: [`nack`](JobQueue::nack) schedules the next
//!   attempt; [`dead_letter`](JobQueue::dead_letter) sets the job aside with
//!   its last error, to [list](JobQueue::dead_letters),
//!   [replay](JobQueue::replay) or [purge](JobQueue::purge).
//! - **Checkpoints**: a worker can record progress (the record it wrote, the
//!   message id an API answered) durably before acking, so a job leased again
//!   after a crash does not redo an effect.
//!
//! Three implementations pass one public [`conformance`] suite:
//!
//! | store | durable | for |
//! |---|---|---|
//! | [`MemoryQueue`](crate::embedded::MemoryQueue) (feature `embedded`) | no | tests, demos |
//! | [`EmbeddedStore`](crate::embedded::EmbeddedStore) (feature `embedded`, on `redb`) | yes: an enqueue returns once fsynced | one instance, no server |
//! | `RedisQueue` in [`crate::redis`] (feature `redis`, Streams + consumer groups) | as durable as the server's AOF | many instances |
//!
//! [`Worker`] runs a [`JobHandler`] over a queue with bounded concurrency,
//! retries decided by a pure [`RetryPolicy`], and graceful shutdown.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), bridge_core::queue::QueueError> {
//! use std::time::Duration;
//! use bridge_core::clock::{Clock, SystemClock};
//! use bridge_core::embedded::MemoryQueue;
//! use bridge_core::queue::{Enqueued, JobQueue, NewJob};
//!
//! let queue = MemoryQueue::new("inbox")?;
//! let now = SystemClock.now();
//! let job = NewJob::new("wa:msg:wamid.1", "customer-14155550123", b"{}".to_vec());
//! assert!(matches!(queue.enqueue(job.clone(), now).await?, Enqueued::New(_)));
//! assert!(matches!(queue.enqueue(job, now).await?, Enqueued::Duplicate(_)));
//! let leases = queue.lease(10, Duration::from_secs(60), now).await?;
//! assert_eq!(leases.len(), 1);
//! queue.ack(&leases[0], now).await?;
//! assert_eq!(queue.stats(now).await?.depth, 0);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub mod conformance;
mod retry;
mod worker;

pub use crate::error::{BoxError, QueueError};
pub use crate::job_id::JobId;
pub use retry::{Decision, FailureClass, RetryPolicy, RetryState, decide};
pub(crate) use worker::UNNAMED;
pub use worker::{
    AUTH_RETRY_AFTER, JobContext, JobError, JobHandler, Worker, WorkerHandle, WorkerOptions,
};

/// A job to enqueue.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewJob {
    /// The idempotency key (the message id for inbound, a send key for outbound).
    pub key: String,
    /// The ordering group (the customer): jobs of one group run one at a time,
    /// in enqueue order.
    pub group: String,
    /// The payload (opaque bytes; the bridge stores JSON).
    pub payload: Vec<u8>,
}

impl NewJob {
    /// A job.
    pub fn new(key: impl Into<String>, group: impl Into<String>, payload: Vec<u8>) -> Self {
        Self {
            key: key.into(),
            group: group.into(),
            payload,
        }
    }

    /// Checks the arguments every store needs.
    pub fn validate(&self) -> Result<(), QueueError> {
        if self.key.is_empty() {
            return Err(QueueError::Invalid("the job key is empty".into()));
        }
        if self.key.len() > 512 || self.group.len() > 512 {
            return Err(QueueError::Invalid(
                "job keys and groups are at most 512 bytes".into(),
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for NewJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys and groups hold message ids and customer addresses: not printed.
        f.debug_struct("NewJob")
            .field("payload_bytes", &self.payload.len())
            .finish_non_exhaustive()
    }
}

/// The answer to an enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Enqueued {
    /// A new job.
    New(JobId),
    /// The key is already queued, in flight, dead-lettered or recently done.
    Duplicate(JobId),
}

impl Enqueued {
    /// The job id.
    pub fn id(&self) -> &JobId {
        match self {
            Enqueued::New(id) | Enqueued::Duplicate(id) => id,
        }
    }
}

/// A job as a worker sees it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Job {
    /// The id.
    pub id: JobId,
    /// The idempotency key.
    pub key: String,
    /// The ordering group.
    pub group: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// Attempts so far, this one included (1 on the first lease).
    pub attempts: u32,
    /// When it was enqueued.
    pub enqueued_at: DateTime<Utc>,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// Progress recorded by an earlier attempt ([`JobQueue::checkpoint`]).
    pub checkpoint: Option<Vec<u8>>,
}

impl Job {
    /// A job (store implementations make them).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: JobId,
        key: String,
        group: String,
        payload: Vec<u8>,
        attempts: u32,
        enqueued_at: DateTime<Utc>,
        last_error: Option<String>,
        checkpoint: Option<Vec<u8>>,
    ) -> Self {
        Self {
            id,
            key,
            group,
            payload,
            attempts,
            enqueued_at,
            last_error,
            checkpoint,
        }
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("attempts", &self.attempts)
            .field("enqueued_at", &self.enqueued_at)
            .field("payload_bytes", &self.payload.len())
            .field("has_checkpoint", &self.checkpoint.is_some())
            .finish_non_exhaustive()
    }
}

/// Proof of a lease: only its holder can ack, nack, checkpoint or release.
#[derive(Clone, PartialEq, Eq)]
pub struct LeaseToken(String);

impl LeaseToken {
    /// Wraps a token (store implementations make them).
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }
    /// The token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LeaseToken(..)")
    }
}

/// A leased job.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lease {
    /// The job.
    pub job: Job,
    /// The proof of the lease.
    pub token: LeaseToken,
}

impl Lease {
    /// A lease (store implementations make them).
    pub fn new(job: Job, token: LeaseToken) -> Self {
        Self { job, token }
    }
}

/// A dead-lettered job.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The job, as it was on its last attempt.
    pub job: Job,
    /// Why it was set aside.
    pub error: String,
    /// When.
    pub died_at: DateTime<Utc>,
}

impl DeadLetter {
    /// A dead letter (store implementations make them).
    pub fn new(job: Job, error: String, died_at: DateTime<Utc>) -> Self {
        Self {
            job,
            error,
            died_at,
        }
    }
}

/// Counters of a queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStats {
    /// Jobs waiting (ready, scheduled for a retry, or behind another job of
    /// their group).
    pub depth: u64,
    /// Jobs under a live lease.
    pub in_flight: u64,
    /// Retries scheduled since the store was created.
    pub retries: u64,
    /// Dead letters held.
    pub dead_letters: u64,
    /// Age of the oldest waiting or in-flight job.
    pub oldest_age: Option<Duration>,
}

impl QueueStats {
    /// Sets the queue's gauges (`bridge_queue_*`, see [`crate::metrics`]).
    /// `queue` and `store` are labels: short, fixed names (`inbox`,
    /// `embedded`), never data.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub fn record_metrics(&self, queue: &str, store: &str) {
        #[cfg(feature = "metrics")]
        {
            use crate::metrics::{
                QUEUE_DEAD_LETTERS, QUEUE_DEPTH, QUEUE_IN_FLIGHT, QUEUE_OLDEST_AGE_SECONDS,
                QUEUE_RETRIES,
            };
            let (q, st) = (queue.to_owned(), store.to_owned());
            metrics::gauge!(QUEUE_DEPTH, "queue" => q.clone(), "store" => st.clone())
                .set(self.depth as f64);
            metrics::gauge!(QUEUE_IN_FLIGHT, "queue" => q.clone(), "store" => st.clone())
                .set(self.in_flight as f64);
            metrics::gauge!(QUEUE_OLDEST_AGE_SECONDS, "queue" => q.clone(), "store" => st.clone())
                .set(self.oldest_age.map_or(0.0, |a| a.as_secs_f64()));
            metrics::counter!(QUEUE_RETRIES, "queue" => q.clone(), "store" => st.clone())
                .absolute(self.retries);
            metrics::gauge!(QUEUE_DEAD_LETTERS, "queue" => q, "store" => st)
                .set(self.dead_letters as f64);
        }
    }
}

/// A durable job queue. See the [module docs](self) for the contract;
/// [`conformance::run`] checks it. Time is passed in (`now`), so stores never
/// read the wall clock themselves.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Enqueues a job, idempotently by key. Returns only once the job is as
    /// durable as the store makes anything.
    async fn enqueue(&self, job: NewJob, now: DateTime<Utc>) -> Result<Enqueued, QueueError>;

    /// Leases up to `max` jobs that are due, for `visibility`.
    async fn lease(
        &self,
        max: usize,
        visibility: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Lease>, QueueError>;

    /// Records progress for a later attempt to see ([`Job::checkpoint`]).
    async fn checkpoint(&self, lease: &Lease, data: &[u8]) -> Result<(), QueueError>;

    /// Completes a job. Its key is remembered for the queue's retention.
    async fn ack(&self, lease: &Lease, now: DateTime<Utc>) -> Result<(), QueueError>;

    /// Fails an attempt: the job becomes due again at `retry_at`, still
    /// holding its group.
    async fn nack(
        &self,
        lease: &Lease,
        retry_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), QueueError>;

    /// Sets a job aside with its error; its group moves on.
    async fn dead_letter(
        &self,
        lease: &Lease,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), QueueError>;

    /// Gives a job back without counting the attempt (graceful shutdown).
    async fn release(&self, lease: &Lease, now: DateTime<Utc>) -> Result<(), QueueError>;

    /// Keeps a lease alive for another `visibility` from `now` (workers call it
    /// while a job runs, so the visibility timeout can be short and a dead
    /// worker's jobs come back quickly). The default does nothing: the job
    /// then reappears when its first visibility ends.
    async fn extend(
        &self,
        lease: &Lease,
        visibility: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), QueueError> {
        let _ = (lease, visibility, now);
        Ok(())
    }

    /// Up to `limit` dead letters, oldest first.
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError>;

    /// Puts a dead letter back in the queue (attempts reset, at the end of its
    /// group). `NotFound` when it is not a dead letter.
    async fn replay(&self, id: &JobId, now: DateTime<Utc>) -> Result<(), QueueError>;

    /// Deletes one dead letter, or all with `None`; returns how many. Their
    /// keys stay remembered for the retention, so a redelivery does not bring
    /// them back.
    async fn purge(&self, id: Option<&JobId>, now: DateTime<Utc>) -> Result<u64, QueueError>;

    /// The counters.
    async fn stats(&self, now: DateTime<Utc>) -> Result<QueueStats, QueueError>;

    /// Checks that the store takes writes now, without changing any job
    /// (for readiness probes). The default says yes: a store that can fail
    /// to take writes should check.
    async fn probe(&self) -> Result<(), QueueError> {
        Ok(())
    }

    /// The store's kind as a short fixed name (`embedded`, `redis`), for
    /// metrics labels. The default is `custom`.
    fn backend(&self) -> &'static str {
        "custom"
    }

    /// Removes what the queue no longer needs at `now`, all of it (stores
    /// also prune a few entries on each write): completed keys whose
    /// retention ended, and dead letters older than
    /// [`Retention::dead_letters`] (purged: their keys are remembered for
    /// the queue's retention, so a redelivery does not bring them back).
    /// Run it on a schedule ([`Retention::every`]); [`conformance::run`]
    /// checks it.
    async fn prune(&self, now: DateTime<Utc>, retention: &Retention) -> Result<Pruned, QueueError>;

    /// Removes every job that mentions the customer (its group, key,
    /// payload or checkpoint; waiting, leased or dead: the group's next job
    /// becomes due) and forgets the completed keys that do (see
    /// [`crate::erase`]). Returns (jobs, keys) removed.
    async fn erase_customer(
        &self,
        customer: &crate::erase::Customer,
    ) -> Result<(u64, u64), QueueError>;
}

/// How long what the bridge keeps is kept (see [`JobQueue::prune`] and
/// `EmbeddedStore::maintain`). Completed keys are kept for the queue's own
/// retention ([`DEFAULT_RETENTION`] unless opened with another), dedup keys
/// for `BridgeOptions::remember_for`, windows until they close.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// Dead letters older than this are purged (default 30 days; `None`:
    /// kept until purged by hand).
    pub dead_letters: Option<Duration>,
    /// How often a service prunes (default hourly).
    pub every: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            dead_letters: Some(Duration::from_secs(30 * 24 * 3600)),
            every: Duration::from_secs(3600),
        }
    }
}

impl Retention {
    /// Sets how long dead letters are kept (`None`: until purged by hand).
    pub fn dead_letters(mut self, keep: Option<Duration>) -> Self {
        self.dead_letters = keep;
        self
    }

    /// Sets how often a service prunes.
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every;
        self
    }

    /// The death time before which dead letters are purged at `now`.
    pub fn dead_letters_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let keep = chrono::Duration::from_std(self.dead_letters?).ok()?;
        now.checked_sub_signed(keep)
    }
}

/// What a prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pruned {
    /// Completed keys forgotten.
    pub completed_keys: u64,
    /// Dead letters purged.
    pub dead_letters: u64,
    /// Entries of other stores (dedup keys, closed windows, sent-log
    /// entries, expired customer records).
    pub other: u64,
}

impl std::ops::AddAssign for Pruned {
    fn add_assign(&mut self, o: Self) {
        self.completed_keys += o.completed_keys;
        self.dead_letters += o.dead_letters;
        self.other += o.other;
    }
}

/// How long a completed key is remembered by default: Meta redelivers for up
/// to 7 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(8 * 24 * 3600);

#[cfg_attr(not(any(feature = "embedded", feature = "redis")), allow(dead_code))]
pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

#[cfg_attr(not(any(feature = "embedded", feature = "redis")), allow(dead_code))]
pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg_attr(not(any(feature = "embedded", feature = "redis")), allow(dead_code))]
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
