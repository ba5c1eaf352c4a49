//! A fake Pub/Sub API (features `testkit` and `pubsub`): a real gRPC server
//! over HTTP/2 on loopback, serving Avro change events with their schemas and
//! replay ids, honouring flow control and replay presets, and failing on
//! demand (a disconnect, an expired token) after a number of events.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tonic::{Request, Response, Status, Streaming};

use crate::pubsub::proto::pub_sub_server::{PubSub, PubSubServer};
use crate::pubsub::proto::{
    ConsumerEvent, FetchRequest, FetchResponse, ProducerEvent, PublishRequest, PublishResponse,
    PublishResult, ReplayPreset, SchemaInfo, SchemaRequest, TopicInfo, TopicRequest,
};

/// The `ChangeEventHeader` field of every change event schema of the fake.
macro_rules! change_header_field {
    () => {
        r#"{"name": "ChangeEventHeader", "type": {"type": "record", "name": "ChangeEventHeader", "fields": [
      {"name": "entityName", "type": "string"},
      {"name": "recordIds", "type": {"type": "array", "items": "string"}},
      {"name": "changeType", "type": {"type": "enum", "name": "ChangeType", "symbols":
        ["CREATE", "UPDATE", "DELETE", "UNDELETE", "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW"]}},
      {"name": "changeOrigin", "type": "string"},
      {"name": "transactionKey", "type": "string"},
      {"name": "sequenceNumber", "type": "int"},
      {"name": "commitTimestamp", "type": "long"},
      {"name": "commitNumber", "type": "long"},
      {"name": "commitUser", "type": "string"},
      {"name": "nulledFields", "type": {"type": "array", "items": "string"}},
      {"name": "diffFields", "type": {"type": "array", "items": "string"}},
      {"name": "changedFields", "type": {"type": "array", "items": "string"}}
    ]}}"#
    };
}

/// The change events of `Order` (`/data/OrderChangeEvent`) the fake serves:
/// the header, then `Status`, `OrderNumber`, `TotalAmount`,
/// `Customer_Phone__c`, `Customer_Name__c`, `LastModifiedDate` (a datetime:
/// Unix milliseconds), `Carrier__c`, `Tracking__c` and `ETA__c` (a date:
/// days since 1970-01-01), with Salesforce's `Name:Type` field docs.
pub const ORDER_CHANGE_SCHEMA: &str = concat!(
    r#"{
  "type": "record", "name": "OrderChangeEvent", "namespace": "com.sforce.eventbus",
  "fields": [
    "#,
    change_header_field!(),
    r#",
    {"name": "Status", "type": ["null", "string"], "default": null},
    {"name": "OrderNumber", "type": ["null", "string"], "default": null},
    {"name": "TotalAmount", "type": ["null", "double"], "default": null},
    {"name": "Customer_Phone__c", "type": ["null", "string"], "default": null},
    {"name": "Customer_Name__c", "type": ["null", "string"], "default": null},
    {"name": "LastModifiedDate", "type": ["null", "long"], "doc": "LastModifiedDate:DateTime", "default": null},
    {"name": "Carrier__c", "type": ["null", "string"], "default": null},
    {"name": "Tracking__c", "type": ["null", "string"], "default": null},
    {"name": "ETA__c", "type": ["null", "int"], "doc": "ETA__c:Date", "default": null}
  ]
}"#
);

/// The schema id of [`ORDER_CHANGE_SCHEMA`].
pub const ORDER_CHANGE_SCHEMA_ID: &str = "OrderChangeEvent-schema-1";

/// What the fake does after a number of delivered events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FakeFailure {
    /// Ends the stream with `UNAVAILABLE` (a server restart, a network drop).
    Disconnect,
    /// Expires every token seen so far and ends the stream with `UNAUTHENTICATED`.
    ExpiredToken,
}

struct Topic {
    schema_id: String,
    /// (event id, payload) in replay order; replay id n is index n - 1.
    events: Vec<(String, Vec<u8>)>,
    /// Events pushed raw with another schema id, by index.
    raw_schemas: HashMap<usize, String>,
}

#[derive(Default)]
struct State {
    topics: Mutex<HashMap<String, Topic>>,
    schemas: Mutex<HashMap<String, String>>,
    expired: Mutex<HashSet<String>>,
    seen: Mutex<HashSet<String>>,
    fail: Mutex<Option<(u64, FakeFailure)>>,
    /// Re-arms `fail` with this many events after each failure.
    fail_every: Mutex<Option<u64>>,
    tenants: Mutex<HashSet<String>>,
    /// Change channels of other objects, by object.
    change_topics: Mutex<HashMap<String, ChangeTopic>>,
    subscribes: AtomicU64,
    keep_alives: AtomicU64,
    delivered: AtomicU64,
    requested: AtomicU64,
    published: Notify,
    commit: AtomicU64,
    /// Auth is refused until then.
    refuse_auth_until: Mutex<Option<tokio::time::Instant>>,
    /// Events before this position are purged (past retention).
    floor: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn replay(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

#[derive(Clone)]
struct Service {
    state: Arc<State>,
}

impl Service {
    // tonic's own handlers answer `Status`; boxing it here would only move the size.
    #[allow(clippy::result_large_err)]
    fn authorize<T>(&self, req: &Request<T>) -> Result<String, Status> {
        let md = req.metadata();
        let text = |k: &str| {
            md.get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let token = text("accesstoken");
        if lock(&self.state.refuse_auth_until).is_some_and(|t| tokio::time::Instant::now() < t) {
            return Err(Status::unauthenticated("authentication is refused for now"));
        }
        if token.is_empty() || text("instanceurl").is_empty() || text("tenantid").is_empty() {
            return Err(Status::unauthenticated(
                "accesstoken, instanceurl and tenantid are required",
            ));
        }
        if lock(&self.state.expired).contains(&token) {
            let mut s = Status::unauthenticated("the session is no longer valid");
            s.metadata_mut().insert(
                "error-code",
                "sfdc.platform.eventbus.grpc.service.auth.error"
                    .parse()
                    .unwrap_or_else(|_| tonic::metadata::MetadataValue::from_static("auth")),
            );
            return Err(s);
        }
        lock(&self.state.seen).insert(token.clone());
        lock(&self.state.tenants).insert(text("tenantid"));
        Ok(token)
    }
}

type Events = Pin<Box<dyn tokio_stream::Stream<Item = Result<FetchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl PubSub for Service {
    type SubscribeStream = Events;

    async fn subscribe(
        &self,
        req: Request<Streaming<FetchRequest>>,
    ) -> Result<Response<Events>, Status> {
        let token = self.authorize(&req)?;
        self.state.subscribes.fetch_add(1, Ordering::SeqCst);
        let mut inbound = req.into_inner();
        let first = inbound
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("no fetch request"))?;
        let end = {
            let topics = lock(&self.state.topics);
            let topic = topics.get(&first.topic_name).ok_or_else(|| {
                Status::not_found(format!("topic {} not found", first.topic_name))
            })?;
            topic.events.len() as u64
        };
        let floor = self.state.floor.load(Ordering::SeqCst);
        let refused = || {
            let mut s = Status::invalid_argument("The Replay ID validation failed.");
            if let Ok(v) =
                "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted".parse()
            {
                s.metadata_mut().insert("error-code", v);
            }
            s
        };
        let mut position =
            match ReplayPreset::try_from(first.replay_preset).unwrap_or(ReplayPreset::Latest) {
                ReplayPreset::Latest => end,
                ReplayPreset::Earliest => floor,
                ReplayPreset::Custom => {
                    let id: [u8; 8] = first
                        .replay_id
                        .as_slice()
                        .try_into()
                        .map_err(|_| refused())?;
                    let n = u64::from_be_bytes(id);
                    if n > end || (floor > 0 && n <= floor) {
                        return Err(refused());
                    }
                    n
                }
            };
        let asked = u64::try_from(first.num_requested).unwrap_or(0);
        self.state.requested.fetch_add(asked, Ordering::SeqCst);
        let requested = Arc::new(AtomicU64::new(asked));
        let more = Arc::new(Notify::new());
        {
            let (requested, more, state) = (requested.clone(), more.clone(), self.state.clone());
            tokio::spawn(async move {
                while let Ok(Some(r)) = inbound.message().await {
                    let asked = u64::try_from(r.num_requested).unwrap_or(0);
                    state.requested.fetch_add(asked, Ordering::SeqCst);
                    requested.fetch_add(asked, Ordering::SeqCst);
                    more.notify_one();
                }
            });
        }
        let (tx, rx) = mpsc::channel(16);
        let state = self.state.clone();
        let topic_name = first.topic_name;
        tokio::spawn(async move {
            loop {
                if lock(&state.expired).contains(&token) {
                    let _ = tx
                        .send(Err(Status::unauthenticated(
                            "the session is no longer valid",
                        )))
                        .await;
                    return;
                }
                // Up to what was asked for, in one response (as the real
                // API batches what it has), and no further than a pending
                // failure allows.
                let wanted = requested.load(Ordering::SeqCst).min(
                    lock(&state.fail)
                        .as_ref()
                        .map_or(u64::MAX, |(left, _)| *left),
                );
                let next: Vec<ConsumerEvent> = {
                    let topics = lock(&state.topics);
                    topics
                        .get(&topic_name)
                        .map(|t| {
                            let from = usize::try_from(position).unwrap_or(usize::MAX);
                            t.events
                                .iter()
                                .enumerate()
                                .skip(from)
                                .take(usize::try_from(wanted).unwrap_or(usize::MAX))
                                .map(|(i, (id, payload))| ConsumerEvent {
                                    event: Some(ProducerEvent {
                                        id: id.clone(),
                                        schema_id: t
                                            .raw_schemas
                                            .get(&i)
                                            .cloned()
                                            .unwrap_or_else(|| t.schema_id.clone()),
                                        payload: payload.clone(),
                                        headers: Vec::new(),
                                    }),
                                    replay_id: replay(i as u64 + 1),
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                };
                match next.len() as u64 {
                    n if n > 0 => {
                        position += n;
                        let pending = requested.fetch_sub(n, Ordering::SeqCst) - n;
                        let response = FetchResponse {
                            events: next,
                            latest_replay_id: replay(position),
                            rpc_id: format!("rpc-{position}"),
                            pending_num_requested: i32::try_from(pending).unwrap_or(i32::MAX),
                        };
                        if tx.send(Ok(response)).await.is_err() {
                            return;
                        }
                        state.delivered.fetch_add(n, Ordering::SeqCst);
                        let failure = {
                            let mut fail = lock(&state.fail);
                            match fail.as_mut() {
                                Some((left, kind)) => {
                                    *left = left.saturating_sub(n);
                                    let kind = *kind;
                                    if *left == 0 {
                                        *fail = (*lock(&state.fail_every)).map(|n| (n, kind));
                                        Some(kind)
                                    } else {
                                        None
                                    }
                                }
                                None => None,
                            }
                        };
                        match failure {
                            Some(FakeFailure::Disconnect) => {
                                let _ = tx
                                    .send(Err(Status::unavailable("the server is restarting")))
                                    .await;
                                return;
                            }
                            Some(FakeFailure::ExpiredToken) => {
                                let seen: Vec<String> = lock(&state.seen).iter().cloned().collect();
                                lock(&state.expired).extend(seen);
                                continue;
                            }
                            None => {}
                        }
                    }
                    _ => {
                        let waited = tokio::time::timeout(Duration::from_millis(150), async {
                            tokio::select! {
                                () = more.notified() => {},
                                () = state.published.notified() => {},
                            }
                        })
                        .await;
                        if waited.is_err() {
                            // A keep-alive: no events, the position reached.
                            let keepalive = FetchResponse {
                                events: Vec::new(),
                                latest_replay_id: replay(position),
                                rpc_id: "keepalive".into(),
                                pending_num_requested: i32::try_from(
                                    requested.load(Ordering::SeqCst),
                                )
                                .unwrap_or(i32::MAX),
                            };
                            if tx.send(Ok(keepalive)).await.is_err() {
                                return;
                            }
                            state.keep_alives.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn get_schema(
        &self,
        req: Request<SchemaRequest>,
    ) -> Result<Response<SchemaInfo>, Status> {
        self.authorize(&req)?;
        let id = req.into_inner().schema_id;
        let json = lock(&self.state.schemas)
            .get(&id)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("schema {id} not found")))?;
        Ok(Response::new(SchemaInfo {
            schema_json: json,
            schema_id: id,
            rpc_id: "rpc-schema".into(),
        }))
    }

    async fn get_topic(&self, req: Request<TopicRequest>) -> Result<Response<TopicInfo>, Status> {
        self.authorize(&req)?;
        let name = req.into_inner().topic_name;
        let topics = lock(&self.state.topics);
        let topic = topics
            .get(&name)
            .ok_or_else(|| Status::not_found(format!("topic {name} not found")))?;
        Ok(Response::new(TopicInfo {
            topic_name: name.clone(),
            tenant_guid: "00DFAKE".into(),
            can_publish: name.starts_with("/event/"),
            can_subscribe: true,
            schema_id: topic.schema_id.clone(),
            rpc_id: "rpc-topic".into(),
        }))
    }

    async fn publish(
        &self,
        req: Request<PublishRequest>,
    ) -> Result<Response<PublishResponse>, Status> {
        self.authorize(&req)?;
        let body = req.into_inner();
        let mut results = Vec::new();
        {
            let schemas = lock(&self.state.schemas).clone();
            let mut topics = lock(&self.state.topics);
            let topic = topics
                .get_mut(&body.topic_name)
                .ok_or_else(|| Status::not_found(format!("topic {} not found", body.topic_name)))?;
            let schema = schemas
                .get(&topic.schema_id)
                .and_then(|j| crate::pubsub::EventSchema::parse(j).ok())
                .ok_or_else(|| Status::internal("the topic's schema is broken"))?;
            for e in body.events {
                let ok = e.schema_id == topic.schema_id
                    && crate::pubsub::decode(&schema, &e.payload).is_ok();
                if ok {
                    topic.events.push((e.id.clone(), e.payload));
                    results.push(PublishResult {
                        replay_id: replay(topic.events.len() as u64),
                        error: None,
                        correlation_key: e.id,
                    });
                } else {
                    results.push(PublishResult {
                        replay_id: Vec::new(),
                        error: Some(crate::pubsub::proto::Error {
                            code: 1,
                            msg: "the payload does not match the topic's schema".into(),
                        }),
                        correlation_key: e.id,
                    });
                }
            }
        }
        self.state.published.notify_waiters();
        Ok(Response::new(PublishResponse {
            results,
            schema_id: String::new(),
            rpc_id: "rpc-publish".into(),
        }))
    }
}

/// The fields of [`ORDER_CHANGE_SCHEMA`], in schema order (bitmap positions).
const ORDER_FIELDS: [&str; 10] = [
    "ChangeEventHeader",
    "Status",
    "OrderNumber",
    "TotalAmount",
    "Customer_Phone__c",
    "Customer_Name__c",
    "LastModifiedDate",
    "Carrier__c",
    "Tracking__c",
    "ETA__c",
];

/// Appends an `Order` change event whose changed fields are `fields`.
fn push_order_change(
    state: &State,
    order_id: &str,
    change_type: &str,
    fields: &Value,
) -> Result<(), String> {
    let topic = ChangeTopic {
        topic: "/data/OrderChangeEvent".into(),
        schema_json: ORDER_CHANGE_SCHEMA.into(),
        fields: ORDER_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
    };
    push_change(state, &topic, "Order", order_id, change_type, fields)
}

/// A change channel of the fake: its topic, schema and fields in schema
/// order (the header first).
#[derive(Clone)]
struct ChangeTopic {
    topic: String,
    schema_json: String,
    fields: Vec<String>,
}

/// Appends a change event of `entity` to `topic` whose changed fields are
/// `fields`.
fn push_change(
    state: &State,
    topic: &ChangeTopic,
    entity: &str,
    record_id: &str,
    change_type: &str,
    fields: &Value,
) -> Result<(), String> {
    let mut bitmap = 0u128;
    let mut record = serde_json::Map::new();
    for (k, v) in fields.as_object().cloned().unwrap_or_default() {
        let Some(pos) = topic.fields.iter().position(|n| *n == k) else {
            return Err(format!("{k} is not a field of the fake's {}", topic.topic));
        };
        bitmap |= 1 << pos.min(127);
        record.insert(k, v);
    }
    let commit = state.commit.fetch_add(1, Ordering::SeqCst) + 1;
    record.insert(
        "ChangeEventHeader".into(),
        json!({
            "entityName": entity, "recordIds": [record_id], "changeType": change_type,
            "changeOrigin": "com/salesforce/api/rest/66.0", "transactionKey": format!("tx-{commit}"),
            "sequenceNumber": 1, "commitTimestamp": 1_767_225_600_000_i64 + i64::try_from(commit).unwrap_or(0),
            "commitNumber": i64::try_from(commit).unwrap_or(0), "commitUser": "005000000000001AAA",
            "nulledFields": [], "diffFields": [],
            "changedFields": if change_type == "UPDATE" { vec![format!("{bitmap:#x}")] } else { Vec::new() },
        }),
    );
    for n in &topic.fields {
        record.entry(n.clone()).or_insert(Value::Null);
    }
    let schema = crate::pubsub::EventSchema::parse(&topic.schema_json)
        .map_err(|e| format!("the fake's schema: {e}"))?;
    let payload = crate::pubsub::encode(&schema, &Value::Object(record))
        .map_err(|e| format!("the fake's event: {e}"))?;
    if let Some(t) = lock(&state.topics).get_mut(&topic.topic) {
        t.events.push((format!("evt-{commit}"), payload));
    }
    state.published.notify_waiters();
    Ok(())
}

/// The change channel of an object, as Salesforce names it
/// (`WhatsApp_Message__c` → `/data/WhatsApp_Message__ChangeEvent`, `Case` →
/// `/data/CaseChangeEvent`).
pub fn change_channel(object: &str) -> String {
    match object.strip_suffix("__c") {
        Some(base) => format!("/data/{base}__ChangeEvent"),
        None => format!("/data/{object}ChangeEvent"),
    }
}

/// A fake Pub/Sub API on loopback. Dropping it stops the server.
pub struct FakePubSub {
    url: String,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakePubSub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakePubSub")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Drop for FakePubSub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakePubSub {
    /// Starts the fake with `/data/OrderChangeEvent` ([`ORDER_CHANGE_SCHEMA`]).
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound (a test helper).
    #[allow(clippy::panic)]
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("cannot bind the fake Pub/Sub server: {e}"));
        let url = format!(
            "http://{}",
            listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default()
        );
        let state = Arc::new(State::default());
        let service = Service {
            state: state.clone(),
        };
        let server = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(PubSubServer::new(service))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await;
        });
        let fake = Self { url, state, server };
        fake.add_topic(
            "/data/OrderChangeEvent",
            ORDER_CHANGE_SCHEMA_ID,
            ORDER_CHANGE_SCHEMA,
        );
        fake
    }

    /// The endpoint to give the client (`http://127.0.0.1:port`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Adds a topic (a platform event `/event/...` or a change channel) with its schema.
    pub fn add_topic(&self, topic: &str, schema_id: &str, schema_json: &str) {
        lock(&self.state.schemas).insert(schema_id.to_owned(), schema_json.to_owned());
        lock(&self.state.topics).insert(
            topic.to_owned(),
            Topic {
                schema_id: schema_id.to_owned(),
                events: Vec::new(),
                raw_schemas: HashMap::new(),
            },
        );
    }

    /// Appends an `Order` change event to `/data/OrderChangeEvent`: the
    /// `fields` (by name) are the changed ones, and the header's
    /// `changedFields` bitmap is computed from their schema positions.
    ///
    /// # Panics
    ///
    /// When a field is not in [`ORDER_CHANGE_SCHEMA`] (a test mistake).
    #[allow(clippy::panic)]
    pub fn order_change(&self, order_id: &str, change_type: &str, fields: &Value) {
        if let Err(e) = push_order_change(&self.state, order_id, change_type, fields) {
            panic!("{e}");
        }
    }

    /// Adds the change channel of `object` ([`change_channel`]) with
    /// `fields` (all text, nullable) after the change header; [`follow`]
    /// then turns the mock org's writes of `object` into its events.
    /// Returns the channel's name.
    ///
    /// [`follow`]: Self::follow
    pub fn add_change_topic(&self, object: &str, fields: &[&str]) -> String {
        let topic = change_channel(object);
        let record: Vec<String> = fields
            .iter()
            .map(|f| format!(r#"{{"name": "{f}", "type": ["null", "string"], "default": null}}"#))
            .collect();
        let header = change_header_field!();
        let name = format!(
            "{}ChangeEvent",
            object.trim_end_matches("__c").replace('_', "")
        );
        let schema = format!(
            r#"{{"type": "record", "name": "{name}", "namespace": "com.sforce.eventbus", "fields": [{header}, {}]}}"#,
            record.join(", ")
        );
        let schema_id = format!("{name}-schema-1");
        self.add_topic(&topic, &schema_id, &schema);
        let mut names = vec!["ChangeEventHeader".to_owned()];
        names.extend(fields.iter().map(|f| (*f).to_owned()));
        lock(&self.state.change_topics).insert(
            object.to_owned(),
            ChangeTopic {
                topic: topic.clone(),
                schema_json: schema,
                fields: names,
            },
        );
        topic
    }

    /// Appends a change event of `object` (its channel added with
    /// [`add_change_topic`](Self::add_change_topic)) by hand: `change_type`
    /// as CDC names it (`CREATE`, `GAP_CREATE`, `GAP_OVERFLOW`...), with
    /// `fields` (by name) as the changed ones. Gap and overflow events carry
    /// no fields, as CDC sends them.
    ///
    /// # Errors
    ///
    /// When the object has no change channel, or a field is not in it.
    pub fn push_change_event(
        &self,
        object: &str,
        record_id: &str,
        change_type: &str,
        fields: &Value,
    ) -> Result<(), String> {
        let topic = lock(&self.state.change_topics)
            .get(object)
            .cloned()
            .ok_or_else(|| format!("{object} has no change channel: add_change_topic first"))?;
        push_change(&self.state, &topic, object, record_id, change_type, fields)
    }

    /// Turns the mock org's writes of `Order` records into change events on
    /// `/data/OrderChangeEvent`, as Change Data Capture does (the fields the
    /// fake's schema knows; the rest is left out), and the writes of the
    /// objects given to [`add_change_topic`](Self::add_change_topic) into
    /// theirs.
    pub fn follow(&self, org: &super::MockOrg) {
        let state = self.state.clone();
        org.on_change(move |object, id, kind, fields| {
            let other = lock(&state.change_topics).get(object).cloned();
            if let Some(topic) = other {
                // Text fields only: every value as text.
                let known: serde_json::Map<String, Value> = fields
                    .iter()
                    .filter(|(k, _)| {
                        topic.fields.iter().any(|f| f == *k) && k.as_str() != "ChangeEventHeader"
                    })
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(_) | Value::Null => v.clone(),
                            other => Value::String(other.to_string()),
                        };
                        (k.clone(), v)
                    })
                    .collect();
                if kind == "UPDATE" && known.is_empty() {
                    return;
                }
                if let Err(e) = push_change(&state, &topic, object, id, kind, &Value::Object(known))
                {
                    tracing::warn!(error = %e, "the fake Pub/Sub skipped a change");
                }
                return;
            }
            if object != "Order" {
                return;
            }
            let known: serde_json::Map<String, Value> = fields
                .iter()
                .filter(|(k, _)| {
                    ORDER_FIELDS.contains(&k.as_str()) && k.as_str() != "ChangeEventHeader"
                })
                .filter_map(|(k, v)| {
                    // CDC sends datetimes as Unix milliseconds.
                    // ... and dates as days since 1970-01-01.
                    let v = match (k.as_str(), v) {
                        ("LastModifiedDate", Value::String(t)) => {
                            json!(crate::records::SfDateTime::parse(t)?.0.timestamp_millis())
                        }
                        ("ETA__c", Value::String(d)) => {
                            let day = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?;
                            json!((day - chrono::NaiveDate::default()).num_days())
                        }
                        _ => v.clone(),
                    };
                    Some((k.clone(), v))
                })
                .collect();
            if kind == "UPDATE" && known.is_empty() {
                return;
            }
            // A value the schema cannot take is left out of the feed, never a
            // panic inside the org's answer.
            if let Err(e) = push_order_change(&state, id, kind, &Value::Object(known)) {
                tracing::warn!(error = %e, "the fake Pub/Sub skipped an order change");
            }
        });
    }

    /// Refuses every call's authentication (`UNAUTHENTICATED`) for `period`
    /// from now, whatever the token: an org that locked the integration user
    /// for a while.
    pub fn refuse_auth_for(&self, period: Duration) {
        *lock(&self.state.refuse_auth_until) = Some(tokio::time::Instant::now() + period);
    }

    /// Purges every event published so far, as the retention window does
    /// after 72 hours: a saved replay id among them is refused
    /// (`replayid.corrupted`), and `EARLIEST` starts after them.
    pub fn expire_events(&self) {
        let end = lock(&self.state.topics)
            .values()
            .map(|t| t.events.len() as u64)
            .max()
            .unwrap_or(0);
        self.state.floor.store(end, Ordering::SeqCst);
    }

    /// Appends an event to `topic` as given: any payload bytes and any schema
    /// id (a payload that does not match its schema, an unknown schema).
    pub fn push_raw(&self, topic: &str, schema_id: &str, payload: Vec<u8>) {
        let commit = self.state.commit.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(t) = lock(&self.state.topics).get_mut(topic) {
            if schema_id != t.schema_id {
                t.raw_schemas.insert(t.events.len(), schema_id.to_owned());
            }
            t.events.push((format!("evt-{commit}"), payload));
        }
        self.state.published.notify_waiters();
    }

    /// After `events` more delivered events, fails as `failure` says (once).
    pub fn fail_after(&self, events: u64, failure: FakeFailure) {
        *lock(&self.state.fail_every) = None;
        *lock(&self.state.fail) = Some((events.max(1), failure));
    }

    /// Fails as `failure` says after every `events` delivered events.
    pub fn fail_every(&self, events: u64, failure: FakeFailure) {
        *lock(&self.state.fail_every) = Some(events.max(1));
        *lock(&self.state.fail) = Some((events.max(1), failure));
    }

    /// The `tenantid` values clients sent.
    pub fn tenant_ids(&self) -> Vec<String> {
        lock(&self.state.tenants).iter().cloned().collect()
    }

    /// How many `Subscribe` streams were opened.
    pub fn subscribes(&self) -> u64 {
        self.state.subscribes.load(Ordering::SeqCst)
    }

    /// How many keep-alives (empty answers at the subscriber's position,
    /// every 150 ms while nothing happens) the fake has sent in all: a
    /// subscription that got one is open and caught up.
    pub fn keep_alives(&self) -> u64 {
        self.state.keep_alives.load(Ordering::SeqCst)
    }

    /// How many events subscribers asked for in all (flow control).
    pub fn requested(&self) -> u64 {
        self.state.requested.load(Ordering::SeqCst)
    }

    /// How many events were delivered in all.
    pub fn delivered(&self) -> u64 {
        self.state.delivered.load(Ordering::SeqCst)
    }

    /// The events published to a topic (payloads), in order.
    pub fn events(&self, topic: &str) -> Vec<Vec<u8>> {
        lock(&self.state.topics)
            .get(topic)
            .map(|t| t.events.iter().map(|(_, p)| p.clone()).collect())
            .unwrap_or_default()
    }
}
