//! Transport helpers shared by the OAuth and REST clients.

use url::Url;

use crate::error::{Error, TransportKind};

pub(crate) const USER_AGENT: &str = concat!("salesforce-rest-rs/", env!("CARGO_PKG_VERSION"));

/// Whether a URL points at a loopback host (127.0.0.0/8, ::1, localhost).
pub(crate) fn is_loopback(url: &Url) -> bool {
    url.host_str().is_some_and(crate::shared::is_loopback_host)
}

/// Maps a reqwest error to a typed transport error, without its URL (URLs can
/// carry query parameters worth keeping out of logs).
pub(crate) fn transport_error(e: reqwest::Error) -> Error {
    let kind =
        TransportKind::classify(e.is_connect(), e.is_timeout(), e.is_body() || e.is_decode());
    let e = e.without_url();
    Error::Transport {
        kind,
        message: e.to_string(),
        source: Some(std::sync::Arc::new(e)),
    }
}

pub(crate) use crate::retry::RetryPolicy;
pub(crate) use crate::shared::jitter;
