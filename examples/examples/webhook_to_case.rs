//! A real webhook server (axum): `GET /webhook` answers Meta's subscription
//! handshake, `POST /webhook` takes signed notifications. For each inbound
//! message: dedup claim, route, create the Case or upsert the Lead, reply with
//! the case number (free-form inside the 24-hour window), mark as read, and keep
//! the latest status of what we sent. It answers 200 only once the work is done
//! (or safely left for Meta's redelivery), 401 to a bad signature, 400 to a
//! malformed body, and keeps serving. Ctrl-C shuts it down gracefully.
//!
//! ```text
//! cargo run --example webhook_to_case            # serves on BIND_ADDR (127.0.0.1:3000)
//! cargo run --example webhook_to_case -- --demo  # sandbox: sends itself webhooks, then exits
//! ```
//!
//! Reads `BIND_ADDR`, `WHATSAPP_APP_SECRET`, `WHATSAPP_VERIFY_TOKEN`,
//! `WHATSAPP_*` and `SALESFORCE_*` (real APIs when set), `REDIS_URL` (shared
//! dedup across instances).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bridge_core::dedup::DedupStore;
use bridge_core::pipeline::{Bridge, Outcome};
use bridge_core::writer::SalesforceWriter;
use examples::{Backends, BoxError};
use whatsapp_cloud::webhooks::axum::{HandlerError, WebhookHandler, router};
use whatsapp_cloud::webhooks::{Event, Notification, StatusKind};

/// The webhook handler: the bridge plus a record of delivery statuses.
#[derive(Clone)]
pub struct App {
    bridge: Bridge,
    whatsapp: whatsapp_cloud::Client,
    statuses: Arc<Mutex<HashMap<String, StatusKind>>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl WebhookHandler for App {
    async fn handle(&self, notification: Notification) -> Result<(), HandlerError> {
        self.record_statuses(&notification);
        let report = self.bridge.handle_notification(&notification).await;
        for outcome in &report.outcomes {
            if let Outcome::Processed { message_id, .. } = outcome
                && let Err(e) = self.whatsapp.mark_read(message_id).await
            {
                tracing::warn!(error = %e, "mark as read failed");
            }
        }
        if report.may_acknowledge() {
            Ok(())
        } else {
            let first = report
                .failures
                .iter()
                .find(|e| e.is_retryable())
                .map(ToString::to_string)
                .unwrap_or_default();
            Err(format!(
                "{} message(s) failed and will be redelivered: {first}",
                report.failures.len()
            )
            .into())
        }
    }
}

impl App {
    fn record_statuses(&self, n: &Notification) {
        let Ok(mut map) = self.statuses.lock() else {
            return;
        };
        for event in n.events() {
            if let Event::Status(s) = event {
                let current = map.get(&s.status.id);
                if s.status.status.advances(current) {
                    map.insert(s.status.id.clone(), s.status.status.clone());
                }
            }
        }
    }

    /// The latest status of a message we sent.
    pub fn status_of(&self, message_id: &str) -> Option<StatusKind> {
        self.statuses
            .lock()
            .ok()
            .and_then(|m| m.get(message_id).cloned())
    }
}

/// Builds the app and its router (`/webhook`, `/health`).
pub fn build(b: &Backends, dedup: Arc<dyn DedupStore>) -> (App, axum::Router) {
    let mut writer = SalesforceWriter::new(b.salesforce.clone());
    if b.org.is_some() {
        writer = writer.message_id_field("WhatsApp_Message_Id__c");
    }
    let bridge = Bridge::builder(Arc::new(writer))
        .dedup(dedup)
        .sender(Arc::new(b.whatsapp.clone()))
        .build();
    let app = App {
        bridge,
        whatsapp: b.whatsapp.clone(),
        statuses: Arc::default(),
    };
    let routes = axum::Router::new()
        .nest("/webhook", router(b.webhook.clone(), app.clone()))
        .route("/health", axum::routing::get(|| async { "ok" }));
    (app, routes)
}

async fn demo(addr: std::net::SocketAddr, b: &Backends) -> Result<(), BoxError> {
    use whatsapp_cloud::testkit::{payloads, signed_webhook};
    let http = reqwest_client()?;
    let url = format!("http://{addr}/webhook");
    let hs = http
        .get(format!(
            "{url}?hub.mode=subscribe&hub.verify_token={}&hub.challenge=42",
            examples::SANDBOX_VERIFY_TOKEN
        ))
        .send()
        .await?;
    println!(
        "GET  /webhook (handshake)      -> {} {}",
        hs.status(),
        hs.text().await?
    );
    let (body, sig) = signed_webhook(
        &payloads::text_message(
            "14155550123",
            "Ana Lima",
            "wamid.DEMO1",
            "The blender I bought is not working",
        ),
        &b.app_secret,
    );
    for label in [
        "POST /webhook (new message)   ",
        "POST /webhook (redelivery)    ",
    ] {
        let r = http
            .post(&url)
            .header("x-hub-signature-256", &sig)
            .body(body.clone())
            .send()
            .await?;
        println!("{label} -> {}", r.status());
    }
    let r = http
        .post(&url)
        .header("x-hub-signature-256", "sha256=00")
        .body(body.clone())
        .send()
        .await?;
    println!("POST /webhook (bad signature)  -> {}", r.status());
    let (junk, junk_sig) = signed_webhook("{\"object\":", &b.app_secret);
    let r = http
        .post(&url)
        .header("x-hub-signature-256", junk_sig)
        .body(junk)
        .send()
        .await?;
    println!("POST /webhook (malformed body) -> {}", r.status());
    if let (Some(org), Some(graph)) = (&b.org, &b.graph) {
        println!(
            "sandbox: {} Case(s) created, {} WhatsApp message(s) sent, {} read receipt(s)",
            org.records("Case").len(),
            graph.sent_messages().await.len(),
            graph.read_receipts().await.len()
        );
    }
    Ok(())
}

fn reqwest_client() -> Result<reqwest::Client, BoxError> {
    Ok(reqwest::Client::builder().build()?)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    examples::init_tracing();
    let demo_mode = std::env::args().any(|a| a == "--demo");
    let b = Backends::from_env().await?;
    let (dedup, dedup_kind) = examples::dedup_store().await?;
    let (_app, routes) = build(&b, dedup);
    let bind = if demo_mode {
        "127.0.0.1:0".to_owned()
    } else {
        std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into())
    };
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    let addr = listener.local_addr()?;
    println!(
        "webhook_to_case listening on http://{addr}/webhook ({}; dedup in {dedup_kind})",
        b.describe()
    );
    if b.is_sandbox() && !demo_mode {
        println!(
            "sandbox: verify token {:?}, app secret {:?}; try --demo, or point Meta at a tunnel to this address",
            examples::SANDBOX_VERIFY_TOKEN,
            b.app_secret
        );
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, routes)
            .with_graceful_shutdown(async move {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = stop_rx => {}
                }
            })
            .await
    });
    // Outside demo mode the sender stays alive, so only Ctrl-C stops the server.
    let keep_running = if demo_mode {
        demo(addr, &b).await?;
        let _ = stop_tx.send(());
        None
    } else {
        Some(stop_tx)
    };
    server.await??;
    drop(keep_running);
    println!("shut down cleanly");
    Ok(())
}
