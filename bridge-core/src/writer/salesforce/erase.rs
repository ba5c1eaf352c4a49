//! Erasing one customer's conversation ledger records in Salesforce
//! (`WhatsApp_Message__c`): found by their number, then deleted or
//! anonymised, or only counted (a dry run).

use salesforce_rest::SalesforceId;
use salesforce_rest::composite::CompositeRequest;
use serde_json::{Value, json};

use super::{SalesforceWriter, api_name};
use crate::erase::Customer;
use crate::error::BridgeError;

/// What [`SalesforceWriter::erase_customer_messages`] does with the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LedgerErasure {
    /// Only find them (nothing changes).
    DryRun,
    /// Delete them (to the org's recycle bin).
    Delete,
    /// Keep them for the counts, with the text and the number blanked.
    Anonymise,
}

/// What an erasure found and did in Salesforce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LedgerErased {
    /// The customer's ledger records found.
    pub found: Vec<SalesforceId>,
    /// Records deleted or anonymised.
    pub changed: usize,
    /// Records the org refused to change: (id, its error code).
    pub failed: Vec<(SalesforceId, String)>,
}

impl SalesforceWriter {
    /// Finds the customer's conversation ledger records (by the customer
    /// phone field of the [ledger schema](crate::ledger::LedgerSchema), in
    /// the forms the bridge writes it) and deletes or anonymises them (200
    /// per call), or with [`LedgerErasure::DryRun`] only reports them.
    /// Cases, Leads and Contacts are the org's records: their retention is
    /// the org's policy, not the bridge's.
    pub async fn erase_customer_messages(
        &self,
        customer: &Customer,
        how: LedgerErasure,
    ) -> Result<LedgerErased, BridgeError> {
        let s = &self.ledger;
        let (object, phone) = (api_name(&s.object)?, api_name(&s.customer_phone)?);
        // Digits only (checked by `Customer`): nothing to escape.
        let digits = customer.digits();
        let soql = format!("SELECT Id FROM {object} WHERE {phone} IN ('{digits}', '+{digits}')");
        let mut page = self.client.query::<Value>(&soql).await?;
        let mut found = Vec::new();
        loop {
            found.extend(
                page.records
                    .iter()
                    .filter_map(|r| r["Id"].as_str())
                    .filter_map(|id| SalesforceId::parse(id).ok()),
            );
            match page.next_records_url.clone() {
                Some(next) => page = self.client.query_more(&next).await?,
                None => break,
            }
        }
        let mut out = LedgerErased {
            found,
            ..LedgerErased::default()
        };
        let results = match how {
            LedgerErasure::DryRun => return Ok(out),
            LedgerErasure::Delete => self.client.delete_many(&out.found, false).await?,
            LedgerErasure::Anonymise => {
                let mut results = Vec::new();
                for chunk in out.found.chunks(200) {
                    let records: Vec<Value> = chunk
                        .iter()
                        .map(|id| {
                            json!({
                                "attributes": { "type": s.object },
                                "Id": id.as_str(),
                                (s.body.as_str()): "[erased]",
                                (s.customer_phone.as_str()): "erased",
                            })
                        })
                        .collect();
                    let request = CompositeRequest::new(false).push(self.collection(
                        "PATCH",
                        "composite/sobjects",
                        "anonymise",
                        records,
                    ));
                    let answer = self.client.composite(&request).await?;
                    for r in answer.into_result()? {
                        results.extend(
                            serde_json::from_value::<Vec<salesforce_rest::sobjects::SaveResult>>(
                                r.body.clone(),
                            )
                            .unwrap_or_default(),
                        );
                    }
                }
                results
            }
        };
        for (id, r) in out.found.clone().iter().zip(results) {
            if r.success {
                out.changed += 1;
            } else {
                let code = r
                    .errors
                    .first()
                    .map_or_else(|| "UNKNOWN".to_owned(), |e| e.code.to_string());
                out.failed.push((id.clone(), code));
            }
        }
        tracing::info!(
            target: "bridge_core::audit",
            event = "customer_messages_erased",
            found = out.found.len(),
            changed = out.changed,
            failed = out.failed.len(),
            how = ?how,
        );
        Ok(out)
    }
}
