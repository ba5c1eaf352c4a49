//! Channel-neutral inbound messages, with a conversion from the WhatsApp
//! webhook model (feature `whatsapp`).

use std::fmt;

use chrono::{DateTime, Utc};

/// A messaging channel. Open: other channels are kept by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Channel {
    /// WhatsApp.
    WhatsApp,
    /// SMS.
    Sms,
    /// Viber.
    Viber,
    /// Facebook Messenger.
    Messenger,
    /// Instagram Direct.
    Instagram,
    /// Telegram.
    Telegram,
    /// Any other channel (LINE, web chat...).
    Other(String),
}

impl From<String> for Channel {
    fn from(name: String) -> Self {
        Channel::from(name.as_str())
    }
}

impl Default for Channel {
    /// WhatsApp.
    fn default() -> Self {
        Channel::WhatsApp
    }
}

impl Channel {
    /// The channel's name (`WhatsApp`, `SMS`, ...), as used for Lead Source and Case Origin.
    pub fn name(&self) -> &str {
        match self {
            Channel::WhatsApp => "WhatsApp",
            Channel::Sms => "SMS",
            Channel::Viber => "Viber",
            Channel::Messenger => "Messenger",
            Channel::Instagram => "Instagram",
            Channel::Telegram => "Telegram",
            Channel::Other(name) => name,
        }
    }
}

impl From<&str> for Channel {
    /// A channel by name, case-insensitively; unknown names are kept as [`Channel::Other`].
    fn from(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "whatsapp" => Channel::WhatsApp,
            "sms" => Channel::Sms,
            "viber" => Channel::Viber,
            "messenger" => Channel::Messenger,
            "instagram" => Channel::Instagram,
            "telegram" => Channel::Telegram,
            _ => Channel::Other(name.to_owned()),
        }
    }
}

impl serde::Serialize for Channel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Channel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Channel::from(name.as_ref()))
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who wrote.
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Customer {
    /// The phone number or wa_id, as received.
    pub phone: Option<String>,
    /// A channel-scoped user id (WhatsApp business-scoped user id, Telegram id...).
    pub user_id: Option<String>,
    /// The profile name.
    pub name: Option<String>,
}

impl Customer {
    /// The id to reply to and to key per-customer state on: the phone, else the user id.
    pub fn address(&self) -> Option<&str> {
        self.phone.as_deref().or(self.user_id.as_deref())
    }
}

impl fmt::Debug for Customer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Customer")
            .field(
                "phone",
                &self.phone.as_deref().map(crate::audit::redact_phone),
            )
            .field("user_id", &self.user_id.as_ref().map(|_| "[redacted]"))
            .field("name", &self.name.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CustomerContent {
    /// Text.
    Text(String),
    /// A media file, by the channel's media id.
    Media {
        /// `image`, `audio`, `video`, `document`, `sticker`.
        kind: String,
        /// The channel's media id.
        media_id: Option<String>,
        /// The caption.
        caption: Option<String>,
        /// The MIME type.
        mime_type: Option<String>,
    },
    /// A location.
    Location {
        /// Latitude.
        latitude: f64,
        /// Longitude.
        longitude: f64,
        /// Place name or address.
        label: Option<String>,
    },
    /// A reply to buttons or a list: the id you set and its title.
    Reply {
        /// The button or row id.
        id: String,
        /// Its title.
        title: String,
    },
    /// A reaction to an earlier message (`None` removes it).
    Reaction {
        /// The message reacted to.
        to: Option<String>,
        /// The emoji.
        emoji: Option<String>,
    },
    /// A completed form (WhatsApp Flow), as JSON text.
    Form(String),
    /// Something this crate does not map (contacts, orders, system notices,
    /// new types), with the channel's type name.
    Other {
        /// The channel's type name.
        kind: String,
    },
}

/// A channel-neutral inbound message. It serializes (for the inbox queue);
/// `Debug` redacts the sender and the content.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct CustomerMessage {
    /// The channel.
    pub channel: Channel,
    /// The channel's message id (WhatsApp `wamid....`).
    pub id: String,
    /// Who wrote.
    pub from: Customer,
    /// When it was sent.
    pub sent_at: Option<DateTime<Utc>>,
    /// What it says.
    pub content: CustomerContent,
    /// The message it replies to, if any.
    pub reply_to: Option<String>,
    /// The business number or account it was sent to.
    pub business_id: Option<String>,
    /// For an edit: the id of the message it edits (`content` is the new
    /// content). The writer updates the original's record instead of making
    /// a new one, and no second acknowledgement is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_of: Option<String>,
}

impl fmt::Debug for CustomerMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerMessage")
            .field("channel", &self.channel)
            .field("id", &self.id)
            .field("from", &self.from)
            .field("sent_at", &self.sent_at)
            .field("content", &self.kind())
            .finish_non_exhaustive()
    }
}

impl CustomerMessage {
    /// A text message (for other channels and tests).
    pub fn text(
        channel: Channel,
        id: impl Into<String>,
        phone: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self {
            channel,
            id: id.into(),
            from: Customer {
                phone: Some(phone.into()),
                ..Customer::default()
            },
            sent_at: None,
            content: CustomerContent::Text(body.into()),
            reply_to: None,
            business_id: None,
            edit_of: None,
        }
    }

    /// Sets the sender's name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.from.name = Some(name.into());
        self
    }

    /// The text a person wrote: body, caption, reply title.
    pub fn text_content(&self) -> Option<&str> {
        match &self.content {
            CustomerContent::Text(t) => Some(t),
            CustomerContent::Media { caption, .. } => caption.as_deref(),
            CustomerContent::Reply { title, .. } => Some(title),
            _ => None,
        }
    }

    /// A short name of the content kind (`text`, `image`, `reply`, ...).
    pub fn kind(&self) -> &str {
        match &self.content {
            CustomerContent::Text(_) => "text",
            CustomerContent::Media { kind, .. } | CustomerContent::Other { kind } => kind,
            CustomerContent::Location { .. } => "location",
            CustomerContent::Reply { .. } => "reply",
            CustomerContent::Reaction { .. } => "reaction",
            CustomerContent::Form(_) => "form",
        }
    }

    /// A stable dedup key: `<channel>:msg:<id>`.
    pub fn dedup_key(&self) -> String {
        match self.channel {
            Channel::WhatsApp => format!("wa:msg:{}", self.id),
            _ => format!(
                "{}:msg:{}",
                self.channel.name().to_ascii_lowercase(),
                self.id
            ),
        }
    }
}

#[cfg(feature = "whatsapp")]
mod whatsapp {
    use super::*;
    use whatsapp_cloud::webhooks::{InteractiveReply, MessageContent, MessageEvent};

    impl CustomerMessage {
        /// Converts a WhatsApp webhook message. Never fails: unknown types become
        /// [`CustomerContent::Other`] with the type name, so nothing is dropped.
        pub fn from_whatsapp(event: &MessageEvent<'_>) -> Self {
            let m = event.message;
            let media =
                |kind: &str, x: &whatsapp_cloud::webhooks::InboundMedia| CustomerContent::Media {
                    kind: kind.to_owned(),
                    media_id: x.id.clone(),
                    caption: x.caption.clone(),
                    mime_type: x.mime_type.clone(),
                };
            let (edit_of, content) = match &m.content {
                MessageContent::Edit {
                    original_message_id,
                    content: Some(inner),
                } => (original_message_id.clone(), inner.as_ref()),
                other => (None, other),
            };
            let content = match content {
                MessageContent::Text { body } => CustomerContent::Text(body.clone()),
                MessageContent::Image(x) => media("image", x),
                MessageContent::Audio(x) => media("audio", x),
                MessageContent::Video(x) => media("video", x),
                MessageContent::Document(x) => media("document", x),
                MessageContent::Sticker(x) => media("sticker", x),
                MessageContent::Location(l) => CustomerContent::Location {
                    latitude: l.latitude.unwrap_or_default(),
                    longitude: l.longitude.unwrap_or_default(),
                    label: l.name.clone().or_else(|| l.address.clone()),
                },
                MessageContent::Interactive(InteractiveReply::ButtonReply { id, title })
                | MessageContent::Interactive(InteractiveReply::ListReply { id, title, .. }) => {
                    CustomerContent::Reply {
                        id: id.clone(),
                        title: title.clone(),
                    }
                }
                MessageContent::Interactive(InteractiveReply::FlowReply {
                    response_json, ..
                }) => CustomerContent::Form(response_json.clone().unwrap_or_default()),
                MessageContent::Button { payload, text } => CustomerContent::Reply {
                    id: payload.clone().or_else(|| text.clone()).unwrap_or_default(),
                    title: text.clone().unwrap_or_default(),
                },
                MessageContent::Reaction { message_id, emoji } => CustomerContent::Reaction {
                    to: message_id.clone(),
                    emoji: emoji.clone(),
                },
                _ => CustomerContent::Other {
                    kind: m.kind.clone(),
                },
            };
            CustomerMessage {
                channel: Channel::WhatsApp,
                id: m.id.clone(),
                from: Customer {
                    phone: event.sender_wa_id().map(str::to_owned),
                    // Replies go to the parent id when there is one.
                    user_id: m
                        .from
                        .parent_user_id
                        .clone()
                        .or_else(|| m.from.user_id.clone()),
                    name: event.sender_name().map(str::to_owned),
                },
                sent_at: m.timestamp.and_then(|t| DateTime::from_timestamp(t, 0)),
                content,
                reply_to: m.context.as_ref().and_then(|c| c.id.clone()),
                business_id: event.context.phone_number_id().map(str::to_owned),
                edit_of,
            }
        }
    }
}
