//! The Redis job queue (feature `redis`): Redis Streams with a consumer group,
//! for many instances sharing one queue.
//!
//! Layout under `{<prefix><name>}:` (one hash tag: on a cluster every key
//! of a queue is in one slot, and each script declares the queue's stream
//! as its key): a hash per job (`j:<id>`), the key index
//! (`k:<key>`), a list per group (`g:<group>`, arrival order), the stream of
//! runnable group heads (`s`, consumer group `w`), a sorted set of lease
//! deadlines (`leases`), of scheduled retries (`retry`) and of live jobs
//! (`live`, by enqueue time), and the dead-letter stream (`dead`). Every
//! operation is one Lua script, so it is atomic.
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

use crate::redis_conn::RedisConnection;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    DEFAULT_RETENTION, DeadLetter, Enqueued, Job, JobId, JobQueue, Lease, LeaseToken, NewJob,
    QueueError, QueueStats, duration_ms, from_millis, millis,
};

/// Checks the lease (`ARGV[1]` base, `ARGV[2]` id, `ARGV[3]` token) and
/// defines the helpers the finishing scripts share.
const HELD: &str = r"
local b = ARGV[1]
local id = ARGV[2]
local j = b..'j:'..id
local s = b..'s'
if redis.call('HGET', j, 'lease') ~= ARGV[3] or redis.call('HEXISTS', j, 'dead') == 1 then
  return -1
end
local function unstream()
  local entry = redis.call('HGET', j, 'entry')
  if entry then
    redis.call('XACK', s, 'w', entry)
    redis.call('XDEL', s, entry)
  end
  redis.call('HDEL', j, 'entry', 'lease')
  redis.call('ZREM', b..'leases', id)
end
local function advance(group)
  redis.call('LREM', b..'g:'..group, 1, id)
  local nxt = redis.call('LINDEX', b..'g:'..group, 0)
  if nxt then
    local e = redis.call('XADD', s, '*', 'id', nxt)
    redis.call('HSET', b..'j:'..nxt, 'entry', e)
  end
end
";

const ENQUEUE: &str = r"
local b = ARGV[1]
local existing = redis.call('GET', b..'k:'..ARGV[2])
if existing then return {0, existing} end
local id = tostring(redis.call('INCR', b..'seq'))
local j = b..'j:'..id
redis.call('HSET', j, 'key', ARGV[2], 'group', ARGV[3], 'payload', ARGV[4], 'attempts', 0, 'enq', ARGV[5])
redis.call('SET', b..'k:'..ARGV[2], id)
redis.call('ZADD', b..'live', ARGV[5], id)
redis.call('RPUSH', b..'g:'..ARGV[3], id)
if redis.call('LLEN', b..'g:'..ARGV[3]) == 1 then
  local e = redis.call('XADD', b..'s', '*', 'id', id)
  redis.call('HSET', j, 'entry', e)
end
return {1, id}
";

/// `ARGV`: base, consumer, max, lease deadline, now, token prefix.
const LEASE: &str = r"
local b = ARGV[1]
local s = b..'s'
local max = tonumber(ARGV[3])
local now = tonumber(ARGV[5])
local due = redis.call('ZRANGEBYSCORE', b..'retry', '-inf', now, 'LIMIT', 0, 256)
for _, id in ipairs(due) do
  redis.call('ZREM', b..'retry', id)
  local e = redis.call('XADD', s, '*', 'id', id)
  redis.call('HSET', b..'j:'..id, 'entry', e)
end
local out = {}
local function take(id, entry)
  local j = b..'j:'..id
  if redis.call('HGET', j, 'entry') ~= entry or redis.call('HEXISTS', j, 'dead') == 1 then
    redis.call('XACK', s, 'w', entry)
    redis.call('XDEL', s, entry)
    return
  end
  local attempts = redis.call('HINCRBY', j, 'attempts', 1)
  local token = ARGV[6]..':'..id..':'..attempts
  redis.call('HSET', j, 'lease', token)
  redis.call('ZADD', b..'leases', ARGV[4], id)
  local f = redis.call('HMGET', j, 'key', 'group', 'payload', 'enq', 'err', 'cp')
  table.insert(out, {id, token, attempts, f[1], f[2], f[3], f[4], f[5], f[6]})
end
local stale = redis.call('ZRANGEBYSCORE', b..'leases', '-inf', now, 'LIMIT', 0, max)
for _, id in ipairs(stale) do
  redis.call('ZREM', b..'leases', id)
  local entry = redis.call('HGET', b..'j:'..id, 'entry')
  if entry then
    redis.call('XCLAIM', s, 'w', ARGV[2], 0, entry, 'JUSTID')
    take(id, entry)
  end
end
if #out < max then
  local r = redis.call('XREADGROUP', 'GROUP', 'w', ARGV[2], 'COUNT', max - #out, 'STREAMS', s, '>')
  if r then
    for _, e in ipairs(r[1][2]) do take(e[2][2], e[1]) end
  end
end
return out
";

const CHECKPOINT: &str = "redis.call('HSET', j, 'cp', ARGV[4]) return 1";

/// `ARGV[4]`: the new lease deadline.
const EXTEND: &str = "redis.call('ZADD', b..'leases', ARGV[4], id) return 1";

/// `ARGV[4]`: retention in ms.
const ACK: &str = r"
local key = redis.call('HGET', j, 'key')
local group = redis.call('HGET', j, 'group')
unstream()
redis.call('DEL', j)
redis.call('ZREM', b..'live', id)
redis.call('SET', b..'k:'..key, id, 'PX', ARGV[4])
advance(group)
return 1
";

/// `ARGV[4]`: retry time, `ARGV[5]`: error.
const NACK: &str = r"
unstream()
redis.call('HSET', j, 'err', ARGV[5])
redis.call('ZADD', b..'retry', ARGV[4], id)
redis.call('INCR', b..'retries')
return 1
";

/// `ARGV[4]`: error, `ARGV[5]`: now.
const DEAD: &str = r"
local group = redis.call('HGET', j, 'group')
unstream()
redis.call('HSET', j, 'err', ARGV[4], 'dead', ARGV[5])
local d = redis.call('XADD', b..'dead', '*', 'id', id)
redis.call('HSET', j, 'dentry', d)
redis.call('ZREM', b..'live', id)
advance(group)
return 1
";

const RELEASE: &str = r"
unstream()
redis.call('HINCRBY', j, 'attempts', -1)
local e = redis.call('XADD', s, '*', 'id', id)
redis.call('HSET', j, 'entry', e)
return 1
";

/// `ARGV`: base, id.
const REPLAY: &str = r"
local b = ARGV[1]
local id = ARGV[2]
local j = b..'j:'..id
if redis.call('HEXISTS', j, 'dead') == 0 then return -1 end
local d = redis.call('HGET', j, 'dentry')
if d then redis.call('XDEL', b..'dead', d) end
redis.call('HDEL', j, 'dead', 'dentry')
redis.call('HSET', j, 'attempts', 0)
local f = redis.call('HMGET', j, 'group', 'enq')
redis.call('ZADD', b..'live', f[2], id)
redis.call('RPUSH', b..'g:'..f[1], id)
if redis.call('LLEN', b..'g:'..f[1]) == 1 then
  local e = redis.call('XADD', b..'s', '*', 'id', id)
  redis.call('HSET', j, 'entry', e)
end
return 1
";

/// `ARGV`: base, id (empty: all), retention in ms.
const PURGE: &str = r"
local b = ARGV[1]
local ids = {}
if ARGV[2] ~= '' then
  if redis.call('HEXISTS', b..'j:'..ARGV[2], 'dead') == 0 then return -1 end
  ids = {ARGV[2]}
else
  for _, e in ipairs(redis.call('XRANGE', b..'dead', '-', '+')) do table.insert(ids, e[2][2]) end
end
local n = 0
for _, id in ipairs(ids) do
  local j = b..'j:'..id
  local f = redis.call('HMGET', j, 'key', 'dentry')
  if f[1] then
    redis.call('SET', b..'k:'..f[1], id, 'PX', ARGV[3])
    n = n + 1
  end
  if f[2] then redis.call('XDEL', b..'dead', f[2]) end
  redis.call('DEL', j)
end
return n
";

/// `ARGV`: base, limit.
const DEAD_LIST: &str = r"
local b = ARGV[1]
local out = {}
for _, e in ipairs(redis.call('XRANGE', b..'dead', '-', '+', 'COUNT', ARGV[2])) do
  local id = e[2][2]
  local f = redis.call('HMGET', b..'j:'..id, 'key', 'group', 'payload', 'attempts', 'enq', 'err', 'cp', 'dead')
  if f[1] then table.insert(out, {id, f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]}) end
end
return out
";

/// `ARGV`: base, now.
const STATS: &str = r"
local b = ARGV[1]
local live = redis.call('ZCARD', b..'live')
local leased = redis.call('ZCOUNT', b..'leases', '('..ARGV[2], '+inf')
local oldest = redis.call('ZRANGE', b..'live', 0, 0, 'WITHSCORES')
return {live, leased, tonumber(redis.call('GET', b..'retries') or '0'), redis.call('XLEN', b..'dead'), oldest[2] or false}
";

struct Scripts {
    enqueue: redis::Script,
    lease: redis::Script,
    checkpoint: redis::Script,
    extend: redis::Script,
    ack: redis::Script,
    nack: redis::Script,
    dead: redis::Script,
    release: redis::Script,
    replay: redis::Script,
    purge: redis::Script,
    dead_list: redis::Script,
    stats: redis::Script,
}

impl Scripts {
    fn new() -> Self {
        let held = |body: &str| redis::Script::new(&format!("{HELD}\n{body}"));
        Self {
            enqueue: redis::Script::new(ENQUEUE),
            lease: redis::Script::new(LEASE),
            checkpoint: held(CHECKPOINT),
            extend: held(EXTEND),
            ack: held(ACK),
            nack: held(NACK),
            dead: held(DEAD),
            release: held(RELEASE),
            replay: redis::Script::new(REPLAY),
            purge: redis::Script::new(PURGE),
            dead_list: redis::Script::new(DEAD_LIST),
            stats: redis::Script::new(STATS),
        }
    }
}

/// A job queue on Redis Streams (feature `redis`), shared by any number of
/// instances. Cheap to clone.
///
/// Keys live under `{<prefix><name>}:` (one hash tag, one cluster slot per
/// queue): a hash per job, the key index, a list
/// per group, the stream of runnable group heads (consumer group `w`), sorted
/// sets of lease deadlines, retries and live jobs, and a dead-letter stream.
/// Every operation is one Lua script (atomic). Only the oldest job of a group
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
        let conn = crate::redis_conn::connect(url)
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
        })
    }

    /// The key every script declares (the queue's stream): it routes the
    /// script to the node holding the queue's slot. The keys a script
    /// derives from the base (a job's hash, a group's list) share the
    /// base's hash tag, hence the slot.
    fn anchor(&self) -> String {
        format!("{}s", self.base)
    }

    /// Replicated acknowledgements: every enqueue and checkpoint returns
    /// only once `replicas` replicas of the queue's primary have it (Redis's
    /// `WAIT`, at most `timeout`), and fails (retryable) when fewer did, so
    /// a webhook is answered 500 and redelivered rather than acknowledged
    /// and lost in a failover (Redis replicates asynchronously). Costs one
    /// round trip to the replicas per write.
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
    async fn replicate(&self) -> Result<(), QueueError> {
        let Some((replicas, timeout)) = self.replicated else {
            return Ok(());
        };
        let acked = self
            .conn
            .wait_for_replicas(&self.anchor(), replicas, timeout)
            .await
            .map_err(storage)?;
        if acked < replicas {
            return Err(QueueError::storage(format!(
                "the write reached {acked} of {replicas} replicas within {timeout:?}; not acknowledged"
            )));
        }
        Ok(())
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
        let mut inv = script.prepare_invoke();
        inv.key(self.anchor());
        inv.arg(&self.base)
            .arg(lease.job.id.as_str())
            .arg(lease.token.as_str());
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
            .key(self.anchor())
            .arg(&self.base)
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
            .key(self.anchor())
            .arg(&self.base)
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

    async fn ack(&self, lease: &Lease, _now: DateTime<Utc>) -> Result<(), QueueError> {
        let retain = self.retention_ms.to_string().into_bytes();
        self.finish(&self.scripts.ack, lease, &[retain]).await
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
            .key(self.anchor())
            .arg(&self.base)
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
            .key(self.anchor())
            .arg(&self.base)
            .arg(id.as_str())
            .invoke_async(&mut conn)
            .await
            .map_err(storage)?;
        if r < 0 {
            return Err(QueueError::NotFound { job: id.clone() });
        }
        Ok(())
    }

    async fn purge(&self, id: Option<&JobId>, _now: DateTime<Utc>) -> Result<u64, QueueError> {
        let mut conn = self.conn.clone();
        let r: i64 = self
            .scripts
            .purge
            .prepare_invoke()
            .key(self.anchor())
            .arg(&self.base)
            .arg(id.map_or("", JobId::as_str))
            .arg(self.retention_ms)
            .invoke_async(&mut conn)
            .await
            .map_err(storage)?;
        match (r, id) {
            (n, Some(id)) if n < 0 => Err(QueueError::NotFound { job: id.clone() }),
            (n, _) => Ok(u64::try_from(n).unwrap_or(0)),
        }
    }

    async fn stats(&self, now: DateTime<Utc>) -> Result<QueueStats, QueueError> {
        let mut conn = self.conn.clone();
        let now = millis(now);
        let (live, leased, retries, dead, oldest): (u64, u64, u64, u64, Option<String>) = self
            .scripts
            .stats
            .prepare_invoke()
            .key(self.anchor())
            .arg(&self.base)
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

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_queue_passes_the_behaviour_suite() {
        for url in crate::redis_conn::test_urls() {
            let name = format!("conformance{:x}", crate::dedup::random_token());
            let q = RedisQueue::connect(&url, "wa-sf:test:", &name)
                .await
                .unwrap();
            super::super::conformance::run(Arc::new(q)).await;
        }
    }

    /// Replicated acknowledgements: on the cluster (a replica per primary)
    /// an enqueue waits for its replica and succeeds; on the lone node it
    /// cannot, and fails retryably instead of acknowledging.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replicated_enqueues_wait_for_a_replica_or_fail() {
        let [single, cluster] = <[String; 2]>::try_from(crate::redis_conn::test_urls())
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
        let lone = lone.wait_for_replicas(1, Duration::from_millis(50));
        let err = lone.enqueue(job(), Utc::now()).await.unwrap_err();
        assert!(err.is_retryable());
        assert!(err.to_string().contains("0 of 1 replicas"), "{err}");
    }
}
