//! The Pub/Sub client: connection and metadata, schemas, topics, publishing,
//! and the subscription loop (flow control, replay, reconnect, renewal).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Status};

use super::PubSubError;
use super::events::{Event, Schemas, change_header, decode, encode};
use super::proto::pub_sub_client::PubSubClient as Grpc;
use super::proto::{
    FetchRequest, ProducerEvent, PublishRequest, ReplayPreset, SchemaRequest, TopicRequest,
};
use super::replay::ReplayStore;
use crate::auth::{AccessToken, Session};

/// Salesforce's Pub/Sub endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://api.pubsub.salesforce.com:7443";

/// Builds a [`PubSubClient`].
#[derive(Debug)]
pub struct PubSubClientBuilder {
    session: Session,
    endpoint: String,
    tenant_id: Option<String>,
    allow_insecure_http: bool,
}

impl PubSubClientBuilder {
    /// The endpoint (`https://host:port`; plain `http://` only for loopback).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = url.into();
        self
    }

    /// The org id sent as `tenantid`. By default it is read from the access
    /// token, which starts with it (`00D...!`).
    pub fn tenant_id(mut self, org_id: impl Into<String>) -> Self {
        self.tenant_id = Some(org_id.into());
        self
    }

    /// Accepts plain-http endpoints on non-loopback hosts (not recommended).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Checks the endpoint and builds the client (it connects lazily).
    pub fn build(self) -> Result<PubSubClient, PubSubError> {
        let url = url::Url::parse(&self.endpoint)
            .map_err(|e| PubSubError::Config(format!("endpoint {:?}: {e}", self.endpoint)))?;
        let tls = match url.scheme() {
            "https" => true,
            "http" if self.allow_insecure_http || crate::http::is_loopback(&url) => false,
            "http" => {
                return Err(PubSubError::Config(format!(
                    "refusing plaintext HTTP/2 to {}: use https (plain http only for loopback)",
                    url.host_str().unwrap_or("?")
                )));
            }
            other => {
                return Err(PubSubError::Config(format!(
                    "endpoint scheme {other:?}: use https"
                )));
            }
        };
        let mut endpoint = Endpoint::from_shared(self.endpoint.clone())
            .map_err(|e| PubSubError::Config(format!("endpoint {:?}: {e}", self.endpoint)))?
            .connect_timeout(Duration::from_secs(10))
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        if tls {
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().with_webpki_roots())
                .map_err(|e| PubSubError::Config(format!("TLS: {e}")))?;
        }
        Ok(PubSubClient {
            inner: Arc::new(Inner {
                session: self.session,
                channel: endpoint.connect_lazy(),
                tenant_id: self.tenant_id,
                schemas: Schemas::default(),
            }),
        })
    }
}

struct Inner {
    session: Session,
    channel: Channel,
    tenant_id: Option<String>,
    schemas: Schemas,
}

/// A Pub/Sub API client over a Salesforce session. Cheap to clone.
#[derive(Clone)]
pub struct PubSubClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PubSubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSubClient").finish_non_exhaustive()
    }
}

/// What a published event became.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishResult {
    /// The replay id it got, when it was published.
    pub replay_id: Option<Vec<u8>>,
    /// Why it was not, when it was not.
    pub error: Option<String>,
}

/// Where a subscription with no saved replay id starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartFrom {
    /// New events only (the default).
    Latest,
    /// Every event still retained (72 hours for change events).
    Earliest,
}

/// What the handler wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flow {
    /// Keep going.
    Continue,
    /// Stop after this event (its replay id is saved).
    Stop,
}

enum End {
    Stopped,
    Auth(Arc<AccessToken>),
    Transient(String),
}

fn classify(status: &Status, token: &Arc<AccessToken>) -> Result<End, PubSubError> {
    let auth = status.code() == Code::Unauthenticated
        || status
            .metadata()
            .get("error-code")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.contains("auth"));
    match status.code() {
        _ if auth => Ok(End::Auth(token.clone())),
        Code::Unavailable
        | Code::Internal
        | Code::Unknown
        | Code::Cancelled
        | Code::DeadlineExceeded
        | Code::ResourceExhausted
        | Code::Aborted => Ok(End::Transient(format!(
            "{}: {}",
            status.code(),
            status.message()
        ))),
        code => Err(PubSubError::Refused {
            code: code.to_string(),
            message: status.message().to_owned(),
        }),
    }
}

impl PubSubClient {
    /// A builder over a session, for [`DEFAULT_ENDPOINT`].
    pub fn builder(session: Session) -> PubSubClientBuilder {
        PubSubClientBuilder {
            session,
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            tenant_id: None,
            allow_insecure_http: false,
        }
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.inner.session
    }

    fn metadata(&self, token: &AccessToken) -> Result<MetadataMap, PubSubError> {
        let bearer = token.header().to_str().unwrap_or_default();
        let raw = bearer.strip_prefix("Bearer ").unwrap_or(bearer);
        let tenant = match &self.inner.tenant_id {
            Some(t) => t.clone(),
            None => raw
                .split_once('!')
                .map(|(org, _)| org.to_owned())
                .filter(|org| org.starts_with("00D"))
                .ok_or_else(|| {
                    PubSubError::Config(
                        "the org id cannot be read from the access token: set PubSubClientBuilder::tenant_id".into(),
                    )
                })?,
        };
        let value = |v: &str, what: &str| {
            MetadataValue::try_from(v)
                .map_err(|_| PubSubError::Config(format!("the {what} is not a valid header value")))
        };
        let mut m = MetadataMap::new();
        let mut access = value(raw, "access token")?;
        access.set_sensitive(true);
        m.insert("accesstoken", access);
        m.insert(
            "instanceurl",
            value(
                token.instance_url().as_str().trim_end_matches('/'),
                "instance URL",
            )?,
        );
        m.insert("tenantid", value(&tenant, "tenant id")?);
        Ok(m)
    }

    fn request<T>(&self, token: &AccessToken, body: T) -> Result<tonic::Request<T>, PubSubError> {
        let mut r = tonic::Request::new(body);
        *r.metadata_mut() = self.metadata(token)?;
        Ok(r)
    }

    /// Runs a unary call, renewing the token once on an authentication error.
    async fn unary<T, R, F, Fut>(&self, body: T, call: F) -> Result<R, PubSubError>
    where
        T: Clone,
        F: Fn(Grpc<Channel>, tonic::Request<T>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, Status>>,
    {
        let mut token = self.inner.session.token().await?;
        let mut renewed = false;
        loop {
            let grpc = Grpc::new(self.inner.channel.clone());
            match call(grpc, self.request(&token, body.clone())?).await {
                Ok(r) => return Ok(r.into_inner()),
                Err(status) => match classify(&status, &token)? {
                    End::Auth(stale) if !renewed => {
                        renewed = true;
                        token = self.inner.session.token_after_unauthorized(&stale).await?;
                    }
                    _ => {
                        return Err(PubSubError::Refused {
                            code: status.code().to_string(),
                            message: status.message().to_owned(),
                        });
                    }
                },
            }
        }
    }

    /// A schema by id, fetched once (`GetSchema`) and cached.
    pub async fn schema(&self, schema_id: &str) -> Result<Arc<apache_avro::Schema>, PubSubError> {
        if let Some(s) = self.inner.schemas.get(schema_id) {
            return Ok(s);
        }
        let info = self
            .unary(
                SchemaRequest {
                    schema_id: schema_id.to_owned(),
                },
                |mut g, r| async move { g.get_schema(r).await },
            )
            .await?;
        self.inner.schemas.insert(schema_id, &info.schema_json)
    }

    /// Decodes a delivered event with its (cached) schema.
    pub async fn decode_event(
        &self,
        event: &ProducerEvent,
        replay_id: Vec<u8>,
    ) -> Result<Event, PubSubError> {
        let schema = self.schema(&event.schema_id).await?;
        let fields = decode(&schema, &event.payload)?;
        let change = change_header(&schema, &fields);
        Ok(Event {
            id: event.id.clone(),
            schema_id: event.schema_id.clone(),
            replay_id,
            fields,
            change,
        })
    }

    /// Publishes platform events (`/event/Order_Shipped__e`), each given as
    /// JSON fields encoded with the topic's schema; one result per event.
    pub async fn publish(
        &self,
        topic: &str,
        events: &[serde_json::Value],
    ) -> Result<Vec<PublishResult>, PubSubError> {
        let info = self
            .unary(
                TopicRequest {
                    topic_name: topic.to_owned(),
                },
                |mut g, r| async move { g.get_topic(r).await },
            )
            .await?;
        if !info.can_publish {
            return Err(PubSubError::Refused {
                code: "PermissionDenied".into(),
                message: format!("{topic} cannot be published to by this user"),
            });
        }
        let schema = self.schema(&info.schema_id).await?;
        let mut producer = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            producer.push(ProducerEvent {
                id: format!(
                    "evt-{}-{i}",
                    crate::auth::random_token(8).unwrap_or_default()
                ),
                schema_id: info.schema_id.clone(),
                payload: encode(&schema, e)?,
                headers: Vec::new(),
            });
        }
        let body = PublishRequest {
            topic_name: topic.to_owned(),
            events: producer,
            auth_refresh: String::new(),
        };
        // Not retried on a lost answer: publishing again would publish twice.
        let answer = self
            .unary(body, |mut g, r| async move { g.publish(r).await })
            .await?;
        Ok(answer
            .results
            .into_iter()
            .map(|r| PublishResult {
                replay_id: (!r.replay_id.is_empty()).then_some(r.replay_id),
                error: r.error.map(|e| e.msg),
            })
            .collect())
    }

    /// A subscription to `topic` that saves its place in `store`.
    pub fn subscribe(&self, topic: &str, store: Arc<dyn ReplayStore>) -> Subscription {
        Subscription {
            client: self.clone(),
            topic: topic.to_owned(),
            store,
            batch: 100,
            start: StartFrom::Latest,
            backoff: (Duration::from_millis(200), Duration::from_secs(30)),
            max_attempts: 10,
        }
    }
}

/// A subscription: configure it, then [`run`](Self::run) it.
#[derive(Debug)]
pub struct Subscription {
    client: PubSubClient,
    topic: String,
    store: Arc<dyn ReplayStore>,
    batch: i32,
    start: StartFrom,
    backoff: (Duration, Duration),
    max_attempts: u32,
}

impl Subscription {
    /// How many events to ask for at a time (flow control; default 100).
    pub fn batch(mut self, n: u16) -> Self {
        self.batch = i32::from(n.max(1));
        self
    }
    /// Where to start when the store has no replay id (default: latest).
    pub fn start_from(mut self, start: StartFrom) -> Self {
        self.start = start;
        self
    }
    /// The pauses between reconnections (doubling from `first` to `max`),
    /// and how many failed connections in a row end the run (default 10).
    pub fn reconnect(mut self, first: Duration, max: Duration, attempts: u32) -> Self {
        self.backoff = (first, max);
        self.max_attempts = attempts.max(1);
        self
    }

    /// Runs until the handler says [`Flow::Stop`] or fails, or the stream
    /// keeps failing. Each event's replay id is saved after the handler
    /// returns `Ok`, so a restart resumes exactly after the last handled
    /// event. Disconnects reconnect with backoff from the saved replay id; an
    /// expired token is renewed through the session (single-flight) first.
    pub async fn run<H, Fut>(self, mut handler: H) -> Result<(), PubSubError>
    where
        H: FnMut(Event) -> Fut + Send,
        Fut: Future<Output = Result<Flow, Box<dyn std::error::Error + Send + Sync>>> + Send,
    {
        let mut failures = 0u32;
        loop {
            let token = self.client.inner.session.token().await?;
            match self
                .stream_once(&token, &mut handler, &mut failures)
                .await?
            {
                End::Stopped => return Ok(()),
                End::Auth(stale) => {
                    tracing::info!(topic = %self.topic, "Pub/Sub token expired; renewing and resubscribing");
                    self.client
                        .inner
                        .session
                        .token_after_unauthorized(&stale)
                        .await?;
                }
                End::Transient(why) => {
                    failures += 1;
                    if failures >= self.max_attempts {
                        return Err(PubSubError::Unavailable {
                            attempts: failures,
                            last: why,
                        });
                    }
                    let pause = self
                        .backoff
                        .0
                        .saturating_mul(2u32.saturating_pow(failures.min(16) - 1))
                        .min(self.backoff.1);
                    tracing::warn!(topic = %self.topic, attempt = failures, wait_ms = pause.as_millis() as u64, reason = %why, "Pub/Sub stream lost; reconnecting");
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    async fn stream_once<H, Fut>(
        &self,
        token: &Arc<AccessToken>,
        handler: &mut H,
        failures: &mut u32,
    ) -> Result<End, PubSubError>
    where
        H: FnMut(Event) -> Fut + Send,
        Fut: Future<Output = Result<Flow, Box<dyn std::error::Error + Send + Sync>>> + Send,
    {
        let saved = self.store.load(&self.topic).await?;
        let first = match &saved {
            Some(id) => FetchRequest {
                topic_name: self.topic.clone(),
                replay_preset: ReplayPreset::Custom as i32,
                replay_id: id.clone(),
                num_requested: self.batch,
                auth_refresh: String::new(),
            },
            None => FetchRequest {
                topic_name: self.topic.clone(),
                replay_preset: match self.start {
                    StartFrom::Earliest => ReplayPreset::Earliest as i32,
                    StartFrom::Latest => ReplayPreset::Latest as i32,
                },
                replay_id: Vec::new(),
                num_requested: self.batch,
                auth_refresh: String::new(),
            },
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<FetchRequest>(4);
        if tx.send(first).await.is_err() {
            return Ok(End::Transient("the request stream closed".into()));
        }
        let mut grpc = Grpc::new(self.client.inner.channel.clone());
        let request = self
            .client
            .request(token, tokio_stream::wrappers::ReceiverStream::new(rx))?;
        let mut stream = match grpc.subscribe(request).await {
            Ok(r) => r.into_inner(),
            Err(status) => return classify(&status, token),
        };
        let mut outstanding = self.batch;
        loop {
            let response = match stream.message().await {
                Ok(Some(r)) => r,
                Ok(None) => return Ok(End::Transient("the server ended the stream".into())),
                Err(status) => return classify(&status, token),
            };
            if response.events.is_empty() {
                // A keep-alive while we wait for events we asked for: we are
                // caught up, so its replay id is a safe place to resume (and
                // keeps the saved one inside the retention window).
                if outstanding > 0 && !response.latest_replay_id.is_empty() {
                    self.store
                        .save(&self.topic, &response.latest_replay_id)
                        .await?;
                }
            }
            for delivered in response.events {
                let Some(event) = delivered.event else {
                    continue;
                };
                let decoded = self
                    .client
                    .decode_event(&event, delivered.replay_id.clone())
                    .await?;
                let flow = handler(decoded).await.map_err(PubSubError::Handler)?;
                self.store.save(&self.topic, &delivered.replay_id).await?;
                *failures = 0;
                outstanding -= 1;
                if flow == Flow::Stop {
                    return Ok(End::Stopped);
                }
            }
            if outstanding <= 0 || response.pending_num_requested == 0 {
                let more = FetchRequest {
                    topic_name: self.topic.clone(),
                    num_requested: self.batch,
                    ..FetchRequest::default()
                };
                if tx.send(more).await.is_err() {
                    return Ok(End::Transient("the request stream closed".into()));
                }
                outstanding = self.batch;
            }
        }
    }
}
