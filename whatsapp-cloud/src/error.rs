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
            Error::Api(api) => !matches!(api.retry_hint(), RetryHint::Never),
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

pub use crate::shared::TransportKind;

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
            code: ErrorCode::from_code(b.code.unwrap_or(-1)),
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

/// Whether and when a retry can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryHint {
    /// Retrying the same request cannot succeed; fix something first.
    Never,
    /// Retry with exponential backoff and jitter.
    Backoff,
    /// Retry after at least this long.
    After(Duration),
}

/// What kind of problem an error code names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The access token is invalid or expired (0, 190).
    Authentication,
    /// The token lacks a permission, or the capability is unavailable (3, 10, 200-299).
    Permission,
    /// A rate limit was hit; see [`RateLimit`] for which.
    RateLimited(RateLimit),
    /// More than 24 hours since the customer last wrote: send a template (131047).
    ReEngagementRequired,
    /// A template is missing, paused, disabled or got the wrong parameters (132xxx).
    Template,
    /// A media file could not be downloaded or uploaded (131052, 131053).
    Media,
    /// The recipient cannot get the message: not on WhatsApp, not in the allowed
    /// list, opted out of marketing, or the sender itself (131026, 131030, 131050, 131021).
    RecipientUnavailable,
    /// A parameter is missing or invalid (100, 131008, 131009, 131051).
    InvalidParameter,
    /// The business account or number is blocked, locked or unregistered
    /// (368, 131031, 131042, 133010).
    Blocked,
    /// A server-side failure (1, 2, 131000, 131016, 131057, 133004).
    ServerError,
    /// A code this crate does not know.
    Unknown,
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorClass::Authentication => f.write_str("authentication"),
            ErrorClass::Permission => f.write_str("permission"),
            ErrorClass::RateLimited(kind) => write!(f, "rate limited: {kind}"),
            ErrorClass::ReEngagementRequired => f.write_str("outside the 24-hour window"),
            ErrorClass::Template => f.write_str("template problem"),
            ErrorClass::Media => f.write_str("media problem"),
            ErrorClass::RecipientUnavailable => f.write_str("recipient unavailable"),
            ErrorClass::InvalidParameter => f.write_str("invalid parameter"),
            ErrorClass::Blocked => f.write_str("account blocked or restricted"),
            ErrorClass::ServerError => f.write_str("server error"),
            ErrorClass::Unknown => f.write_str("unknown"),
        }
    }
}

/// Which rate limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateLimit {
    /// App-level call limit (4).
    App,
    /// Business-account call limit (80007).
    Account,
    /// Per-number throughput (130429).
    Throughput,
    /// Too many messages to the same recipient (131056).
    Pair,
    /// Spam rate limit, tied to quality (131048).
    Spam,
    /// Marketing message held back for ecosystem engagement (131049).
    Ecosystem,
    /// Registration attempts (133016).
    Registration,
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RateLimit::App => "app call limit",
            RateLimit::Account => "business account limit",
            RateLimit::Throughput => "number throughput",
            RateLimit::Pair => "pair rate limit",
            RateLimit::Spam => "spam rate limit",
            RateLimit::Ecosystem => "ecosystem engagement",
            RateLimit::Registration => "registration attempts",
        })
    }
}

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal => $class:expr, $hint:expr; )*) => {
        /// A Graph API / WhatsApp error code, as an open enum.
        ///
        /// Known codes have a variant; any other code is kept as [`ErrorCode::Other`].
        /// The same codes appear in send errors and in webhook `errors[]`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $name, )*
            /// A code this crate does not know, kept as it came.
            Other(i64),
        }

        impl ErrorCode {
            /// The enum value for a numeric code.
            pub fn from_code(code: i64) -> Self {
                match code {
                    $( $code => ErrorCode::$name, )*
                    other => ErrorCode::Other(other),
                }
            }

            /// The numeric code.
            pub fn code(self) -> i64 {
                match self {
                    $( ErrorCode::$name => $code, )*
                    ErrorCode::Other(code) => code,
                }
            }

            /// What kind of problem the code names.
            pub fn class(self) -> ErrorClass {
                match self {
                    $( ErrorCode::$name => $class, )*
                    ErrorCode::Other(code) if (200..=299).contains(&code) => ErrorClass::Permission,
                    ErrorCode::Other(code) if (132_000..=132_999).contains(&code) => ErrorClass::Template,
                    ErrorCode::Other(_) => ErrorClass::Unknown,
                }
            }

            /// Whether and when a retry can help, from the code alone.
            pub fn retry_hint(self) -> RetryHint {
                match self {
                    $( ErrorCode::$name => $hint, )*
                    ErrorCode::Other(_) => RetryHint::Never,
                }
            }
        }
    };
}

use ErrorClass as C;
use RetryHint as H;

error_codes! {
    /// 0: could not authenticate the app user.
    AuthException = 0 => C::Authentication, H::Never;
    /// 1: unknown API error.
    ApiUnknown = 1 => C::ServerError, H::Backoff;
    /// 2: service temporarily unavailable.
    ApiService = 2 => C::ServerError, H::Backoff;
    /// 3: capability or permission issue.
    ApiMethod = 3 => C::Permission, H::Never;
    /// 4: too many calls from the app.
    AppRateLimit = 4 => C::RateLimited(RateLimit::App), H::After(Duration::from_secs(60));
    /// 10: permission denied.
    PermissionDenied = 10 => C::Permission, H::Never;
    /// 100: invalid parameter.
    InvalidParameter = 100 => C::InvalidParameter, H::Never;
    /// 190: access token expired or invalid.
    AccessTokenExpired = 190 => C::Authentication, H::Never;
    /// 368: temporarily blocked for policy violations.
    PolicyBlocked = 368 => C::Blocked, H::Never;
    /// 80007: business account rate limit.
    AccountRateLimit = 80007 => C::RateLimited(RateLimit::Account), H::After(Duration::from_secs(60));
    /// 130429: number throughput exceeded.
    ThroughputExceeded = 130_429 => C::RateLimited(RateLimit::Throughput), H::Backoff;
    /// 130472: the user is part of a marketing experiment.
    MarketingExperiment = 130_472 => C::RecipientUnavailable, H::Never;
    /// 131000: something went wrong.
    SomethingWentWrong = 131_000 => C::ServerError, H::Backoff;
    /// 131008: a required parameter is missing.
    RequiredParameterMissing = 131_008 => C::InvalidParameter, H::Never;
    /// 131009: a parameter value is invalid.
    ParameterValueInvalid = 131_009 => C::InvalidParameter, H::Never;
    /// 131016: service unavailable.
    ServiceUnavailable = 131_016 => C::ServerError, H::Backoff;
    /// 131021: the recipient cannot be the sender.
    RecipientIsSender = 131_021 => C::RecipientUnavailable, H::Never;
    /// 131026: message undeliverable (not on WhatsApp, old app, blocked).
    Undeliverable = 131_026 => C::RecipientUnavailable, H::Never;
    /// 131030: the recipient is not in the allowed list (test numbers).
    RecipientNotAllowed = 131_030 => C::RecipientUnavailable, H::Never;
    /// 131031: the business account is locked.
    AccountLocked = 131_031 => C::Blocked, H::Never;
    /// 131042: business eligibility or payment issue.
    PaymentIssue = 131_042 => C::Blocked, H::Never;
    /// 131047: more than 24 hours since the customer last wrote.
    ReEngagementRequired = 131_047 => C::ReEngagementRequired, H::Never;
    /// 131048: spam rate limit hit.
    SpamRateLimit = 131_048 => C::RateLimited(RateLimit::Spam), H::Never;
    /// 131049: held back to maintain healthy ecosystem engagement.
    EcosystemEngagement = 131_049 => C::RateLimited(RateLimit::Ecosystem), H::Never;
    /// 131050: the user stopped marketing messages.
    MarketingOptOut = 131_050 => C::RecipientUnavailable, H::Never;
    /// 131051: unsupported message type.
    UnsupportedMessageType = 131_051 => C::InvalidParameter, H::Never;
    /// 131052: media download error.
    MediaDownload = 131_052 => C::Media, H::Never;
    /// 131053: media upload error.
    MediaUpload = 131_053 => C::Media, H::Never;
    /// 131056: too many messages to the same recipient.
    PairRateLimit = 131_056 => C::RateLimited(RateLimit::Pair), H::After(Duration::from_secs(6));
    /// 131057: account in maintenance (e.g. a throughput upgrade).
    AccountInMaintenance = 131_057 => C::ServerError, H::After(Duration::from_secs(60));
    /// 132000: template parameter count mismatch.
    TemplateParamCount = 132_000 => C::Template, H::Never;
    /// 132001: the template does not exist in that language.
    TemplateNotFound = 132_001 => C::Template, H::Never;
    /// 132005: hydrated template text too long.
    TemplateTextTooLong = 132_005 => C::Template, H::Never;
    /// 132007: template format or character policy violated.
    TemplatePolicy = 132_007 => C::Template, H::Never;
    /// 132008: template parameter value invalid.
    TemplateParamInvalid = 132_008 => C::Template, H::Never;
    /// 132012: template parameter format mismatch.
    TemplateParamFormat = 132_012 => C::Template, H::Never;
    /// 132015: template paused for low quality.
    TemplatePaused = 132_015 => C::Template, H::Never;
    /// 132016: template disabled for low quality.
    TemplateDisabled = 132_016 => C::Template, H::Never;
    /// 132068: the Flow is blocked.
    FlowBlocked = 132_068 => C::Template, H::Never;
    /// 132069: the Flow is throttled.
    FlowThrottled = 132_069 => C::Template, H::Backoff;
    /// 133004: server temporarily unavailable.
    ServerUnavailable = 133_004 => C::ServerError, H::Backoff;
    /// 133010: the phone number is not registered.
    NumberNotRegistered = 133_010 => C::Blocked, H::Never;
    /// 133016: too many registration attempts.
    RegistrationRateLimit = 133_016 => C::RateLimited(RateLimit::Registration), H::Never;
    /// 135000: generic user error.
    GenericUserError = 135_000 => C::InvalidParameter, H::Never;
}

impl ErrorCode {
    /// Whether an answer with this code proves the message was **not** accepted,
    /// so that sending it again cannot deliver it twice.
    ///
    /// True for rate limits that reject before queueing (4, 80007, 130429, 131056)
    /// and for the documented "service unavailable" codes (2, 131016, 131057, 133004).
    /// 131000 ("something went wrong") is ambiguous and is not among them.
    pub fn proves_not_accepted(self) -> bool {
        matches!(
            self,
            ErrorCode::AppRateLimit
                | ErrorCode::AccountRateLimit
                | ErrorCode::ThroughputExceeded
                | ErrorCode::PairRateLimit
                | ErrorCode::ApiService
                | ErrorCode::ServiceUnavailable
                | ErrorCode::AccountInMaintenance
                | ErrorCode::ServerUnavailable
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_kept() {
        for code in [0, 1, 4, 190, 131_047, 131_056, 132_012, 133_004] {
            assert_eq!(ErrorCode::from_code(code).code(), code);
            assert!(!matches!(ErrorCode::from_code(code), ErrorCode::Other(_)));
        }
        assert_eq!(ErrorCode::from_code(999_999), ErrorCode::Other(999_999));
        assert_eq!(ErrorCode::Other(999_999).class(), ErrorClass::Unknown);
        assert_eq!(ErrorCode::Other(132_999).class(), ErrorClass::Template);
        assert_eq!(ErrorCode::Other(250).class(), ErrorClass::Permission);
    }

    #[test]
    fn classes_and_hints_follow_the_documented_table() {
        assert_eq!(
            ErrorCode::from_code(130_429).class(),
            ErrorClass::RateLimited(RateLimit::Throughput)
        );
        assert_eq!(
            ErrorCode::from_code(131_047).class(),
            ErrorClass::ReEngagementRequired
        );
        assert_eq!(ErrorCode::from_code(131_047).retry_hint(), RetryHint::Never);
        assert_eq!(
            ErrorCode::from_code(131_056).retry_hint(),
            RetryHint::After(Duration::from_secs(6))
        );
        assert_eq!(
            ErrorCode::from_code(133_004).retry_hint(),
            RetryHint::Backoff
        );
        assert_eq!(
            ErrorCode::from_code(190).class(),
            ErrorClass::Authentication
        );
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
