//! The Contact directory sync: the numbers of the org's Contacts, copied into
//! the customer store (all of them once, then what changed, with an
//! overlap), so that a customer seen for the first time needs no lookup: the
//! store already says whether they are a Contact. A few calls per 2,000
//! Contacts per sync, instead of one lookup per new customer.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::{SalesforceWriter, api_name};
use crate::customers::{ContactLink, CustomerRecord};
use crate::error::BridgeError;
use crate::format::phone;

/// The customer-store key holding when the directory was last synced.
const SYNC_MARK: &str = "contacts-directory-sync";
/// Late commits are re-read: each sync starts this long before the last.
const OVERLAP: Duration = Duration::minutes(5);

impl SalesforceWriter {
    /// Copies the org's Contacts' numbers into the customer store: every
    /// Contact the first time, then those changed since the last sync (minus
    /// five minutes). While the last sync is younger than
    /// `ContactMatching::sync_fresh_for`, a first-seen customer who is not in
    /// the store is taken as no Contact, without a lookup. Run it at start-up
    /// and every few minutes (`webhook_to_case` does, every 5 minutes).
    /// Returns how many Contacts were read.
    pub async fn sync_contacts(&self) -> Result<usize, BridgeError> {
        if !self.contacts.enabled {
            return Ok(0);
        }
        let started = self.clock.now();
        let since = self
            .customers
            .get(SYNC_MARK, started)
            .await?
            .and_then(|r| r.contact_checked_at)
            .map_or(DateTime::<Utc>::MIN_UTC, |at| at - OVERLAP);
        let mut fields: Vec<String> = vec!["Id".into(), "AccountId".into()];
        match &self.contacts.key_field {
            Some(k) => fields.push(api_name(k)?.to_owned()),
            None => {
                for f in &self.contacts.phone_fields {
                    fields.push(api_name(f)?.to_owned());
                }
            }
        }
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        let since = since.max(DateTime::from_timestamp(0, 0).unwrap_or_default());
        let mut rows = self
            .client
            .changed_since::<Value>("Contact", &refs, since)?;
        let mut read = 0;
        let keep = self.thread_window.max(self.contacts.recheck_after);
        while let Some(row) = rows.next().await.transpose()? {
            read += 1;
            let Some(id) = row.get("Id").and_then(Value::as_str) else {
                continue;
            };
            let account = row
                .get("AccountId")
                .and_then(Value::as_str)
                .map(str::to_owned);
            for key in self.contact_keys(&row) {
                let mut record = self.customer_record(&key, started).await;
                // Oldest first: a later Contact with the number wins.
                let others = match &record.contact {
                    Some(c) if c.id != id => c.others.saturating_add(1),
                    Some(c) => c.others,
                    None => 0,
                };
                let mut link = ContactLink::new(id, account.clone());
                link.others = others;
                record.contact = Some(link);
                record.contact_checked_at = Some(started);
                self.customers.put(&key, &record, keep, started).await?;
            }
        }
        let mark = CustomerRecord {
            contact_checked_at: Some(started),
            ..CustomerRecord::default()
        };
        self.customers
            .put(
                SYNC_MARK,
                &mark,
                StdDuration::from_secs(365 * 86_400),
                started,
            )
            .await?;
        if let Ok(mut at) = self.synced.lock() {
            *at = Some(started);
        }
        tracing::info!(contacts = read, "Contact directory synced");
        Ok(read)
    }

    /// Whether the directory was synced recently enough that a customer
    /// absent from the store is no Contact.
    pub(super) async fn directory_fresh(&self, now: DateTime<Utc>) -> bool {
        let Ok(fresh_for) = Duration::from_std(self.contacts.sync_fresh_for) else {
            return false;
        };
        let cached = self.synced.lock().ok().and_then(|g| *g);
        let at = match cached {
            Some(at) => Some(at),
            // Another instance may have synced: read its mark.
            None => self
                .customers
                .get(SYNC_MARK, now)
                .await
                .ok()
                .flatten()
                .and_then(|r| r.contact_checked_at),
        };
        at.is_some_and(|at| now - at <= fresh_for)
    }

    /// The customer keys (E.164) of a Contact row's number fields.
    pub(super) fn contact_keys(&self, row: &Value) -> Vec<String> {
        let fields: Vec<&String> = match &self.contacts.key_field {
            Some(k) => vec![k],
            None => self.contacts.phone_fields.iter().collect(),
        };
        let mut keys: Vec<String> = fields
            .into_iter()
            .filter_map(|f| row.get(f.as_str())?.as_str())
            .filter(|v| !v.trim().is_empty())
            .map(|v| phone::parse(v).map_or_else(|_| v.trim().to_owned(), |p| p.e164()))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}
