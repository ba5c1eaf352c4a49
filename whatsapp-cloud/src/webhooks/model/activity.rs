//! Conversation activity beside messages: calls, messages the business sent
//! from the WhatsApp Business app (echoes), its contact book and history
//! syncs, and customers' marketing preferences.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::message::{InboundMessage, MessageContent};
use super::status::ErrorDetail;
use super::{Diagnostic, InvalidItem, Metadata, WebhookContact};
use crate::serde_util::{lenient_i64, lenient_string, null_as_empty};

/// Field `calls`: call events (connect, terminate) and call statuses.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct CallsValue {
    /// The business number.
    #[serde(default)]
    pub metadata: Metadata,
    /// The callers' profiles.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub contacts: Vec<WebhookContact>,
    /// Call events.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub calls: Vec<Call>,
    /// Statuses of business-initiated calls (`RINGING`, `ACCEPTED`, `REJECTED`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub statuses: Vec<CallStatus>,
    /// Errors about the change as a whole.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub errors: Vec<ErrorDetail>,
}

/// One call event.
#[derive(Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Call {
    /// The call id (`wacid....`).
    #[serde(default)]
    pub id: String,
    /// `connect` or `terminate`, as sent.
    #[serde(default)]
    pub event: Option<String>,
    /// The caller.
    #[serde(default, deserialize_with = "lenient_string")]
    pub from: Option<String>,
    /// The callee.
    #[serde(default, deserialize_with = "lenient_string")]
    pub to: Option<String>,
    /// When (unix seconds).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub timestamp: Option<i64>,
    /// `USER_INITIATED` or `BUSINESS_INITIATED`, as sent.
    #[serde(default)]
    pub direction: Option<String>,
    /// The SDP offer or answer, on `connect`.
    #[serde(default)]
    pub session: Option<CallSession>,
    /// `COMPLETED` or `FAILED`, on `terminate`.
    #[serde(default)]
    pub status: Option<String>,
    /// When the call started (unix seconds), on `terminate`.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub start_time: Option<i64>,
    /// When it ended (unix seconds).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub end_time: Option<i64>,
    /// How long it lasted, in seconds.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub duration: Option<i64>,
    /// The tracking data you set when you placed the call.
    #[serde(default)]
    pub biz_opaque_callback_data: Option<String>,
    /// Why it failed.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub errors: Vec<ErrorDetail>,
}

/// The SDP of a call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct CallSession {
    /// `offer` or `answer`.
    #[serde(default)]
    pub sdp_type: Option<String>,
    /// The SDP (RFC 8866).
    #[serde(default)]
    pub sdp: Option<String>,
}

/// A status of a business-initiated call.
#[derive(Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct CallStatus {
    /// The call id.
    #[serde(default)]
    pub id: String,
    /// `RINGING`, `ACCEPTED`, `REJECTED`, as sent.
    #[serde(default)]
    pub status: Option<String>,
    /// When (unix seconds).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub timestamp: Option<i64>,
    /// The callee.
    #[serde(default, deserialize_with = "lenient_string")]
    pub recipient_id: Option<String>,
    /// The tracking data you set.
    #[serde(default)]
    pub biz_opaque_callback_data: Option<String>,
}

/// Field `smb_message_echoes`: messages the business sent itself from the
/// WhatsApp Business app or a linked device (coexistence numbers). Never a
/// customer's message.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct EchoesValue {
    /// The business number.
    pub metadata: Metadata,
    /// The messages; a malformed one is an `Err` beside the good ones.
    pub echoes: Vec<Result<EchoMessage, InvalidItem>>,
}

/// A message the business sent from the WhatsApp Business app.
#[derive(Clone)]
#[non_exhaustive]
pub struct EchoMessage {
    /// The message id.
    pub id: String,
    /// The business number it was sent from.
    pub from: Option<String>,
    /// The customer it was sent to.
    pub to: Option<String>,
    /// When (unix seconds).
    pub timestamp: Option<i64>,
    /// The raw `type`.
    pub kind: String,
    /// What it says (edits and revokes included).
    pub content: MessageContent,
    /// Fields left out because they did not match their type.
    pub diagnostics: Vec<Diagnostic>,
    /// The echo as received.
    pub raw: Box<RawValue>,
}

/// Field `smb_app_state_sync`: the WhatsApp Business app's contact book changed.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct StateSyncValue {
    /// The business number.
    #[serde(default)]
    pub metadata: Metadata,
    /// The changes.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub state_sync: Vec<StateSyncItem>,
}

/// One contact book change.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct StateSyncItem {
    /// `contact`, as sent.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The contact.
    #[serde(default)]
    pub contact: Option<SyncedContact>,
    /// `add` or `remove`, as sent.
    #[serde(default)]
    pub action: Option<String>,
    /// When (unix seconds), from `metadata.timestamp`.
    #[serde(default)]
    pub metadata: Option<SyncMetadata>,
}

/// A contact of the WhatsApp Business app.
#[derive(Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct SyncedContact {
    /// The full name.
    #[serde(default)]
    pub full_name: Option<String>,
    /// The first name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// The phone number.
    #[serde(default, deserialize_with = "lenient_string")]
    pub phone_number: Option<String>,
}

/// `state_sync[].metadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SyncMetadata {
    /// When (unix seconds).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub timestamp: Option<i64>,
}

/// Field `history`: past conversations of a coexistence number, in chunks.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HistoryValue {
    /// The business number.
    pub metadata: Metadata,
    /// The chunks.
    pub chunks: Vec<HistoryChunk>,
    /// Errors (for example, the customer declined to share history).
    pub errors: Vec<ErrorDetail>,
    /// The value as received.
    pub raw: Box<RawValue>,
}

/// One chunk of history.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HistoryChunk {
    /// The phase (0, 1, 2: the last day, month, six months).
    pub phase: Option<i64>,
    /// The chunk's number within its phase.
    pub chunk_order: Option<i64>,
    /// Percent of the sync done.
    pub progress: Option<i64>,
    /// The conversations.
    pub threads: Vec<HistoryThread>,
}

/// One conversation of a history chunk.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HistoryThread {
    /// The customer's wa_id.
    pub id: Option<String>,
    /// The messages, both directions (see each message's raw
    /// `history_context`).
    pub messages: Vec<Result<InboundMessage, InvalidItem>>,
}

/// Field `user_preferences`: customers stopped or resumed marketing messages.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct UserPreferencesValue {
    /// The business number.
    #[serde(default)]
    pub metadata: Metadata,
    /// The customers' profiles.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub contacts: Vec<WebhookContact>,
    /// The preferences.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub user_preferences: Vec<UserPreference>,
}

/// One customer's preference.
#[derive(Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct UserPreference {
    /// The customer's wa_id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub wa_id: Option<String>,
    /// The customer's business-scoped user id, when given.
    #[serde(default)]
    pub user_id: Option<String>,
    /// A description (`User requested to stop marketing messages`).
    #[serde(default)]
    pub detail: Option<String>,
    /// `marketing_messages`, as sent.
    #[serde(default)]
    pub category: Option<String>,
    /// `stop` or `resume`, as sent.
    #[serde(default)]
    pub value: Option<String>,
    /// When (unix seconds).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub timestamp: Option<i64>,
}

impl UserPreference {
    /// `Some(true)` when the customer stopped marketing messages,
    /// `Some(false)` when they resumed them, `None` for anything else.
    pub fn marketing_opt_out(&self) -> Option<bool> {
        if self.category.as_deref() != Some("marketing_messages") {
            return None;
        }
        match self.value.as_deref() {
            Some("stop") => Some(true),
            Some("resume") => Some(false),
            _ => None,
        }
    }

    /// The customer's address: the wa_id, else the user id.
    pub fn address(&self) -> Option<&str> {
        self.wa_id.as_deref().or(self.user_id.as_deref())
    }
}
