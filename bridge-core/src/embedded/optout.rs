//! The opt-out registry of the embedded store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{ReadableTable, TableDefinition};

use super::EmbeddedStore;
use crate::error::BridgeError;
use crate::optout::{OptOut, OptOutStore, customer_key};

pub(super) const OPT_OUTS: TableDefinition<'static, &'static str, &'static [u8]> =
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
                let mut t = txn.open_table(OPT_OUTS)?;
                t.remove(crate::optout::opt_out_hash(&key).as_str())?;
                t.remove(key.as_str())?;
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
                // An erased customer's opt-out is kept under the number's hash.
                let hashed = crate::optout::opt_out_hash(&key);
                for k in [key.as_str(), hashed.as_str()] {
                    if let Some(v) = t.get(k)?
                        && let Ok(o) = serde_json::from_slice(v.value())
                    {
                        return Ok(Some(o));
                    }
                }
                Ok(None)
            })
            .await
            .map_err(BridgeError::Queue)
    }
}

/// Keeps the customer's opt-out under the hash of their number (still
/// honoured, no longer readable as a number). Returns whether there was one.
pub(super) fn hash_customer(
    txn: &redb::WriteTransaction,
    customer: &crate::erase::Customer,
) -> Result<bool, redb::Error> {
    let mut t = txn.open_table(OPT_OUTS)?;
    let plain = t.remove(customer.digits())?.map(|v| v.value().to_vec());
    match plain {
        Some(record) => {
            t.insert(customer.opt_out_hash().as_str(), record.as_slice())?;
            Ok(true)
        }
        None => Ok(t.get(customer.opt_out_hash().as_str())?.is_some()),
    }
}
