//! A change's value, read in the envelope's own pass.
//!
//! Meta sends a change's `value` before its `field`, so the envelope cannot
//! know the value's shape while reading it. Reading it as one raw text and
//! then reading that text again (once to split its messages, once per
//! message) scanned every message three times. Here the value is read into
//! its members as it goes: each member's raw text, and the `messages` and
//! `statuses` lists already split into their items. A message is then
//! scanned twice (split here, typed on its own), and the value's whole text
//! is rebuilt from its members only for the rarer fields that want it.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

/// Raw text, borrowed from the body or (for a value rebuilt from parts)
/// owned.
pub(super) enum Text<'a> {
    Borrowed(&'a RawValue),
    Owned(Box<RawValue>),
}

impl Text<'_> {
    pub(super) fn get(&self) -> &RawValue {
        match self {
            Text::Borrowed(r) => r,
            Text::Owned(r) => r,
        }
    }
}

/// One member of the value.
pub(super) enum Member<'a> {
    /// A list split into its items' raw texts.
    Items(Vec<&'a RawValue>),
    /// Any other value, as raw text.
    Raw(Text<'a>),
}

/// A change's value.
pub(super) enum WireValue<'a> {
    /// An object: its members, in order.
    Object(Vec<(String, Member<'a>)>),
    /// Anything else.
    Other(Box<RawValue>),
}

impl<'a> WireValue<'a> {
    /// The first member named `key`.
    pub(super) fn member(&self, key: &str) -> Option<&Member<'a>> {
        match self {
            WireValue::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, m)| m),
            WireValue::Other(_) => None,
        }
    }

    /// The raw text of member `key` (a list's items joined again).
    pub(super) fn raw_member(&self, key: &str) -> Option<Text<'a>> {
        match self.member(key)? {
            Member::Raw(Text::Borrowed(r)) => Some(Text::Borrowed(r)),
            Member::Raw(Text::Owned(r)) => Some(Text::Owned(r.clone())),
            Member::Items(items) => Some(Text::Owned(list(items))),
        }
    }

    /// The value's whole text: the same JSON as sent, members in order
    /// (whitespace between them aside).
    pub(super) fn raw(&self) -> Box<RawValue> {
        let members = match self {
            WireValue::Object(members) => members,
            WireValue::Other(raw) => return raw.clone(),
        };
        let mut out = String::from("{");
        for (i, (key, member)) in members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(key).unwrap_or_else(|_| "\"\"".into()));
            out.push(':');
            match member {
                Member::Raw(text) => out.push_str(text.get().get()),
                Member::Items(items) => out.push_str(list(items).get()),
            }
        }
        out.push('}');
        RawValue::from_string(out).unwrap_or_else(|_| null())
    }
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).unwrap_or_default()
}

/// Items joined into a JSON array.
fn list(items: &[&RawValue]) -> Box<RawValue> {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item.get());
    }
    out.push(']');
    RawValue::from_string(out).unwrap_or_else(|_| null())
}

/// Any JSON value, as owned raw text (for values that are not what they
/// should be: rare, so the round trip through `Value` does not matter).
fn owned(v: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(v).unwrap_or_else(|_| null())
}

impl<'de: 'a, 'a> Deserialize<'de> for WireValue<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor(std::marker::PhantomData))
    }
}

struct ValueVisitor<'a>(std::marker::PhantomData<&'a ()>);

/// The visits of scalars (and `null`), kept as owned raw text through the
/// visitor's `wrap`.
macro_rules! scalars {
    () => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Self::wrap(&Value::Bool(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Self::wrap(&Value::from(v)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Self::wrap(&Value::from(v)))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Self::wrap(&Value::from(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Self::wrap(&Value::from(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Self::wrap(&Value::Null))
        }
    };
}

impl<'a> ValueVisitor<'a> {
    fn wrap(v: &Value) -> WireValue<'a> {
        WireValue::Other(owned(v))
    }
}

impl<'de: 'a, 'a> Visitor<'de> for ValueVisitor<'a> {
    type Value = WireValue<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a change's value")
    }

    scalars!();

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Self::wrap(&v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let member = if key == "messages" || key == "statuses" {
                map.next_value_seed(ItemsSeed(std::marker::PhantomData))?
            } else {
                Member::Raw(Text::Borrowed(map.next_value::<&'de RawValue>()?))
            };
            members.push((key, member));
        }
        Ok(WireValue::Object(members))
    }
}

/// A list member: split into items when it is a list.
struct ItemsSeed<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for ItemsSeed<'a> {
    type Value = Member<'a>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ItemsVisitor(std::marker::PhantomData))
    }
}

struct ItemsVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'a> ItemsVisitor<'a> {
    fn wrap(v: &Value) -> Member<'a> {
        Member::Raw(Text::Owned(owned(v)))
    }
}

impl<'de: 'a, 'a> Visitor<'de> for ItemsVisitor<'a> {
    type Value = Member<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of items")
    }

    scalars!();

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(1));
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            items.push(item);
        }
        Ok(Member::Items(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Self::wrap(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> WireValue<'_> {
        super::super::quiet::from_str(s).unwrap()
    }

    #[test]
    fn lists_are_split_and_the_rest_kept_as_text() {
        let v = read(
            r#"{"messaging_product":"whatsapp","messages":[{"id":"a"}, {"id":"b"}],"statuses":null,"x":{"y":[1]}}"#,
        );
        let Some(Member::Items(items)) = v.member("messages") else {
            panic!("messages are split")
        };
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].get(), r#"{"id":"b"}"#);
        assert_eq!(v.raw_member("x").unwrap().get().get(), r#"{"y":[1]}"#);
        assert_eq!(v.raw_member("statuses").unwrap().get().get(), "null");
        assert!(v.member("contacts").is_none());
    }

    #[test]
    fn the_whole_text_is_the_same_json() {
        let text = r#"{"b":1, "messages":[{"id":"a\"q"}],"a":{"k":"\u00e9"},"messages2":"s"}"#;
        let rebuilt = read(text).raw();
        let a: Value = serde_json::from_str(text).unwrap();
        let b: Value = serde_json::from_str(rebuilt.get()).unwrap();
        assert_eq!(a, b);
        for odd in [r#""text""#, "[1,2]", "7", "true", "null"] {
            let rebuilt = read(odd).raw();
            assert_eq!(
                serde_json::from_str::<Value>(rebuilt.get()).unwrap(),
                serde_json::from_str::<Value>(odd).unwrap()
            );
        }
    }

    #[test]
    fn odd_lists_are_kept_as_text() {
        for odd in [r#""x""#, "{\"a\":1}", "5", "false"] {
            let text = format!(r#"{{"messages":{odd}}}"#);
            let v = read(&text);
            let Some(Member::Raw(t)) = v.member("messages") else {
                panic!("{odd} is not a list")
            };
            assert_eq!(
                serde_json::from_str::<Value>(t.get().get()).unwrap(),
                serde_json::from_str::<Value>(odd).unwrap()
            );
        }
    }
}
