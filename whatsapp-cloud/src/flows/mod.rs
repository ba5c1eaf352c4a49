//! WhatsApp Flows: management (create, update the JSON, publish, deprecate,
//! delete, preview, list, metrics, the business public key) with
//! [`Client::flows`](crate::Client::flows) (feature `client`), and the
//! data-exchange endpoint (feature `flows`).
//!
//! # The data-exchange endpoint
//!
//! WhatsApp posts `{encrypted_flow_data, encrypted_aes_key, initial_vector}`.
//! The AES-128 key is unwrapped with the business's RSA private key
//! (RSA-OAEP, SHA-256); the body is AES-128-GCM with the 16-byte IV, tag at
//! the end. The answer is encrypted with the same key and the IV with every
//! bit flipped, and sent base64 as plain text. A request that cannot be
//! decrypted is answered [`DECRYPTION_FAILED`] (421), which makes WhatsApp
//! download the public key again; a wrong signature [`SIGNATURE_MISMATCH`]
//! (432). The crypto is RustCrypto's (`rsa`, `aes-gcm`); nothing here is
//! hand-written.
//!
//! [`handle`] is the framework-free core: bytes in, status and body out.
//!
//! ```no_run
//! # async fn demo(pem: secrecy::SecretString, body: Vec<u8>) {
//! use serde_json::json;
//! use whatsapp_cloud::flows::{self, FlowAction, FlowsKey};
//!
//! let key = FlowsKey::from_pem(&pem).expect("a PKCS#8 or PKCS#1 private key");
//! let answer = flows::handle(&key, None, None, &body, |req| async move {
//!     Ok(match req.action {
//!         FlowAction::Init => json!({ "screen": "PICK_DATE", "data": {} }),
//!         _ => json!({ "screen": "SUCCESS", "data": {} }),
//!     })
//! })
//! .await;
//! // Send `answer.body` with `answer.status` and content type text/plain.
//! # let _ = answer;
//! # }
//! ```
mod manage;
pub use manage::*;

#[cfg(feature = "flows")]
mod endpoint;
#[cfg(feature = "flows")]
pub use endpoint::*;
