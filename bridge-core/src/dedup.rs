//! Dedup and idempotency with two-phase semantics: nothing processed twice,
//! nothing lost.
//!
//! 1. [`claim`](DedupStore::claim) a key before the work: it is
//!    [`New`](Claim::New) (you own it), [`InFlight`](Claim::InFlight) (another
//!    worker is on it) or [`Done`](Claim::Done).
//! 2. After success, [`complete`](DedupStore::complete): later deliveries are `Done`.
//! 3. After a failure, [`release`](DedupStore::release): Meta's redelivery can
//!    claim it again.
//!
//! Claims expire, so a crashed worker's claim does not block forever; a
//! completion or release only applies to the claim that owns the key (a token
//! proves it), never to a later claim of someone else.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), bridge_core::BridgeError> {
//! use std::time::Duration;
//! use bridge_core::dedup::{Claim, DedupStore, MemoryDedupStore};
//!
//! let store = MemoryDedupStore::new(100_000);
//! let Claim::New(token) = store.claim("wa:msg:wamid.1", Duration::from_secs(60)).await? else {
//!     unreachable!()
//! };
//! assert!(matches!(store.claim("wa:msg:wamid.1", Duration::from_secs(60)).await?, Claim::InFlight));
//! store.complete(&token, Duration::from_secs(86_400)).await?;
//! assert!(matches!(store.claim("wa:msg:wamid.1", Duration::from_secs(60)).await?, Claim::Done));
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::{Clock, SystemClock};
use crate::error::BridgeError;

/// Proof of a claim: the key and a token unique to the claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimToken {
    pub(crate) key: String,
    pub(crate) token: u64,
}

impl ClaimToken {
    /// A token for a claimed key (store implementations make them; a token
    /// must be unique to the claim, so that a stale owner cannot complete or
    /// release a newer claim).
    pub fn new(key: impl Into<String>, token: u64) -> Self {
        Self {
            key: key.into(),
            token,
        }
    }

    /// The claimed key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The token that proves the claim.
    pub fn token(&self) -> u64 {
        self.token
    }
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// The key is yours: do the work, then complete or release.
    New(ClaimToken),
    /// Another worker holds a live claim.
    InFlight,
    /// The work was done already.
    Done,
}

/// A dedup store. Implementations must make `claim` atomic: of many concurrent
/// claims of one key, exactly one gets [`Claim::New`].
#[async_trait]
pub trait DedupStore: Send + Sync {
    /// Claims a key for `ttl` (how long a crashed worker can block it).
    async fn claim(&self, key: &str, ttl: Duration) -> Result<Claim, BridgeError>;
    /// Marks the work done; the key then answers `Done` for `keep`.
    async fn complete(&self, token: &ClaimToken, keep: Duration) -> Result<(), BridgeError>;
    /// Gives the key up after a failure, so a redelivery can retry.
    async fn release(&self, token: &ClaimToken) -> Result<(), BridgeError>;

    /// Whether a key is done (a read; the default claims and releases, so
    /// override it with a plain read where the store has one).
    async fn is_done(&self, key: &str) -> Result<bool, BridgeError> {
        match self.claim(key, Duration::from_secs(5)).await? {
            Claim::Done => Ok(true),
            Claim::New(t) => {
                self.release(&t).await?;
                Ok(false)
            }
            _ => Ok(false),
        }
    }

    /// Records a fact under a key for `keep` (e.g. "we sent this message id"):
    /// claims it and completes it at once. Already done or in flight: nothing.
    async fn mark_done(&self, key: &str, keep: Duration) -> Result<(), BridgeError> {
        if let Claim::New(t) = self.claim(key, Duration::from_secs(60)).await? {
            self.complete(&t, keep).await?;
        }
        Ok(())
    }
}

const SHARDS: usize = 16;
const DONE: u64 = 0;

/// One entry: 16 bytes beside the key. `token == 0` means done.
#[derive(Clone, Copy)]
struct Entry {
    token: u64,
    /// Milliseconds since the store's epoch when the entry expires (u32 holds 49 days).
    expires_ms: u32,
    /// For eviction: a coarse insertion order.
    generation: u32,
}

/// The in-memory store: sharded, bounded, with TTLs. The embedded default for
/// one process; use the Redis store for many instances.
pub struct MemoryDedupStore {
    shards: Vec<Mutex<HashMap<Box<str>, Entry>>>,
    hasher: std::collections::hash_map::RandomState,
    capacity_per_shard: usize,
    clock: Arc<dyn Clock>,
    /// The clock's time (ms) when the store was made: entries keep times
    /// relative to it in 32 bits.
    epoch_ms: i64,
    next_token: AtomicU64,
}

impl std::fmt::Debug for MemoryDedupStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryDedupStore")
            .field("capacity", &(self.capacity_per_shard * SHARDS))
            .field("len", &self.len())
            .finish()
    }
}

impl MemoryDedupStore {
    /// A store holding at most about `capacity` keys. When full, expired keys go
    /// first, then the oldest completed ones (a very old duplicate may then be
    /// processed again; a live claim is never evicted).
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            capacity_per_shard: capacity.div_ceil(SHARDS).max(1),
            clock: Arc::new(SystemClock),
            epoch_ms: SystemClock.now().timestamp_millis(),
            next_token: AtomicU64::new(1),
        }
    }

    /// The same store reading time from `clock` (a `ManualClock` in tests:
    /// claims expire when the clock says, not after a sleep).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.epoch_ms = clock.now().timestamp_millis();
        self.clock = clock;
        self
    }

    /// The number of keys held (expired ones included until swept).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum()
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &str) -> &Mutex<HashMap<Box<str>, Entry>> {
        let i = (self.hasher.hash_one(key) as usize) % SHARDS;
        #[allow(clippy::indexing_slicing)] // i < SHARDS == shards.len()
        &self.shards[i]
    }

    fn now_ms(&self) -> u32 {
        let elapsed = self.clock.now().timestamp_millis() - self.epoch_ms;
        u32::try_from(elapsed.max(0)).unwrap_or(u32::MAX)
    }

    fn deadline(&self, now: u32, ttl: Duration) -> u32 {
        now.saturating_add(u32::try_from(ttl.as_millis()).unwrap_or(u32::MAX))
    }

    fn make_room(&self, map: &mut HashMap<Box<str>, Entry>, now: u32) {
        if map.len() < self.capacity_per_shard {
            return;
        }
        map.retain(|_, e| e.expires_ms > now);
        if map.len() < self.capacity_per_shard {
            return;
        }
        // Drop the oldest eighth of the completed entries.
        let mut done: Vec<u32> = map
            .values()
            .filter(|e| e.token == DONE)
            .map(|e| e.generation)
            .collect();
        if done.is_empty() {
            return;
        }
        let cut_at = done.len() / 8;
        let (_, cut, _) = done.select_nth_unstable(cut_at);
        let cut = *cut;
        map.retain(|_, e| e.token != DONE || e.generation > cut);
    }

    fn lock<'a>(
        &self,
        m: &'a Mutex<HashMap<Box<str>, Entry>>,
    ) -> std::sync::MutexGuard<'a, HashMap<Box<str>, Entry>> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl DedupStore for MemoryDedupStore {
    async fn claim(&self, key: &str, ttl: Duration) -> Result<Claim, BridgeError> {
        let now = self.now_ms();
        let mut map = self.lock(self.shard(key));
        if let Some(e) = map.get_mut(key)
            && e.expires_ms > now
        {
            return Ok(if e.token == DONE {
                Claim::Done
            } else {
                Claim::InFlight
            });
        }
        self.make_room(&mut map, now);
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            token,
            expires_ms: self.deadline(now, ttl),
            generation: now,
        };
        map.insert(key.into(), entry);
        Ok(Claim::New(ClaimToken {
            key: key.to_owned(),
            token,
        }))
    }

    async fn complete(&self, token: &ClaimToken, keep: Duration) -> Result<(), BridgeError> {
        let now = self.now_ms();
        let mut map = self.lock(self.shard(&token.key));
        match map.get_mut(token.key.as_str()) {
            Some(e) if e.token == token.token => {
                e.token = DONE;
                e.expires_ms = self.deadline(now, keep);
                e.generation = now;
                Ok(())
            }
            _ => Err(BridgeError::Store(format!(
                "the claim on {} expired before it was completed",
                token.key
            ))),
        }
    }

    async fn release(&self, token: &ClaimToken) -> Result<(), BridgeError> {
        let mut map = self.lock(self.shard(&token.key));
        if map
            .get(token.key.as_str())
            .is_some_and(|e| e.token == token.token)
        {
            map.remove(token.key.as_str());
        }
        Ok(())
    }

    async fn is_done(&self, key: &str) -> Result<bool, BridgeError> {
        let now = self.now_ms();
        Ok(self
            .lock(self.shard(key))
            .get(key)
            .is_some_and(|e| e.token == DONE && e.expires_ms > now))
    }
}

/// A random token for claims and leases across processes.
pub(crate) fn random_token() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish().max(1)
}

/// The behaviour every store must have; run it against your own store in your
/// tests: `bridge_core::dedup::conformance::run(Arc::new(store), &clock).await`,
/// with the store reading time from `clock` (the suite claims from many tasks
/// at once, and moves the clock to expire claims: nothing sleeps).
pub mod conformance {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;

    /// Runs the suite; panics with a message naming the broken rule.
    ///
    /// The same signature as every conformance suite of the workspace: the
    /// store behind an `Arc`, and the `ManualClock` the suite reads and
    /// moves. Build the store with the same clock (`with_clock`); start it at
    /// the real time for a backend that also expires keys itself (Redis).
    ///
    /// # Panics
    ///
    /// When the store breaks one of the two-phase rules.
    #[allow(clippy::panic)]
    pub async fn run<S: DedupStore + ?Sized + 'static>(store: Arc<S>, clock: &ManualClock) {
        let long = Duration::from_secs(60);
        let unique = |name: &str| format!("conformance:{name}:{}", random_token());

        // New, then in flight, then done.
        let k = unique("basic");
        let Ok(Claim::New(t)) = store.claim(&k, long).await else {
            panic!("a fresh key must be New")
        };
        assert!(
            matches!(store.claim(&k, long).await, Ok(Claim::InFlight)),
            "a claimed key must be InFlight"
        );
        store
            .complete(&t, long)
            .await
            .unwrap_or_else(|e| panic!("complete failed: {e}"));
        assert!(
            matches!(store.claim(&k, long).await, Ok(Claim::Done)),
            "a completed key must be Done"
        );

        // Release lets a redelivery retry.
        let k = unique("release");
        let Ok(Claim::New(t)) = store.claim(&k, long).await else {
            panic!("New expected")
        };
        store
            .release(&t)
            .await
            .unwrap_or_else(|e| panic!("release failed: {e}"));
        assert!(
            matches!(store.claim(&k, long).await, Ok(Claim::New(_))),
            "a released key must be claimable"
        );

        // A stale claim expires, and the old owner can no longer complete or release it.
        let k = unique("expiry");
        let Ok(Claim::New(stale)) = store.claim(&k, Duration::from_millis(50)).await else {
            panic!("New expected")
        };
        clock.advance(Duration::from_millis(120));
        let Ok(Claim::New(fresh)) = store.claim(&k, long).await else {
            panic!("an expired claim must be claimable again")
        };
        assert!(
            store.complete(&stale, long).await.is_err(),
            "a stale owner must not complete a newer claim"
        );
        store
            .release(&stale)
            .await
            .unwrap_or_else(|e| panic!("release failed: {e}"));
        assert!(
            matches!(store.claim(&k, long).await, Ok(Claim::InFlight)),
            "a stale release must not drop a newer claim"
        );
        store
            .complete(&fresh, long)
            .await
            .unwrap_or_else(|e| panic!("complete failed: {e}"));

        // is_done reads without claiming; mark_done records a fact.
        let k = unique("fact");
        assert!(
            !store.is_done(&k).await.unwrap_or(true),
            "an unknown key is not done"
        );
        assert!(
            matches!(store.claim(&k, long).await, Ok(Claim::New(_))),
            "is_done must not leave a claim behind"
        );
        let k = unique("fact2");
        store
            .mark_done(&k, long)
            .await
            .unwrap_or_else(|e| panic!("mark_done failed: {e}"));
        assert!(
            store.is_done(&k).await.unwrap_or(false),
            "a marked key is done"
        );

        // Many concurrent claims of one key: exactly one wins.
        let k = unique("race");
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let s = store.clone();
                let k = k.clone();
                tokio::spawn(async move { s.claim(&k, long).await })
            })
            .collect();
        let mut winners = 0;
        for t in tasks {
            if matches!(t.await, Ok(Ok(Claim::New(_)))) {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "exactly one concurrent claim must win");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_store_passes_the_behaviour_suite() {
        let clock = Arc::new(crate::clock::ManualClock::new(chrono::Utc::now()));
        let store = MemoryDedupStore::new(10_000).with_clock(clock.clone());
        conformance::run(Arc::new(store), &clock).await;
    }

    #[tokio::test]
    async fn memory_store_stays_bounded_and_never_evicts_live_claims() {
        let s = MemoryDedupStore::new(1_600);
        let long = Duration::from_secs(3600);
        let mut live = Vec::new();
        for i in 0..800 {
            if let Claim::New(t) = s.claim(&format!("live{i}"), long).await.unwrap() {
                live.push(t);
            }
        }
        for i in 0..20_000 {
            if let Claim::New(t) = s.claim(&format!("k{i}"), long).await.unwrap() {
                s.complete(&t, long).await.unwrap();
            }
        }
        assert!(s.len() <= 1_600 + SHARDS * 8, "bounded: {}", s.len());
        for t in &live {
            assert!(
                matches!(s.claim(t.key(), long).await.unwrap(), Claim::InFlight),
                "live claims survive eviction"
            );
        }
    }
}
