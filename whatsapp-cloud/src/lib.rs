#![doc = include_str!("../README.md")]
//!
//! # In this crate
//!
//! - [`messages`]: typed builders for every message kind (text, media, location,
//!   contacts, reactions, reply buttons, lists, CTA URL, location request, Flows,
//!   templates with every parameter type), checked against the documented limits
//!   before anything is sent.
//! - [`Client`] (feature `client`, on by default): sending, marking as read with
//!   a typing indicator, [media](Client::media), [templates](Client::templates),
//!   [phone numbers, profile and subscriptions](Client::account); safe retries
//!   and optional [pacing](Pacing).
//! - [`webhooks`]: the subscription handshake, the `X-Hub-Signature-256` check
//!   over the raw bytes, and a typed model in which unknown message types,
//!   statuses and fields keep their raw JSON instead of failing the batch.
//! - [`Error`]: one error type; Graph errors become [`ApiError`] with an open
//!   [`ErrorCode`], a [`ErrorClass`] and [`Error::is_retryable`].
//! - [`testkit`] (feature `testkit`): a mock Graph API and signed-webhook helpers.
//!
//! # Example: answer a customer
//!
//! ```
//! # #[cfg(feature = "testkit")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use secrecy::SecretString;
//! use whatsapp_cloud::messages::{Interactive, Message, ReplyButton};
//! use whatsapp_cloud::webhooks::{Event, WebhookConfig};
//! use whatsapp_cloud::Client;
//! # let graph = whatsapp_cloud::testkit::MockGraph::start().await;
//! # let (body, signature) = whatsapp_cloud::testkit::signed_webhook(
//! #     &whatsapp_cloud::testkit::payloads::text_message("14155550123", "Ana", "wamid.A1", "Is my order late?"),
//! #     "app-secret",
//! # );
//!
//! let webhooks = WebhookConfig::new(&SecretString::from("app-secret"));
//! let client = Client::builder()
//!     .access_token(SecretString::from("EAAG..."))
//!     .phone_number_id("1234567890")
//!     # .access_token(SecretString::from(whatsapp_cloud::testkit::MOCK_TOKEN))
//!     # .base_url(graph.uri())
//!     .build()?;
//!
//! // In your HTTP handler: the raw body and the X-Hub-Signature-256 header.
//! let notification = webhooks.receive(Some(&signature), &body)?;
//! for event in notification.events() {
//!     let Event::Message(m) = event else { continue };
//!     let Some(from) = m.sender_wa_id() else { continue };
//!     client.mark_read_with_typing(&m.message.id).await?;
//!     let question = Interactive::buttons(
//!         "Want us to call you about it?",
//!         vec![ReplyButton::new("call", "Yes, call me"), ReplyButton::new("no", "No thanks")],
//!     );
//!     client.send(Message::new(from, question).reply_to(&m.message.id)).await?;
//! }
//! # assert_eq!(graph.message_requests().await.len(), 1);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "testkit"))]
//! # fn main() {}
//! ```
//!
//! # Retries
//!
//! The Cloud API has no idempotency key: a send that reached Meta and whose answer
//! was lost would be delivered twice if repeated. So a send is retried only when
//! the outcome proves it was not accepted (the connection never opened, HTTP 429,
//! rate-limit codes 4, 80007, 130429, 131056, and the documented
//! "service unavailable" codes). A timeout after the request was written is not
//! retried. Reads and deletes are retried on timeouts and 5xx too. Backoff is
//! exponential with jitter, honours `Retry-After` and is bounded in count and
//! time; see [`retry`].
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod account;
pub mod analytics;
mod code;
pub mod error;
pub mod flows;
pub mod media;
pub mod messages;
pub mod metrics;
pub mod phone;
mod redact;
pub mod retry;
mod serde_util;
mod shared;
pub mod templates;
pub mod webhooks;

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
pub use client::{
    AccountApi, AnalyticsApi, Client, ClientBuilder, DEFAULT_API_VERSION, DEFAULT_BASE_URL,
    FlowsApi, MEDIA_HOST_DOMAINS, MediaApi, Pacing, PhoneApi, SendRequest, TemplatesApi,
};

#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::{
    ApiError, Error, ErrorClass, ErrorCode, MediaError, RateLimit, RetryHint, TemplateMismatch,
    TransportKind, ValidationError,
};
