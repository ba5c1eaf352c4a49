//! What the examples print about customers: phone numbers, names and message
//! text are redacted on stdout like in the logs, unless the run was started
//! with `--show-pii` (every example takes it).

use std::sync::atomic::{AtomicBool, Ordering};

static SHOW: AtomicBool = AtomicBool::new(false);

/// Turns raw output on or off (`--show-pii`; `check_flags` sets it).
pub fn set_show_pii(on: bool) {
    SHOW.store(on, Ordering::Relaxed);
}

/// Whether customers' data is printed as it is.
pub fn show_pii() -> bool {
    SHOW.load(Ordering::Relaxed)
}

/// A phone number to print: `***23` by default, `+1 (415) 555-0123` with
/// `--show-pii`.
pub fn phone(number: &str) -> String {
    if show_pii() {
        bridge_core::format::phone::format_or_raw(number)
    } else {
        bridge_core::audit::redact_phone(number)
    }
}

/// A name to print: its initial by default, whole with `--show-pii`.
pub fn name(name: &str) -> String {
    match (show_pii(), name.trim().chars().next()) {
        (true, _) => name.to_owned(),
        (false, Some(initial)) => format!("{initial}."),
        (false, None) => String::new(),
    }
}

/// Message text to print: its length by default, whole with `--show-pii`.
pub fn text(text: &str) -> String {
    if show_pii() {
        text.to_owned()
    } else {
        format!("[{} characters]", text.chars().count())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacted_unless_asked() {
        super::set_show_pii(false);
        assert_eq!(super::phone("14155550123"), "***23");
        assert_eq!(super::name("Ana Lima"), "A.");
        assert_eq!(super::text("Your order shipped"), "[18 characters]");
        super::set_show_pii(true);
        assert_eq!(super::phone("14155550123"), "+1 (415) 555-0123");
        assert_eq!(super::text("Your order shipped"), "Your order shipped");
        super::set_show_pii(false);
    }
}
