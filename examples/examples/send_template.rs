//! Send any approved template from the command line, with typed parameters.
//!
//! ```text
//! cargo run --example send_template -- --to 14155550123 --template payment_reminder \
//!     --param text:Ana --param usd:149999 --param date:2025-04-30 --url-button 0:pay/INV-1
//! ```
//!
//! Parameters, in placeholder order: `text:<text>`, `usd:<cents>` (or
//! `currency:<CODE>:<cents>`), `date:<YYYY-MM-DD>` (sent as 04/30/2025),
//! `datetime:<fallback text>`. Buttons: `--quick-reply <index>:<payload>`,
//! `--url-button <index>:<suffix>`; header: `--header-image <https URL>` or
//! `--header-text <text>`; `--lang en_US` (default). Reads `WHATSAPP_*` (the
//! sandbox without them). With no arguments it sends a sample reminder in the
//! sandbox only: against the real API, `--to` and `--template` are required.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use bridge_core::format;
use chrono::NaiveDate;
use examples::{Backends, BoxError};
use whatsapp_cloud::messages::{HeaderParam, Media, MediaSource, Message, Template, TemplateParam};

/// A change to the template, applied after the body.
type Edit = Box<dyn FnOnce(Template) -> Result<Template, BoxError>>;

/// Parses the command line into a recipient and a template.
pub fn parse(args: &[String]) -> Result<(String, Template), BoxError> {
    let args: Vec<String> = if args.is_empty() {
        [
            "--to",
            "14155550123",
            "--template",
            "payment_reminder",
            "--param",
            "text:Ana",
            "--param",
            "usd:149999",
            "--param",
            "date:2025-04-30",
            "--url-button",
            "0:pay/INV-10442",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    } else {
        args.to_vec()
    };
    let mut to = None;
    let mut name = None;
    let mut lang = "en_US".to_owned();
    let mut params = Vec::new();
    let mut extras: Vec<Edit> = Vec::new();
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--to" => to = Some(value()?),
            "--template" => name = Some(value()?),
            "--lang" => lang = value()?,
            "--param" => params.push(param(&value()?)?),
            "--quick-reply" | "--url-button" => {
                let v = value()?;
                let (i, rest) = v.split_once(':').ok_or("expected <index>:<value>")?;
                let i: u8 = i.parse().map_err(|_| format!("bad button index {i:?}"))?;
                let rest = rest.to_owned();
                let quick = flag == "--quick-reply";
                extras.push(Box::new(move |t| {
                    Ok(if quick {
                        t.quick_reply_button(i, rest)
                    } else {
                        t.url_button(i, rest)
                    })
                }));
            }
            "--header-image" => {
                let v = value()?;
                extras.push(Box::new(move |t| {
                    Ok(t.header(HeaderParam::Image {
                        image: Media::image(MediaSource::Link(v)),
                    }))
                }));
            }
            "--header-text" => {
                let v = value()?;
                extras.push(Box::new(move |t| Ok(t.header(HeaderParam::text(v)))));
            }
            other => {
                return Err(Box::new(examples::UsageError(format!(
                    "unknown argument {other:?}\n{USAGE}"
                ))));
            }
        }
    }
    let mut t = Template::new(name.ok_or("--template is required")?, lang);
    if !params.is_empty() {
        t = t.body(params);
    }
    for f in extras {
        t = f(t)?;
    }
    Ok((to.ok_or("--to is required")?, t))
}

fn param(spec: &str) -> Result<TemplateParam, BoxError> {
    let (kind, value) = spec
        .split_once(':')
        .ok_or_else(|| format!("parameter {spec:?}: expected <type>:<value>"))?;
    Ok(match kind {
        "text" => TemplateParam::text(value),
        "usd" => {
            let cents: i64 = value
                .parse()
                .map_err(|_| format!("usd:{value}: expected cents, e.g. usd:149999"))?;
            TemplateParam::currency("USD", format::amount_1000(cents), format::money(cents))
        }
        "currency" => {
            let (code, cents) = value.split_once(':').ok_or("currency:<CODE>:<cents>")?;
            let cents: i64 = cents
                .parse()
                .map_err(|_| "currency cents must be an integer")?;
            TemplateParam::currency(
                code,
                format::amount_1000(cents),
                format!("{code} {}", format::number(cents)),
            )
        }
        "date" => {
            let d = NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .map_err(|_| format!("date:{value}: expected YYYY-MM-DD"))?;
            TemplateParam::date_time(format::date(d))
        }
        "datetime" => TemplateParam::date_time(value),
        other => {
            return Err(format!(
                "unknown parameter type {other:?}: use text, usd, currency, date, datetime"
            )
            .into());
        }
    })
}

const USAGE: &str = "usage: send_template --to <number> --template <name> [--lang en_US] [--param <type>:<value>]... [--quick-reply <i>:<payload>] [--url-button <i>:<suffix>] [--header-image <url> | --header-text <text>]";

/// Sends the template the arguments describe.
pub async fn run(b: &Backends, args: &[String]) -> Result<String, BoxError> {
    if args.is_empty() && b.graph.is_none() {
        return Err(Box::new(examples::UsageError(format!(
            "nothing is sent to the real WhatsApp API without --to and --template\n{USAGE}"
        ))));
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "{USAGE}\n\nParameter types: text, usd (cents), currency:<CODE>:<cents>, date (YYYY-MM-DD), datetime.\nReads WHATSAPP_* (the sandbox Graph API when unset: nothing leaves the machine) and SALESFORCE_* (real or sandbox like WhatsApp; BRIDGE_ALLOW_MIXED=1 to mix)."
        );
        return Ok(String::new());
    }
    let (to, template) = parse(args)?;
    let name = template.name().to_owned();
    let message = Message::new(to.as_str(), template);
    message.validate()?;
    println!(
        "Sending template {name} to {} ({})",
        format::phone::format_or_raw(&to),
        b.describe()
    );
    println!("{}", serde_json::to_string_pretty(&message.to_json())?);
    let r = b.whatsapp.send(message).await?;
    let id = r.message_id().unwrap_or("-").to_owned();
    println!("sent: {id} (wa_id {})", r.wa_id().unwrap_or("-"));
    Ok(id)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit_code(cli().await)
}

async fn cli() -> Result<(), BoxError> {
    examples::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let b = Backends::from_env().await?;
    run(&b, &args).await?;
    Ok(())
}
