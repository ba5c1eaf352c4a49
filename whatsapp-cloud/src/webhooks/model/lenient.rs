//! Leniency per field: when an item does not match its type, the field that
//! broke it is found (from the error's position in the JSON) and left out,
//! with a [`Diagnostic`] naming it, and the item is read again. One odd field
//! costs that field, never the customer's message.
//!
//! The happy path is a single typed parse; this runs only after it failed.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A field left out of a typed event because it did not match its type.
/// Names the field and the problem, never the value (it may be the
/// customer's).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// The field's path in the item, `location.latitude`, `errors[0].code`.
    pub path: String,
    /// What was wrong: `expected f64, found a string`, `missing field `id``.
    pub problem: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// The most fields left out of one item before it is given up as invalid.
const MAX_REPAIRS: usize = 32;

/// Reads `raw` as `T`, leaving out the fields that do not fit. `Err` when the
/// item is not JSON, or when what breaks it is the item itself (a required
/// field such as the message id is missing or unusable).
///
/// Every parse goes through [`super::quiet`], so a failed one costs what a
/// successful one does (serde's own messages quote the offending value,
/// which made a 1 MB string where an object belongs 40 times slower to
/// reject than to read). The first repair uses the first error's position in
/// `raw`; once the field that broke it is gone, the rest is usually small.
pub(crate) fn parse<T: DeserializeOwned>(
    raw: &str,
) -> Result<(T, Vec<Diagnostic>), serde_json::Error> {
    let first = match super::quiet::from_str::<T>(raw) {
        Ok(t) => return Ok((t, Vec::new())),
        Err(e) => e,
    };
    if first.classify() != serde_json::error::Category::Data {
        return Err(first);
    }
    let mut value: Value = serde_json::from_str(raw)?;
    let mut diagnostics = Vec::new();
    let mut path = locate(raw.as_bytes(), &first);
    let mut err = first;
    for _ in 0..MAX_REPAIRS {
        if path.is_empty() || !remove(&mut value, &path) {
            return Err(err);
        }
        diagnostics.push(Diagnostic {
            path: render(&path),
            problem: summarize(&err),
        });
        let text = serde_json::to_string(&value)?;
        err = match super::quiet::from_str::<T>(&text) {
            Ok(t) => return Ok((t, diagnostics)),
            Err(e) => e,
        };
        if err.classify() != serde_json::error::Category::Data {
            return Err(err);
        }
        path = locate(text.as_bytes(), &err);
    }
    Err(err)
}

fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// serde's message without the offending value: `invalid type: string "x",
/// expected f64` becomes `expected f64, found a string`.
fn summarize(err: &serde_json::Error) -> String {
    let msg = err.to_string();
    let msg = msg.split(" at line ").next().unwrap_or("");
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        let found = rest
            .split([' ', ','])
            .next()
            .filter(|w| !w.is_empty())
            .unwrap_or("value");
        let found = match found {
            "floating" => "floating point",
            other => other,
        };
        let expected = rest.rsplit(", expected ").next().unwrap_or("another type");
        return format!("expected {expected}, found a {found}");
    }
    if msg.starts_with("missing field") {
        return msg.to_owned();
    }
    if msg.starts_with("invalid value") {
        return "invalid value".into();
    }
    if msg.starts_with("invalid length") {
        return "invalid length".into();
    }
    if msg.starts_with("unknown variant") {
        return "unknown variant".into();
    }
    "unexpected shape".into()
}

fn remove(value: &mut Value, path: &[Seg]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut cur = value;
    for seg in parents {
        let next = match (seg, cur) {
            (Seg::Key(k), Value::Object(m)) => m.get_mut(k),
            (Seg::Index(i), Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return false,
        }
    }
    match (last, cur) {
        (Seg::Key(k), Value::Object(m)) => m.remove(k).is_some(),
        (Seg::Index(i), Value::Array(a)) if *i < a.len() => {
            a.remove(*i);
            true
        }
        _ => false,
    }
}

/// The path of the innermost value of JSON text `s` that `err` is about.
///
/// serde_json reports an error at the position it had reached: just after a
/// scalar that did not fit (its last byte is the one before), just inside a
/// container whose type did not fit, or just after a container missing a
/// field; the innermost value holding the byte before the position is the
/// one to blame in every case.
fn locate(s: &[u8], err: &serde_json::Error) -> Vec<Seg> {
    let Some(at) = offset(s, err.line(), err.column()) else {
        return Vec::new();
    };
    let at = at.saturating_sub(1);
    let mut best = Vec::new();
    let mut path = Vec::new();
    let _ = scan(s, 0, at, &mut path, &mut best);
    best
}

/// The byte offset of 1-based `line` and `column` in `s`.
fn offset(s: &[u8], line: usize, column: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += s.get(start..)?.iter().position(|&b| b == b'\n')? + 1;
    }
    Some(start + column)
}

/// The index of the first byte at or after `i` that is not JSON whitespace.
fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while matches!(s.get(i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
        i += 1;
    }
    i
}

/// Scans the value starting at `i` (after any whitespace); returns the
/// index after it. Records in `best` the path of the innermost value whose
/// span holds `at`.
fn scan(s: &[u8], i: usize, at: usize, path: &mut Vec<Seg>, best: &mut Vec<Seg>) -> Option<usize> {
    let start = skip_ws(s, i);
    let end = match s.get(start)? {
        b'{' => {
            let mut j = skip_ws(s, start + 1);
            if s.get(j) == Some(&b'}') {
                j + 1
            } else {
                loop {
                    j = skip_ws(s, j);
                    let key_end = string_end(s, j)?;
                    let key: String =
                        serde_json::from_slice(s.get(j..key_end)?).unwrap_or_default();
                    j = skip_ws(s, key_end);
                    if s.get(j) != Some(&b':') {
                        return None;
                    }
                    path.push(Seg::Key(key));
                    j = skip_ws(s, scan(s, j + 1, at, path, best)?);
                    path.pop();
                    match s.get(j)? {
                        b',' => j += 1,
                        b'}' => break j + 1,
                        _ => return None,
                    }
                }
            }
        }
        b'[' => {
            let mut j = skip_ws(s, start + 1);
            if s.get(j) == Some(&b']') {
                j + 1
            } else {
                let mut n = 0;
                loop {
                    path.push(Seg::Index(n));
                    j = skip_ws(s, scan(s, j, at, path, best)?);
                    path.pop();
                    n += 1;
                    match s.get(j)? {
                        b',' => j += 1,
                        b']' => break j + 1,
                        _ => return None,
                    }
                }
            }
        }
        b'"' => string_end(s, start)?,
        _ => {
            let mut j = start;
            while let Some(c) = s.get(j) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                    break;
                }
                j += 1;
            }
            j
        }
    };
    // Children are recorded first; an enclosing value only when none holds `at`.
    if (start..end).contains(&at) && (best.len() < path.len() || !best_inside(best, path)) {
        *best = path.clone();
    }
    Some(end)
}

/// Whether `best` is `path` or inside it (a deeper match already found).
fn best_inside(best: &[Seg], path: &[Seg]) -> bool {
    best.len() >= path.len() && best.get(..path.len()) == Some(path)
}

/// The index after the string starting at `i` (a `"`).
fn string_end(s: &[u8], i: usize) -> Option<usize> {
    if s.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match s.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Loc {
        #[serde(default)]
        latitude: Option<f64>,
        #[serde(default)]
        name: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Msg {
        id: String,
        #[serde(default)]
        location: Option<Loc>,
        #[serde(default)]
        tags: Vec<Tag>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Tag {
        id: String,
    }

    #[test]
    fn a_wrong_field_is_left_out_and_named() {
        let raw = r#"{"id":"wamid.1","location":{"latitude":"north","name":"Home"}}"#;
        let (m, d) = parse::<Msg>(raw).unwrap();
        assert_eq!(m.id, "wamid.1");
        let loc = m.location.unwrap();
        assert_eq!(loc.latitude, None);
        assert_eq!(loc.name.as_deref(), Some("Home"));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "location.latitude");
        assert_eq!(d[0].problem, "expected f64, found a string");
        assert!(
            !d[0].to_string().contains("north"),
            "no value in diagnostics"
        );
    }

    #[test]
    fn a_broken_array_item_goes_and_the_rest_stay() {
        let raw = r#"{"id":"x","tags":[{"id":"a"},{"nope":1},{"id":"c"}]}"#;
        let (m, d) = parse::<Msg>(raw).unwrap();
        assert_eq!(m.tags, vec![Tag { id: "a".into() }, Tag { id: "c".into() }]);
        assert_eq!(d[0].path, "tags[1]");
        assert!(d[0].problem.contains("missing field"), "{}", d[0].problem);
    }

    #[test]
    fn several_problems_are_all_repaired() {
        let raw = r#"{"id":"x","location":{"latitude":[1],"name":5},"tags":7}"#;
        let (m, d) = parse::<Msg>(raw).unwrap();
        assert_eq!(
            m.location,
            Some(Loc {
                latitude: None,
                name: None
            })
        );
        assert!(m.tags.is_empty());
        assert_eq!(d.len(), 3, "{d:?}");
    }

    #[test]
    fn an_item_without_its_id_is_still_an_error() {
        assert!(parse::<Msg>(r#"{"location":{}}"#).is_err());
        assert!(parse::<Msg>(r#"{"id":5}"#).is_err());
        assert!(parse::<Msg>("not json").is_err());
    }

    #[test]
    fn pretty_printed_items_are_repaired_too() {
        let raw = "{\n  \"id\": \"x\",\n  \"location\" : {\n    \"latitude\": \"north\",\n    \"name\": \"Home\"\n  },\n  \"tags\": [ {\"id\": \"a\"}, 7 ]\n}";
        let (m, d) = parse::<Msg>(raw).unwrap();
        assert_eq!(m.location.unwrap().name.as_deref(), Some("Home"));
        assert_eq!(m.tags, vec![Tag { id: "a".into() }]);
        let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["location.latitude", "tags[1]"]);
    }

    /// Issue 26 item 10: a huge value of the wrong type is left out like a
    /// small one, and its text never reaches the diagnostic.
    #[test]
    fn a_huge_wrong_value_is_left_out_without_being_quoted() {
        let long = "ü".repeat(200_000);
        for raw in [
            format!(r#"{{"id":"x","location":"{long}","tags":[]}}"#),
            format!(r#"{{"id":"x","location":{{"latitude":"{long}"}}}}"#),
            format!(r#"{{"id":"x","tags":["{long}"]}}"#),
        ] {
            let (m, d) = parse::<Msg>(&raw).unwrap();
            assert_eq!(m.id, "x");
            assert_eq!(d.len(), 1, "{d:?}");
            assert!(d[0].problem.contains("found a string"), "{}", d[0].problem);
            assert!(!d[0].to_string().contains('ü'));
        }
    }

    #[test]
    fn scalars_of_every_kind_are_located() {
        for bad in ["1.5", "true", "null", "-3", "[]", "{}"] {
            let raw = format!(r#"{{"id":"x","location":{{"name":{bad},"latitude":2}}}}"#);
            let (m, d) = parse::<Msg>(&raw).unwrap();
            if bad == "null" {
                assert!(d.is_empty(), "null is an absent option");
                continue;
            }
            assert_eq!(d.len(), 1, "{bad}: {d:?}");
            assert_eq!(d[0].path, "location.name", "{bad}");
            assert_eq!(m.location.unwrap().latitude, Some(2.0), "{bad}");
        }
    }

    #[test]
    fn escaped_strings_and_odd_keys_are_located() {
        let raw = r#"{"id":"a\"b","location":{"na\"me":"x","latitude":true}}"#;
        let (m, d) = parse::<Msg>(raw).unwrap();
        assert_eq!(m.id, "a\"b");
        assert_eq!(d[0].path, "location.latitude");
        assert_eq!(d[0].problem, "expected f64, found a boolean");
    }
}
