//! Erasing one customer (a deletion request under CCPA/CPRA, GDPR...): what
//! the bridge's stores hold about a phone number, found and removed.
//!
//! A store entry is the customer's when it [mentions](Customer::mentions)
//! their number: their digits in a key or a value, or a WhatsApp message id
//! that encodes them (a `wamid.` id is base64 of a structure holding the
//! customer's number). Stores erase with `EmbeddedStore::erase_customer`
//! and [`JobQueue::erase_customer`](crate::queue::JobQueue::erase_customer)
//! and, for Redis, `redis::erase_customer` (feature `redis`); the opt-out, which
//! must outlive the erasure, is kept as a SHA-256 hash of the number
//! ([`opt_out_hash`]), still honoured.
//!
//! ```
//! use bridge_core::erase::Customer;
//!
//! let c = Customer::new("+1 (415) 555-0123").unwrap();
//! assert!(c.mentions(br#"{"from":"14155550123","text":"hi"}"#));
//! assert!(!c.mentions(br#"{"from":"14155550188"}"#));
//! // Meta's message ids carry the number in base64.
//! assert!(c.mentions(b"wa:msg:wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQUFCQ0RFRg=="));
//! assert_eq!(format!("{c:?}"), "Customer(***23)");
//! ```

/// A customer to erase: their number, as digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Customer {
    digits: String,
}

impl std::fmt::Debug for Customer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tail = self
            .digits
            .get(self.digits.len().saturating_sub(2)..)
            .unwrap_or("");
        write!(f, "Customer(***{tail})")
    }
}

/// A number that cannot name one customer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a customer's number has 7 to 15 digits (E.164), got {digits} digit(s)")]
pub struct NotANumber {
    digits: usize,
}

impl Customer {
    /// The customer with this number, in any formatting (`+1 (415)
    /// 555-0123`, `14155550123`). Fewer than 7 or more than 15 digits is
    /// refused: a short pattern would match other customers' data.
    pub fn new(number: &str) -> Result<Self, NotANumber> {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        if !(7..=15).contains(&digits.len()) {
            return Err(NotANumber {
                digits: digits.len(),
            });
        }
        Ok(Self { digits })
    }

    /// The number's digits (the customer's data: do not log them).
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// Whether a stored key or value mentions the customer: their digits
    /// appear in it, or a WhatsApp message id in it encodes them.
    pub fn mentions(&self, bytes: &[u8]) -> bool {
        let needle = self.digits.as_bytes();
        if bytes.windows(needle.len()).any(|w| w == needle) {
            return true;
        }
        wamids(bytes).any(|id| {
            decode_base64(id).is_some_and(|raw| raw.windows(needle.len()).any(|w| w == needle))
        })
    }

    /// The key an opt-out is kept under once the customer is erased.
    pub fn opt_out_hash(&self) -> String {
        opt_out_hash(&self.digits)
    }
}

pub use crate::optout::opt_out_hash;

/// The base64 part of every `wamid.` id in `bytes`.
fn wamids(bytes: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    const PREFIX: &[u8] = b"wamid.";
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = bytes.get(at..)?;
        let start = rest.windows(PREFIX.len()).position(|w| w == PREFIX)? + PREFIX.len();
        let body = rest.get(start..)?;
        let len = body
            .iter()
            .position(|b| {
                !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
            })
            .unwrap_or(body.len());
        at += start + len;
        body.get(..len)
    })
}

/// Decodes standard or URL-safe base64, padded or not; `None` when it is not
/// base64.
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        }))
    };
    let text = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// What an erasure removed, per kind of entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Erased {
    /// Jobs (waiting, in flight or dead) removed from the queues.
    pub jobs: u64,
    /// Completed and dedup keys forgotten (the customer's message ids).
    pub keys: u64,
    /// 24-hour windows.
    pub windows: u64,
    /// Sent-log entries.
    pub sent: u64,
    /// Customer records (cached Contact and Case ids).
    pub customer_records: u64,
    /// Whether an opt-out was found and kept as a hash.
    pub opt_out_hashed: bool,
}

impl Erased {
    /// Writes the audit line of an erasure (target `bridge_core::audit`,
    /// event `customer_erased`): what was removed, never who (the caller's
    /// request is the record of who asked). The stores of this crate write
    /// it from their `erase_customer`; a store of your own can too.
    pub fn audit(&self) {
        tracing::info!(
            target: "bridge_core::audit",
            event = "customer_erased",
            jobs = self.jobs,
            keys = self.keys,
            windows = self.windows,
            sent = self.sent,
            customer_records = self.customer_records,
            opt_out_hashed = self.opt_out_hashed,
        );
    }
}

impl Erased {
    /// Entries removed in all.
    pub fn total(&self) -> u64 {
        self.jobs + self.keys + self.windows + self.sent + self.customer_records
    }
}

impl std::ops::AddAssign for Erased {
    fn add_assign(&mut self, o: Self) {
        self.jobs += o.jobs;
        self.keys += o.keys;
        self.windows += o.windows;
        self.sent += o.sent;
        self.customer_records += o.customer_records;
        self.opt_out_hashed |= o.opt_out_hashed;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numbers_of_every_form_name_one_customer_and_short_ones_are_refused() {
        let a = Customer::new("+1 (415) 555-0123").unwrap();
        assert_eq!(a, Customer::new("14155550123").unwrap());
        assert!(Customer::new("555-01").is_err());
        assert!(Customer::new("").is_err());
        assert!(Customer::new("1234567890123456").is_err());
        assert!(!format!("{a:?}").contains("5550123"));
    }

    #[test]
    fn message_ids_are_decoded_whatever_their_alphabet() {
        let c = Customer::new("14155550123").unwrap();
        // base64("\x18\x0b14155550123") with and without padding, and URL-safe.
        assert!(c.mentions(b"wamid.GAsxNDE1NTU1MDEyMw=="));
        assert!(c.mentions(b"wamid.GAsxNDE1NTU1MDEyMw"));
        assert!(c.mentions(b"reply:wa:msg:wamid.GAsxNDE1NTU1MDEyMw,x"));
        assert!(!c.mentions(b"wamid.GAsxNDE1NTU1MDE4OA=="), "another number");
        assert!(!c.mentions(b"wamid.%%%"), "not base64");
        assert!(!c.mentions(b"nothing here"));
    }

    #[test]
    fn the_opt_out_hash_is_stable_and_holds_no_digits_of_the_number() {
        let h = Customer::new("14155550123").unwrap().opt_out_hash();
        assert_eq!(h, opt_out_hash("14155550123"));
        assert!(h.starts_with("sha256:") && h.len() == 71);
        assert!(!h.contains("5550123"));
    }
}
