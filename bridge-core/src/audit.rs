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

/// A WhatsApp message id reduced to its tail (`wamid.…MDAxAA==`), for logs.
///
/// A WhatsApp message id is base64 of a structure that holds the customer's
/// number, so the whole id is as telling as the number. Its last 8
/// characters come from the message's own hash, enough to follow one
/// message through the logs (the ledger keeps the whole id). Ids with no
/// more than 8 characters after their `wamid.` prefix are kept as they are.
pub fn redact_message_id(id: &str) -> String {
    let (prefix, rest) = id.split_at(if id.starts_with("wamid.") { 6 } else { 0 });
    let chars = rest.chars().count();
    if chars <= 8 {
        return id.to_owned();
    }
    let tail: String = rest.chars().skip(chars - 8).collect();
    format!("{prefix}…{tail}")
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
        message_id = %redact_message_id(message_id),
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
        message_id = %redact_message_id(message_id),
        kind,
    );
}

/// A message was not processed or not sent, and why.
pub fn message_skipped(message_id: &str, why: &str) {
    tracing::info!(
        target: "bridge_core::audit",
        event = "message_skipped",
        message_id = %redact_message_id(message_id),
        why
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn redaction() {
        assert_eq!(super::redact_phone("+1 (415) 555-0123"), "***23");
        assert_eq!(super::redact_phone("US.abc"), "***");
        let id = "wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQTdBQjE2RDc5QjQ2MDAwMDAxAA==";
        assert_eq!(super::redact_message_id(id), "wamid.…MDAxAA==");
        assert!(!super::redact_message_id(id).contains("MTQxNTU1NTAxMjM"));
        assert_eq!(super::redact_message_id("wamid.DEMO1"), "wamid.DEMO1");
        assert_eq!(super::redact_message_id("SM0123456789abcdef"), "…89abcdef");
    }
}
