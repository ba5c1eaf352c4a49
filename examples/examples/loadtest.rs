//! Load-test a running bridge before a campaign: signed webhooks, as Meta
//! sends them, at a rate; prints throughput and acknowledgement latency.
//!
//! ```text
//! cargo run --example webhook_to_case &          # the bridge, on a test setup
//! cargo run --example loadtest -- --messages 1000 --rate 200
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use examples::BoxError;
use examples::loadtest::{LoadOptions, run};

const HELP: &str = "\
Load-test a running bridge: sends signed WhatsApp webhooks, one text message
from a different (fictional, +1 NXX 555-01XX) customer each, and prints the
throughput and the acknowledgement latency (p50, p90, p99, max).

Usage: loadtest [--url URL] [--messages N] [--rate PER_SECOND]
                [--concurrency N] [--text TEXT] [--allow-remote]

  --url URL           the bridge's webhook (default http://127.0.0.1:3000/webhook,
                      or http://$BIND_ADDR/webhook)
  --messages N        webhooks to send (default 100)
  --rate PER_SECOND   webhooks started per second (default: as fast as answered)
  --concurrency N     webhooks awaiting their answer at once (default 16)
  --text TEXT         the message text (default opens a Case)
  --allow-remote      accept a bridge that is not on this machine (it writes
                      records and sends replies: use a test setup)

Reads WHATSAPP_APP_SECRET (the secret the bridge checks signatures with;
the sandbox's when unset) and BIND_ADDR. Exits 1 when any webhook was not
acknowledged with 200.";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit_code(cli().await)
}

fn number(flag: &str, value: &str) -> Result<f64, BoxError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| {
            examples::UsageError(format!("{flag} takes a number, got {value:?}\n{HELP}")).into()
        })
}

async fn cli() -> Result<(), BoxError> {
    let (args, help) = examples::cli_args(
        HELP,
        &["--allow-remote"],
        &["--url", "--messages", "--rate", "--concurrency", "--text"],
    )?;
    if help {
        return Ok(());
    }
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let secret = std::env::var("WHATSAPP_APP_SECRET")
        .unwrap_or_else(|_| examples::SANDBOX_APP_SECRET.to_owned());
    let mut options = LoadOptions::new(format!("http://{bind}/webhook"), secret);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--allow-remote" {
            options = options.allow_remote(true);
            continue;
        }
        // `cli_args` checked that every other flag has its value.
        let value = it.next().cloned().unwrap_or_default();
        match flag.as_str() {
            "--url" => options.url = value,
            "--messages" => options = options.messages(number(flag, &value)? as usize),
            "--rate" => options = options.rate(number(flag, &value)?),
            "--concurrency" => options = options.concurrency(number(flag, &value)? as usize),
            "--text" => options = options.text(value),
            _ => {}
        }
    }
    println!(
        "sending {} webhooks to {}{}",
        options.messages,
        options.url,
        options
            .rate
            .map(|r| format!(" at {r}/s"))
            .unwrap_or_default()
    );
    let report = run(options).await?;
    println!("{report}");
    if report.acknowledged() < report.sent {
        return Err(format!(
            "{} of {} webhooks were not acknowledged with 200",
            report.sent - report.acknowledged(),
            report.sent
        )
        .into());
    }
    Ok(())
}
