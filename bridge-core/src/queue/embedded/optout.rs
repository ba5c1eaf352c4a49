//! The opt-out registry of the embedded store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{ReadableTable, TableDefinition};

use super::EmbeddedStore;
use crate::error::BridgeError;
use crate::optout::{OptOut, OptOutStore, customer_key};

const OPT_OUTS: TableDefinition<'static, &'static str, &'static [u8]> =
    TableDefinition::new("optouts");

/// The opt-out registry of an [`EmbeddedStore`]: durable across restarts.
#[derive(Debug, Clone)]
pub struct EmbeddedOptOutStore {
    store: EmbeddedStore,
}

impl EmbeddedOptOutStore {
    pub(super) fn new(store: EmbeddedStore) -> Self {
        Self { store }
    }
}

#[async_trait]
impl OptOutStore for EmbeddedOptOutStore {
    async fn opt_out(
        &self,
        customer: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), BridgeError> {
        let key = customer_key(customer);
        let record = serde_json::to_vec(&OptOut::new(at, reason))
            .map_err(|e| BridgeError::store("cannot encode the opt-out", e))?;
        self.store
            .write(move |txn| {
                let mut t = txn.open_table(OPT_OUTS)?;
                if t.get(key.as_str())?.is_none() {
                    t.insert(key.as_str(), record.as_slice())?;
                }
                Ok(Ok(()))
            })
            .await
            .map_err(BridgeError::Queue)
    }

    async fn opt_in(&self, customer: &str, _at: DateTime<Utc>) -> Result<(), BridgeError> {
        let key = customer_key(customer);
        self.store
            .write(move |txn| {
                txn.open_table(OPT_OUTS)?.remove(key.as_str())?;
                Ok(Ok(()))
            })
            .await
            .map_err(BridgeError::Queue)
    }

    async fn get(&self, customer: &str) -> Result<Option<OptOut>, BridgeError> {
        let key = customer_key(customer);
        self.store
            .read(move |txn| {
                let t = match txn.open_table(OPT_OUTS) {
                    Ok(t) => t,
                    Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                Ok(t.get(key.as_str())?
                    .and_then(|v| serde_json::from_slice(v.value()).ok()))
            })
            .await
            .map_err(BridgeError::Queue)
    }
}
