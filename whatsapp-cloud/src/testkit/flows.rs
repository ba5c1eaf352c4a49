//! WhatsApp's side of the Flows data exchange (features `testkit` and
//! `flows`): seal a request the way the WhatsApp client does, and open the
//! endpoint's answer, to test a Flows endpoint end to end without WhatsApp.
//!
//! ```
//! use serde_json::json;
//! use whatsapp_cloud::flows::{self, FlowsKey};
//! use whatsapp_cloud::testkit::FlowsSimulator;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let key = FlowsKey::generate(1024).unwrap(); // 2048 in production
//! let whatsapp = FlowsSimulator::new(&key.public_key_pem().unwrap()).unwrap();
//! let request = whatsapp
//!     .seal(&json!({"version": "3.0", "action": "INIT", "flow_token": "t-1"}))
//!     .unwrap();
//! let answer = flows::handle(&key, None, None, &request.body, |_| async {
//!     Ok(json!({"screen": "PICK_DATE", "data": {}}))
//! })
//! .await;
//! assert_eq!(request.open(&answer.body).unwrap()["screen"], "PICK_DATE");
//! # }
//! ```

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::U16;
use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::aes::Aes128;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Oaep, RsaPublicKey};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::flows::FlowsError;

type Gcm16 = AesGcm<Aes128, U16>;

/// Seals Flows requests to a business public key, as WhatsApp does.
#[derive(Debug, Clone)]
pub struct FlowsSimulator {
    public: RsaPublicKey,
}

/// A sealed request: the body to post, and the secrets to open the answer.
pub struct SealedRequest {
    /// The JSON envelope to post to the endpoint.
    pub body: Vec<u8>,
    key: [u8; 16],
    iv: [u8; 16],
}

impl std::fmt::Debug for SealedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedRequest")
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl FlowsSimulator {
    /// A simulator for the business public key (SPKI PEM).
    pub fn new(public_key_pem: &str) -> Result<Self, FlowsError> {
        let public = RsaPublicKey::from_public_key_pem(public_key_pem)
            .map_err(|e| FlowsError::Key(format!("not a PEM public key: {e}")))?;
        Ok(Self { public })
    }

    /// Seals a request with a fresh AES-128 key and IV: the body with
    /// AES-128-GCM, the key wrapped with RSA-OAEP (SHA-256).
    pub fn seal(&self, request: &Value) -> Result<SealedRequest, FlowsError> {
        let (mut key, mut iv) = ([0u8; 16], [0u8; 16]);
        OsRng.fill_bytes(&mut key);
        OsRng.fill_bytes(&mut iv);
        let plain = request.to_string();
        let sealed = Gcm16::new_from_slice(&key)
            .map_err(|_| FlowsError::Key("bad AES key length".into()))?
            .encrypt(
                (&iv).into(),
                Payload {
                    msg: plain.as_bytes(),
                    aad: b"",
                },
            )
            .map_err(|_| FlowsError::Key("encryption failed".into()))?;
        let wrapped = self
            .public
            .encrypt(&mut OsRng, Oaep::new::<Sha256>(), &key)
            .map_err(|e| FlowsError::Key(format!("cannot wrap the AES key: {e}")))?;
        let body = json!({
            "encrypted_flow_data": B64.encode(sealed),
            "encrypted_aes_key": B64.encode(wrapped),
            "initial_vector": B64.encode(iv),
        })
        .to_string()
        .into_bytes();
        Ok(SealedRequest { body, key, iv })
    }
}

impl SealedRequest {
    /// Opens the endpoint's answer (base64 of AES-128-GCM with the request's
    /// key and the flipped IV).
    pub fn open(&self, answer: &str) -> Result<Value, FlowsError> {
        let flipped = self.iv.map(|b| !b);
        let sealed = B64
            .decode(answer.trim())
            .map_err(|_| FlowsError::Malformed("the answer is not base64".into()))?;
        let plain = Gcm16::new_from_slice(&self.key)
            .map_err(|_| FlowsError::Key("bad AES key length".into()))?
            .decrypt(
                (&flipped).into(),
                Payload {
                    msg: &sealed,
                    aad: b"",
                },
            )
            .map_err(|_| {
                FlowsError::Decryption("the answer does not open with the request's key")
            })?;
        serde_json::from_slice(&plain)
            .map_err(|e| FlowsError::Malformed(format!("the answer is not JSON: {e}")))
    }
}
