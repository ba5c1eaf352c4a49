//! Operating the bridge: retention settings, the embedded store's upkeep,
//! and erasing one customer.

use std::time::Duration;

use bridge_core::queue::Retention;

use crate::BoxError;

/// The retention from `BRIDGE_DEAD_LETTER_DAYS` (how long dead letters are
/// kept: default 30; 0 keeps them until purged by hand).
pub fn retention() -> Result<Retention, BoxError> {
    retention_from(std::env::var("BRIDGE_DEAD_LETTER_DAYS").ok().as_deref())
}

/// [`retention`] from a value of `BRIDGE_DEAD_LETTER_DAYS`.
pub fn retention_from(days: Option<&str>) -> Result<Retention, BoxError> {
    let days = match days.map(str::trim).filter(|d| !d.is_empty()) {
        None => return Ok(Retention::default()),
        Some(d) => d.parse::<u64>().map_err(|_| {
            format!("BRIDGE_DEAD_LETTER_DAYS must be a whole number of days (0: keep), got {d:?}")
        })?,
    };
    Ok(Retention::default().dead_letters((days > 0).then(|| Duration::from_secs(days * 86_400))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_days_are_read_or_refused_by_name() {
        assert_eq!(retention_from(None).unwrap(), Retention::default());
        assert_eq!(
            retention_from(Some("7")).unwrap().dead_letters,
            Some(Duration::from_secs(7 * 86_400))
        );
        assert_eq!(retention_from(Some("0")).unwrap().dead_letters, None);
        let e = retention_from(Some("a week")).unwrap_err().to_string();
        assert!(e.contains("BRIDGE_DEAD_LETTER_DAYS"), "{e}");
    }
}
