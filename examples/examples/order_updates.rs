//! Order updates: poll the orders changed since a watermark
//! (`SystemModstamp`), and tell each customer when an order's **status
//! changes** to one that has a template: `Activated` → `order_confirmation`,
//! `Shipped` → `shipping_update`, `Delivered` → `order_delivered`.
//!
//! Each notice goes through the outbox under a ledger key (order and status), so
//! an edit of a shipped order sends nothing, a rerun sends nothing twice, and an
//! order moving New → Shipped → Delivered gets exactly two notices. Each poll
//! re-reads a five-minute overlap before the watermark (a transaction that
//! committed late is not lost; what was seen already is a ledger duplicate),
//! and the watermark is saved after the notices are queued. No delivery
//! estimate is invented: without `ETA__c` the template says it is to be
//! confirmed.
//!
//! ```text
//! cargo run --example order_updates
//! cargo run --example order_updates -- --realtime
//! ```
//!
//! With `--realtime` it subscribes to Change Data Capture over the Pub/Sub API
//! instead of polling: a notice goes out when `Status` is among an event's
//! changed fields and the new status has a template, through the same ledger
//! (so switching modes sends nothing twice), and the replay id is saved after
//! each handled event, so a restart resumes exactly after it. Gap events are
//! logged for a polling run to catch up. On the standard `Order` (channel
//! `/data/OrderChangeEvent`) the customer comes from the custom fields
//! `Customer_Phone__c` and `Customer_Name__c`, read back with one query when an
//! event does not carry them; `ORDER_CHANGE_CHANNEL=/data/Order__ChangeEvent`
//! follows the custom `Order__c` of the polling mode instead.
//!
//! Reads `WHATSAPP_*` and `SALESFORCE_*` (real APIs when set), `REDIS_URL` or
//! `BRIDGE_DATA_DIR` (ledger and watermark: `<dir>/order_updates`), and
//! `ORDER_WATERMARK` (where to start when no watermark was saved; default 24
//! hours back). The sandbox seeds `Order__c` records (`Order_Number__c`,
//! `Status__c`, `Total__c`, `Customer_Phone__c`, `Customer_Name__c`,
//! `Carrier__c`, `Tracking__c`, `ETA__c`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use bridge_core::format;
use bridge_core::queue::Enqueued;
use bridge_core::replies::{
    order_confirmation, order_confirmation_text, order_delivered, order_delivered_text,
    shipping_update, shipping_update_text,
};
use bridge_core::sender::Outbound;
use bridge_core::service::{SendJob, SendService};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use examples::{Backends, BoxError, Stores};
use salesforce_rest::pubsub::{EventMessage, Flow, PubSubClient, ReplayStore, StartFrom};
use salesforce_rest::records::{DynamicRecord, SfDateTime};
use salesforce_rest::testkit::FakePubSub;
use serde_json::{Value, json};
use std::sync::Arc;

const FIELDS: &[&str] = &[
    "Id",
    "Order_Number__c",
    "Status__c",
    "Total__c",
    "Customer_Phone__c",
    "Customer_Name__c",
    "Carrier__c",
    "Tracking__c",
    "ETA__c",
];

/// How far before the watermark each poll reads again.
pub const OVERLAP: Duration = Duration::minutes(5);

/// The template for a shipped order without a tracking number: a variant of
/// `shipping_update` whose button has no variable (`ORDER_NO_TRACKING_TEMPLATE`,
/// default `shipping_update_no_tracking`).
fn no_tracking_template() -> String {
    std::env::var("ORDER_NO_TRACKING_TEMPLATE")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "shipping_update_no_tracking".into())
}

/// "Hi there" when the order names no customer: a template parameter is
/// never empty (the Cloud API answers 400 to one).
const NO_NAME: &str = "there";

/// The notice for a status, if it has one: the template and its text. No
/// parameter is ever empty: a missing name or carrier reads a stock text, a
/// missing ETA says it is to be confirmed, a missing tracking number selects
/// the variant without it, and an order without a number is held (logged).
pub fn notice(
    row: &DynamicRecord,
    now: DateTime<Utc>,
) -> Option<(whatsapp_cloud::messages::Template, String, String)> {
    let text = |k: &str| {
        row.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let name = text("Customer_Name__c").unwrap_or_else(|| NO_NAME.into());
    let Some(number) = text("Order_Number__c") else {
        tracing::warn!(order = ?row.get("Id"), "a notice is held: the order has no number");
        return None;
    };
    match text("Status__c").as_deref() {
        Some("Shipped") => {
            let eta = text("ETA__c").and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
            let tracking = text("Tracking__c");
            let template_name = if tracking.is_some() {
                "shipping_update".to_owned()
            } else {
                no_tracking_template()
            };
            let t = shipping_update(
                &template_name,
                "en_US",
                &name,
                &number,
                text("Carrier__c").as_deref(),
                eta,
                tracking.as_deref(),
            );
            Some((t, shipping_update_text(&number, eta), template_name))
        }
        Some("Activated") => {
            let total = row
                .get("Total__c")
                .map(ToString::to_string)
                .and_then(|t| format::parse_money(&t))?;
            // The customer's date, not UTC's: at 00:03 UTC it is still
            // yesterday in New York.
            let today = now.with_timezone(&customer_zone()).date_naive();
            let t = order_confirmation("order_confirmation", "en_US", &name, &number, total, today);
            Some((
                t,
                order_confirmation_text(&number, total),
                "order_confirmation".into(),
            ))
        }
        Some("Delivered") => Some((
            order_delivered("order_delivered", "en_US", &name, &number),
            order_delivered_text(&number),
            "order_delivered".into(),
        )),
        _ => None,
    }
}

/// How long the subscriber's lease lasts (`PUBSUB_LEASE_SECS`, default 15):
/// another instance takes over at most this long after the leader dies.
fn lease_time() -> Result<std::time::Duration, BoxError> {
    match std::env::var("PUBSUB_LEASE_SECS") {
        Ok(v) if !v.trim().is_empty() => {
            let secs: u64 = v.trim().parse().map_err(|_| {
                format!("PUBSUB_LEASE_SECS must be a whole number of seconds, got {v:?}")
            })?;
            Ok(std::time::Duration::from_secs(secs.max(1)))
        }
        _ => Ok(std::time::Duration::from_secs(15)),
    }
}

/// The sandbox's delivery estimate: three days after its today (the mock
/// org's clock starts today), as `YYYY-MM-DD`.
pub fn sandbox_eta(org: &salesforce_rest::testkit::MockOrg) -> String {
    (org.clock_origin().date_naive() + Duration::days(3))
        .format("%Y-%m-%d")
        .to_string()
}

/// The customers' time zone (`CUSTOMER_TIME_ZONE`, default Eastern; an
/// unknown name was refused at start).
fn customer_zone() -> chrono_tz::Tz {
    examples::customer_zone().unwrap_or(chrono_tz::America::New_York)
}

/// Polls once: queues the notices of status changes; returns them and the next watermark.
pub async fn poll(
    b: &Backends,
    svc: &SendService,
    watermark: DateTime<Utc>,
) -> Result<(Vec<String>, DateTime<Utc>), BoxError> {
    let mut rows =
        b.salesforce
            .changed_since::<DynamicRecord>("Order__c", FIELDS, watermark - OVERLAP)?;
    let mut next = watermark;
    let mut sent = Vec::new();
    while let Some(row) = rows.next().await {
        let row = row?;
        if let Some(stamp) = row
            .get("SystemModstamp")
            .and_then(Value::as_str)
            .and_then(SfDateTime::parse)
        {
            next = next.max(stamp.0);
        }
        let phone = row
            .get("Customer_Phone__c")
            .and_then(Value::as_str)
            .unwrap_or("");
        let (Some(id), false) = (row.id(), phone.is_empty()) else {
            continue;
        };
        let Some((template, text, kind)) = notice(&row, Utc::now()) else {
            continue;
        };
        let status = row.get("Status__c").and_then(Value::as_str).unwrap_or("");
        // The ledger entry: one notice per order and status.
        let key = format!("order_status:{id}:{status}");
        let job = SendJob::new(phone, Outbound::whatsapp(template, text.clone()), kind);
        if let Enqueued::Duplicate(_) = svc.outbox().enqueue(&key, &job).await? {
            continue;
        }
        println!(
            "-> {}: {}",
            examples::pii::phone(phone),
            examples::pii::text(&text)
        );
        sent.push(text);
    }
    Ok((sent, next))
}

/// Polls from the saved watermark (or `ORDER_WATERMARK`, or 24 hours back) and saves the next one.
pub async fn poll_and_save(b: &Backends, stores: &Stores) -> Result<Vec<String>, BoxError> {
    let saved = stores.marks.get("order_updates.watermark").await?;
    let start = saved
        .or_else(|| std::env::var("ORDER_WATERMARK").ok())
        .and_then(|w| SfDateTime::parse(&w))
        .map_or_else(|| Utc::now() - Duration::hours(24), |w| w.0);
    let svc = examples::send_service(b, stores);
    let (sent, next) = poll(b, &svc, start).await?;
    // Queued durably: the watermark can move on even if a send is still retrying.
    stores
        .marks
        .set("order_updates.watermark", &SfDateTime(next).to_salesforce())
        .await?;
    svc.drain(std::time::Duration::from_secs(120)).await;
    svc.shutdown().await;
    println!("next watermark: {}", SfDateTime(next));
    Ok(sent)
}

/// The sandbox story: orders are created, shipped, edited and delivered
/// between polls. Returns the number of notices.
pub async fn run(b: &Backends, stores: &Stores) -> Result<usize, BoxError> {
    println!("Order updates ({})\n", b.describe());
    let Some(org) = &b.org else {
        return Ok(poll_and_save(b, stores).await?.len());
    };
    // Dates relative to the sandbox's today: the parcel is due in 3 days.
    let eta = sandbox_eta(org);
    let a = org.insert("Order__c", json!({"Order_Number__c": "1042", "Status__c": "Draft", "Total__c": 1499.99, "Customer_Phone__c": "14155550123", "Customer_Name__c": "Ana", "Carrier__c": "UPS", "Tracking__c": "1Z999AA10123456784", "ETA__c": eta}));
    let c = org.insert("Order__c", json!({"Order_Number__c": "1043", "Status__c": "Draft", "Total__c": 89.5, "Customer_Phone__c": "14155550199", "Customer_Name__c": "Ben"}));
    let svc = examples::send_service(b, stores);
    let mut total = 0;
    // Before every write of the sandbox (its clock starts today).
    let mut watermark = DateTime::from_timestamp(0, 0).unwrap_or_default();
    let steps: [(&str, Vec<(&str, Value)>); 4] = [
        ("drafts are not announced", vec![]),
        (
            "1042 shipped, 1043 activated",
            vec![
                (a.as_str(), json!({"Status__c": "Shipped"})),
                (c.as_str(), json!({"Status__c": "Activated"})),
            ],
        ),
        (
            "1042 edited while shipped (new tracking number)",
            vec![(a.as_str(), json!({"Tracking__c": "1Z999AA10123456785"}))],
        ),
        (
            "1042 delivered",
            vec![(a.as_str(), json!({"Status__c": "Delivered"}))],
        ),
    ];
    for (what, changes) in steps {
        for (id, fields) in changes {
            org.touch("Order__c", id, fields);
        }
        let (sent, next) = poll(b, &svc, watermark).await?;
        println!("poll ({what}): {} notice(s)", sent.len());
        total += sent.len();
        watermark = next;
    }
    svc.drain(std::time::Duration::from_secs(60)).await;
    svc.shutdown().await;
    Ok(total)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit_code(cli().await)
}

async fn cli() -> Result<(), BoxError> {
    examples::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "usage: order_updates [--realtime] [--show-pii]\n\nNotifies customers of order status changes since the saved watermark (polling, for orgs without Change Data Capture).\n  --realtime  subscribe to order change events over the Pub/Sub API instead (ORDER_CHANGE_CHANNEL, default /data/OrderChangeEvent; SALESFORCE_PUBSUB_URL, default api.pubsub.salesforce.com:7443); the replay id is kept in BRIDGE_DATA_DIR or Redis\n  --show-pii  print customers' numbers and message text unredacted\nReads WHATSAPP_*, SALESFORCE_*, REDIS_URL, BRIDGE_DATA_DIR, ORDER_WATERMARK, CUSTOMER_TIME_ZONE (the customers' dates; default America/New_York), ORDER_NO_TRACKING_TEMPLATE (the shipping template without a tracking button; default shipping_update_no_tracking), PUBSUB_LEASE_SECS (with Redis one instance subscribes; another takes over this long after it dies; default 15)."
        );
        return Ok(());
    }
    if let Err(e) = examples::check_flags(&args, &["--realtime"], &[]) {
        // Printed once, by the exit handler, with the usage.
        return Err(Box::new(examples::UsageError(format!(
            "{e}\nusage: order_updates [--realtime] [--show-pii]"
        ))));
    }
    examples::customer_zone()?;
    lease_time()?;
    let b = Backends::from_env().await?;
    let stores = Stores::for_tool("order_updates").await?;
    if args.iter().any(|a| a == "--realtime") {
        run_realtime(&b, &stores).await?;
    } else {
        run(&b, &stores).await?;
    }
    Ok(())
}

/// The record fields a notice needs, as (`Order__c` name, standard `Order` name).
const PAIRS: [(&str, &str); 8] = [
    ("Status__c", "Status"),
    ("Order_Number__c", "OrderNumber"),
    ("Total__c", "TotalAmount"),
    ("Customer_Phone__c", "Customer_Phone__c"),
    ("Customer_Name__c", "Customer_Name__c"),
    ("Carrier__c", "Carrier__c"),
    ("Tracking__c", "Tracking__c"),
    ("ETA__c", "ETA__c"),
];

/// A change event's record as far as the event carries it (dates arrive
/// typed, in the REST API's form): its row in the custom-object names, and
/// whether the customer's number or the order number must be read back.
fn event_row(event: &EventMessage, entity: &str, id: &str) -> (DynamicRecord, bool) {
    let custom = entity.ends_with("__c");
    let mut row = DynamicRecord::new().set("Id", id);
    let mut missing = false;
    for (ours, standard) in PAIRS {
        let name = if custom { ours } else { standard };
        match event.fields.get(name).filter(|v| !v.is_null()) {
            Some(v) => row = row.set(ours, v.clone()),
            None => missing |= ours == "Customer_Phone__c" || ours == "Order_Number__c",
        }
    }
    (row, missing)
}

/// Reads back the records of `ids` (all of one entity) with one query per
/// 200, and fills in what their rows lack: the record is the source of truth
/// for fields the event left out, never for the ones it carries.
async fn read_back(
    b: &Backends,
    entity: &str,
    rows: &mut [(String, DynamicRecord)],
) -> Result<(), BoxError> {
    let custom = entity.ends_with("__c");
    // On the standard Order the shipping details are optional custom fields:
    // read back only the ones every setup has (they come with the event
    // when they change).
    let fields: Vec<&str> = PAIRS
        .iter()
        .filter(|(o, _)| custom || !matches!(*o, "Carrier__c" | "Tracking__c" | "ETA__c"))
        .map(|(o, s)| if custom { *o } else { *s })
        .collect();
    let ids: Vec<String> = rows.iter().map(|(id, _)| id.clone()).collect();
    let mut found: std::collections::HashMap<String, DynamicRecord> = Default::default();
    for part in ids.chunks(200) {
        let soql = salesforce_rest::soql::Soql::new(format!(
            "SELECT Id, {} FROM {entity} WHERE Id IN {{}}",
            fields.join(", ")
        ))
        .bind(part)
        .build()?;
        let records = b
            .salesforce
            .query_stream::<DynamicRecord>(&soql)
            .collect_max(part.len())
            .await?;
        for r in records {
            if let Some(id) = r.get("Id").and_then(Value::as_str) {
                let id = salesforce_rest::SalesforceId::parse(id)
                    .map_or_else(|_| id.to_owned(), |i| i.as_str().to_owned());
                found.insert(id, r);
            }
        }
    }
    for (id, row) in rows.iter_mut() {
        let key = salesforce_rest::SalesforceId::parse(id)
            .map_or_else(|_| id.clone(), |i| i.as_str().to_owned());
        let Some(record) = found.get(&key) else {
            continue;
        };
        for (ours, standard) in PAIRS {
            let name = if custom { ours } else { standard };
            if row.get(ours).is_none()
                && let Some(v) = record.get(name).filter(|v| !v.is_null())
            {
                *row = std::mem::take(row).set(ours, v.clone());
            }
        }
    }
    Ok(())
}

/// Handles one delivery of change events: a notice for each order whose
/// `Status` changed to a status with a template, through the same ledger as
/// polling (one notice per order and status, whichever mode saw it first).
/// The records an event does not fully carry are read back together, one
/// query per 200. Returns the notices' texts.
pub async fn on_changes(
    b: &Backends,
    svc: &SendService,
    events: &[EventMessage],
) -> Result<Vec<String>, BoxError> {
    // (entity, record id, row, needs a read-back), in event order.
    let mut rows: Vec<(String, String, DynamicRecord, bool)> = Vec::new();
    for event in events {
        let Some(change) = &event.change else {
            continue;
        };
        if change.change_type.is_gap() {
            // Gap events carry no fields: polling catches those orders up.
            tracing::warn!(
                records = change.record_ids.len(),
                "a gap event: run order_updates without --realtime to catch up"
            );
            continue;
        }
        // `/data/ChangeEvents` carries every entity: only orders matter here.
        let entity = change.entity_name.as_str();
        if !matches!(entity, "Order" | "Order__c") {
            continue;
        }
        let status_field = if entity.ends_with("__c") {
            "Status__c"
        } else {
            "Status"
        };
        if !event.changed(status_field) {
            continue;
        }
        for id in &change.record_ids {
            let (row, missing) = event_row(event, entity, id);
            rows.push((entity.to_owned(), id.clone(), row, missing));
        }
    }
    for entity in ["Order", "Order__c"] {
        let mut wanted: Vec<(String, DynamicRecord)> = rows
            .iter()
            .filter(|(e, _, _, missing)| e == entity && *missing)
            .map(|(_, id, row, _)| (id.clone(), row.clone()))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        read_back(b, entity, &mut wanted).await?;
        let mut completed = wanted.into_iter();
        for (e, _, row, missing) in &mut rows {
            if e == entity
                && *missing
                && let Some((_, done)) = completed.next()
            {
                *row = done;
            }
        }
    }
    let mut out = Vec::new();
    for (_, id, row, _) in rows {
        if let Some(text) = queue_notice(svc, &id, &row).await? {
            out.push(text);
        }
    }
    Ok(out)
}

/// Queues the notice of one order row, once per order and status; returns
/// its text when it was queued now.
async fn queue_notice(
    svc: &SendService,
    id: &str,
    row: &DynamicRecord,
) -> Result<Option<String>, BoxError> {
    let phone = row
        .get("Customer_Phone__c")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let Some((template, text, kind)) = notice(row, Utc::now()) else {
        return Ok(None);
    };
    if phone.is_empty() {
        return Ok(None);
    }
    let status = row.get("Status__c").and_then(Value::as_str).unwrap_or("");
    let key = format!("order_status:{id}:{status}");
    let job = SendJob::new(&phone, Outbound::whatsapp(template, text.clone()), kind);
    if let Enqueued::Duplicate(_) = svc.outbox().enqueue(&key, &job).await? {
        return Ok(None);
    }
    println!(
        "-> {}: {}",
        examples::pii::phone(&phone),
        examples::pii::text(&text)
    );
    Ok(Some(text))
}

/// One change event (see [`on_changes`]).
pub async fn on_change(
    b: &Backends,
    svc: &SendService,
    event: &EventMessage,
) -> Result<Option<String>, BoxError> {
    Ok(on_changes(b, svc, std::slice::from_ref(event)).await?.pop())
}

/// Subscribes to order change events (`ORDER_CHANGE_CHANNEL`, default
/// `/data/OrderChangeEvent`) and sends notices as statuses change, resuming
/// after the last handled event (`start` when none was saved). `stop_after`
/// ends the run after that many events (the sandbox); `None` runs until
/// Ctrl-C.
pub async fn realtime(
    b: &Backends,
    stores: &Stores,
    pubsub: &PubSubClient,
    replay: Arc<dyn ReplayStore>,
    start: StartFrom,
    stop_after: Option<usize>,
) -> Result<Vec<String>, BoxError> {
    realtime_with(b, stores, pubsub, replay, start, stop_after, lease_time()?).await
}

/// [`realtime`] with the subscriber's lease time given.
pub async fn realtime_with(
    b: &Backends,
    stores: &Stores,
    pubsub: &PubSubClient,
    replay: Arc<dyn ReplayStore>,
    start: StartFrom,
    stop_after: Option<usize>,
    lease_ttl: std::time::Duration,
) -> Result<Vec<String>, BoxError> {
    let channel =
        std::env::var("ORDER_CHANGE_CHANNEL").unwrap_or_else(|_| "/data/OrderChangeEvent".into());
    let svc = examples::send_service(b, stores);
    let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
    let handled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // One subscriber per fleet: the instance holding the lease subscribes,
    // the others wait and take over within the lease time if it dies.
    let holder = format!(
        "order_updates-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    );
    let lease_name = format!("pubsub:{channel}");
    let run = bridge_core::lease::run_as_leader(
        stores.lease.clone(),
        &lease_name,
        &holder,
        lease_ttl,
        Arc::new(bridge_core::clock::SystemClock),
        |fence| {
            tracing::info!(fence, topic = %channel, "this instance subscribes");
            let (svc, sent, handled) = (&svc, sent.clone(), handled.clone());
            pubsub
                .subscribe(&channel, replay.clone())
                .start_from(start)
                .on_gap(|gap| {
                    tracing::warn!(topic = %gap.topic, "change events were lost past the retention window: run order_updates without --realtime to catch up by polling");
                })
                .run_batches(move |events| {
                    let (sent, handled) = (sent.clone(), handled.clone());
                    async move {
                        let texts = on_changes(b, svc, &events).await?;
                        sent.lock().map_err(|_| "poisoned")?.extend(texts);
                        let n = handled
                            .fetch_add(events.len(), std::sync::atomic::Ordering::SeqCst)
                            + events.len();
                        Ok(if stop_after.is_some_and(|s| n >= s) {
                            Flow::Stop
                        } else {
                            Flow::Continue
                        })
                    }
                })
        },
    );
    tokio::select! {
        r = run => r??,
        _ = tokio::signal::ctrl_c(), if stop_after.is_none() => println!("stopping"),
    }
    svc.drain(std::time::Duration::from_secs(60)).await;
    svc.shutdown().await;
    let sent = sent.lock().map_err(|_| "poisoned")?.clone();
    Ok(sent)
}

/// The sandbox story in real time: an order goes Draft → Activated →
/// (edited) → Shipped → Delivered as change events on a fake Pub/Sub API.
pub async fn run_realtime(b: &Backends, stores: &Stores) -> Result<Vec<String>, BoxError> {
    println!("Order updates, real time ({})\n", b.describe());
    let Some(org) = &b.org else {
        let url = std::env::var("SALESFORCE_PUBSUB_URL")
            .unwrap_or_else(|_| salesforce_rest::pubsub::DEFAULT_ENDPOINT.into());
        let pubsub = PubSubClient::builder(b.salesforce.session().clone())
            .endpoint(url)
            .build()?;
        let replay = examples::replay_store("order_updates", stores).await?;
        return realtime(b, stores, &pubsub, replay, StartFrom::Latest, None).await;
    };
    // The sandbox org's writes of orders become change events, as with CDC.
    let fake = FakePubSub::start().await;
    fake.follow(org);
    let id = org.insert("Order", json!({"OrderNumber": "00000100", "Status": "Draft", "TotalAmount": 1499.99, "Customer_Phone__c": "14155550123", "Customer_Name__c": "Ana"}));
    for change in [
        json!({"Status": "Activated"}),
        json!({"TotalAmount": 1299.99}),
        json!({"Status": "Shipped", "Carrier__c": "UPS", "Tracking__c": "1Z999AA10123456784", "ETA__c": sandbox_eta(org)}),
        json!({"Status": "Delivered"}),
    ] {
        org.touch("Order", &id, change);
    }
    let pubsub = PubSubClient::builder(b.salesforce.session().clone())
        .endpoint(fake.url())
        .build()?;
    let replay: Arc<dyn ReplayStore> =
        Arc::new(salesforce_rest::pubsub::MemoryReplayStore::default());
    // The story's five events are already on the channel: read from the earliest.
    let sent = realtime(b, stores, &pubsub, replay, StartFrom::Earliest, Some(5)).await?;
    println!(
        "\n{} notice(s) from {} change event(s)",
        sent.len(),
        fake.delivered()
    );
    Ok(sent)
}
