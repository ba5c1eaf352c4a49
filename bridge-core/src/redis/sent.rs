//! The Redis backend of [`crate::sent`].

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::BridgeError;
use crate::redis::RedisConnection;
use crate::redis::store_err;
use crate::sent::{SentLog, SentRecord};

/// Sent messages in Redis: one key per message id
/// (`<prefix>sent:{<id>}`), expiring with it; `GETDEL` takes it once.
/// Redis measures the expiry itself (`now` is not used).
#[derive(Clone)]
pub struct RedisSentLog {
    conn: RedisConnection,
    prefix: String,
}

impl std::fmt::Debug for RedisSentLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSentLog")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisSentLog {
    /// Connects; keys under `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, BridgeError> {
        Ok(Self {
            conn: crate::redis::connect(url).await?,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, id: &str) -> String {
        format!("{}sent:{{{id}}}", self.prefix)
    }
}

#[async_trait]
impl SentLog for RedisSentLog {
    async fn remember(
        &self,
        message_id: &str,
        message: &SentRecord,
        keep: Duration,
        _now: DateTime<Utc>,
    ) -> Result<(), BridgeError> {
        let bytes = serde_json::to_vec(message)
            .map_err(|e| BridgeError::store("encoding a sent message", e))?;
        let mut c = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key(message_id))
            .arg(bytes)
            .arg("PX")
            .arg(u64::try_from(keep.as_millis()).unwrap_or(u64::MAX).max(1))
            .query_async::<()>(&mut c)
            .await
            .map_err(store_err)
    }

    async fn take(
        &self,
        message_id: &str,
        _now: DateTime<Utc>,
    ) -> Result<Option<SentRecord>, BridgeError> {
        let mut c = self.conn.clone();
        let bytes: Option<Vec<u8>> = redis::cmd("GETDEL")
            .arg(self.key(message_id))
            .query_async(&mut c)
            .await
            .map_err(store_err)?;
        Ok(bytes.and_then(|b| serde_json::from_slice(&b).ok()))
    }
}
