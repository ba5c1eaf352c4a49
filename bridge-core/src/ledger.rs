//! The conversation ledger: every message, inbound and outbound, is one CRM
//! record, written **blind** (an upsert on a key derived from the message,
//! never a read-modify-write), so retries, crashes and several instances can
//! neither lose nor double a line of the conversation.
//!
//! The Salesforce writer stores entries in a custom object,
//! `WhatsApp_Message__c` by default ([`LedgerSchema`] names it and its fields;
//! `webhook_to_case setup` creates them). Inbound entries are written in the
//! same call as the message's Case or Lead; outbound entries (replies,
//! reminders, notices, agent answers) after the send; delivery statuses onto
//! the outbound entries, coalesced ([`RecordWriter::write_ledger`]).
//!
//! ```
//! use bridge_core::ledger::{LedgerEntry, LedgerStatus, ledger_key};
//! // A status carries the ledger key back (`biz_opaque_callback_data`):
//! let key = ledger_key("out:reply:wa:msg:wamid.HBgL");
//! let entry = LedgerEntry::status(&key, LedgerStatus::Delivered, None);
//! assert_eq!(entry.status, Some(LedgerStatus::Delivered));
//! assert!(key.len() <= 80);
//! ```
//!
//! [`RecordWriter::write_ledger`]: crate::writer::RecordWriter::write_ledger

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::inbound::CustomerMessage;

/// The longest key kept as is; longer (or not URL-safe) keys are hashed.
const KEY_MAX: usize = 80;

/// The key of a ledger entry: the id itself when it is safe in a URL path
/// (letters, digits, `-`, `_`, `.`, `~`) and at most 80 characters, else
/// `sha256-` and its hex digest (71 characters), so an upsert is the plain
/// `PATCH /sobjects/<object>/<field>/<key>`. Stable: the same id, the same key.
pub fn ledger_key(id: &str) -> String {
    let safe = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    if safe && id.len() <= KEY_MAX {
        id.to_owned()
    } else {
        sha256_hex("sha256-", id.as_bytes())
    }
}

/// `prefix` and the lowercase hex SHA-256 of `data`.
pub(crate) fn sha256_hex(prefix: &str, data: &[u8]) -> String {
    let digest = sha2::Sha256::digest(data);
    let mut out = String::with_capacity(prefix.len() + 64);
    out.push_str(prefix);
    for b in digest {
        for nibble in [b >> 4, b & 0x0f] {
            out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
        }
    }
    out
}

/// The ledger key of an outbound message sent under an outbox key
/// (`reply:wa:msg:wamid...`, `agent:a0X...`).
pub fn outbound_key(outbox_key: &str) -> String {
    ledger_key(&format!("out:{outbox_key}"))
}

/// Names of the ledger object and its fields (all configurable; the defaults
/// are what `setup` creates).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LedgerSchema {
    /// The object (`WhatsApp_Message__c`).
    pub object: String,
    /// The key: Text(255), External ID, Unique (`Message_Id__c`).
    pub key: String,
    /// `Inbound` / `Outbound` (`Direction__c`).
    pub direction: String,
    /// The text, or a description of the media (`Body__c`, long text).
    pub body: String,
    /// The message type (`Type__c`).
    pub kind: String,
    /// The customer's E.164 number (`Customer_Phone__c`).
    pub customer_phone: String,
    /// The business number id it came to or left from (`Business_Phone__c`).
    pub business_phone: String,
    /// `Received`, `Queued`, `Sent`, `Delivered`, `Read`, `Failed` (`Status__c`).
    pub status: String,
    /// Meta's error code of a failure (`Error_Code__c`).
    pub error_code: String,
    /// Meta's error title or a readable reason (`Error_Detail__c`).
    pub error_detail: String,
    /// The template name of a template send (`Template__c`).
    pub template: String,
    /// The WhatsApp message id of an outbound message (`WhatsApp_Id__c`).
    pub whatsapp_id: String,
    /// Matched keywords, `;`-separated (`Tags__c`).
    pub tags: String,
    /// When it was sent (`Sent_At__c`).
    pub sent_at: String,
    /// When its status last changed (`Status_At__c`).
    pub status_at: String,
    /// Lookup to Case (`Case__c`).
    pub case: String,
    /// Lookup to Lead (`Lead__c`).
    pub lead: String,
    /// Lookup to Contact (`Contact__c`).
    pub contact: String,
}

impl Default for LedgerSchema {
    fn default() -> Self {
        Self {
            object: "WhatsApp_Message__c".into(),
            key: "Message_Id__c".into(),
            direction: "Direction__c".into(),
            body: "Body__c".into(),
            kind: "Type__c".into(),
            customer_phone: "Customer_Phone__c".into(),
            business_phone: "Business_Phone__c".into(),
            status: "Status__c".into(),
            error_code: "Error_Code__c".into(),
            error_detail: "Error_Detail__c".into(),
            template: "Template__c".into(),
            whatsapp_id: "WhatsApp_Id__c".into(),
            tags: "Tags__c".into(),
            sent_at: "Sent_At__c".into(),
            status_at: "Status_At__c".into(),
            case: "Case__c".into(),
            lead: "Lead__c".into(),
            contact: "Contact__c".into(),
        }
    }
}

impl LedgerSchema {
    /// The relationship name of a lookup field (`Case__c` → `Case__r`).
    pub fn relationship(field: &str) -> String {
        match field.strip_suffix("__c") {
            Some(stem) => format!("{stem}__r"),
            None => field.trim_end_matches("Id").to_owned(),
        }
    }
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Direction {
    /// From the customer.
    Inbound,
    /// To the customer.
    Outbound,
}

impl Direction {
    /// The picklist value.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "Inbound",
            Direction::Outbound => "Outbound",
        }
    }
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum LedgerStatus {
    /// An inbound message, written.
    Received,
    /// An outbound message waiting to be sent (an agent's record).
    Queued,
    /// Accepted by WhatsApp.
    Sent,
    /// On the customer's phone.
    Delivered,
    /// Read by the customer.
    Read,
    /// Not delivered (see the error code and detail).
    Failed,
}

impl LedgerStatus {
    /// The picklist value.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerStatus::Received => "Received",
            LedgerStatus::Queued => "Queued",
            LedgerStatus::Sent => "Sent",
            LedgerStatus::Delivered => "Delivered",
            LedgerStatus::Read => "Read",
            LedgerStatus::Failed => "Failed",
        }
    }

    /// A WhatsApp status name (`sent`, `delivered`, `read`, `failed`);
    /// `None` for others (`deleted`, `played`, newer ones).
    pub fn from_whatsapp(status: &str) -> Option<Self> {
        Some(match status {
            "sent" => LedgerStatus::Sent,
            "delivered" => LedgerStatus::Delivered,
            "read" => LedgerStatus::Read,
            "failed" => LedgerStatus::Failed,
            _ => return None,
        })
    }

    /// How far along it is: a status never replaces a later one (statuses
    /// arrive out of order). `Failed` is final.
    pub fn rank(self) -> u8 {
        match self {
            LedgerStatus::Received | LedgerStatus::Queued => 0,
            LedgerStatus::Sent => 1,
            LedgerStatus::Delivered => 2,
            LedgerStatus::Read => 3,
            LedgerStatus::Failed => 4,
        }
    }
}

/// The record an entry belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Link {
    /// A Case by id.
    Case(String),
    /// A Case by its message key (written in the same call).
    CaseKey(String),
    /// A Lead by id.
    Lead(String),
    /// A Lead by the customer's E.164 number (written in the same call).
    LeadKey(String),
    /// A Contact by id.
    Contact(String),
}

/// One ledger record, as a blind upsert: only the fields set are written.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LedgerEntry {
    /// The key ([`ledger_key`] of the message id, or [`outbound_key`]).
    pub key: String,
    /// Which way.
    pub direction: Option<Direction>,
    /// The text or a description of the content.
    pub body: Option<String>,
    /// The message type.
    pub kind: Option<String>,
    /// The customer's address.
    pub customer: Option<String>,
    /// The business number id.
    pub business: Option<String>,
    /// The status.
    pub status: Option<LedgerStatus>,
    /// Meta's error code.
    pub error_code: Option<i64>,
    /// The error's title or a reason.
    pub error_detail: Option<String>,
    /// The template name.
    pub template: Option<String>,
    /// The WhatsApp message id (outbound).
    pub whatsapp_id: Option<String>,
    /// Matched keywords.
    pub tags: Vec<String>,
    /// When it was sent.
    pub sent_at: Option<DateTime<Utc>>,
    /// When the status changed.
    pub status_at: Option<DateTime<Utc>>,
    /// The records it belongs to.
    pub links: Vec<Link>,
}

impl std::fmt::Debug for LedgerEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerEntry")
            .field("key", &self.key)
            .field("direction", &self.direction)
            .field(
                "body",
                &self
                    .body
                    .as_ref()
                    .map(|b| format!("[{} chars]", b.chars().count())),
            )
            .field("kind", &self.kind)
            .field(
                "customer",
                &self.customer.as_deref().map(crate::audit::redact_phone),
            )
            .field("status", &self.status)
            .field("error_code", &self.error_code)
            .field("template", &self.template)
            .field("links", &self.links)
            .finish_non_exhaustive()
    }
}

impl LedgerEntry {
    /// The entry of a customer's message (status `Received`).
    pub fn inbound(m: &CustomerMessage) -> Self {
        Self {
            key: ledger_key(&m.id),
            direction: Some(Direction::Inbound),
            body: crate::mapping::describe_content(&m.content)
                .map(|b| crate::mapping::truncate_chars(&b, 32_000).to_owned()),
            kind: Some(m.kind().to_owned()),
            customer: m.from.address().map(normalize_phone),
            business: m.business_id.clone(),
            status: Some(LedgerStatus::Received),
            sent_at: m.sent_at,
            status_at: m.sent_at,
            ..Self::default()
        }
    }

    /// The entry of a message we sent (status `Sent`).
    pub fn outbound(
        key: impl Into<String>,
        to: &str,
        body: &str,
        whatsapp_id: Option<String>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            key: key.into(),
            direction: Some(Direction::Outbound),
            body: Some(crate::mapping::truncate_chars(body, 32_000).to_owned()),
            kind: Some("text".into()),
            customer: Some(normalize_phone(to)),
            status: Some(LedgerStatus::Sent),
            whatsapp_id,
            sent_at: Some(at),
            status_at: Some(at),
            ..Self::default()
        }
    }

    /// A status change of an entry.
    pub fn status(key: &str, status: LedgerStatus, at: Option<DateTime<Utc>>) -> Self {
        Self {
            key: key.to_owned(),
            status: Some(status),
            status_at: at,
            ..Self::default()
        }
    }

    /// Adds a link.
    pub fn link(mut self, link: Link) -> Self {
        self.links.push(link);
        self
    }
}

/// The E.164 form of a number when it parses, else the address as received.
pub(crate) fn normalize_phone(address: &str) -> String {
    crate::format::phone::parse(address).map_or_else(|_| address.trim().to_owned(), |p| p.e164())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_url_safe_and_short() {
        assert_eq!(ledger_key("wamid.HBgL-x_1"), "wamid.HBgL-x_1");
        let long = ledger_key(&"x".repeat(81));
        assert!(long.starts_with("sha256-") && long.len() == 71);
        assert_eq!(
            ledger_key("a/b"),
            "sha256-c14cddc033f64b9dea80ea675cf280a015e672516090a5626781153dc68fea11"
        );
        assert_ne!(ledger_key("a/b"), ledger_key("a/c"));
        assert!(outbound_key("reply:wa:msg:wamid.1").starts_with("sha256-"));
    }

    #[test]
    fn statuses_rank_and_map() {
        assert!(LedgerStatus::Read.rank() > LedgerStatus::Delivered.rank());
        assert_eq!(
            LedgerStatus::from_whatsapp("failed"),
            Some(LedgerStatus::Failed)
        );
        assert_eq!(LedgerStatus::from_whatsapp("played"), None);
        assert_eq!(LedgerSchema::relationship("Case__c"), "Case__r");
        assert_eq!(LedgerSchema::relationship("ContactId"), "Contact");
    }

    #[test]
    fn debug_hides_text_and_numbers() {
        let e = LedgerEntry::outbound("k", "+14155550123", "your secret order", None, Utc::now());
        let d = format!("{e:?}");
        assert!(!d.contains("secret") && !d.contains("5550123"), "{d}");
    }
}
