//! Logging for the examples: text for people, JSON for log collectors.

use std::env;

/// Starts `tracing` output (`RUST_LOG` controls it; warnings by default),
/// coloured only when stdout is a terminal. `LOG_FORMAT=json` writes one
/// JSON object per line instead, for log collectors, with stable field
/// names: `timestamp`, `level`, `message` and the event's own fields at the
/// top level, and `span` / `spans` (the current span and every enclosing
/// one with their fields: a job's `id` and `attempt`, a message's
/// `message_id` and `channel`). Customers' numbers, names and texts are
/// redacted in every format.
#[allow(clippy::print_stderr)]
pub fn init_tracing() {
    // (Read here for every example; the `examples` helpers' table lists it.)
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let format = env::var("LOG_FORMAT").unwrap_or_default();
    match log_format(&format) {
        Ok(LogFormat::Json) => {
            let _ = tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(true)
                .with_env_filter(filter)
                .with_target(false)
                .try_init();
        }
        other => {
            if let Err(e) = other {
                eprintln!("warning: {e}; writing text logs");
            }
            // Colour only for a terminal: never escape codes in a pipe or a log file.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_target(false)
                .with_ansi(ansi)
                .try_init();
        }
    }
}

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object per line.
    Json,
}

/// Reads a `LOG_FORMAT` value: `json`, or `text` / empty for the default.
///
/// # Errors
///
/// Any other value, named in the message.
pub fn log_format(value: &str) -> Result<LogFormat, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("LOG_FORMAT must be json or text, got {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_formats_are_json_or_text_and_nothing_else() {
        assert_eq!(log_format(" JSON "), Ok(LogFormat::Json));
        assert_eq!(log_format(""), Ok(LogFormat::Text));
        assert_eq!(log_format("text"), Ok(LogFormat::Text));
        let e = log_format("logfmt").unwrap_err();
        assert!(e.contains("LOG_FORMAT") && e.contains("logfmt"), "{e}");
    }
}
