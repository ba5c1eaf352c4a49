//! One instance at a time: a leader lease, so that of several instances of a
//! service exactly one runs a singleton job (a Pub/Sub subscriber, a poller)
//! and another takes over within the lease time when it dies.
//!
//! A lease is held by a `holder` (an instance id) until a deadline, renewed
//! while the work runs ([`run_as_leader`]); each new holder gets a larger
//! **fence** number, which the work can attach to its writes so a store can
//! refuse a deposed leader's late writes. [`MemoryLease`] serves one process;
//! [`RedisLease`](crate::redis::RedisLease) (feature `redis`) a fleet. Time is
//! the caller's clock on every backend: keep instances synchronized (NTP).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), bridge_core::BridgeError> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use bridge_core::clock::SystemClock;
//! use bridge_core::lease::{MemoryLease, run_as_leader};
//!
//! let lease = Arc::new(MemoryLease::default());
//! let answer = run_as_leader(
//!     lease,
//!     "order-events",
//!     "instance-a",
//!     Duration::from_secs(15),
//!     Arc::new(SystemClock),
//!     |fence| async move { format!("subscribed under fence {fence}") },
//! )
//! .await?;
//! assert_eq!(answer, "subscribed under fence 1");
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::error::BridgeError;

/// Holds leases. Implement it over your own store; [`conformance::run`]
/// checks an implementation.
#[async_trait]
pub trait LeaderLease: Send + Sync + std::fmt::Debug {
    /// Takes `name` for `holder` until `now + ttl`, or keeps it when
    /// `holder` has it already. `Some(fence)` when held (the same fence
    /// while the same holder keeps it, a larger one for each new holder);
    /// `None` while another holder's lease runs.
    async fn acquire(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, BridgeError>;

    /// Extends a held lease to `now + ttl`; `false` when it is no longer
    /// this holder's under this fence (it ran out, or someone took it).
    async fn renew(
        &self,
        name: &str,
        holder: &str,
        fence: u64,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, BridgeError>;

    /// Gives the lease up (nothing when it is not this holder's any more).
    async fn release(&self, name: &str, holder: &str, fence: u64) -> Result<(), BridgeError>;
}

pub(crate) fn until(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX)
}

#[derive(Debug, Clone)]
struct Held {
    holder: String,
    fence: u64,
    until: DateTime<Utc>,
}

/// Leases in memory: one process (tests, a single instance).
#[derive(Debug, Default)]
pub struct MemoryLease {
    leases: Mutex<HashMap<String, Held>>,
    fences: Mutex<HashMap<String, u64>>,
}

fn poisoned() -> BridgeError {
    BridgeError::Store("the lease table's lock is poisoned".into())
}

#[async_trait]
impl LeaderLease for MemoryLease {
    async fn acquire(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, BridgeError> {
        let mut leases = self.leases.lock().map_err(|_| poisoned())?;
        let fence = match leases.get(name) {
            Some(h) if h.until > now && h.holder != holder => return Ok(None),
            Some(h) if h.until > now => h.fence,
            _ => {
                let mut fences = self.fences.lock().map_err(|_| poisoned())?;
                let f = fences.entry(name.to_owned()).or_default();
                *f += 1;
                *f
            }
        };
        leases.insert(
            name.to_owned(),
            Held {
                holder: holder.to_owned(),
                fence,
                until: until(now, ttl),
            },
        );
        Ok(Some(fence))
    }

    async fn renew(
        &self,
        name: &str,
        holder: &str,
        fence: u64,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, BridgeError> {
        let mut leases = self.leases.lock().map_err(|_| poisoned())?;
        match leases.get_mut(name) {
            Some(h) if h.holder == holder && h.fence == fence && h.until > now => {
                h.until = until(now, ttl);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, name: &str, holder: &str, fence: u64) -> Result<(), BridgeError> {
        let mut leases = self.leases.lock().map_err(|_| poisoned())?;
        if leases
            .get(name)
            .is_some_and(|h| h.holder == holder && h.fence == fence)
        {
            leases.remove(name);
        }
        Ok(())
    }
}

/// Runs `work` while holding the lease `name`: waits (checking every third
/// of `ttl`) until this `holder` gets it, then runs `work(fence)` and renews
/// the lease every third of `ttl`. When the lease is lost (another holder
/// took it after a pause longer than `ttl`, or renewals kept failing until
/// it ran out) the work is dropped and the wait starts again; when the work
/// ends, the lease is released and its output returned.
///
/// A crashed leader stops renewing: another instance takes over at most
/// `ttl` plus a third of it later.
pub async fn run_as_leader<T, F, Fut>(
    lease: Arc<dyn LeaderLease>,
    name: &str,
    holder: &str,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    mut work: F,
) -> Result<T, BridgeError>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = T>,
{
    let every = (ttl / 3).max(Duration::from_millis(10));
    loop {
        let fence = match lease.acquire(name, holder, ttl, clock.now()).await {
            Ok(Some(fence)) => fence,
            Ok(None) => {
                tokio::time::sleep(every).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(lease = name, error = %e, "cannot reach the lease store; trying again");
                tokio::time::sleep(every).await;
                continue;
            }
        };
        tracing::info!(lease = name, fence, "this instance leads");
        let mut held_until = until(clock.now(), ttl);
        let job = work(fence);
        tokio::pin!(job);
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        let lost = loop {
            tokio::select! {
                out = &mut job => {
                    if let Err(e) = lease.release(name, holder, fence).await {
                        tracing::warn!(lease = name, error = %e, "could not release the lease (it runs out by itself)");
                    }
                    return Ok(out);
                }
                _ = tick.tick() => {
                    let now = clock.now();
                    match lease.renew(name, holder, fence, ttl, now).await {
                        Ok(true) => held_until = until(now, ttl),
                        Ok(false) => break "another instance holds it",
                        Err(e) if now >= held_until => {
                            tracing::warn!(lease = name, error = %e, "cannot renew the lease");
                            break "renewals failed until it ran out";
                        }
                        Err(e) => {
                            tracing::warn!(lease = name, error = %e, "cannot renew the lease; still held for now");
                        }
                    }
                }
            }
        };
        tracing::warn!(
            lease = name,
            fence,
            why = lost,
            "lost the lease: stopping the work"
        );
    }
}

/// A conformance suite for [`LeaderLease`] implementations.
pub mod conformance {
    use std::sync::Arc;
    use std::time::Duration;

    use super::LeaderLease;
    use crate::clock::{Clock, ManualClock};

    /// Checks the contract with the caller's clock (no sleeping): one holder
    /// at a time, the same fence while kept, a larger fence for each new
    /// holder, renewals only by the holder under its fence and before the
    /// deadline, release only by the holder, takeover after the deadline.
    /// Start the clock at the real time (Redis keeps keys a while past it).
    ///
    /// The same signature as every conformance suite of the workspace:
    /// the store behind an `Arc`, and the `ManualClock` the suite reads and
    /// moves (build the store with it when it keeps time).
    ///
    /// # Panics
    ///
    /// When the lease breaks the contract (it is a test helper).
    #[allow(clippy::unwrap_used, clippy::panic)]
    pub async fn run<L: LeaderLease + ?Sized + 'static>(lease: Arc<L>, clock: &ManualClock) {
        let start = clock.now();
        let name = format!(
            "conformance-{}-{}",
            std::process::id(),
            start.timestamp_nanos_opt().unwrap_or_default()
        );
        let ttl = Duration::from_secs(10);
        // Moves the clock to `s` seconds after the start, and reads it.
        let at = |s: i64| {
            clock.set(start + chrono::Duration::seconds(s));
            clock.now()
        };
        let a = lease.acquire(&name, "a", ttl, at(0)).await.unwrap();
        let Some(fa) = a else {
            panic!("a free lease is taken")
        };
        assert_eq!(
            lease.acquire(&name, "b", ttl, at(1)).await.unwrap(),
            None,
            "one holder at a time"
        );
        assert_eq!(
            lease.acquire(&name, "a", ttl, at(2)).await.unwrap(),
            Some(fa),
            "the same fence while kept"
        );
        assert!(
            lease.renew(&name, "a", fa, ttl, at(5)).await.unwrap(),
            "the holder renews"
        );
        assert!(
            !lease.renew(&name, "b", fa, ttl, at(5)).await.unwrap(),
            "only the holder renews"
        );
        assert!(
            !lease.renew(&name, "a", fa + 1, ttl, at(5)).await.unwrap(),
            "only under its fence"
        );
        assert_eq!(
            lease.acquire(&name, "b", ttl, at(14)).await.unwrap(),
            None,
            "renewed until 15 s"
        );
        // After the deadline another holder takes it, with a larger fence.
        let Some(fb) = lease.acquire(&name, "b", ttl, at(16)).await.unwrap() else {
            panic!("an expired lease is taken over")
        };
        assert!(fb > fa, "a new holder gets a larger fence");
        assert!(
            !lease.renew(&name, "a", fa, ttl, at(17)).await.unwrap(),
            "the deposed holder cannot renew"
        );
        lease.release(&name, "a", fa).await.unwrap();
        assert_eq!(
            lease.acquire(&name, "a", ttl, at(18)).await.unwrap(),
            None,
            "a stranger's release changes nothing"
        );
        lease.release(&name, "b", fb).await.unwrap();
        let Some(fa2) = lease.acquire(&name, "a", ttl, at(19)).await.unwrap() else {
            panic!("a released lease is free")
        };
        assert!(fa2 > fb);
        assert!(
            !lease.renew(&name, "a", fa2, ttl, at(40)).await.unwrap(),
            "no renewal past the deadline"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::clock::{Clock, ManualClock};

    #[tokio::test]
    async fn the_memory_lease_passes_the_suite() {
        conformance::run(
            Arc::new(MemoryLease::default()),
            &ManualClock::new(Utc::now()),
        )
        .await;
    }

    #[cfg(feature = "redis")]
    #[tokio::test]
    async fn the_redis_lease_passes_the_suite() {
        for url in crate::redis::test_urls() {
            let prefix = format!("test:{:x}:", crate::dedup::random_token());
            let lease = crate::redis::RedisLease::connect(&url, &prefix)
                .await
                .unwrap();
            conformance::run(Arc::new(lease), &ManualClock::new(Utc::now())).await;
        }
    }

    /// On tokio's paused time: the sleeps below and the lease's deadlines
    /// (through `TokioClock`) move together, and no real time passes.
    #[tokio::test(start_paused = true)]
    async fn a_second_instance_takes_over_when_the_leader_dies() {
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::TokioClock::new(Utc::now()));
        let lease: Arc<dyn LeaderLease> = Arc::new(MemoryLease::default());
        let ttl = Duration::from_millis(150);
        let leading = Arc::new(AtomicU32::new(0));
        let spawn = |holder: &'static str| {
            let (lease, leading, clock) = (lease.clone(), leading.clone(), clock.clone());
            tokio::spawn(async move {
                run_as_leader(lease, "job", holder, ttl, clock, |fence| {
                    let leading = leading.clone();
                    async move {
                        assert_eq!(
                            leading.fetch_add(1, Ordering::SeqCst),
                            0,
                            "one leader at a time"
                        );
                        // Works until it is dropped (a crash, a lost lease).
                        let _guard = Decrement(leading);
                        std::future::pending::<u64>().await;
                        fence
                    }
                })
                .await
            })
        };
        let first = spawn("a");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let second = spawn("b");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(leading.load(Ordering::SeqCst), 1);
        // The leader dies (kill -9: no release).
        first.abort();
        let _ = first.await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(leading.load(Ordering::SeqCst), 1, "the second took over");
        second.abort();
    }

    struct Decrement(Arc<AtomicU32>);

    impl Drop for Decrement {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
