//! Integration tests of whatsapp-cloud: one binary, modules by area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod builders;
mod client;
#[cfg(feature = "flows")]
mod flows;
mod manage;
mod media;
mod template_check;
mod webhook_fields;
#[cfg(feature = "axum")]
mod webhook_router;
mod webhooks;
