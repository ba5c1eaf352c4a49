//! The data-exchange endpoint's encryption and handler (feature `flows`).

use std::fmt;
use std::future::Future;

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes128;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rsa::{Oaep, RsaPrivateKey};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::webhooks::SignatureVerifier;

/// The status that makes WhatsApp refresh the business public key: the
/// request could not be decrypted with the key the endpoint holds.
pub const DECRYPTION_FAILED: u16 = 421;
/// The status for a request whose `X-Hub-Signature-256` does not match.
pub const SIGNATURE_MISMATCH: u16 = 432;
/// The status that tells WhatsApp a flow token is no longer valid: the
/// client closes the Flow and shows the customer that it has ended.
/// A [`FlowsHandler`] asks for it by returning [`InvalidFlowToken`].
pub const FLOW_TOKEN_INVALID: u16 = 427;

/// What a handler returns (boxed, as its error) for a flow token it does
/// not know or no longer honours: the endpoint answers
/// [`FLOW_TOKEN_INVALID`] (427) instead of 500, as Meta documents.
///
/// ```
/// use whatsapp_cloud::flows::InvalidFlowToken;
/// let e: Box<dyn std::error::Error + Send + Sync> = Box::new(InvalidFlowToken);
/// assert!(e.downcast_ref::<InvalidFlowToken>().is_some());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the flow token is no longer valid")]
pub struct InvalidFlowToken;

type Gcm16 = AesGcm<Aes128, U16>;

/// A PEM encrypted the legacy OpenSSL way (`Proc-Type: 4,ENCRYPTED`, what
/// OpenSSL 1.x `genrsa -des3` writes) is refused with the command that
/// converts it, rather than as a wrong passphrase.
fn legacy_encrypted(pem: &str) -> Result<(), FlowsError> {
    if pem.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(FlowsError::Key(
            "the private key is encrypted the legacy OpenSSL way (Proc-Type: 4,ENCRYPTED): convert it to encrypted PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-pkcs8.pem` and use that file".into(),
        ));
    }
    Ok(())
}

/// The business's RSA private key for the Flows endpoint. `Debug` shows
/// nothing of it.
pub struct FlowsKey {
    key: RsaPrivateKey,
}

impl fmt::Debug for FlowsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FlowsKey([redacted])")
    }
}

impl FlowsKey {
    /// A key from PEM: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &SecretString) -> Result<Self, FlowsError> {
        let pem = pem.expose_secret();
        legacy_encrypted(pem)?;
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| {
                FlowsError::Key("the private key is not a PKCS#8 or PKCS#1 RSA key in PEM".into())
            })?;
        Ok(Self { key })
    }

    /// A key from an encrypted PKCS#8 PEM (`BEGIN ENCRYPTED PRIVATE KEY`:
    /// AES or Triple-DES in PBES2, as `openssl genrsa -des3` writes it with
    /// OpenSSL 3) and its passphrase. A legacy OpenSSL-encrypted PEM
    /// (`Proc-Type: 4,ENCRYPTED`) is refused with the command converting it.
    pub fn from_encrypted_pem(
        pem: &SecretString,
        passphrase: &SecretString,
    ) -> Result<Self, FlowsError> {
        legacy_encrypted(pem.expose_secret())?;
        let key = RsaPrivateKey::from_pkcs8_encrypted_pem(
            pem.expose_secret(),
            passphrase.expose_secret().as_bytes(),
        )
        .map_err(|_| {
            FlowsError::Key(
                "the encrypted private key could not be opened (wrong passphrase, or not PKCS#8)"
                    .into(),
            )
        })?;
        Ok(Self { key })
    }

    /// A new random key of `bits` bits (2048 for WhatsApp), from the
    /// operating system's generator: for a first setup (save
    /// [`private_key_pem`](Self::private_key_pem), upload
    /// [`public_key_pem`](Self::public_key_pem)) and for sandboxes.
    pub fn generate(bits: usize) -> Result<Self, FlowsError> {
        let key = RsaPrivateKey::new(&mut aes_gcm::aead::OsRng, bits)
            .map_err(|e| FlowsError::Key(format!("cannot generate a {bits}-bit key: {e}")))?;
        Ok(Self { key })
    }

    /// The private key in PEM (PKCS#8), to store in a secret manager.
    pub fn private_key_pem(&self) -> Result<SecretString, FlowsError> {
        use rsa::pkcs8::EncodePrivateKey;
        let pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| FlowsError::Key(format!("cannot encode the private key: {e}")))?;
        Ok(SecretString::from(pem.as_str().to_owned()))
    }

    /// A key from an existing RSA key (tests, key management systems).
    pub fn from_rsa(key: RsaPrivateKey) -> Self {
        Self { key }
    }

    /// The public key in PEM (SPKI), to upload as the business public key.
    pub fn public_key_pem(&self) -> Result<String, FlowsError> {
        self.key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| FlowsError::Key(format!("cannot encode the public key: {e}")))
    }
}

/// What went wrong with a Flows request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlowsError {
    /// The request could not be decrypted (answer 421: WhatsApp refreshes the key).
    #[error("the Flows request could not be decrypted: {0}")]
    Decryption(&'static str),
    /// The request is not the documented envelope (answer 400).
    #[error("the Flows request is malformed: {0}")]
    Malformed(String),
    /// The signature does not match (answer 432).
    #[error("the Flows request signature does not match")]
    Signature,
    /// The private key is unusable (a configuration error).
    #[error("Flows key: {0}")]
    Key(String),
}

impl FlowsError {
    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            FlowsError::Decryption(_) => DECRYPTION_FAILED,
            FlowsError::Signature => SIGNATURE_MISMATCH,
            FlowsError::Malformed(_) => 400,
            FlowsError::Key(_) => 500,
        }
    }
}

/// The encrypted envelope WhatsApp posts.
#[derive(Debug, Deserialize)]
struct Envelope {
    encrypted_flow_data: String,
    encrypted_aes_key: String,
    initial_vector: String,
}

/// What the Flow asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlowAction {
    /// A health check: answer `{"data": {"status": "active"}}` ([`handle`] does).
    Ping,
    /// The Flow opens: send its first screen.
    Init,
    /// A screen was submitted.
    DataExchange,
    /// The customer went back (when the Flow refreshes on back).
    Back,
    /// An action this crate does not know, as sent.
    Other(String),
}

impl FlowAction {
    fn parse(s: &str) -> Self {
        match s {
            "ping" => FlowAction::Ping,
            "INIT" => FlowAction::Init,
            "data_exchange" => FlowAction::DataExchange,
            "BACK" => FlowAction::Back,
            other => FlowAction::Other(other.to_owned()),
        }
    }
}

/// A decrypted Flows request. `Debug` hides `data` and the flow token (the
/// customer's answers).
#[derive(Clone)]
#[non_exhaustive]
pub struct FlowRequest {
    /// The data API version (`3.0`).
    pub version: Option<String>,
    /// What the Flow asks for.
    pub action: FlowAction,
    /// The current screen.
    pub screen: Option<String>,
    /// The screen's data (the customer's answers), or an error notification
    /// (`{"error": ..., "error_message": ...}`).
    pub data: Value,
    /// The flow token you set when you sent the Flow.
    pub flow_token: Option<String>,
    /// The whole decrypted JSON.
    pub raw: Value,
}

impl fmt::Debug for FlowRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowRequest")
            .field("version", &self.version)
            .field("action", &self.action)
            .field("screen", &self.screen)
            .field("data", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl FlowRequest {
    /// Whether WhatsApp is notifying an error of your previous answer
    /// (`data.error`): acknowledge it ([`handle`] does).
    pub fn is_error_notification(&self) -> bool {
        self.data.get("error").is_some()
    }
}

/// A decrypted request with the key to answer it.
pub struct Decrypted {
    /// The request.
    pub request: FlowRequest,
    key: Zeroizing<[u8; 16]>,
    iv: [u8; 16],
}

impl fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypted")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl Decrypted {
    /// Encrypts an answer: AES-128-GCM with the request's key and the IV with
    /// every bit flipped, base64 (the body to send as text/plain).
    pub fn encrypt(&self, answer: &Value) -> Result<String, FlowsError> {
        let flipped: [u8; 16] = self.iv.map(|b| !b);
        let cipher = Gcm16::new_from_slice(self.key.as_slice())
            .map_err(|_| FlowsError::Key("bad AES key length".into()))?;
        let plain = serde_json::to_vec(answer)
            .map_err(|e| FlowsError::Malformed(format!("the answer does not encode: {e}")))?;
        let sealed = cipher
            .encrypt(
                (&flipped).into(),
                Payload {
                    msg: &plain,
                    aad: b"",
                },
            )
            .map_err(|_| FlowsError::Key("encryption failed".into()))?;
        Ok(B64.encode(sealed))
    }
}

/// Decrypts a Flows request body.
pub fn decrypt(key: &FlowsKey, body: &[u8]) -> Result<Decrypted, FlowsError> {
    let env: Envelope = serde_json::from_slice(body).map_err(|_| {
        FlowsError::Malformed(
            "expected {encrypted_flow_data, encrypted_aes_key, initial_vector}".into(),
        )
    })?;
    let wrapped = B64
        .decode(env.encrypted_aes_key.trim())
        .map_err(|_| FlowsError::Decryption("encrypted_aes_key is not base64"))?;
    // Blinded RSA decryption (a fresh random blinding factor per request):
    // its timing does not depend on the key (RUSTSEC-2023-0071, Marvin).
    let aes_key = Zeroizing::new(
        key.key
            .decrypt_blinded(&mut aes_gcm::aead::OsRng, Oaep::new::<Sha256>(), &wrapped)
            .map_err(|_| {
                FlowsError::Decryption("the AES key does not unwrap with this private key")
            })?,
    );
    let aes_key: [u8; 16] = aes_key
        .as_slice()
        .try_into()
        .map_err(|_| FlowsError::Decryption("the AES key is not 128 bits"))?;
    let aes_key = Zeroizing::new(aes_key);
    let iv: [u8; 16] = B64
        .decode(env.initial_vector.trim())
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or(FlowsError::Decryption(
            "initial_vector is not 16 bytes of base64",
        ))?;
    let sealed = B64
        .decode(env.encrypted_flow_data.trim())
        .map_err(|_| FlowsError::Decryption("encrypted_flow_data is not base64"))?;
    let cipher = Gcm16::new_from_slice(aes_key.as_slice())
        .map_err(|_| FlowsError::Decryption("bad AES key length"))?;
    let plain = Zeroizing::new(
        cipher
            .decrypt(
                (&iv).into(),
                Payload {
                    msg: &sealed,
                    aad: b"",
                },
            )
            .map_err(|_| {
                FlowsError::Decryption("the body does not authenticate (tampered or wrong key)")
            })?,
    );
    let raw: Value = serde_json::from_slice(&plain)
        .map_err(|_| FlowsError::Malformed("the decrypted body is not JSON".into()))?;
    let text = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_owned);
    let request = FlowRequest {
        version: text("version"),
        action: FlowAction::parse(raw.get("action").and_then(Value::as_str).unwrap_or("")),
        screen: text("screen"),
        data: raw.get("data").cloned().unwrap_or(Value::Null),
        flow_token: text("flow_token"),
        raw,
    };
    Ok(Decrypted {
        request,
        key: aes_key,
        iv,
    })
}

/// An answer to send: the status and the (text/plain) body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlowsAnswer {
    /// HTTP status.
    pub status: u16,
    /// The body: the encrypted answer (base64) on 200, a short reason otherwise.
    pub body: String,
}

/// The whole endpoint, framework-free: checks the `X-Hub-Signature-256`
/// header (when a [`SignatureVerifier`] for the app secret is given), decrypts, answers pings
/// and error notifications itself, and encrypts what `app` returns for the
/// other actions. A request that does not decrypt gets 421; a handler that
/// returns [`InvalidFlowToken`] gets 427 (WhatsApp ends the Flow); any other
/// handler error gets 500 (WhatsApp shows the customer a generic error).
pub async fn handle<F, Fut>(
    key: &FlowsKey,
    verifier: Option<&SignatureVerifier>,
    signature: Option<&str>,
    body: &[u8],
    app: F,
) -> FlowsAnswer
where
    F: FnOnce(FlowRequest) -> Fut,
    Fut: Future<Output = Result<Value, Box<dyn std::error::Error + Send + Sync>>>,
{
    let fail = |e: FlowsError| FlowsAnswer {
        status: e.http_status(),
        body: e.to_string(),
    };
    if let Some(verifier) = verifier
        && verifier.verify(signature, body).is_err()
    {
        return fail(FlowsError::Signature);
    }
    let decrypted = match decrypt(key, body) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "a Flows request was refused");
            return fail(e);
        }
    };
    let request = decrypted.request.clone();
    let answer = if request.action == FlowAction::Ping {
        json!({ "data": { "status": "active" } })
    } else if request.is_error_notification() {
        tracing::warn!(screen = ?request.screen, "WhatsApp reported an error in a Flows answer");
        json!({ "data": { "acknowledged": true } })
    } else {
        match app(request).await {
            Ok(a) => a,
            Err(e) if e.downcast_ref::<InvalidFlowToken>().is_some() => {
                tracing::info!("a Flows request with a flow token no longer valid: 427");
                return FlowsAnswer {
                    status: FLOW_TOKEN_INVALID,
                    body: e.to_string(),
                };
            }
            Err(e) => {
                tracing::error!(error = %e, "the Flows handler failed");
                return FlowsAnswer {
                    status: 500,
                    body: "the Flows handler failed".into(),
                };
            }
        }
    };
    match decrypted.encrypt(&answer) {
        Ok(body) => FlowsAnswer { status: 200, body },
        Err(e) => fail(e),
    }
}

/// What the app does with each decrypted Flows request (pings and error
/// notifications are answered before it is called).
#[cfg(feature = "axum")]
#[async_trait::async_trait]
pub trait FlowsHandler: Send + Sync + 'static {
    /// The answer to encrypt: `{"screen": ..., "data": {...}}`.
    async fn handle(
        &self,
        request: FlowRequest,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>>;
}

/// An axum router for the Flows endpoint (feature `axum`): `POST /` with the
/// raw body (at most 1 MiB) and the `X-Hub-Signature-256` header, answered by
/// [`handle`] as `text/plain`.
///
/// ```no_run
/// # fn demo(key: whatsapp_cloud::flows::FlowsKey) {
/// use serde_json::{Value, json};
/// use whatsapp_cloud::flows::{FlowRequest, FlowsHandler, router};
///
/// struct Booking;
/// #[async_trait::async_trait]
/// impl FlowsHandler for Booking {
///     async fn handle(&self, _r: FlowRequest) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
///         Ok(json!({ "screen": "PICK_DATE", "data": {} }))
///     }
/// }
/// let app: axum::Router = axum::Router::new().nest("/flows", router(key, None, Booking));
/// # }
/// ```
#[cfg(feature = "axum")]
pub fn router<H: FlowsHandler>(
    key: FlowsKey,
    verifier: Option<SignatureVerifier>,
    handler: H,
) -> axum::Router {
    use std::sync::Arc;

    use axum::extract::{DefaultBodyLimit, State};
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;

    struct Endpoint<H> {
        key: FlowsKey,
        verifier: Option<SignatureVerifier>,
        handler: H,
    }

    async fn post<H: FlowsHandler>(
        State(e): State<Arc<Endpoint<H>>>,
        headers: HeaderMap,
        body: bytes::Bytes,
    ) -> axum::response::Response {
        let signature = headers
            .get(crate::webhooks::SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok());
        let answer = handle(&e.key, e.verifier.as_ref(), signature, &body, |req| {
            e.handler.handle(req)
        })
        .await;
        let status =
            StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, [(header::CONTENT_TYPE, "text/plain")], answer.body).into_response()
    }

    let state = Arc::new(Endpoint {
        key,
        verifier,
        handler,
    });
    axum::Router::new()
        .route("/", axum::routing::post(post::<H>))
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .with_state(state)
}
