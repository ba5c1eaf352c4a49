//! The crate's one error type, the typed Graph API error and its open code enum.
//!
//! Every failure is an [`Error`]. An error answer from the Graph API becomes an
//! [`ApiError`] whose [`ErrorCode`] is an open enum (unknown codes are kept as
//! [`ErrorCode::Other`]) with a [`ErrorClass`] and a [`RetryHint`], so an app can
//! branch on what went wrong and ask [`Error::is_retryable`] whether trying again
//! can help.

use std::fmt;
use std::time::Duration;

use crate::redact::excerpt;

/// Everything that can go wrong in this crate.
///
/// Secrets, phone numbers and message bodies never appear in `Display` or `Debug`
/// of this type: API errors keep Meta's message (which names the problem, not the
/// customer), and unexpected bodies are shown as a short, redacted excerpt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Graph API answered with an error body.
    #[error(transparent)]
    Api(Box<ApiError>),

    /// A message broke a documented limit; nothing was sent.
    #[error(transparent)]
    Validation(#[from] ValidationError),

    /// A template send does not match the approved definition (checked before
    /// sending when `ClientBuilder::template_check` is on).
    #[error(transparent)]
    TemplateMismatch(#[from] TemplateMismatch),

    /// The answer was not the JSON we expected: an HTML page from a proxy, an
    /// empty 502, a truncated body.
    #[error(
        "unexpected response from the Graph API (HTTP {status}): {reason}; body starts with: {excerpt:?}"
    )]
    UnexpectedResponse {
        /// HTTP status of the answer.
        status: u16,
        /// What was wrong with it.
        reason: String,
        /// The first bytes of the body, with digits and long words masked.
        excerpt: String,
    },

    /// The request did not complete at the transport level.
    #[error("transport error ({kind}): {message}")]
    Transport {
        /// What kind of transport failure it was.
        kind: TransportKind,
        /// A description with URLs and query strings removed.
        message: String,
        /// The underlying error (the HTTP client's, with its URL removed).
        #[source]
        source: Option<crate::shared::TransportSource>,
    },

    /// A webhook request failed verification or parsing.
    #[error(transparent)]
    Webhook(#[from] crate::webhooks::WebhookError),

    /// A media operation was refused locally (size, type, checksum).
    #[error(transparent)]
    Media(#[from] MediaError),

    /// The client or a request was configured wrongly.
    #[error("configuration error: {0}")]
    Config(String),
}

impl Error {
    /// The typed Graph API error, if this is one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            _ => None,
        }
    }

    /// The error code, when the API gave one.
    pub fn code(&self) -> Option<ErrorCode> {
        self.api_error().map(|api| api.code)
    }

    /// The HTTP status of the answer, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Api(api) => Some(api.http_status),
            Error::UnexpectedResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The classification of the failure, when the API gave one.
    pub fn class(&self) -> Option<ErrorClass> {
        self.api_error().map(|api| api.code.class())
    }

    /// Whether trying the same request again can succeed.
    ///
    /// This says nothing about *safety*: the client only retries a send when the
    /// answer proves the message was not accepted (see the crate docs on retries).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(api) => api.is_retryable(),
            Error::UnexpectedResponse { status, .. } => matches!(status, 429 | 500..=599),
            Error::Transport { kind, .. } => {
                matches!(kind, TransportKind::Connect | TransportKind::Timeout)
            }
            _ => false,
        }
    }

    /// How long to wait before a retry, when the error says.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(api) => match api.retry_hint() {
                RetryHint::After(d) => Some(d),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether the access token is invalid or expired (error codes 0 and 190).
    pub fn is_auth(&self) -> bool {
        matches!(self.class(), Some(ErrorClass::Authentication))
    }

    /// Whether the failure is a rate limit (HTTP 429, or a throughput, pair
    /// or spam limit code): back off longer. The same predicate as
    /// `salesforce_rest::Error::is_rate_limited`.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self.class(), Some(ErrorClass::RateLimited(_)))
            || matches!(self, Error::UnexpectedResponse { status: 429, .. })
    }

    /// A plain-words hint for fixing the problem, when one is known. The
    /// same accessor as `salesforce_rest::Error::hint`.
    pub fn hint(&self) -> Option<&'static str> {
        match self.class()? {
            ErrorClass::Authentication => Some(
                "The access token is invalid or expired: use a System User token (it does not expire) or renew it.",
            ),
            ErrorClass::Permission => Some(
                "The token lacks a permission: grant whatsapp_business_messaging and whatsapp_business_management to the app's System User.",
            ),
            ErrorClass::ReEngagementRequired => Some(
                "More than 24 hours passed since the customer's last message: send an approved template instead.",
            ),
            ErrorClass::Template => Some(
                "The template or its parameters do not match the approved definition: check its name, language and parameter count.",
            ),
            ErrorClass::RateLimited(_) => Some(
                "A rate limit was hit: slow down (the error's retry_after says how long, when known).",
            ),
            _ => None,
        }
    }

    /// Builds an [`Error::UnexpectedResponse`] from a status and a raw body.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn unexpected(status: u16, reason: impl Into<String>, body: &[u8]) -> Self {
        Error::UnexpectedResponse {
            status,
            reason: reason.into(),
            excerpt: excerpt(body, 120),
        }
    }
}

impl From<ApiError> for Error {
    fn from(value: ApiError) -> Self {
        Error::Api(Box::new(value))
    }
}

pub use crate::shared::{TransportKind, TransportSource};

/// A message broke one of the limits the API documents. Nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ValidationError {
    /// The field, in the API's JSON naming (`interactive.action.buttons`).
    pub field: &'static str,
    /// The problem, naming the limit (`at most 3 buttons, got 4`).
    pub problem: String,
}

impl ValidationError {
    pub(crate) fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

/// A template send does not match the approved template's definition. Nothing
/// was sent: without the check the API would answer 132000, 132001, 132012,
/// 132015 or 132016.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {name:?} ({language}): {component}: {problem}")]
#[non_exhaustive]
pub struct TemplateMismatch {
    /// The template name.
    pub name: String,
    /// The language code.
    pub language: String,
    /// The component at fault: `header`, `body`, `button 1`, `carousel card 2 body`,
    /// `limited_time_offer`, or `template` for the template as a whole.
    pub component: String,
    /// What differs, naming the expected and the given counts or kinds.
    pub problem: String,
}

/// A media operation refused locally.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The MIME type is not one WhatsApp accepts for that kind of media.
    #[error("MIME type {mime:?} is not accepted for {kind} media")]
    UnsupportedType {
        /// The kind of media.
        kind: &'static str,
        /// The MIME type given.
        mime: String,
    },
    /// The file is larger than WhatsApp accepts for that kind of media, or than
    /// the download cap.
    #[error("{kind} media is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// The kind of media (or `download`).
        kind: &'static str,
        /// The size seen.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The downloaded bytes do not match the SHA-256 the API announced.
    #[error("downloaded media does not match its announced sha256")]
    ChecksumMismatch,
}

/// A typed Graph API error body:
/// `{"error":{"message","type","code","error_subcode","error_data":{"details"},"fbtrace_id"}}`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// HTTP status of the answer.
    pub http_status: u16,
    /// The error code, as an open enum.
    pub code: ErrorCode,
    /// Meta's message, e.g. `(#131047) Re-engagement message`.
    pub message: String,
    /// The `type` field, e.g. `OAuthException`.
    pub error_type: Option<String>,
    /// The deprecated `error_subcode`.
    pub subcode: Option<i64>,
    /// `error_data.details`: the most specific explanation Meta gives.
    pub details: Option<String>,
    /// `fbtrace_id`, to quote to Meta support.
    pub fbtrace_id: Option<String>,
    /// `is_transient`, when Meta sends it.
    pub is_transient: Option<bool>,
    /// `Retry-After` from the answer's headers, when present.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// An error answer from its HTTP status, code and message (tests, custom
    /// transports).
    pub fn new(http_status: u16, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            http_status,
            code,
            message: message.into(),
            error_type: None,
            subcode: None,
            details: None,
            fbtrace_id: None,
            is_transient: None,
            retry_after: None,
        }
    }

    /// Parses a Graph error body. Returns `None` when the body is not one.
    pub fn from_body(http_status: u16, body: &[u8]) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct Envelope {
            error: Body,
        }
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(default)]
            message: Option<String>,
            #[serde(default, rename = "type")]
            error_type: Option<String>,
            #[serde(default, deserialize_with = "crate::serde_util::lenient_i64")]
            code: Option<i64>,
            #[serde(default, deserialize_with = "crate::serde_util::lenient_i64")]
            error_subcode: Option<i64>,
            #[serde(default)]
            error_data: Option<ErrorData>,
            #[serde(default)]
            fbtrace_id: Option<String>,
            #[serde(default)]
            is_transient: Option<bool>,
        }
        #[derive(serde::Deserialize)]
        struct ErrorData {
            #[serde(default)]
            details: Option<String>,
        }
        let env: Envelope = serde_json::from_slice(body).ok()?;
        let b = env.error;
        Some(ApiError {
            http_status,
            code: ErrorCode::parse(b.code.unwrap_or(-1)),
            message: b.message.unwrap_or_default(),
            error_type: b.error_type,
            subcode: b.error_subcode,
            details: b.error_data.and_then(|d| d.details),
            fbtrace_id: b.fbtrace_id,
            is_transient: b.is_transient,
            retry_after: None,
        })
    }

    /// The classification of this error.
    pub fn class(&self) -> ErrorClass {
        self.code.class()
    }

    /// Whether and when a retry can help, combining the code's hint with any
    /// `Retry-After` header and Meta's own `is_transient` flag.
    pub fn retry_hint(&self) -> RetryHint {
        let hint = self.code.retry_hint();
        match (hint, self.retry_after) {
            (RetryHint::Never, _) => {
                if self.is_transient == Some(true) && matches!(self.code, ErrorCode::Other(_)) {
                    RetryHint::Backoff
                } else {
                    RetryHint::Never
                }
            }
            (_, Some(after)) => RetryHint::After(after),
            (hint, None) => hint,
        }
    }

    /// Whether a retry can help ([`retry_hint`](Self::retry_hint) is not
    /// `Never`), as `salesforce_rest::ApiError::is_retryable`.
    pub fn is_retryable(&self) -> bool {
        !matches!(self.retry_hint(), RetryHint::Never)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Graph API error {} ({}, HTTP {}): {}",
            self.code.code(),
            self.code.class(),
            self.http_status,
            self.message
        )?;
        if let Some(details) = &self.details {
            write!(f, " - {details}")?;
        }
        if let Some(trace) = &self.fbtrace_id {
            write!(f, " [fbtrace_id {trace}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

pub use crate::code::{ErrorClass, ErrorCode, RateLimit, RetryHint};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_kept() {
        for code in [0, 1, 4, 190, 131_047, 131_056, 132_012, 133_004] {
            assert_eq!(ErrorCode::parse(code).code(), code);
            assert!(!matches!(ErrorCode::parse(code), ErrorCode::Other(_)));
        }
        assert_eq!(ErrorCode::parse(999_999), ErrorCode::Other(999_999));
        assert_eq!(ErrorCode::Other(999_999).class(), ErrorClass::Unknown);
        assert_eq!(ErrorCode::Other(132_999).class(), ErrorClass::Template);
        assert_eq!(ErrorCode::Other(250).class(), ErrorClass::Permission);
    }

    #[test]
    fn classes_and_hints_follow_the_documented_table() {
        assert_eq!(
            ErrorCode::parse(130_429).class(),
            ErrorClass::RateLimited(RateLimit::Throughput)
        );
        assert_eq!(
            ErrorCode::parse(131_047).class(),
            ErrorClass::ReEngagementRequired
        );
        assert_eq!(ErrorCode::parse(131_047).retry_hint(), RetryHint::Never);
        assert_eq!(
            ErrorCode::parse(131_056).retry_hint(),
            RetryHint::After(Duration::from_secs(6))
        );
        assert_eq!(ErrorCode::parse(133_004).retry_hint(), RetryHint::Backoff);
        assert_eq!(ErrorCode::parse(190).class(), ErrorClass::Authentication);
        assert!(ErrorCode::PairRateLimit.proves_not_accepted());
        assert!(!ErrorCode::Undeliverable.proves_not_accepted());
    }

    #[test]
    fn parses_a_graph_error_body() {
        let body = br#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed"},"fbtrace_id":"AbC123"}}"#;
        let err = ApiError::from_body(400, body).unwrap();
        assert_eq!(err.code, ErrorCode::ReEngagementRequired);
        assert_eq!(err.fbtrace_id.as_deref(), Some("AbC123"));
        assert!(err.details.as_deref().unwrap().contains("24 hours"));
        let text = err.to_string();
        assert!(text.contains("131047") && text.contains("outside the 24-hour window"));
        let err = Error::from(err);
        assert!(!err.is_retryable());
        assert_eq!(err.class(), Some(ErrorClass::ReEngagementRequired));
    }

    #[test]
    fn code_as_string_and_missing_fields_still_parse() {
        let err = ApiError::from_body(400, br#"{"error":{"code":"130429"}}"#).unwrap();
        assert_eq!(err.code, ErrorCode::ThroughputExceeded);
        assert!(Error::from(err).is_retryable());
        assert!(ApiError::from_body(502, b"<html>Bad gateway</html>").is_none());
        assert!(ApiError::from_body(502, b"").is_none());
        assert!(ApiError::from_body(400, br#"{"error":"nope"}"#).is_none());
    }

    #[test]
    fn retry_after_header_overrides_the_code_hint_but_never_a_permanent_one() {
        let mut err = ApiError::from_body(429, br#"{"error":{"code":4}}"#).unwrap();
        err.retry_after = Some(Duration::from_secs(3));
        assert_eq!(err.retry_hint(), RetryHint::After(Duration::from_secs(3)));
        let mut err = ApiError::from_body(400, br#"{"error":{"code":131026}}"#).unwrap();
        err.retry_after = Some(Duration::from_secs(3));
        assert_eq!(err.retry_hint(), RetryHint::Never);
    }

    #[test]
    fn unexpected_response_redacts_its_excerpt() {
        let err = Error::unexpected(502, "not JSON", b"<html>call +14155550123 now</html>");
        let text = err.to_string();
        assert!(text.contains("HTTP 502"));
        assert!(!text.contains("4155550123"), "{text}");
        assert!(err.is_retryable());
    }
}
