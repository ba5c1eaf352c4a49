//! The behaviour every [`TokenStore`] must have. Run it against your own store
//! in your tests, on an **empty** store:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::sync::Arc;
//! use salesforce_rest::auth::{ManualClock, MemoryTokenStore, store_conformance};
//! store_conformance::run(Arc::new(MemoryTokenStore::new()), &ManualClock::at_millis(1_767_225_600_000)).await;
//! # }
//! ```

#![allow(clippy::panic)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{StoredToken, TokenStore};
use crate::auth::{Clock, ManualClock};

fn token(now: DateTime<Utc>, version: u64, refresh: &str) -> StoredToken {
    StoredToken {
        version,
        access_token: Some(SecretString::from(format!("00Dxx!access-{version}"))),
        instance_url: Some("https://acme.my.salesforce.com".into()),
        refresh_token: Some(SecretString::from(refresh.to_owned())),
        issued_at: Some(now),
        refresh_lease_until: Some(now + chrono::Duration::seconds(30)),
        received_at: Some(now + chrono::Duration::seconds(1)),
        issuer: Some("v1:3f2a".into()),
        org_id: Some("00D000000000001EAA".into()),
    }
}

/// Runs the suite; panics with a message naming the broken rule.
///
/// The same signature as every conformance suite of the workspace: the
/// store behind an `Arc`, and the `ManualClock` the suite reads (the
/// tokens' times come from it).
///
/// # Panics
///
/// When the store breaks the compare-and-swap contract.
pub async fn run<S: TokenStore + ?Sized>(store: Arc<S>, clock: &ManualClock) {
    let now = clock.now();
    let loaded = store
        .load()
        .await
        .unwrap_or_else(|e| panic!("load failed: {e}"));
    assert!(loaded.is_none(), "the suite needs an empty store");
    assert!(
        !store
            .compare_and_swap(Some(0), token(now, 1, "r1"))
            .await
            .unwrap_or(true),
        "a swap expecting a version must fail on an empty store"
    );
    assert!(
        store
            .compare_and_swap(None, token(now, 1, "r1"))
            .await
            .unwrap_or(false),
        "the first swap expecting nothing must succeed"
    );
    assert!(
        !store
            .compare_and_swap(None, token(now, 1, "r1b"))
            .await
            .unwrap_or(true),
        "a second swap expecting nothing must fail"
    );
    let t = store
        .load()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("written record must load"));
    assert_eq!(t.version, 1);
    assert_eq!(
        t.refresh_token
            .as_ref()
            .map(|s| s.expose_secret().to_owned())
            .as_deref(),
        Some("r1"),
        "the refresh token must round-trip"
    );
    assert_eq!(
        t.access_token
            .as_ref()
            .map(|s| s.expose_secret().to_owned())
            .as_deref(),
        Some("00Dxx!access-1")
    );
    assert_eq!(
        t.instance_url.as_deref(),
        Some("https://acme.my.salesforce.com")
    );
    assert_eq!(
        t.issued_at,
        token(now, 1, "").issued_at,
        "issued_at must round-trip"
    );
    assert_eq!(
        t.refresh_lease_until,
        token(now, 1, "").refresh_lease_until,
        "the lease must round-trip"
    );
    assert_eq!(
        (t.issuer.as_deref(), t.org_id.as_deref()),
        (Some("v1:3f2a"), Some("00D000000000001EAA")),
        "what the tokens were issued for (issuer, org id) must round-trip"
    );
    assert!(
        !store
            .compare_and_swap(Some(7), token(now, 8, "r8"))
            .await
            .unwrap_or(true),
        "a swap expecting another version must fail"
    );
    // Many concurrent swaps from version 1: exactly one wins.
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let s = store.clone();
            tokio::spawn(async move {
                s.compare_and_swap(Some(1), token(now, 2, &format!("r2-{i}")))
                    .await
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        if matches!(t.await, Ok(Ok(true))) {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one concurrent swap must win");
    assert_eq!(
        store.load().await.ok().flatten().map(|t| t.version),
        Some(2)
    );
}
