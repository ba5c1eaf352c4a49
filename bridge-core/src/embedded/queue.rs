//! The queues of the embedded store: jobs, their payloads and checkpoints,
//! the key index, per-group order and the ready index, in redb tables.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{EmbeddedStore, storage};
use crate::queue::{
    DeadLetter, Enqueued, Job, JobId, JobQueue, Lease, LeaseToken, NewJob, Pruned, QueueError,
    QueueStats, Retention, duration_ms, from_millis, millis,
};

/// Entries removed per transaction by a full prune.
pub(super) const PRUNE_CHUNK: usize = 2_000;

struct Names {
    jobs: String,
    payloads: String,
    checkpoints: String,
    keys: String,
    key_expiry: String,
    groups: String,
    ready: String,
    dead: String,
    counters: String,
}

impl Names {
    fn new(q: &str) -> Self {
        Self {
            jobs: format!("q.{q}.jobs"),
            payloads: format!("q.{q}.payloads"),
            checkpoints: format!("q.{q}.checkpoints"),
            keys: format!("q.{q}.keys"),
            key_expiry: format!("q.{q}.key_expiry"),
            groups: format!("q.{q}.groups"),
            ready: format!("q.{q}.ready"),
            dead: format!("q.{q}.dead"),
            counters: format!("q.{q}.counters"),
        }
    }
    fn jobs(&self) -> TableDefinition<'_, u64, &'static [u8]> {
        TableDefinition::new(&self.jobs)
    }
    fn payloads(&self) -> TableDefinition<'_, u64, &'static [u8]> {
        TableDefinition::new(&self.payloads)
    }
    fn checkpoints(&self) -> TableDefinition<'_, u64, &'static [u8]> {
        TableDefinition::new(&self.checkpoints)
    }
    /// key → (job id, done-until ms; 0 while the job lives).
    fn keys(&self) -> TableDefinition<'_, &'static str, (u64, i64)> {
        TableDefinition::new(&self.keys)
    }
    fn key_expiry(&self) -> TableDefinition<'_, (i64, &'static str), ()> {
        TableDefinition::new(&self.key_expiry)
    }
    fn groups(&self) -> TableDefinition<'_, (&'static str, u64), ()> {
        TableDefinition::new(&self.groups)
    }
    /// (due ms, job id) for group heads: waiting, or leased until their lease ends.
    fn ready(&self) -> TableDefinition<'_, (i64, u64), ()> {
        TableDefinition::new(&self.ready)
    }
    fn dead(&self) -> TableDefinition<'_, u64, ()> {
        TableDefinition::new(&self.dead)
    }
    fn counters(&self) -> TableDefinition<'_, &'static str, u64> {
        TableDefinition::new(&self.counters)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    key: String,
    group: String,
    attempts: u32,
    enq: i64,
    /// Its entry in `ready` (only for group heads that are not dead).
    due: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    err: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dead: Option<i64>,
}

fn encode(meta: &Meta) -> Result<Vec<u8>, redb::Error> {
    serde_json::to_vec(meta).map_err(|e| redb::Error::Corrupted(e.to_string()))
}

fn decode(bytes: &[u8]) -> Result<Meta, redb::Error> {
    serde_json::from_slice(bytes).map_err(|e| redb::Error::Corrupted(format!("job record: {e}")))
}

fn parse_id(id: &JobId) -> Option<u64> {
    id.as_str().parse().ok()
}

fn parse_token(lease: &Lease) -> Option<(u64, u64)> {
    let (seq, token) = lease.token.as_str().split_once(':')?;
    Some((seq.parse().ok()?, token.parse().ok()?))
}

/// A named queue in an [`EmbeddedStore`]. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedQueue {
    store: EmbeddedStore,
    name: String,
    names: Arc<Names>,
    retention_ms: i64,
}

impl std::fmt::Debug for EmbeddedQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedQueue")
            .field("table", &self.names.jobs)
            .field("path", &self.store.inner.path)
            .finish_non_exhaustive()
    }
}

/// A queue that keeps nothing across restarts: the embedded store over an
/// in-memory backend (the same code, minus the disk). For tests and demos.
pub type MemoryQueue = EmbeddedQueue;

impl EmbeddedQueue {
    /// A non-durable queue in memory (see [`MemoryQueue`]).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(name: &str) -> Result<Self, QueueError> {
        EmbeddedStore::in_memory()?.queue(name)
    }

    /// The store this queue lives in.
    pub fn store(&self) -> &EmbeddedStore {
        &self.store
    }

    pub(super) fn open(
        store: EmbeddedStore,
        name: &str,
        retention_ms: i64,
    ) -> Result<Self, QueueError> {
        let q = Self {
            store,
            name: name.to_owned(),
            names: Arc::new(Names::new(name)),
            retention_ms,
        };
        q.create_tables()?;
        if q.store.first_open_of(name) {
            let n = q.recover()?;
            if n > 0 {
                tracing::info!(
                    queue = name,
                    jobs = n,
                    "jobs a previous process had leased are due again"
                );
            }
        }
        Ok(q)
    }

    /// Makes every leased job due again: only one process can open the store
    /// (its file is locked), so a lease found when opening belongs to a process
    /// that died. Its attempt still counts.
    fn recover(&self) -> Result<u64, QueueError> {
        let names = self.names.clone();
        let db = self.store.inner.db.clone();
        (|| -> Result<u64, redb::Error> {
            let txn = db.begin_write()?;
            let mut recovered = 0;
            {
                let mut jobs = txn.open_table(names.jobs())?;
                let mut ready = txn.open_table(names.ready())?;
                let stale: Vec<(u64, Meta)> = jobs
                    .iter()?
                    .filter_map(|r| r.ok())
                    .filter_map(|(k, v)| decode(v.value()).ok().map(|m| (k.value(), m)))
                    .filter(|(_, m)| m.lease.is_some() && m.dead.is_none())
                    .collect();
                for (seq, mut meta) in stale {
                    ready.remove((meta.due, seq))?;
                    ready.insert((0, seq), ())?;
                    meta.due = 0;
                    meta.lease = None;
                    jobs.insert(seq, encode(&meta)?.as_slice())?;
                    recovered += 1;
                }
            }
            txn.commit()?;
            Ok(recovered)
        })()
        .map_err(storage)
    }

    fn create_tables(&self) -> Result<(), QueueError> {
        let names = self.names.clone();
        let db = self.store.inner.db.clone();
        // Synchronous: called while building, before any worker runs.
        (|| -> Result<(), redb::Error> {
            let txn = db.begin_write()?;
            txn.open_table(names.jobs())?;
            txn.open_table(names.payloads())?;
            txn.open_table(names.checkpoints())?;
            txn.open_table(names.keys())?;
            txn.open_table(names.key_expiry())?;
            txn.open_table(names.groups())?;
            txn.open_table(names.ready())?;
            txn.open_table(names.dead())?;
            txn.open_table(names.counters())?;
            txn.commit()?;
            Ok(())
        })()
        .map_err(storage)
    }

    fn load_job(
        names: &Names,
        txn_jobs: &impl ReadableTable<u64, &'static [u8]>,
        txn_payloads: &impl ReadableTable<u64, &'static [u8]>,
        txn_checkpoints: &impl ReadableTable<u64, &'static [u8]>,
        seq: u64,
    ) -> Result<Option<(Meta, Job)>, redb::Error> {
        let _ = names;
        let Some(meta) = txn_jobs.get(seq)? else {
            return Ok(None);
        };
        let meta = decode(meta.value())?;
        let payload = txn_payloads
            .get(seq)?
            .map(|v| v.value().to_vec())
            .unwrap_or_default();
        let checkpoint = txn_checkpoints.get(seq)?.map(|v| v.value().to_vec());
        let job = Job::new(
            JobId::new(seq.to_string()),
            meta.key.clone(),
            meta.group.clone(),
            payload,
            meta.attempts,
            from_millis(meta.enq),
            meta.err.clone(),
            checkpoint,
        );
        Ok(Some((meta, job)))
    }

    /// Checks a lease inside a write: the job's meta when the lease still holds.
    fn held(
        names: &Names,
        txn: &WriteTransaction,
        lease: &Lease,
    ) -> Result<Result<(u64, Meta), QueueError>, redb::Error> {
        let lost = || QueueError::LeaseLost {
            job: lease.job.id.clone(),
        };
        let Some((seq, token)) = parse_token(lease) else {
            return Ok(Err(lost()));
        };
        let jobs = txn.open_table(names.jobs())?;
        let Some(meta) = jobs.get(seq)? else {
            return Ok(Err(lost()));
        };
        let meta = decode(meta.value())?;
        if meta.lease != Some(token) || meta.dead.is_some() {
            return Ok(Err(lost()));
        }
        Ok(Ok((seq, meta)))
    }

    /// Removes a finished head from its group and makes the next job the head.
    fn advance_group(
        names: &Names,
        txn: &WriteTransaction,
        group: &str,
        seq: u64,
    ) -> Result<(), redb::Error> {
        let mut groups = txn.open_table(names.groups())?;
        groups.remove((group, seq))?;
        let next = groups
            .range((group, 0)..=(group, u64::MAX))?
            .next()
            .transpose()?
            .map(|(k, _)| k.value().1);
        drop(groups);
        if let Some(next) = next {
            let jobs = txn.open_table(names.jobs())?;
            let due = match jobs.get(next)? {
                Some(m) => decode(m.value())?.due,
                None => return Ok(()),
            };
            drop(jobs);
            txn.open_table(names.ready())?.insert((due, next), ())?;
        }
        Ok(())
    }

    /// Ends a lease and makes the job due at `at` (still its group's head).
    fn reschedule(
        names: &Names,
        txn: &WriteTransaction,
        seq: u64,
        mut meta: Meta,
        at: i64,
        edit: impl FnOnce(&mut Meta),
    ) -> Result<(), redb::Error> {
        let mut ready = txn.open_table(names.ready())?;
        ready.remove((meta.due, seq))?;
        ready.insert((at, seq), ())?;
        drop(ready);
        meta.due = at;
        meta.lease = None;
        edit(&mut meta);
        txn.open_table(names.jobs())?
            .insert(seq, encode(&meta)?.as_slice())?;
        Ok(())
    }

    fn bump(names: &Names, txn: &WriteTransaction, counter: &str) -> Result<u64, redb::Error> {
        let mut t = txn.open_table(names.counters())?;
        let n = t.get(counter)?.map_or(0, |v| v.value()) + 1;
        t.insert(counter, n)?;
        Ok(n)
    }

    /// Forgets completed keys whose retention ended (a few per write).
    fn prune_keys(names: &Names, txn: &WriteTransaction, now: i64) -> Result<(), redb::Error> {
        Self::forget_due_keys(names, txn, now, 32).map(|_| ())
    }

    /// Forgets up to `limit` completed keys whose retention ended.
    fn forget_due_keys(
        names: &Names,
        txn: &WriteTransaction,
        now: i64,
        limit: usize,
    ) -> Result<u64, redb::Error> {
        let mut expiry = txn.open_table(names.key_expiry())?;
        let due = super::maintenance::due(&expiry, now, limit)?;
        if due.is_empty() {
            return Ok(0);
        }
        let n = due.len() as u64;
        let mut keys = txn.open_table(names.keys())?;
        for (at, key) in due {
            expiry.remove((at, key.as_str()))?;
            if keys.get(key.as_str())?.is_some_and(|v| v.value().1 == at) {
                keys.remove(key.as_str())?;
            }
        }
        Ok(n)
    }

    /// Marks a key done until `until` (or forgets it when the job is gone for good).
    fn remember_key(
        names: &Names,
        txn: &WriteTransaction,
        key: &str,
        seq: u64,
        until: i64,
    ) -> Result<(), redb::Error> {
        txn.open_table(names.keys())?.insert(key, (seq, until))?;
        txn.open_table(names.key_expiry())?
            .insert((until, key), ())?;
        Ok(())
    }

    fn delete_job(names: &Names, txn: &WriteTransaction, seq: u64) -> Result<(), redb::Error> {
        txn.open_table(names.jobs())?.remove(seq)?;
        txn.open_table(names.payloads())?.remove(seq)?;
        txn.open_table(names.checkpoints())?.remove(seq)?;
        Ok(())
    }
}

#[async_trait]
impl JobQueue for EmbeddedQueue {
    async fn enqueue(&self, job: NewJob, now: DateTime<Utc>) -> Result<Enqueued, QueueError> {
        job.validate()?;
        let names = self.names.clone();
        let now = millis(now);
        self.store
            .write_urgent(move |txn| {
                Self::prune_keys(&names, txn, now)?;
                {
                    let keys = txn.open_table(names.keys())?;
                    if let Some(v) = keys.get(job.key.as_str())? {
                        let (seq, until) = v.value();
                        if until == 0 || until > now {
                            return Ok(Ok(Enqueued::Duplicate(JobId::new(seq.to_string()))));
                        }
                    }
                }
                let seq = Self::bump(&names, txn, "seq")?;
                let meta = Meta {
                    key: job.key.clone(),
                    group: job.group.clone(),
                    attempts: 0,
                    enq: now,
                    due: now,
                    lease: None,
                    err: None,
                    dead: None,
                };
                txn.open_table(names.jobs())?
                    .insert(seq, encode(&meta)?.as_slice())?;
                txn.open_table(names.payloads())?
                    .insert(seq, job.payload.as_slice())?;
                txn.open_table(names.keys())?
                    .insert(job.key.as_str(), (seq, 0))?;
                let mut groups = txn.open_table(names.groups())?;
                let head = groups
                    .range((job.group.as_str(), 0)..=(job.group.as_str(), u64::MAX))?
                    .next()
                    .is_none();
                groups.insert((job.group.as_str(), seq), ())?;
                drop(groups);
                if head {
                    txn.open_table(names.ready())?.insert((now, seq), ())?;
                }
                Ok(Ok(Enqueued::New(JobId::new(seq.to_string()))))
            })
            .await
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
        let names = self.names.clone();
        let now = millis(now);
        let until = now.saturating_add(duration_ms(visibility).max(1));
        self.store
            .write_lazy(move |txn| {
                let due: Vec<(i64, u64)> = txn
                    .open_table(names.ready())?
                    .range((i64::MIN, 0)..=(now, u64::MAX))?
                    .take(max)
                    .map(|r| r.map(|(k, _)| k.value()))
                    .collect::<Result<_, _>>()?;
                let mut out = Vec::with_capacity(due.len());
                let mut ready = txn.open_table(names.ready())?;
                let mut jobs = txn.open_table(names.jobs())?;
                let payloads = txn.open_table(names.payloads())?;
                let checkpoints = txn.open_table(names.checkpoints())?;
                for (at, seq) in due {
                    ready.remove((at, seq))?;
                    let Some((mut meta, mut job)) =
                        Self::load_job(&names, &jobs, &payloads, &checkpoints, seq)?
                    else {
                        continue;
                    };
                    let token = crate::dedup::random_token();
                    meta.attempts = meta.attempts.saturating_add(1);
                    meta.lease = Some(token);
                    meta.due = until;
                    jobs.insert(seq, encode(&meta)?.as_slice())?;
                    ready.insert((until, seq), ())?;
                    job.attempts = meta.attempts;
                    out.push(Lease::new(job, LeaseToken::new(format!("{seq}:{token}"))));
                }
                Ok(Ok(out))
            })
            .await
    }

    async fn checkpoint(&self, lease: &Lease, data: &[u8]) -> Result<(), QueueError> {
        let names = self.names.clone();
        let lease = lease.clone();
        let data = data.to_vec();
        self.store
            .write(move |txn| {
                let (seq, _) = match Self::held(&names, txn, &lease)? {
                    Ok(held) => held,
                    Err(e) => return Ok(Err(e)),
                };
                txn.open_table(names.checkpoints())?
                    .insert(seq, data.as_slice())?;
                Ok(Ok(()))
            })
            .await
    }

    async fn ack(&self, lease: &Lease, now: DateTime<Utc>) -> Result<(), QueueError> {
        let names = self.names.clone();
        let lease = lease.clone();
        let until = millis(now).saturating_add(self.retention_ms).max(1);
        self.store
            .write_lazy(move |txn| {
                let (seq, meta) = match Self::held(&names, txn, &lease)? {
                    Ok(held) => held,
                    Err(e) => return Ok(Err(e)),
                };
                txn.open_table(names.ready())?.remove((meta.due, seq))?;
                Self::delete_job(&names, txn, seq)?;
                Self::remember_key(&names, txn, &meta.key, seq, until)?;
                Self::advance_group(&names, txn, &meta.group, seq)?;
                Ok(Ok(()))
            })
            .await
    }

    async fn nack(
        &self,
        lease: &Lease,
        retry_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), QueueError> {
        let names = self.names.clone();
        let lease = lease.clone();
        let error = error.to_owned();
        let at = millis(retry_at);
        self.store
            .write_lazy(move |txn| {
                let (seq, meta) = match Self::held(&names, txn, &lease)? {
                    Ok(held) => held,
                    Err(e) => return Ok(Err(e)),
                };
                Self::reschedule(&names, txn, seq, meta, at, |m| m.err = Some(error))?;
                Self::bump(&names, txn, "retries")?;
                Ok(Ok(()))
            })
            .await
    }

    async fn dead_letter(
        &self,
        lease: &Lease,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), QueueError> {
        let names = self.names.clone();
        let lease = lease.clone();
        let error = error.to_owned();
        let now = millis(now);
        self.store
            .write(move |txn| {
                let (seq, mut meta) = match Self::held(&names, txn, &lease)? {
                    Ok(held) => held,
                    Err(e) => return Ok(Err(e)),
                };
                txn.open_table(names.ready())?.remove((meta.due, seq))?;
                meta.lease = None;
                meta.err = Some(error);
                meta.dead = Some(now);
                txn.open_table(names.jobs())?
                    .insert(seq, encode(&meta)?.as_slice())?;
                txn.open_table(names.dead())?.insert(seq, ())?;
                Self::advance_group(&names, txn, &meta.group, seq)?;
                Ok(Ok(()))
            })
            .await
    }

    async fn release(&self, lease: &Lease, now: DateTime<Utc>) -> Result<(), QueueError> {
        let names = self.names.clone();
        let lease = lease.clone();
        let now = millis(now);
        self.store
            .write_lazy(move |txn| {
                let (seq, meta) = match Self::held(&names, txn, &lease)? {
                    Ok(held) => held,
                    Err(e) => return Ok(Err(e)),
                };
                Self::reschedule(&names, txn, seq, meta, now, |m| {
                    m.attempts = m.attempts.saturating_sub(1);
                })?;
                Ok(Ok(()))
            })
            .await
    }

    async fn extend(
        &self,
        lease: &Lease,
        visibility: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), QueueError> {
        let names = self.names.clone();
        let lease = lease.clone();
        let until = millis(now).saturating_add(duration_ms(visibility).max(1));
        self.store
            .write_lazy(move |txn| {
                let (seq, mut meta) = match Self::held(&names, txn, &lease)? {
                    Ok(held) => held,
                    Err(e) => return Ok(Err(e)),
                };
                let mut ready = txn.open_table(names.ready())?;
                ready.remove((meta.due, seq))?;
                ready.insert((until, seq), ())?;
                drop(ready);
                meta.due = until;
                txn.open_table(names.jobs())?
                    .insert(seq, encode(&meta)?.as_slice())?;
                Ok(Ok(()))
            })
            .await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let names = self.names.clone();
        self.store
            .read(move |txn| {
                let dead = txn.open_table(names.dead())?;
                let jobs = txn.open_table(names.jobs())?;
                let payloads = txn.open_table(names.payloads())?;
                let checkpoints = txn.open_table(names.checkpoints())?;
                let mut out = Vec::new();
                for entry in dead.iter()?.take(limit) {
                    let seq = entry?.0.value();
                    if let Some((meta, job)) =
                        Self::load_job(&names, &jobs, &payloads, &checkpoints, seq)?
                    {
                        out.push(DeadLetter::new(
                            job,
                            meta.err.unwrap_or_default(),
                            from_millis(meta.dead.unwrap_or_default()),
                        ));
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn replay(&self, id: &JobId, now: DateTime<Utc>) -> Result<(), QueueError> {
        let names = self.names.clone();
        let id = id.clone();
        let now = millis(now);
        self.store
            .write(move |txn| {
                let not_found = || QueueError::NotFound { job: id.clone() };
                let Some(old) = parse_id(&id) else {
                    return Ok(Err(not_found()));
                };
                if txn.open_table(names.dead())?.remove(old)?.is_none() {
                    return Ok(Err(not_found()));
                }
                let Some(meta) = txn
                    .open_table(names.jobs())?
                    .remove(old)?
                    .map(|v| v.value().to_vec())
                else {
                    return Ok(Err(not_found()));
                };
                let mut meta = decode(&meta)?;
                let payload = txn
                    .open_table(names.payloads())?
                    .remove(old)?
                    .map(|v| v.value().to_vec())
                    .unwrap_or_default();
                let checkpoint = txn
                    .open_table(names.checkpoints())?
                    .remove(old)?
                    .map(|v| v.value().to_vec());
                // A new id puts it at the end of its group, behind work that
                // is already leased.
                let seq = Self::bump(&names, txn, "seq")?;
                meta.attempts = 0;
                meta.dead = None;
                meta.due = now;
                txn.open_table(names.jobs())?
                    .insert(seq, encode(&meta)?.as_slice())?;
                txn.open_table(names.payloads())?
                    .insert(seq, payload.as_slice())?;
                if let Some(cp) = checkpoint {
                    txn.open_table(names.checkpoints())?
                        .insert(seq, cp.as_slice())?;
                }
                txn.open_table(names.keys())?
                    .insert(meta.key.as_str(), (seq, 0))?;
                let mut groups = txn.open_table(names.groups())?;
                let head = groups
                    .range((meta.group.as_str(), 0)..=(meta.group.as_str(), u64::MAX))?
                    .next()
                    .is_none();
                groups.insert((meta.group.as_str(), seq), ())?;
                drop(groups);
                if head {
                    txn.open_table(names.ready())?.insert((now, seq), ())?;
                }
                Ok(Ok(()))
            })
            .await
    }

    async fn purge(&self, id: Option<&JobId>, now: DateTime<Utc>) -> Result<u64, QueueError> {
        let names = self.names.clone();
        let id = id.cloned();
        let until = millis(now).saturating_add(self.retention_ms).max(1);
        self.store
            .write(move |txn| {
                let targets: Vec<u64> = match &id {
                    Some(id) => match parse_id(id) {
                        Some(seq) if txn.open_table(names.dead())?.get(seq)?.is_some() => vec![seq],
                        _ => return Ok(Err(QueueError::NotFound { job: id.clone() })),
                    },
                    None => txn
                        .open_table(names.dead())?
                        .iter()?
                        .map(|r| r.map(|(k, _)| k.value()))
                        .collect::<Result<_, _>>()?,
                };
                let n = targets.len() as u64;
                for seq in targets {
                    txn.open_table(names.dead())?.remove(seq)?;
                    let meta = txn
                        .open_table(names.jobs())?
                        .get(seq)?
                        .map(|v| v.value().to_vec());
                    if let Some(meta) = meta {
                        let meta = decode(&meta)?;
                        Self::remember_key(&names, txn, &meta.key, seq, until)?;
                    }
                    Self::delete_job(&names, txn, seq)?;
                }
                Ok(Ok(n))
            })
            .await
    }

    async fn probe(&self) -> Result<(), QueueError> {
        self.store.probe().await
    }

    async fn prune(&self, now: DateTime<Utc>, retention: &Retention) -> Result<Pruned, QueueError> {
        let mut total = Pruned::default();
        // In chunks: no transaction holds the writer for long.
        loop {
            let names = self.names.clone();
            let now_ms = millis(now);
            let keys = self
                .store
                .write(move |txn| Ok(Ok(Self::forget_due_keys(&names, txn, now_ms, PRUNE_CHUNK)?)))
                .await?;
            total.completed_keys += keys;
            if keys < PRUNE_CHUNK as u64 {
                break;
            }
        }
        let Some(before) = retention.dead_letters_before(now) else {
            return Ok(total);
        };
        loop {
            let names = self.names.clone();
            let (before, until) = (
                millis(before),
                millis(now).saturating_add(self.retention_ms).max(1),
            );
            let n = self
                .store
                .write(move |txn| {
                    let dead: Vec<u64> = txn
                        .open_table(names.dead())?
                        .iter()?
                        .map(|r| r.map(|(k, _)| k.value()))
                        .collect::<Result<_, _>>()?;
                    let mut purged = 0u64;
                    for seq in dead {
                        let meta = txn
                            .open_table(names.jobs())?
                            .get(seq)?
                            .map(|v| v.value().to_vec());
                        let Some(meta) = meta else { continue };
                        let meta = decode(&meta)?;
                        if meta.dead.is_none_or(|at| at >= before) {
                            continue;
                        }
                        txn.open_table(names.dead())?.remove(seq)?;
                        Self::remember_key(&names, txn, &meta.key, seq, until)?;
                        Self::delete_job(&names, txn, seq)?;
                        purged += 1;
                        if purged == PRUNE_CHUNK as u64 {
                            break;
                        }
                    }
                    Ok(Ok(purged))
                })
                .await?;
            total.dead_letters += n;
            if n < PRUNE_CHUNK as u64 {
                break;
            }
        }
        Ok(total)
    }

    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn erase_customer(
        &self,
        customer: &crate::erase::Customer,
    ) -> Result<(u64, u64), QueueError> {
        let (name, customer) = (self.name.clone(), customer.clone());
        self.store
            .write(move |txn| Ok(Ok(erase_customer(&name, txn, &customer)?)))
            .await
    }

    async fn stats(&self, now: DateTime<Utc>) -> Result<QueueStats, QueueError> {
        let names = self.names.clone();
        let now = millis(now);
        self.store
            .read(move |txn| {
                let jobs = txn.open_table(names.jobs())?;
                let mut stats = QueueStats {
                    dead_letters: txn.open_table(names.dead())?.len()?,
                    retries: txn
                        .open_table(names.counters())?
                        .get("retries")?
                        .map_or(0, |v| v.value()),
                    ..QueueStats::default()
                };
                let mut oldest: Option<i64> = None;
                for entry in jobs.iter()? {
                    let (_, v) = entry?;
                    let meta = decode(v.value())?;
                    if meta.dead.is_some() {
                        continue;
                    }
                    oldest = Some(oldest.map_or(meta.enq, |o| o.min(meta.enq)));
                    if meta.lease.is_some() && meta.due > now {
                        stats.in_flight += 1;
                    } else {
                        stats.depth += 1;
                    }
                }
                stats.oldest_age = oldest.map(|enq| {
                    Duration::from_millis(u64::try_from(now.saturating_sub(enq)).unwrap_or(0))
                });
                Ok(stats)
            })
            .await
    }
}

/// Removes from queue `name` every job that mentions the customer (its
/// group, key, payload or checkpoint: waiting, leased or dead; the group's
/// next job becomes due) and every completed key that does. Returns (jobs,
/// keys).
pub(super) fn erase_customer(
    name: &str,
    txn: &WriteTransaction,
    customer: &crate::erase::Customer,
) -> Result<(u64, u64), redb::Error> {
    let names = Names::new(name);
    let mut theirs: Vec<(u64, Meta)> = Vec::new();
    {
        let jobs = txn.open_table(names.jobs())?;
        let payloads = txn.open_table(names.payloads())?;
        let checkpoints = txn.open_table(names.checkpoints())?;
        for entry in jobs.iter()? {
            let (seq, meta) = entry?;
            let (seq, meta) = (seq.value(), decode(meta.value())?);
            let mentioned = customer.mentions(meta.group.as_bytes())
                || customer.mentions(meta.key.as_bytes())
                || payloads
                    .get(seq)?
                    .is_some_and(|p| customer.mentions(p.value()))
                || checkpoints
                    .get(seq)?
                    .is_some_and(|c| customer.mentions(c.value()));
            if mentioned {
                theirs.push((seq, meta));
            }
        }
    }
    let jobs = theirs.len() as u64;
    let mut keys = 0;
    for (seq, meta) in theirs {
        if meta.dead.is_some() {
            txn.open_table(names.dead())?.remove(seq)?;
        } else {
            txn.open_table(names.ready())?.remove((meta.due, seq))?;
            let head = txn
                .open_table(names.groups())?
                .range((meta.group.as_str(), 0)..=(meta.group.as_str(), u64::MAX))?
                .next()
                .transpose()?
                .map(|(k, _)| k.value().1);
            if head == Some(seq) {
                EmbeddedQueue::advance_group(&names, txn, &meta.group, seq)?;
            } else {
                txn.open_table(names.groups())?
                    .remove((meta.group.as_str(), seq))?;
            }
        }
        if let Some(v) = txn.open_table(names.keys())?.remove(meta.key.as_str())? {
            let until = v.value().1;
            txn.open_table(names.key_expiry())?
                .remove((until, meta.key.as_str()))?;
            keys += 1;
        }
        EmbeddedQueue::delete_job(&names, txn, seq)?;
    }
    // Completed keys: the customer's message ids.
    let done = super::erase::theirs(&txn.open_table(names.keys())?, |k, (_, until)| {
        customer.mentions(k.as_bytes()).then_some(until)
    })?;
    for (key, until) in done {
        txn.open_table(names.keys())?.remove(key.as_str())?;
        txn.open_table(names.key_expiry())?
            .remove((until, key.as_str()))?;
        keys += 1;
    }
    Ok((jobs, keys))
}
