//! Media: the data of uploads and downloads. The calls are on
//! [`Client::media`](crate::Client::media) (feature `client`).

use serde::Deserialize;

pub use crate::messages::MediaKind;

/// What `GET /{media-id}` returns: a short-lived download URL and the file's facts.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct MediaInfo {
    /// The media id.
    #[serde(default)]
    pub id: String,
    /// The download URL. Valid for 5 minutes and needs the bearer token; it
    /// carries signed query parameters, so it is kept out of `Debug`.
    #[serde(default)]
    pub url: String,
    /// The MIME type.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// The SHA-256 of the file, in hex.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The size in bytes.
    #[serde(default, deserialize_with = "crate::serde_util::lenient_i64")]
    pub file_size: Option<i64>,
}

impl std::fmt::Debug for MediaInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaInfo")
            .field("id", &self.id)
            .field("url", &"[redacted]")
            .field("mime_type", &self.mime_type)
            .field("sha256", &self.sha256)
            .field("file_size", &self.file_size)
            .finish()
    }
}

/// A downloaded file.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadedMedia {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The MIME type, from the media info.
    pub mime_type: Option<String>,
    /// The SHA-256 in hex, checked against the bytes when the API announced one.
    pub sha256: Option<String>,
}

impl std::fmt::Debug for DownloadedMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadedMedia")
            .field("len", &self.bytes.len())
            .field("mime_type", &self.mime_type)
            .field("sha256", &self.sha256)
            .finish()
    }
}

/// The largest download accepted by default (the document limit, 100 MiB).
pub const DEFAULT_DOWNLOAD_CAP: u64 = 100 * 1024 * 1024;
