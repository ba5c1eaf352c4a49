//! Redaction helpers: what may appear in logs, errors and traces.
//!
//! Phone numbers, message bodies and tokens never go into a `tracing` field or an
//! error message as they are. These helpers produce the safe forms.

/// A phone number or wa_id reduced to its last two digits (`***23`), for logs.
///
/// ```
/// assert_eq!(whatsapp_cloud::redact::phone("+1 415 555 0123"), "***23");
/// assert_eq!(whatsapp_cloud::redact::phone(""), "***");
/// ```
pub fn phone(value: &str) -> String {
    let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits.iter().skip(digits.len().saturating_sub(2)).collect();
    format!("***{tail}")
}

/// A short, redacted excerpt of a response body, for error messages.
///
/// At most `max` bytes of the body are used (cut on a character boundary), HTML
/// tags are dropped, runs of whitespace are folded, every digit becomes `#`
/// (phone numbers, ids) and any word of 20 characters or more (tokens, signed
/// URLs) becomes `[…]`.
pub fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.get(..end).unwrap_or_default();
    // HTML error pages: keep the text, drop the tags.
    let mut plain = String::with_capacity(cut.len());
    let mut in_tag = false;
    for c in cut.chars() {
        match c {
            '<' => {
                in_tag = true;
                plain.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let mut out = String::with_capacity(plain.len() + 4);
    for word in plain.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        if word.chars().count() >= 20 {
            out.push_str("[…]");
            continue;
        }
        out.extend(
            word.chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c }),
        );
    }
    if end < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_keeps_only_two_digits() {
        assert_eq!(phone("14155550123"), "***23");
        assert_eq!(phone("7"), "***7");
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
