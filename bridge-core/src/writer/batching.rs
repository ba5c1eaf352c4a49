//! Coalescing concurrent writes into batches: [`Batching`] wraps any
//! [`RecordWriter`] and hands the writes that arrive together to its
//! [`write_batch`](RecordWriter::write_batch).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{RecordWriter, WriteOutcome};
use crate::error::BridgeError;
use crate::inbound::CustomerMessage;
use crate::ledger::LedgerEntry;
use crate::mapping::Action;

/// How [`Batching`] groups writes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchOptions {
    /// The most writes in one batch (default 200, one sObject Collections call).
    pub max_batch: usize,
    /// How long a batch waits for more writes once a burst is under way
    /// (default 50 ms). A write that arrives alone, with nothing in flight,
    /// goes at once.
    pub max_delay: Duration,
    /// How many batches may be written at the same time (default 8). The
    /// writes waiting together are shared by the batches in flight: give
    /// the inbox worker about `max_in_flight × max_batch / 2` concurrency
    /// (1,024 for the defaults) so that batches stay large (0.025 calls per
    /// message in a burst) while a slow org's calls overlap.
    pub max_in_flight: usize,
    /// How long ledger entries (outbound messages, statuses) wait for
    /// company before they are written together (default 250 ms).
    pub ledger_delay: Duration,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            max_batch: 200,
            max_delay: Duration::from_millis(50),
            max_in_flight: 8,
            ledger_delay: Duration::from_millis(250),
        }
    }
}

impl BatchOptions {
    /// The most writes in one batch (at least 1).
    pub fn max_batch(mut self, n: usize) -> Self {
        self.max_batch = n.max(1);
        self
    }

    /// How long a batch waits for more writes during a burst.
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// How long ledger entries wait for company.
    pub fn ledger_delay(mut self, d: Duration) -> Self {
        self.ledger_delay = d;
        self
    }

    /// How many batches may be in flight (at least 1).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }
}

type Answer = oneshot::Sender<Result<WriteOutcome, BridgeError>>;
type LedgerAnswer = oneshot::Sender<Result<(), BridgeError>>;

/// Ledger entries per group commit (five collections: one Salesforce call).
const LEDGER_BATCH: usize = 1_000;

/// A [`RecordWriter`] that coalesces concurrent writes into batches.
///
/// Each [`write`](RecordWriter::write) waits in a queue; a background task
/// takes what is waiting (up to [`BatchOptions::max_batch`]) and hands it to
/// the inner writer's [`write_batch`](RecordWriter::write_batch). A write
/// that arrives alone while nothing is in flight is written at once, so a
/// trickle of messages sees no added delay; during a burst a batch waits at
/// most [`BatchOptions::max_delay`] to fill. Each write gets its own result:
/// one record's failure fails only its message, which the queue retries alone.
/// Ledger entries ([`write_ledger`](RecordWriter::write_ledger): outbound
/// messages, delivery statuses) are coalesced the same way, up to 1,000 per
/// batch (one Salesforce call).
///
/// Give the inbox worker enough concurrency for batches to form (the
/// worker's concurrency bounds how many writes can wait together).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use bridge_core::writer::{BatchOptions, Batching, RecordWriter};
/// # use bridge_core::writer::WriteOutcome;
/// # use bridge_core::{BridgeError, inbound::CustomerMessage, mapping::Action};
/// # struct Crm;
/// # #[async_trait::async_trait]
/// # impl RecordWriter for Crm {
/// #     async fn write(&self, _: &Action, _: &CustomerMessage) -> Result<WriteOutcome, BridgeError> {
/// #         Ok(WriteOutcome::default())
/// #     }
/// # }
/// let writer: Arc<dyn RecordWriter> = Arc::new(Batching::new(Crm, BatchOptions::default()));
/// # let _ = writer;
/// # }
/// ```
///
/// Must be created inside a Tokio runtime (it spawns its tasks). Dropping
/// every clone stops the tasks once the waiting writes are done.
pub struct Batching<W> {
    inner: Arc<W>,
    tx: mpsc::UnboundedSender<((Action, CustomerMessage), Answer)>,
    ledger: mpsc::UnboundedSender<(LedgerEntry, LedgerAnswer)>,
}

impl<W> std::fmt::Debug for Batching<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batching").finish_non_exhaustive()
    }
}

impl<W: RecordWriter + 'static> Batching<W> {
    /// Wraps a writer.
    #[allow(clippy::needless_pass_by_value)] // an owned builder value, as everywhere
    pub fn new(inner: W, options: BatchOptions) -> Self {
        let inner = Arc::new(inner);
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = inner.clone();
        tokio::spawn(group_commit(
            rx,
            options.clone(),
            false,
            move |items: Vec<(Action, CustomerMessage)>| {
                let writer = writer.clone();
                async move {
                    tracing::debug!(size = items.len(), "writing a batch");
                    writer.write_batch(&items).await
                }
            },
        ));
        let (ledger, rx) = mpsc::unbounded_channel();
        let writer = inner.clone();
        // Ledger entries are never urgent: a batch always waits for company
        // (at most `ledger_delay`), so a wave of statuses is one call.
        let ledger_options = BatchOptions {
            max_batch: LEDGER_BATCH,
            max_delay: options.ledger_delay,
            ..options
        };
        tokio::spawn(group_commit(
            rx,
            ledger_options,
            true,
            move |entries: Vec<LedgerEntry>| {
                let writer = writer.clone();
                async move {
                    tracing::debug!(size = entries.len(), "writing ledger entries");
                    writer.write_ledger(&entries).await
                }
            },
        ));
        Self { inner, tx, ledger }
    }

    /// The wrapped writer.
    pub fn inner(&self) -> &W {
        &self.inner
    }
}

/// Group commit: takes what is waiting, waits at most `max_delay` for more
/// while a burst is under way (a lone item goes at once), hands the batch to
/// `write` and each result to its caller.
async fn group_commit<T, R, F, Fut>(
    mut rx: mpsc::UnboundedReceiver<(T, oneshot::Sender<Result<R, BridgeError>>)>,
    options: BatchOptions,
    always_wait: bool,
    write: F,
) where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Vec<Result<R, BridgeError>>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(options.max_in_flight.max(1)));
    let max = options.max_batch.max(1);
    while let Some(first) = rx.recv().await {
        // Items keep arriving while we wait for a slot: they join this batch.
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let mut batch = vec![first];
        while batch.len() < max
            && let Ok(more) = rx.try_recv()
        {
            batch.push(more);
        }
        let busy = slots.available_permits() + 1 < options.max_in_flight.max(1);
        if (always_wait || batch.len() > 1 || busy)
            && batch.len() < max
            && !options.max_delay.is_zero()
        {
            let deadline = tokio::time::Instant::now() + options.max_delay;
            while batch.len() < max {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(more)) => batch.push(more),
                    _ => break,
                }
            }
        }
        let (items, answers): (Vec<T>, Vec<_>) = batch.into_iter().unzip();
        let done = write(items);
        tokio::spawn(async move {
            let mut results = done.await.into_iter();
            for answer in answers {
                let result = results.next().unwrap_or_else(|| {
                    Err(BridgeError::Interrupted(
                        "the writer returned fewer results than writes".into(),
                    ))
                });
                let _ = answer.send(result);
            }
            drop(permit);
        });
    }
}

#[async_trait]
impl<W: RecordWriter + 'static> RecordWriter for Batching<W> {
    async fn write(
        &self,
        action: &Action,
        message: &CustomerMessage,
    ) -> Result<WriteOutcome, BridgeError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(((action.clone(), message.clone()), tx))
            .map_err(|_| BridgeError::Interrupted("the batching task has stopped".into()))?;
        rx.await.map_err(|_| {
            BridgeError::Interrupted("the batch holding this write stopped before answering".into())
        })?
    }

    async fn record_opt_out(
        &self,
        message: &CustomerMessage,
        opted_out: bool,
    ) -> Result<(), BridgeError> {
        self.inner.record_opt_out(message, opted_out).await
    }

    async fn write_batch(
        &self,
        items: &[(Action, CustomerMessage)],
    ) -> Vec<Result<WriteOutcome, BridgeError>> {
        self.inner.write_batch(items).await
    }

    async fn write_ledger(&self, entries: &[LedgerEntry]) -> Vec<Result<(), BridgeError>> {
        let mut waiting = Vec::with_capacity(entries.len());
        for e in entries {
            let (tx, rx) = oneshot::channel();
            if self.ledger.send((e.clone(), tx)).is_err() {
                return entries
                    .iter()
                    .map(|_| {
                        Err(BridgeError::Interrupted(
                            "the batching task has stopped".into(),
                        ))
                    })
                    .collect();
            }
            waiting.push(rx);
        }
        let mut out = Vec::with_capacity(waiting.len());
        for rx in waiting {
            out.push(rx.await.unwrap_or_else(|_| {
                Err(BridgeError::Interrupted(
                    "the batch holding this ledger entry stopped before answering".into(),
                ))
            }));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::inbound::Channel;

    /// Records the size of each batch; answers each write with its message id.
    #[derive(Default)]
    struct Sizes(Mutex<Vec<usize>>);

    #[async_trait]
    impl RecordWriter for Sizes {
        async fn write(
            &self,
            _: &Action,
            m: &CustomerMessage,
        ) -> Result<WriteOutcome, BridgeError> {
            if m.id.ends_with("bad") {
                return Err(BridgeError::Mapping("bad record".into()));
            }
            Ok(WriteOutcome {
                record_id: Some(m.id.clone()),
                ..WriteOutcome::default()
            })
        }

        async fn write_batch(
            &self,
            items: &[(Action, CustomerMessage)],
        ) -> Vec<Result<WriteOutcome, BridgeError>> {
            if let Ok(mut s) = self.0.lock() {
                s.push(items.len());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let mut out = Vec::new();
            for (a, m) in items {
                out.push(self.write(a, m).await);
            }
            out
        }
    }

    fn item(id: &str) -> (Action, CustomerMessage) {
        (
            Action::Ignore {
                reason: "test".into(),
            },
            CustomerMessage::text(Channel::WhatsApp, id, "14155550123", "hi"),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_write_goes_at_once() {
        let w = Batching::new(
            Sizes::default(),
            BatchOptions::default().max_delay(Duration::from_secs(10)),
        );
        let (a, m) = item("wamid.1");
        let start = tokio::time::Instant::now();
        let out = w.write(&a, &m).await.unwrap();
        assert_eq!(out.record_id.as_deref(), Some("wamid.1"));
        // Only the writer's own 100 ms, no waiting for company.
        assert_eq!(start.elapsed(), Duration::from_millis(100));
        assert_eq!(*w.inner().0.lock().unwrap(), vec![1]);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_writes_share_batches_and_keep_their_own_results() {
        let w = Arc::new(Batching::new(
            Sizes::default(),
            BatchOptions::default().max_in_flight(1).max_batch(30),
        ));
        let mut tasks = Vec::new();
        for i in 0..50 {
            let w = w.clone();
            let id = if i == 7 {
                "wamid.bad".to_owned()
            } else {
                format!("wamid.{i}")
            };
            tasks.push(tokio::spawn(async move {
                let (a, m) = item(&id);
                (id, w.write(&a, &m).await)
            }));
        }
        for t in tasks {
            let (id, r) = t.await.unwrap();
            match r {
                Ok(out) => assert_eq!(out.record_id.as_deref(), Some(id.as_str())),
                Err(e) => {
                    assert_eq!(id, "wamid.bad");
                    assert!(matches!(e, BridgeError::Mapping(_)));
                }
            }
        }
        let sizes = w.inner().0.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 50);
        assert!(sizes.len() <= 3, "{sizes:?}");
        assert!(sizes.iter().all(|s| *s <= 30), "{sizes:?}");
    }
}
