//! The Redis job queue (feature `redis`): Redis Streams with a consumer group,
//! for many instances sharing one queue.
//!
//! Eleven fixed keys under `{<prefix><name>}:` (one hash tag: on a cluster
//! every key of a queue is in one slot): the jobs' fields (`jobs`, a hash of
//! `<id>:<field>`), the key index (`keys`) and the expiry of completed keys
//! (`done`), the groups' members in arrival order (`groups`, one sorted set
//! ordered by name), the stream of runnable group heads (`s`, consumer group
//! `w`), the id counter (`seq`), sorted sets of lease deadlines (`leases`),
//! scheduled retries (`retry`) and live jobs (`live`, by enqueue time), the
//! dead-letter stream (`dead`) and the retry counter (`retries`). Every
//! operation is one Lua script, so it is atomic, and every script is given
//! all eleven keys in `KEYS` and touches no other: what managed services
//! that refuse undeclared keys (ElastiCache Serverless) require.
//!
//! Only the oldest job of a group is ever in the stream, which gives
//! per-customer order across instances. A lease's deadline is kept in
//! `leases` in the caller's clock; a lease that ran out (its instance was
//! killed) is moved to the next consumer that leases, with `XCLAIM`, and the
//! old holder's ack is refused.
//!
//! Durability is Redis's: run it with `appendonly yes` (and `appendfsync
//! everysec` or `always`) for the queue to survive a Redis restart.

use std::time::Duration;

use crate::redis::RedisConnection;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::queue::{
    DEFAULT_RETENTION, DeadLetter, Enqueued, Job, JobId, JobQueue, Lease, LeaseToken, NewJob,
    Pruned, QueueError, QueueStats, Retention, duration_ms, from_millis, millis,
};

mod erase;
mod scripts;

use scripts::Scripts;

/// The queue's keys, in the order every script receives them in `KEYS`
/// (each under the queue's base, so all in one hash tag).
const KEY_NAMES: [&str; 11] = [
    "s", "jobs", "keys", "done", "groups", "seq", "leases", "retry", "live", "dead", "retries",
];

/// A job queue on Redis Streams (feature `redis`), shared by any number of
/// instances. Cheap to clone.
///
/// Eleven fixed keys under `{<prefix><name>}:` (one hash tag, one cluster
/// slot per queue: the jobs' fields in one hash, the groups in one sorted
/// set, the stream of runnable group heads...), every one declared to every
/// script. Every operation is one Lua script (atomic). Only the oldest job of a group
/// is in the stream, which keeps one customer's jobs in order across
/// instances; a lease that ran out (its instance died) is moved to the next
/// leaser with `XCLAIM`, and the old holder's ack is refused. Durability is
/// Redis's: run it with `appendonly yes`.
#[derive(Clone)]
pub struct RedisQueue {
    conn: RedisConnection,
    base: String,
    consumer: String,
    retention_ms: i64,
    scripts: std::sync::Arc<Scripts>,
    /// Replicas every enqueue and checkpoint waits for, and for how long.
    replicated: Option<(u32, Duration)>,
    /// Whether the primary has had fewer replicas than asked for (warned
    /// once, until it has them again).
    degraded: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// One `WAIT` at a time, shared by every write made before it.
    waits: std::sync::Arc<WaitGroup>,
}

/// Group `WAIT`: a `WAIT` answers for every write the connection made
/// before it, so concurrent writers share one instead of each sending their
/// own. This matters beyond the round trips: `WAIT` blocks the connection
/// it is sent on (shared by every command to that node) until the replicas
/// answer or its timeout passes, and the cluster client retries a command
/// that timed out, so forty writers each waiting on a primary that lost its
/// replica would hold the node's connection for forty timeouts and more.
#[derive(Debug, Default)]
pub(crate) struct WaitGroup {
    /// Counts writes that finished and want a `WAIT` (taken after the write).
    tickets: std::sync::atomic::AtomicU64,
    /// The last `WAIT`: the tickets it covered, and its error if it failed.
    last: tokio::sync::Mutex<(u64, Option<String>)>,
}

impl WaitGroup {
    /// Called after a write: runs `wait` unless a `WAIT` sent after the
    /// write already answered for it, and returns how that one ended.
    pub(crate) async fn share<F, Fut>(&self, wait: F) -> Result<(), QueueError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(), QueueError>>,
    {
        use std::sync::atomic::Ordering;
        // The write finished before the ticket is taken, so any `WAIT` sent
        // after that covers it.
        let ticket = self.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        let mut last = self.last.lock().await;
        if last.0 >= ticket {
            return match &last.1 {
                None => Ok(()),
                Some(e) => Err(QueueError::storage(e.clone())),
            };
        }
        let covers = self.tickets.load(Ordering::SeqCst);
        let outcome = wait().await;
        *last = (covers, outcome.as_ref().err().map(ToString::to_string));
        outcome
    }
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("base", &self.base)
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

fn storage(e: redis::RedisError) -> QueueError {
    QueueError::storage(e)
}

type LeaseRow = (
    String,
    String,
    i64,
    String,
    String,
    Vec<u8>,
    String,
    Option<String>,
    Option<Vec<u8>>,
);

type DeadRow = (
    String,
    String,
    String,
    Vec<u8>,
    i64,
    String,
    Option<String>,
    Option<Vec<u8>>,
    String,
);

impl RedisQueue {
    /// Connects (with automatic reconnection) to `redis://...`; the queue's
    /// keys live under `<prefix><name>:`.
    pub async fn connect(url: &str, prefix: &str, name: &str) -> Result<Self, QueueError> {
        let conn = crate::redis::connect(url)
            .await
            .map_err(|e| QueueError::storage(e.to_string()))?;
        Self::with_connection(conn, prefix, name).await
    }

    /// A queue over an existing connection.
    pub async fn with_connection(
        conn: impl Into<RedisConnection>,
        prefix: &str,
        name: &str,
    ) -> Result<Self, QueueError> {
        let mut conn = conn.into();
        // One hash tag for every key of the queue: its scripts run in one
        // slot of a cluster.
        let base = format!("{{{prefix}{name}}}:");
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(format!("{base}s"))
            .arg("w")
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        if let Err(e) = created
            && e.code() != Some("BUSYGROUP")
        {
            return Err(storage(e));
        }
        Ok(Self {
            conn,
            base,
            consumer: format!("c{:016x}", crate::dedup::random_token()),
            retention_ms: duration_ms(DEFAULT_RETENTION),
            scripts: std::sync::Arc::new(Scripts::new()),
            replicated: None,
            degraded: std::sync::Arc::default(),
            waits: std::sync::Arc::default(),
        })
    }

    /// The queue's stream: the key `WAIT` and `INFO` are routed by (every
    /// key of the queue is in its slot).
    fn anchor(&self) -> String {
        format!("{}s", self.base)
    }

    /// `script` with every key of the queue declared, in [`KEY_NAMES`]'s
    /// order: the scripts touch no other key.
    fn invoke<'a>(&self, script: &'a redis::Script) -> redis::ScriptInvocation<'a> {
        let mut inv = script.prepare_invoke();
        inv.keys_of(self);
        inv
    }

    /// Replicated acknowledgements: every enqueue and checkpoint returns
    /// only once `replicas` replicas of the queue's primary have it (Redis's
    /// `WAIT`, at most `timeout`), and fails (retryable) when fewer did, so
    /// a webhook is answered 500 and redelivered rather than acknowledged
    /// and lost in a failover (Redis replicates asynchronously). A primary
    /// with fewer replicas connected than asked for (after a failover, until
    /// a replica is rebuilt) is waited on for the ones it has, with a
    /// warning, rather than refusing every write. Costs one round trip to
    /// the replicas per write.
    pub fn wait_for_replicas(mut self, replicas: u32, timeout: Duration) -> Self {
        self.replicated = (replicas > 0).then_some((replicas, timeout));
        self
    }

    /// How many replicas the queue's primary has connected now (to decide
    /// [`wait_for_replicas`](Self::wait_for_replicas)).
    pub async fn replicas(&self) -> Result<u32, QueueError> {
        self.conn.replicas_of(&self.anchor()).await.map_err(storage)
    }

    /// Waits for the replicas, when replicated acknowledgements are on.
    ///
    /// `WAIT` holds the connection it is sent on until the replicas answer
    /// or the timeout passes, so a primary known to have fewer replicas than
    /// asked for (after a failover, until a replica is rebuilt) is asked for
    /// the ones it has, found with a cheap `INFO` first, instead of making
    /// every write sit out the timeout.
    async fn replicate(&self) -> Result<(), QueueError> {
        if self.replicated.is_none() {
            return Ok(());
        }
        self.waits.share(|| self.wait_once()).await
    }

    /// One `WAIT` (see [`Self::replicate`]).
    async fn wait_once(&self) -> Result<(), QueueError> {
        use std::sync::atomic::Ordering;
        let Some((replicas, timeout)) = self.replicated else {
            return Ok(());
        };
        let mut wanted = replicas;
        if self.degraded.load(Ordering::Relaxed) {
            let connected = self
                .conn
                .replicas_of(&self.anchor())
                .await
                .map_err(storage)?;
            if connected >= replicas {
                self.degraded.store(false, Ordering::Relaxed);
                tracing::info!("the queue's primary has its replicas again");
            } else {
                wanted = connected;
            }
        }
        if wanted == 0 {
            return Ok(());
        }
        let acked = self
            .conn
            .wait_for_replicas(&self.anchor(), wanted, timeout)
            .await
            .map_err(storage)?;
        if acked >= wanted {
            return Ok(());
        }
        // Replicas that are connected but late are an error; a primary that
        // lost its replica (one was promoted in its place) is acknowledged by
        // the ones it has, with a warning, rather than refusing every write.
        let connected = self
            .conn
            .replicas_of(&self.anchor())
            .await
            .map_err(storage)?;
        if connected < wanted && acked >= connected {
            if !self.degraded.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    connected,
                    wanted = replicas,
                    "the queue's primary has fewer replicas than replicated acknowledgements want: writes are acknowledged by the ones it has"
                );
            }
            return Ok(());
        }
        Err(QueueError::storage(format!(
            "the write reached {acked} of {wanted} replicas within {timeout:?}; not acknowledged"
        )))
    }

    /// Remembers completed keys for `retention` (default [`DEFAULT_RETENTION`]).
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention_ms = duration_ms(retention).max(1);
        self
    }

    async fn finish(
        &self,
        script: &redis::Script,
        lease: &Lease,
        extra: &[Vec<u8>],
    ) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let mut inv = self.invoke(script);
        inv.arg(lease.job.id.as_str()).arg(lease.token.as_str());
        for a in extra {
            inv.arg(a.as_slice());
        }
        let r: i64 = inv.invoke_async(&mut conn).await.map_err(storage)?;
        if r < 0 {
            return Err(QueueError::LeaseLost {
                job: lease.job.id.clone(),
            });
        }
        Ok(())
    }
}

/// Declares a queue's keys on a script invocation.
trait KeysOf {
    fn keys_of(&mut self, q: &RedisQueue) -> &mut Self;
}

impl KeysOf for redis::ScriptInvocation<'_> {
    fn keys_of(&mut self, q: &RedisQueue) -> &mut Self {
        for name in KEY_NAMES {
            self.key(format!("{}{name}", q.base));
        }
        self
    }
}

fn parse_ms(s: &str) -> i64 {
    s.parse().unwrap_or_default()
}

#[async_trait]
impl JobQueue for RedisQueue {
    async fn enqueue(&self, job: NewJob, now: DateTime<Utc>) -> Result<Enqueued, QueueError> {
        job.validate()?;
        let mut conn = self.conn.clone();
        let (new, id): (i64, String) = self
            .scripts
            .enqueue
            .prepare_invoke()
            .keys_of(self)
            .arg(&job.key)
            .arg(&job.group)
            .arg(job.payload.as_slice())
            .arg(millis(now))
            .invoke_async(&mut conn)
            .await
            .map_err(storage)?;
        // A duplicate too: the first enqueue may have timed out waiting.
        self.replicate().await?;
        let id = JobId::new(id);
        Ok(if new == 1 {
            Enqueued::New(id)
        } else {
            Enqueued::Duplicate(id)
        })
    }

    async fn lease(
        &self,
        max: usize,
        visibility: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Lease>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let now = millis(now);
        let rows: Vec<LeaseRow> = self
            .scripts
            .lease
            .prepare_invoke()
            .keys_of(self)
            .arg(&self.consumer)
            .arg(max)
            .arg(now.saturating_add(duration_ms(visibility).max(1)))
            .arg(now)
            .arg(format!("{:016x}", crate::dedup::random_token()))
            .invoke_async(&mut conn)
            .await
            .map_err(storage)?;
        Ok(rows
            .into_iter()
            .map(|(id, token, attempts, key, group, payload, enq, err, cp)| {
                let job = Job::new(
                    JobId::new(id),
                    key,
                    group,
                    payload,
                    u32::try_from(attempts).unwrap_or(u32::MAX),
                    from_millis(parse_ms(&enq)),
                    err,
                    cp,
                );
                Lease::new(job, LeaseToken::new(token))
            })
            .collect())
    }

    async fn checkpoint(&self, lease: &Lease, data: &[u8]) -> Result<(), QueueError> {
        self.finish(&self.scripts.checkpoint, lease, &[data.to_vec()])
            .await?;
        self.replicate().await
    }

    async fn ack(&self, lease: &Lease, now: DateTime<Utc>) -> Result<(), QueueError> {
        let retain = self.retention_ms.to_string().into_bytes();
        let now = millis(now).to_string().into_bytes();
        self.finish(&self.scripts.ack, lease, &[retain, now]).await
    }

    async fn nack(
        &self,
        lease: &Lease,
        retry_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), QueueError> {
        let at = millis(retry_at).to_string().into_bytes();
        self.finish(&self.scripts.nack, lease, &[at, error.as_bytes().to_vec()])
            .await
    }

    async fn dead_letter(
        &self,
        lease: &Lease,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), QueueError> {
        let now = millis(now).to_string().into_bytes();
        self.finish(&self.scripts.dead, lease, &[error.as_bytes().to_vec(), now])
            .await
    }

    async fn release(&self, lease: &Lease, _now: DateTime<Utc>) -> Result<(), QueueError> {
        self.finish(&self.scripts.release, lease, &[]).await
    }

    async fn extend(
        &self,
        lease: &Lease,
        visibility: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), QueueError> {
        let until = millis(now)
            .saturating_add(duration_ms(visibility).max(1))
            .to_string()
            .into_bytes();
        self.finish(&self.scripts.extend, lease, &[until]).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let mut conn = self.conn.clone();
        let rows: Vec<DeadRow> = self
            .scripts
            .dead_list
            .prepare_invoke()
            .keys_of(self)
            .arg(limit.max(1))
            .invoke_async(&mut conn)
            .await
            .map_err(storage)?;
        Ok(rows
            .into_iter()
            .map(|(id, key, group, payload, attempts, enq, err, cp, dead)| {
                let error = err.clone().unwrap_or_default();
                let job = Job::new(
                    JobId::new(id),
                    key,
                    group,
                    payload,
                    u32::try_from(attempts).unwrap_or(0),
                    from_millis(parse_ms(&enq)),
                    err,
                    cp,
                );
                DeadLetter::new(job, error, from_millis(parse_ms(&dead)))
            })
            .collect())
    }

    async fn replay(&self, id: &JobId, _now: DateTime<Utc>) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let r: i64 = self
            .scripts
            .replay
            .prepare_invoke()
            .keys_of(self)
            .arg(id.as_str())
            .invoke_async(&mut conn)
            .await
            .map_err(storage)?;
        if r < 0 {
            return Err(QueueError::NotFound { job: id.clone() });
        }
        Ok(())
    }

    async fn purge(&self, id: Option<&JobId>, now: DateTime<Utc>) -> Result<u64, QueueError> {
        let mut conn = self.conn.clone();
        let r: i64 = self
            .scripts
            .purge
            .prepare_invoke()
            .keys_of(self)
            .arg(id.map_or("", JobId::as_str))
            .arg(self.retention_ms)
            .arg(millis(now))
            .invoke_async(&mut conn)
            .await
            .map_err(storage)?;
        match (r, id) {
            (n, Some(id)) if n < 0 => Err(QueueError::NotFound { job: id.clone() }),
            (n, _) => Ok(u64::try_from(n).unwrap_or(0)),
        }
    }

    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn erase_customer(
        &self,
        customer: &crate::erase::Customer,
    ) -> Result<(u64, u64), QueueError> {
        self.erase(customer).await
    }

    async fn prune(&self, now: DateTime<Utc>, retention: &Retention) -> Result<Pruned, QueueError> {
        const LIMIT: u64 = 1_000;
        let before = retention
            .dead_letters_before(now)
            .map_or_else(String::new, |t| millis(t).to_string());
        let mut total = Pruned::default();
        loop {
            let mut conn = self.conn.clone();
            let (forgot, purged): (u64, u64) = self
                .scripts
                .prune
                .prepare_invoke()
                .keys_of(self)
                .arg(millis(now))
                .arg(&before)
                .arg(self.retention_ms)
                .arg(LIMIT)
                .invoke_async(&mut conn)
                .await
                .map_err(storage)?;
            total.completed_keys += forgot;
            total.dead_letters += purged;
            if forgot < LIMIT && purged < LIMIT {
                return Ok(total);
            }
        }
    }

    async fn probe(&self) -> Result<(), QueueError> {
        // A write to a key of the queue's own slot (the node that holds the
        // queue), gone a minute later.
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(format!("{}probe", self.base))
            .arg(1)
            .arg("PX")
            .arg(60_000)
            .query_async::<()>(&mut conn)
            .await
            .map_err(storage)
    }

    async fn stats(&self, now: DateTime<Utc>) -> Result<QueueStats, QueueError> {
        let mut conn = self.conn.clone();
        let now = millis(now);
        let (live, leased, retries, dead, oldest): (u64, u64, u64, u64, Option<String>) = self
            .scripts
            .stats
            .prepare_invoke()
            .keys_of(self)
            .arg(now)
            .invoke_async(&mut conn)
            .await
            .map_err(storage)?;
        Ok(QueueStats {
            depth: live.saturating_sub(leased),
            in_flight: leased,
            retries,
            dead_letters: dead,
            oldest_age: oldest.map(|o| {
                Duration::from_millis(u64::try_from(now.saturating_sub(parse_ms(&o))).unwrap_or(0))
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Forty writers finishing together share the `WAIT`s: the first runs
    /// one, the rest (all written before the second starts) share a second,
    /// instead of forty `WAIT`s holding the node's connection one after
    /// another (each for its whole timeout on a primary that lost its
    /// replica).
    #[tokio::test(start_paused = true)]
    async fn concurrent_writes_share_their_waits() {
        let group = Arc::new(WaitGroup::default());
        let waits = Arc::new(AtomicU32::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..40 {
            let (group, waits) = (group.clone(), waits.clone());
            tasks.spawn(async move {
                group
                    .share(|| async {
                        waits.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        Ok(())
                    })
                    .await
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap().unwrap();
        }
        assert_eq!(waits.load(Ordering::SeqCst), 2);
        // A write after those gets a `WAIT` of its own.
        group
            .share(|| async {
                waits.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(waits.load(Ordering::SeqCst), 3);
    }

    /// A failed `WAIT` fails every write it answered for.
    #[tokio::test(start_paused = true)]
    async fn a_failed_wait_fails_the_writes_it_covered() {
        let group = Arc::new(WaitGroup::default());
        let first = {
            let group = group.clone();
            tokio::spawn(async move {
                group
                    .share(|| async {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        Ok(())
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        let mut later = tokio::task::JoinSet::new();
        for _ in 0..3 {
            let group = group.clone();
            later.spawn(async move {
                group
                    .share(|| async { Err(QueueError::storage("reached 0 of 1 replicas")) })
                    .await
            });
        }
        first.await.unwrap().unwrap();
        while let Some(r) = later.join_next().await {
            let e = r.unwrap().unwrap_err();
            assert!(e.to_string().contains("0 of 1 replicas"), "{e}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_queue_passes_the_behaviour_suite() {
        for url in crate::redis::test_urls() {
            let name = format!("conformance{:x}", crate::dedup::random_token());
            let q = RedisQueue::connect(&url, "wa-sf:test:", &name)
                .await
                .unwrap();
            crate::queue::conformance::run(
                Arc::new(q),
                &crate::clock::ManualClock::new(chrono::Utc::now()),
            )
            .await;
        }
    }

    /// Replicated acknowledgements: on the cluster (a replica per primary)
    /// an enqueue waits for its replica and succeeds; on the lone node
    /// (no replica connected) the write is acknowledged by the primary
    /// alone, with a warning (later writes ask the primary how many it has
    /// instead of sitting out the timeout).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replicated_enqueues_wait_for_a_replica_or_fail() {
        let [single, cluster] = <[String; 2]>::try_from(crate::redis::test_urls())
            .unwrap_or_else(|_| panic!("two Redis URLs"));
        let name = format!("replicated{:x}", crate::dedup::random_token());
        let job = || NewJob::new("k1", "g1", b"payload".to_vec());
        let q = RedisQueue::connect(&cluster, "wa-sf:test:", &name)
            .await
            .unwrap();
        assert!(
            q.replicas().await.unwrap() >= 1,
            "the test cluster has replicas"
        );
        let q = q.wait_for_replicas(1, Duration::from_secs(2));
        assert!(matches!(
            q.enqueue(job(), Utc::now()).await,
            Ok(Enqueued::New(_))
        ));
        assert!(matches!(
            q.enqueue(job(), Utc::now()).await,
            Ok(Enqueued::Duplicate(_))
        ));
        let lone = RedisQueue::connect(&single, "wa-sf:test:", &name)
            .await
            .unwrap();
        assert_eq!(lone.replicas().await.unwrap(), 0);
        let lone = lone.wait_for_replicas(1, Duration::from_millis(200));
        assert!(lone.enqueue(job(), Utc::now()).await.is_ok());
        for i in 0..5 {
            let again = NewJob::new(format!("k{}", i + 2), "g1", b"payload".to_vec());
            assert!(matches!(
                lone.enqueue(again, Utc::now()).await,
                Ok(Enqueued::New(_))
            ));
        }
    }
}
