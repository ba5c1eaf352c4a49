//! Webhooks: the subscription handshake, the `X-Hub-Signature-256` check and a
//! typed, forward-compatible model of the POST body. No web framework needed
//! (an axum router is behind the `axum` feature), and no HTTP client: this module
//! compiles with `default-features = false`.
//!
//! # Receiving a webhook
//!
//! ```
//! use secrecy::SecretString;
//! use whatsapp_cloud::webhooks::{Event, MessageContent, WebhookConfig};
//!
//! # fn main() -> Result<(), whatsapp_cloud::webhooks::WebhookError> {
//! let config = WebhookConfig::new(&SecretString::from("app-secret"));
//!
//! // The raw body bytes, exactly as received, and the signature header.
//! let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"111"},"contacts":[{"profile":{"name":"Ana"},"wa_id":"14155550123"}],"messages":[{"from":"14155550123","id":"wamid.A1","timestamp":"1714000000","type":"text","text":{"body":"my order arrived broken"}}]}}]}]}"#;
//! let header = config.sign(body); // in a real server: the request's header
//!
//! let notification = config.receive(Some(&header), body)?;
//! for event in notification.events() {
//!     if let Event::Message(m) = event {
//!         if let MessageContent::Text { body } = &m.message.content {
//!             assert_eq!(body, "my order arrived broken");
//!             assert_eq!(m.sender_name(), Some("Ana"));
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The signature is checked over the raw bytes before anything is parsed; never
//! re-serialize a body before checking it (the most common cause of signature
//! failures in other SDKs).

use std::fmt;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

mod events;
mod model;

#[cfg(feature = "client")]
pub(crate) use crate::serde_util::describe_serde_error as describe;

#[cfg(feature = "axum")]
pub mod axum;

pub use events::{
    CallEvent, CallStatusEvent, EchoEvent, ErrorEvent, Event, EventContext, InvalidEvent,
    MessageEvent, OtherEvent, PreferenceEvent, StatusEvent, TemplateStatusEvent, UpdateEvent,
};
pub use model::{
    AccountAlert, AccountReviewUpdate, AccountUpdate, AlertInfo, BanInfo, BusinessCapabilityUpdate,
    Call, CallSession, CallStatus, CallsValue, Change, ChangeValue, ContactAddress, ContactEmail,
    ContactName, ContactOrg, ContactPhone, ContactUrl, Conversation, ConversationOrigin,
    Diagnostic, DisableInfo, EchoMessage, EchoesValue, Entry, ErrorData, ErrorDetail, FlowUpdate,
    HistoryChunk, HistoryThread, HistoryValue, InboundLocation, InboundMedia, InboundMessage,
    InteractiveReply, InvalidItem, Known, MessageContent, MessageContext, MessagesValue, Metadata,
    Notification, Order, OrderItem, OtherInfo, PartnerSolutionUpdate, PaymentConfigurationUpdate,
    PhoneNumberNameUpdate, PhoneNumberQualityUpdate, Pricing, Profile, Referral, ReferredProduct,
    RejectionInfo, Restriction, SecurityUpdate, Sender, SharedContact, StateSyncItem,
    StateSyncValue, Status, StatusKind, SyncMetadata, SyncedContact, SystemMessage,
    TemplateButtonUpdate, TemplateCategoryUpdate, TemplateComponentsUpdate, TemplateQualityUpdate,
    TemplateStatusUpdate, UserPreference, UserPreferencesValue, ViolationInfo, WabaInfo,
    WebhookContact, WelcomeMessage,
};

/// The largest body accepted by default: 4 MiB (Meta's batches stay under about 3 MB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The deepest nesting of arrays and objects accepted (Meta's payloads use about 8).
pub const MAX_NESTING_DEPTH: usize = 64;

/// The name of the signature header.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Why a webhook request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// No `X-Hub-Signature-256` header.
    #[error("missing X-Hub-Signature-256 header")]
    MissingSignature,
    /// The header is not `sha256=<64 hex digits>`.
    #[error("malformed X-Hub-Signature-256 header: {0}")]
    MalformedSignature(&'static str),
    /// The signature does not match the body.
    #[error(
        "X-Hub-Signature-256 does not match the body (wrong app secret, or the body was altered or re-serialized before the check)"
    )]
    SignatureMismatch,
    /// The body is larger than the configured limit.
    #[error("webhook body is {size} bytes, over the limit of {limit} bytes")]
    BodyTooLarge {
        /// The body size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The body nests arrays and objects more deeply than [`MAX_NESTING_DEPTH`].
    #[error("webhook body is nested too deeply")]
    TooDeep,
    /// The body is not a webhook notification (not JSON, truncated, wrong shape).
    #[error("webhook body is not a valid notification: {problem}")]
    InvalidBody {
        /// What was wrong, without quoting data.
        problem: String,
    },
    /// A handshake parameter is missing.
    #[error("subscription handshake: missing {0}")]
    HandshakeMissing(&'static str),
    /// `hub.mode` is not `subscribe`.
    #[error("subscription handshake: hub.mode is not `subscribe`")]
    HandshakeMode,
    /// `hub.verify_token` does not match.
    #[error("subscription handshake: hub.verify_token does not match")]
    HandshakeToken,
    /// The body did not arrive within the body deadline (a slow or stalled client).
    #[error("the webhook body did not arrive within {0:?}")]
    BodyTimeout(std::time::Duration),
}

impl WebhookError {
    /// The HTTP status a server should answer with: 401 for signature problems,
    /// 413 for an oversized body, 400 for a malformed body, 403 for a refused handshake.
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookError::MissingSignature
            | WebhookError::MalformedSignature(_)
            | WebhookError::SignatureMismatch => 401,
            WebhookError::BodyTooLarge { .. } => 413,
            WebhookError::TooDeep | WebhookError::InvalidBody { .. } => 400,
            WebhookError::HandshakeMissing(_)
            | WebhookError::HandshakeMode
            | WebhookError::HandshakeToken => 403,
            WebhookError::BodyTimeout(_) => 408,
        }
    }
}

/// Checks `X-Hub-Signature-256` with a precomputed HMAC key. Cheap to clone.
#[derive(Clone)]
pub struct SignatureVerifier {
    mac: Hmac<Sha256>,
}

impl SignatureVerifier {
    /// A verifier for the app secret (App Settings > Basic; not the access token).
    pub fn new(app_secret: &SecretString) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(app_secret.expose_secret().as_bytes())
            .unwrap_or_else(|_| unreachable_hmac());
        Self { mac }
    }

    /// Checks the header against the raw body bytes, in constant time.
    pub fn verify(&self, header: Option<&str>, body: &[u8]) -> Result<(), WebhookError> {
        let header = header.ok_or(WebhookError::MissingSignature)?.trim();
        if header.is_empty() {
            return Err(WebhookError::MissingSignature);
        }
        let hex_digest = header
            .strip_prefix("sha256=")
            .ok_or(WebhookError::MalformedSignature(
                "expected the prefix `sha256=`",
            ))?;
        if hex_digest.len() != 64 {
            return Err(WebhookError::MalformedSignature(
                "expected 64 hex digits after `sha256=`",
            ));
        }
        let mut expected = [0u8; 32];
        hex::decode_to_slice(hex_digest, &mut expected)
            .map_err(|_| WebhookError::MalformedSignature("the digest is not hexadecimal"))?;
        let mut mac = self.mac.clone();
        mac.update(body);
        mac.verify_slice(&expected)
            .map_err(|_| WebhookError::SignatureMismatch)
    }

    /// The header value Meta would send for this body (`sha256=<hex>`), for tests
    /// and for re-signing payloads forwarded between your own services.
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }
}

#[cold]
fn unreachable_hmac() -> Hmac<Sha256> {
    // HMAC takes keys of any length, so `new_from_slice` never fails; this
    // infallible constructor exists only so that no panic path is compiled in.
    <Hmac<Sha256> as hmac::digest::KeyInit>::new(&Default::default())
}

impl fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignatureVerifier { app_secret: [redacted] }")
    }
}

/// Checks a signature header against a body with the app secret, in constant time.
///
/// ```
/// use secrecy::SecretString;
/// use whatsapp_cloud::webhooks::{verify_signature, SignatureVerifier, WebhookError};
///
/// let secret = SecretString::from("app-secret");
/// let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
/// let header = SignatureVerifier::new(&secret).sign(body);
/// assert!(verify_signature(&secret, Some(&header), body).is_ok());
/// assert_eq!(
///     verify_signature(&secret, Some(&header), b"{}"),
///     Err(WebhookError::SignatureMismatch)
/// );
/// assert_eq!(verify_signature(&secret, None, body), Err(WebhookError::MissingSignature));
/// ```
pub fn verify_signature(
    app_secret: &SecretString,
    header: Option<&str>,
    body: &[u8],
) -> Result<(), WebhookError> {
    SignatureVerifier::new(app_secret).verify(header, body)
}

/// Parses a webhook body **without checking its signature**, with the default
/// size limit. Use [`WebhookConfig::receive`] on a public endpoint; this is for
/// bodies that were verified elsewhere, and for tests.
pub fn parse_unverified(body: &[u8]) -> Result<Notification, WebhookError> {
    parse_with_limit(body, DEFAULT_MAX_BODY_BYTES)
}

/// Parses a webhook body without checking its signature, refusing bodies over
/// `max_bytes` and nesting deeper than [`MAX_NESTING_DEPTH`].
pub fn parse_with_limit(body: &[u8], max_bytes: usize) -> Result<Notification, WebhookError> {
    if body.len() > max_bytes {
        return Err(WebhookError::BodyTooLarge {
            size: body.len(),
            limit: max_bytes,
        });
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(WebhookError::InvalidBody {
            problem: "expected a JSON object".into(),
        });
    }
    if nesting_exceeds(body, MAX_NESTING_DEPTH) {
        return Err(WebhookError::TooDeep);
    }
    model::parse_notification(body).map_err(|e| {
        if e.to_string().contains("recursion limit") {
            WebhookError::TooDeep
        } else {
            WebhookError::InvalidBody {
                problem: crate::serde_util::describe_serde_error(&e),
            }
        }
    })
}

/// Whether arrays and objects nest deeper than `max`, strings skipped. One pass,
/// no allocation; the text inside strings (most of a webhook) is skipped with
/// a vectorized search for the closing quote. Malformed JSON is left to the parser.
fn nesting_exceeds(body: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0usize;
    while let Some(&b) = body.get(i) {
        match b {
            b'"' => {
                i += 1;
                loop {
                    let Some(rest) = body.get(i..) else {
                        return false;
                    };
                    match memchr::memchr2(b'"', b'\\', rest) {
                        None => return false,
                        Some(j) if rest.get(j) == Some(&b'\\') => i += j + 2,
                        Some(j) => {
                            i += j + 1;
                            break;
                        }
                    }
                }
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

/// The query parameters of Meta's subscription handshake
/// (`GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...`).
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriptionQuery {
    /// `hub.mode`.
    pub mode: Option<String>,
    /// `hub.verify_token`.
    pub verify_token: Option<String>,
    /// `hub.challenge`.
    pub challenge: Option<String>,
}

impl SubscriptionQuery {
    /// Reads the parameters from a raw query string (percent-decoded). Keys with
    /// dots or underscores (`hub_mode`, as some frameworks rewrite them) are both accepted.
    pub fn from_query(query: &str) -> Self {
        Self::from_pairs(url::form_urlencoded::parse(query.as_bytes()))
    }

    /// Reads the parameters from decoded key/value pairs.
    pub fn from_pairs<K, V, I>(pairs: I) -> Self
    where
        K: AsRef<str>,
        V: AsRef<str>,
        I: IntoIterator<Item = (K, V)>,
    {
        let mut q = SubscriptionQuery::default();
        for (k, v) in pairs {
            let v = Some(v.as_ref().to_owned());
            match k.as_ref() {
                "hub.mode" | "hub_mode" => q.mode = v,
                "hub.verify_token" | "hub_verify_token" => q.verify_token = v,
                "hub.challenge" | "hub_challenge" => q.challenge = v,
                _ => {}
            }
        }
        q
    }
}

impl fmt::Debug for SubscriptionQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionQuery")
            .field("mode", &self.mode)
            .field(
                "verify_token",
                &self.verify_token.as_ref().map(|_| "[redacted]"),
            )
            .field("challenge", &self.challenge)
            .finish()
    }
}

/// Answers Meta's subscription handshake: checks `hub.mode` and, in constant
/// time, `hub.verify_token`, and returns `hub.challenge` to echo as the
/// plain-text body of a 200 answer.
///
/// ```
/// use secrecy::SecretString;
/// use whatsapp_cloud::webhooks::{verify_subscription, SubscriptionQuery, WebhookError};
///
/// let token = SecretString::from("my-verify-token");
/// let q = SubscriptionQuery::from_query("hub.mode=subscribe&hub.verify_token=my-verify-token&hub.challenge=1158201444");
/// assert_eq!(verify_subscription(&q, &token).unwrap(), "1158201444");
///
/// let q = SubscriptionQuery::from_query("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1");
/// assert_eq!(verify_subscription(&q, &token), Err(WebhookError::HandshakeToken));
/// ```
pub fn verify_subscription(
    query: &SubscriptionQuery,
    verify_token: &SecretString,
) -> Result<String, WebhookError> {
    let mode = query
        .mode
        .as_deref()
        .ok_or(WebhookError::HandshakeMissing("hub.mode"))?;
    let token = query
        .verify_token
        .as_deref()
        .ok_or(WebhookError::HandshakeMissing("hub.verify_token"))?;
    let challenge = query
        .challenge
        .as_deref()
        .ok_or(WebhookError::HandshakeMissing("hub.challenge"))?;
    if mode != "subscribe" {
        return Err(WebhookError::HandshakeMode);
    }
    let matches: bool = token
        .as_bytes()
        .ct_eq(verify_token.expose_secret().as_bytes())
        .into();
    if !matches {
        return Err(WebhookError::HandshakeToken);
    }
    Ok(challenge.to_owned())
}

/// Everything a webhook endpoint needs: the app secret, the verify token and the
/// body limit. Cheap to clone.
#[derive(Clone)]
pub struct WebhookConfig {
    verifier: SignatureVerifier,
    verify_token: Option<SecretString>,
    max_body_bytes: usize,
    body_timeout: std::time::Duration,
}

impl WebhookConfig {
    /// A configuration that checks signatures with the app secret.
    pub fn new(app_secret: &SecretString) -> Self {
        Self {
            verifier: SignatureVerifier::new(app_secret),
            verify_token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            body_timeout: std::time::Duration::from_secs(30),
        }
    }

    /// Sets the verify token for the subscription handshake.
    pub fn verify_token(mut self, token: SecretString) -> Self {
        self.verify_token = Some(token);
        self
    }

    /// Sets the largest body accepted (default [`DEFAULT_MAX_BODY_BYTES`]).
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// The body limit.
    pub fn body_limit(&self) -> usize {
        self.max_body_bytes
    }

    /// How long the whole body may take to arrive (default 30 s): a client
    /// trickling bytes gets 408 instead of holding a connection forever.
    pub fn body_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// The body deadline.
    pub fn body_deadline(&self) -> std::time::Duration {
        self.body_timeout
    }

    /// Answers the subscription handshake; see [`verify_subscription`]. Refused
    /// when no verify token was configured.
    pub fn handshake(&self, query: &SubscriptionQuery) -> Result<String, WebhookError> {
        let token = self
            .verify_token
            .as_ref()
            .ok_or(WebhookError::HandshakeToken)?;
        verify_subscription(query, token)
    }

    /// Checks the size and the signature of a POST body, then parses it.
    pub fn receive(
        &self,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<Notification, WebhookError> {
        if body.len() > self.max_body_bytes {
            return Err(WebhookError::BodyTooLarge {
                size: body.len(),
                limit: self.max_body_bytes,
            });
        }
        self.verifier.verify(signature, body)?;
        parse_with_limit(body, self.max_body_bytes)
    }

    /// The signature header for a body, as Meta would compute it.
    pub fn sign(&self, body: &[u8]) -> String {
        self.verifier.sign(body)
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("app_secret", &"[redacted]")
            .field(
                "verify_token",
                &self.verify_token.as_ref().map(|_| "[redacted]"),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod nesting_tests {
    use super::nesting_exceeds;

    #[test]
    fn brackets_in_strings_and_escapes_do_not_count() {
        // An escaped quote and an escaped backslash inside strings.
        let escaped = br#"{"a":"[[[[[[","b":"x\"[[[[\\"}"#;
        assert!(serde_json::from_slice::<serde_json::Value>(escaped).is_ok());
        assert!(!nesting_exceeds(escaped, 2));
        assert!(nesting_exceeds(br#"{"a":[[1]]}"#, 2));
        assert!(!nesting_exceeds(br#"{"a":[[1]]}"#, 3));
        assert!(!nesting_exceeds(br#"{"unterminated":"[[[["#, 1));
        let backslash_then_array = br#"{"e":"\\","x":[[[]]]}"#;
        assert!(serde_json::from_slice::<serde_json::Value>(backslash_then_array).is_ok());
        assert!(nesting_exceeds(backslash_then_array, 3));
    }
}
