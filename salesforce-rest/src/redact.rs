//! Redaction for error messages and logs: bodies become short excerpts with
//! digits masked and long tokens removed.

/// A short, redacted excerpt of a response body: at most `max` bytes (cut on a
/// character boundary), HTML tags dropped, whitespace folded, digits as `#`,
/// words of 20 characters or more (tokens, session ids) as `[…]`.
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.get(..end).unwrap_or_default();
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
        } else {
            out.extend(
                word.chars()
                    .map(|c| if c.is_ascii_digit() { '#' } else { c }),
            );
        }
    }
    if end < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_tokens_digits_and_tags() {
        let e = super::excerpt(
            b"<html><h1>Maintenance</h1> until 10:00 00D5g000004XyZ!AQ8AQLongSessionToken</html>",
            500,
        );
        assert_eq!(e, "Maintenance until ##:## […]");
    }
}
