//! Inbound messages: who sent them and what they carry, by type.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::Diagnostic;
use super::status::ErrorDetail;
use crate::serde_util::{lenient_f64, lenient_i64, lenient_string, null_as_empty};

/// Who sent an inbound message: a phone number and/or a business-scoped user id.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sender {
    /// `from`: the customer's wa_id (phone number without `+`), when Meta shares it.
    pub wa_id: Option<String>,
    /// `from_user_id`: the business-scoped user id (`US.13491208655302741918`).
    pub user_id: Option<String>,
    /// `from_parent_user_id`: the parent business-scoped user id, for
    /// businesses in a linked portfolio.
    pub parent_user_id: Option<String>,
}

impl Sender {
    /// The id to address a reply to. The policy: the phone number (`wa_id`)
    /// when Meta shares it; else the **parent** business-scoped user id when
    /// there is one (replies from a linked portfolio must go to the parent);
    /// else the business-scoped user id.
    ///
    /// ```
    /// use whatsapp_cloud::webhooks::Sender;
    /// let mut s = Sender::default();
    /// s.user_id = Some("US.1".into());
    /// s.parent_user_id = Some("US.9".into());
    /// assert_eq!(s.reply_address(), Some("US.9"));
    /// s.wa_id = Some("14155550123".into());
    /// assert_eq!(s.reply_address(), Some("14155550123"));
    /// ```
    pub fn reply_address(&self) -> Option<&str> {
        self.wa_id
            .as_deref()
            .or(self.parent_user_id.as_deref())
            .or(self.user_id.as_deref())
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
    /// Fields left out because they did not match their type (the message
    /// itself was kept).
    pub diagnostics: Vec<Diagnostic>,
    /// The message as received: every key, known or not (a field Meta adds
    /// tomorrow is readable here today).
    pub raw: Box<RawValue>,
}

impl InboundMessage {
    /// The raw JSON of one key of the message (`"referral"`, a key this crate
    /// does not know yet...), parsed on demand.
    pub fn raw_field(&self, key: &str) -> Option<serde_json::Value> {
        let mut v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(self.raw.get()).ok()?;
        v.remove(key)
    }
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
    /// `contacts`: shared contact cards.
    Contacts(Vec<SharedContact>),
    /// `interactive`: a reply to buttons, a list, a Flow or a call permission
    /// request.
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
    /// `edit`: a message was edited; the new content replaces the original's.
    Edit {
        /// The id of the message that was edited.
        original_message_id: Option<String>,
        /// Its new content, when readable.
        content: Option<Box<MessageContent>>,
    },
    /// `revoke`: a message was deleted by its sender.
    Revoke {
        /// The id of the deleted message.
        original_message_id: Option<String>,
    },
    /// `unsupported` (or legacy `unknown`): WhatsApp could not deliver the
    /// content; see the message's `errors`.
    Unsupported {
        /// What the customer sent, when Meta says (`unsupported.type`: `poll`,
        /// `view_once`, `event`...).
        kind: Option<String>,
    },
    /// A type this crate does not know; the raw JSON of the whole message.
    Unknown {
        /// The raw message object.
        raw: Box<RawValue>,
    },
}

impl MessageContent {
    /// The text a person wrote, for the types that carry one: text body, media
    /// caption, interactive reply title, button text, an edit's new text.
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
            MessageContent::Edit {
                content: Some(c), ..
            } => c.text(),
            _ => None,
        }
    }
}

/// An inbound media object.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct InboundMedia {
    /// The media id, to download with the client.
    #[serde(default, deserialize_with = "lenient_string")]
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

/// An inbound location. Coordinates sent as strings are read as numbers.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct InboundLocation {
    /// Latitude.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub latitude: Option<f64>,
    /// Longitude.
    #[serde(default, deserialize_with = "lenient_f64")]
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

/// A shared contact card (`contacts[]` of a `contacts` message).
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SharedContact {
    /// The name.
    #[serde(default)]
    pub name: Option<ContactName>,
    /// Phone numbers.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub phones: Vec<ContactPhone>,
    /// Email addresses.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub emails: Vec<ContactEmail>,
    /// Postal addresses.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub addresses: Vec<ContactAddress>,
    /// Organization.
    #[serde(default)]
    pub org: Option<ContactOrg>,
    /// Web sites.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub urls: Vec<ContactUrl>,
    /// Birthday, `YYYY-MM-DD` as sent.
    #[serde(default)]
    pub birthday: Option<String>,
}

/// The name of a shared contact.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ContactName {
    /// The full name as displayed.
    #[serde(default)]
    pub formatted_name: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Middle name.
    #[serde(default)]
    pub middle_name: Option<String>,
    /// Prefix.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Suffix.
    #[serde(default)]
    pub suffix: Option<String>,
}

/// A phone number of a shared contact.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ContactPhone {
    /// The number as written.
    #[serde(default, deserialize_with = "lenient_string")]
    pub phone: Option<String>,
    /// The WhatsApp id, when the number is on WhatsApp.
    #[serde(default, deserialize_with = "lenient_string")]
    pub wa_id: Option<String>,
    /// `CELL`, `MAIN`, `HOME`, `WORK`, ... as sent.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// An email address of a shared contact.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ContactEmail {
    /// The address.
    #[serde(default)]
    pub email: Option<String>,
    /// `HOME`, `WORK`, as sent.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// A postal address of a shared contact.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ContactAddress {
    /// Street.
    #[serde(default)]
    pub street: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// State.
    #[serde(default)]
    pub state: Option<String>,
    /// ZIP code.
    #[serde(default, deserialize_with = "lenient_string")]
    pub zip: Option<String>,
    /// Country.
    #[serde(default)]
    pub country: Option<String>,
    /// Two-letter country code.
    #[serde(default)]
    pub country_code: Option<String>,
    /// `HOME`, `WORK`, as sent.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// The organization of a shared contact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ContactOrg {
    /// Company.
    #[serde(default)]
    pub company: Option<String>,
    /// Department.
    #[serde(default)]
    pub department: Option<String>,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
}

/// A web site of a shared contact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ContactUrl {
    /// The URL.
    #[serde(default)]
    pub url: Option<String>,
    /// `HOME`, `WORK`, as sent.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
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
        /// `response_json` parsed, when it is valid JSON (the `flow_token`
        /// and the screens' fields).
        response: Option<serde_json::Value>,
    },
    /// The customer answered a call permission request.
    CallPermissionReply {
        /// `accept` or `reject`, as sent.
        response: Option<String>,
        /// Whether the permission is permanent.
        is_permanent: Option<bool>,
        /// When a temporary permission ends (unix seconds).
        expiration_timestamp: Option<i64>,
        /// Where the answer came from (`user_action`, `automatic`...), as sent.
        response_source: Option<String>,
    },
    /// An interactive reply type this crate does not know, as raw JSON. Also
    /// an `interactive` message without its object (then `kind` is empty and
    /// the message's `errors` say why).
    Unknown {
        /// The `interactive.type` value.
        kind: String,
        /// The raw `interactive` object.
        raw: serde_json::Value,
    },
}

/// An order (cart) sent from a catalog.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Order {
    /// The catalog id.
    #[serde(default, deserialize_with = "lenient_string")]
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
    #[serde(default, deserialize_with = "lenient_string")]
    pub product_retailer_id: Option<String>,
    /// How many.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub quantity: Option<i64>,
    /// The unit price.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub item_price: Option<f64>,
    /// The currency code.
    #[serde(default)]
    pub currency: Option<String>,
}

/// A system message.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SystemMessage {
    /// The text (e.g. "User A changed from ... to ...").
    #[serde(default)]
    pub body: Option<String>,
    /// The system event type (`user_changed_number`, ...), kept as sent.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The customer's new wa_id, for `user_changed_number`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub wa_id: Option<String>,
    /// The customer's new business-scoped user id, when given.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// The context of a message: what it replies to or that it was forwarded.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct MessageContext {
    /// The wa_id of the author of the quoted message.
    #[serde(default, deserialize_with = "lenient_string")]
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
    /// The product asked about (a message sent from a product's page).
    #[serde(default)]
    pub referred_product: Option<ReferredProduct>,
}

/// `context.referred_product`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ReferredProduct {
    /// The catalog id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub catalog_id: Option<String>,
    /// The product's retailer id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub product_retailer_id: Option<String>,
}

/// A Click-to-WhatsApp ad or post referral.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Referral {
    /// The ad or post URL.
    #[serde(default)]
    pub source_url: Option<String>,
    /// The ad or post id.
    #[serde(default, deserialize_with = "lenient_string")]
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
    /// The ad's image, for image ads.
    #[serde(default)]
    pub image_url: Option<String>,
    /// The ad's video, for video ads.
    #[serde(default)]
    pub video_url: Option<String>,
    /// The video's thumbnail.
    #[serde(default)]
    pub thumbnail_url: Option<String>,
    /// The click id, for attribution (absent for Status-ad placements).
    #[serde(default)]
    pub ctwa_clid: Option<String>,
    /// The ad's pre-filled welcome message.
    #[serde(default)]
    pub welcome_message: Option<WelcomeMessage>,
}

/// `referral.welcome_message`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct WelcomeMessage {
    /// The text.
    #[serde(default)]
    pub text: Option<String>,
}
