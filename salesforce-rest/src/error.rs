//! The crate's one error type, typed REST and OAuth errors, and fix hints.

use std::fmt;

use serde::Deserialize;

/// Everything that can go wrong in this crate.
///
/// `Display` names the failure and Salesforce's message; tokens, secrets and
/// record data never appear in it (bodies are shown as short redacted excerpts).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The REST API answered with an error array.
    #[error(transparent)]
    Api(Box<ApiError>),

    /// The OAuth token endpoint refused the request.
    #[error(transparent)]
    OAuth(Box<OAuthError>),

    /// The token endpoint answered with an HTML page or a redirect: the login
    /// host or URL is wrong (a redirect is never followed: it would drop the POST body).
    #[error(
        "wrong login host: the token endpoint answered HTTP {status} with {what}; check the login URL (login.salesforce.com, test.salesforce.com or your My Domain)"
    )]
    WrongLoginHost {
        /// HTTP status.
        status: u16,
        /// What came back (`an HTML page`, `a redirect`).
        what: &'static str,
    },

    /// The API version is retired (HTTP 410).
    #[error("API version {version} is retired (HTTP 410); configure a current version")]
    ApiVersionRetired {
        /// The version used.
        version: String,
    },

    /// An upsert by external ID matched several records (HTTP 300).
    #[error("the external ID matched {} records; make the field unique", .records.len())]
    MultipleMatches {
        /// The URLs of the matching records.
        records: Vec<String>,
    },

    /// The answer was not what the API documents: HTML from a proxy or a
    /// maintenance page, an empty 5xx, truncated JSON.
    #[error("unexpected response (HTTP {status}): {reason}; body starts with: {excerpt:?}")]
    UnexpectedResponse {
        /// HTTP status.
        status: u16,
        /// What was wrong.
        reason: String,
        /// A short, redacted excerpt.
        excerpt: String,
    },

    /// The request did not complete at the transport level.
    #[error("transport error ({kind}): {message}")]
    Transport {
        /// The kind of failure.
        kind: TransportKind,
        /// A description without URLs.
        message: String,
        /// The underlying error (the HTTP client's, with its URL removed).
        #[source]
        source: Option<crate::shared::TransportSource>,
    },

    /// The session could not be renewed; a person must re-authorize or fix the
    /// configuration. Reported once per failed refresh, never in a loop.
    #[error("re-authorization required: {0}")]
    ReauthorizationRequired(Box<Error>),

    /// A request or the client was configured wrongly (nothing was sent).
    #[error("configuration error: {0}")]
    Config(String),

    /// A token response named an instance URL outside Salesforce's domains
    /// and the hosts the app allows: the bearer token is not sent there.
    #[error(
        "untrusted instance URL ({reason}); allow its host with SessionBuilder::allow_instance_host if it is yours"
    )]
    UntrustedInstanceUrl {
        /// What is wrong (the host is named; never a token).
        reason: String,
    },

    /// A SOQL template and its arguments do not fit together.
    #[error("SOQL: {0}")]
    Soql(String),

    /// A Bulk API job failed, was aborted, or did not finish in time.
    #[error("bulk job {job_id} ended {state}: {message}")]
    BulkJobFailed {
        /// The job id.
        job_id: String,
        /// Its last state.
        state: String,
        /// Salesforce's error message, or why waiting stopped.
        message: String,
    },

    /// A token store failed.
    #[error("token store: {0}")]
    TokenStore(String),

    /// A downloaded file is larger than the caller's limit (the download
    /// stopped there).
    #[error("the file is larger than the limit: {size} bytes seen, {limit} allowed")]
    FileTooLarge {
        /// The bytes announced or read when the download stopped.
        size: u64,
        /// The caller's limit.
        limit: u64,
    },

    /// The caller's writer failed while a download was written to it.
    #[error("the downloaded file could not be written: {0}")]
    LocalWrite(String),
}

/// How long the token endpoint's login rate limit is waited out.
pub(crate) const LOGIN_RATE_LIMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

impl Error {
    /// The typed REST error, if this is one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            Error::ReauthorizationRequired(inner) => inner.api_error(),
            _ => None,
        }
    }

    /// The first REST error code, if any.
    pub fn code(&self) -> Option<&ErrorCode> {
        self.api_error()
            .and_then(|e| e.errors.first())
            .map(|e| &e.code)
    }

    /// Whether trying again (with backoff) can succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.is_retryable(),
            Error::OAuth(e) => e.is_retryable(),
            Error::UnexpectedResponse { status, .. } => matches!(status, 429 | 500..=599),
            Error::Transport { kind, .. } => {
                matches!(kind, TransportKind::Connect | TransportKind::Timeout)
            }
            _ => false,
        }
    }

    /// The HTTP status of the answer, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.http_status),
            Error::OAuth(e) => Some(e.http_status),
            Error::UnexpectedResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether this is the token endpoint's login rate limit (back off for minutes).
    pub fn is_login_rate_limit(&self) -> bool {
        match self {
            Error::OAuth(e) => {
                e.error == OAuthErrorCode::RateLimitExceeded
                    || e.description
                        .to_ascii_lowercase()
                        .contains("login rate exceeded")
            }
            Error::ReauthorizationRequired(inner) => inner.is_login_rate_limit(),
            _ => false,
        }
    }

    /// Whether the failure is a rate limit: the token endpoint's login rate
    /// limit, `REQUEST_LIMIT_EXCEEDED` (concurrent or daily) or HTTP 429.
    /// Back off longer. The same predicate as
    /// `whatsapp_cloud::Error::is_rate_limited`.
    pub fn is_rate_limited(&self) -> bool {
        self.is_login_rate_limit()
            || self.code() == Some(&ErrorCode::RequestLimitExceeded)
            || matches!(self, Error::UnexpectedResponse { status: 429, .. })
    }

    /// How long to wait before trying again, when the error says: the login
    /// rate limit lasts minutes (5 minutes, as the session waits). The same
    /// accessor as `whatsapp_cloud::Error::retry_after`.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.is_login_rate_limit().then_some(LOGIN_RATE_LIMIT_WAIT)
    }

    /// Whether the token endpoint refused because another refresh with the
    /// same token is in flight.
    pub fn is_concurrent_refresh(&self) -> bool {
        matches!(self, Error::OAuth(e) if e.description.to_ascii_lowercase().contains("already being processed"))
    }

    /// Whether the error is about authentication (expired session, refused grant).
    pub fn is_auth(&self) -> bool {
        match self {
            Error::OAuth(_) | Error::ReauthorizationRequired(_) | Error::WrongLoginHost { .. } => {
                true
            }
            Error::Api(e) => e
                .errors
                .iter()
                .any(|i| i.code == ErrorCode::InvalidSessionId),
            _ => false,
        }
    }

    /// A plain-words hint for fixing the problem, when one is known.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Api(e) => e.errors.iter().find_map(ApiErrorItem::hint),
            Error::OAuth(e) => Some(e.hint()),
            Error::ReauthorizationRequired(inner) => inner.hint(),
            Error::WrongLoginHost { .. } => Some(
                "Use https://login.salesforce.com for production, https://test.salesforce.com for sandboxes, or your My Domain URL; client credentials need the My Domain URL.",
            ),
            Error::ApiVersionRetired { .. } => {
                Some("Set a current API version (GET /services/data lists them).")
            }
            _ => None,
        }
    }

    pub(crate) fn unexpected(status: u16, reason: impl Into<String>, body: &[u8]) -> Self {
        Error::UnexpectedResponse {
            status,
            reason: reason.into(),
            excerpt: crate::redact::excerpt(body, 120),
        }
    }
}

pub use crate::shared::{TransportKind, TransportSource};

/// A REST error answer: the HTTP status and the error items.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// HTTP status.
    pub http_status: u16,
    /// The error items (never empty).
    pub errors: Vec<ApiErrorItem>,
}

impl ApiError {
    /// An error answer from its status and items (e.g. the errors of one
    /// record of an sObject Collections result).
    pub fn new(http_status: u16, errors: Vec<ApiErrorItem>) -> Self {
        Self {
            http_status,
            errors,
        }
    }

    /// Whether a retry can help (every item retryable).
    pub fn is_retryable(&self) -> bool {
        !self.errors.is_empty() && self.errors.iter().all(ApiErrorItem::is_retryable)
    }

    /// Parses a REST error body: an array of items, a single item, or an object
    /// with an `errors` array. Items may say `errorCode` or `statusCode`.
    pub fn from_body(status: u16, body: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            Many(Vec<ApiErrorItem>),
            Wrapped { errors: Vec<ApiErrorItem> },
            One(ApiErrorItem),
        }
        let errors = match serde_json::from_slice::<Shape>(body).ok()? {
            Shape::Many(v) | Shape::Wrapped { errors: v } => v,
            Shape::One(e) => vec![e],
        };
        if errors.is_empty()
            || errors
                .iter()
                .all(|e| e.code == ErrorCode::Other(String::new()) && e.message.is_empty())
        {
            return None;
        }
        Some(Self {
            http_status: status,
            errors,
        })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Salesforce API error (HTTP {})", self.http_status)?;
        for (i, e) in self.errors.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            // Messages echo field values (STRING_TOO_LONG, validation rules):
            // masked here, whole in `ApiErrorItem::message`.
            write!(f, "{}: {}", e.code, e.redacted_message())?;
            if !e.fields.is_empty() {
                write!(f, " [fields: {}]", e.fields.join(", "))?;
            }
        }
        if let Some(hint) = self.errors.iter().find_map(ApiErrorItem::hint) {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl ApiErrorItem {
    /// The message with the values it may echo masked (digits, e-mails,
    /// quoted text), as `Display` and logs show it. The full text is
    /// [`message`](Self::message).
    pub fn redacted_message(&self) -> String {
        crate::redact::message(&self.message)
    }
}

/// One error item: `{message, errorCode | statusCode, fields}` plus extra keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ApiErrorItem {
    /// The error code (from `errorCode` or `statusCode`).
    #[serde(
        alias = "errorCode",
        alias = "statusCode",
        default = "ErrorCode::empty"
    )]
    pub code: ErrorCode,
    /// Salesforce's message.
    #[serde(default)]
    pub message: String,
    /// The fields concerned.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub fields: Vec<String>,
    /// For `DUPLICATES_DETECTED`: the duplicate rule's result, as raw JSON.
    #[serde(default, rename = "duplicateResult")]
    pub duplicate_result: Option<serde_json::Value>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

impl ApiErrorItem {
    /// For `REQUEST_LIMIT_EXCEEDED`: whether the daily allocation (not retryable)
    /// or the concurrent long-request limit (retryable) was hit.
    pub fn limit_kind(&self) -> Option<LimitKind> {
        if self.code != ErrorCode::RequestLimitExceeded {
            return None;
        }
        let m = self.message.to_ascii_lowercase();
        Some(if m.contains("concurrent") {
            LimitKind::Concurrent
        } else {
            LimitKind::Daily
        })
    }

    /// Whether a retry of the same request can succeed.
    pub fn is_retryable(&self) -> bool {
        match &self.code {
            ErrorCode::RequestLimitExceeded => self.limit_kind() == Some(LimitKind::Concurrent),
            code => code.is_retryable(),
        }
    }

    /// A hint for fixing the problem.
    pub fn hint(&self) -> Option<&'static str> {
        match (&self.code, self.limit_kind()) {
            (_, Some(LimitKind::Daily)) => Some(
                "The org's 24-hour API allocation is used up; wait for it to roll over, buy more, or batch work with sObject Collections and Composite.",
            ),
            (_, Some(LimitKind::Concurrent)) => Some(
                "Too many long-running requests at once; retry with backoff and keep requests under 20 seconds.",
            ),
            (code, _) => code.hint(),
        }
    }
}

/// Which `REQUEST_LIMIT_EXCEEDED` limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// The rolling 24-hour allocation (TotalRequests).
    Daily,
    /// Concurrent long-running requests (ConcurrentPerOrgLongTxn).
    Concurrent,
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $name:ident = $text:literal, retry: $retry:expr, hint: $hint:expr; )*) => {
        /// A Salesforce error code, as an open enum: unknown codes are kept as text.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $name, )*
            /// Any other code, as sent.
            Other(String),
        }

        impl ErrorCode {
            /// Parses a code.
            pub fn parse(code: &str) -> Self {
                match code {
                    $( $text => ErrorCode::$name, )*
                    other => ErrorCode::Other(other.to_owned()),
                }
            }

            /// The code as Salesforce writes it (the same name as
            /// `whatsapp_cloud::ErrorCode::code`).
            pub fn code(&self) -> &str {
                self.as_str()
            }

            /// The code as Salesforce writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( ErrorCode::$name => $text, )*
                    ErrorCode::Other(s) => s,
                }
            }

            /// Whether the code is transient.
            pub fn is_retryable(&self) -> bool {
                match self {
                    $( ErrorCode::$name => $retry, )*
                    ErrorCode::Other(_) => false,
                }
            }

            /// A hint for the fix, for the common codes.
            pub fn hint(&self) -> Option<&'static str> {
                match self {
                    $( ErrorCode::$name => $hint, )*
                    ErrorCode::Other(_) => None,
                }
            }
        }
    };
}

codes! {
    /// The session expired or is invalid.
    InvalidSessionId = "INVALID_SESSION_ID", retry: false, hint: Some("The session expired or was revoked; the client refreshes it once automatically. If it persists, re-authorize.");
    /// The REST API is not enabled for the org or user.
    ApiDisabledForOrg = "API_DISABLED_FOR_ORG", retry: false, hint: Some("Tick \"API Enabled\" under Administrative Permissions on the user's profile or permission set (and use an edition with API access: Enterprise, Unlimited, Developer or Performance).");
    /// An API limit was exceeded (daily or concurrent; see `limit_kind`).
    RequestLimitExceeded = "REQUEST_LIMIT_EXCEEDED", retry: false, hint: None;
    /// A field does not exist or is not visible.
    InvalidField = "INVALID_FIELD", retry: false, hint: Some("Check the field's API name (custom fields end in __c) and the user's field-level security.");
    /// SOQL syntax error.
    MalformedQuery = "MALFORMED_QUERY", retry: false, hint: Some("Fix the SOQL; put values in with the soql module's escaping, never by string concatenation.");
    /// Unknown sObject type.
    InvalidType = "INVALID_TYPE", retry: false, hint: Some("Check the object's API name and that the user can see it.");
    /// A required field is missing.
    RequiredFieldMissing = "REQUIRED_FIELD_MISSING", retry: false, hint: Some("Set the fields listed (Lead needs LastName and Company).");
    /// A unique or external-ID value is taken.
    DuplicateValue = "DUPLICATE_VALUE", retry: false, hint: Some("A record with this unique value exists; look it up or upsert on the external ID.");
    /// A duplicate rule blocked the save.
    DuplicatesDetected = "DUPLICATES_DETECTED", retry: false, hint: Some("A duplicate rule blocked the save; update the existing record, or send Sforce-Duplicate-Rule-Header allowSave=true.");
    /// The record is in the recycle bin.
    EntityIsDeleted = "ENTITY_IS_DELETED", retry: false, hint: Some("The record was deleted; undelete it or create a new one.");
    /// The resource or record does not exist.
    NotFound = "NOT_FOUND", retry: false, hint: Some("Check the record id, the object name and the external ID field.");
    /// A validation rule failed.
    FieldCustomValidationException = "FIELD_CUSTOM_VALIDATION_EXCEPTION", retry: false, hint: Some("A validation rule in the org refused the values; see the message written by the admin.");
    /// The record is locked by another transaction.
    UnableToLockRow = "UNABLE_TO_LOCK_ROW", retry: true, hint: Some("Another transaction holds the record; retry with backoff.");
    /// The server is temporarily unavailable.
    ServerUnavailable = "SERVER_UNAVAILABLE", retry: true, hint: Some("Salesforce is temporarily unavailable; retry with backoff.");
    /// The id is not valid.
    MalformedId = "MALFORMED_ID", retry: false, hint: Some("Record ids are 15 or 18 characters; check the id and its object.");
    /// A lookup points to a record that does not exist or is not visible.
    InvalidCrossReferenceKey = "INVALID_CROSS_REFERENCE_KEY", retry: false, hint: None;
    /// A value is longer than the field allows.
    StringTooLong = "STRING_TOO_LONG", retry: false, hint: Some("Shorten the value to the field's length.");
    /// A restricted picklist got a value it does not have.
    InvalidOrNullForRestrictedPicklist = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", retry: false, hint: Some("Add the value to the picklist (e.g. \"WhatsApp\" to Case Origin or Lead Source) or map to an existing one.");
    /// The request body is not valid JSON for the API.
    JsonParserError = "JSON_PARSER_ERROR", retry: false, hint: Some("Check date and datetime formats (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS.sssZ) and field types.");
    /// The user lacks access.
    InsufficientAccessOrReadonly = "INSUFFICIENT_ACCESS_OR_READONLY", retry: false, hint: Some("Grant the integration user access to the object and record.");
    /// The query cursor expired.
    InvalidQueryLocator = "INVALID_QUERY_LOCATOR", retry: false, hint: Some("The query cursor expired; run the query again.");
    /// The query timed out.
    QueryTimeout = "QUERY_TIMEOUT", retry: true, hint: Some("Make the query selective (indexed filters) or smaller.");
    /// A composite subrequest was not run because another failed.
    ProcessingHalted = "PROCESSING_HALTED", retry: false, hint: None;
    /// A composite batch subrequest was halted.
    BatchProcessingHalted = "BATCH_PROCESSING_HALTED", retry: false, hint: None;
    /// An allOrNone operation rolled back because another record failed.
    AllOrNoneOperationRolledBack = "ALL_OR_NONE_OPERATION_ROLLED_BACK", retry: false, hint: Some("Another record of the same all-or-none request failed; fix it and resend all.");
    /// A concurrent-refresh or similar transient API error.
    ApiTemporarilyUnavailable = "API_TEMPORARILY_UNAVAILABLE", retry: true, hint: None;
}

impl ErrorCode {
    fn empty() -> Self {
        ErrorCode::Other(String::new())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        Ok(ErrorCode::parse(&s))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error answer: `{"error", "error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthError {
    /// HTTP status.
    pub http_status: u16,
    /// The `error` code, as an open enum.
    pub error: OAuthErrorCode,
    /// `error_description`.
    pub description: String,
}

/// An OAuth `error` value. Open: unknown values are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_grant`.
    InvalidGrant,
    /// `invalid_client`.
    InvalidClient,
    /// `invalid_client_id`.
    InvalidClientId,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_request`.
    InvalidRequest,
    /// `inactive_user`.
    InactiveUser,
    /// `inactive_org`.
    InactiveOrg,
    /// `rate_limit_exceeded`.
    RateLimitExceeded,
    /// Any other value.
    Other(String),
}

impl OAuthErrorCode {
    /// Parses an `error` value.
    pub fn parse(s: &str) -> Self {
        match s {
            "invalid_grant" => Self::InvalidGrant,
            "invalid_client" => Self::InvalidClient,
            "invalid_client_id" => Self::InvalidClientId,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_request" => Self::InvalidRequest,
            "inactive_user" => Self::InactiveUser,
            "inactive_org" => Self::InactiveOrg,
            "rate_limit_exceeded" => Self::RateLimitExceeded,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The value as sent.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidClient => "invalid_client",
            Self::InvalidClientId => "invalid_client_id",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidRequest => "invalid_request",
            Self::InactiveUser => "inactive_user",
            Self::InactiveOrg => "inactive_org",
            Self::RateLimitExceeded => "rate_limit_exceeded",
            Self::Other(s) => s,
        }
    }
}

impl OAuthError {
    /// Parses an OAuth error body.
    pub fn from_body(status: u16, body: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        struct Wire {
            error: String,
            #[serde(default)]
            error_description: Option<String>,
        }
        let w: Wire = serde_json::from_slice(body).ok()?;
        Some(Self {
            http_status: status,
            error: OAuthErrorCode::parse(&w.error),
            description: w.error_description.unwrap_or_default(),
        })
    }

    /// Whether retrying later can help (login rate limit, a concurrent refresh).
    pub fn is_retryable(&self) -> bool {
        let d = self.description.to_ascii_lowercase();
        self.error == OAuthErrorCode::RateLimitExceeded
            || d.contains("already being processed")
            || self.http_status >= 500
    }

    /// The usual causes, in plain words.
    pub fn hint(&self) -> &'static str {
        let d = self.description.to_ascii_lowercase();
        match &self.error {
            OAuthErrorCode::InvalidGrant if d.contains("expired access/refresh token") => {
                "The refresh token was revoked or expired: the app's refresh token policy, the 5-approvals-per-user limit, a reused rotated token, or a revoked session. Authorize again (examples/salesforce_login)."
            }
            OAuthErrorCode::InvalidGrant if d.contains("authentication failure") => {
                "Wrong username, password or security token (append the token to the password unless the IP is trusted), or the user is locked."
            }
            OAuthErrorCode::InvalidGrant
                if d.contains("ip restricted") || d.contains("login hours") =>
            {
                "The user's profile restricts login IP ranges or hours; relax them or set the connected app's IP relaxation."
            }
            OAuthErrorCode::InvalidGrant
                if d.contains("not approved") || d.contains("hasn't approved") =>
            {
                "The user has not approved the connected app; pre-authorize it for the user's profile or permission set (JWT bearer needs admin-approved users)."
            }
            OAuthErrorCode::InvalidGrant if d.contains("audience") => {
                "The JWT audience must be https://login.salesforce.com for production and https://test.salesforce.com for sandboxes."
            }
            OAuthErrorCode::InvalidGrant if d.contains("not supported on this domain") => {
                "Client credentials only work on your My Domain URL (https://<name>.my.salesforce.com), not on login or test."
            }
            OAuthErrorCode::InvalidGrant
                if d.contains("authorization code") || d.contains("code verifier") =>
            {
                "The authorization code expired, was already used, or the PKCE verifier does not match; start the login again."
            }
            OAuthErrorCode::InvalidGrant => {
                "The grant was refused: check the credentials, the login host, the user's access to the connected app, and the refresh token policy."
            }
            OAuthErrorCode::InvalidClient | OAuthErrorCode::InvalidClientId => {
                "Check the consumer key and secret of the connected app; a new app can take minutes to propagate."
            }
            OAuthErrorCode::UnsupportedGrantType => {
                "The connected app does not allow this flow; enable it (e.g. client credentials, JWT) in the app's OAuth settings."
            }
            OAuthErrorCode::InactiveUser | OAuthErrorCode::InactiveOrg => {
                "The user or org is inactive."
            }
            OAuthErrorCode::RateLimitExceeded => "Too many logins; wait and retry.",
            _ => "See Salesforce's OAuth error description.",
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OAuth error {} (HTTP {}): {} (hint: {})",
            self.error.as_str(),
            self.http_status,
            self.description,
            self.hint()
        )
    }
}

impl std::error::Error for OAuthError {}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

impl From<OAuthError> for Error {
    fn from(e: OAuthError) -> Self {
        Error::OAuth(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_error_body_shape() {
        let array =
            br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#;
        let e = ApiError::from_body(401, array).unwrap();
        assert_eq!(e.errors[0].code, ErrorCode::InvalidSessionId);
        let status_code = br#"[{"statusCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access","fields":[]}]"#;
        let e = ApiError::from_body(400, status_code).unwrap();
        assert!(e.is_retryable());
        let single = br#"{"message":"x","errorCode":"NOT_FOUND"}"#;
        assert_eq!(
            ApiError::from_body(404, single).unwrap().errors[0].code,
            ErrorCode::NotFound
        );
        let wrapped =
            br#"{"errors":[{"message":"m","statusCode":"DUPLICATE_VALUE","fields":["Email"]}]}"#;
        assert_eq!(
            ApiError::from_body(400, wrapped).unwrap().errors[0].fields,
            vec!["Email"]
        );
        let extra = br#"[{"message":"dup","errorCode":"DUPLICATES_DETECTED","fields":null,"duplicateResult":{"allowSave":false,"matchResults":[]},"newKey":1}]"#;
        let e = ApiError::from_body(400, extra).unwrap();
        assert!(e.errors[0].duplicate_result.is_some());
        assert!(e.errors[0].fields.is_empty());
        let unknown = br#"[{"message":"new","errorCode":"BRAND_NEW_CODE"}]"#;
        assert_eq!(
            ApiError::from_body(400, unknown).unwrap().errors[0].code,
            ErrorCode::Other("BRAND_NEW_CODE".into())
        );
        for bad in [&b""[..], b"<html>", b"[]", b"{}", b"[1,2]"] {
            assert!(ApiError::from_body(500, bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn request_limit_daily_vs_concurrent() {
        let daily = ApiError::from_body(403, br#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#).unwrap();
        assert_eq!(daily.errors[0].limit_kind(), Some(LimitKind::Daily));
        assert!(!Error::from(daily).is_retryable());
        let conc = ApiError::from_body(403, br#"[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#).unwrap();
        assert_eq!(conc.errors[0].limit_kind(), Some(LimitKind::Concurrent));
        assert!(Error::from(conc).is_retryable());
    }

    #[test]
    fn hints_for_the_common_codes() {
        let e = Error::from(ApiError::from_body(403, br#"[{"message":"The REST API is not enabled for this Organization.","errorCode":"API_DISABLED_FOR_ORG"}]"#).unwrap());
        assert!(e.hint().unwrap().contains("API Enabled"));
        assert!(e.to_string().contains("API Enabled"));
        let o = OAuthError::from_body(
            400,
            br#"{"error":"invalid_grant","error_description":"expired access/refresh token"}"#,
        )
        .unwrap();
        assert!(o.hint().contains("revoked"));
        let o = OAuthError::from_body(400, br#"{"error":"invalid_grant","error_description":"request not supported on this domain"}"#).unwrap();
        assert!(o.hint().contains("My Domain"));
        let o = OAuthError::from_body(400, br#"{"error":"something_new"}"#).unwrap();
        assert_eq!(o.error, OAuthErrorCode::Other("something_new".into()));
        for code in [
            "INVALID_FIELD",
            "MALFORMED_QUERY",
            "REQUIRED_FIELD_MISSING",
            "DUPLICATE_VALUE",
            "DUPLICATES_DETECTED",
            "ENTITY_IS_DELETED",
            "NOT_FOUND",
            "UNABLE_TO_LOCK_ROW",
            "SERVER_UNAVAILABLE",
            "INVALID_SESSION_ID",
        ] {
            let c = ErrorCode::parse(code);
            assert_eq!(c.as_str(), code);
            assert!(c.hint().is_some(), "{code}");
        }
    }
}
