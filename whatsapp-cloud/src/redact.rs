//! Redaction helpers: what may appear in logs, errors and traces.
//!
//! Phone numbers, message bodies and tokens never go into a `tracing` field or an
//! error message as they are. These helpers produce the safe forms.

/// A phone number or wa_id reduced to its last two digits (`***23`), for logs.
pub(crate) fn phone(value: &str) -> String {
    let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits.iter().skip(digits.len().saturating_sub(2)).collect();
    format!("***{tail}")
}

/// A message id reduced to its tail (`wamid.…MDAxAA==`), for logs: a
/// WhatsApp message id is base64 of a structure that holds the customer's
/// number. Ids with no more than 8 characters after `wamid.` are kept.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) fn message_id(id: &str) -> String {
    let (prefix, rest) = id.split_at(if id.starts_with("wamid.") { 6 } else { 0 });
    let chars = rest.chars().count();
    if chars <= 8 {
        return id.to_owned();
    }
    let tail: String = rest.chars().skip(chars - 8).collect();
    format!("{prefix}…{tail}")
}

pub(crate) use crate::shared::excerpt;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_keeps_only_two_digits() {
        assert_eq!(phone("14155550123"), "***23");
        assert_eq!(phone("7"), "***7");
    }

    #[test]
    fn message_ids_keep_their_tail_only() {
        let id = "wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQTdBQjE2RDc5QjQ2MDAwMDAxAA==";
        assert_eq!(message_id(id), "wamid.…MDAxAA==");
        assert_eq!(message_id("wamid.DEMO1"), "wamid.DEMO1");
    }

    #[test]
    fn excerpt_masks_digits_tokens_and_cuts_on_char_boundaries() {
        let e = excerpt(
            "<h1>503</h1> token EAAGm0PX4ZCpsBAKZCZAbcdefghijkl".as_bytes(),
            200,
        );
        assert_eq!(e, "### token […]");
        let e = excerpt("ééééé".as_bytes(), 3);
        assert_eq!(e, "é…");
        assert_eq!(excerpt(b"", 10), "");
    }
}
