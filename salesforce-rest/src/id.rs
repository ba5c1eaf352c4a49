//! Record ids: 15-character (case-sensitive) and 18-character (case-safe) forms.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

const SUFFIX: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// A validated Salesforce record id, kept in its 18-character form.
///
/// Parsing accepts a 15-character id (and adds the checksum), an 18-character id
/// (and checks it), and an 18-character id whose case was lost (it is re-cased
/// from the checksum). Two ids are equal when they name the same record,
/// whatever form they were written in.
///
/// ```
/// use salesforce_rest::SalesforceId;
///
/// let short: SalesforceId = "001A0000006Vm9r".parse()?;
/// assert_eq!(short.as_str(), "001A0000006Vm9rIAC");
/// let long: SalesforceId = "001A0000006Vm9rIAC".parse()?;
/// assert_eq!(short, long);
/// assert_eq!(long.to_15(), "001A0000006Vm9r");
/// assert_eq!(long.key_prefix(), "001");
/// # Ok::<(), salesforce_rest::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SalesforceId([u8; 18]);

impl SalesforceId {
    /// Parses and validates an id.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let b = s.trim().as_bytes();
        if !b.iter().all(u8::is_ascii_alphanumeric) {
            return Err(Error::Config(format!(
                "{s:?} is not a Salesforce id: only letters and digits"
            )));
        }
        match b.len() {
            15 => {
                let mut id = [0u8; 18];
                id[..15].copy_from_slice(b);
                let suffix = checksum(&id[..15]);
                id[15..].copy_from_slice(&suffix);
                Ok(Self(id))
            }
            18 => {
                let mut id = [0u8; 18];
                id.copy_from_slice(b);
                if checksum(&id[..15]) == id[15..] {
                    return Ok(Self(id));
                }
                // A mismatch is forgivable only when the case was visibly lost
                // (all letters upper or all lower): then the checksum re-cases it.
                let letters = || id[..15].iter().filter(|c| c.is_ascii_alphabetic());
                let uniform =
                    letters().all(u8::is_ascii_uppercase) || letters().all(u8::is_ascii_lowercase);
                uniform
                    .then(|| recase(&id))
                    .flatten()
                    .map(Self)
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "{s:?} is not a valid Salesforce id: the checksum does not match"
                        ))
                    })
            }
            n => Err(Error::Config(format!(
                "{s:?} is not a Salesforce id: expected 15 or 18 characters, got {n}"
            ))),
        }
    }

    /// The 18-character form.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters and digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The 15-character, case-sensitive form.
    pub fn to_15(&self) -> &str {
        self.as_str().get(..15).unwrap_or_default()
    }

    /// The 3-character key prefix naming the object (`00Q` Lead, `500` Case, ...).
    pub fn key_prefix(&self) -> &str {
        self.as_str().get(..3).unwrap_or_default()
    }
}

fn checksum(id15: &[u8]) -> [u8; 3] {
    let mut out = [0u8; 3];
    for (chunk, slot) in id15.chunks(5).zip(out.iter_mut()) {
        let mut bits = 0usize;
        for (i, c) in chunk.iter().enumerate() {
            if c.is_ascii_uppercase() {
                bits |= 1 << i;
            }
        }
        *slot = SUFFIX.get(bits).copied().unwrap_or(b'A');
    }
    out
}

/// Re-cases an 18-character id whose first 15 characters lost their case.
fn recase(id: &[u8; 18]) -> Option<[u8; 18]> {
    let mut out = *id;
    let (body, suffix) = out.split_at_mut(15);
    for (chunk, s) in body.chunks_mut(5).zip(suffix.iter_mut()) {
        let c = s.to_ascii_uppercase();
        let bits = SUFFIX.iter().position(|&x| x == c)?;
        for (i, ch) in chunk.iter_mut().enumerate() {
            let upper = bits & (1 << i) != 0;
            if ch.is_ascii_digit() {
                if upper {
                    return None;
                }
            } else {
                *ch = if upper {
                    ch.to_ascii_uppercase()
                } else {
                    ch.to_ascii_lowercase()
                };
            }
        }
        *s = c;
    }
    let (body, suffix) = out.split_at(15);
    (checksum(body) == suffix).then_some(out)
}

impl FromStr for SalesforceId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Display for SalesforceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SalesforceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SalesforceId({})", self.as_str())
    }
}

impl Serialize for SalesforceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SalesforceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        for (short, long) in [
            ("001A0000006Vm9r", "001A0000006Vm9rIAC"),
            ("003A0000005QB3A", "003A0000005QB3AIAW"),
            ("a0D30000001n7Pi", "a0D30000001n7PiEAI"),
            ("00Q5g00000AbCdE", "00Q5g00000AbCdEEAV"),
            ("000000000000000", "000000000000000AAA"),
        ] {
            let id = SalesforceId::parse(short).unwrap();
            assert_eq!(id.as_str(), long, "{short}");
            assert_eq!(SalesforceId::parse(long).unwrap(), id);
            assert_eq!(id.to_15(), short);
        }
        // The widely copied wrong vector is rejected.
        assert!(SalesforceId::parse("a0D30000001n7PiEAC").is_err());
    }

    #[test]
    fn lost_case_is_recovered_and_bad_input_refused() {
        let id = SalesforceId::parse("001A0000006Vm9rIAC").unwrap();
        assert_eq!(SalesforceId::parse("001a0000006vm9riac").unwrap(), id);
        assert_eq!(SalesforceId::parse("001A0000006VM9RIAC").unwrap(), id);
        for bad in [
            "",
            "001",
            "001A0000006Vm9r!",
            "001A0000006Vm9rIA",
            "0000000000000000BA",
            "001A0000006Vm9r\u{e9}xx",
        ] {
            assert!(SalesforceId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_round_trip() {
        let id: SalesforceId = serde_json::from_str("\"500A0000006Vm9r\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
        assert!(serde_json::from_str::<SalesforceId>("\"nope\"").is_err());
    }
}
