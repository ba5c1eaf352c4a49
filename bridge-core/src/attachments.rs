//! Files sent with agents' replies (features `salesforce` and `whatsapp`):
//! which files WhatsApp takes ([`media_for`], checked before anything is
//! fetched or uploaded), and a [`ChannelSender`] that fetches an
//! [`Attachment`] from Salesforce, uploads it to WhatsApp media from the
//! number the message leaves from, and sends it with the text as its
//! caption ([`AttachmentSender`]).
//!
//! The file is fetched and uploaded at send time, inside the outbox job: a
//! retried job fetches and uploads again (an unused media id expires on its
//! own after 30 days), and the send itself stays once per job.

use async_trait::async_trait;
use whatsapp_cloud::messages::{Media, MediaKind, MediaSource};

use crate::inbound::Channel;
use crate::sender::{Attachment, ChannelSender, Outbound, SendError, SendReceipt};

/// The longest caption WhatsApp takes on an image, video or document.
pub const MAX_CAPTION_CHARS: usize = 1_024;

/// The extensions an agent's file may have, with their MIME types and the
/// kind they are sent as.
const TYPES: &[(&str, &str, MediaKind)] = &[
    ("jpg", "image/jpeg", MediaKind::Image),
    ("jpeg", "image/jpeg", MediaKind::Image),
    ("png", "image/png", MediaKind::Image),
    ("mp4", "video/mp4", MediaKind::Video),
    ("3gp", "video/3gpp", MediaKind::Video),
    ("pdf", "application/pdf", MediaKind::Document),
    ("txt", "text/plain", MediaKind::Document),
    ("doc", "application/msword", MediaKind::Document),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        MediaKind::Document,
    ),
    ("xls", "application/vnd.ms-excel", MediaKind::Document),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        MediaKind::Document,
    ),
    ("ppt", "application/vnd.ms-powerpoint", MediaKind::Document),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        MediaKind::Document,
    ),
];

/// Why a file cannot go with a reply; the message names the limit, for the
/// ledger record's error detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttachmentProblem {
    /// The file's type is not one WhatsApp takes as an image, video or
    /// document.
    #[error(
        "the attachment's type ({extension}) is not one WhatsApp takes: images .jpg .png, videos .mp4 .3gp, documents .pdf .txt .doc .docx .xls .xlsx .ppt .pptx"
    )]
    UnsupportedType {
        /// The extension (`.exe`), or `no extension`.
        extension: String,
    },
    /// The file is larger than WhatsApp takes for its kind.
    #[error("the attachment is {size} bytes; WhatsApp takes {kind} files up to {limit} bytes")]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The kind it would go as.
        kind: &'static str,
        /// WhatsApp's limit for that kind.
        limit: u64,
    },
    /// The text is too long to be the file's caption.
    #[error("the text is {chars} characters; a caption takes at most {MAX_CAPTION_CHARS}")]
    CaptionTooLong {
        /// The text's length.
        chars: usize,
    },
}

/// The MIME type and kind a file goes as, from its name (or extension) and
/// size, or why it cannot go. Nothing is fetched: the check runs on the
/// metadata before any download or upload.
///
/// ```
/// use bridge_core::attachments::{media_for, AttachmentProblem};
/// use whatsapp_cloud::messages::MediaKind;
///
/// assert_eq!(media_for("invoice.PDF", 80_000), Ok(("application/pdf", MediaKind::Document)));
/// assert!(matches!(media_for("setup.exe", 10), Err(AttachmentProblem::UnsupportedType { .. })));
/// assert!(matches!(media_for("big.png", 6 * 1024 * 1024), Err(AttachmentProblem::TooLarge { .. })));
/// ```
pub fn media_for(
    file_name: &str,
    size: u64,
) -> Result<(&'static str, MediaKind), AttachmentProblem> {
    let extension = file_name
        .rsplit_once('.')
        .map_or("", |(_, e)| e)
        .trim()
        .to_ascii_lowercase();
    let Some(&(_, mime, kind)) = TYPES.iter().find(|(e, _, _)| *e == extension) else {
        return Err(AttachmentProblem::UnsupportedType {
            extension: if extension.is_empty() || extension.len() > 10 {
                "no extension".into()
            } else {
                format!(".{extension}")
            },
        });
    };
    if size > kind.max_bytes() {
        return Err(AttachmentProblem::TooLarge {
            size,
            kind: kind.as_str(),
            limit: kind.max_bytes(),
        });
    }
    Ok((mime, kind))
}

/// Checks a file and the text that goes as its caption together; the MIME
/// type and kind it goes as, like [`media_for`].
pub fn check(
    file_name: &str,
    size: u64,
    caption: &str,
) -> Result<(&'static str, MediaKind), AttachmentProblem> {
    let media = media_for(file_name, size)?;
    let chars = caption.chars().count();
    if chars > MAX_CAPTION_CHARS {
        return Err(AttachmentProblem::CaptionTooLong { chars });
    }
    Ok(media)
}

/// Sends through WhatsApp, fetching an [`Attachment`] from Salesforce and
/// uploading it first (see the [module](self) docs); a message without one
/// goes straight through.
///
/// ```no_run
/// # fn run(whatsapp: whatsapp_cloud::Client, salesforce: salesforce_rest::Client) {
/// use std::sync::Arc;
/// use bridge_core::attachments::AttachmentSender;
/// use bridge_core::sender::ChannelSender;
///
/// let sender: Arc<dyn ChannelSender> = Arc::new(AttachmentSender::new(whatsapp, salesforce));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AttachmentSender {
    whatsapp: whatsapp_cloud::Client,
    salesforce: salesforce_rest::Client,
}

impl AttachmentSender {
    /// Sends through `whatsapp`, fetching files through `salesforce`.
    pub fn new(whatsapp: whatsapp_cloud::Client, salesforce: salesforce_rest::Client) -> Self {
        Self {
            whatsapp,
            salesforce,
        }
    }

    /// The media message for `file`: fetched, checked, uploaded.
    async fn upload(&self, message: &Outbound, file: &Attachment) -> Result<Outbound, SendError> {
        let permanent = |e: &dyn std::fmt::Display| SendError::new("WhatsApp", e.to_string());
        let (mime, kind) = media_for(&file.file_name, file.size).map_err(|e| permanent(&e))?;
        let id = salesforce_rest::SalesforceId::parse(&file.content_version_id)
            .map_err(|_| permanent(&"the attachment's ContentVersion id is not a Salesforce id"))?;
        let mut bytes = Vec::new();
        self.salesforce
            .download_file(&id, &mut bytes, kind.max_bytes())
            .await
            .map_err(|e| {
                SendError::new(
                    "WhatsApp",
                    format!("the attachment could not be read from Salesforce: {e}"),
                )
                .retryable(e.is_retryable())
            })?;
        // The size Salesforce reported may be stale: check what came.
        media_for(&file.file_name, bytes.len() as u64).map_err(|e| permanent(&e))?;
        let media_id = crate::sender::client_for(&self.whatsapp, message)
            .media()
            .upload(kind, bytes, mime, &file.file_name)
            .await
            .map_err(|e| {
                // Nothing was sent to the customer yet: the message cannot
                // have left, and their reachability is not in question.
                let mut err =
                    crate::sender::send_error(&e, "the attachment could not be uploaded: ");
                err.ambiguous = false;
                err.unreachable = false;
                if !err.rate_limited {
                    err.retry_after = None;
                }
                err
            })?;
        let source = MediaSource::Id(media_id);
        let mut media = match kind {
            MediaKind::Image => Media::image(source),
            MediaKind::Video => Media::video(source),
            _ => Media::document(source),
        };
        if !message.text.is_empty() {
            media = media.caption(message.text.clone());
        }
        if kind == MediaKind::Document && !file.file_name.is_empty() {
            media = media.filename(file.file_name.clone());
        }
        let mut out = message.clone();
        out.whatsapp = Some(media.into());
        out.attachment = None;
        Ok(out)
    }
}

#[async_trait]
impl ChannelSender for AttachmentSender {
    fn channel(&self) -> Channel {
        Channel::WhatsApp
    }

    async fn send(&self, to: &str, message: &Outbound) -> Result<SendReceipt, SendError> {
        match &message.attachment {
            None => ChannelSender::send(&self.whatsapp, to, message).await,
            Some(file) => {
                let with_media = self.upload(message, file).await?;
                ChannelSender::send(&self.whatsapp, to, &with_media).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_checked_by_type_and_size() {
        assert_eq!(media_for("a.jpeg", 1), Ok(("image/jpeg", MediaKind::Image)));
        assert_eq!(
            media_for("clip.MP4", 1),
            Ok(("video/mp4", MediaKind::Video))
        );
        assert_eq!(
            media_for("notes.docx", 1).map(|m| m.1),
            Ok(MediaKind::Document)
        );
        assert_eq!(
            media_for("README", 1),
            Err(AttachmentProblem::UnsupportedType {
                extension: "no extension".into()
            })
        );
        assert_eq!(
            media_for("setup.exe", 1),
            Err(AttachmentProblem::UnsupportedType {
                extension: ".exe".into()
            })
        );
        let too_big = media_for("scan.pdf", 100 * 1024 * 1024 + 1).unwrap_err();
        assert!(
            too_big.to_string().contains("up to 104857600 bytes"),
            "{too_big}"
        );
        assert!(check("a.png", 10, &"x".repeat(1_025)).is_err());
        assert_eq!(
            check("a.png", 10, &"x".repeat(1_024)),
            Ok(("image/png", MediaKind::Image))
        );
    }
}
