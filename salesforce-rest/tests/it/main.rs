//! Integration tests of salesforce-rest against the mock org and raw wiremock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod auth;
mod bulk;
mod composite;
mod errors;
#[cfg(feature = "pubsub")]
mod pubsub;
#[cfg(feature = "pubsub")]
mod pubsub_faults;
mod refresh;
mod rest;
