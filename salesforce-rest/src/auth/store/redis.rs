//! A token store in Redis (feature `redis`), for many instances.

use crate::redis_conn::RedisConnection;
use async_trait::async_trait;

use super::{Persisted, StoredToken, TokenStore};
use crate::error::Error;

const CAS: &str = r"
local v = redis.call('HGET', KEYS[1], 'version')
if (ARGV[1] == '' and not v) or (v == ARGV[1]) then
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'data', ARGV[3])
  return 1
end
return 0";

/// Keeps tokens in one Redis hash (`version`, `data`); the compare-and-swap
/// is one Lua script. Every instance of an app shares the session. The token
/// is in clear in Redis: protect the server (AUTH, TLS, a private network).
#[derive(Clone)]
pub struct RedisTokenStore {
    conn: RedisConnection,
    key: String,
    cas: redis::Script,
}

impl std::fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTokenStore")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

fn store_err(e: &redis::RedisError) -> Error {
    Error::TokenStore(format!("redis: {e}"))
}

impl RedisTokenStore {
    /// Connects (with automatic reconnection) to one node or a cluster
    /// (see [`RedisConnection::connect`] for the URLs); the record lives at
    /// `key` (one key: any slot of a cluster).
    pub async fn connect(url: &str, key: &str) -> Result<Self, Error> {
        let conn = RedisConnection::connect(url)
            .await
            .map_err(|e| Error::TokenStore(e.to_string()))?;
        Ok(Self {
            conn,
            key: key.to_owned(),
            cas: redis::Script::new(CAS),
        })
    }
}

#[async_trait]
impl TokenStore for RedisTokenStore {
    async fn load(&self) -> Result<Option<StoredToken>, Error> {
        let mut conn = self.conn.clone();
        let data: Option<String> = redis::cmd("HGET")
            .arg(&self.key)
            .arg("data")
            .query_async(&mut conn)
            .await
            .map_err(|e| store_err(&e))?;
        data.map(|d| {
            serde_json::from_str::<Persisted>(&d)
                .map(Persisted::into_token)
                .map_err(|e| {
                    Error::TokenStore(format!("redis key {} is not a token record: {e}", self.key))
                })
        })
        .transpose()
    }

    async fn compare_and_swap(
        &self,
        expected: Option<u64>,
        new: StoredToken,
    ) -> Result<bool, Error> {
        let mut conn = self.conn.clone();
        let body = serde_json::to_string(&Persisted::from_token(&new))
            .map_err(|e| Error::TokenStore(e.to_string()))?;
        let done: i64 = self
            .cas
            .key(&self.key)
            .arg(expected.map(|v| v.to_string()).unwrap_or_default())
            .arg(new.version)
            .arg(body)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| store_err(&e))?;
        Ok(done == 1)
    }
}
