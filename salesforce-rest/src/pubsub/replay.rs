//! Where a subscriber keeps its place: the replay id of the last event it
//! handled, per topic, saved after each event so a restart resumes exactly
//! after it; and the events it could not process (dead letters).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;

use super::PubSubError;

/// An event a subscriber could not process (a payload that does not match
/// its schema, a schema the server does not know): kept with its raw bytes
/// so that someone can look at it, while the stream moves on.
///
/// `Debug` shows the payload's size, never its bytes (they hold record data).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct DeadEvent {
    /// The event's replay id.
    pub replay_id: Vec<u8>,
    /// The schema id it claimed.
    pub schema_id: String,
    /// The event's id.
    pub event_id: String,
    /// The raw Avro payload.
    pub payload: Vec<u8>,
    /// Why it could not be processed.
    pub reason: String,
}

impl DeadEvent {
    /// A dead letter.
    pub fn new(
        replay_id: Vec<u8>,
        schema_id: impl Into<String>,
        event_id: impl Into<String>,
        payload: Vec<u8>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            replay_id,
            schema_id: schema_id.into(),
            event_id: event_id.into(),
            payload,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Debug for DeadEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadEvent")
            .field("replay_id", &self.replay_id)
            .field("schema_id", &self.schema_id)
            .field("event_id", &self.event_id)
            .field("payload_bytes", &self.payload.len())
            .field("reason", &self.reason)
            .finish()
    }
}

/// Stores the last handled replay id of each topic and the events that
/// could not be processed. Implement it over your own database;
/// [`conformance::run`] checks an implementation.
#[async_trait]
pub trait ReplayStore: Send + Sync + std::fmt::Debug {
    /// The last saved replay id of `topic`, if any.
    async fn load(&self, topic: &str) -> Result<Option<Vec<u8>>, PubSubError>;
    /// Saves the replay id of the event just handled (durably, before returning).
    async fn save(&self, topic: &str, replay_id: &[u8]) -> Result<(), PubSubError>;
    /// Keeps an event of `topic` that could not be processed (durably,
    /// before returning: the subscriber moves past it next).
    async fn dead_letter(&self, topic: &str, event: &DeadEvent) -> Result<(), PubSubError>;
    /// The dead letters of `topic`, oldest first.
    async fn dead_letters(&self, topic: &str) -> Result<Vec<DeadEvent>, PubSubError>;
}

/// In memory: for tests and for subscribers that start at the latest event
/// anyway.
#[derive(Debug, Default)]
pub struct MemoryReplayStore {
    ids: Mutex<HashMap<String, Vec<u8>>>,
    dead: Mutex<HashMap<String, Vec<DeadEvent>>>,
}

#[async_trait]
impl ReplayStore for MemoryReplayStore {
    async fn load(&self, topic: &str) -> Result<Option<Vec<u8>>, PubSubError> {
        Ok(self.ids.lock().ok().and_then(|m| m.get(topic).cloned()))
    }
    async fn save(&self, topic: &str, replay_id: &[u8]) -> Result<(), PubSubError> {
        if let Ok(mut m) = self.ids.lock() {
            m.insert(topic.to_owned(), replay_id.to_vec());
        }
        Ok(())
    }
    async fn dead_letter(&self, topic: &str, event: &DeadEvent) -> Result<(), PubSubError> {
        if let Ok(mut m) = self.dead.lock() {
            m.entry(topic.to_owned()).or_default().push(event.clone());
        }
        Ok(())
    }
    async fn dead_letters(&self, topic: &str) -> Result<Vec<DeadEvent>, PubSubError> {
        Ok(self
            .dead
            .lock()
            .ok()
            .and_then(|m| m.get(topic).cloned())
            .unwrap_or_default())
    }
}

/// One file per topic in a directory, written atomically (a temporary file,
/// synced, then renamed): a crash leaves the old id or the new one, never a
/// torn one.
#[derive(Debug, Clone)]
pub struct FileReplayStore {
    dir: PathBuf,
}

impl FileReplayStore {
    /// A store in `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, PubSubError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| PubSubError::Store(format!("cannot create {}: {e}", dir.display())))?;
        Ok(Self { dir })
    }

    fn path(&self, topic: &str) -> PathBuf {
        self.dir
            .join(format!("replay{}.hex", Self::file_name(topic)))
    }

    fn dead_path(&self, topic: &str) -> PathBuf {
        self.dir
            .join(format!("dead{}.jsonl", Self::file_name(topic)))
    }

    fn file_name(topic: &str) -> String {
        topic
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    }
}

#[async_trait]
impl ReplayStore for FileReplayStore {
    async fn load(&self, topic: &str) -> Result<Option<Vec<u8>>, PubSubError> {
        let path = self.path(topic);
        match tokio::fs::read_to_string(&path).await {
            Ok(text) => {
                let text = text.trim();
                let bytes: Option<Vec<u8>> = (0..text.len())
                    .step_by(2)
                    .map(|i| {
                        text.get(i..i + 2)
                            .and_then(|h| u8::from_str_radix(h, 16).ok())
                    })
                    .collect();
                bytes.filter(|b| !b.is_empty()).map(Some).ok_or_else(|| {
                    PubSubError::Store(format!("{} does not hold a replay id", path.display()))
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(PubSubError::Store(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    async fn save(&self, topic: &str, replay_id: &[u8]) -> Result<(), PubSubError> {
        let path = self.path(topic);
        let text: String = replay_id.iter().map(|b| format!("{b:02x}")).collect();
        let tmp = path.with_extension("tmp");
        let result = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })
        .await
        .map_err(|e| PubSubError::Store(format!("the save task failed: {e}")))?;
        result.map_err(|e| PubSubError::Store(format!("cannot save the replay id: {e}")))
    }

    async fn dead_letter(&self, topic: &str, event: &DeadEvent) -> Result<(), PubSubError> {
        let path = self.dead_path(topic);
        let mut line = serde_json::to_vec(event)
            .map_err(|e| PubSubError::Store(format!("cannot encode a dead letter: {e}")))?;
        line.push(b'\n');
        let result = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            f.write_all(&line)?;
            f.sync_all()
        })
        .await
        .map_err(|e| PubSubError::Store(format!("the dead-letter task failed: {e}")))?;
        result.map_err(|e| PubSubError::Store(format!("cannot save a dead letter: {e}")))
    }

    async fn dead_letters(&self, topic: &str) -> Result<Vec<DeadEvent>, PubSubError> {
        let path = self.dead_path(topic);
        match tokio::fs::read_to_string(&path).await {
            // A line torn by a crash mid-write is skipped, not fatal.
            Ok(text) => Ok(text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(PubSubError::Store(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }
}

/// In Redis, shared by every instance (feature `redis`): one key per topic.
#[cfg(feature = "redis")]
#[derive(Clone)]
pub struct RedisReplayStore {
    conn: crate::redis_conn::RedisConnection,
    prefix: String,
}

#[cfg(feature = "redis")]
impl std::fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("prefix", &self.prefix)
            .finish()
    }
}

#[cfg(feature = "redis")]
impl RedisReplayStore {
    /// A store over a connection (a `ConnectionManager` or a
    /// [`RedisConnection`](crate::redis_conn::RedisConnection), one node or
    /// a cluster), keys under `prefix`; every operation touches one key.
    pub fn new(
        conn: impl Into<crate::redis_conn::RedisConnection>,
        prefix: impl Into<String>,
    ) -> Self {
        Self {
            conn: conn.into(),
            prefix: prefix.into(),
        }
    }
}

#[cfg(feature = "redis")]
#[async_trait]
impl ReplayStore for RedisReplayStore {
    async fn load(&self, topic: &str) -> Result<Option<Vec<u8>>, PubSubError> {
        let mut c = self.conn.clone();
        redis::cmd("GET")
            .arg(format!("{}replay:{topic}", self.prefix))
            .query_async::<Option<Vec<u8>>>(&mut c)
            .await
            .map_err(|e| PubSubError::Store(format!("Redis: {e}")))
    }
    async fn save(&self, topic: &str, replay_id: &[u8]) -> Result<(), PubSubError> {
        let mut c = self.conn.clone();
        redis::cmd("SET")
            .arg(format!("{}replay:{topic}", self.prefix))
            .arg(replay_id)
            .query_async::<()>(&mut c)
            .await
            .map_err(|e| PubSubError::Store(format!("Redis: {e}")))
    }
    async fn dead_letter(&self, topic: &str, event: &DeadEvent) -> Result<(), PubSubError> {
        let line = serde_json::to_vec(event)
            .map_err(|e| PubSubError::Store(format!("cannot encode a dead letter: {e}")))?;
        let mut c = self.conn.clone();
        redis::cmd("RPUSH")
            .arg(format!("{}dead:{topic}", self.prefix))
            .arg(line)
            .query_async::<()>(&mut c)
            .await
            .map_err(|e| PubSubError::Store(format!("Redis: {e}")))
    }
    async fn dead_letters(&self, topic: &str) -> Result<Vec<DeadEvent>, PubSubError> {
        let mut c = self.conn.clone();
        let lines: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg(format!("{}dead:{topic}", self.prefix))
            .arg(0)
            .arg(-1)
            .query_async(&mut c)
            .await
            .map_err(|e| PubSubError::Store(format!("Redis: {e}")))?;
        Ok(lines
            .iter()
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect())
    }
}

/// A conformance suite for [`ReplayStore`] implementations.
pub mod conformance {
    use std::sync::Arc;

    use super::ReplayStore;
    use crate::auth::ManualClock;

    /// Checks the contract: nothing before a save, the last save wins, topics
    /// are separate, binary ids (any byte) round-trip, and dead letters are
    /// kept whole, in order, per topic.
    ///
    /// The same signature as every conformance suite of the workspace: the
    /// store behind an `Arc`, and a `ManualClock`. A replay store keeps no
    /// time, so this suite does not read it; it is taken so that every
    /// store's suite is called alike.
    ///
    /// # Panics
    ///
    /// When the store breaks the contract (it is a test helper).
    #[allow(clippy::panic, clippy::unwrap_used)]
    pub async fn run<S: ReplayStore + ?Sized + 'static>(store: Arc<S>, _clock: &ManualClock) {
        let topic = format!("/data/ConformanceEvent{}", std::process::id());
        assert_eq!(
            store.load(&topic).await.unwrap(),
            None,
            "nothing before a save"
        );
        store.save(&topic, &[0, 0, 0, 1]).await.unwrap();
        store.save(&topic, &[0, 0xff, 0x10, 0x02]).await.unwrap();
        assert_eq!(
            store.load(&topic).await.unwrap(),
            Some(vec![0, 0xff, 0x10, 0x02]),
            "the last save wins"
        );
        let other = format!("{topic}Other");
        assert_eq!(
            store.load(&other).await.unwrap(),
            None,
            "topics are separate"
        );
        store.save(&other, &[7]).await.unwrap();
        assert_eq!(
            store.load(&topic).await.unwrap(),
            Some(vec![0, 0xff, 0x10, 0x02])
        );

        // Dead letters: kept whole, in order, per topic.
        assert!(store.dead_letters(&topic).await.unwrap().is_empty());
        let first = super::DeadEvent::new(
            vec![0, 9],
            "schema-1",
            "evt-1",
            vec![0xde, 0xad, 0, 0xff],
            "undecodable payload",
        );
        let second = super::DeadEvent::new(
            vec![0, 10],
            "schema-2",
            "evt-2",
            Vec::new(),
            "unknown schema",
        );
        store.dead_letter(&topic, &first).await.unwrap();
        store.dead_letter(&topic, &second).await.unwrap();
        assert_eq!(
            store.dead_letters(&topic).await.unwrap(),
            vec![first, second],
            "dead letters round-trip in order"
        );
        assert!(
            store.dead_letters(&other).await.unwrap().is_empty(),
            "dead letters are per topic"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::auth::ManualClock;

    #[tokio::test]
    async fn the_memory_and_file_stores_pass_the_suite() {
        conformance::run(
            Arc::new(MemoryReplayStore::default()),
            &ManualClock::at_millis(1_767_225_600_000),
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        conformance::run(
            Arc::new(FileReplayStore::new(dir.path()).unwrap()),
            &ManualClock::at_millis(1_767_225_600_000),
        )
        .await;
        // A reopened store reads what the first one saved.
        let again = FileReplayStore::new(dir.path()).unwrap();
        assert!(
            again
                .load(&format!("/data/ConformanceEvent{}", std::process::id()))
                .await
                .unwrap()
                .is_some()
        );
    }

    #[cfg(all(feature = "redis", feature = "testkit"))]
    #[tokio::test]
    async fn the_redis_store_passes_the_suite() {
        for url in crate::testkit::redis_urls() {
            let conn = crate::redis_conn::RedisConnection::connect(&url)
                .await
                .unwrap();
            let prefix = format!("test:{}:{}:", std::process::id(), url.len());
            conformance::run(
                Arc::new(RedisReplayStore::new(conn, prefix)),
                &ManualClock::at_millis(1_767_225_600_000),
            )
            .await;
        }
    }
}
