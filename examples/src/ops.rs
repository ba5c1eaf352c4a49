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

/// What `webhook_to_case erase` did, to print.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct EraseReport {
    /// Removed from the local stores (queues, dedup, windows...).
    pub stores: bridge_core::erase::Erased,
    /// Found (and, when asked, changed) in Salesforce.
    pub salesforce: Option<bridge_core::writer::LedgerErased>,
    /// What was asked of Salesforce.
    pub how: Option<bridge_core::writer::LedgerErasure>,
}

impl std::fmt::Display for EraseReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = &self.stores;
        writeln!(
            f,
            "stores: {} job(s), {} message key(s), {} window(s), {} sent-log entr(ies), {} customer record(s) removed; opt-out {}",
            e.jobs,
            e.keys,
            e.windows,
            e.sent,
            e.customer_records,
            if e.opt_out_hashed {
                "kept as a hash (still honoured)"
            } else {
                "none"
            }
        )?;
        if let (Some(sf), Some(how)) = (&self.salesforce, self.how) {
            use bridge_core::writer::LedgerErasure;
            match how {
                LedgerErasure::DryRun => write!(
                    f,
                    "salesforce: {} WhatsApp message record(s) found; nothing changed (dry run: add --salesforce delete or --salesforce anonymise)",
                    sf.found.len()
                )?,
                _ => write!(
                    f,
                    "salesforce: {} of {} WhatsApp message record(s) {}{}",
                    sf.changed,
                    sf.found.len(),
                    if how == LedgerErasure::Delete {
                        "deleted"
                    } else {
                        "anonymised"
                    },
                    match sf.failed.first() {
                        None => String::new(),
                        Some((_, code)) => format!("; {} refused ({code})", sf.failed.len()),
                    }
                )?,
            }
        }
        Ok(())
    }
}

/// Erases a customer from the stores (the embedded store is then rewritten,
/// so no freed page keeps them: no process may hold it) and, with a
/// writer, finds (or deletes, or anonymises) their ledger records in
/// Salesforce.
pub async fn erase(
    stores: crate::Stores,
    customer: &bridge_core::erase::Customer,
    salesforce: Option<(
        &bridge_core::writer::SalesforceWriter,
        bridge_core::writer::LedgerErasure,
    )>,
) -> Result<EraseReport, BoxError> {
    let mut report = EraseReport::default();
    match &stores.embedded {
        Some(store) => {
            report.stores = store.erase_customer(customer).await?;
        }
        None => {
            for q in [&stores.inbox, &stores.outbox, &stores.ledger] {
                let (jobs, keys) = q.erase_customer(customer).await?;
                report.stores.jobs += jobs;
                report.stores.keys += keys;
            }
            if let crate::Marks::Redis(conn, prefix) = &*stores.marks {
                report.stores += bridge_core::redis::erase_customer(conn, prefix, customer).await?;
            }
        }
    }
    let dir = stores
        .embedded
        .as_ref()
        .and_then(|s| s.path())
        .and_then(|p| p.parent())
        .map(std::path::Path::to_path_buf);
    drop(stores);
    if let Some(dir) = dir {
        bridge_core::embedded::EmbeddedStore::rewrite(&dir)?;
    }
    if let Some((writer, how)) = salesforce {
        report.salesforce = Some(writer.erase_customer_messages(customer, how).await?);
        report.how = Some(how);
    }
    Ok(report)
}

/// Reads `--salesforce delete|anonymise` (absent: a dry run).
pub fn ledger_erasure(value: Option<&str>) -> Result<bridge_core::writer::LedgerErasure, String> {
    use bridge_core::writer::LedgerErasure;
    match value.map(str::trim) {
        None | Some("dry-run") => Ok(LedgerErasure::DryRun),
        Some("delete") => Ok(LedgerErasure::Delete),
        Some("anonymise" | "anonymize") => Ok(LedgerErasure::Anonymise),
        Some(other) => Err(format!(
            "--salesforce takes delete or anonymise, got {other:?}"
        )),
    }
}
