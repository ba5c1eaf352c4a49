//! The command line of the `webhook_to_case` example: its usage, its
//! commands, `setup` and the administrative commands.
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use bridge_core::clock::{Clock, SystemClock};
use bridge_core::queue::{JobId, JobQueue};

use crate::{BoxError, Stores};

/// The usage text.
pub const USAGE: &str = "usage: webhook_to_case [--demo]
       webhook_to_case setup [--check]
       webhook_to_case dead-letters [list | replay inbox|outbox ID | purge inbox|outbox [ID]]
       webhook_to_case stats
       webhook_to_case erase --phone NUMBER [--salesforce delete|anonymise]
       webhook_to_case --help

Serves the WhatsApp webhook on BIND_ADDR (default 127.0.0.1:3000): every
message is enqueued durably and answered 200 at once, then written to
Salesforce (a Case for support words, else the customer's Lead or known
Contact; one WhatsApp_Message__c record per message) and answered.

  --demo          sandbox only: the server sends itself signed webhooks, prints
                  what happened and exits (nothing leaves the machine)
  setup           creates what the org needs (the WhatsApp_Message__c object,
                  key fields on Case/Lead, a WhatsApp_Bridge permission set);
                  a second run changes nothing
  setup --check   only reports what is missing; exits 1 when anything is
  erase           removes a customer from the queues and stores (jobs,
                  message ids, windows, sent log, cached ids; the embedded
                  store's file is rewritten: stop the server first); their
                  opt-out is kept as a hash. Their WhatsApp_Message__c
                  records in Salesforce are only counted, unless
                  --salesforce delete (or anonymise) says otherwise

Environment:
  BIND_ADDR                 listen address (default 127.0.0.1:3000)
  WHATSAPP_ACCESS_TOKEN, WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_APP_SECRET,
  WHATSAPP_VERIFY_TOKEN     the real Graph API (else the embedded sandbox)
  SALESFORCE_CLIENT_ID and SALESFORCE_REFRESH_TOKEN (or JWT / password /
  client credentials), SALESFORCE_LOGIN_URL, SALESFORCE_ORG_ID
                            the real org (else the embedded sandbox); every
                            WHATSAPP_* and SALESFORCE_* variable: see the README
  REDIS_URL                 share queues and state between instances: redis://host:6379,
                            rediss://user:password@host:6379 (TLS, ACL user),
                            redis+cluster://host1:port,host2:port (a cluster; rediss+cluster:// over TLS)
  BRIDGE_REDIS_REPLICAS     replicas that must have each enqueue before the 200 (default: 1 when
                            the primary has one, else 0); BRIDGE_REDIS_WAIT_MS how long (default 1000)
  BRIDGE_DATA_DIR           the embedded store's directory (default bridge-data)
  BRIDGE_LEASE_SECS         job lease, default 30
  BRIDGE_DEAD_LETTER_DAYS   how long dead letters are kept (default 30; 0: until purged by
                            hand); completed keys are kept 8 days (Meta redelivers for 7)
  BRIDGE_OWN_NUMBERS        our business numbers (loop prevention)
  BRIDGE_THREAD_DAYS        how long an open Case takes follow-ups (default 7)
  BRIDGE_CONTACT_SYNC_MINUTES  how often Contacts' numbers are synced (default 5; 0 off)
  BRIDGE_AGENT_POLL_SECS    how often agents' queued Outbound records are sent (default 5; 0 off)
  BRIDGE_WORKERS            jobs in flight per queue (inbox, outbox; default 1024)
  BRIDGE_UNCONFIRMED_WAIT_SECS  how long a send cut short by a crash waits for its status before it goes again (default 120)
  SMS_FALLBACK              twilio: customers WhatsApp cannot reach get the text by SMS (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM; TWILIO_BASE_URL for a compatible provider)
  LATE_REPLY_TEMPLATE       the template (name or name:language) for replies whose 24-hour window closed before they went
  WHATSAPP_NUMBER_ROLES     several business numbers: <phone number id>:support,<phone number id>:sales (replies leave from the number written to)
  BRIDGE_AGENT_CDC          send agents' records as they commit: the ledger object's change channel (e.g. /data/WhatsApp_Message__ChangeEvent; SALESFORCE_PUBSUB_URL for the endpoint)
  AGENT_REPLY_TEMPLATE      the template for agent replies outside the 24-hour window
                            (`name` or `name:language`; without it they are marked Failed)
  AGENT_REPLY_TEMPLATE_BY_NUMBER  templates of particular numbers: <phone number id>=<name>[:<language>],...
  RUST_LOG                  what is logged (default warn; info shows each message's outcome)
  LOG_FORMAT                json: one JSON object per log line (timestamp, level, message,
                            span with the job id and message id); default text
  WHATSAPP_SEND_RATE        Meta's per-number send rate, paced (default 80/s)
  SALESFORCE_CASE_KEY_FIELD, SALESFORCE_LEAD_KEY_FIELD, SALESFORCE_CONTACT_KEY_FIELD,
  SALESFORCE_CONTACT_MATCHING=off, SALESFORCE_OPT_OUT_FIELD
                            field names (see the README's Salesforce set-up)";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Serve (or run the sandbox demo).
    Serve {
        /// Send itself webhooks and exit.
        demo: bool,
    },
    /// List dead letters.
    ListDead,
    /// Replay one dead letter.
    Replay(String, String),
    /// Purge one or all dead letters of a queue.
    Purge(String, Option<String>),
    /// Print queue counters.
    Stats,
    /// Erase one customer from the stores (and their ledger records in
    /// Salesforce: a dry run unless `salesforce` says delete or anonymise).
    Erase {
        /// Their phone number, in any formatting.
        phone: String,
        /// `delete` or `anonymise`; `None`: only report.
        salesforce: Option<String>,
    },
    /// Create (or with `check`, only report) what the org needs.
    Setup {
        /// Report only.
        check: bool,
    },
    /// Print the usage.
    Help,
}

/// Parses the arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Command, String> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let queue = |q: &str| match q {
        "inbox" | "outbox" => Ok(q.to_owned()),
        other => Err(format!("unknown queue {other:?}: use inbox or outbox")),
    };
    match a.as_slice() {
        [] => Ok(Command::Serve { demo: false }),
        ["--demo"] => Ok(Command::Serve { demo: true }),
        ["--help" | "-h" | "help"] => Ok(Command::Help),
        ["stats"] => Ok(Command::Stats),
        ["setup"] => Ok(Command::Setup { check: false }),
        ["setup", "--check"] => Ok(Command::Setup { check: true }),
        ["dead-letters"] | ["dead-letters", "list"] => Ok(Command::ListDead),
        ["dead-letters", "replay", q, id] => Ok(Command::Replay(queue(q)?, (*id).to_owned())),
        ["dead-letters", "purge", q] => Ok(Command::Purge(queue(q)?, None)),
        ["dead-letters", "purge", q, id] => Ok(Command::Purge(queue(q)?, Some((*id).to_owned()))),
        ["erase", rest @ ..] => {
            let (mut phone, mut salesforce) = (None, None);
            let mut it = rest.iter();
            while let Some(flag) = it.next() {
                let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
                match *flag {
                    "--phone" => phone = Some((*value).to_owned()),
                    "--salesforce" => salesforce = Some((*value).to_owned()),
                    other => return Err(format!("erase: unknown option {other}")),
                }
            }
            let phone = phone.ok_or("erase needs --phone NUMBER (the customer's number)")?;
            Ok(Command::Erase { phone, salesforce })
        }
        _ => Err(format!("unexpected arguments: {}", a.join(" "))),
    }
}

/// `setup`: creates what the org lacks (or with `check` only reports it,
/// failing when anything is missing). Returns the report to print.
pub async fn setup(
    writer: &bridge_core::writer::SalesforceWriter,
    check: bool,
) -> Result<String, BoxError> {
    let report = writer.setup(!check).await?;
    let mut out = String::new();
    for p in &report.present {
        out.push_str(&format!("  ok       {p}\n"));
    }
    for m in &report.missing {
        let made = report.created.contains(m);
        out.push_str(&format!(
            "  {}  {m}\n",
            if made { "created" } else { "MISSING" }
        ));
    }
    for c in report
        .created
        .iter()
        .filter(|c| !report.missing.contains(c))
    {
        out.push_str(&format!("  created  {c}\n"));
    }
    for w in &report.wrong {
        out.push_str(&format!("  WRONG    {w}\n"));
    }
    if check && !report.is_complete() {
        return Err(format!(
            "{out}the org is not set up for the bridge: {} thing(s) missing or wrong; run `webhook_to_case setup` to create them",
            report.missing.len() + report.wrong.len()
        )
        .into());
    }
    if !report.wrong.is_empty() {
        return Err(
            format!("{out}fix the fields marked WRONG by hand, then run setup again").into(),
        );
    }
    out.push_str(if report.changed() {
        "the org is set up for the bridge"
    } else {
        "nothing to change: the org was already set up"
    });
    Ok(out)
}

/// The administrative commands (dead letters, stats).
pub async fn admin(cmd: Command, stores: &Stores) -> Result<(), BoxError> {
    let now = SystemClock.now();
    let pick = |q: &str| -> Arc<dyn JobQueue> {
        if q == "inbox" {
            stores.inbox.clone()
        } else {
            stores.outbox.clone()
        }
    };
    match cmd {
        Command::ListDead => {
            for (name, q) in [("inbox", &stores.inbox), ("outbox", &stores.outbox)] {
                let dead = q.dead_letters(1000).await?;
                println!("{name}: {} dead letter(s)", dead.len());
                for d in dead {
                    println!(
                        "  {name} {}  attempts {}  died {}  error: {}",
                        d.job.id,
                        d.job.attempts,
                        d.died_at.format("%m/%d/%Y %I:%M %p UTC"),
                        d.error
                    );
                }
            }
        }
        Command::Replay(q, id) => {
            pick(&q).replay(&JobId::new(id.clone()), now).await?;
            println!("{q} {id}: replayed");
        }
        Command::Purge(q, id) => {
            let n = pick(&q).purge(id.map(JobId::new).as_ref(), now).await?;
            println!("{q}: {n} dead letter(s) purged");
        }
        Command::Stats => {
            for (name, q) in [("inbox", &stores.inbox), ("outbox", &stores.outbox)] {
                let s = q.stats(now).await?;
                println!(
                    "{name}: {} waiting, {} in flight, {} retries, {} dead letters, oldest {}",
                    s.depth,
                    s.in_flight,
                    s.retries,
                    s.dead_letters,
                    s.oldest_age
                        .map_or_else(|| "-".to_owned(), |a| format!("{}s", a.as_secs()))
                );
            }
        }
        Command::Serve { .. } | Command::Help | Command::Setup { .. } | Command::Erase { .. } => {}
    }
    Ok(())
}
