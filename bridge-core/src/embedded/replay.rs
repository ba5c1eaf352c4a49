//! Pub/Sub replay ids in the embedded store (features `embedded` and
//! `pubsub`): where a subscriber resumes, committed durably with the rest of
//! the bridge's state.

use async_trait::async_trait;
use redb::{ReadableTable, TableDefinition};
use salesforce_rest::pubsub::{DeadEvent, PubSubError, ReplayStore};

use super::EmbeddedStore;

const REPLAY: TableDefinition<'static, &'static str, &'static [u8]> =
    TableDefinition::new("pubsub.replay");

/// Dead letters: (topic, sequence) → the event as JSON.
const DEAD: TableDefinition<'static, (&'static str, u64), &'static [u8]> =
    TableDefinition::new("pubsub.dead");

/// The replay ids of an [`EmbeddedStore`], one per topic.
#[derive(Debug, Clone)]
pub struct EmbeddedReplayStore {
    store: EmbeddedStore,
}

impl EmbeddedReplayStore {
    pub(super) fn new(store: EmbeddedStore) -> Self {
        Self { store }
    }
}

#[async_trait]
impl ReplayStore for EmbeddedReplayStore {
    async fn load(&self, topic: &str) -> Result<Option<Vec<u8>>, PubSubError> {
        let topic = topic.to_owned();
        self.store
            .read(move |txn| {
                let t = match txn.open_table(REPLAY) {
                    Ok(t) => t,
                    Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                Ok(t.get(topic.as_str())?.map(|v| v.value().to_vec()))
            })
            .await
            .map_err(|e| PubSubError::Store(e.to_string()))
    }

    async fn save(&self, topic: &str, replay_id: &[u8]) -> Result<(), PubSubError> {
        let (topic, id) = (topic.to_owned(), replay_id.to_vec());
        self.store
            .write(move |txn| {
                txn.open_table(REPLAY)?
                    .insert(topic.as_str(), id.as_slice())?;
                Ok(Ok(()))
            })
            .await
            .map_err(|e| PubSubError::Store(e.to_string()))
    }

    async fn dead_letter(&self, topic: &str, event: &DeadEvent) -> Result<(), PubSubError> {
        let line = serde_json::to_vec(event)
            .map_err(|e| PubSubError::Store(format!("cannot encode a dead letter: {e}")))?;
        let topic = topic.to_owned();
        self.store
            .write(move |txn| {
                let mut t = txn.open_table(DEAD)?;
                let next = t
                    .range((topic.as_str(), 0)..=(topic.as_str(), u64::MAX))?
                    .next_back()
                    .transpose()?
                    .map_or(0, |(k, _)| k.value().1 + 1);
                t.insert((topic.as_str(), next), line.as_slice())?;
                Ok(Ok(()))
            })
            .await
            .map_err(|e| PubSubError::Store(e.to_string()))
    }

    async fn dead_letters(&self, topic: &str) -> Result<Vec<DeadEvent>, PubSubError> {
        let topic = topic.to_owned();
        self.store
            .read(move |txn| {
                let t = match txn.open_table(DEAD) {
                    Ok(t) => t,
                    Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                    Err(e) => return Err(e.into()),
                };
                let mut out = Vec::new();
                for row in t.range((topic.as_str(), 0)..=(topic.as_str(), u64::MAX))? {
                    let (_, v) = row?;
                    if let Ok(e) = serde_json::from_slice(v.value()) {
                        out.push(e);
                    }
                }
                Ok(out)
            })
            .await
            .map_err(|e| PubSubError::Store(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    #[tokio::test]
    async fn the_embedded_store_passes_the_replay_suite_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::EmbeddedStore::open(dir.path()).unwrap();
        salesforce_rest::pubsub::conformance::run(
            Arc::new(store.replay_ids()),
            &salesforce_rest::auth::ManualClock::at_millis(1_767_225_600_000),
        )
        .await;
        drop(store);
        let again = super::EmbeddedStore::open(dir.path()).unwrap();
        let topic = format!("/data/ConformanceEvent{}", std::process::id());
        use salesforce_rest::pubsub::ReplayStore as _;
        assert!(again.replay_ids().load(&topic).await.unwrap().is_some());
    }
}
