//! A ready axum router and extractor for the webhook endpoint (feature `axum`).
//!
//! The router answers `GET` with the subscription handshake and `POST` by
//! reading the raw body under the size limit, checking the signature, parsing,
//! and handing the notification to your [`WebhookHandler`]. A wrong signature
//! gets 401, a malformed body 400, an oversized one 413, a handler failure 500
//! (so that Meta delivers it again); the server stays up in every case.
//!
//! ```
//! use secrecy::SecretString;
//! use whatsapp_cloud::webhooks::axum::{router, HandlerError, WebhookHandler};
//! use whatsapp_cloud::webhooks::{Notification, WebhookConfig};
//!
//! struct Inbox;
//! #[async_trait::async_trait]
//! impl WebhookHandler for Inbox {
//!     async fn handle(&self, notification: Notification) -> Result<(), HandlerError> {
//!         for event in notification.events() {
//!             // dedup, route, write to the CRM... then answer 200.
//!             let _ = event.dedup_key();
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let config = WebhookConfig::new(&SecretString::from("app-secret"))
//!     .verify_token(SecretString::from("verify-me"));
//! let app: axum::Router = axum::Router::new().nest("/webhook", router(config, Inbox));
//! ```

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRef, FromRequest, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{Notification, SIGNATURE_HEADER, SubscriptionQuery, WebhookConfig, WebhookError};

/// An error from a [`WebhookHandler`]: the endpoint answers 500, so Meta retries.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// What the app does with each verified notification. Implemented with
/// `#[async_trait]`, like every plug-in trait of the workspace (so it can be
/// used as `Arc<dyn WebhookHandler>`).
#[async_trait::async_trait]
pub trait WebhookHandler: Send + Sync + 'static {
    /// Handles a verified, parsed notification. Return `Ok` only once the work is
    /// done or safely queued: the endpoint then answers 200 and Meta will not
    /// deliver it again.
    async fn handle(&self, notification: Notification) -> Result<(), HandlerError>;
}

#[async_trait::async_trait]
impl<H: WebhookHandler + ?Sized> WebhookHandler for Arc<H> {
    async fn handle(&self, notification: Notification) -> Result<(), HandlerError> {
        (**self).handle(notification).await
    }
}

struct AppState<H> {
    config: WebhookConfig,
    handler: H,
}

/// A router with `GET /` (handshake) and `POST /` (notifications); nest it
/// where the callback URL points (`/webhook`).
pub fn router<H: WebhookHandler>(config: WebhookConfig, handler: H) -> axum::Router {
    let state = Arc::new(AppState { config, handler });
    axum::Router::new()
        .route("/", get(handshake::<H>).post(receive::<H>))
        .with_state(state)
}

async fn handshake<H: WebhookHandler>(
    State(state): State<Arc<AppState<H>>>,
    RawQuery(query): RawQuery,
) -> Response {
    let q = SubscriptionQuery::from_query(query.as_deref().unwrap_or(""));
    match state.config.handshake(&q) {
        Ok(challenge) => {
            tracing::info!("webhook subscription verified");
            ([(header::CONTENT_TYPE, "text/plain")], challenge).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "webhook handshake refused");
            WebhookRejection(e).into_response()
        }
    }
}

async fn receive<H: WebhookHandler>(
    State(state): State<Arc<AppState<H>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = std::time::Instant::now();
    let response = match read_verified(&state.config, &headers, body).await {
        Ok(notification) => {
            record::webhook_events(&notification);
            match state.handler.handle(notification).await {
                Ok(()) => StatusCode::OK.into_response(),
                Err(e) => {
                    tracing::error!(error = %e, "webhook handler failed; answering 500 so Meta redelivers");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "webhook refused");
            record::webhook_refused(&e);
            WebhookRejection(e).into_response()
        }
    };
    crate::metrics::webhook_answered(response.status().as_u16(), started.elapsed());
    response
}

async fn read_verified(
    config: &WebhookConfig,
    headers: &HeaderMap,
    body: Body,
) -> Result<Notification, WebhookError> {
    let limit = config.body_limit();
    let too_large = |size: usize| WebhookError::BodyTooLarge { size, limit };
    // Refuse early when the client announces a body over the limit.
    if let Some(len) = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|len| *len > limit)
    {
        return Err(too_large(len));
    }
    let deadline = config.body_deadline();
    let read = tokio::time::timeout(deadline, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| WebhookError::BodyTimeout(deadline))?;
    let bytes = read.map_err(|e| {
        let over_limit = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if over_limit {
            too_large(limit.saturating_add(1))
        } else {
            WebhookError::InvalidBody {
                problem: "the body could not be read completely".into(),
            }
        }
    })?;
    let signature = headers
        .get(SIGNATURE_HEADER)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    config.receive(signature, &bytes)
}

/// An extractor for your own POST handler: the body, checked and parsed with the
/// [`WebhookConfig`] found in the router state.
#[derive(Debug)]
pub struct VerifiedWebhook(pub Notification);

impl<S> FromRequest<S> for VerifiedWebhook
where
    S: Send + Sync,
    WebhookConfig: FromRef<S>,
{
    type Rejection = WebhookRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let config = WebhookConfig::from_ref(state);
        let (parts, body) = req.into_parts();
        read_verified(&config, &parts.headers, body)
            .await
            .map(VerifiedWebhook)
            .map_err(WebhookRejection)
    }
}

/// A refused webhook request, answered with the matching status.
#[derive(Debug)]
pub struct WebhookRejection(pub WebhookError);

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        (status, self.0.to_string()).into_response()
    }
}

/// Limits of [`serve`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    /// How long a client may take to send its request headers (default 10 s);
    /// then the connection is closed.
    pub header_timeout: std::time::Duration,
    /// Connections served at once (default 1,024); more wait to be accepted.
    pub max_connections: usize,
    /// On shutdown, how long open connections may finish (default 30 s).
    pub shutdown_grace: std::time::Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_timeout: std::time::Duration::from_secs(10),
            max_connections: 1024,
            shutdown_grace: std::time::Duration::from_secs(30),
        }
    }
}

impl ServeOptions {
    /// Sets the header deadline.
    pub fn header_timeout(mut self, t: std::time::Duration) -> Self {
        self.header_timeout = t;
        self
    }
    /// Sets the connection cap (at least 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }
}

/// Serves a router (HTTP/1.1) with a header-read deadline and a cap on
/// concurrent connections, so that slow or stalled clients cannot hold the
/// server; the body deadline is the [`WebhookConfig`]'s. Returns when
/// `shutdown` completes and open connections finished (or the grace ran out).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let permits = Arc::new(tokio::sync::Semaphore::new(options.max_connections.max(1)));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, _peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(app.clone());
        let header_timeout = options.header_timeout;
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(options.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

/// What the router records in the `metrics` facade about the webhooks it
/// takes (the names are in [`crate::metrics`]).
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
mod record {
    /// A webhook refused for its signature (other refusals are not counted here).
    pub(super) fn webhook_refused(error: &crate::webhooks::WebhookError) {
        use crate::webhooks::WebhookError;
        let reason = match error {
            WebhookError::MissingSignature => "missing",
            WebhookError::MalformedSignature(_) => "malformed",
            WebhookError::SignatureMismatch => "mismatch",
            _ => return,
        };
        #[cfg(feature = "metrics")]
        metrics::counter!(crate::metrics::WEBHOOK_SIGNATURE_FAILURES, "reason" => reason)
            .increment(1);
    }

    /// The events of an accepted notification.
    pub(super) fn webhook_events(notification: &crate::webhooks::Notification) {
        #[cfg(feature = "metrics")]
        for event in notification.events() {
            use crate::webhooks::Event;
            let kind = match &event {
                Event::Message(_) => "message",
                Event::Status(s) => {
                    metrics::counter!(crate::metrics::STATUSES, "status" => status_label(&s.status.status))
                        .increment(1);
                    "status"
                }
                Event::Error(_) => "error",
                Event::TemplateStatus(_) => "template_status",
                Event::Echo(_) => "echo",
                Event::Preference(_) => "preference",
                Event::Call(_) => "call",
                Event::CallStatus(_) => "call_status",
                Event::Update(_) => "update",
                Event::Other(_) => "other",
                Event::Invalid(_) => "invalid",
            };
            metrics::counter!(crate::metrics::WEBHOOK_EVENTS, "kind" => kind).increment(1);
        }
    }

    /// A bounded label for a status: unknown values are `other`.
    #[cfg(feature = "metrics")]
    fn status_label(status: &crate::webhooks::StatusKind) -> &'static str {
        use crate::webhooks::StatusKind;
        match status {
            StatusKind::Sent => "sent",
            StatusKind::Delivered => "delivered",
            StatusKind::Read => "read",
            StatusKind::Played => "played",
            StatusKind::Failed => "failed",
            _ => "other",
        }
    }
}
