//! The metrics this crate records, through the [`metrics`] facade, when the
//! `metrics` feature is on.
//!
//! The crate only records: install a recorder (an exporter) in the app, e.g.
//! `metrics-exporter-prometheus`, and serve what it renders. With no recorder
//! installed, recording costs an atomic load. Names and labels follow the
//! Prometheus conventions (base units, `_total` counters, `_seconds`
//! durations); no label ever holds a phone number, a message id or text.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | [`WEBHOOK_REQUESTS`] | counter | `status` (the HTTP status answered) |
//! | [`WEBHOOK_ACK_SECONDS`] | histogram | — (request received → answer ready) |
//! | [`WEBHOOK_SIGNATURE_FAILURES`] | counter | `reason` (`missing`, `malformed`, `mismatch`) |
//! | [`WEBHOOK_EVENTS`] | counter | `kind` (`message`, `status`, `error`, `template_status`, `echo`, `preference`, `call`, `call_status`, `update`, `other`, `invalid`) |
//! | [`STATUSES`] | counter | `status` (`sent`, `delivered`, `read`, `played`, `failed`, `other`) |
//! | [`SENDS`] | counter | `outcome` (`sent`, `failed`), `class` (`none`, or the error's class: `authentication`, `permission`, `rate_limited`, `re_engagement`, `template`, `media`, `recipient`, `invalid_parameter`, `blocked`, `server`, `unknown`, `http`, `transport`, `invalid_message`, `other`) |
//! | [`PACING_WAIT_SECONDS`] | histogram | `scope` (`recipient`: this client's per-recipient pacing) |
//!
//! [`metrics`]: https://docs.rs/metrics

#![cfg_attr(not(feature = "metrics"), allow(unused_variables, dead_code))]

/// Webhook requests answered, by HTTP status.
pub const WEBHOOK_REQUESTS: &str = "whatsapp_webhook_requests_total";
/// How long a webhook request took to answer, in seconds.
pub const WEBHOOK_ACK_SECONDS: &str = "whatsapp_webhook_ack_seconds";
/// Webhook requests refused for their signature.
pub const WEBHOOK_SIGNATURE_FAILURES: &str = "whatsapp_webhook_signature_failures_total";
/// Events in accepted notifications, by kind.
pub const WEBHOOK_EVENTS: &str = "whatsapp_webhook_events_total";
/// Delivery statuses received, by status.
pub const STATUSES: &str = "whatsapp_statuses_total";
/// Messages sent through the client, by outcome and error class.
pub const SENDS: &str = "whatsapp_sends_total";
/// Time sends waited for their pacing slot, in seconds.
pub const PACING_WAIT_SECONDS: &str = "whatsapp_pacing_wait_seconds";

/// One answered webhook request.
#[cfg(feature = "axum")]
pub(crate) fn webhook_answered(status: u16, elapsed: std::time::Duration) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(WEBHOOK_REQUESTS, "status" => status.to_string()).increment(1);
        metrics::histogram!(WEBHOOK_ACK_SECONDS).record(elapsed.as_secs_f64());
    }
}

/// The `class` label of a failed send: a bounded set, never the message.
pub fn error_class_label(error: &crate::Error) -> &'static str {
    use crate::{Error, ErrorClass};
    match error {
        Error::Api(api) => match api.code.class() {
            ErrorClass::Authentication => "authentication",
            ErrorClass::Permission => "permission",
            ErrorClass::RateLimited(_) => "rate_limited",
            ErrorClass::ReEngagementRequired => "re_engagement",
            ErrorClass::Template => "template",
            ErrorClass::Media => "media",
            ErrorClass::RecipientUnavailable => "recipient",
            ErrorClass::InvalidParameter => "invalid_parameter",
            ErrorClass::Blocked => "blocked",
            ErrorClass::ServerError => "server",
            _ => "unknown",
        },
        Error::UnexpectedResponse { .. } => "http",
        Error::Transport { .. } => "transport",
        Error::Validation(_) | Error::TemplateMismatch(_) => "invalid_message",
        _ => "other",
    }
}

/// One send's outcome.
#[cfg(feature = "client")]
pub(crate) fn send_finished<T>(result: &Result<T, crate::Error>) {
    #[cfg(feature = "metrics")]
    {
        let (outcome, class) = match result {
            Ok(_) => ("sent", "none"),
            Err(e) => ("failed", error_class_label(e)),
        };
        metrics::counter!(SENDS, "outcome" => outcome, "class" => class).increment(1);
    }
}

/// A send waited for its per-recipient pacing slot.
#[cfg(feature = "client")]
pub(crate) fn paced(wait: std::time::Duration) {
    #[cfg(feature = "metrics")]
    metrics::histogram!(PACING_WAIT_SECONDS, "scope" => "recipient").record(wait.as_secs_f64());
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_a_bounded_set_that_never_quotes_the_error() {
        let e = crate::Error::Config("+14155550123 is not a number we know".into());
        assert_eq!(error_class_label(&e), "other");
        let body = br#"{"error":{"message":"Re-engagement message","type":"OAuthException","code":131047}}"#;
        let api = crate::ApiError::from_body(400, body).unwrap();
        let e = crate::Error::Api(Box::new(api));
        assert_eq!(error_class_label(&e), "re_engagement");
    }
}
