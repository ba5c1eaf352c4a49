//! The Pub/Sub client: connection and metadata, schemas, topics and
//! publishing; subscriptions are in `subscription.rs`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tonic::Status;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::PubSubError;
use super::events::{
    EventMessage, EventSchema, Schemas, change_header, decode, encode, normalize_temporal,
};
use super::proto::pub_sub_client::PubSubClient as Grpc;
use super::proto::{ProducerEvent, PublishRequest, SchemaRequest, TopicRequest};
use super::replay::ReplayStore;
use super::subscription::{End, Subscription, classify};
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
    /// token, which starts with it (`00D...!`), and sent in its
    /// 18-character form.
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
            // gRPC servers' default policy refuses pings more often than
            // every 5 minutes (and any ping without a call in progress):
            // more eager pings get the connection cut ("too many pings").
            .http2_keep_alive_interval(Duration::from_secs(300))
            .keep_alive_timeout(Duration::from_secs(20))
            .keep_alive_while_idle(false);
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
                .map(|(org, _)| org)
                .filter(|org| org.starts_with("00D"))
                // The 18-character org id, as Salesforce's own clients send
                // it (the token carries the 15-character form).
                .map(|org| {
                    crate::id::SalesforceId::parse(org)
                        .map_or_else(|_| org.to_owned(), |id| id.as_str().to_owned())
                })
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

    pub(super) fn request<T>(
        &self,
        token: &AccessToken,
        body: T,
    ) -> Result<tonic::Request<T>, PubSubError> {
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
    pub async fn schema(&self, schema_id: &str) -> Result<Arc<EventSchema>, PubSubError> {
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
    ) -> Result<EventMessage, PubSubError> {
        let schema = self.schema(&event.schema_id).await?;
        let mut fields = decode(&schema, &event.payload)?;
        normalize_temporal(&schema, &mut fields);
        let change = change_header(&schema, &fields);
        Ok(EventMessage {
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
        Subscription::new(self.clone(), topic, store)
    }

    /// The gRPC channel (cheap to clone).
    pub(super) fn channel(&self) -> Channel {
        self.inner.channel.clone()
    }
}
