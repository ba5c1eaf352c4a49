//! The subscription loop: a supervisor that keeps one topic flowing through
//! ordinary faults. Disconnects, outages, a failing handler and refused
//! tokens are retried with capped, jittered backoff (the replay id is not
//! advanced, so nothing is skipped); a replay id past the retention window
//! resubscribes from a preset and reports a [`Gap`]; an event that cannot be
//! decoded is dead-lettered and skipped. Only configuration errors (unknown
//! topic, no permission) end the run.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use tonic::{Code, Status};

use super::PubSubError;
use super::client::PubSubClient;
use super::events::EventMessage;
use super::proto::pub_sub_client::PubSubClient as Grpc;
use super::proto::{ConsumerEvent, FetchRequest, ReplayPreset};
use super::replay::{DeadEvent, ReplayStore};
use crate::auth::AccessToken;
use crate::shared::{jitter, jittered_backoff};

/// A handler's error.
pub type EventHandlerError = Box<dyn std::error::Error + Send + Sync>;

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

/// The saved replay id was refused (older than the retention window, or
/// corrupt): the subscription went on from [`Gap::resumed_from`], and the
/// events in between may be lost. Catch up another way (a poll since the
/// last handled change).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gap {
    /// The topic.
    pub topic: String,
    /// The replay id the server refused.
    pub refused_replay_id: Vec<u8>,
    /// Where the subscription resumed.
    pub resumed_from: StartFrom,
    /// The server's reason.
    pub reason: String,
}

/// A callback for each [`Gap`].
pub type GapCallback = Arc<dyn Fn(&Gap) + Send + Sync>;

/// What a subscriber is doing, for readiness checks and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriberState {
    /// Connecting for the first time.
    Starting,
    /// A stream is open and answering (events or keep-alives).
    Streaming,
    /// Waiting before a reconnection (an outage, a failing handler).
    Retrying,
    /// The server refuses our tokens even fresh ones: retrying slowly.
    AuthRefused,
    /// The run ended.
    Stopped,
}

/// A subscriber's health: its state and counters since it started.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriberHealth {
    /// What it is doing.
    pub state: SubscriberState,
    /// Events handled.
    pub events: u64,
    /// Reconnections after a fault.
    pub reconnects: u64,
    /// Events dead-lettered (undecodable payload, unknown schema).
    pub dead_letters: u64,
    /// Refused replay ids ([`Gap`]s).
    pub gaps: u64,
    /// The last fault, as text (no event data).
    pub last_error: Option<String>,
}

impl SubscriberHealth {
    fn new() -> Self {
        Self {
            state: SubscriberState::Starting,
            events: 0,
            reconnects: 0,
            dead_letters: 0,
            gaps: 0,
            last_error: None,
        }
    }

    /// Whether a stream is open and answering.
    pub fn is_ready(&self) -> bool {
        self.state == SubscriberState::Streaming
    }
}

/// How a stream (or a call) ended.
#[derive(Debug)]
pub(super) enum End {
    Stopped,
    Auth(Arc<AccessToken>),
    /// The saved replay id was refused.
    Replay(String),
    Transient(String),
    /// The handler failed: the same events come again after a pause.
    Handler(EventHandlerError),
}

/// Whether a refused call is about the replay id (Salesforce's
/// `sfdc.platform.eventbus.grpc.subscription.fetch.replayid.*` error codes).
fn replay_refused(status: &Status) -> bool {
    let code = status
        .metadata()
        .get("error-code")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let message = status.message().to_ascii_lowercase();
    code.contains("replayid") || (message.contains("replay") && message.contains("id"))
}

/// Sorts a gRPC failure: renew, resubscribe elsewhere, retry, or give up.
pub(super) fn classify(status: &Status, token: &Arc<AccessToken>) -> Result<End, PubSubError> {
    let auth = status.code() == Code::Unauthenticated
        || status
            .metadata()
            .get("error-code")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.contains("auth"));
    match status.code() {
        _ if auth => Ok(End::Auth(token.clone())),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange
            if replay_refused(status) =>
        {
            Ok(End::Replay(status.message().to_owned()))
        }
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

/// Whether a refused unary call may succeed later (by its status code name).
fn transient_code(code: &str) -> bool {
    let transient = [
        Code::Unavailable,
        Code::Internal,
        Code::Unknown,
        Code::Cancelled,
        Code::DeadlineExceeded,
        Code::ResourceExhausted,
        Code::Aborted,
        Code::Unauthenticated,
    ];
    transient.iter().any(|c| c.to_string() == code)
}

/// What the run does with the events of one delivery.
#[async_trait]
trait Sink: Send {
    /// Handles `events` (decoded, in order) and saves where to resume.
    async fn take(
        &mut self,
        events: Vec<EventMessage>,
        store: &dyn ReplayStore,
        topic: &str,
    ) -> Result<Flow, End>;
}

/// One event at a time, each saved after its handler returns.
struct Each<H>(H);

#[async_trait]
impl<H, Fut> Sink for Each<H>
where
    H: FnMut(EventMessage) -> Fut + Send,
    Fut: Future<Output = Result<Flow, EventHandlerError>> + Send,
{
    async fn take(
        &mut self,
        events: Vec<EventMessage>,
        store: &dyn ReplayStore,
        topic: &str,
    ) -> Result<Flow, End> {
        for event in events {
            let replay_id = event.replay_id.clone();
            let flow = (self.0)(event).await.map_err(End::Handler)?;
            store
                .save(topic, &replay_id)
                .await
                .map_err(|e| End::Transient(e.to_string()))?;
            if flow == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }
}

/// A delivery at a time (up to the batch size): one read-back for many.
struct Batch<H>(H);

#[async_trait]
impl<H, Fut> Sink for Batch<H>
where
    H: FnMut(Vec<EventMessage>) -> Fut + Send,
    Fut: Future<Output = Result<Flow, EventHandlerError>> + Send,
{
    async fn take(
        &mut self,
        events: Vec<EventMessage>,
        store: &dyn ReplayStore,
        topic: &str,
    ) -> Result<Flow, End> {
        let Some(last) = events.last().map(|e| e.replay_id.clone()) else {
            return Ok(Flow::Continue);
        };
        let flow = (self.0)(events).await.map_err(End::Handler)?;
        store
            .save(topic, &last)
            .await
            .map_err(|e| End::Transient(e.to_string()))?;
        Ok(flow)
    }
}

/// A subscription: configure it, then [`run`](Self::run) it (or
/// [`run_batches`](Self::run_batches)).
pub struct Subscription {
    client: PubSubClient,
    topic: String,
    store: Arc<dyn ReplayStore>,
    batch: i32,
    start: StartFrom,
    after_gap: StartFrom,
    backoff: (Duration, Duration),
    auth_backoff: (Duration, Duration),
    give_up_after: Option<u32>,
    on_gap: Option<GapCallback>,
    health: watch::Sender<SubscriberHealth>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("topic", &self.topic)
            .field("batch", &self.batch)
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub(super) fn new(client: PubSubClient, topic: &str, store: Arc<dyn ReplayStore>) -> Self {
        Self {
            client,
            topic: topic.to_owned(),
            store,
            batch: 100,
            start: StartFrom::Latest,
            after_gap: StartFrom::Earliest,
            backoff: (Duration::from_millis(200), Duration::from_secs(30)),
            auth_backoff: (Duration::from_secs(2), Duration::from_secs(120)),
            give_up_after: None,
            on_gap: None,
            health: watch::channel(SubscriberHealth::new()).0,
        }
    }

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

    /// Where to resume when the saved replay id is refused (older than the
    /// retention window): default [`StartFrom::Earliest`], every event still
    /// retained. Each such resumption is a [`Gap`].
    pub fn after_gap(mut self, start: StartFrom) -> Self {
        self.after_gap = start;
        self
    }

    /// Called for each [`Gap`] (start a catch-up poll from it).
    pub fn on_gap(mut self, callback: impl Fn(&Gap) + Send + Sync + 'static) -> Self {
        self.on_gap = Some(Arc::new(callback));
        self
    }

    /// The pauses between reconnections after a fault: doubling from
    /// `first` up to `max`, jittered (default 200 ms to 30 s).
    pub fn reconnect(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = (first, max.max(first));
        self
    }

    /// The pauses while the server refuses fresh tokens: one renewal per
    /// pause, doubling from `first` up to `max`, jittered (default 2 s to
    /// 2 minutes), so a refusing org never sees a storm of logins.
    pub fn auth_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.auth_backoff = (first, max.max(first));
        self
    }

    /// Ends the run with [`PubSubError::Unavailable`] after this many faults
    /// in a row with nothing delivered between them. By default a subscriber
    /// never gives up on ordinary faults (it is a long-running service).
    pub fn give_up_after(mut self, attempts: u32) -> Self {
        self.give_up_after = Some(attempts.max(1));
        self
    }

    /// The subscriber's health, updated as it runs (take it before `run`).
    pub fn health(&self) -> watch::Receiver<SubscriberHealth> {
        self.health.subscribe()
    }

    /// Runs until the handler says [`Flow::Stop`] or a configuration error
    /// ends it. Each event's replay id is saved after the handler returns
    /// `Ok`, so a restart resumes exactly after the last handled event. A
    /// handler error is retried after a pause with the same event (nothing
    /// is skipped): make the handler idempotent.
    pub async fn run<H, Fut>(self, handler: H) -> Result<(), PubSubError>
    where
        H: FnMut(EventMessage) -> Fut + Send,
        Fut: Future<Output = Result<Flow, EventHandlerError>> + Send,
    {
        self.supervise(Each(handler)).await
    }

    /// As [`run`](Self::run), with the events of each delivery together (up
    /// to [`batch`](Self::batch) of them): one read-back query can serve
    /// them all. The last one's replay id is saved after the handler
    /// returns `Ok`; an error delivers the same events again after a pause.
    pub async fn run_batches<H, Fut>(self, handler: H) -> Result<(), PubSubError>
    where
        H: FnMut(Vec<EventMessage>) -> Fut + Send,
        Fut: Future<Output = Result<Flow, EventHandlerError>> + Send,
    {
        self.supervise(Batch(handler)).await
    }

    fn update(&self, f: impl FnOnce(&mut SubscriberHealth)) {
        self.health.send_modify(f);
    }

    async fn supervise(self, mut sink: impl Sink) -> Result<(), PubSubError> {
        let result = self.supervise_inner(&mut sink).await;
        self.update(|h| h.state = SubscriberState::Stopped);
        result
    }

    async fn supervise_inner(&self, sink: &mut impl Sink) -> Result<(), PubSubError> {
        let mut faults = 0u32;
        let mut auth_faults = 0u32;
        // Set after a refused replay id: where the next stream starts instead.
        let mut preset: Option<StartFrom> = None;
        loop {
            let token = match self.client.session().token().await {
                Ok(t) => t,
                Err(e) if e.is_retryable() => {
                    faults += 1;
                    self.pause(faults, &e.to_string()).await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let mut healthy = false;
            let end = self.stream_once(&token, sink, preset, &mut healthy).await?;
            if healthy {
                // A stream that made progress (events handled, keep-alives)
                // was healthy: the next fault is a first one again.
                faults = 0;
                auth_faults = 0;
                preset = None;
            }
            match end {
                End::Stopped => return Ok(()),
                End::Auth(stale) => {
                    auth_faults += 1;
                    if auth_faults > 1 {
                        // Even a fresh token was refused: say so, wait, and
                        // renew once per pause.
                        self.update(|h| h.state = SubscriberState::AuthRefused);
                        let wait = jittered_backoff(
                            self.auth_backoff.0,
                            self.auth_backoff.1,
                            auth_faults - 1,
                            16,
                            jitter(),
                        );
                        tracing::warn!(topic = %self.topic, attempt = auth_faults, wait_ms = wait.as_millis() as u64, "the Pub/Sub API refuses a fresh token; retrying slowly");
                        tokio::time::sleep(wait).await;
                    } else {
                        tracing::info!(topic = %self.topic, "Pub/Sub token expired; renewing and resubscribing");
                    }
                    if let Err(e) = self.client.session().token_after_unauthorized(&stale).await {
                        if !e.is_retryable() {
                            return Err(e.into());
                        }
                        tracing::warn!(topic = %self.topic, error = %e, "renewing the Pub/Sub token failed; retrying");
                    }
                }
                End::Replay(reason) => {
                    let refused = self.store.load(&self.topic).await.ok().flatten();
                    match (refused, preset) {
                        (Some(id), None) => {
                            let gap = Gap {
                                topic: self.topic.clone(),
                                refused_replay_id: id,
                                resumed_from: self.after_gap,
                                reason,
                            };
                            tracing::warn!(topic = %self.topic, resumed_from = ?self.after_gap, reason = %gap.reason, "the saved replay id was refused (past the retention window?): resubscribing from a preset; events in between may be lost");
                            self.update(|h| h.gaps += 1);
                            if let Some(cb) = &self.on_gap {
                                cb(&gap);
                            }
                            preset = Some(self.after_gap);
                        }
                        _ => {
                            return Err(PubSubError::Refused {
                                code: Code::InvalidArgument.to_string(),
                                message: reason,
                            });
                        }
                    }
                }
                End::Transient(why) => {
                    faults += 1;
                    self.pause(faults, &why).await?;
                }
                End::Handler(e) => {
                    faults += 1;
                    let why = format!("the event handler failed: {e}");
                    self.pause(faults, &why).await?;
                }
            }
        }
    }

    /// Counts a fault, gives up when configured to, else waits.
    async fn pause(&self, faults: u32, why: &str) -> Result<(), PubSubError> {
        let (first, max) = self.backoff;
        if self.give_up_after.is_some_and(|n| faults >= n) {
            return Err(PubSubError::Unavailable {
                attempts: faults,
                last: why.to_owned(),
            });
        }
        let wait = jittered_backoff(first, max, faults, 16, jitter());
        tracing::warn!(topic = %self.topic, attempt = faults, wait_ms = wait.as_millis() as u64, reason = %why, "Pub/Sub subscriber: a fault; retrying");
        crate::metrics::pubsub_reconnect();
        self.update(|h| {
            h.state = SubscriberState::Retrying;
            h.reconnects += 1;
            h.last_error = Some(why.to_owned());
        });
        tokio::time::sleep(wait).await;
        Ok(())
    }

    fn first_request(&self, saved: Option<Vec<u8>>, preset: Option<StartFrom>) -> FetchRequest {
        let preset_of = |s: StartFrom| match s {
            StartFrom::Earliest => ReplayPreset::Earliest as i32,
            StartFrom::Latest => ReplayPreset::Latest as i32,
        };
        let (replay_preset, replay_id) = match (preset, saved) {
            (Some(p), _) => (preset_of(p), Vec::new()),
            (None, Some(id)) => (ReplayPreset::Custom as i32, id),
            (None, None) => (preset_of(self.start), Vec::new()),
        };
        FetchRequest {
            topic_name: self.topic.clone(),
            replay_preset,
            replay_id,
            num_requested: self.batch,
            auth_refresh: String::new(),
        }
    }

    async fn stream_once(
        &self,
        token: &Arc<AccessToken>,
        sink: &mut impl Sink,
        preset: Option<StartFrom>,
        healthy: &mut bool,
    ) -> Result<End, PubSubError> {
        let saved = match self.store.load(&self.topic).await {
            Ok(s) => s,
            Err(e) => return Ok(End::Transient(e.to_string())),
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<FetchRequest>(4);
        if tx.send(self.first_request(saved, preset)).await.is_err() {
            return Ok(End::Transient("the request stream closed".into()));
        }
        let mut grpc = Grpc::new(self.client.channel());
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
            self.update(|h| h.state = SubscriberState::Streaming);
            if response.events.is_empty() {
                // A keep-alive: the stream is healthy.
                *healthy = true;
                // A keep-alive while we wait for events we asked for: we are
                // caught up, so its replay id is a safe place to resume (and
                // keeps the saved one inside the retention window).
                if outstanding > 0
                    && !response.latest_replay_id.is_empty()
                    && let Err(e) = self
                        .store
                        .save(&self.topic, &response.latest_replay_id)
                        .await
                {
                    return Ok(End::Transient(e.to_string()));
                }
            }
            let delivered = i32::try_from(response.events.len()).unwrap_or(i32::MAX);
            let last = response.events.last().map(|e| e.replay_id.clone());
            let mut events = Vec::with_capacity(response.events.len());
            for consumer in response.events {
                match self.decode(consumer).await {
                    Ok(Some(e)) => events.push(e),
                    Ok(None) => {}
                    Err(end) => return Ok(end),
                }
            }
            let handled = u64::try_from(events.len()).unwrap_or(u64::MAX);
            record_events(&events);
            let flow = match sink.take(events, &*self.store, &self.topic).await {
                Ok(flow) => flow,
                Err(end) => return Ok(end),
            };
            // Progress (a failing handler is not): the stream is healthy.
            *healthy = true;
            self.update(|h| {
                h.events += handled;
                h.state = SubscriberState::Streaming;
            });
            if flow == Flow::Stop {
                return Ok(End::Stopped);
            }
            // Dead-lettered events at the end of a delivery are behind us too.
            if let Some(last) = last
                && let Err(e) = self.store.save(&self.topic, &last).await
            {
                return Ok(End::Transient(e.to_string()));
            }
            outstanding -= delivered;
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

    /// Decodes a delivered event. An undecodable payload, or a schema the
    /// server does not know after a few tries, is dead-lettered (`Ok(None)`);
    /// a transient failure fetching the schema ends the stream to retry.
    async fn decode(&self, consumer: ConsumerEvent) -> Result<Option<EventMessage>, End> {
        let Some(event) = consumer.event else {
            return Ok(None);
        };
        let mut tries = 0u32;
        let reason = loop {
            tries += 1;
            match self
                .client
                .decode_event(&event, consumer.replay_id.clone())
                .await
            {
                Ok(e) => return Ok(Some(e)),
                Err(PubSubError::Decode(why)) => break format!("undecodable payload: {why}"),
                Err(PubSubError::Refused { code, message }) if !transient_code(&code) => {
                    if tries >= 3 {
                        break format!("schema {} refused ({code}): {message}", event.schema_id);
                    }
                    tokio::time::sleep(Duration::from_millis(200) * tries).await;
                }
                Err(e) => return Err(End::Transient(e.to_string())),
            }
        };
        let dead = DeadEvent::new(
            consumer.replay_id,
            event.schema_id,
            event.id,
            event.payload,
            reason,
        );
        tracing::warn!(topic = %self.topic, event_id = %dead.event_id, schema_id = %dead.schema_id, reason = %dead.reason, "a Pub/Sub event cannot be processed: dead-lettered, moving on");
        if let Err(e) = self.store.dead_letter(&self.topic, &dead).await {
            return Err(End::Transient(format!(
                "the dead letter could not be saved: {e}"
            )));
        }
        crate::metrics::pubsub_dead_letter();
        self.update(|h| h.dead_letters += 1);
        Ok(None)
    }
}

/// Pub/Sub events handed over, with their age when known.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
fn record_events(events: &[super::EventMessage]) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(crate::metrics::PUBSUB_EVENTS).increment(events.len() as u64);
        let now = chrono::Utc::now().timestamp_millis();
        for e in events {
            let at = e
                .change
                .as_ref()
                .map(|c| c.commit_timestamp)
                .filter(|t| *t > 0)
                .or_else(|| e.datetime("CreatedDate").map(|d| d.timestamp_millis()));
            if let Some(at) = at {
                let lag = (now - at).max(0) as f64 / 1000.0;
                metrics::histogram!(crate::metrics::PUBSUB_LAG_SECONDS).record(lag);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_with_code(code: Code, message: &str, error_code: &str) -> Status {
        let mut s = Status::new(code, message);
        if let Ok(v) = error_code.parse() {
            s.metadata_mut().insert("error-code", v);
        }
        s
    }

    #[test]
    fn a_refused_replay_id_is_recognised_by_code_or_message() {
        assert!(replay_refused(&status_with_code(
            Code::InvalidArgument,
            "The Replay ID validation failed.",
            "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.validation.failed"
        )));
        assert!(replay_refused(&status_with_code(
            Code::InvalidArgument,
            "bad",
            "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
        )));
        assert!(replay_refused(&Status::invalid_argument(
            "replay id validation failed"
        )));
        assert!(!replay_refused(&Status::invalid_argument(
            "topic name is malformed"
        )));
    }

    #[test]
    fn transient_codes_are_the_retryable_ones() {
        assert!(transient_code(&Code::Unavailable.to_string()));
        assert!(!transient_code(&Code::NotFound.to_string()));
        assert!(!transient_code(&Code::PermissionDenied.to_string()));
    }
}
