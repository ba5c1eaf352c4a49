//! The metrics this crate records, through the [`metrics`] facade, when the
//! `metrics` feature is on.
//!
//! The crate only records: install a recorder (an exporter) in the app, e.g.
//! `metrics-exporter-prometheus`, and serve what it renders (the
//! `webhook_to_case` example serves `/metrics`). With no recorder installed,
//! recording costs an atomic load. Names and labels follow the Prometheus
//! conventions (base units, `_total` counters, `_seconds` durations); no label
//! ever holds a phone number, a message or job id, or text.
//!
//! Queue gauges are sampled, not counted: call
//! [`BridgeService::record_metrics`](crate::service::BridgeService::record_metrics)
//! (or [`QueueStats::record_metrics`](crate::queue::QueueStats::record_metrics) for a queue of your own) before each scrape.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | [`QUEUE_DEPTH`] | gauge | `queue` (`inbox`, `outbox`, `ledger`, ...), `store` (`embedded`, `redis`, `memory`) |
//! | [`QUEUE_IN_FLIGHT`] | gauge | `queue`, `store` (jobs under a live lease) |
//! | [`QUEUE_OLDEST_AGE_SECONDS`] | gauge | `queue`, `store` (0 when empty) |
//! | [`QUEUE_RETRIES`] | counter | `queue`, `store` (retries the store scheduled since it was created) |
//! | [`QUEUE_DEAD_LETTERS`] | gauge | `queue`, `store` (dead letters held) |
//! | [`JOBS`] | counter | `queue`, `outcome` (`done`, `retried`, `dead_lettered`, `lost_lease`) |
//! | [`JOB_SECONDS`] | histogram | `queue` (one attempt's time) |
//! | [`MESSAGES`] | counter | `outcome` (`case`, `thread`, `lead`, `contact`, `other`, `skipped`), `reason` (`none`; for skipped: `replay`, `from_us`, `duplicate`, `opt_out`, `opt_in`, `ignored`) |
//! | [`END_TO_END_SECONDS`] | histogram | `stage` (`record_written`, `reply_sent`: from the webhook's enqueue) |
//! | [`PACING_WAIT_SECONDS`] | histogram | `scope` (`number`: the per-business-number send rate) |
//!
//! [`metrics`]: https://docs.rs/metrics

#![cfg_attr(not(feature = "metrics"), allow(unused_variables, dead_code))]

use std::time::Duration;

/// Jobs waiting in a queue.
pub const QUEUE_DEPTH: &str = "bridge_queue_depth";
/// Jobs under a live lease.
pub const QUEUE_IN_FLIGHT: &str = "bridge_queue_in_flight";
/// Age of a queue's oldest waiting or in-flight job, in seconds.
pub const QUEUE_OLDEST_AGE_SECONDS: &str = "bridge_queue_oldest_job_age_seconds";
/// Retries a queue's store scheduled.
pub const QUEUE_RETRIES: &str = "bridge_queue_retries_total";
/// Dead letters a queue holds.
pub const QUEUE_DEAD_LETTERS: &str = "bridge_queue_dead_letters";
/// Job attempts finished, by outcome.
pub const JOBS: &str = "bridge_jobs_total";
/// How long job attempts took, in seconds.
pub const JOB_SECONDS: &str = "bridge_job_seconds";
/// Inbound messages processed, by outcome.
pub const MESSAGES: &str = "bridge_messages_total";
/// From the webhook's enqueue to the record written, and to the reply sent.
pub const END_TO_END_SECONDS: &str = "bridge_end_to_end_seconds";
/// Time sends waited for the per-number send rate, in seconds.
pub const PACING_WAIT_SECONDS: &str = "whatsapp_pacing_wait_seconds";

/// How a job attempt ended, as the worker recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobEnd {
    Done,
    Retried,
    DeadLettered,
    LostLease,
}

pub(crate) fn job_finished(queue: &str, end: JobEnd, took: Duration) {
    #[cfg(feature = "metrics")]
    {
        let outcome = match end {
            JobEnd::Done => "done",
            JobEnd::Retried => "retried",
            JobEnd::DeadLettered => "dead_lettered",
            JobEnd::LostLease => "lost_lease",
        };
        metrics::counter!(JOBS, "queue" => queue.to_owned(), "outcome" => outcome).increment(1);
        metrics::histogram!(JOB_SECONDS, "queue" => queue.to_owned()).record(took.as_secs_f64());
    }
}

/// A message written: its outcome label from what was written.
/// A message was written to Salesforce: `outcome` is `thread`, `case`,
/// `lead`, `contact` or `other` (see `WriteOutcome::metric_outcome`).
pub(crate) fn message_written(outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(MESSAGES, "outcome" => outcome, "reason" => "none").increment(1);
}

/// A message skipped; `reason` is one of the documented labels.
pub(crate) fn message_skipped(reason: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(MESSAGES, "outcome" => "skipped", "reason" => reason).increment(1);
}

/// A stage reached, `since` the webhook's enqueue.
pub(crate) fn end_to_end(stage: &'static str, since: Duration) {
    #[cfg(feature = "metrics")]
    metrics::histogram!(END_TO_END_SECONDS, "stage" => stage).record(since.as_secs_f64());
}

/// A send waited for the per-number rate.
pub(crate) fn paced(wait: Duration) {
    #[cfg(feature = "metrics")]
    metrics::histogram!(PACING_WAIT_SECONDS, "scope" => "number").record(wait.as_secs_f64());
}
