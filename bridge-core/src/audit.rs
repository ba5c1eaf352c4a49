//! The audit trail: one `tracing` event for every record written and every
//! message sent or skipped, with phone numbers and bodies redacted. Install a
//! subscriber (JSON to a file, OpenTelemetry...) and you have an audit log; the
//! events use the target `bridge_core::audit`.

/// A phone number reduced to its last two digits (`***23`).
pub fn redact_phone(value: &str) -> String {
    let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits.iter().skip(digits.len().saturating_sub(2)).collect();
    format!("***{tail}")
}

/// A record was written.
pub fn record_written(
    object: &str,
    record_id: &str,
    message_id: &str,
    decision: &str,
    why: &str,
    created: bool,
) {
    tracing::info!(
        target: "bridge_core::audit",
        event = "record_written",
        object,
        record_id,
        message_id,
        decision,
        why,
        created,
    );
}

/// A message was sent to a customer.
pub fn message_sent(channel: &str, to: &str, message_id: &str, kind: &str) {
    tracing::info!(
        target: "bridge_core::audit",
        event = "message_sent",
        channel,
        to = %redact_phone(to),
        message_id,
        kind,
    );
}

/// A message was not processed or not sent, and why.
pub fn message_skipped(message_id: &str, why: &str) {
    tracing::info!(target: "bridge_core::audit", event = "message_skipped", message_id, why);
}

#[cfg(test)]
mod tests {
    #[test]
    fn redaction() {
        assert_eq!(super::redact_phone("+1 (415) 555-0123"), "***23");
        assert_eq!(super::redact_phone("US.abc"), "***");
    }
}
