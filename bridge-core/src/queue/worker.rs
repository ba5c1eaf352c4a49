//! Workers: lease jobs, run a handler with bounded concurrency, ack, retry or
//! dead-letter, and stop gracefully.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use super::{Decision, FailureClass, Job, JobId, JobQueue, Lease, QueueError, RetryPolicy};
use crate::clock::Clock;
use crate::error::BridgeError;
use crate::metrics::JobEnd;

/// A failed attempt, as a handler reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct JobError {
    /// What happened (no customer data: it is stored with the job and logged).
    pub message: String,
    /// How to treat it.
    pub class: FailureClass,
    /// The earliest time to try again, when the other side said.
    pub retry_after: Option<Duration>,
}

impl JobError {
    /// A failure worth retrying.
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            class: FailureClass::Transient,
            retry_after: None,
        }
    }

    /// A failure no retry can fix: the job is dead-lettered at once.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            class: FailureClass::Permanent,
            retry_after: None,
        }
    }

    /// The other side asked to slow down.
    pub fn rate_limited(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self {
            message: message.into(),
            class: FailureClass::RateLimited,
            retry_after,
        }
    }
}

/// How long a job waits before trying again after Salesforce or WhatsApp
/// refused the credentials.
pub const AUTH_RETRY_AFTER: Duration = Duration::from_secs(60);

impl From<BridgeError> for JobError {
    fn from(e: BridgeError) -> Self {
        let message = e.to_string();
        let retry_after = e.retry_after();
        // Refused credentials are an outage of the whole service, not a
        // fault of the message: it waits (readiness says why) instead of
        // going straight to the dead letters, and goes through once the
        // credentials are fixed within its attempts.
        if e.credentials_refused() {
            return JobError::rate_limited(
                format!("{message} (credentials refused; trying again)"),
                Some(retry_after.map_or(AUTH_RETRY_AFTER, |r| r.max(AUTH_RETRY_AFTER))),
            );
        }
        if !e.is_retryable() {
            JobError::permanent(message)
        } else if e.is_rate_limited() {
            JobError::rate_limited(message, retry_after)
        } else {
            JobError {
                retry_after,
                ..JobError::transient(message)
            }
        }
    }
}

impl From<QueueError> for JobError {
    fn from(e: QueueError) -> Self {
        // Another worker has the job now: nothing to dead-letter, and the
        // retry this asks for is refused for the same reason (the job's
        // outcome is the other worker's to record).
        if e.is_retryable() || matches!(e, QueueError::LeaseLost { .. }) {
            JobError::transient(e.to_string())
        } else {
            JobError::permanent(e.to_string())
        }
    }
}

/// What a handler is given: the job, and a way to record progress.
pub struct JobContext<'a> {
    lease: &'a Lease,
    queue: &'a dyn JobQueue,
}

impl std::fmt::Debug for JobContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext")
            .field("job", &self.lease.job)
            .finish_non_exhaustive()
    }
}

impl<'a> JobContext<'a> {
    /// A context (for calling a handler outside a [`Worker`], e.g. in tests).
    pub fn new(lease: &'a Lease, queue: &'a dyn JobQueue) -> Self {
        Self { lease, queue }
    }

    /// The job.
    pub fn job(&self) -> &Job {
        &self.lease.job
    }

    /// The lease.
    pub fn lease(&self) -> &Lease {
        self.lease
    }

    /// Records progress durably (see [`JobQueue::checkpoint`]).
    pub async fn checkpoint(&self, data: &[u8]) -> Result<(), QueueError> {
        self.queue.checkpoint(self.lease, data).await
    }
}

/// Does the work of a job. `Ok` acks it; an error is retried or
/// dead-lettered as the [`RetryPolicy`] decides.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Handles one attempt.
    async fn handle(&self, cx: &JobContext<'_>) -> Result<(), JobError>;
}

/// The queue name of a [`WorkerOptions`] nobody named.
pub(crate) const UNNAMED: &str = "jobs";

/// Settings of a [`Worker`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// Jobs handled at once (different groups; one group is always serial).
    pub concurrency: usize,
    /// How long a lease hides a job. The worker renews it every third of this
    /// while the job runs, so it only runs out when the worker is gone (then
    /// another worker takes the job over after at most this long).
    pub visibility: Duration,
    /// How often an idle worker looks for due jobs (a [`WorkerHandle::wake`]
    /// or a local enqueue wakes it at once).
    pub idle_poll: Duration,
    /// Retries and dead letters.
    pub retry: RetryPolicy,
    /// On shutdown, how long running jobs may finish before they are
    /// abandoned and released.
    pub shutdown_grace: Duration,
    /// The queue's name in metrics and logs (`inbox`, `outbox`; default
    /// `jobs`): a short fixed name, never data.
    pub name: String,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            visibility: Duration::from_secs(30),
            idle_poll: Duration::from_millis(200),
            retry: RetryPolicy::default(),
            shutdown_grace: Duration::from_secs(30),
            name: UNNAMED.to_owned(),
        }
    }
}

impl WorkerOptions {
    /// Sets the concurrency (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
    /// Sets the visibility timeout.
    pub fn visibility(mut self, d: Duration) -> Self {
        self.visibility = d;
        self
    }
    /// Sets the idle poll interval.
    pub fn idle_poll(mut self, d: Duration) -> Self {
        self.idle_poll = d;
        self
    }
    /// Sets the retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }
    /// Sets the shutdown grace period.
    pub fn shutdown_grace(mut self, d: Duration) -> Self {
        self.shutdown_grace = d;
        self
    }
    /// Sets the queue's name in metrics and logs.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}

/// Runs a handler over a queue.
#[derive(Debug)]
pub struct Worker;

/// A running worker: wake it, stop it.
#[derive(Debug)]
pub struct WorkerHandle {
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl WorkerHandle {
    /// Looks for due jobs now (call after enqueueing).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Whether the worker is still running (not stopped, not crashed).
    pub fn is_running(&self) -> bool {
        match self.task.try_lock() {
            Ok(task) => task.as_ref().is_some_and(|t| !t.is_finished()),
            // Held only by `shutdown`, which is stopping it.
            Err(_) => false,
        }
    }

    /// A waker to hand to the code that enqueues.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Stops leasing, lets running jobs finish within the grace period,
    /// releases the ones that did not, and returns. Dropping the handle stops
    /// the worker the same way, without waiting for it.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

type InFlight = Arc<Mutex<HashMap<JobId, Lease>>>;

impl Worker {
    /// Starts a worker on the current Tokio runtime.
    pub fn spawn(
        queue: Arc<dyn JobQueue>,
        handler: Arc<dyn JobHandler>,
        options: WorkerOptions,
        clock: Arc<dyn Clock>,
    ) -> WorkerHandle {
        Self::spawn_with_waker(queue, handler, options, clock, Arc::new(Notify::new()))
    }

    /// Starts a worker that wakes on a [`Notify`] made beforehand (for
    /// enqueuers built before the worker).
    pub fn spawn_with_waker(
        queue: Arc<dyn JobQueue>,
        handler: Arc<dyn JobHandler>,
        options: WorkerOptions,
        clock: Arc<dyn Clock>,
        wake: Arc<Notify>,
    ) -> WorkerHandle {
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(queue, handler, options, clock, wake.clone(), stop_rx));
        WorkerHandle {
            wake,
            stop,
            task: tokio::sync::Mutex::new(Some(task)),
        }
    }
}

async fn run(
    queue: Arc<dyn JobQueue>,
    handler: Arc<dyn JobHandler>,
    options: WorkerOptions,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let in_flight: InFlight = Arc::default();
    let mut tasks = JoinSet::new();
    loop {
        // A dropped handle stops the worker too (instead of a closed channel
        // waking every idle wait at once).
        if *stop.borrow() || stop.has_changed().is_err() {
            break;
        }
        while tasks.try_join_next().is_some() {}
        let free = permits.available_permits();
        if free == 0 {
            tokio::select! {
                _ = tasks.join_next() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let leases = match queue.lease(free, options.visibility, clock.now()).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "leasing jobs failed; trying again");
                idle(&wake, &mut stop, options.idle_poll).await;
                continue;
            }
        };
        if leases.is_empty() {
            idle(&wake, &mut stop, options.idle_poll).await;
            continue;
        }
        for lease in leases {
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                // Cannot happen (we leased no more than the free permits);
                // give the job back rather than run it over the limit.
                let _ = queue.release(&lease, clock.now()).await;
                continue;
            };
            if let Ok(mut m) = in_flight.lock() {
                m.insert(lease.job.id.clone(), lease.clone());
            }
            let visibility = options.visibility;
            let (queue, handler, clock, retry, in_flight, name) = (
                queue.clone(),
                handler.clone(),
                clock.clone(),
                options.retry.clone(),
                in_flight.clone(),
                options.name.clone(),
            );
            tasks.spawn(async move {
                // Keep the lease alive while the job runs.
                let beat = {
                    let (queue, clock, lease) = (queue.clone(), clock.clone(), lease.clone());
                    tokio::spawn(async move {
                        let every = (visibility / 3).max(Duration::from_millis(10));
                        loop {
                            tokio::time::sleep(every).await;
                            if let Err(e) = queue.extend(&lease, visibility, clock.now()).await {
                                tracing::warn!(job = %lease.job.id, error = %e, "could not extend a lease");
                            }
                        }
                    })
                };
                let started = std::time::Instant::now();
                let end = run_one(&queue, handler, &*clock, &retry, &lease).await;
                crate::metrics::job_finished(&name, end, started.elapsed());
                beat.abort();
                if let Ok(mut m) = in_flight.lock() {
                    m.remove(&lease.job.id);
                }
                drop(permit);
            });
        }
    }
    // Graceful shutdown: no new leases; let running jobs finish.
    let finished = tokio::time::timeout(options.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        let abandoned: Vec<Lease> = in_flight
            .lock()
            .map(|mut m| m.drain().map(|(_, l)| l).collect())
            .unwrap_or_default();
        for lease in abandoned {
            if let Err(e) = queue.release(&lease, clock.now()).await {
                tracing::warn!(job = %lease.job.id, error = %e, "could not release a job on shutdown; its lease will expire");
            }
        }
    }
}

async fn idle(wake: &Notify, stop: &mut watch::Receiver<bool>, poll: Duration) {
    tokio::select! {
        () = wake.notified() => {}
        () = tokio::time::sleep(poll) => {}
        _ = stop.changed() => {}
    }
}

async fn run_one(
    queue: &Arc<dyn JobQueue>,
    handler: Arc<dyn JobHandler>,
    clock: &dyn Clock,
    retry: &RetryPolicy,
    lease: &Lease,
) -> JobEnd {
    let job = &lease.job;
    let span = tracing::info_span!("job", id = %job.id, attempt = job.attempts);
    let result = if job.attempts > retry.max_attempts {
        // Leased more often than the policy allows: earlier attempts never
        // reported back (the process died while handling it).
        Err(JobError::permanent(format!(
            "gave up after {} attempts that never finished (did the worker crash on this job?)",
            job.attempts - 1
        )))
    } else {
        // The handler runs in its own task: a panic must not take the worker
        // down or strand the job.
        let (lease2, queue2) = (lease.clone(), queue.clone());
        let attempt = tokio::spawn(tracing::Instrument::instrument(
            async move {
                let cx = JobContext::new(&lease2, &*queue2);
                handler.handle(&cx).await
            },
            span.clone(),
        ));
        match attempt.await {
            Ok(r) => r,
            Err(e) if e.is_panic() => Err(JobError::permanent("the job handler panicked")),
            Err(_) => Err(JobError::transient("the job handler was cancelled")),
        }
    };
    let now = clock.now();
    let (end, outcome) = match &result {
        Ok(()) => (JobEnd::Done, queue.ack(lease, now).await),
        Err(e) => match super::decide(
            retry,
            &super::RetryState::new(&job.id, job.attempts, e.class, now)
                .with_retry_after(e.retry_after),
        ) {
            Decision::RetryAt(at) => {
                tracing::warn!(parent: &span, error = %e, attempt = job.attempts, retry_at = %at, "job failed; will retry");
                (JobEnd::Retried, queue.nack(lease, at, &e.message).await)
            }
            _ => {
                tracing::error!(parent: &span, error = %e, attempt = job.attempts, "job dead-lettered");
                (
                    JobEnd::DeadLettered,
                    queue.dead_letter(lease, &e.message, now).await,
                )
            }
        },
    };
    match outcome {
        Ok(()) => end,
        Err(e) => {
            tracing::warn!(parent: &span, error = %e, "could not record the job's outcome; it will be handled again");
            if matches!(e, QueueError::LeaseLost { .. }) {
                JobEnd::LostLease
            } else {
                end
            }
        }
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::embedded::MemoryQueue;
    use crate::queue::{Lease, NewJob, QueueError};

    /// Refused credentials hold the job for a while instead of
    /// dead-lettering it at once.
    #[test]
    fn refused_credentials_wait_instead_of_dead_lettering() {
        let e = JobError::from(BridgeError::Send(
            crate::sender::SendError::new("WhatsApp", "190: token expired").auth(true),
        ));
        assert_eq!(e.class, FailureClass::RateLimited);
        assert!(e.retry_after >= Some(AUTH_RETRY_AFTER));
        assert!(e.message.contains("credentials refused"), "{}", e.message);
        let plain = JobError::from(BridgeError::Send(crate::sender::SendError::new(
            "WhatsApp",
            "131047: re-engagement message",
        )));
        assert_eq!(plain.class, FailureClass::Permanent);
    }

    /// A handler that lost its lease (the job expired during an outage and
    /// was leased again) is not dead-lettered: the job is the new holder's.
    #[test]
    fn a_lost_lease_is_never_a_permanent_failure() {
        let e = JobError::from(QueueError::LeaseLost {
            job: JobId::new("7"),
        });
        assert_eq!(e.class, FailureClass::Transient);
        let e = JobError::from(QueueError::storage("down"));
        assert_eq!(e.class, FailureClass::Transient);
    }

    struct Slow(Arc<AtomicUsize>);

    #[async_trait]
    impl JobHandler for Slow {
        async fn handle(&self, _cx: &JobContext<'_>) -> Result<(), JobError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(900)).await;
            Ok(())
        }
    }

    /// Counts leases: a worker that spins leases without pause.
    struct CountingLeases(MemoryQueue, AtomicUsize);

    #[async_trait]
    impl JobQueue for CountingLeases {
        async fn enqueue(
            &self,
            j: NewJob,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<crate::queue::Enqueued, QueueError> {
            self.0.enqueue(j, now).await
        }
        async fn lease(
            &self,
            max: usize,
            v: Duration,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<Vec<Lease>, QueueError> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.lease(max, v, now).await
        }
        async fn checkpoint(&self, l: &Lease, d: &[u8]) -> Result<(), QueueError> {
            self.0.checkpoint(l, d).await
        }
        async fn ack(
            &self,
            l: &Lease,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), QueueError> {
            self.0.ack(l, now).await
        }
        async fn nack(
            &self,
            l: &Lease,
            at: chrono::DateTime<chrono::Utc>,
            e: &str,
        ) -> Result<(), QueueError> {
            self.0.nack(l, at, e).await
        }
        async fn dead_letter(
            &self,
            l: &Lease,
            e: &str,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), QueueError> {
            self.0.dead_letter(l, e, now).await
        }
        async fn release(
            &self,
            l: &Lease,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), QueueError> {
            self.0.release(l, now).await
        }
        async fn dead_letters(
            &self,
            n: usize,
        ) -> Result<Vec<crate::queue::DeadLetter>, QueueError> {
            self.0.dead_letters(n).await
        }
        async fn prune(
            &self,
            now: chrono::DateTime<chrono::Utc>,
            r: &crate::queue::Retention,
        ) -> Result<crate::queue::Pruned, QueueError> {
            self.0.prune(now, r).await
        }
        async fn erase_customer(
            &self,
            c: &crate::erase::Customer,
        ) -> Result<(u64, u64), QueueError> {
            self.0.erase_customer(c).await
        }
        async fn replay(
            &self,
            id: &crate::queue::JobId,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), QueueError> {
            self.0.replay(id, now).await
        }
        async fn purge(
            &self,
            id: Option<&crate::queue::JobId>,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<u64, QueueError> {
            self.0.purge(id, now).await
        }
        async fn stats(
            &self,
            now: chrono::DateTime<chrono::Utc>,
        ) -> Result<crate::queue::QueueStats, QueueError> {
            self.0.stats(now).await
        }
    }

    /// On tokio's paused time: the waits below take no real time.
    #[tokio::test(start_paused = true)]
    async fn dropping_the_handle_stops_the_worker_instead_of_spinning() {
        let q = Arc::new(CountingLeases(
            MemoryQueue::new("drop").unwrap(),
            AtomicUsize::new(0),
        ));
        let options = WorkerOptions::default().idle_poll(Duration::from_secs(3600));
        let handle = Worker::spawn(
            q.clone(),
            Arc::new(Slow(Arc::default())),
            options,
            Arc::new(crate::clock::TokioClock::new(chrono::Utc::now())),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(handle);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after_drop = q.1.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            q.1.load(Ordering::SeqCst),
            after_drop,
            "no leasing after the handle is gone"
        );
        assert!(
            after_drop < 10,
            "an idle worker waits for its poll interval: {after_drop} leases"
        );
    }

    /// On tokio's paused time, with the queue's times from the same
    /// `TokioClock`: the job (900 ms) outlives its visibility (200 ms) only
    /// through the worker's renewals, and no real time passes.
    #[tokio::test(start_paused = true)]
    async fn a_job_longer_than_its_visibility_is_renewed_not_run_twice() {
        let clock = Arc::new(crate::clock::TokioClock::new(chrono::Utc::now()));
        let q: Arc<dyn JobQueue> = Arc::new(MemoryQueue::new("slow").unwrap());
        let runs = Arc::new(AtomicUsize::new(0));
        let options = WorkerOptions::default()
            .visibility(Duration::from_millis(200))
            .idle_poll(Duration::from_millis(20));
        let workers: Vec<WorkerHandle> = (0..2)
            .map(|_| {
                Worker::spawn(
                    q.clone(),
                    Arc::new(Slow(runs.clone())),
                    options.clone(),
                    clock.clone(),
                )
            })
            .collect();
        q.enqueue(NewJob::new("long", "g", b"x".to_vec()), clock.now())
            .await
            .unwrap();
        for _ in 0..200 {
            let s = q.stats(clock.now()).await.unwrap();
            if s.depth == 0 && s.in_flight == 0 && runs.load(Ordering::SeqCst) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "the other worker never saw the job while it ran"
        );
        for w in workers {
            w.shutdown().await;
        }
    }
}
