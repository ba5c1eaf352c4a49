//! The Redis backend of [`crate::customers`].

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::BridgeError;
use crate::redis::RedisConnection;

use crate::customers::*;
use crate::redis::store_err;

/// Customer records in Redis (feature `redis`): one key per customer,
/// `<prefix>customer:{<digits>}`, expiring with the record.
#[derive(Clone)]
pub struct RedisCustomerStore {
    conn: RedisConnection,
    prefix: String,
}

impl std::fmt::Debug for RedisCustomerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCustomerStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisCustomerStore {
    /// Connects; keys start with `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, BridgeError> {
        Ok(Self {
            conn: crate::redis::connect(url).await?,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, customer: &str) -> String {
        format!("{}customer:{{{}}}", self.prefix, customer_key(customer))
    }
}

#[async_trait]
impl CustomerStore for RedisCustomerStore {
    async fn get(
        &self,
        customer: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CustomerRecord>, BridgeError> {
        let mut c = self.conn.clone();
        let raw: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.key(customer))
            .query_async(&mut c)
            .await
            .map_err(store_err)?;
        Ok(raw.and_then(|r| Stored::decode(&r, now)))
    }

    async fn put(
        &self,
        customer: &str,
        record: &CustomerRecord,
        keep: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), BridgeError> {
        let json = Stored::encode(record, keep, now)?;
        let ms = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut c = self.conn.clone();
        let () = redis::cmd("SET")
            .arg(self.key(customer))
            .arg(json)
            .arg("PX")
            .arg(ms)
            .query_async(&mut c)
            .await
            .map_err(store_err)?;
        Ok(())
    }

    async fn remove(&self, customer: &str) -> Result<(), BridgeError> {
        let mut c = self.conn.clone();
        let _: i64 = redis::cmd("DEL")
            .arg(self.key(customer))
            .query_async(&mut c)
            .await
            .map_err(store_err)?;
        Ok(())
    }
}
