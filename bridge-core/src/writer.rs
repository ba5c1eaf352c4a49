//! Writing actions to a CRM: the [`RecordWriter`] trait and its Salesforce
//! implementation (feature `salesforce`).

use async_trait::async_trait;

use crate::error::BridgeError;
use crate::inbound::CustomerMessage;
use crate::ledger::LedgerEntry;
use crate::mapping::Action;

/// Which answer a written message gets, decided by the writer from data
/// that survives retries and crashes (never from whether a retried write
/// "created" something).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Acknowledgement {
    /// A new Case was opened for the message: "your case number is ...".
    CaseOpened {
        /// The case number.
        number: String,
    },
    /// The message joined the customer's open Case: "added to case ...".
    CaseJoined {
        /// The case number.
        number: String,
    },
    /// The message made a new customer's Lead (the Lead records this
    /// message as its first): a welcome.
    Welcome,
}

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct WriteOutcome {
    /// The object written (`Case`, `Lead`...), empty when nothing was written.
    pub object: String,
    /// The record id.
    pub record_id: Option<String>,
    /// The case number, for Cases.
    pub case_number: Option<String>,
    /// Whether a new record was created (false: an existing one was updated).
    pub created: bool,
    /// The follow-up Task, when one was added.
    pub follow_up_task: Option<String>,
    /// The answer the customer gets. `None` from writers that do not decide
    /// it: the bridge then acknowledges Cases with a number and created Leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledgement: Option<Acknowledgement>,
}

impl WriteOutcome {
    /// The `outcome` label of the `bridge_messages_total` metric: `thread`
    /// (a follow-up joined an open Case), `case`, `lead`, `contact` or
    /// `other`.
    pub(crate) fn metric_outcome(&self) -> &'static str {
        match (&self.acknowledgement, self.object.as_str()) {
            (Some(Acknowledgement::CaseJoined { .. }), _) => "thread",
            (_, "Case") => "case",
            (_, "Lead") => "lead",
            (_, "Contact") => "contact",
            _ => "other",
        }
    }
}

impl WriteOutcome {
    /// The record id as a typed, checked Salesforce id (15 or 18 characters,
    /// compared case-safely). `None` when there is no id or it is not a
    /// Salesforce id (another CRM's writer). The field stays a string so any
    /// CRM's [`RecordWriter`] can fill it.
    ///
    /// ```
    /// # use bridge_core::writer::WriteOutcome;
    /// let mut w = WriteOutcome::default();
    /// w.record_id = Some("500000000000001AAA".into());
    /// assert_eq!(w.salesforce_id().unwrap().as_str(), "500000000000001AAA");
    /// w.record_id = Some("crm-42".into());
    /// assert!(w.salesforce_id().is_none());
    /// ```
    #[cfg(feature = "salesforce")]
    pub fn salesforce_id(&self) -> Option<salesforce_rest::SalesforceId> {
        salesforce_rest::SalesforceId::parse(self.record_id.as_deref()?).ok()
    }

    /// The follow-up Task's id as a typed Salesforce id.
    #[cfg(feature = "salesforce")]
    pub fn follow_up_task_id(&self) -> Option<salesforce_rest::SalesforceId> {
        salesforce_rest::SalesforceId::parse(self.follow_up_task.as_deref()?).ok()
    }
}

/// Carries out [`Action`]s in a CRM.
#[async_trait]
pub trait RecordWriter: Send + Sync {
    /// Writes the action for a message.
    async fn write(
        &self,
        action: &Action,
        message: &CustomerMessage,
    ) -> Result<WriteOutcome, BridgeError>;

    /// Notes on the customer's record that they opted out of (or back into)
    /// marketing messages, after a STOP or START. The default does nothing.
    async fn record_opt_out(
        &self,
        message: &CustomerMessage,
        opted_out: bool,
    ) -> Result<(), BridgeError> {
        let _ = (message, opted_out);
        Ok(())
    }

    /// Writes many messages' actions, one result per item in the same order.
    /// A failure of one item affects only that item. The default writes them
    /// one by one; writers that can batch (the Salesforce writer, through
    /// sObject Collections) override it. [`Batching`] calls it with the writes
    /// that arrive together.
    async fn write_batch(
        &self,
        items: &[(Action, CustomerMessage)],
    ) -> Vec<Result<WriteOutcome, BridgeError>> {
        let mut out = Vec::with_capacity(items.len());
        for (action, message) in items {
            out.push(self.write(action, message).await);
        }
        out
    }

    /// Upserts conversation-ledger entries (outbound messages, delivery
    /// statuses; see [`ledger`](crate::ledger)), one result per entry in the
    /// same order. Each entry is a blind upsert on its key, so order and
    /// repetition do not matter. The default keeps no ledger.
    async fn write_ledger(&self, entries: &[LedgerEntry]) -> Vec<Result<(), BridgeError>> {
        entries.iter().map(|_| Ok(())).collect()
    }
}

mod batching;

pub use batching::{BatchOptions, Batching};

#[cfg(feature = "salesforce")]
pub use salesforce::{
    ContactMatching, DEFAULT_CASE_KEY_FIELD, DEFAULT_FIRST_MESSAGE_FIELD, DEFAULT_LEAD_KEY_FIELD,
    LeadLookup, LedgerErased, LedgerErasure, PERMISSION_SET, SalesforceWriter, SetupReport,
    case_key,
};

#[cfg(feature = "salesforce")]
mod salesforce;
