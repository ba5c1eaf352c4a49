//! Token storage: a trait apps implement to persist tokens (and rotated refresh
//! tokens) across restarts and instances, an in-memory default, a file store
//! and a Redis store (feature `redis`), and the [`conformance`] suite every
//! store must pass.

use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::error::Error;

pub mod conformance;
mod file;
#[cfg(feature = "redis")]
mod redis;

pub use file::FileTokenStore;
#[cfg(feature = "redis")]
pub use redis::RedisTokenStore;

/// The on-disk / in-Redis form of a [`StoredToken`] (secrets in clear: protect
/// the file or the key).
#[derive(serde::Serialize, serde::Deserialize)]
struct Persisted {
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issued_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_lease_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    received_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org_id: Option<String>,
}

impl Persisted {
    fn from_token(t: &StoredToken) -> Self {
        use secrecy::ExposeSecret;
        Self {
            version: t.version,
            access_token: t
                .access_token
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
            instance_url: t.instance_url.clone(),
            refresh_token: t
                .refresh_token
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
            issued_at: t.issued_at,
            refresh_lease_until: t.refresh_lease_until,
            received_at: t.received_at,
            issuer: t.issuer.clone(),
            org_id: t.org_id.clone(),
        }
    }

    fn into_token(self) -> StoredToken {
        StoredToken {
            version: self.version,
            access_token: self.access_token.map(SecretString::from),
            instance_url: self.instance_url,
            refresh_token: self.refresh_token.map(SecretString::from),
            issued_at: self.issued_at,
            refresh_lease_until: self.refresh_lease_until,
            received_at: self.received_at,
            issuer: self.issuer,
            org_id: self.org_id,
        }
    }
}

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
    /// When the access token was issued, by the server's clock.
    pub issued_at: Option<DateTime<Utc>>,
    /// When we received it, by our clock: a token's age is measured from
    /// here, so a server clock behind ours cannot make it look expired.
    pub received_at: Option<DateTime<Utc>>,
    /// While set and in the future, one instance is refreshing: the others wait
    /// for its result instead of spending the same refresh token.
    pub refresh_lease_until: Option<DateTime<Utc>>,
    /// What the tokens were issued for: a fingerprint of the login host, the
    /// connected app's client id and the credential (the username, or a hash
    /// of the configured refresh token), from [`Session::issuer`](crate::auth::Session::issuer).
    /// A session never uses a record issued for something else: it logs in
    /// afresh instead. `None` in records written before 0.1.0.
    pub issuer: Option<String>,
    /// The org the tokens belong to (the 18-character id from the identity
    /// URL of the token response), when known.
    pub org_id: Option<String>,
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
            .field("received_at", &self.received_at)
            .field("refresh_lease_until", &self.refresh_lease_until)
            .field("issuer", &self.issuer)
            .field("org_id", &self.org_id)
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
    use std::sync::Arc;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_store_passes_the_suite() {
        conformance::run(
            Arc::new(MemoryTokenStore::new()),
            &crate::auth::ManualClock::new(chrono::Utc::now()),
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        conformance::run(
            Arc::new(FileTokenStore::new(dir.path().join("sub/token.json"))),
            &crate::auth::ManualClock::new(chrono::Utc::now()),
        )
        .await;
    }

    #[cfg(all(feature = "redis", feature = "testkit"))]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_redis_store_passes_the_suite() {
        for url in crate::testkit::redis_urls() {
            let key = format!("wa-sf:test:token:{}:{}", std::process::id(), url.len());
            let s = RedisTokenStore::connect(&url, &key).await.unwrap();
            conformance::run(
                Arc::new(s),
                &crate::auth::ManualClock::new(chrono::Utc::now()),
            )
            .await;
        }
    }

    #[tokio::test]
    async fn the_file_is_private_and_a_broken_one_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.json");
        let s = FileTokenStore::new(&path);
        assert!(
            s.compare_and_swap(
                None,
                StoredToken::with_refresh_token(SecretString::from("5Aep-secret"))
            )
            .await
            .unwrap()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(!format!("{s:?}").contains("5Aep"), "no secret in Debug");
        std::fs::write(&path, b"{not json").unwrap();
        let e = s.load().await.unwrap_err();
        assert!(
            e.to_string().contains("token.json") && !e.to_string().contains("5Aep"),
            "{e}"
        );
    }

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
