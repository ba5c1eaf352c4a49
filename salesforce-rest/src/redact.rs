//! Redaction for error messages and logs: bodies become short excerpts with
//! digits masked and long tokens removed.

pub(crate) use crate::shared::excerpt;

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

/// A Salesforce error message with the values it may echo masked: quoted text
/// as `'…'`, e-mail addresses as `[email]`, numbers (phones, amounts) with
/// digits as `#`; record ids, field names and the wording stay. At most 200
/// characters. The full text stays in [`crate::ApiErrorItem::message`].
pub(crate) fn message(text: &str) -> String {
    let mut unquoted = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                unquoted.push(c);
                unquoted.push('…');
            }
            (Some(q), c) if c == q => {
                quote = None;
                unquoted.push(c);
            }
            (Some(_), _) => {}
            (None, c) => unquoted.push(c),
        }
    }
    let mut out = String::with_capacity(unquoted.len());
    for (i, word) in unquoted.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let numeric = word.chars().any(|c| c.is_ascii_digit())
            && word
                .chars()
                .all(|c| c.is_ascii_digit() || "+-().,/:$".contains(c));
        if word.contains('@') && word.contains('.') {
            out.push_str("[email]");
        } else if numeric {
            out.extend(
                word.chars()
                    .map(|c| if c.is_ascii_digit() { '#' } else { c }),
            );
        } else {
            out.push_str(word);
        }
    }
    if out.chars().count() > 200 {
        out = out.chars().take(200).collect::<String>() + "…";
    }
    out
}

#[cfg(test)]
mod message_tests {
    #[test]
    fn echoed_values_are_masked_and_the_wording_stays() {
        let m = super::message("Phone: data value too large: +1 (415) 555-0123 (max length=40)");
        assert!(!m.contains("415") && !m.contains("0123"), "{m}");
        assert!(
            m.contains("data value too large") && m.contains("max length=40"),
            "{m}"
        );
        let m = super::message("Email ana.lima@example.com is not valid for 'Ana Lima'");
        assert!(!m.contains("ana.lima") && !m.contains("Ana Lima"), "{m}");
        let m = super::message("entity is deleted: 00Q5g00000AbCdEEAZ");
        assert!(m.contains("00Q5g00000AbCdEEAZ"), "record ids stay: {m}");
    }
}
