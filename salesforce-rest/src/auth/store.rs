//! Token storage: a trait apps implement to persist tokens (and rotated refresh
//! tokens) across restarts and instances, with an in-memory default.

use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::error::Error;

/// What a [`TokenStore`] keeps: the latest tokens, a version that grows with
/// every write, and an optional refresh lease.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct StoredToken {
    /// Grows by one with every successful compare-and-swap.
    pub version: u64,
    /// The latest access token.
    pub access_token: Option<SecretString>,
    /// The instance URL that goes with it.
    pub instance_url: Option<String>,
    /// The latest refresh token (rotated ones replace the old).
    pub refresh_token: Option<SecretString>,
    /// When the access token was issued.
    pub issued_at: Option<DateTime<Utc>>,
    /// While set and in the future, one instance is refreshing: the others wait
    /// for its result instead of spending the same refresh token.
    pub refresh_lease_until: Option<DateTime<Utc>>,
}

impl StoredToken {
    /// A record holding only a refresh token (to seed a store).
    pub fn with_refresh_token(refresh_token: SecretString) -> Self {
        Self {
            refresh_token: Some(refresh_token),
            ..Self::default()
        }
    }

    /// Whether another instance holds a live refresh lease at `now`.
    pub fn lease_active(&self, now: DateTime<Utc>) -> bool {
        self.refresh_lease_until.is_some_and(|t| t > now)
    }
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("version", &self.version)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field("instance_url", &self.instance_url)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("issued_at", &self.issued_at)
            .field("refresh_lease_until", &self.refresh_lease_until)
            .finish()
    }
}

/// Where tokens live. Implement it over your database, Redis or secret manager
/// so that rotated refresh tokens survive restarts and instances share one
/// session.
///
/// The contract is a compare-and-swap on `version`: `compare_and_swap(expected,
/// new)` writes `new` only if the stored version is `expected` (`None`: nothing
/// stored yet) and reports whether it did. The session uses it twice per
/// refresh: once to take a short lease (so that only one instance spends the
/// refresh token), once to save the new tokens **before** using them.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// The stored record, if any.
    async fn load(&self) -> Result<Option<StoredToken>, Error>;

    /// Writes `new` if the stored version is `expected`; returns whether it did.
    async fn compare_and_swap(
        &self,
        expected: Option<u64>,
        new: StoredToken,
    ) -> Result<bool, Error>;
}

/// The in-memory default store (one process).
#[derive(Default)]
pub struct MemoryTokenStore {
    slot: Mutex<Option<StoredToken>>,
}

impl fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTokenStore").finish_non_exhaustive()
    }
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store seeded with a record.
    pub fn with(token: StoredToken) -> Self {
        Self {
            slot: Mutex::new(Some(token)),
        }
    }
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self) -> Result<Option<StoredToken>, Error> {
        Ok(self
            .slot
            .lock()
            .map_err(|_| Error::TokenStore("poisoned lock".into()))?
            .clone())
    }

    async fn compare_and_swap(
        &self,
        expected: Option<u64>,
        new: StoredToken,
    ) -> Result<bool, Error> {
        let mut slot = self
            .slot
            .lock()
            .map_err(|_| Error::TokenStore("poisoned lock".into()))?;
        if slot.as_ref().map(|t| t.version) != expected {
            return Ok(false);
        }
        *slot = Some(new);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn compare_and_swap_on_version() {
        let s = MemoryTokenStore::new();
        assert!(s.load().await.unwrap().is_none());
        let t = StoredToken {
            version: 1,
            ..StoredToken::default()
        };
        assert!(!s.compare_and_swap(Some(0), t.clone()).await.unwrap());
        assert!(s.compare_and_swap(None, t.clone()).await.unwrap());
        assert!(!s.compare_and_swap(None, t.clone()).await.unwrap());
        let t2 = StoredToken {
            version: 2,
            ..StoredToken::default()
        };
        assert!(s.compare_and_swap(Some(1), t2).await.unwrap());
        assert_eq!(s.load().await.unwrap().unwrap().version, 2);
    }

    #[test]
    fn debug_hides_tokens() {
        let t = StoredToken {
            access_token: Some(SecretString::from("00D!secret-access")),
            refresh_token: Some(SecretString::from("5Aep-secret-refresh")),
            ..StoredToken::default()
        };
        let d = format!("{t:?}");
        assert!(
            !d.contains("secret-access") && !d.contains("secret-refresh"),
            "{d}"
        );
    }
}
