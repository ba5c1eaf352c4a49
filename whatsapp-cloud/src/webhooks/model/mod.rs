//! The typed, forward-compatible model of a webhook POST body.
//!
//! Every field Meta documents for a WhatsApp Business Account has a typed
//! value ([`ChangeValue`]); a field this crate does not know yet stays
//! [`ChangeValue::Other`] with its raw JSON. Parsing is lenient per field: a
//! field of the wrong type is left out with a [`Diagnostic`] naming it, and
//! the item (a customer's message above all) is kept; only an item with no
//! usable id becomes an [`InvalidItem`], next to the others. Every typed item
//! keeps its raw JSON, so a key Meta adds tomorrow is readable today. `Debug`
//! never prints a customer's number, name or text.
//!
//! The types live in `message` (inbound messages), `status` (statuses and
//! errors), `business` (account, numbers, templates, Flows...) and
//! `activity` (calls, echoes, syncs, preferences); `wire` turns JSON into them.

use std::fmt;
use std::ops::Deref;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::serde_util::describe_serde_error;

mod activity;
mod business;
mod lenient;
mod message;
mod parts;
mod quiet;
mod redacted;
mod status;
mod wire;

pub use activity::{
    Call, CallSession, CallStatus, CallsValue, EchoMessage, EchoesValue, HistoryChunk,
    HistoryThread, HistoryValue, StateSyncItem, StateSyncValue, SyncMetadata, SyncedContact,
    UserPreference, UserPreferencesValue,
};
pub use business::{
    AccountAlert, AccountReviewUpdate, AccountUpdate, AlertInfo, BanInfo, BusinessCapabilityUpdate,
    DisableInfo, FlowUpdate, OtherInfo, PartnerSolutionUpdate, PaymentConfigurationUpdate,
    PhoneNumberNameUpdate, PhoneNumberQualityUpdate, RejectionInfo, Restriction, SecurityUpdate,
    TemplateButtonUpdate, TemplateCategoryUpdate, TemplateComponentsUpdate, TemplateQualityUpdate,
    TemplateStatusUpdate, ViolationInfo, WabaInfo,
};
pub use lenient::Diagnostic;
pub use message::{
    ContactAddress, ContactEmail, ContactName, ContactOrg, ContactPhone, ContactUrl,
    InboundLocation, InboundMedia, InboundMessage, InteractiveReply, MessageContent,
    MessageContext, Order, OrderItem, Referral, ReferredProduct, Sender, SharedContact,
    SystemMessage, WelcomeMessage,
};
pub use status::{
    Conversation, ConversationOrigin, ErrorData, ErrorDetail, Pricing, Status, StatusKind,
};
pub(crate) use wire::parse_notification;

/// A whole webhook POST body: `{"object": "whatsapp_business_account", "entry": [...]}`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Notification {
    /// The `object` field, `whatsapp_business_account` for WhatsApp.
    pub object: String,
    /// The entries, one per business account.
    pub entries: Vec<Entry>,
}

/// One `entry[]` item: the changes of one WhatsApp Business Account.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Entry {
    /// The WhatsApp Business Account id.
    pub id: String,
    /// `time`, when present (unix seconds).
    pub time: Option<i64>,
    /// The changes.
    pub changes: Vec<Change>,
}

/// One `changes[]` item: a `field` name and its value.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Change {
    /// The subscribed field (`messages`, `message_template_status_update`, ...).
    pub field: String,
    /// The parsed value.
    pub value: ChangeValue,
}

/// A typed value with what parsing left out and the JSON it came from.
/// Derefs to the value.
#[derive(Clone)]
#[non_exhaustive]
pub struct Known<T> {
    /// The typed value.
    pub value: T,
    /// Fields left out because they did not match their type.
    pub diagnostics: Vec<Diagnostic>,
    /// The value as received, every key included.
    pub raw: Box<RawValue>,
}

impl<T> Deref for Known<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Known<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the raw JSON: it may hold customers' numbers and names.
        f.debug_struct("Known")
            .field("value", &self.value)
            .field("diagnostics", &self.diagnostics)
            .finish_non_exhaustive()
    }
}

/// The value of a change, typed by its field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ChangeValue {
    /// `messages`: inbound messages, statuses and errors.
    Messages(Box<MessagesValue>),
    /// `calls`: call events and call statuses.
    Calls(Box<Known<CallsValue>>),
    /// `smb_message_echoes`: messages the business sent from the WhatsApp
    /// Business app.
    MessageEchoes(Box<EchoesValue>),
    /// `smb_app_state_sync`: the WhatsApp Business app's contact book changed.
    AppStateSync(Box<Known<StateSyncValue>>),
    /// `history`: past conversations of a coexistence number.
    History(Box<HistoryValue>),
    /// `user_preferences`: customers stopped or resumed marketing messages.
    UserPreferences(Box<Known<UserPreferencesValue>>),
    /// `account_update`.
    AccountUpdate(Box<Known<AccountUpdate>>),
    /// `account_alerts`.
    AccountAlert(Box<Known<AccountAlert>>),
    /// `account_review_update`.
    AccountReviewUpdate(Box<Known<AccountReviewUpdate>>),
    /// `business_capability_update`.
    BusinessCapabilityUpdate(Box<Known<BusinessCapabilityUpdate>>),
    /// `phone_number_name_update`.
    PhoneNumberNameUpdate(Box<Known<PhoneNumberNameUpdate>>),
    /// `phone_number_quality_update`.
    PhoneNumberQualityUpdate(Box<Known<PhoneNumberQualityUpdate>>),
    /// `message_template_status_update`.
    TemplateStatusUpdate(Box<Known<TemplateStatusUpdate>>),
    /// `message_template_quality_update`.
    TemplateQualityUpdate(Box<Known<TemplateQualityUpdate>>),
    /// `message_template_components_update`.
    TemplateComponentsUpdate(Box<Known<TemplateComponentsUpdate>>),
    /// `template_category_update`.
    TemplateCategoryUpdate(Box<Known<TemplateCategoryUpdate>>),
    /// `flows`.
    Flows(Box<Known<FlowUpdate>>),
    /// `security`.
    Security(Box<Known<SecurityUpdate>>),
    /// `partner_solutions`.
    PartnerSolutions(Box<Known<PartnerSolutionUpdate>>),
    /// `payment_configuration_update`.
    PaymentConfigurationUpdate(Box<Known<PaymentConfigurationUpdate>>),
    /// Any other field, kept as raw JSON.
    Other(Box<RawValue>),
    /// A known field whose value could not be read at all.
    Invalid(InvalidItem),
}

/// The value of a `messages` change.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MessagesValue {
    /// `messaging_product`, normally `whatsapp`.
    pub messaging_product: Option<String>,
    /// Which business number the change is about.
    pub metadata: Metadata,
    /// Profiles of the senders (absent on system messages and some statuses).
    pub contacts: Vec<WebhookContact>,
    /// Inbound messages; an item with no usable id is an `Err` beside the good ones.
    pub messages: Vec<Result<InboundMessage, InvalidItem>>,
    /// Delivery statuses of outbound messages; an unusable one is an `Err`.
    pub statuses: Vec<Result<Status, InvalidItem>>,
    /// Errors about the change as a whole (`value.errors`).
    pub errors: Vec<ErrorDetail>,
}

/// `metadata`: the business number a change is about. Route by `phone_number_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Metadata {
    /// The number as displayed (`15550001111`).
    #[serde(default, deserialize_with = "crate::serde_util::lenient_string")]
    pub display_phone_number: Option<String>,
    /// The phone number id, the node messages are sent from.
    #[serde(default, deserialize_with = "crate::serde_util::lenient_string")]
    pub phone_number_id: Option<String>,
}

/// `contacts[]`: who sent a message. Phone (`wa_id`) and business-scoped user id
/// (`user_id`) are both optional; at least one is normally present.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct WebhookContact {
    /// The profile (absent on statuses).
    #[serde(default)]
    pub profile: Option<Profile>,
    /// The WhatsApp id (phone number without `+`), when Meta shares it.
    #[serde(default, deserialize_with = "crate::serde_util::lenient_string")]
    pub wa_id: Option<String>,
    /// The business-scoped user id (`US.13491208655302741918`).
    #[serde(default)]
    pub user_id: Option<String>,
    /// The parent business-scoped user id, for linked portfolios.
    #[serde(default)]
    pub parent_user_id: Option<String>,
}

impl WebhookContact {
    /// The address to reply to, by the policy of [`Sender::reply_address`]:
    /// the wa_id, else the parent user id, else the user id.
    pub fn reply_address(&self) -> Option<&str> {
        self.wa_id
            .as_deref()
            .or(self.parent_user_id.as_deref())
            .or(self.user_id.as_deref())
    }
}

/// A sender's profile.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Profile {
    /// The profile name the customer chose.
    #[serde(default)]
    pub name: Option<String>,
    /// The WhatsApp username, when the customer has one.
    #[serde(default)]
    pub username: Option<String>,
}

/// An item (message, status or change value) that could not be read at all
/// (no usable id, or not JSON). The raw JSON is kept so nothing is lost;
/// `Display` names the problem without data.
#[derive(Clone)]
pub struct InvalidItem {
    /// The raw JSON of the item.
    pub raw: Box<RawValue>,
    /// What serde said, category and position only (no data).
    pub problem: String,
}

impl InvalidItem {
    pub(crate) fn new(raw: &RawValue, err: &serde_json::Error) -> Self {
        Self {
            raw: raw.to_owned(),
            problem: describe_serde_error(err),
        }
    }
}

impl fmt::Debug for InvalidItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvalidItem")
            .field("problem", &self.problem)
            .field("raw_len", &self.raw.get().len())
            .finish()
    }
}

impl fmt::Display for InvalidItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid webhook item: {}", self.problem)
    }
}
