//! SOQL and SOSL with user input, injection-proof by construction.
//!
//! Values enter a query only through [`SoqlValue`], which quotes and escapes
//! strings (`\'`, `\\`, `\n`, ... never the wrong `''`), writes dates and
//! datetimes as unquoted literals, numbers as numbers, lists as `(a, b)`.
//!
//! ```
//! use salesforce_rest::soql::{Soql, Like};
//!
//! let phone = "+1 (415) 555-0123' OR Name != '";
//! let q = Soql::new("SELECT Id FROM Lead WHERE Phone = {} AND Name LIKE {} LIMIT {}")
//!     .bind(phone)
//!     .bind(Like::contains("O'Brien_"))
//!     .bind(5)
//!     .build()?;
//! assert_eq!(
//!     q,
//!     r"SELECT Id FROM Lead WHERE Phone = '+1 (415) 555-0123\' OR Name != \'' AND Name LIKE '%O\'Brien\_%' LIMIT 5"
//! );
//! # Ok::<(), salesforce_rest::Error>(())
//! ```

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::error::Error;
use crate::id::SalesforceId;

/// A value that can be written into SOQL safely.
pub trait SoqlValue {
    /// The SOQL literal.
    fn to_soql(&self) -> String;
}

/// Quotes a string literal with SOQL's escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    escape_into(&mut out, s, false);
    out.push('\'');
    out
}

fn escape_into(out: &mut String, s: &str, like: bool) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '%' if like => out.push_str("\\%"),
            '_' if like => out.push_str("\\_"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
}

/// A `LIKE` pattern whose user part is taken literally (`%` and `_` escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Like {
    prefix: &'static str,
    text: String,
    suffix: &'static str,
}

impl Like {
    /// `'%text%'`.
    pub fn contains(text: &str) -> Self {
        Self {
            prefix: "%",
            text: text.to_owned(),
            suffix: "%",
        }
    }
    /// `'text%'`.
    pub fn starts_with(text: &str) -> Self {
        Self {
            prefix: "",
            text: text.to_owned(),
            suffix: "%",
        }
    }
    /// `'%text'`.
    pub fn ends_with(text: &str) -> Self {
        Self {
            prefix: "%",
            text: text.to_owned(),
            suffix: "",
        }
    }
    /// `'text'` (exact, case-insensitive on most fields).
    pub fn exactly(text: &str) -> Self {
        Self {
            prefix: "",
            text: text.to_owned(),
            suffix: "",
        }
    }
}

impl SoqlValue for Like {
    fn to_soql(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 4);
        out.push('\'');
        out.push_str(self.prefix);
        escape_into(&mut out, &self.text, true);
        out.push_str(self.suffix);
        out.push('\'');
        out
    }
}

impl SoqlValue for str {
    fn to_soql(&self) -> String {
        quote(self)
    }
}
impl SoqlValue for String {
    fn to_soql(&self) -> String {
        quote(self)
    }
}
impl SoqlValue for bool {
    fn to_soql(&self) -> String {
        self.to_string()
    }
}
macro_rules! ints {
    ($($t:ty),*) => { $( impl SoqlValue for $t { fn to_soql(&self) -> String { self.to_string() } } )* };
}
ints!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);
impl SoqlValue for f64 {
    fn to_soql(&self) -> String {
        if self.is_finite() {
            self.to_string()
        } else {
            "null".into()
        }
    }
}
impl SoqlValue for NaiveDate {
    /// `2025-04-30` (unquoted).
    fn to_soql(&self) -> String {
        self.format("%Y-%m-%d").to_string()
    }
}
impl SoqlValue for DateTime<Utc> {
    /// `2025-04-30T14:30:00Z` (unquoted).
    fn to_soql(&self) -> String {
        self.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}
impl SoqlValue for SalesforceId {
    fn to_soql(&self) -> String {
        quote(self.as_str())
    }
}
impl<T: SoqlValue> SoqlValue for Option<T> {
    fn to_soql(&self) -> String {
        self.as_ref()
            .map_or_else(|| "null".into(), SoqlValue::to_soql)
    }
}
impl<T: SoqlValue> SoqlValue for [T] {
    /// `(a, b, c)` for `IN`; an empty list becomes `(null)`, which matches nothing.
    fn to_soql(&self) -> String {
        if self.is_empty() {
            return "(null)".into();
        }
        let items: Vec<String> = self.iter().map(SoqlValue::to_soql).collect();
        format!("({})", items.join(", "))
    }
}
impl<T: SoqlValue> SoqlValue for Vec<T> {
    fn to_soql(&self) -> String {
        self.as_slice().to_soql()
    }
}
impl<T: SoqlValue + ?Sized> SoqlValue for &T {
    fn to_soql(&self) -> String {
        (**self).to_soql()
    }
}

/// A query template with `{}` placeholders, filled only with escaped values.
#[derive(Debug, Clone)]
pub struct Soql {
    template: String,
    args: Vec<String>,
}

impl Soql {
    /// A template; each `{}` takes the next bound value.
    pub fn new(template: impl Into<String>) -> Self {
        Self {
            template: template.into(),
            args: Vec::new(),
        }
    }

    /// Binds the next value.
    pub fn bind(mut self, value: impl SoqlValue) -> Self {
        self.args.push(value.to_soql());
        self
    }

    /// The query, or an error when placeholders and values do not match, when
    /// a placeholder sits inside a quoted literal (`'{}'`, `'%{}%'`: bound
    /// values bring their own quotes, so the author's quotes would let a value
    /// escape them; bind a [`Like`] for patterns), or when a quote is left open.
    pub fn build(self) -> Result<String, Error> {
        let t = self.template.as_str();
        let mut out =
            String::with_capacity(t.len() + self.args.iter().map(String::len).sum::<usize>());
        let mut args = self.args.iter();
        let mut slots = 0usize;
        let mut in_quote = false;
        let mut chars = t.char_indices();
        while let Some((i, c)) = chars.next() {
            let placeholder = c == '{' && t.get(i..).is_some_and(|rest| rest.starts_with("{}"));
            if in_quote {
                if placeholder {
                    return Err(Error::Soql(format!(
                        "placeholder {{}} inside a quoted literal at byte {i}: remove the quotes around it (bound values are quoted and escaped for you; use Like::contains for LIKE patterns)"
                    )));
                }
                out.push(c);
                match c {
                    '\\' => {
                        if let Some((_, next)) = chars.next() {
                            out.push(next);
                        }
                    }
                    '\'' => in_quote = false,
                    _ => {}
                }
                continue;
            }
            if placeholder {
                chars.next();
                slots += 1;
                if let Some(a) = args.next() {
                    out.push_str(a);
                }
                continue;
            }
            if c == '\'' {
                in_quote = true;
            }
            out.push(c);
        }
        if in_quote {
            return Err(Error::Soql(
                "the template leaves a quoted literal open".into(),
            ));
        }
        if slots != self.args.len() {
            return Err(Error::Soql(format!(
                "the template has {slots} placeholders but {} values were bound",
                self.args.len()
            )));
        }
        Ok(out)
    }
}

/// Escapes a SOSL search term (inside `FIND {...}`): every reserved character
/// `? & | ! { } [ ] ( ) ^ ~ * : \ " ' + -` gets a backslash.
pub fn sosl_escape(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 8);
    for c in term.chars() {
        if "?&|!{}[]()^~*:\\\"'+-".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_inside_quotes_are_refused() {
        let attack = "\" OR Name != null OR Name = \"";
        for template in [
            "SELECT Id FROM Lead WHERE Name = '{}'",
            "SELECT Id FROM Lead WHERE Name LIKE '%{}%'",
            r"SELECT Id FROM Lead WHERE Name = 'O\'Brien {}'",
        ] {
            let e = Soql::new(template).bind(attack).build().unwrap_err();
            assert!(
                e.to_string().contains("inside a quoted literal"),
                "{template}: {e}"
            );
        }
        assert!(
            Soql::new("SELECT Id FROM Lead WHERE Name = 'x")
                .build()
                .is_err(),
            "an open quote"
        );
        // Literal braces and quotes outside placeholders stay as written.
        assert!(
            Soql::new("SELECT Id FROM Lead WHERE Name = 'a{}b' AND Phone = {}")
                .bind("1")
                .build()
                .unwrap_err()
                .to_string()
                .contains("quoted literal")
        );
        assert_eq!(
            Soql::new(r"SELECT Id FROM Lead WHERE Name = 'it\'s' AND Phone = {}")
                .bind("1")
                .build()
                .unwrap(),
            r"SELECT Id FROM Lead WHERE Name = 'it\'s' AND Phone = '1'"
        );
        assert_eq!(
            Soql::new("SELECT Id FROM Lead WHERE Name LIKE {}")
                .bind(Like::contains(attack))
                .build()
                .unwrap(),
            r#"SELECT Id FROM Lead WHERE Name LIKE '%\" OR Name != null OR Name = \"%'"#
        );
    }

    #[test]
    fn string_literals_escape_every_special_character() {
        let vectors = [
            ("plain", "'plain'"),
            ("O'Brien", r"'O\'Brien'"),
            (r"back\slash", r"'back\\slash'"),
            ("quote\"d", r#"'quote\"d'"#),
            ("line\nbreak\r\ttab", r"'line\nbreak\r\ttab'"),
            ("\u{8}\u{c}", r"'\b\f'"),
            ("\u{1}", r"'\u0001'"),
            ("100% _ok_", "'100% _ok_'"),
            ("é 😀", "'é 😀'"),
            ("' OR Id != '", r"'\' OR Id != \''"),
            (r"\'", r"'\\\''"),
            ("", "''"),
        ];
        for (input, expected) in vectors {
            assert_eq!(quote(input), expected, "{input:?}");
        }
    }

    #[test]
    fn like_patterns_escape_wildcards_only_in_the_user_part() {
        assert_eq!(Like::contains("50%_off").to_soql(), r"'%50\%\_off%'");
        assert_eq!(Like::starts_with("a'b").to_soql(), r"'a\'b%'");
        assert_eq!(Like::ends_with("x").to_soql(), "'%x'");
        assert_eq!(Like::exactly("y").to_soql(), "'y'");
    }

    #[test]
    fn typed_values() {
        let d = NaiveDate::from_ymd_opt(2025, 4, 30).unwrap();
        assert_eq!(d.to_soql(), "2025-04-30");
        let dt = DateTime::parse_from_rfc3339("2025-04-30T14:30:00-04:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(dt.to_soql(), "2025-04-30T18:30:00Z");
        assert_eq!(vec!["a", "b'"].to_soql(), r"('a', 'b\'')");
        assert_eq!(Vec::<&str>::new().to_soql(), "(null)");
        assert_eq!(Option::<i32>::None.to_soql(), "null");
        assert_eq!(f64::NAN.to_soql(), "null");
        assert_eq!(true.to_soql(), "true");
        assert_eq!((-5i64).to_soql(), "-5");
    }

    #[test]
    fn templates_check_their_placeholders() {
        assert!(
            Soql::new("SELECT Id FROM Lead WHERE Name = {}")
                .build()
                .is_err()
        );
        assert!(Soql::new("SELECT Id FROM Lead").bind("x").build().is_err());
        let q = Soql::new("SELECT Id FROM Lead WHERE Name = {} AND Phone = {}")
            .bind("{}")
            .bind("b")
            .build()
            .unwrap();
        assert_eq!(q, "SELECT Id FROM Lead WHERE Name = '{}' AND Phone = 'b'");
    }

    /// Reads a SOQL string literal back, as Salesforce does.
    fn unquote(lit: &str) -> Option<String> {
        let inner = lit.strip_prefix('\'')?.strip_suffix('\'')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(match chars.next()? {
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                    }
                    o @ ('\'' | '"' | '\\') => o,
                    _ => return None,
                }),
                '\'' => return None, // an unescaped quote would end the literal: injection
                o => out.push(o),
            }
        }
        Some(out)
    }

    proptest::proptest! {
        #[test]
        fn any_string_round_trips_and_never_escapes_its_literal(s in "\\PC*|[\\\\'\"%_\n\r\t\u{0}-\u{1f}]{0,20}") {
            let lit = quote(&s);
            proptest::prop_assert_eq!(unquote(&lit), Some(s.clone()));
            let q = Soql::new("SELECT Id FROM Lead WHERE Name = {} AND Phone = {}").bind(s.as_str()).bind("x").build().unwrap();
            proptest::prop_assert!(q.ends_with(" AND Phone = 'x'"), "{}", q);
        }
    }

    #[test]
    fn sosl_terms_are_escaped() {
        assert_eq!(sosl_escape("+1 (415) 555-0123"), r"\+1 \(415\) 555\-0123");
        assert_eq!(sosl_escape("a*b?"), r"a\*b\?");
    }
}
