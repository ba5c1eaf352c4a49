//! Just enough SOQL for the mock org.

use serde_json::{Map, Value};

/// Just enough SOQL for the mock: `SELECT f1, f2 | COUNT() FROM Obj
/// [WHERE a = 'x' (AND|OR) b IN ('y', 'z') AND SystemModstamp > 2026-01-01T00:00:00Z]
/// [ORDER BY SystemModstamp ASC|DESC] [LIMIT n]`.
pub(super) struct MiniSoql {
    pub(super) fields: Vec<String>,
    pub(super) count: bool,
    pub(super) object: String,
    conditions: Vec<(String, String, Vec<String>)>,
    any: bool,
    pub(super) order_by_modstamp: bool,
    /// `ORDER BY SystemModstamp DESC`.
    pub(super) descending: bool,
    pub(super) limit: Option<usize>,
}

impl MiniSoql {
    pub(super) fn parse(q: &str) -> Option<Self> {
        let upper = q.to_ascii_uppercase();
        let from = upper.find(" FROM ")?;
        let select = q
            .get(..from)?
            .trim()
            .strip_prefix("SELECT ")
            .or_else(|| q.get(..from)?.trim().strip_prefix("select "))?;
        let count = select.trim().eq_ignore_ascii_case("COUNT()");
        let fields = select.split(',').map(|f| f.trim().to_owned()).collect();
        let rest = q.get(from + 6..)?;
        let upper_rest = rest.to_ascii_uppercase();
        let end_obj = rest.find(' ').unwrap_or(rest.len());
        let object = rest.get(..end_obj)?.to_owned();
        let mut tail = rest.get(end_obj..)?.trim().to_owned();
        let mut limit = None;
        if let Some(i) = tail.to_ascii_uppercase().rfind("LIMIT ") {
            limit = tail.get(i + 6..)?.trim().parse().ok();
            tail.truncate(i);
        }
        let order_by_modstamp = upper_rest.contains("ORDER BY SYSTEMMODSTAMP");
        let descending = upper_rest.contains("ORDER BY SYSTEMMODSTAMP DESC");
        if let Some(i) = tail.to_ascii_uppercase().find("ORDER BY") {
            tail.truncate(i);
        }
        let mut conditions = Vec::new();
        let mut any = false;
        let tail = tail.trim();
        if let Some(w) = tail
            .strip_prefix("WHERE ")
            .or_else(|| tail.strip_prefix("where "))
        {
            let (parts, or) = split_conditions(w);
            any = or;
            for p in parts {
                conditions.push(parse_condition(&p)?);
            }
        }
        Some(Self {
            fields,
            count,
            object,
            conditions,
            any,
            order_by_modstamp,
            descending,
            limit,
        })
    }

    pub(super) fn matches(&self, r: &Map<String, Value>) -> bool {
        if self.conditions.is_empty() {
            return true;
        }
        let test = |(field, op, values): &(String, String, Vec<String>)| {
            let actual: Option<std::borrow::Cow<'_, str>> = r.get(field).map(|v| {
                v.as_str()
                    .map_or_else(|| std::borrow::Cow::Owned(v.to_string()), Into::into)
            });
            // Equality as Salesforce compares: a datetime equals the same
            // instant written another way (`Z` or `+0000`, with or without
            // millis). Only values shaped like datetimes are parsed (a scan
            // of thousands of records compares mostly ids and numbers).
            let same = |a: &str, v: &String| {
                a == v
                    || (looks_like_datetime(a)
                        && looks_like_datetime(v)
                        && matches!(
                            (crate::records::SfDateTime::parse(a), crate::records::SfDateTime::parse(v)),
                            (Some(x), Some(y)) if x == y
                        ))
            };
            match op.as_str() {
                "=" | "IN" => actual.is_some_and(|a| values.iter().any(|v| same(&a, v))),
                "!=" => actual.is_none_or(|a| !values.iter().any(|v| same(&a, v))),
                ">" => actual.is_some_and(|a| {
                    let a = crate::records::SfDateTime::parse(&a);
                    let b = values
                        .first()
                        .and_then(|v| crate::records::SfDateTime::parse(v));
                    matches!((a, b), (Some(a), Some(b)) if a > b)
                }),
                "<=" => actual.is_some_and(|a| {
                    let a = crate::records::SfDateTime::parse(&a);
                    let b = values
                        .first()
                        .and_then(|v| crate::records::SfDateTime::parse(v));
                    matches!((a, b), (Some(a), Some(b)) if a <= b)
                }),
                _ => false,
            }
        };
        if self.any {
            self.conditions.iter().any(test)
        } else {
            self.conditions.iter().all(test)
        }
    }
}

/// `2026-01-01T00:00:00...`: worth parsing as a datetime.
fn looks_like_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19 && b.get(4) == Some(&b'-') && b.get(10) == Some(&b'T')
}

/// Splits on top-level AND / OR outside quotes and parentheses.
fn split_conditions(w: &str) -> (Vec<String>, bool) {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let (mut quote, mut esc, mut depth, mut or) = (false, false, 0i32, false);
    let chars: Vec<char> = w.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if quote {
            cur.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '\'' {
                quote = false;
            }
            i += 1;
            continue;
        }
        match c {
            '\'' => quote = true,
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        let rest: String = chars[i..]
            .iter()
            .take(5)
            .collect::<String>()
            .to_ascii_uppercase();
        if depth == 0 && rest.starts_with(" AND ") {
            parts.push(std::mem::take(&mut cur));
            i += 5;
            continue;
        }
        if depth == 0 && rest.starts_with(" OR ") {
            parts.push(std::mem::take(&mut cur));
            or = true;
            i += 4;
            continue;
        }
        cur.push(c);
        i += 1;
    }
    parts.push(cur);
    (parts, or)
}

fn parse_condition(c: &str) -> Option<(String, String, Vec<String>)> {
    let c = c
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    for op in [" IN ", "!=", "<=", "=", ">"] {
        let upper = c.to_ascii_uppercase();
        if let Some(i) = upper.find(op) {
            let field = c.get(..i)?.trim().to_owned();
            let value = c.get(i + op.len()..)?.trim();
            let values = if op == " IN " {
                literals(value.trim_start_matches('(').trim_end_matches(')'))
            } else {
                literals(value)
            };
            return Some((field, op.trim().to_owned(), values));
        }
    }
    None
}

/// Reads SOQL literals (quoted with escapes, or bare) separated by commas.
fn literals(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ',' || c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut v = String::new();
        if c == '\'' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some('n') => v.push('\n'),
                        Some('t') => v.push('\t'),
                        Some('r') => v.push('\r'),
                        Some(o) => v.push(o),
                        None => {}
                    },
                    '\'' => break,
                    o => v.push(o),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                v.push(c);
                chars.next();
            }
        }
        out.push(v);
    }
    out
}
