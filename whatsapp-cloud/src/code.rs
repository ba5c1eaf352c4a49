//! Graph API / WhatsApp error codes as an open enum, with what each means
//! ([`ErrorClass`]) and whether a retry can help ([`RetryHint`]). A leaf
//! module: the webhook model and the error type both use it.

use std::fmt;
use std::time::Duration;

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
            pub fn parse(code: i64) -> Self {
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

            /// Whether a retry can help, from the code alone (the same question
            /// `salesforce_rest::ErrorCode::is_retryable` answers).
            pub fn is_retryable(self) -> bool {
                !matches!(self.retry_hint(), RetryHint::Never)
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
