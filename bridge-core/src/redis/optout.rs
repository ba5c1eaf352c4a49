//! The Redis backend of [`crate::optout`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::BridgeError;
use crate::redis::RedisConnection;

use crate::optout::*;
use crate::redis::store_err;

/// Opt-outs in Redis (feature `redis`): one hash, customer → record.
#[derive(Clone)]
pub struct RedisOptOutStore {
    conn: RedisConnection,
    key: String,
}

impl std::fmt::Debug for RedisOptOutStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptOutStore")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl RedisOptOutStore {
    /// Connects; the records live in the hash `<prefix>optouts`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, BridgeError> {
        Ok(Self {
            conn: crate::redis::connect(url).await?,
            key: format!("{prefix}optouts"),
        })
    }
}

#[async_trait]
impl OptOutStore for RedisOptOutStore {
    async fn opt_out(
        &self,
        customer: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), BridgeError> {
        let record = serde_json::to_string(&OptOut::new(at, reason))
            .map_err(|e| BridgeError::store("cannot encode the opt-out", e))?;
        let mut c = self.conn.clone();
        let _: i64 = redis::cmd("HSETNX")
            .arg(&self.key)
            .arg(customer_key(customer))
            .arg(record)
            .query_async(&mut c)
            .await
            .map_err(store_err)?;
        Ok(())
    }
    async fn opt_in(&self, customer: &str, _at: DateTime<Utc>) -> Result<(), BridgeError> {
        let mut c = self.conn.clone();
        let key = customer_key(customer);
        let _: i64 = redis::cmd("HDEL")
            .arg(&self.key)
            .arg(crate::optout::opt_out_hash(&key))
            .arg(key)
            .query_async(&mut c)
            .await
            .map_err(store_err)?;
        Ok(())
    }
    async fn get(&self, customer: &str) -> Result<Option<OptOut>, BridgeError> {
        let mut c = self.conn.clone();
        let key = customer_key(customer);
        // An erased customer's opt-out is kept under the number's hash.
        let raw: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(&self.key)
            .arg(crate::optout::opt_out_hash(&key))
            .arg(key)
            .query_async(&mut c)
            .await
            .map_err(store_err)?;
        Ok(raw
            .into_iter()
            .flatten()
            .find_map(|r| serde_json::from_str(&r).ok()))
    }
}
