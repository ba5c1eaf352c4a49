//! The typed, forward-compatible model of a webhook POST body.
//!
//! Parsing is lenient at every level: unknown keys are ignored, every field Meta
//! does not guarantee is an `Option`, numbers arrive as numbers or strings, and
//! unknown message types, status values and change fields become `Unknown` /
//! `Other` variants that keep the raw JSON. One malformed message or status
//! becomes an [`InvalidItem`] next to the others instead of failing the batch.

use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::ErrorCode;
use crate::serde_util::{lenient_i64, lenient_string, null_as_empty};

/// A whole webhook POST body: `{"object": "whatsapp_business_account", "entry": [...]}`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Notification {
    /// The `object` field, `whatsapp_business_account` for WhatsApp.
    pub object: String,
    /// The entries, one per business account.
    pub entries: Vec<Entry>,
}

/// One `entry[]` item: the changes of one WhatsApp Business Account.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Entry {
    /// The WhatsApp Business Account id.
    pub id: String,
    /// `time`, when present (unix seconds).
    pub time: Option<i64>,
    /// The changes.
    pub changes: Vec<Change>,
}

/// One `changes[]` item: a `field` name and its value.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Change {
    /// The subscribed field (`messages`, `message_template_status_update`, ...).
    pub field: String,
    /// The parsed value.
    pub value: ChangeValue,
}

/// The value of a change, typed by its field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ChangeValue {
    /// Field `messages`: inbound messages, statuses and errors.
    Messages(Box<MessagesValue>),
    /// Field `message_template_status_update`.
    TemplateStatusUpdate(TemplateStatusUpdate),
    /// Any other field, kept as raw JSON.
    Other(Box<RawValue>),
    /// A known field whose value could not be parsed.
    Invalid(InvalidItem),
}

/// The value of a `messages` change.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MessagesValue {
    /// `messaging_product`, normally `whatsapp`.
    pub messaging_product: Option<String>,
    /// Which business number the change is about.
    pub metadata: Metadata,
    /// Profiles of the senders (absent on system messages and some statuses).
    pub contacts: Vec<Contact>,
    /// Inbound messages; a malformed one is an `Err` beside the good ones.
    pub messages: Vec<Result<InboundMessage, InvalidItem>>,
    /// Delivery statuses of outbound messages; a malformed one is an `Err`.
    pub statuses: Vec<Result<Status, InvalidItem>>,
    /// Errors about the change as a whole (`value.errors`).
    pub errors: Vec<ErrorDetail>,
}

/// `metadata`: the business number a change is about. Route by `phone_number_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Metadata {
    /// The number as displayed (`15550001111`).
    #[serde(default)]
    pub display_phone_number: Option<String>,
    /// The phone number id, the node messages are sent from.
    #[serde(default)]
    pub phone_number_id: Option<String>,
}

/// `contacts[]`: who sent a message. Phone (`wa_id`) and business-scoped user id
/// (`user_id`) are both optional; at least one is normally present.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Contact {
    /// The profile (absent on statuses).
    #[serde(default)]
    pub profile: Option<Profile>,
    /// The WhatsApp id (phone number without `+`), when Meta shares it.
    #[serde(default)]
    pub wa_id: Option<String>,
    /// The business-scoped user id (`US.13491208655302741918`).
    #[serde(default)]
    pub user_id: Option<String>,
    /// The parent business-scoped user id, for linked portfolios.
    #[serde(default)]
    pub parent_user_id: Option<String>,
}

/// A sender's profile.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Profile {
    /// The profile name the customer chose.
    #[serde(default)]
    pub name: Option<String>,
    /// The WhatsApp username, when the customer has one.
    #[serde(default)]
    pub username: Option<String>,
}

/// Who sent an inbound message: a phone number and/or a business-scoped user id.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sender {
    /// `from`: the customer's wa_id, when Meta shares it.
    pub wa_id: Option<String>,
    /// `from_user_id`: the business-scoped user id.
    pub user_id: Option<String>,
}

impl Sender {
    /// The best id to address a reply to: the wa_id, else the user id.
    pub fn reply_address(&self) -> Option<&str> {
        self.wa_id.as_deref().or(self.user_id.as_deref())
    }
}

/// One inbound message.
#[derive(Clone)]
#[non_exhaustive]
pub struct InboundMessage {
    /// The message id (`wamid....`).
    pub id: String,
    /// Who sent it.
    pub from: Sender,
    /// When it was sent (unix seconds), if the timestamp was readable.
    pub timestamp: Option<i64>,
    /// The raw `type` value.
    pub kind: String,
    /// What it says.
    pub content: MessageContent,
    /// Reply / forward context.
    pub context: Option<MessageContext>,
    /// Click-to-WhatsApp ad referral.
    pub referral: Option<Referral>,
    /// Errors attached to the message (`unsupported` messages carry one).
    pub errors: Vec<ErrorDetail>,
}

/// What an inbound message carries, by type. Open: new types become
/// [`MessageContent::Unknown`] with the raw JSON of the whole message.
#[derive(Clone)]
#[non_exhaustive]
pub enum MessageContent {
    /// `text`.
    Text {
        /// The text.
        body: String,
    },
    /// `image`.
    Image(InboundMedia),
    /// `audio` (voice notes have `voice: true`).
    Audio(InboundMedia),
    /// `video`.
    Video(InboundMedia),
    /// `document`.
    Document(InboundMedia),
    /// `sticker`.
    Sticker(InboundMedia),
    /// `location`.
    Location(InboundLocation),
    /// `contacts`: shared contact cards, kept as raw JSON objects.
    Contacts(Vec<serde_json::Value>),
    /// `interactive`: a reply to buttons, a list or a Flow.
    Interactive(InteractiveReply),
    /// `button`: a template quick-reply button press.
    Button {
        /// The payload set when the template was sent.
        payload: Option<String>,
        /// The button's text.
        text: Option<String>,
    },
    /// `reaction`; `emoji` is `None` when a reaction was removed.
    Reaction {
        /// The message reacted to.
        message_id: Option<String>,
        /// The emoji, absent when the reaction was removed.
        emoji: Option<String>,
    },
    /// `order`: a cart sent from a catalog.
    Order(Order),
    /// `system`: e.g. the customer changed number.
    System(SystemMessage),
    /// `request_welcome`: the customer opened the chat for the first time.
    RequestWelcome,
    /// `unsupported` (or legacy `unknown`): WhatsApp could not deliver the content;
    /// see the message's `errors`.
    Unsupported,
    /// A type this crate does not know; the raw JSON of the whole message.
    Unknown {
        /// The raw message object.
        raw: Box<RawValue>,
    },
}

impl MessageContent {
    /// The text a person wrote, for the types that carry one: text body, media
    /// caption, interactive reply title, button text.
    pub fn text(&self) -> Option<&str> {
        match self {
            MessageContent::Text { body } => Some(body),
            MessageContent::Image(m)
            | MessageContent::Video(m)
            | MessageContent::Document(m)
            | MessageContent::Audio(m)
            | MessageContent::Sticker(m) => m.caption.as_deref(),
            MessageContent::Interactive(InteractiveReply::ButtonReply { title, .. })
            | MessageContent::Interactive(InteractiveReply::ListReply { title, .. }) => Some(title),
            MessageContent::Button { text, .. } => text.as_deref(),
            _ => None,
        }
    }
}

/// An inbound media object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct InboundMedia {
    /// The media id, to download with the client.
    #[serde(default)]
    pub id: Option<String>,
    /// The MIME type.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// The SHA-256 of the file.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The caption (image, video, document).
    #[serde(default)]
    pub caption: Option<String>,
    /// The file name (document).
    #[serde(default)]
    pub filename: Option<String>,
    /// Whether an audio is a voice note.
    #[serde(default)]
    pub voice: Option<bool>,
    /// Whether a sticker is animated.
    #[serde(default)]
    pub animated: Option<bool>,
    /// A direct download URL (newer payloads); needs the same bearer token.
    #[serde(default)]
    pub url: Option<String>,
}

/// An inbound location.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct InboundLocation {
    /// Latitude.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Longitude.
    #[serde(default)]
    pub longitude: Option<f64>,
    /// Place name.
    #[serde(default)]
    pub name: Option<String>,
    /// Address.
    #[serde(default)]
    pub address: Option<String>,
    /// A URL for the place.
    #[serde(default)]
    pub url: Option<String>,
}

/// A reply to an interactive message.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum InteractiveReply {
    /// A reply button was pressed.
    ButtonReply {
        /// The button id you set.
        id: String,
        /// The button title.
        title: String,
    },
    /// A list row was chosen.
    ListReply {
        /// The row id you set.
        id: String,
        /// The row title.
        title: String,
        /// The row description.
        description: Option<String>,
    },
    /// A Flow was completed (`nfm_reply`).
    FlowReply {
        /// `name`, normally `flow`.
        name: Option<String>,
        /// `body`, normally `Sent`.
        body: Option<String>,
        /// `response_json`: the Flow's answers, a JSON document in a string.
        response_json: Option<String>,
    },
    /// An interactive reply type this crate does not know, as raw JSON.
    Unknown {
        /// The `interactive.type` value.
        kind: String,
        /// The raw `interactive` object.
        raw: serde_json::Value,
    },
}

/// An order (cart) sent from a catalog.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Order {
    /// The catalog id.
    #[serde(default)]
    pub catalog_id: Option<String>,
    /// The customer's note.
    #[serde(default)]
    pub text: Option<String>,
    /// The items.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub product_items: Vec<OrderItem>,
}

/// One item of an order.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct OrderItem {
    /// The product's retailer id.
    #[serde(default)]
    pub product_retailer_id: Option<String>,
    /// How many.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub quantity: Option<i64>,
    /// The unit price, as sent (a number in practice).
    #[serde(default)]
    pub item_price: Option<serde_json::Value>,
    /// The currency code.
    #[serde(default)]
    pub currency: Option<String>,
}

/// A system message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SystemMessage {
    /// The text (e.g. "User A changed from ... to ...").
    #[serde(default)]
    pub body: Option<String>,
    /// The system event type (`user_changed_number`, ...), kept as sent.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The customer's new wa_id, for `user_changed_number`.
    #[serde(default)]
    pub wa_id: Option<String>,
}

/// The context of a message: what it replies to or that it was forwarded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct MessageContext {
    /// The wa_id of the author of the quoted message.
    #[serde(default)]
    pub from: Option<String>,
    /// The id of the quoted message.
    #[serde(default)]
    pub id: Option<String>,
    /// Whether the message was forwarded.
    #[serde(default)]
    pub forwarded: Option<bool>,
    /// Whether it was forwarded many times.
    #[serde(default)]
    pub frequently_forwarded: Option<bool>,
}

/// A Click-to-WhatsApp ad or post referral.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Referral {
    /// The ad or post URL.
    #[serde(default)]
    pub source_url: Option<String>,
    /// The ad or post id.
    #[serde(default)]
    pub source_id: Option<String>,
    /// `ad` or `post`.
    #[serde(default)]
    pub source_type: Option<String>,
    /// The ad body.
    #[serde(default)]
    pub body: Option<String>,
    /// The ad headline.
    #[serde(default)]
    pub headline: Option<String>,
    /// `image` or `video`.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The click id, for attribution.
    #[serde(default)]
    pub ctwa_clid: Option<String>,
}

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
    /// The recipient's wa_id.
    pub recipient_id: Option<String>,
    /// The recipient's business-scoped user id.
    pub recipient_user_id: Option<String>,
    /// Conversation (up to Graph v23, and free-entry-point later).
    pub conversation: Option<Conversation>,
    /// Pricing (on sent / delivered).
    pub pricing: Option<Pricing>,
    /// The `biz_opaque_callback_data` you set on the send.
    pub biz_opaque_callback_data: Option<String>,
    /// Why the message failed, for `failed`.
    pub errors: Vec<ErrorDetail>,
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
            StatusKind::Failed => "failed",
            StatusKind::Other(other) => other,
        }
    }

    /// A monotonic rank: sent (1) < delivered (2) < read (3) < failed (4,
    /// terminal). Unknown values rank 0, so they never move a message forward.
    pub fn rank(&self) -> u8 {
        match self {
            StatusKind::Sent => 1,
            StatusKind::Delivered => 2,
            StatusKind::Read => 3,
            StatusKind::Failed => 4,
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
}

impl ErrorDetail {
    /// The code as an open enum (`Other(-1)` when absent).
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::from_code(self.code.unwrap_or(-1))
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

/// Field `message_template_status_update`: a template was approved, rejected,
/// paused, disabled...
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TemplateStatusUpdate {
    /// `APPROVED`, `REJECTED`, `PAUSED`, `DISABLED`, `FLAGGED`, ... as sent.
    #[serde(default)]
    pub event: Option<String>,
    /// The template id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub message_template_id: Option<String>,
    /// The template name.
    #[serde(default)]
    pub message_template_name: Option<String>,
    /// The template language.
    #[serde(default)]
    pub message_template_language: Option<String>,
    /// Why (for rejections), e.g. `INVALID_FORMAT` or `NONE`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// An item (message, status or change value) that could not be parsed. The raw
/// JSON is kept so nothing is lost; `Display` names the problem without data.
#[derive(Clone)]
pub struct InvalidItem {
    /// The raw JSON of the item.
    pub raw: Box<RawValue>,
    /// What serde said, category and position only (no data).
    pub problem: String,
}

impl InvalidItem {
    pub(crate) fn new(raw: &RawValue, err: &serde_json::Error) -> Self {
        Self {
            raw: raw.to_owned(),
            problem: describe_serde_error(err),
        }
    }
}

impl fmt::Debug for InvalidItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvalidItem")
            .field("problem", &self.problem)
            .field("raw_len", &self.raw.get().len())
            .finish()
    }
}

impl fmt::Display for InvalidItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid webhook item: {}", self.problem)
    }
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

// ---------------------------------------------------------------------------
// Wire forms and parsing.
// ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct WireNotification<'a> {
    #[serde(default)]
    object: Option<String>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    entry: Vec<WireEntry<'a>>,
    /// The dashboard's "test" button sends a bare `{field, value}`.
    #[serde(default)]
    field: Option<String>,
    #[serde(default, borrow)]
    value: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireEntry<'a> {
    #[serde(default, deserialize_with = "lenient_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    time: Option<i64>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    changes: Vec<WireChange<'a>>,
}

#[derive(Deserialize)]
struct WireChange<'a> {
    #[serde(default)]
    field: Option<String>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireMessagesValue<'a> {
    #[serde(default)]
    messaging_product: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default, deserialize_with = "null_as_empty")]
    contacts: Vec<Contact>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    messages: Vec<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    statuses: Vec<&'a RawValue>,
    #[serde(default, deserialize_with = "null_as_empty")]
    errors: Vec<ErrorDetail>,
}

#[derive(Deserialize)]
struct Text {
    body: String,
}

#[derive(Deserialize)]
struct WireButton {
    #[serde(default)]
    payload: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct WireReaction {
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    emoji: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage<'a> {
    id: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    from_user_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    timestamp: Option<i64>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    context: Option<MessageContext>,
    #[serde(default)]
    referral: Option<Referral>,
    #[serde(default, deserialize_with = "null_as_empty")]
    errors: Vec<ErrorDetail>,
    #[serde(default)]
    text: Option<Text>,
    #[serde(default)]
    image: Option<InboundMedia>,
    #[serde(default)]
    audio: Option<InboundMedia>,
    #[serde(default)]
    video: Option<InboundMedia>,
    #[serde(default)]
    document: Option<InboundMedia>,
    #[serde(default)]
    sticker: Option<InboundMedia>,
    #[serde(default)]
    location: Option<InboundLocation>,
    #[serde(default)]
    contacts: Option<Vec<serde_json::Value>>,
    #[serde(default, borrow)]
    interactive: Option<&'a RawValue>,
    #[serde(default)]
    button: Option<WireButton>,
    #[serde(default)]
    reaction: Option<WireReaction>,
    #[serde(default)]
    order: Option<Order>,
    #[serde(default)]
    system: Option<SystemMessage>,
}

#[derive(Deserialize)]
struct WireInteractive {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    button_reply: Option<IdTitle>,
    #[serde(default)]
    list_reply: Option<IdTitle>,
    #[serde(default)]
    nfm_reply: Option<NfmReply>,
}

#[derive(Deserialize)]
struct IdTitle {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct NfmReply {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    response_json: Option<String>,
}

#[derive(Deserialize)]
struct WireStatus {
    id: String,
    status: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_string")]
    recipient_id: Option<String>,
    #[serde(default)]
    recipient_user_id: Option<String>,
    #[serde(default)]
    conversation: Option<Conversation>,
    #[serde(default)]
    pricing: Option<Pricing>,
    #[serde(default)]
    biz_opaque_callback_data: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    errors: Vec<ErrorDetail>,
}

pub(crate) fn parse_notification(body: &[u8]) -> Result<Notification, serde_json::Error> {
    let wire: WireNotification<'_> = serde_json::from_slice(body)?;
    let mut wire_entries = wire.entry;
    if wire_entries.is_empty() && wire.field.is_some() {
        wire_entries.push(WireEntry {
            id: None,
            time: None,
            changes: vec![WireChange {
                field: wire.field,
                value: wire.value,
            }],
        });
    }
    let entries = wire_entries
        .into_iter()
        .map(|e| Entry {
            id: e.id.unwrap_or_default(),
            time: e.time,
            changes: e.changes.into_iter().map(parse_change).collect(),
        })
        .collect();
    Ok(Notification {
        object: wire.object.unwrap_or_default(),
        entries,
    })
}

fn parse_change(change: WireChange<'_>) -> Change {
    let field = change.field.unwrap_or_default();
    let null = Box::<RawValue>::default();
    let raw: &RawValue = change.value.unwrap_or(&*null);
    let value = match field.as_str() {
        "messages" => match serde_json::from_str::<WireMessagesValue<'_>>(raw.get()) {
            Ok(v) => ChangeValue::Messages(Box::new(MessagesValue {
                messaging_product: v.messaging_product,
                metadata: v.metadata.unwrap_or_default(),
                contacts: v.contacts,
                messages: v.messages.into_iter().map(parse_message).collect(),
                statuses: v.statuses.into_iter().map(parse_status).collect(),
                errors: v.errors,
            })),
            Err(e) => ChangeValue::Invalid(InvalidItem::new(raw, &e)),
        },
        "message_template_status_update" => {
            match serde_json::from_str::<TemplateStatusUpdate>(raw.get()) {
                Ok(v) => ChangeValue::TemplateStatusUpdate(v),
                Err(e) => ChangeValue::Invalid(InvalidItem::new(raw, &e)),
            }
        }
        _ => ChangeValue::Other(raw.to_owned()),
    };
    Change { field, value }
}

pub(crate) fn parse_message(raw: &RawValue) -> Result<InboundMessage, InvalidItem> {
    let w: WireMessage<'_> =
        serde_json::from_str(raw.get()).map_err(|e| InvalidItem::new(raw, &e))?;
    let missing = |what: &str| {
        serde_json::Error::io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("missing field `{what}`"),
        ))
    };
    let content = match w.kind.as_str() {
        "text" => MessageContent::Text {
            body: w
                .text
                .ok_or_else(|| InvalidItem::new(raw, &missing("text")))?
                .body,
        },
        "image" => MessageContent::Image(w.image.unwrap_or_default()),
        "audio" => MessageContent::Audio(w.audio.unwrap_or_default()),
        "video" => MessageContent::Video(w.video.unwrap_or_default()),
        "document" => MessageContent::Document(w.document.unwrap_or_default()),
        "sticker" => MessageContent::Sticker(w.sticker.unwrap_or_default()),
        "location" => MessageContent::Location(w.location.unwrap_or_default()),
        "contacts" => MessageContent::Contacts(w.contacts.unwrap_or_default()),
        "interactive" => match w.interactive {
            Some(i) => MessageContent::Interactive(parse_interactive(i)),
            None => return Err(InvalidItem::new(raw, &missing("interactive"))),
        },
        "button" => {
            let b = w.button.unwrap_or(WireButton {
                payload: None,
                text: None,
            });
            MessageContent::Button {
                payload: b.payload,
                text: b.text,
            }
        }
        "reaction" => {
            let r = w.reaction.unwrap_or(WireReaction {
                message_id: None,
                emoji: None,
            });
            MessageContent::Reaction {
                message_id: r.message_id,
                emoji: r.emoji.filter(|e| !e.is_empty()),
            }
        }
        "order" => MessageContent::Order(w.order.unwrap_or_default()),
        "system" => MessageContent::System(w.system.unwrap_or_default()),
        "request_welcome" => MessageContent::RequestWelcome,
        "unsupported" | "unknown" => MessageContent::Unsupported,
        _ => MessageContent::Unknown {
            raw: raw.to_owned(),
        },
    };
    Ok(InboundMessage {
        id: w.id,
        from: Sender {
            wa_id: w.from,
            user_id: w.from_user_id,
        },
        timestamp: w.timestamp,
        kind: w.kind,
        content,
        context: w.context,
        referral: w.referral,
        errors: w.errors,
    })
}

fn parse_interactive(raw: &RawValue) -> InteractiveReply {
    let unknown = |kind: String| InteractiveReply::Unknown {
        kind,
        raw: serde_json::from_str(raw.get()).unwrap_or(serde_json::Value::Null),
    };
    let Ok(w) = serde_json::from_str::<WireInteractive>(raw.get()) else {
        return unknown(String::new());
    };
    let kind = w.kind.unwrap_or_default();
    match (kind.as_str(), w.button_reply, w.list_reply, w.nfm_reply) {
        ("button_reply", Some(b), _, _) => InteractiveReply::ButtonReply {
            id: b.id,
            title: b.title,
        },
        ("list_reply", _, Some(l), _) => InteractiveReply::ListReply {
            id: l.id,
            title: l.title,
            description: l.description,
        },
        ("nfm_reply", _, _, Some(n)) => InteractiveReply::FlowReply {
            name: n.name,
            body: n.body,
            response_json: n.response_json,
        },
        _ => unknown(kind),
    }
}

pub(crate) fn parse_status(raw: &RawValue) -> Result<Status, InvalidItem> {
    let w: WireStatus = serde_json::from_str(raw.get()).map_err(|e| InvalidItem::new(raw, &e))?;
    Ok(Status {
        id: w.id,
        status: StatusKind::parse(&w.status),
        timestamp: w.timestamp,
        recipient_id: w.recipient_id,
        recipient_user_id: w.recipient_user_id,
        conversation: w.conversation,
        pricing: w.pricing,
        biz_opaque_callback_data: w.biz_opaque_callback_data,
        errors: w.errors,
    })
}

mod redacted;
