//! Outbound messages: typed builders for every kind the Cloud API sends, checked
//! against the documented limits before anything goes on the wire.
//!
//! A [`Message`] is a recipient plus [`Content`]. Builders are plain values (no
//! client inside), so they can be stored, returned and sent by any transport;
//! [`Message::validate`] reports the first broken limit as a [`ValidationError`],
//! and the client calls it before every send.
//!
//! ```
//! use whatsapp_cloud::messages::{Interactive, Message, ReplyButton, Text};
//!
//! let reply = Message::new("14155550123", Text::new("Thanks! Your case number is 00001026."))
//!     .reply_to("wamid.HBgLMTQxNTU1NTAxMjM");
//! assert!(reply.validate().is_ok());
//!
//! let too_many = Interactive::buttons(
//!     "Confirm your appointment?",
//!     vec![
//!         ReplyButton::new("yes", "Confirm"),
//!         ReplyButton::new("no", "Reschedule"),
//!         ReplyButton::new("call", "Call me"),
//!         ReplyButton::new("later", "Later"),
//!     ],
//! );
//! let err = Message::new("14155550123", too_many).validate().unwrap_err();
//! assert_eq!(err.field, "interactive.action.buttons");
//! assert!(err.problem.contains("at most 3"));
//! ```

use serde::{Deserialize, Serialize, Serializer};

use crate::error::ValidationError;

/// Longest text body, in characters.
pub const MAX_TEXT_BODY: usize = 4096;
/// Longest media caption, in characters.
pub const MAX_CAPTION: usize = 1024;
/// Longest interactive body text, in characters.
pub const MAX_INTERACTIVE_BODY: usize = 1024;
/// Longest interactive header text or footer, in characters.
pub const MAX_HEADER_FOOTER: usize = 60;
/// Most reply buttons on an interactive message.
pub const MAX_REPLY_BUTTONS: usize = 3;
/// Longest reply button title, in characters.
pub const MAX_BUTTON_TITLE: usize = 20;
/// Longest reply button id, in characters.
pub const MAX_BUTTON_ID: usize = 256;
/// Most list sections.
pub const MAX_LIST_SECTIONS: usize = 10;
/// Most list rows, across all sections.
pub const MAX_LIST_ROWS: usize = 10;
/// Longest list row or section title, in characters.
pub const MAX_ROW_TITLE: usize = 24;
/// Longest list row id, in characters.
pub const MAX_ROW_ID: usize = 200;
/// Longest list row description, in characters.
pub const MAX_ROW_DESCRIPTION: usize = 72;
/// Longest button label (list button, CTA display text), in characters.
pub const MAX_BUTTON_LABEL: usize = 20;
/// Longest Flow CTA text, in characters.
pub const MAX_FLOW_CTA: usize = 30;
/// Longest time a call button stays usable, in minutes (30 days).
pub const MAX_CALL_BUTTON_TTL_MINUTES: u64 = 43_200;
/// Fewest cards in a carousel template.
pub const MIN_CAROUSEL_CARDS: usize = 2;
/// Most cards in a carousel template.
pub const MAX_CAROUSEL_CARDS: usize = 10;
/// Most buttons on a carousel card.
pub const MAX_CARD_BUTTONS: usize = 2;
/// Longest coupon code of a copy-code button, in characters: 20, per Meta's
/// "Coupon code templates" page (updated 2025-12-03: "Code to be copied to
/// device clipboard when tapped. Maximum 20 characters."; pages before it
/// said 15, and the message-template components page still does).
pub const MAX_COUPON_CODE: usize = 20;
/// Longest one-time password of an authentication template, in characters.
pub const MAX_OTP_CODE: usize = 15;
/// Longest text parameter of a template body, in characters.
pub const MAX_TEMPLATE_BODY_PARAM: usize = 1024;

/// Who a message goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recipient {
    /// A phone number or wa_id (`to`). Formatting and `+` are accepted by the API.
    Phone(String),
    /// A business-scoped user id (`recipient`), for customers with a username.
    UserId(String),
}

impl Recipient {
    /// A business-scoped user id when the value has that shape (two capital
    /// letters, a dot, then letters or digits: `US.13491208655302741918`), else a
    /// phone number or wa_id.
    pub fn parse(value: &str) -> Self {
        let b = value.as_bytes();
        let is_bsuid = b.len() > 3
            && b.iter().take(2).all(u8::is_ascii_uppercase)
            && b.get(2) == Some(&b'.')
            && b.iter().skip(3).all(u8::is_ascii_alphanumeric);
        if is_bsuid {
            Recipient::UserId(value.to_owned())
        } else {
            Recipient::Phone(value.to_owned())
        }
    }

    /// The raw value.
    pub fn as_str(&self) -> &str {
        match self {
            Recipient::Phone(v) | Recipient::UserId(v) => v,
        }
    }

    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Recipient::Phone(p) => {
                let digits = p.chars().filter(char::is_ascii_digit).count();
                let allowed = p
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'));
                if !allowed || !(5..=15).contains(&digits) {
                    return Err(ValidationError::new(
                        "to",
                        "expected a phone number of 5 to 15 digits (formatting and `+` allowed)",
                    ));
                }
            }
            Recipient::UserId(u) => {
                if u.trim().is_empty() || u.len() > 128 {
                    return Err(ValidationError::new(
                        "recipient",
                        "expected a business-scoped user id of 1 to 128 characters",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl From<&str> for Recipient {
    fn from(value: &str) -> Self {
        Recipient::parse(value)
    }
}

impl From<String> for Recipient {
    fn from(value: String) -> Self {
        Recipient::parse(&value)
    }
}

impl From<&String> for Recipient {
    fn from(value: &String) -> Self {
        Recipient::parse(value)
    }
}

/// A message: recipient, content, and the optional reply context and callback data.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    to: Recipient,
    content: Content,
    reply_to: Option<String>,
    callback_data: Option<String>,
}

impl Message {
    /// A message with content to a recipient.
    pub fn new(to: impl Into<Recipient>, content: impl Into<Content>) -> Self {
        Self {
            to: to.into(),
            content: content.into(),
            reply_to: None,
            callback_data: None,
        }
    }

    /// Quotes an earlier message (`context.message_id`).
    pub fn reply_to(mut self, message_id: impl Into<String>) -> Self {
        self.reply_to = Some(message_id.into());
        self
    }

    /// Sets `biz_opaque_callback_data`, echoed back on this message's statuses
    /// (at most 512 characters).
    pub fn callback_data(mut self, data: impl Into<String>) -> Self {
        self.callback_data = Some(data.into());
        self
    }

    /// The recipient.
    pub fn recipient(&self) -> &Recipient {
        &self.to
    }

    /// The content.
    pub fn content(&self) -> &Content {
        &self.content
    }

    /// The kind of content (`text`, `image`, `template`, ...).
    pub fn kind(&self) -> &'static str {
        self.content.kind()
    }

    /// Checks every documented limit; the first broken one is returned.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.to.validate()?;
        if let Some(id) = &self.reply_to {
            non_empty("context.message_id", id)?;
        }
        if let Some(data) = &self.callback_data {
            max_chars("biz_opaque_callback_data", data, 512)?;
        }
        self.content.validate()
    }

    /// The JSON body of `POST /{phone-number-id}/messages`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Ctx<'a> {
            message_id: &'a str,
        }
        #[derive(Serialize)]
        struct Wire<'a> {
            messaging_product: &'static str,
            recipient_type: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            to: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            recipient: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            context: Option<Ctx<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            biz_opaque_callback_data: Option<&'a str>,
            #[serde(flatten)]
            content: &'a Content,
        }
        let (to, recipient) = match &self.to {
            Recipient::Phone(p) => (Some(p.as_str()), None),
            Recipient::UserId(u) => (None, Some(u.as_str())),
        };
        Wire {
            messaging_product: "whatsapp",
            recipient_type: "individual",
            to,
            recipient,
            context: self
                .reply_to
                .as_deref()
                .map(|message_id| Ctx { message_id }),
            biz_opaque_callback_data: self.callback_data.as_deref(),
            content: &self.content,
        }
        .serialize(s)
    }
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Content {
    /// A text message.
    Text {
        /// The text object.
        text: Text,
    },
    /// An image.
    Image {
        /// The media object.
        image: Media,
    },
    /// An audio file or voice note.
    Audio {
        /// The media object.
        audio: Media,
    },
    /// A video.
    Video {
        /// The media object.
        video: Media,
    },
    /// A document.
    Document {
        /// The media object.
        document: Media,
    },
    /// A sticker.
    Sticker {
        /// The media object.
        sticker: Media,
    },
    /// A location pin.
    Location {
        /// The location.
        location: Location,
    },
    /// Contact cards.
    Contacts {
        /// The cards.
        contacts: Vec<ContactCard>,
    },
    /// A reaction (or its removal).
    Reaction {
        /// The reaction.
        reaction: Reaction,
    },
    /// An interactive message: buttons, list, CTA URL, Flow, location, address
    /// and contact requests, call button, call permission, product, product
    /// list, catalog.
    Interactive {
        /// The interactive object.
        interactive: Interactive,
    },
    /// A template.
    Template {
        /// The template.
        template: Template,
    },
    /// Content already in wire form: an object with a `type` and the object it
    /// names (`{"type": "text", "text": {"body": "..."}}`). For outboxes that
    /// stored a message as JSON and for kinds this crate does not model yet;
    /// only the `type` field is checked before sending.
    #[serde(untagged)]
    Json(serde_json::Map<String, serde_json::Value>),
}

impl Content {
    /// The `type` value.
    pub fn kind(&self) -> &'static str {
        match self {
            Content::Text { .. } => "text",
            Content::Image { .. } => "image",
            Content::Audio { .. } => "audio",
            Content::Video { .. } => "video",
            Content::Document { .. } => "document",
            Content::Sticker { .. } => "sticker",
            Content::Location { .. } => "location",
            Content::Contacts { .. } => "contacts",
            Content::Reaction { .. } => "reaction",
            Content::Interactive { .. } => "interactive",
            Content::Template { .. } => "template",
            Content::Json(_) => "json",
        }
    }

    /// The content in wire form (`{"type": ..., "<type>": {...}}`), the form
    /// [`Content::Json`] takes back.
    pub fn to_json_map(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        }
    }

    /// Whether this content may be sent outside the 24-hour window (only templates).
    pub fn is_template(&self) -> bool {
        match self {
            Content::Template { .. } => true,
            Content::Json(map) => map.get("type").and_then(|t| t.as_str()) == Some("template"),
            _ => false,
        }
    }

    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Content::Text { text } => text.validate(),
            Content::Image { image } => image.validate("image", true, false),
            Content::Video { video } => video.validate("video", true, false),
            Content::Document { document } => document.validate("document", true, true),
            Content::Audio { audio } => audio.validate("audio", false, false),
            Content::Sticker { sticker } => sticker.validate("sticker", false, false),
            Content::Location { location } => location.validate(),
            Content::Contacts { contacts } => {
                if contacts.is_empty() {
                    return Err(ValidationError::new(
                        "contacts",
                        "at least one contact card",
                    ));
                }
                for c in contacts {
                    c.validate()?;
                }
                Ok(())
            }
            Content::Reaction { reaction } => {
                non_empty("reaction.message_id", &reaction.message_id)
            }
            Content::Interactive { interactive } => interactive.validate(),
            Content::Template { template } => template.validate(),
            Content::Json(map) => match map.get("type").and_then(|t| t.as_str()) {
                Some(kind) if !kind.is_empty() && map.contains_key(kind) => Ok(()),
                _ => Err(ValidationError::new(
                    "type",
                    "wire-form content needs a `type` and the object it names",
                )),
            },
        }
    }
}

mod carousel;
mod commerce;
mod contacts;
mod interactive;
mod location;
mod media;
mod reaction;
mod template;
mod template_check;
mod text;

pub use carousel::*;
pub use commerce::*;
pub use contacts::*;
pub use interactive::*;
pub use location::*;
pub use media::*;
pub use reaction::*;
pub use template::*;
pub use text::*;

/// The answer to a send: the canonical wa_id and the message id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SendResponse {
    /// `contacts[]`: what was sent to, and its canonical wa_id.
    #[serde(default)]
    pub contacts: Vec<SentContact>,
    /// `messages[]`: the id of the message.
    #[serde(default)]
    pub messages: Vec<SentMessage>,
}

impl SendResponse {
    /// The message id (`wamid....`).
    pub fn message_id(&self) -> Option<&str> {
        self.messages.first().map(|m| m.id.as_str())
    }

    /// The recipient's canonical wa_id; reply to this rather than to the input.
    pub fn wa_id(&self) -> Option<&str> {
        self.contacts.first().and_then(|c| c.wa_id.as_deref())
    }
}

/// A `contacts[]` item of a send answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SentContact {
    /// What the request had in `to`.
    #[serde(default)]
    pub input: Option<String>,
    /// The canonical wa_id.
    #[serde(default)]
    pub wa_id: Option<String>,
}

/// A `messages[]` item of a send answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SentMessage {
    /// The message id.
    pub id: String,
    /// For templates: `accepted`, `held_for_quality_assessment`, `paused`, ... as sent.
    #[serde(default)]
    pub message_status: Option<String>,
}

fn non_empty(field: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        Err(ValidationError::new(field, "must not be empty"))
    } else {
        Ok(())
    }
}

fn max_chars(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    // Byte length bounds the character count from above: skip the count when short.
    if value.len() <= max {
        return Ok(());
    }
    let n = value.chars().count();
    if n > max {
        Err(ValidationError::new(
            field,
            format!("at most {max} characters, got {n}"),
        ))
    } else {
        Ok(())
    }
}

fn count_within(
    field: &'static str,
    what: &str,
    n: usize,
    min: usize,
    max: usize,
) -> Result<(), ValidationError> {
    if n < min || n > max {
        Err(ValidationError::new(
            field,
            format!("at least {min} and at most {max} {what}, got {n}"),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
