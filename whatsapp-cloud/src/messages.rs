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
    /// An interactive message: buttons, list, CTA URL, location request, Flow.
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
                    non_empty("contacts.name.formatted_name", &c.name.formatted_name)?;
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

/// A text body, with an optional link preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Text {
    body: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    preview_url: bool,
}

impl Text {
    /// A text of at most 4096 characters.
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            preview_url: false,
        }
    }

    /// Shows a preview of the first URL in the body.
    pub fn preview_url(mut self, preview: bool) -> Self {
        self.preview_url = preview;
        self
    }

    /// The body.
    pub fn body(&self) -> &str {
        &self.body
    }

    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("text.body", &self.body)?;
        max_chars("text.body", &self.body, MAX_TEXT_BODY)
    }
}

impl From<Text> for Content {
    fn from(text: Text) -> Self {
        Content::Text { text }
    }
}

/// Where media comes from: an uploaded media id or a public https link.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaSource {
    /// A media id from an upload (valid 30 days).
    Id(String),
    /// A public URL WhatsApp downloads from.
    Link(String),
}

/// An image, audio, video, document or sticker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    source: MediaSource,
    caption: Option<String>,
    filename: Option<String>,
    kind: MediaKind,
}

/// The kind of a media file; decides the accepted MIME types and sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MediaKind {
    /// `image`: JPEG or PNG, 5 MB.
    Image,
    /// `audio`: AAC, AMR, MPEG, MP4, OGG (Opus), 16 MB.
    Audio,
    /// `video`: MP4 or 3GPP, 16 MB.
    Video,
    /// `document`: text, PDF, Office formats, 100 MB.
    Document,
    /// `sticker`: WebP, 500 KB (animated; 100 KB static).
    Sticker,
}

impl MediaKind {
    /// The API's name for the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }

    /// The largest file WhatsApp accepts for the kind, in bytes.
    pub fn max_bytes(self) -> u64 {
        const MB: u64 = 1024 * 1024;
        match self {
            MediaKind::Image => 5 * MB,
            MediaKind::Audio | MediaKind::Video => 16 * MB,
            MediaKind::Document => 100 * MB,
            MediaKind::Sticker => 500 * 1024,
        }
    }

    /// The MIME types WhatsApp accepts for the kind.
    pub fn accepted_mime_types(self) -> &'static [&'static str] {
        match self {
            MediaKind::Image => &["image/jpeg", "image/png"],
            MediaKind::Audio => &[
                "audio/aac",
                "audio/amr",
                "audio/mpeg",
                "audio/mp4",
                "audio/ogg",
            ],
            MediaKind::Video => &["video/mp4", "video/3gpp"],
            MediaKind::Document => &[
                "text/plain",
                "application/pdf",
                "application/msword",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.ms-excel",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.ms-powerpoint",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ],
            MediaKind::Sticker => &["image/webp"],
        }
    }

    /// Whether a MIME type (parameters such as `; codecs=opus` ignored) is accepted.
    pub fn accepts(self, mime: &str) -> bool {
        let base = mime
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        self.accepted_mime_types().contains(&base.as_str())
    }
}

impl Media {
    fn of(kind: MediaKind, source: MediaSource) -> Self {
        Self {
            source,
            caption: None,
            filename: None,
            kind,
        }
    }

    /// An image.
    pub fn image(source: MediaSource) -> Self {
        Self::of(MediaKind::Image, source)
    }
    /// An audio file.
    pub fn audio(source: MediaSource) -> Self {
        Self::of(MediaKind::Audio, source)
    }
    /// A video.
    pub fn video(source: MediaSource) -> Self {
        Self::of(MediaKind::Video, source)
    }
    /// A document.
    pub fn document(source: MediaSource) -> Self {
        Self::of(MediaKind::Document, source)
    }
    /// A sticker.
    pub fn sticker(source: MediaSource) -> Self {
        Self::of(MediaKind::Sticker, source)
    }

    /// A caption (image, video, document; at most 1024 characters).
    pub fn caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = Some(caption.into());
        self
    }

    /// A file name (documents only).
    pub fn filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// The kind of media.
    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    fn validate(
        &self,
        field: &'static str,
        caption_ok: bool,
        filename_ok: bool,
    ) -> Result<(), ValidationError> {
        match &self.source {
            MediaSource::Id(id) => non_empty(field, id)?,
            MediaSource::Link(link) => {
                if !(link.starts_with("https://") || link.starts_with("http://")) {
                    return Err(ValidationError::new(field, "link must be an http(s) URL"));
                }
            }
        }
        if let Some(caption) = &self.caption {
            if !caption_ok {
                return Err(ValidationError::new(
                    field,
                    format!("{field} messages cannot have a caption"),
                ));
            }
            max_chars(field, caption, MAX_CAPTION)?;
        }
        if self.filename.is_some() && !filename_ok {
            return Err(ValidationError::new(
                field,
                "only documents can have a file name",
            ));
        }
        Ok(())
    }
}

impl Serialize for Media {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            id: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            link: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            caption: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            filename: Option<&'a str>,
        }
        let (id, link) = match &self.source {
            MediaSource::Id(id) => (Some(id.as_str()), None),
            MediaSource::Link(l) => (None, Some(l.as_str())),
        };
        Wire {
            id,
            link,
            caption: self.caption.as_deref(),
            filename: self.filename.as_deref(),
        }
        .serialize(s)
    }
}

impl From<Media> for Content {
    fn from(media: Media) -> Self {
        match media.kind {
            MediaKind::Image => Content::Image { image: media },
            MediaKind::Audio => Content::Audio { audio: media },
            MediaKind::Video => Content::Video { video: media },
            MediaKind::Document => Content::Document { document: media },
            MediaKind::Sticker => Content::Sticker { sticker: media },
        }
    }
}

/// A location pin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Location {
    latitude: f64,
    longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
}

impl Location {
    /// A pin at a latitude and longitude.
    pub fn new(latitude: f64, longitude: f64) -> Self {
        Self {
            latitude,
            longitude,
            name: None,
            address: None,
        }
    }
    /// The place name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// The address.
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }
    fn validate(&self) -> Result<(), ValidationError> {
        if !(-90.0..=90.0).contains(&self.latitude) || !(-180.0..=180.0).contains(&self.longitude) {
            return Err(ValidationError::new(
                "location",
                "latitude must be within -90..=90 and longitude within -180..=180",
            ));
        }
        Ok(())
    }
}

impl From<Location> for Content {
    fn from(location: Location) -> Self {
        Content::Location { location }
    }
}

/// A contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactCard {
    /// The name; `formatted_name` is required.
    pub name: ContactName,
    /// Phone numbers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<ContactPhone>,
    /// Email addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<ContactEmail>,
}

impl ContactCard {
    /// A card with a formatted name.
    pub fn new(formatted_name: impl Into<String>) -> Self {
        Self {
            name: ContactName {
                formatted_name: formatted_name.into(),
                first_name: None,
                last_name: None,
            },
            phones: Vec::new(),
            emails: Vec::new(),
        }
    }
    /// Adds a phone number, with its type (`CELL`, `WORK`, ...).
    pub fn phone(mut self, phone: impl Into<String>, kind: impl Into<String>) -> Self {
        self.phones.push(ContactPhone {
            phone: phone.into(),
            kind: Some(kind.into()),
            wa_id: None,
        });
        self
    }
    /// Adds an email address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.emails.push(ContactEmail {
            email: email.into(),
            kind: None,
        });
        self
    }
}

/// The name on a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactName {
    /// The full name as shown.
    pub formatted_name: String,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

/// A phone number on a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactPhone {
    /// The number.
    pub phone: String,
    /// `CELL`, `MAIN`, `HOME`, `WORK`, ...
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The WhatsApp id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
}

/// An email address on a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactEmail {
    /// The address.
    pub email: String,
    /// `HOME` or `WORK`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl From<Vec<ContactCard>> for Content {
    fn from(contacts: Vec<ContactCard>) -> Self {
        Content::Contacts { contacts }
    }
}

/// A reaction to a message (up to 30 days old); an empty emoji removes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reaction {
    message_id: String,
    emoji: String,
}

impl Reaction {
    /// Reacts to a message with an emoji.
    pub fn new(message_id: impl Into<String>, emoji: impl Into<String>) -> Self {
        Self {
            message_id: message_id.into(),
            emoji: emoji.into(),
        }
    }
    /// Removes our reaction from a message.
    pub fn remove(message_id: impl Into<String>) -> Self {
        Self::new(message_id, "")
    }
}

impl From<Reaction> for Content {
    fn from(reaction: Reaction) -> Self {
        Content::Reaction { reaction }
    }
}

/// An interactive message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interactive {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<InteractiveHeader>,
    body: BodyText,
    #[serde(skip_serializing_if = "Option::is_none")]
    footer: Option<BodyText>,
    action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct BodyText {
    text: String,
}

/// The header of an interactive message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum InteractiveHeader {
    /// A text header (at most 60 characters).
    Text {
        /// The text.
        text: String,
    },
    /// An image header.
    Image {
        /// The image.
        image: Media,
    },
    /// A video header.
    Video {
        /// The video.
        video: Media,
    },
    /// A document header.
    Document {
        /// The document.
        document: Media,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
enum Action {
    Buttons {
        buttons: Vec<WireButton>,
    },
    List {
        button: String,
        sections: Vec<ListSection>,
    },
    Named {
        name: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        parameters: Option<serde_json::Value>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct WireButton {
    #[serde(rename = "type")]
    kind: &'static str,
    reply: ReplyButton,
}

/// A reply button: an id you get back and a title of at most 20 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyButton {
    id: String,
    title: String,
}

impl ReplyButton {
    /// A button with an id (returned in the reply) and a title.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
        }
    }
}

/// A section of a list message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    rows: Vec<ListRow>,
}

impl ListSection {
    /// A section with a title (required when there are several sections).
    pub fn new(title: impl Into<String>, rows: Vec<ListRow>) -> Self {
        Self {
            title: Some(title.into()),
            rows,
        }
    }
    /// A section without a title (only valid as the single section).
    pub fn untitled(rows: Vec<ListRow>) -> Self {
        Self { title: None, rows }
    }
}

/// A row of a list message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListRow {
    id: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

impl ListRow {
    /// A row with an id (returned in the reply) and a title of at most 24 characters.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            description: None,
        }
    }
    /// A description of at most 72 characters.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// What a Flow button does when tapped.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FlowAction {
    /// Opens a screen, with initial data.
    Navigate {
        /// The screen id.
        screen: String,
        /// Data for the screen.
        data: Option<serde_json::Value>,
    },
    /// Asks your Flow endpoint for the first screen.
    DataExchange,
}

/// Which Flow to open.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlowRef {
    /// By id.
    Id(String),
    /// By name.
    Name(String),
}

impl Interactive {
    fn with(kind: &'static str, body: impl Into<String>, action: Action) -> Self {
        Self {
            kind,
            header: None,
            body: BodyText { text: body.into() },
            footer: None,
            action,
        }
    }

    /// Up to 3 reply buttons under a body text.
    pub fn buttons(body: impl Into<String>, buttons: Vec<ReplyButton>) -> Self {
        let buttons = buttons
            .into_iter()
            .map(|reply| WireButton {
                kind: "reply",
                reply,
            })
            .collect();
        Self::with("button", body, Action::Buttons { buttons })
    }

    /// A list: a button label and up to 10 sections with 10 rows in total.
    pub fn list(
        body: impl Into<String>,
        button_label: impl Into<String>,
        sections: Vec<ListSection>,
    ) -> Self {
        Self::with(
            "list",
            body,
            Action::List {
                button: button_label.into(),
                sections,
            },
        )
    }

    /// A call-to-action button that opens a URL.
    pub fn cta_url(
        body: impl Into<String>,
        display_text: impl Into<String>,
        url: impl Into<String>,
    ) -> Self {
        let params = serde_json::json!({
            "display_text": display_text.into(),
            "url": url.into(),
        });
        Self::with(
            "cta_url",
            body,
            Action::Named {
                name: "cta_url",
                parameters: Some(params),
            },
        )
    }

    /// Asks the customer to share their location.
    pub fn location_request(body: impl Into<String>) -> Self {
        Self::with(
            "location_request_message",
            body,
            Action::Named {
                name: "send_location",
                parameters: None,
            },
        )
    }

    /// Opens a WhatsApp Flow.
    pub fn flow(
        body: impl Into<String>,
        flow: FlowRef,
        flow_token: impl Into<String>,
        cta: impl Into<String>,
        action: FlowAction,
    ) -> Self {
        let mut p = serde_json::Map::new();
        p.insert("flow_message_version".into(), "3".into());
        p.insert("flow_token".into(), flow_token.into().into());
        match flow {
            FlowRef::Id(id) => p.insert("flow_id".into(), id.into()),
            FlowRef::Name(name) => p.insert("flow_name".into(), name.into()),
        };
        p.insert("flow_cta".into(), cta.into().into());
        match action {
            FlowAction::Navigate { screen, data } => {
                p.insert("flow_action".into(), "navigate".into());
                let mut payload = serde_json::Map::new();
                payload.insert("screen".into(), screen.into());
                if let Some(data) = data {
                    payload.insert("data".into(), data);
                }
                p.insert("flow_action_payload".into(), payload.into());
            }
            FlowAction::DataExchange => {
                p.insert("flow_action".into(), "data_exchange".into());
            }
        }
        Self::with(
            "flow",
            body,
            Action::Named {
                name: "flow",
                parameters: Some(p.into()),
            },
        )
    }

    /// Sets the header.
    pub fn header(mut self, header: InteractiveHeader) -> Self {
        self.header = Some(header);
        self
    }

    /// Sets a footer of at most 60 characters.
    pub fn footer(mut self, footer: impl Into<String>) -> Self {
        self.footer = Some(BodyText {
            text: footer.into(),
        });
        self
    }

    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("interactive.body.text", &self.body.text)?;
        max_chars(
            "interactive.body.text",
            &self.body.text,
            MAX_INTERACTIVE_BODY,
        )?;
        if let Some(footer) = &self.footer {
            max_chars("interactive.footer.text", &footer.text, MAX_HEADER_FOOTER)?;
        }
        match &self.header {
            Some(InteractiveHeader::Text { text }) => {
                max_chars("interactive.header.text", text, MAX_HEADER_FOOTER)?;
            }
            Some(InteractiveHeader::Image { image: m })
            | Some(InteractiveHeader::Video { video: m })
            | Some(InteractiveHeader::Document { document: m }) => {
                m.validate("interactive.header", false, true)?;
            }
            None => {}
        }
        match &self.action {
            Action::Buttons { buttons } => {
                let field = "interactive.action.buttons";
                count_within(field, "buttons", buttons.len(), 1, MAX_REPLY_BUTTONS)?;
                for (i, b) in buttons.iter().enumerate() {
                    non_empty("interactive.action.buttons.reply.id", &b.reply.id)?;
                    max_chars(
                        "interactive.action.buttons.reply.id",
                        &b.reply.id,
                        MAX_BUTTON_ID,
                    )?;
                    non_empty("interactive.action.buttons.reply.title", &b.reply.title)?;
                    max_chars(
                        "interactive.action.buttons.reply.title",
                        &b.reply.title,
                        MAX_BUTTON_TITLE,
                    )?;
                    if buttons.iter().skip(i + 1).any(|o| o.reply.id == b.reply.id) {
                        return Err(ValidationError::new(field, "button ids must be unique"));
                    }
                }
            }
            Action::List { button, sections } => {
                non_empty("interactive.action.button", button)?;
                max_chars("interactive.action.button", button, MAX_BUTTON_LABEL)?;
                count_within(
                    "interactive.action.sections",
                    "sections",
                    sections.len(),
                    1,
                    MAX_LIST_SECTIONS,
                )?;
                let rows: usize = sections.iter().map(|s| s.rows.len()).sum();
                count_within(
                    "interactive.action.sections.rows",
                    "rows in total",
                    rows,
                    1,
                    MAX_LIST_ROWS,
                )?;
                for s in sections {
                    match &s.title {
                        Some(t) => {
                            max_chars("interactive.action.sections.title", t, MAX_ROW_TITLE)?;
                        }
                        None if sections.len() > 1 => {
                            return Err(ValidationError::new(
                                "interactive.action.sections.title",
                                "a title is required when there are several sections",
                            ));
                        }
                        None => {}
                    }
                    for r in &s.rows {
                        non_empty("interactive.action.sections.rows.id", &r.id)?;
                        max_chars("interactive.action.sections.rows.id", &r.id, MAX_ROW_ID)?;
                        non_empty("interactive.action.sections.rows.title", &r.title)?;
                        max_chars(
                            "interactive.action.sections.rows.title",
                            &r.title,
                            MAX_ROW_TITLE,
                        )?;
                        if let Some(d) = &r.description {
                            max_chars(
                                "interactive.action.sections.rows.description",
                                d,
                                MAX_ROW_DESCRIPTION,
                            )?;
                        }
                    }
                }
            }
            Action::Named { name, parameters } => {
                let p = parameters.as_ref();
                let text = |key: &str| p.and_then(|p| p.get(key)).and_then(|v| v.as_str());
                match *name {
                    "cta_url" => {
                        let label = text("display_text").unwrap_or("");
                        non_empty("interactive.action.parameters.display_text", label)?;
                        max_chars(
                            "interactive.action.parameters.display_text",
                            label,
                            MAX_BUTTON_LABEL,
                        )?;
                        let url = text("url").unwrap_or("");
                        if !(url.starts_with("https://") || url.starts_with("http://")) {
                            return Err(ValidationError::new(
                                "interactive.action.parameters.url",
                                "must be an http(s) URL",
                            ));
                        }
                    }
                    "flow" => {
                        let cta = text("flow_cta").unwrap_or("");
                        non_empty("interactive.action.parameters.flow_cta", cta)?;
                        max_chars("interactive.action.parameters.flow_cta", cta, MAX_FLOW_CTA)?;
                        non_empty(
                            "interactive.action.parameters.flow_token",
                            text("flow_token").unwrap_or(""),
                        )?;
                        let id = text("flow_id").or_else(|| text("flow_name")).unwrap_or("");
                        non_empty("interactive.action.parameters.flow_id", id)?;
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

impl From<Interactive> for Content {
    fn from(interactive: Interactive) -> Self {
        Content::Interactive { interactive }
    }
}

/// A template send: name, language and the components' parameters.
///
/// ```
/// use whatsapp_cloud::messages::{Message, Template, TemplateParam};
///
/// let reminder = Template::new("payment_reminder", "en_US")
///     .body(vec![
///         TemplateParam::text("Ana"),
///         TemplateParam::currency("USD", 1_499_990, "$1,499.99"),
///         TemplateParam::date_time("04/30/2025"),
///     ])
///     .url_button(0, "inv-10442");
/// let json = Message::new("14155550123", reminder).to_json();
/// assert_eq!(json["template"]["components"][0]["parameters"][1]["currency"]["amount_1000"], 1_499_990);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    name: String,
    language: Language,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    components: Vec<Component>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Language {
    code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Component {
    Header {
        parameters: Vec<HeaderParam>,
    },
    Body {
        parameters: Vec<TemplateParam>,
    },
    Button {
        sub_type: &'static str,
        index: String,
        parameters: Vec<ButtonParam>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ButtonParam {
    Payload { payload: String },
    Text { text: String },
}

/// A template header parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HeaderParam {
    /// A text parameter (the header text is at most 60 characters).
    Text {
        /// The text.
        text: String,
    },
    /// An image.
    Image {
        /// The image.
        image: Media,
    },
    /// A video.
    Video {
        /// The video.
        video: Media,
    },
    /// A document.
    Document {
        /// The document.
        document: Media,
    },
    /// A location.
    Location {
        /// The location.
        location: Location,
    },
}

/// A template body parameter: text, currency or date/time, optionally named.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateParam {
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter_name: Option<String>,
    #[serde(flatten)]
    value: ParamValue,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ParamValue {
    Text { text: String },
    Currency { currency: Currency },
    DateTime { date_time: DateTime },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Currency {
    fallback_value: String,
    code: String,
    amount_1000: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct DateTime {
    fallback_value: String,
}

impl TemplateParam {
    /// A text parameter.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            parameter_name: None,
            value: ParamValue::Text { text: text.into() },
        }
    }

    /// A currency parameter: ISO 4217 code, the amount times 1000 (`$1,499.99` is
    /// `1_499_990`), and the fallback text the Cloud API renders.
    pub fn currency(
        code: impl Into<String>,
        amount_1000: i64,
        fallback: impl Into<String>,
    ) -> Self {
        Self {
            parameter_name: None,
            value: ParamValue::Currency {
                currency: Currency {
                    fallback_value: fallback.into(),
                    code: code.into(),
                    amount_1000,
                },
            },
        }
    }

    /// A date/time parameter; the Cloud API renders the fallback text.
    pub fn date_time(fallback: impl Into<String>) -> Self {
        Self {
            parameter_name: None,
            value: ParamValue::DateTime {
                date_time: DateTime {
                    fallback_value: fallback.into(),
                },
            },
        }
    }

    /// Names the parameter, for templates created with named parameters.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.parameter_name = Some(name.into());
        self
    }

    fn validate(&self) -> Result<(), ValidationError> {
        match &self.value {
            ParamValue::Text { text } => {
                non_empty("template.components.body.parameters.text", text)?;
                max_chars(
                    "template.components.body.parameters.text",
                    text,
                    MAX_TEMPLATE_BODY_PARAM,
                )?;
                if text.contains('\n') || text.contains('\t') || text.contains("    ") {
                    return Err(ValidationError::new(
                        "template.components.body.parameters.text",
                        "no new lines, tabs or more than 4 consecutive spaces",
                    ));
                }
                Ok(())
            }
            ParamValue::Currency { currency } => {
                non_empty(
                    "template.components.body.parameters.currency.fallback_value",
                    &currency.fallback_value,
                )?;
                if currency.code.len() != 3
                    || !currency.code.chars().all(|c| c.is_ascii_uppercase())
                {
                    return Err(ValidationError::new(
                        "template.components.body.parameters.currency.code",
                        "expected an ISO 4217 code such as USD",
                    ));
                }
                Ok(())
            }
            ParamValue::DateTime { date_time } => non_empty(
                "template.components.body.parameters.date_time.fallback_value",
                &date_time.fallback_value,
            ),
        }
    }
}

impl Template {
    /// A template by name and language code (`en_US`).
    pub fn new(name: impl Into<String>, language: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            language: Language {
                code: language.into(),
            },
            components: Vec::new(),
        }
    }

    /// The template name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the header parameter (media headers need one, or the send fails with 132012).
    pub fn header(mut self, param: HeaderParam) -> Self {
        self.components
            .retain(|c| !matches!(c, Component::Header { .. }));
        self.components.push(Component::Header {
            parameters: vec![param],
        });
        self
    }

    /// Sets the body parameters, in placeholder order.
    pub fn body(mut self, params: Vec<TemplateParam>) -> Self {
        self.components
            .retain(|c| !matches!(c, Component::Body { .. }));
        self.components.push(Component::Body { parameters: params });
        self
    }

    /// Sets the payload of the quick-reply button at `index` (returned as
    /// `button.payload` in the webhook).
    pub fn quick_reply_button(mut self, index: u8, payload: impl Into<String>) -> Self {
        self.components.push(Component::Button {
            sub_type: "quick_reply",
            index: index.to_string(),
            parameters: vec![ButtonParam::Payload {
                payload: payload.into(),
            }],
        });
        self
    }

    /// Sets the suffix appended to the dynamic URL of the button at `index`.
    pub fn url_button(mut self, index: u8, url_suffix: impl Into<String>) -> Self {
        self.components.push(Component::Button {
            sub_type: "url",
            index: index.to_string(),
            parameters: vec![ButtonParam::Text {
                text: url_suffix.into(),
            }],
        });
        self
    }

    fn validate(&self) -> Result<(), ValidationError> {
        non_empty("template.name", &self.name)?;
        non_empty("template.language.code", &self.language.code)?;
        let mut indexes = Vec::new();
        for c in &self.components {
            match c {
                Component::Header { parameters } => {
                    for p in parameters {
                        match p {
                            HeaderParam::Text { text } => {
                                non_empty("template.components.header.parameters.text", text)?;
                                max_chars(
                                    "template.components.header.parameters.text",
                                    text,
                                    MAX_HEADER_FOOTER,
                                )?;
                            }
                            HeaderParam::Image { image: m }
                            | HeaderParam::Video { video: m }
                            | HeaderParam::Document { document: m } => {
                                m.validate("template.components.header.parameters", false, true)?;
                            }
                            HeaderParam::Location { location } => location.validate()?,
                        }
                    }
                }
                Component::Body { parameters } => {
                    let named = parameters
                        .iter()
                        .filter(|p| p.parameter_name.is_some())
                        .count();
                    if named != 0 && named != parameters.len() {
                        return Err(ValidationError::new(
                            "template.components.body.parameters",
                            "either every parameter is named or none is",
                        ));
                    }
                    for p in parameters {
                        p.validate()?;
                    }
                }
                Component::Button {
                    index, parameters, ..
                } => {
                    if indexes.contains(index) {
                        return Err(ValidationError::new(
                            "template.components.button.index",
                            "each button index may be set once",
                        ));
                    }
                    indexes.push(index.clone());
                    if index.parse::<u8>().map_or(true, |i| i > 9) {
                        return Err(ValidationError::new(
                            "template.components.button.index",
                            "buttons are indexed 0 to 9",
                        ));
                    }
                    for p in parameters {
                        let (ButtonParam::Payload { payload: v } | ButtonParam::Text { text: v }) =
                            p;
                        non_empty("template.components.button.parameters", v)?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl From<Template> for Content {
    fn from(template: Template) -> Self {
        Content::Template { template }
    }
}

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
