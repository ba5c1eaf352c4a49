//! A real webhook server (axum) on a durable inbox and outbox.
//!
//! `GET /webhook` answers Meta's subscription handshake; `POST /webhook`
//! verifies the signature, enqueues every message and status of the
//! notification **durably**, and answers 200 at once (500 only when the
//! enqueue itself failed, so Meta redelivers). Workers then do the work: dedup,
//! route, create the Case or upsert the Lead, reply with the case number
//! through the outbox (free-form inside the 24-hour window), and mark the
//! message as read. Ctrl-C stops it gracefully.
//!
//! `GET /metrics` serves Prometheus metrics (queues, messages by outcome,
//! end-to-end and acknowledgement latency, Salesforce calls and API usage,
//! WhatsApp sends and statuses; names in the README).
//!
//! `GET /health` is a liveness probe (the process answers). `GET /ready` is a
//! readiness probe: 200 `{"ready":true,"reasons":[]}` when the store takes
//! writes, the workers run and neither Salesforce nor WhatsApp refused the
//! credentials on its last call; 503 with the reasons otherwise. In
//! Kubernetes, point `livenessProbe` at `/health` and `readinessProbe` at
//! `/ready`; under systemd, a timer running `curl -fsS localhost:3000/ready`
//! (or the service manager's health check) does the same.
//!
//! **Delivery guarantees.** A 200 means every event is on disk (the embedded
//! store in `BRIDGE_DATA_DIR`, fsynced) or in Redis (`REDIS_URL`): a crash or
//! `kill -9` after it loses nothing: a restart picks the jobs up at once (the
//! embedded store voids a dead process's leases), and with Redis another
//! instance takes them over within `BRIDGE_LEASE_SECS` (live workers renew
//! their leases). Nothing is done twice: a redelivered message is the same job;
//! Cases are upserted on the message id; the record written and the id of every
//! message sent are checkpointed before a job is acknowledged, so an attempt
//! after a crash neither writes nor sends again. Failures are retried with
//! backoff; what cannot succeed (e.g. 131047, outside the window) is kept as a
//! dead letter to inspect and replay.
//!
//! ```text
//! cargo run --example webhook_to_case                  # serves on BIND_ADDR (127.0.0.1:3000)
//! cargo run --example webhook_to_case -- --demo        # sandbox: sends itself webhooks, then exits
//! cargo run --example webhook_to_case -- dead-letters  # list; `replay QUEUE ID`, `purge QUEUE [ID]`
//! cargo run --example webhook_to_case -- stats         # queue depths, retries, dead letters
//! cargo run --example webhook_to_case -- erase --phone +14155550123  # erase one customer
//! ```
//!
//! Reads `BIND_ADDR`, `WHATSAPP_APP_SECRET`, `WHATSAPP_VERIFY_TOKEN`,
//! `WHATSAPP_*` and `SALESFORCE_*` (real APIs when set), `REDIS_URL`,
//! `BRIDGE_OWN_NUMBERS` (our business numbers, comma-separated: messages
//! from them are never taken for customers'),
//! `BRIDGE_DATA_DIR` (default `bridge-data`), `BRIDGE_LEASE_SECS` (how long a
//! job stays hidden after its worker stops renewing the lease, default 30), and
//! `SALESFORCE_CASE_KEY_FIELD` / `SALESFORCE_LEAD_KEY_FIELD` (the external-ID
//! fields holding the message key and the customer's E.164 number, defaults
//! `WhatsApp_Message_Id__c` and `WhatsApp_Phone__c`; checked at start-up, set
//! empty to do without) and `SALESFORCE_LEAD_TAGS_FIELD`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bridge_core::BridgeError;
use bridge_core::clock::{Clock, SystemClock};
use bridge_core::inbound::CustomerMessage;
use bridge_core::mapping::Action;
use bridge_core::pipeline::{Bridge, BridgeOptions};
use bridge_core::queue::WorkerOptions;
use bridge_core::service::{BridgeService, ServiceOptions, StatusUpdate};
use bridge_core::writer::{BatchOptions, Batching, RecordWriter, SalesforceWriter, WriteOutcome};
use examples::{Backends, BoxError, Stores};
use whatsapp_cloud::webhooks::Notification;
use whatsapp_cloud::webhooks::axum::{HandlerError, WebhookHandler, router};

/// The latest status of the last 100,000 messages we sent (bounded, O(1)).
#[derive(Default)]
struct Statuses {
    by_id: HashMap<String, String>,
    order: std::collections::VecDeque<String>,
}

const STATUS_MEMORY: usize = 100_000;

impl Statuses {
    fn set(&mut self, id: &str, status: &str) {
        if self
            .by_id
            .insert(id.to_owned(), status.to_owned())
            .is_none()
        {
            self.order.push_back(id.to_owned());
            if self.order.len() > STATUS_MEMORY
                && let Some(old) = self.order.pop_front()
            {
                self.by_id.remove(&old);
            }
        }
    }
}

/// The webhook handler: enqueue, answer.
#[derive(Clone)]
pub struct App {
    service: Arc<BridgeService>,
    statuses: Arc<Mutex<Statuses>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

#[async_trait]
impl WebhookHandler for App {
    async fn handle(&self, notification: Notification) -> Result<(), HandlerError> {
        self.service
            .inbox()
            .enqueue_notification(&notification)
            .await
            .map(|_| ())
            .map_err(|e| format!("could not enqueue the notification durably: {e}").into())
    }
}

impl App {
    /// The latest status of a message we sent.
    pub fn status_of(&self, message_id: &str) -> Option<String> {
        self.statuses
            .lock()
            .ok()
            .and_then(|m| m.by_id.get(message_id).cloned())
    }

    /// The running service (inbox, outbox).
    pub fn service(&self) -> &BridgeService {
        &self.service
    }
}

/// Writes with Salesforce; then, off the write's critical path, attaches the
/// customer's photo or document to the record and marks the message as read.
/// Both are best effort in a task of their own (a read receipt retried once):
/// a slow Graph API never holds a Salesforce batch, and a failure is logged
/// while the record stands.
struct WriteThenMarkRead {
    writer: SalesforceWriter,
    whatsapp: whatsapp_cloud::Client,
}

#[async_trait]
impl RecordWriter for WriteThenMarkRead {
    async fn write(
        &self,
        action: &Action,
        m: &CustomerMessage,
    ) -> Result<WriteOutcome, BridgeError> {
        let out = self.writer.write(action, m).await?;
        self.after(m, &out);
        Ok(out)
    }

    async fn write_batch(
        &self,
        items: &[(Action, CustomerMessage)],
    ) -> Vec<Result<WriteOutcome, BridgeError>> {
        let results = self.writer.write_batch(items).await;
        for ((_, m), r) in items.iter().zip(&results) {
            if let Ok(out) = r {
                self.after(m, out);
            }
        }
        results
    }

    async fn write_ledger(
        &self,
        entries: &[bridge_core::ledger::LedgerEntry],
    ) -> Vec<Result<(), BridgeError>> {
        self.writer.write_ledger(entries).await
    }

    async fn record_opt_out(
        &self,
        m: &CustomerMessage,
        opted_out: bool,
    ) -> Result<(), BridgeError> {
        self.writer.record_opt_out(m, opted_out).await
    }
}

impl WriteThenMarkRead {
    /// The best-effort steps after a write, spawned: attach the file, mark as read.
    fn after(&self, m: &CustomerMessage, out: &WriteOutcome) {
        let whatsapp = self.whatsapp.clone();
        let salesforce = self.writer.client().clone();
        let message_id = m.id.clone();
        let media = match (&m.content, out.record_id.clone()) {
            (
                bridge_core::inbound::CustomerContent::Media {
                    kind,
                    media_id: Some(media_id),
                    mime_type,
                    ..
                },
                Some(record),
            ) => Some((kind.clone(), media_id.clone(), mime_type.clone(), record)),
            _ => None,
        };
        tokio::spawn(async move {
            if let Some((kind, media_id, mime_type, record)) = media
                && let Err(e) = attach(
                    &whatsapp,
                    &salesforce,
                    &media_id,
                    &kind,
                    mime_type.as_deref(),
                    &record,
                )
                .await
            {
                tracing::warn!(error = %e, "the customer's file could not be attached; the record stands");
            }
            for attempt in 0..2 {
                match whatsapp.mark_read(&message_id).await {
                    Ok(_) => break,
                    Err(e) if attempt == 0 && e.is_retryable() => {
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "mark as read failed");
                        break;
                    }
                }
            }
        });
    }
}

/// Streams a WhatsApp media file into a Salesforce file on the record: the
/// download writes into one end of an in-memory pipe while the upload reads
/// the other, so memory holds a 64 KiB buffer, never the file.
pub async fn attach(
    whatsapp: &whatsapp_cloud::Client,
    salesforce: &salesforce_rest::Client,
    media_id: &str,
    kind: &str,
    mime_type: Option<&str>,
    record: &str,
) -> Result<(), BoxError> {
    let record = salesforce_rest::SalesforceId::parse(record)?;
    let ext = match mime_type.unwrap_or("") {
        m if m.contains("jpeg") => "jpg",
        m if m.contains("png") => "png",
        m if m.contains("pdf") => "pdf",
        m if m.contains("ogg") => "ogg",
        m if m.contains("mp4") => "mp4",
        _ => "bin",
    };
    let name = format!("whatsapp-{kind}.{ext}");
    let (mut tx, rx) = tokio::io::duplex(64 * 1024);
    let media = whatsapp.media();
    let download = async move {
        let r = media.download_to(media_id, &mut tx).await;
        drop(tx); // end of file for the upload
        r
    };
    let title = format!("WhatsApp {kind}");
    let upload = salesforce.upload_file(&title, &name, rx, Some(&record));
    let (downloaded, uploaded) = tokio::join!(download, upload);
    match (downloaded, uploaded) {
        (Ok(_), Ok(_)) => Ok(()),
        (Err(e), Ok(file)) => {
            // Incomplete or unverified: do not leave it on the record.
            if let Some(doc) = file.content_document_id {
                let _ = salesforce.delete("ContentDocument", &doc).await;
            }
            Err(e.into())
        }
        (_, Err(e)) => Err(e.into()),
    }
}

/// Subscribes to the ledger object's change events and sends the agents'
/// records as they commit; a gap triggers a poll. Runs for the life of the
/// process, from one instance of the fleet at a time.
async fn agent_events(
    channel: String,
    agents: bridge_core::agent::AgentReplies,
    session: salesforce_rest::auth::Session,
    lease: Arc<dyn bridge_core::lease::LeaderLease>,
    embedded: Option<bridge_core::embedded::EmbeddedStore>,
) {
    use salesforce_rest::pubsub::{Flow, PubSubClient, StartFrom};
    let replay = match examples::replay_store_in("webhook_to_case", embedded.as_ref()).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "agent events: no replay store; not subscribing");
            return;
        }
    };
    let url = std::env::var("SALESFORCE_PUBSUB_URL")
        .unwrap_or_else(|_| salesforce_rest::pubsub::DEFAULT_ENDPOINT.into());
    let pubsub = match PubSubClient::builder(session).endpoint(url).build() {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "agent events: the Pub/Sub client cannot be built; not subscribing");
            return;
        }
    };
    let holder = format!(
        "webhook_to_case-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    );
    let name = format!("pubsub:{channel}");
    let ended = bridge_core::lease::run_as_leader(
        lease,
        &name,
        &holder,
        Duration::from_secs(15),
        Arc::new(SystemClock),
        |fence| {
            tracing::info!(fence, topic = %channel, "this instance subscribes to agent replies");
            let agents = agents.clone();
            pubsub
                .subscribe(&channel, replay.clone())
                .start_from(StartFrom::Latest)
                .run_batches(move |events| {
                    let agents = agents.clone();
                    async move {
                        let report = agents.on_changes(&events).await?;
                        if report.gap {
                            agents.poll(None).await?;
                        }
                        Ok(Flow::Continue)
                    }
                })
        },
    )
    .await;
    match ended {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "agent events: the subscription ended"),
        Err(e) => tracing::error!(error = %e, "agent events: the lease store failed"),
    }
}

/// Jobs in flight per queue (`BRIDGE_WORKERS`, default 1024).
fn worker_count() -> Result<usize, BoxError> {
    match std::env::var("BRIDGE_WORKERS") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                format!("BRIDGE_WORKERS must be a positive whole number, got {v:?}").into()
            }),
        _ => Ok(1024),
    }
}

fn lease_time() -> Result<Duration, BoxError> {
    match std::env::var("BRIDGE_LEASE_SECS") {
        Ok(v) if !v.trim().is_empty() => {
            let secs: u64 = v.trim().parse().map_err(|_| {
                format!("BRIDGE_LEASE_SECS must be a whole number of seconds, got {v:?}")
            })?;
            Ok(Duration::from_secs(secs.max(1)))
        }
        _ => Ok(Duration::from_secs(30)),
    }
}

/// How long a send cut short by a crash waits for a status before it goes
/// again (BRIDGE_UNCONFIRMED_WAIT_SECS, default 120).
fn unconfirmed_wait() -> Result<Duration, BoxError> {
    match std::env::var("BRIDGE_UNCONFIRMED_WAIT_SECS") {
        Ok(v) if !v.trim().is_empty() => {
            v.trim()
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| {
                    format!(
                        "BRIDGE_UNCONFIRMED_WAIT_SECS must be a whole number of seconds, got {v:?}"
                    )
                    .into()
                })
        }
        _ => Ok(Duration::from_secs(120)),
    }
}

/// Builds the app (workers started) and its router (`/webhook`, `/health`,
/// `/ready`, `/metrics`).
pub fn build(b: &Backends, stores: &Stores, lease: Duration) -> (App, axum::Router) {
    let writer = examples::salesforce_writer(b, stores);
    let agent_writer = writer.clone();
    // The Contact directory, synced every few minutes: a first-seen customer
    // then needs no lookup (BRIDGE_CONTACT_SYNC_MINUTES, default 5; 0: off).
    let minutes: u64 = std::env::var("BRIDGE_CONTACT_SYNC_MINUTES")
        .ok()
        .and_then(|m| m.trim().parse().ok())
        .unwrap_or(5);
    if minutes > 0 {
        let syncer = writer.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = syncer.sync_contacts().await {
                    tracing::warn!(error = %e, "the Contact directory sync failed; customers are looked up one by one meanwhile");
                }
                tokio::time::sleep(Duration::from_secs(minutes * 60)).await;
            }
        });
    }
    let mut options = BridgeOptions::default();
    // The queue's lease already keeps a job to one worker; a dedup claim of a
    // dead worker must not outlive its lease.
    options.claim_ttl = lease;
    // The bridge's own replies once the window has closed go as this
    // template (LATE_REPLY_TEMPLATE, `name` or `name:language`), else their
    // ledger record says why.
    if let Ok(t) = std::env::var("LATE_REPLY_TEMPLATE")
        && !t.trim().is_empty()
    {
        let (name, language) = t.trim().split_once(':').unwrap_or((t.trim(), "en_US"));
        options.late_reply_template = Some((name.to_owned(), language.to_owned()));
    }
    // Concurrent writes share sObject Collections calls during a burst.
    let writer = Batching::new(
        WriteThenMarkRead {
            writer,
            whatsapp: b.whatsapp.clone(),
        },
        BatchOptions::default(),
    );
    let mut bridge = Bridge::builder(Arc::new(writer));
    // Several business numbers: a support line makes Cases, a sales line
    // Leads (`main` has refused a bad WHATSAPP_NUMBER_ROLES already).
    if let Ok(Some(mapper)) = examples::number_roles() {
        bridge = bridge.mapper(Arc::new(mapper));
    }
    let bridge = bridge
        .dedup(stores.dedup.clone())
        .window(stores.window.clone())
        .own_numbers(examples::own_numbers())
        .sender(match &stores.send_rate {
            // Many instances: Meta's per-number rate is shared through Redis.
            Some(rate) => Arc::new(bridge_core::pacing::PacedSender::new(
                bridge_core::attachments::AttachmentSender::new(
                    b.whatsapp.clone(),
                    b.salesforce.clone(),
                ),
                rate.clone(),
                b.whatsapp.phone_number_id().to_owned(),
                Arc::new(SystemClock),
            )),
            // Agents' files are fetched from Salesforce and uploaded at
            // send time; everything else goes straight through.
            None => Arc::new(bridge_core::attachments::AttachmentSender::new(
                b.whatsapp.clone(),
                b.salesforce.clone(),
            )),
        })
        .options(options)
        .build();
    let statuses: Arc<Mutex<Statuses>> = Arc::default();
    let seen = statuses.clone();
    // Throughput follows the configured limits (the send rate, the org's
    // allowance), not a handful of slots: jobs mostly wait on the network.
    // BRIDGE_WORKERS (default 1024) bounds the jobs in flight per queue: at
    // 300 ms per API call that is room for ~1,000 messages a second.
    // (`main` has refused a bad value already.)
    let concurrency = worker_count().unwrap_or(1024);
    let workers = WorkerOptions::default()
        .visibility(lease)
        .concurrency(concurrency);
    let mut service = ServiceOptions::default();
    // Enough inbox workers for batches to form during a burst.
    service.inbox = workers.clone();
    service.outbox = workers;
    service.opt_outs = Some(stores.opt_outs.clone());
    // A send a crash cut short is not repeated before its status had time
    // to prove it left.
    service.unconfirmed_send_wait = unconfirmed_wait().ok();
    // A fallback channel (when one is configured) finds what was sent here,
    // whichever instance or restart sees the failed status.
    service.sent_log = Some(stores.sent_log.clone());
    // Opt-in SMS for customers WhatsApp cannot reach (SMS_FALLBACK=twilio;
    // `main` has checked its variables already).
    if let Ok(Some(sms)) = examples::sms::TwilioSms::from_env() {
        service.fallback = Some(Arc::new(sms));
    }
    // Outbound messages and statuses reach the ledger in batches: no send
    // waits for a Salesforce call.
    service.ledger = Some(stores.ledger.clone());
    // Completed keys and old dead letters are pruned hourly (`main` has
    // checked BRIDGE_DEAD_LETTER_DAYS already).
    let retention = examples::ops::retention().unwrap_or_default();
    service.retention = retention.clone();
    if let Some(store) = stores.embedded.clone() {
        // The embedded store's other tables too (dedup marks, closed
        // windows, the sent log, expired customer records).
        let every = retention.every;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match store.maintain(SystemClock.now(), &retention).await {
                    Ok(p) => tracing::info!(
                        completed_keys = p.completed_keys,
                        dead_letters = p.dead_letters,
                        other = p.other,
                        "the embedded store was pruned"
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, "pruning the embedded store failed; trying again later");
                    }
                }
            }
        });
    }
    service.ledger_options = bridge_core::service::LedgerOptions::default()
        .visibility(lease.max(Duration::from_secs(2)));
    service.on_status = Some(Arc::new(move |s: &StatusUpdate| {
        if let Ok(mut m) = seen.lock() {
            m.set(&s.message_id, &s.status);
        }
    }));
    let service = BridgeService::start_with(
        bridge,
        stores.inbox.clone(),
        stores.outbox.clone(),
        service,
        Arc::new(SystemClock),
    );
    // Agents answer from Salesforce: Outbound ledger records queued there are
    // sent once each (BRIDGE_AGENT_POLL_SECS, default 5; 0: off), outside
    // the window as AGENT_REPLY_TEMPLATE (`name` or `name:language`).
    let poll_secs: u64 = std::env::var("BRIDGE_AGENT_POLL_SECS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(5);
    let mut agents = bridge_core::agent::AgentReplies::new(
        agent_writer,
        service.outbox().clone(),
        stores.window.clone(),
        Arc::new(SystemClock),
    )
    // A file in the record's Files list goes with the reply.
    .with_attachments();
    if let Ok(t) = std::env::var("AGENT_REPLY_TEMPLATE")
        && !t.trim().is_empty()
    {
        let (name, language) = t.trim().split_once(':').unwrap_or((t.trim(), "en_US"));
        agents = agents.outside_window_template(name, language);
    }
    // Numbers with their own wording (`main` has checked the variable).
    for (number, name, language) in examples::agent_templates_by_number().unwrap_or_default() {
        agents = agents.outside_window_template_for(number, name, language);
    }
    if poll_secs > 0 {
        let agents = agents.clone();
        tokio::spawn(async move {
            let mut watermark = None;
            loop {
                match agents.poll(watermark).await {
                    Ok(report) => watermark = report.watermark.or(watermark),
                    Err(e) => {
                        tracing::warn!(error = %e, "agent replies could not be polled; trying again");
                    }
                }
                tokio::time::sleep(Duration::from_secs(poll_secs)).await;
            }
        });
    }
    // With Change Data Capture on the ledger object, agents' records are
    // sent as they commit (BRIDGE_AGENT_CDC, e.g.
    // /data/WhatsApp_Message__ChangeEvent; the poll stays as the fallback):
    // one instance of the fleet subscribes.
    if let Ok(channel) = std::env::var("BRIDGE_AGENT_CDC")
        && !channel.trim().is_empty()
    {
        tokio::spawn(agent_events(
            channel.trim().to_owned(),
            agents,
            b.salesforce.session().clone(),
            stores.lease.clone(),
            stores.embedded.clone(),
        ));
    }
    let app = App {
        service: Arc::new(service),
        statuses,
    };
    let ready = app.service.clone();
    let scraped = app.service.clone();
    // Install the recorder before the first message is counted.
    let _ = examples::prometheus::handle();
    let routes = axum::Router::new()
        .nest("/webhook", router(b.webhook.clone(), app.clone()))
        // Liveness: the process answers.
        .route("/health", axum::routing::get(|| async { "ok" }))
        // Prometheus metrics: the queues sampled at each scrape, the rest
        // counted as it happens (see `bridge_core::metrics`).
        .route(
            "/metrics",
            axum::routing::get(move || {
                let service = scraped.clone();
                async move {
                    if let Err(e) = service.record_metrics().await {
                        tracing::warn!(error = %e, "the queues' counters could not be read for /metrics");
                    }
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            examples::prometheus::CONTENT_TYPE,
                        )],
                        examples::prometheus::render(),
                    )
                }
            }),
        )
        // Readiness: the store takes writes, the workers run, and neither
        // API refused the credentials on its last call (503 with the reasons).
        .route(
            "/ready",
            axum::routing::get(move || {
                let service = ready.clone();
                async move {
                    let r = service.readiness().await;
                    let status = if r.ready {
                        axum::http::StatusCode::OK
                    } else {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    };
                    (
                        status,
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        r.to_json().to_string(),
                    )
                }
            }),
        );
    (app, routes)
}

async fn demo(addr: std::net::SocketAddr, b: &Backends, app: &App) -> Result<(), BoxError> {
    use whatsapp_cloud::testkit::{payloads, signed_webhook};
    let http = reqwest::Client::builder().build()?;
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
    app.service().drain(Duration::from_secs(30)).await;
    if let (Some(org), Some(graph)) = (&b.org, &b.graph) {
        println!(
            "sandbox: {} Case(s) created, {} WhatsApp message(s) sent, {} read receipt(s)",
            org.records("Case").len(),
            graph.message_requests().await.len(),
            graph.read_receipts().await.len()
        );
    }
    Ok(())
}

pub use examples::case_cli::{Command, parse, setup};
use examples::case_cli::{USAGE, admin};

/// Runs the command line (without the program name).
pub async fn run_cli(args: &[String]) -> Result<(), BoxError> {
    let cmd = parse(args).map_err(|e| format!("{e}\n\n{USAGE}"))?;
    if cmd == Command::Help {
        println!("{USAGE}");
        return Ok(());
    }
    if let Command::Erase { phone, salesforce } = &cmd {
        let customer = bridge_core::erase::Customer::new(phone)
            .map_err(|e| format!("--phone {phone:?}: {e}"))?;
        let how = examples::ops::ledger_erasure(salesforce.as_deref())?;
        let b = Backends::from_env().await?;
        // The writer's own caches in memory: the store is erased, then
        // rewritten, and must not stay open here.
        let writer = examples::salesforce_writer(&b, &Stores::memory()?);
        let report =
            examples::ops::erase(Stores::from_env().await?, &customer, Some((&writer, how)))
                .await?;
        println!("{report}");
        return Ok(());
    }
    if let Command::Setup { check } = cmd {
        let b = Backends::from_env().await?;
        let stores = Stores::memory()?;
        println!(
            "{}",
            setup(&examples::salesforce_writer(&b, &stores), check).await?
        );
        return Ok(());
    }
    let Command::Serve { demo: demo_mode } = cmd else {
        return admin(cmd, &Stores::from_env().await?).await;
    };
    // The demo talks to the in-process sandbox, which forgets everything on
    // exit: its queues do too, so every run starts fresh.
    let stores = if demo_mode {
        Stores::memory()?
    } else {
        Stores::from_env().await?
    };
    let lease = lease_time()?;
    examples::ops::retention()?;
    worker_count()?;
    unconfirmed_wait()?;
    examples::number_roles()?;
    examples::agent_templates_by_number()?;
    examples::sms::TwilioSms::from_env()?;
    let b = Backends::from_env().await?;
    // Fail now, with the setup steps, rather than dead-letter every message;
    // an org that cannot be described right now (down, no permission) is
    // checked again by every write.
    match examples::salesforce_writer(&b, &stores).check_setup().await {
        Err(e @ bridge_core::BridgeError::Setup { .. }) => return Err(e.into()),
        Err(e) => tracing::warn!(error = %e, "could not check the org's setup; carrying on"),
        Ok(()) => {}
    }
    let (app, routes) = build(&b, &stores, lease);
    let bind = if demo_mode {
        "127.0.0.1:0".to_owned()
    } else {
        std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into())
    };
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| format!("cannot listen on BIND_ADDR={bind}: {e}"))?;
    let addr = listener.local_addr()?;
    println!(
        "webhook_to_case listening on http://{addr}/webhook ({}; queues in {})",
        b.describe(),
        stores.describe
    );
    if b.is_sandbox() && !demo_mode {
        println!(
            "sandbox: verify token {:?}; try --demo, or point Meta at a tunnel to this address",
            examples::SANDBOX_VERIFY_TOKEN
        );
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // The webhook endpoint runs on a runtime of its own (one thread): an
    // acknowledgement never queues behind the workers' tasks during a
    // burst, only behind the store's commit. Header and body deadlines and
    // a connection cap: slow clients cannot hold the server.
    let listener = listener.into_std()?;
    let server = std::thread::Builder::new()
        .name("webhook-server".into())
        .spawn(move || -> Result<(), BoxError> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                whatsapp_cloud::webhooks::axum::serve(
                    listener,
                    routes,
                    whatsapp_cloud::webhooks::axum::ServeOptions::default(),
                    async move {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => {}
                            _ = stop_rx => {}
                        }
                    },
                )
                .await?;
                Ok(())
            })
        })?;
    let server = tokio::task::spawn_blocking(move || {
        server
            .join()
            .unwrap_or_else(|_| Err("the webhook server's thread panicked".into()))
    });
    let keep_running = if demo_mode {
        demo(addr, &b, &app).await?;
        let _ = stop_tx.send(());
        None
    } else {
        Some(stop_tx)
    };
    server.await??;
    drop(keep_running);
    app.service().shutdown().await;
    println!("shut down cleanly");
    Ok(())
}

#[tokio::main]
async fn main() {
    examples::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run_cli(&args).await {
        eprintln!("error: {e}");
        let mut source = e.source();
        while let Some(s) = source {
            eprintln!("  caused by: {s}");
            source = s.source();
        }
        std::process::exit(if e.to_string().contains("usage:") {
            2
        } else {
            1
        });
    }
}
