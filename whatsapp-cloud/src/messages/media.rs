//! Media messages: images, audio, video, documents and stickers, by id or link.

#[allow(unused_imports)]
use super::*;

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
    pub(super) fn of(kind: MediaKind, source: MediaSource) -> Self {
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

    pub(super) fn validate(
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
