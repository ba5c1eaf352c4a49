//! WhatsApp Flows endpoint: appointment booking. The customer opens a Flow,
//! picks a day, then a time; the screens are filled from the Salesforce
//! calendar of `appointment_reminders` (`Appointment__c`), and the booking is
//! written there once, however often WhatsApp retries the last request. Two
//! customers choosing one time at the same moment cannot both get it: the
//! appointment carries a unique `Slot_Key__c` (Text(80), External ID,
//! Unique) beside the Flow token's `Booking_Key__c`, and the org refuses the
//! second.
//!
//! ```text
//! cargo run --example flows_endpoint                       # sandbox: a simulated customer books a slot
//! cargo run --example flows_endpoint -- --serve 127.0.0.1:8090
//! cargo run --example flows_endpoint -- --print-flow-json  # the Flow to create in WhatsApp Manager
//! cargo run --example flows_endpoint -- --new-key flows-key.pem
//! ```
//!
//! The endpoint needs the business private key: `WHATSAPP_FLOWS_PRIVATE_KEY`
//! (PEM text, PKCS#8 or PKCS#1) or `WHATSAPP_FLOWS_PRIVATE_KEY_FILE`, with
//! `WHATSAPP_FLOWS_KEY_PASSPHRASE` when encrypted, and `WHATSAPP_APP_SECRET`
//! to check signatures. `--new-key` writes a fresh key (mode 0600) and prints
//! the public key to upload (`Client::flows().upload_public_key`). The sandbox
//! makes its own key. Flow tokens map to customers in `BRIDGE_DATA_DIR` or
//! Redis (`REDIS_URL`): a token is all WhatsApp sends us about who is booking.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;

use bridge_core::format;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use examples::{Backends, BoxError, Stores};
use salesforce_rest::records::{DynamicRecord, SfDateTime};
use salesforce_rest::soql::Soql;
use secrecy::SecretString;
use serde_json::{Value, json};
use whatsapp_cloud::flows::{FlowAction, FlowRequest, FlowsHandler, FlowsKey};
use whatsapp_cloud::messages::{self, FlowRef, Interactive, Message};
use whatsapp_cloud::testkit::FlowsSimulator;
use whatsapp_cloud::webhooks::SignatureVerifier;

/// The times offered each weekday, local to the customer's zone.
const SLOTS: [(u32, u32); 5] = [(9, 0), (10, 30), (13, 0), (14, 30), (16, 0)];
/// How many weekdays ahead the Flow offers.
const DAYS: usize = 5;

/// The Flow this endpoint answers (Flow JSON 6.0, data API 3.0).
pub const FLOW_JSON: &str = r#"{
  "version": "6.0",
  "data_api_version": "3.0",
  "routing_model": { "PICK_DATE": ["PICK_SLOT", "NOTICE"], "PICK_SLOT": ["NOTICE"], "NOTICE": [] },
  "screens": [
    {
      "id": "PICK_DATE",
      "title": "Book a visit",
      "data": {
        "dates": { "type": "array", "items": { "type": "object", "properties": { "id": { "type": "string" }, "title": { "type": "string" } } },
                   "__example__": [{ "id": "2026-12-01", "title": "Tue 12/01/2026" }] },
        "error_message": { "type": "string", "__example__": "" }
      },
      "layout": { "type": "SingleColumnLayout", "children": [
        { "type": "TextCaption", "text": "${data.error_message}" },
        { "type": "Form", "name": "day", "children": [
          { "type": "Dropdown", "label": "Day", "name": "date", "data-source": "${data.dates}", "required": true },
          { "type": "Footer", "label": "See times",
            "on-click-action": { "name": "data_exchange", "payload": { "date": "${form.date}" } } }
        ] }
      ] }
    },
    {
      "id": "PICK_SLOT",
      "title": "Pick a time",
      "terminal": true,
      "data": {
        "day": { "type": "string", "__example__": "Tue 12/01/2026" },
        "slots": { "type": "array", "items": { "type": "object", "properties": { "id": { "type": "string" }, "title": { "type": "string" } } },
                   "__example__": [{ "id": "1764599400", "title": "9:30 AM EST" }] },
        "error_message": { "type": "string", "__example__": "" }
      },
      "layout": { "type": "SingleColumnLayout", "children": [
        { "type": "TextSubheading", "text": "${data.day}" },
        { "type": "TextCaption", "text": "${data.error_message}" },
        { "type": "Form", "name": "time", "children": [
          { "type": "RadioButtonsGroup", "label": "Time", "name": "slot", "data-source": "${data.slots}", "required": true },
          { "type": "Footer", "label": "Book",
            "on-click-action": { "name": "data_exchange", "payload": { "slot": "${form.slot}" } } }
        ] }
      ] }
    },
    {
      "id": "NOTICE",
      "title": "Booking",
      "terminal": true,
      "data": {
        "message": { "type": "string", "__example__": "This booking link has expired: ask us for a new one." }
      },
      "layout": { "type": "SingleColumnLayout", "children": [
        { "type": "TextBody", "text": "${data.message}" },
        { "type": "Footer", "label": "Close",
          "on-click-action": { "name": "complete", "payload": { "closed": "notice" } } }
      ] }
    }
  ]
}"#;

/// The Flow's data exchange, backed by the Salesforce calendar.
#[derive(Debug)]
pub struct Booking {
    salesforce: salesforce_rest::Client,
    stores: Arc<Stores>,
    zone: Tz,
    /// The first day offered is the weekday after this (passed in: tests pin it).
    today: NaiveDate,
    /// Answer an unknown flow token with HTTP 427 (WhatsApp ends the Flow)
    /// instead of the notice screen.
    reject_unknown_tokens: bool,
}

fn short_day(d: NaiveDate) -> String {
    format!("{} {}", d.weekday(), format::date(d))
}

/// The next `n` weekdays after `today`.
pub fn weekdays_after(today: NaiveDate, n: usize) -> Vec<NaiveDate> {
    today
        .iter_days()
        .skip(1)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .take(n)
        .collect()
}

impl Booking {
    /// A booking endpoint for customers in `zone`, offering the weekdays after `today`.
    pub fn new(
        salesforce: salesforce_rest::Client,
        stores: Arc<Stores>,
        zone: Tz,
        today: NaiveDate,
    ) -> Self {
        Self {
            salesforce,
            stores,
            zone,
            today,
            reject_unknown_tokens: false,
        }
    }

    /// Answers a flow token this endpoint did not issue (or no longer
    /// holds) with HTTP 427, Meta's "flow token no longer valid" (WhatsApp
    /// ends the Flow), instead of a notice screen saying the link expired.
    /// `flows_endpoint --serve` turns it on with `FLOWS_UNKNOWN_TOKEN=427`.
    pub fn reject_unknown_tokens(mut self) -> Self {
        self.reject_unknown_tokens = true;
        self
    }

    /// The terminal notice screen (declared as a route from both screens).
    fn notice(message: &str) -> Value {
        json!({ "screen": "NOTICE", "data": { "message": message } })
    }

    fn start_of(&self, day: NaiveDate, (h, m): (u32, u32)) -> Option<DateTime<Utc>> {
        let local = day.and_hms_opt(h, m, 0)?;
        Some(
            self.zone
                .from_local_datetime(&local)
                .single()?
                .with_timezone(&Utc),
        )
    }

    /// The start times already taken on `day`.
    async fn taken(&self, day: NaiveDate) -> Result<Vec<i64>, BoxError> {
        Ok(self
            .bookings(day)
            .await?
            .into_iter()
            .map(|(start, _)| start)
            .collect())
    }

    /// The day's appointments: their start and their Flow token, if any.
    async fn bookings(&self, day: NaiveDate) -> Result<Vec<(i64, Option<String>)>, BoxError> {
        let (Some(from), Some(to)) = (
            self.start_of(day, (0, 0)),
            self.start_of(day + Duration::days(1), (0, 0)),
        ) else {
            return Ok(Vec::new());
        };
        let soql = Soql::new("SELECT Id, Start__c, Booking_Key__c FROM Appointment__c WHERE Start__c > {} AND Start__c <= {} AND Status__c IN ('Scheduled', 'Confirmed')")
            .bind(from - Duration::seconds(1))
            .bind(to - Duration::seconds(1))
            .build()?;
        let rows = self
            .salesforce
            .query_stream::<DynamicRecord>(&soql)
            .collect_max(500)
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let start = r
                    .get("Start__c")
                    .and_then(Value::as_str)
                    .and_then(SfDateTime::parse)?;
                let token = r
                    .get("Booking_Key__c")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                Some((start.0.timestamp(), token))
            })
            .collect())
    }

    /// The day's free times, or `None` when the day is fully booked (the
    /// caller answers with a screen its routes allow).
    async fn slots_screen(&self, day: NaiveDate, error: &str) -> Result<Option<Value>, BoxError> {
        let taken = self.taken(day).await?;
        let slots: Vec<Value> = SLOTS
            .iter()
            .filter_map(|&s| self.start_of(day, s))
            .filter(|t| !taken.contains(&t.timestamp()))
            .map(
                |t| json!({ "id": t.timestamp().to_string(), "title": format::time(t, self.zone) }),
            )
            .collect();
        if slots.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            json!({ "screen": "PICK_SLOT", "data": { "day": short_day(day), "slots": slots, "error_message": error } }),
        ))
    }

    /// From the time screen: the day's times again with `error`, or the
    /// notice when the day filled up meanwhile (the date screen is not a
    /// route from there).
    async fn slots_again(&self, day: NaiveDate, error: &str) -> Result<Value, BoxError> {
        Ok(self.slots_screen(day, error).await?.unwrap_or_else(|| {
            Self::notice(&format!(
                "{} just filled up. Open the booking again to pick another day.",
                short_day(day)
            ))
        }))
    }

    fn dates_screen(&self, error: &str) -> Value {
        let dates: Vec<Value> = weekdays_after(self.today, DAYS)
            .into_iter()
            .map(|d| json!({ "id": d.to_string(), "title": short_day(d) }))
            .collect();
        json!({ "screen": "PICK_DATE", "data": { "dates": dates, "error_message": error } })
    }

    async fn book(&self, token: &str, slot: &str) -> Result<Value, BoxError> {
        let Some(phone) = self
            .stores
            .marks
            .get(&format!("flow-token-{token}"))
            .await?
        else {
            if self.reject_unknown_tokens {
                return Err(Box::new(whatsapp_cloud::flows::InvalidFlowToken));
            }
            return Ok(Self::notice(
                "This booking link has expired: ask us for a new one.",
            ));
        };
        let Some(start) = slot
            .parse()
            .ok()
            .and_then(|t| DateTime::from_timestamp(t, 0))
        else {
            return Ok(Self::notice(
                "That time could not be read. Open the booking again to pick one.",
            ));
        };
        let day = start.with_timezone(&self.zone).date_naive();
        if !weekdays_after(self.today, DAYS).contains(&day) {
            return Ok(Self::notice(
                "That day is not offered any more. Open the booking again to pick another.",
            ));
        }
        let offered = SLOTS
            .iter()
            .filter_map(|&s| self.start_of(day, s))
            .any(|t| t == start);
        if !offered {
            return self
                .slots_again(day, "That time is not offered: pick again.")
                .await;
        }
        // Appointments made in Salesforce by hand carry no slot key: the
        // calendar is read first; the unique key below settles races.
        let taken_by_another = self
            .bookings(day)
            .await?
            .iter()
            .any(|(at, by)| *at == start.timestamp() && by.as_deref() != Some(token));
        if taken_by_another {
            return self
                .slots_again(day, "That time was just taken: pick another.")
                .await;
        }
        // The slot is claimed by a unique key (`Slot_Key__c`: its start), so
        // two customers choosing it at the same moment cannot both get it:
        // the org refuses the second insert. A duplicate that holds our own
        // Flow token (`Booking_Key__c`) is WhatsApp retrying our request.
        let slot_key = format!("slot-{}", start.timestamp());
        let appointment = DynamicRecord::new()
            .set("Start__c", SfDateTime(start).to_salesforce())
            .set("Time_Zone__c", self.zone.name())
            .set("Customer_Phone__c", phone.as_str())
            .set("Status__c", "Scheduled")
            .set("Slot_Key__c", slot_key.as_str())
            .set("Booking_Key__c", token);
        let id = match self
            .salesforce
            .create(&appointment)
            .object("Appointment__c")
            .await
        {
            Ok(id) => id.to_string(),
            Err(e) if e.code() == Some(&salesforce_rest::ErrorCode::DuplicateValue) => {
                let soql = Soql::new(
                    "SELECT Id, Booking_Key__c, Slot_Key__c FROM Appointment__c WHERE Slot_Key__c = {} OR Booking_Key__c = {}",
                )
                .bind(slot_key.as_str())
                .bind(token)
                .build()?;
                let rows = self
                    .salesforce
                    .query_stream::<DynamicRecord>(&soql)
                    .collect_max(10)
                    .await?;
                let text = |r: &DynamicRecord, k: &str| {
                    r.get(k).and_then(Value::as_str).map(str::to_owned)
                };
                let holder = rows
                    .iter()
                    .find(|r| text(r, "Slot_Key__c").as_deref() == Some(slot_key.as_str()));
                match holder {
                    // Our own earlier attempt: the same booking.
                    Some(r) if text(r, "Booking_Key__c").as_deref() == Some(token) => {
                        r.id().map(|id| id.to_string()).unwrap_or_default()
                    }
                    Some(_) => {
                        return self
                            .slots_again(day, "That time was just taken: pick another.")
                            .await;
                    }
                    // This Flow booked another time before: move it here
                    // (refused in turn if this slot was just taken).
                    None => {
                        let Some(mine) = rows.iter().find_map(DynamicRecord::id) else {
                            return self
                                .slots_again(day, "That time was just taken: pick another.")
                                .await;
                        };
                        let moved = DynamicRecord::new()
                            .set("Start__c", SfDateTime(start).to_salesforce())
                            .set("Slot_Key__c", slot_key.as_str());
                        match self
                            .salesforce
                            .update(&mine, &moved)
                            .object("Appointment__c")
                            .await
                        {
                            Ok(()) => mine.to_string(),
                            Err(e)
                                if e.code()
                                    == Some(&salesforce_rest::ErrorCode::DuplicateValue) =>
                            {
                                return self
                                    .slots_again(day, "That time was just taken: pick another.")
                                    .await;
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
            }
            Err(e) => return Err(e.into()),
        };
        let starts = format::date_time(start, self.zone);
        tracing::info!(appointment = %id, "appointment booked from a Flow");
        Ok(json!({
            "screen": "SUCCESS",
            "data": { "extension_message_response": { "params": {
                "flow_token": token, "appointment_id": id, "starts": starts
            } } }
        }))
    }
}

#[async_trait::async_trait]
impl FlowsHandler for Booking {
    async fn handle(&self, request: FlowRequest) -> Result<Value, BoxError> {
        let field = |k: &str| {
            request
                .data
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        match (&request.action, request.screen.as_deref()) {
            (FlowAction::Init, _) | (FlowAction::Back, _) => Ok(self.dates_screen("")),
            (FlowAction::DataExchange, Some("PICK_DATE")) => {
                match field("date").parse::<NaiveDate>() {
                    Ok(day) if weekdays_after(self.today, DAYS).contains(&day) => {
                        Ok(self.slots_screen(day, "").await?.unwrap_or_else(|| {
                            self.dates_screen(&format!(
                                "{} is fully booked: pick another day.",
                                short_day(day)
                            ))
                        }))
                    }
                    _ => Ok(self.dates_screen("Pick one of the days shown.")),
                }
            }
            (FlowAction::DataExchange, Some("PICK_SLOT")) => {
                let token = request.flow_token.clone().unwrap_or_default();
                self.book(&token, &field("slot")).await
            }
            _ => Ok(self.dates_screen("")),
        }
    }
}

/// Sends the booking Flow to a customer, with a fresh token that maps to them.
pub async fn send_flow(b: &Backends, stores: &Stores, to: &str) -> Result<String, BoxError> {
    let token = format!("book-{:032x}", rand::random::<u128>());
    stores.marks.set(&format!("flow-token-{token}"), to).await?;
    let flow = Interactive::flow(
        "Book your next visit: pick a day and a time.",
        FlowRef::Name("book_appointment".into()),
        token.clone(),
        "Book now",
        messages::FlowAction::DataExchange,
    );
    b.whatsapp.send(Message::new(to, flow)).await?;
    Ok(token)
}

/// The key: the environment's, or a new one in the sandbox.
fn key_from_env(sandbox: bool) -> Result<FlowsKey, BoxError> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    let pem = match (
        var("WHATSAPP_FLOWS_PRIVATE_KEY"),
        var("WHATSAPP_FLOWS_PRIVATE_KEY_FILE"),
    ) {
        (Some(pem), _) => pem,
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read WHATSAPP_FLOWS_PRIVATE_KEY_FILE={path}: {e}"))?,
        (None, None) if sandbox => return Ok(FlowsKey::generate(2048)?),
        (None, None) => {
            return Err("WHATSAPP_FLOWS_PRIVATE_KEY (or WHATSAPP_FLOWS_PRIVATE_KEY_FILE) is not set: make one with --new-key and upload its public key".into());
        }
    };
    let pem = SecretString::from(pem);
    Ok(match var("WHATSAPP_FLOWS_KEY_PASSPHRASE") {
        Some(pass) => FlowsKey::from_encrypted_pem(&pem, &SecretString::from(pass))?,
        None => FlowsKey::from_pem(&pem)?,
    })
}

/// What a sandbox run did.
#[derive(Debug)]
pub struct Summary {
    /// The screens the customer went through.
    pub screens: Vec<String>,
    /// The times offered on the chosen day.
    pub offered: Vec<String>,
    /// The booked appointment.
    pub appointment_id: String,
    /// Whether WhatsApp's retry of the last request got the same appointment.
    pub retry_same: bool,
}

/// A customer books through the endpoint over HTTP, as WhatsApp would call it.
// `serde_json::Value` indexing answers `Null` for what is missing; it cannot panic.
#[allow(clippy::indexing_slicing)]
pub async fn run(b: &Backends, stores: Arc<Stores>, today: NaiveDate) -> Result<Summary, BoxError> {
    println!("Flows endpoint: appointment booking ({})\n", b.describe());
    let zone = examples::customer_zone()?;
    let key = key_from_env(true)?;
    let whatsapp = FlowsSimulator::new(&key.public_key_pem()?)?;
    if let (Some(org), Some(&first_day)) = (&b.org, weekdays_after(today, 1).first()) {
        // Another customer already has the first slot of the first day.
        let taken = zone
            .from_local_datetime(
                &first_day
                    .and_hms_opt(SLOTS[0].0, SLOTS[0].1, 0)
                    .unwrap_or_default(),
            )
            .single();
        if let Some(t) = taken {
            org.insert("Appointment__c", json!({"Start__c": SfDateTime(t.with_timezone(&Utc)).to_salesforce(), "Status__c": "Scheduled", "Customer_Phone__c": "14155550199", "Booking_Key__c": "seeded"}));
        }
    }
    let booking = Booking::new(b.salesforce.clone(), stores.clone(), zone, today);
    let verifier = SignatureVerifier::new(&SecretString::from(b.app_secret.clone()));
    let app = whatsapp_cloud::flows::router(key, Some(verifier.clone()), booking);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let customer = "14155550123";
    let token = send_flow(b, &stores, customer).await?;
    println!(
        "-> {}: Flow \"Book now\" sent",
        examples::pii::phone(customer)
    );
    let http = reqwest::Client::new();
    let exchange = |request: Value| {
        let (http, url, whatsapp, verifier) = (
            http.clone(),
            url.clone(),
            whatsapp.clone(),
            verifier.clone(),
        );
        async move {
            let sealed = whatsapp.seal(&request)?;
            let answer = http
                .post(&url)
                .header(
                    whatsapp_cloud::webhooks::SIGNATURE_HEADER,
                    verifier.sign(&sealed.body),
                )
                .body(sealed.body.clone())
                .send()
                .await?;
            let status = answer.status();
            let text = answer.text().await?;
            if !status.is_success() {
                return Err(format!("the endpoint answered {status}: {text}").into());
            }
            Ok::<Value, BoxError>(sealed.open(&text)?)
        }
    };
    let mut screens = Vec::new();
    let dates = exchange(json!({"version": "3.0", "action": "INIT", "flow_token": token})).await?;
    screens.push(dates["screen"].as_str().unwrap_or_default().to_owned());
    let day = dates["data"]["dates"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!(
        "   PICK_DATE: {} days offered, customer picks {}",
        dates["data"]["dates"].as_array().map_or(0, Vec::len),
        dates["data"]["dates"][0]["title"]
    );
    let slots = exchange(json!({"version": "3.0", "action": "data_exchange", "screen": "PICK_DATE", "data": {"date": day}, "flow_token": token})).await?;
    screens.push(slots["screen"].as_str().unwrap_or_default().to_owned());
    let offered: Vec<String> = slots["data"]["slots"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["title"].as_str().map(str::to_owned))
        .collect();
    println!("   PICK_SLOT: {}", offered.join(", "));
    let slot = slots["data"]["slots"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let last = json!({"version": "3.0", "action": "data_exchange", "screen": "PICK_SLOT", "data": {"slot": slot}, "flow_token": token});
    let done = exchange(last.clone()).await?;
    screens.push(done["screen"].as_str().unwrap_or_default().to_owned());
    let params = &done["data"]["extension_message_response"]["params"];
    let appointment_id = params["appointment_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!(
        "   SUCCESS: Appointment {appointment_id} at {}",
        params["starts"].as_str().unwrap_or_default()
    );
    // WhatsApp retries a request whose answer it did not get.
    let again = exchange(last).await?;
    let retry_same = again["data"]["extension_message_response"]["params"]["appointment_id"]
        == appointment_id.as_str();
    println!(
        "   retried: {}",
        if retry_same {
            "same appointment, nothing booked twice"
        } else {
            "a different answer"
        }
    );
    server.abort();
    Ok(Summary {
        screens,
        offered,
        appointment_id,
        retry_same,
    })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit_code(cli().await)
}

/// `FLOWS_UNKNOWN_TOKEN`: `427` answers unknown flow tokens with HTTP 427
/// (WhatsApp ends the Flow); `notice` (the default) with the notice screen.
fn unknown_tokens_get_427() -> Result<bool, BoxError> {
    match std::env::var("FLOWS_UNKNOWN_TOKEN")
        .ok()
        .as_deref()
        .map(str::trim)
    {
        None | Some("" | "notice") => Ok(false),
        Some("427") => Ok(true),
        Some(other) => {
            Err(format!("FLOWS_UNKNOWN_TOKEN must be 427 or notice, got {other:?}").into())
        }
    }
}

async fn serve(addr: &str) -> Result<(), BoxError> {
    unknown_tokens_get_427()?;
    let b = Backends::from_env().await?;
    let configured = [
        "WHATSAPP_FLOWS_PRIVATE_KEY",
        "WHATSAPP_FLOWS_PRIVATE_KEY_FILE",
    ]
    .iter()
    .any(|k| std::env::var(k).is_ok_and(|v| !v.trim().is_empty()));
    let key = key_from_env(b.graph.is_some())?;
    if !configured {
        // A key made for this run: only a client given its public key (the
        // sandbox's simulator) can reach the endpoint; WhatsApp cannot.
        eprintln!(
            "warning: no WHATSAPP_FLOWS_PRIVATE_KEY: serving with a key made for this run only; WhatsApp's requests will fail (421) until you set the key whose public half you uploaded (make one with --new-key PATH).
public key of this run:
{}",
            key.public_key_pem()?
        );
    }
    eprintln!(
        "note: bookings need flow tokens issued by the process that sends the Flow, sharing this store ({}); other tokens end on the \"expired link\" notice (FLOWS_UNKNOWN_TOKEN=427: HTTP 427, WhatsApp ends the Flow)",
        if std::env::var("REDIS_URL").is_ok() {
            "REDIS_URL"
        } else {
            "BRIDGE_DATA_DIR"
        }
    );
    let stores = Arc::new(Stores::for_tool("flows_endpoint").await?);
    let zone = examples::customer_zone()?;
    let today = Utc::now().with_timezone(&zone).date_naive();
    let verifier = SignatureVerifier::new(&SecretString::from(b.app_secret.clone()));
    let mut booking = Booking::new(b.salesforce.clone(), stores, zone, today);
    if unknown_tokens_get_427()? {
        booking = booking.reject_unknown_tokens();
    }
    let app = axum::Router::new().nest(
        "/flows",
        whatsapp_cloud::flows::router(key, Some(verifier), booking),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!(
        "Flows endpoint on http://{}/flows ({})",
        listener.local_addr()?,
        b.describe()
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn cli() -> Result<(), BoxError> {
    examples::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: flows_endpoint [--serve ADDR] [--print-flow-json] [--new-key PATH] [--show-pii]";
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "{usage}\n\nAnswers an appointment-booking WhatsApp Flow from the Salesforce calendar.\nWithout flags: a simulated customer books a slot in the sandbox.\n  --serve ADDR       serve the endpoint at http://ADDR/flows (with WHATSAPP_FLOWS_PRIVATE_KEY; flow tokens must come from the process that sends the Flow, on the same REDIS_URL or BRIDGE_DATA_DIR)\n  --print-flow-json  print the Flow JSON this endpoint answers\n  --new-key PATH     write a new private key to PATH (0600), print its public key\nReads WHATSAPP_FLOWS_PRIVATE_KEY(_FILE), WHATSAPP_FLOWS_KEY_PASSPHRASE, WHATSAPP_APP_SECRET, WHATSAPP_*, SALESFORCE_*, REDIS_URL, BRIDGE_DATA_DIR, CUSTOMER_TIME_ZONE, FLOWS_UNKNOWN_TOKEN (427: answer unknown flow tokens with HTTP 427; default: a notice screen)."
        );
        return Ok(());
    }
    if let Err(e) = examples::check_flags(&args, &["--print-flow-json"], &["--serve", "--new-key"])
    {
        // Printed once, by the exit handler, with the usage.
        return Err(Box::new(examples::UsageError(format!("{e}\n{usage}"))));
    }
    let value_of = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if args.iter().any(|a| a == "--print-flow-json") {
        println!("{FLOW_JSON}");
        return Ok(());
    }
    if let Some(path) = value_of("--new-key") {
        let key = FlowsKey::generate(2048)?;
        write_private(&path, &key)?;
        println!(
            "private key written to {path} (keep it secret)\n\npublic key to upload:\n{}",
            key.public_key_pem()?
        );
        return Ok(());
    }
    if let Some(addr) = value_of("--serve") {
        return serve(&addr).await;
    }
    let b = Backends::from_env().await?;
    if !b.is_sandbox() {
        return Err("without --serve this tool runs a simulated customer, which needs the sandbox: unset WHATSAPP_ACCESS_TOKEN and SALESFORCE_CLIENT_ID, or use --serve".into());
    }
    let stores = Arc::new(Stores::for_tool("flows_endpoint").await?);
    let zone = examples::customer_zone()?;
    let s = run(&b, stores, Utc::now().with_timezone(&zone).date_naive()).await?;
    println!(
        "\n{} screens, appointment {}",
        s.screens.len(),
        s.appointment_id
    );
    Ok(())
}

fn write_private(path: &str, key: &FlowsKey) -> Result<(), BoxError> {
    use secrecy::ExposeSecret;
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {path} (it must not exist yet): {e}"))?;
    file.write_all(key.private_key_pem()?.expose_secret().as_bytes())?;
    file.sync_all()?;
    Ok(())
}
