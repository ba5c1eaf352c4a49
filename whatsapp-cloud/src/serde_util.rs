//! Lenient serde helpers for fields Meta sends as numbers or strings.

use serde::Deserializer;
use serde::de::{self, IgnoredAny, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Any JSON value, reduced to what the lenient fields can use.
enum Scalar<'de> {
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Cow<'de, str>),
    Other,
}

/// Reads one value of any shape without failing on its type; arrays and
/// objects are drained and become [`Scalar::Other`].
struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::UInt(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

/// Deserializes an optional integer sent as a number or a numeric string.
/// Anything else (a float, a word, an object) becomes `None` rather than an error,
/// so one odd field never costs the whole event.
pub(crate) fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match d.deserialize_any(ScalarVisitor)? {
        Scalar::Int(v) => Some(v),
        Scalar::UInt(v) => i64::try_from(v).ok(),
        Scalar::Str(s) => s.trim().parse().ok(),
        Scalar::Float(_) | Scalar::Other => None,
    })
}

/// Deserializes an optional number sent as a number or a numeric string
/// (coordinates and prices arrive both ways). Other shapes become `None`.
pub(crate) fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match d.deserialize_any(ScalarVisitor)? {
        Scalar::Int(v) => Some(v as f64),
        Scalar::UInt(v) => Some(v as f64),
        Scalar::Float(v) => Some(v),
        Scalar::Str(s) => s.trim().parse().ok().filter(|f: &f64| f.is_finite()),
        Scalar::Other => None,
    })
}

/// Deserializes an optional unsigned id sent as a number or a numeric string
/// (`message_template_id`). Other shapes become `None`.
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match d.deserialize_any(ScalarVisitor)? {
        Scalar::Int(v) => u64::try_from(v).ok(),
        Scalar::UInt(v) => Some(v),
        Scalar::Str(s) => s.trim().parse().ok(),
        Scalar::Float(_) | Scalar::Other => None,
    })
}

/// Deserializes an optional string sent as a string or a number (ids such as
/// `message_template_id` arrive as numbers). Other shapes become `None`.
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match d.deserialize_any(ScalarVisitor)? {
        Scalar::Int(v) => Some(v.to_string()),
        Scalar::UInt(v) => Some(v.to_string()),
        Scalar::Float(v) => Some(v.to_string()),
        Scalar::Str(s) => Some(s.into_owned()),
        Scalar::Other => None,
    })
}

/// Deserializes a list that may be absent or `null` into an empty `Vec`.
pub(crate) fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    let v: Option<Vec<T>> = serde::Deserialize::deserialize(d)?;
    Ok(v.unwrap_or_default())
}

/// Describes a serde error by category and position, without echoing values
/// (serde messages can quote the offending string, e.g. a phone number).
pub(crate) fn describe_serde_error(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match err.classify() {
        Category::Io => "I/O error",
        Category::Syntax => "malformed JSON",
        Category::Data => "unexpected shape",
        Category::Eof => "truncated JSON",
    };
    let msg = err.to_string();
    let hint = if msg.contains("recursion limit") {
        " (nested too deeply)"
    } else if msg.starts_with("missing field") {
        " (a required field is missing)"
    } else if msg.starts_with("invalid type") {
        " (a field has the wrong type)"
    } else {
        ""
    };
    format!(
        "{what}{hint} at line {} column {}",
        err.line(),
        err.column()
    )
}

/// A string enum the API may extend: known values get a variant, any other is
/// kept in `Other`, and the wire value round-trips.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, as sent.
            Other(String),
        }

        impl $name {
            /// Parses a wire value; unknown values are kept.
            pub fn parse(value: &str) -> Self {
                match value {
                    $($wire => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }

            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(other) => other,
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(Self::parse(&s))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use open_enum;
