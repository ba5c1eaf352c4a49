//! Delivery statuses of outbound messages, and the errors webhooks carry.

use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::Diagnostic;
use crate::code::ErrorCode;
use crate::serde_util::lenient_i64;

/// A delivery status of an outbound message.
#[derive(Clone)]
#[non_exhaustive]
pub struct Status {
    /// The id of the message the status is about.
    pub id: String,
    /// The status.
    pub status: StatusKind,
    /// When (unix seconds), if readable.
    pub timestamp: Option<i64>,
    /// The recipient's wa_id (completed from `contacts[]` when the status
    /// lacks it), or the group id for group messages.
    pub recipient_id: Option<String>,
    /// The recipient's business-scoped user id.
    pub recipient_user_id: Option<String>,
    /// The recipient's parent business-scoped user id (linked portfolios).
    pub parent_recipient_user_id: Option<String>,
    /// `individual` or `group`, when Meta says.
    pub recipient_type: Option<String>,
    /// Conversation (up to Graph v23, and free-entry-point later).
    pub conversation: Option<Conversation>,
    /// Pricing (on sent / delivered).
    pub pricing: Option<Pricing>,
    /// The `biz_opaque_callback_data` you set on the send.
    pub biz_opaque_callback_data: Option<String>,
    /// Why the message failed, for `failed`.
    pub errors: Vec<ErrorDetail>,
    /// Fields left out because they did not match their type.
    pub diagnostics: Vec<Diagnostic>,
    /// The status as received, every key included.
    pub raw: Box<RawValue>,
}

/// A status value. Open: new values become [`StatusKind::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusKind {
    /// Accepted by WhatsApp.
    Sent,
    /// Delivered to the device.
    Delivered,
    /// Read by the customer.
    Read,
    /// A voice message was played.
    Played,
    /// Failed; see the status errors. Terminal.
    Failed,
    /// A status this crate does not know, as sent.
    Other(String),
}

impl StatusKind {
    /// Parses a status value.
    pub fn parse(value: &str) -> Self {
        match value {
            "sent" => StatusKind::Sent,
            "delivered" => StatusKind::Delivered,
            "read" => StatusKind::Read,
            "played" => StatusKind::Played,
            "failed" => StatusKind::Failed,
            other => StatusKind::Other(other.to_owned()),
        }
    }

    /// The value as sent.
    pub fn as_str(&self) -> &str {
        match self {
            StatusKind::Sent => "sent",
            StatusKind::Delivered => "delivered",
            StatusKind::Read => "read",
            StatusKind::Played => "played",
            StatusKind::Failed => "failed",
            StatusKind::Other(other) => other,
        }
    }

    /// A monotonic rank: sent (1) < delivered (2) < read (3) < played (4) <
    /// failed (5, terminal). Unknown values rank 0, so they never move a
    /// message forward.
    pub fn rank(&self) -> u8 {
        match self {
            StatusKind::Sent => 1,
            StatusKind::Delivered => 2,
            StatusKind::Read => 3,
            StatusKind::Played => 4,
            StatusKind::Failed => 5,
            StatusKind::Other(_) => 0,
        }
    }

    /// Whether a message currently in `current` should move to `self`.
    /// Statuses arrive out of order; this never moves a message backwards and
    /// never leaves `failed`.
    ///
    /// ```
    /// use whatsapp_cloud::webhooks::StatusKind;
    /// assert!(StatusKind::Read.advances(Some(&StatusKind::Sent)));
    /// assert!(!StatusKind::Delivered.advances(Some(&StatusKind::Read)));
    /// assert!(!StatusKind::Read.advances(Some(&StatusKind::Failed)));
    /// assert!(StatusKind::Played.advances(Some(&StatusKind::Read)));
    /// assert!(StatusKind::Sent.advances(None));
    /// ```
    pub fn advances(&self, current: Option<&StatusKind>) -> bool {
        match current {
            None => true,
            Some(StatusKind::Failed) => false,
            Some(current) => self.rank() > current.rank(),
        }
    }
}

impl fmt::Display for StatusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `conversation` on a status (Graph v23 and earlier).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Conversation {
    /// The conversation id.
    #[serde(default)]
    pub id: Option<String>,
    /// When the conversation window closes (unix seconds).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub expiration_timestamp: Option<i64>,
    /// `origin.type`: `service`, `marketing`, `utility`, `authentication`, ...
    #[serde(default)]
    pub origin: Option<ConversationOrigin>,
}

/// `conversation.origin`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ConversationOrigin {
    /// The origin type, as sent.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// `pricing` on a status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Pricing {
    /// Whether billable (being deprecated).
    #[serde(default)]
    pub billable: Option<bool>,
    /// `PMP` (per message) or the older `CBP`.
    #[serde(default)]
    pub pricing_model: Option<String>,
    /// `marketing`, `utility`, `authentication`, `service`, ...
    #[serde(default)]
    pub category: Option<String>,
    /// `regular`, `free_customer_service`, `free_entry_point`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// An error carried in a webhook (`statuses[].errors`, `messages[].errors`,
/// `value.errors`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ErrorDetail {
    /// The numeric code.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub code: Option<i64>,
    /// The title.
    #[serde(default)]
    pub title: Option<String>,
    /// The message.
    #[serde(default)]
    pub message: Option<String>,
    /// `error_data.details`.
    #[serde(default)]
    pub error_data: Option<ErrorData>,
    /// A documentation link.
    #[serde(default)]
    pub href: Option<String>,
    /// The legacy top-level `details` (older payloads put them here).
    #[serde(default)]
    pub details: Option<String>,
}

impl ErrorDetail {
    /// The code as an open enum (`Other(-1)` when absent).
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::parse(self.code.unwrap_or(-1))
    }

    /// The details, wherever the payload put them.
    pub fn details(&self) -> Option<&str> {
        self.error_data
            .as_ref()
            .and_then(|d| d.details.as_deref())
            .or(self.details.as_deref())
    }
}

/// `error_data` of a webhook error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ErrorData {
    /// The details.
    #[serde(default)]
    pub details: Option<String>,
}
