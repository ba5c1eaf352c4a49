//! The service's own upkeep: its queues pruned on a schedule
//! ([`Retention::every`]), so completed keys and old dead letters never pile
//! up, whichever store holds them.

use std::sync::Arc;

use crate::clock::Clock;
use crate::queue::{JobQueue, Pruned, QueueError, Retention};

/// The queues a service prunes, by name.
#[derive(Clone, Default)]
pub(super) struct Queues(pub(super) Vec<(&'static str, Arc<dyn JobQueue>)>);

impl std::fmt::Debug for Queues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, _)| n))
            .finish()
    }
}

/// Prunes every queue once at the clock's `now`.
pub(super) async fn prune(
    queues: &Queues,
    clock: &dyn Clock,
    retention: &Retention,
) -> Result<Pruned, QueueError> {
    let mut total = Pruned::default();
    for (name, q) in &queues.0 {
        let pruned = q.prune(clock.now(), retention).await?;
        if pruned != Pruned::default() {
            tracing::info!(
                queue = name,
                completed_keys = pruned.completed_keys,
                dead_letters = pruned.dead_letters,
                "pruned"
            );
        }
        total += pruned;
    }
    Ok(total)
}

/// Prunes on a schedule until aborted. A failed prune is logged and tried
/// again at the next tick: never a reason to stop.
pub(super) fn spawn(
    queues: Queues,
    clock: Arc<dyn Clock>,
    retention: Retention,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = retention.every.max(std::time::Duration::from_secs(1));
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = prune(&queues, &*clock, &retention).await {
                tracing::warn!(error = %e, "pruning the queues failed; trying again later");
            }
        }
    })
}
