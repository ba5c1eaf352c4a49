//! The customer records of the embedded store.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::TableDefinition;

use super::EmbeddedStore;
use crate::customers::{CustomerRecord, CustomerStore, Stored, customer_key};
use crate::error::BridgeError;

const CUSTOMERS: TableDefinition<'static, &'static str, &'static [u8]> =
    TableDefinition::new("customers");

/// Removes up to `limit` customer records that expired before `now` (or
/// cannot be read).
pub(super) fn prune_expired(
    txn: &redb::WriteTransaction,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<u64, redb::Error> {
    use redb::ReadableTable;
    let mut t = txn.open_table(CUSTOMERS)?;
    let gone: Vec<String> = t
        .iter()?
        .filter_map(|r| {
            r.map(|(k, v)| {
                Stored::decode(v.value(), now)
                    .is_none()
                    .then(|| k.value().to_owned())
            })
            .transpose()
        })
        .take(limit)
        .collect::<Result<_, _>>()?;
    for key in &gone {
        t.remove(key.as_str())?;
    }
    Ok(gone.len() as u64)
}

/// The customer records of an [`EmbeddedStore`]: durable across restarts.
#[derive(Debug, Clone)]
pub struct EmbeddedCustomerStore {
    store: EmbeddedStore,
}

impl EmbeddedCustomerStore {
    pub(super) fn new(store: EmbeddedStore) -> Self {
        Self { store }
    }
}

#[async_trait]
impl CustomerStore for EmbeddedCustomerStore {
    async fn get(
        &self,
        customer: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CustomerRecord>, BridgeError> {
        let key = customer_key(customer);
        self.store
            .read(move |txn| {
                let t = match txn.open_table(CUSTOMERS) {
                    Ok(t) => t,
                    Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                Ok(t.get(key.as_str())?
                    .and_then(|v| Stored::decode(v.value(), now)))
            })
            .await
            .map_err(BridgeError::Queue)
    }

    async fn put(
        &self,
        customer: &str,
        record: &CustomerRecord,
        keep: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), BridgeError> {
        let key = customer_key(customer);
        let bytes = Stored::encode(record, keep, now)?;
        self.store
            .write(move |txn| {
                txn.open_table(CUSTOMERS)?
                    .insert(key.as_str(), bytes.as_slice())?;
                Ok(Ok(()))
            })
            .await
            .map_err(BridgeError::Queue)
    }

    async fn remove(&self, customer: &str) -> Result<(), BridgeError> {
        let key = customer_key(customer);
        self.store
            .write(move |txn| {
                txn.open_table(CUSTOMERS)?.remove(key.as_str())?;
                Ok(Ok(()))
            })
            .await
            .map_err(BridgeError::Queue)
    }
}

/// Removes the customer's record (cached Contact and Case ids).
pub(super) fn erase_customer(
    txn: &redb::WriteTransaction,
    customer: &crate::erase::Customer,
) -> Result<u64, redb::Error> {
    let mut t = txn.open_table(CUSTOMERS)?;
    let theirs = super::erase::theirs(&t, |k, v| {
        (customer.mentions(k.as_bytes()) || customer.mentions(v)).then_some(())
    })?;
    for (key, ()) in &theirs {
        t.remove(key.as_str())?;
    }
    Ok(theirs.len() as u64)
}
