//! A deserializer adapter whose type errors never quote the value.
//!
//! serde's default `invalid_type` formats the offending value into the
//! message: a 1 MB string where an object belongs becomes a 1 MB error
//! message, escaped character by character (34 ms in release for non-ASCII
//! text, against about 1 ms to parse the same string where a string
//! belongs). Webhook items are parsed through [`Quiet`], which hands every
//! primitive to the visitor with an error type of its own ([`Short`]) whose
//! messages name the kind of value only (`invalid type: string, expected
//! f64`), then passes that short message on as the wrapped deserializer's
//! error, so serde_json still adds its line and column.
//!
//! Containers and primitives are read with `deserialize_any`, so that a
//! value of the wrong type reaches the visitor instead of being rejected
//! (and formatted) by serde_json itself. Options, enums, newtypes (serde_json's
//! `RawValue` is one), identifiers and ignored values keep their own entry
//! points.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, Expected, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};

/// Wraps a deserializer (see the [module](self) docs).
pub(crate) struct Quiet<D>(pub(crate) D);

/// An error naming the kind of the value, never the value.
#[derive(Debug)]
pub(crate) struct Short(String);

impl fmt::Display for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Short {}

/// The kind of an unexpected value, in serde's words, without the value.
fn kind(u: &Unexpected<'_>) -> &'static str {
    match u {
        Unexpected::Bool(_) => "boolean",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) => "integer",
        Unexpected::Float(_) => "floating point",
        Unexpected::Char(_) => "character",
        Unexpected::Str(_) => "string",
        Unexpected::Bytes(_) => "byte array",
        Unexpected::Unit => "null",
        Unexpected::Option => "option",
        Unexpected::NewtypeStruct => "newtype struct",
        Unexpected::Seq => "sequence",
        Unexpected::Map => "map",
        Unexpected::Enum => "enum",
        Unexpected::UnitVariant
        | Unexpected::NewtypeVariant
        | Unexpected::TupleVariant
        | Unexpected::StructVariant => "variant",
        Unexpected::Other(_) => "value",
    }
}

impl de::Error for Short {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Short(msg.to_string())
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Short(format!("invalid type: {}, expected {exp}", kind(&unexp)))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Short(format!("invalid value: {}, expected {exp}", kind(&unexp)))
    }

    fn unknown_variant(_variant: &str, _expected: &'static [&'static str]) -> Self {
        Short("unknown variant".to_owned())
    }
}

/// Passes a [`Short`] error on as the outer error type.
fn relay<T, E: de::Error>(r: Result<T, Short>) -> Result<T, E> {
    r.map_err(|e| E::custom(e.0))
}

/// Wraps the visitor so that the values handed to it go through [`Quiet`].
struct Wrap<V>(V);

macro_rules! by_any {
    ($($method:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                self.0.deserialize_any(Wrap(visitor))
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Quiet<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_any(Wrap(visitor))
    }

    by_any!(
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
    );

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_option(Wrap(visitor))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_any(Wrap(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_newtype_struct(name, Wrap(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_any(Wrap(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_any(Wrap(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_any(Wrap(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, Wrap(visitor))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_identifier(Wrap(visitor))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! primitive {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                relay(self.0.$method::<Short>(v))
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    primitive!(
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_i128(i128),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_u128(u128),
        visit_f32(f32),
        visit_f64(f64),
        visit_char(char),
        visit_str(&str),
        visit_borrowed_str(&'de str),
        visit_string(String),
        visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    );

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        relay(self.0.visit_none::<Short>())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        relay(self.0.visit_unit::<Short>())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.visit_some(Quiet(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.visit_newtype_struct(Quiet(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.visit_seq(Quiet(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(Quiet(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.0.visit_enum(Quiet(data))
    }
}

/// Wraps a seed so that the value it reads goes through [`Quiet`].
struct Seed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(Quiet(d))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Quiet<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Quiet<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        self.0.next_key_seed(Seed(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Quiet<A> {
    type Error = A::Error;
    type Variant = Quiet<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), Self::Error> {
        let (value, variant) = self.0.variant_seed(Seed(seed))?;
        Ok((value, Quiet(variant)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Quiet<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.tuple_variant(len, Wrap(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.struct_variant(fields, Wrap(visitor))
    }
}

/// Reads `T` from the JSON text `s` through [`Quiet`].
pub(crate) fn from_str<'a, T: serde::Deserialize<'a>>(s: &'a str) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(s);
    let value = T::deserialize(Quiet(&mut de))?;
    de.end()?;
    Ok(value)
}

/// Reads `T` from the JSON bytes `s` through [`Quiet`].
pub(crate) fn from_slice<'a, T: serde::Deserialize<'a>>(
    s: &'a [u8],
) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(s);
    let value = T::deserialize(Quiet(&mut de))?;
    de.end()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Place {
        name: Option<String>,
        latitude: Option<f64>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Text,
        Image,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        id: String,
        kind: Option<Kind>,
        place: Option<Place>,
        tags: Vec<u32>,
        extra: Option<serde_json::Value>,
        #[serde(default)]
        pair: Option<(u8, bool)>,
    }

    #[test]
    fn reads_what_serde_json_reads() {
        let raw = r#"{"id":"a","kind":"image","place":{"name":"Home","latitude":1},
            "tags":[1,2],"extra":{"x":[null,true,"y",1.5]},"pair":[7,false],"ignored":{"deep":[1]}}"#;
        let ours: Item = from_str(raw).unwrap();
        let theirs: Item = serde_json::from_str(raw).unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(ours.kind, Some(Kind::Image));
        assert_eq!(ours.place.unwrap().latitude, Some(1.0));
    }

    #[test]
    fn a_wrong_type_is_named_without_its_value_and_keeps_its_position() {
        let long = "é".repeat(10_000);
        let raw = format!(r#"{{"id":"a","place":"{long}","tags":[]}}"#);
        let e = from_str::<Item>(&raw).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("invalid type: string, expected"), "{msg}");
        assert!(!msg.contains('é'), "the value is not quoted");
        assert_eq!(e.line(), 1);
        assert!(e.column() > 10_000, "{}", e.column());
        assert_eq!(e.classify(), serde_json::error::Category::Data);
    }

    #[test]
    fn every_kind_of_mistake_is_short() {
        for (raw, found) in [
            (r#"{"id":5,"tags":[]}"#, "integer"),
            (r#"{"id":"a","tags":"x"}"#, "string"),
            (r#"{"id":"a","tags":[1.5]}"#, "floating point"),
            (r#"{"id":"a","tags":[true]}"#, "boolean"),
            (r#"{"id":"a","tags":{}}"#, "map"),
            (r#"{"id":["a"],"tags":[]}"#, "sequence"),
        ] {
            let msg = from_str::<Item>(raw).unwrap_err().to_string();
            assert!(
                msg.contains(&format!("invalid type: {found},")),
                "{raw}: {msg}"
            );
        }
        let msg = from_str::<Item>(r#"{"id":"a","tags":[],"kind":"video"}"#)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("unknown variant"), "{msg}");
        assert!(!msg.contains("video"), "{msg}");
        assert!(from_str::<Item>(r#"{"id":"a","tags":[]} x"#).is_err());
        assert!(from_str::<Item>(r#"{"id":"a""#).is_err());
    }

    #[test]
    fn raw_values_still_borrow_their_text() {
        #[derive(Deserialize)]
        struct Holder<'a> {
            #[serde(borrow)]
            inner: &'a serde_json::value::RawValue,
        }
        let h: Holder<'_> = from_str(r#"{"inner": {"a": [1, 2]}}"#).unwrap();
        assert_eq!(h.inner.get(), r#"{"a": [1, 2]}"#);
    }
}
