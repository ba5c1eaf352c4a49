//! The metrics this crate records, through the [`metrics`] facade, when the
//! `metrics` feature is on.
//!
//! The crate only records: install a recorder (an exporter) in the app, e.g.
//! `metrics-exporter-prometheus`, and serve what it renders. With no recorder
//! installed, recording costs an atomic load. Names and labels follow the
//! Prometheus conventions (base units, `_total` counters, `_seconds`
//! durations); no label ever holds a record id, a phone number or a value.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | [`CALLS`] | counter | `class` (the REST area: `query`, `sobjects`, `composite`, `jobs`, `tooling`, `limits`, `connect`, `other`), `outcome` (`ok`, `failed`) |
//! | [`CALL_SECONDS`] | histogram | `class` (a call's time, its retries included) |
//! | [`API_REQUESTS_USED`] | gauge | — (from the latest `Sforce-Limit-Info` header) |
//! | [`API_REQUESTS_MAX`] | gauge | — (the org's allocation for the rolling 24 hours) |
//! | [`TOKEN_RENEWALS`] | counter | `outcome` (`ok`, `failed`, `refused`: credentials refused for good) |
//! | [`PUBSUB_EVENTS`] | counter | — (events handed to the handler) |
//! | [`PUBSUB_LAG_SECONDS`] | histogram | — (now − the event's commit or creation time) |
//! | [`PUBSUB_RECONNECTS`] | counter | — |
//! | [`PUBSUB_DEAD_LETTERS`] | counter | — (events that could not be decoded) |
//!
//! [`metrics`]: https://docs.rs/metrics

#![cfg_attr(not(feature = "metrics"), allow(unused_variables, dead_code))]

/// REST calls made, by area and outcome.
pub const CALLS: &str = "salesforce_calls_total";
/// How long REST calls took, retries included, in seconds.
pub const CALL_SECONDS: &str = "salesforce_call_seconds";
/// API requests used in the rolling 24 hours, as the org last reported.
pub const API_REQUESTS_USED: &str = "salesforce_api_requests_used";
/// The org's API request allocation for the rolling 24 hours.
pub const API_REQUESTS_MAX: &str = "salesforce_api_requests_max";
/// Session renewals, by outcome.
pub const TOKEN_RENEWALS: &str = "salesforce_token_renewals_total";
/// Pub/Sub events handed to the handler.
pub const PUBSUB_EVENTS: &str = "salesforce_pubsub_events_total";
/// How old Pub/Sub events were when they arrived, in seconds.
pub const PUBSUB_LAG_SECONDS: &str = "salesforce_pubsub_lag_seconds";
/// Pub/Sub reconnections after a fault.
pub const PUBSUB_RECONNECTS: &str = "salesforce_pubsub_reconnects_total";
/// Pub/Sub events dead-lettered.
pub const PUBSUB_DEAD_LETTERS: &str = "salesforce_pubsub_dead_letters_total";

/// The REST area of a path (`/services/data/v62.0/sobjects/Case/...` →
/// `sobjects`): a bounded label, never an id.
pub fn call_class(path: &str) -> &'static str {
    // Relative (`sobjects/Case`) or full (`/services/data/v62.0/sobjects/Case`).
    let path = path.trim_start_matches('/');
    let mut parts = path.split('/');
    let area = match (parts.next(), parts.next(), parts.next()) {
        (Some("services"), Some("data"), Some(_version)) => parts.next().unwrap_or(""),
        _ => path.split('/').next().unwrap_or(""),
    };
    let area = area.split('?').next().unwrap_or("");
    match area {
        "query" | "queryAll" => "query",
        "sobjects" => "sobjects",
        "composite" => "composite",
        "jobs" => "jobs",
        "tooling" => "tooling",
        "limits" => "limits",
        "connect" | "chatter" => "connect",
        _ => "other",
    }
}

/// One REST call's end (after its retries).
pub(crate) fn call_finished(path: &str, ok: bool, elapsed: std::time::Duration) {
    #[cfg(feature = "metrics")]
    {
        let class = call_class(path);
        let outcome = if ok { "ok" } else { "failed" };
        metrics::counter!(CALLS, "class" => class, "outcome" => outcome).increment(1);
        metrics::histogram!(CALL_SECONDS, "class" => class).record(elapsed.as_secs_f64());
    }
}

/// The org's reported API usage.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn api_usage(used: u64, max: u64) {
    #[cfg(feature = "metrics")]
    {
        metrics::gauge!(API_REQUESTS_USED).set(used as f64);
        metrics::gauge!(API_REQUESTS_MAX).set(max as f64);
    }
}

/// A session renewal's outcome.
pub(crate) fn renewal(result: &Result<(), &crate::Error>) {
    #[cfg(feature = "metrics")]
    {
        let outcome = match result {
            Ok(()) => "ok",
            Err(crate::Error::ReauthorizationRequired(_)) => "refused",
            Err(_) => "failed",
        };
        metrics::counter!(TOKEN_RENEWALS, "outcome" => outcome).increment(1);
    }
}

/// A Pub/Sub reconnection.
#[cfg(feature = "pubsub")]
pub(crate) fn pubsub_reconnect() {
    #[cfg(feature = "metrics")]
    metrics::counter!(PUBSUB_RECONNECTS).increment(1);
}

/// A Pub/Sub event dead-lettered.
#[cfg(feature = "pubsub")]
pub(crate) fn pubsub_dead_letter() {
    #[cfg(feature = "metrics")]
    metrics::counter!(PUBSUB_DEAD_LETTERS).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_classes_are_bounded_and_never_hold_ids() {
        assert_eq!(
            call_class("/services/data/v62.0/sobjects/Case/WhatsApp_Message_Id__c/wamid.X"),
            "sobjects"
        );
        assert_eq!(call_class("/services/data/v62.0/query"), "query");
        assert_eq!(
            call_class("/services/data/v62.0/query?q=SELECT+Id"),
            "query"
        );
        assert_eq!(
            call_class("/services/data/v62.0/composite/sobjects"),
            "composite"
        );
        assert_eq!(call_class("/services/data/v62.0/jobs/ingest/750x"), "jobs");
        assert_eq!(call_class("/services/oauth2/userinfo"), "other");
        assert_eq!(call_class("sobjects/Case/500x"), "sobjects");
        assert_eq!(call_class("query?q=SELECT+Id"), "query");
        assert_eq!(call_class(""), "other");
    }
}
