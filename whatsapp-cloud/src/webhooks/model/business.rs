//! The management fields: the business account, its phone numbers, its
//! templates, Flows, security, partners and payments. Every value and code
//! is kept as sent (open strings), so a new event kind never fails a parse.

use serde::Deserialize;

use crate::serde_util::{lenient_i64, lenient_string, lenient_u64, null_as_empty};

/// Field `account_update`: the business account was verified, restricted,
/// banned, shared with or removed from a partner, deleted...
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AccountUpdate {
    /// The event: `ACCOUNT_VIOLATION`, `ACCOUNT_RESTRICTION`, `DISABLED_UPDATE`,
    /// `ACCOUNT_DELETED`, `PARTNER_ADDED`, `PARTNER_REMOVED`,
    /// `PARTNER_APP_INSTALLED`, `PARTNER_APP_UNINSTALLED`, `ACCOUNT_OFFBOARDED`,
    /// `ACCOUNT_RECONNECTED`, `AUTH_INTL_PRICE_ELIGIBILITY_UPDATE`,
    /// `BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE`, `MM_LITE_TERMS_SIGNED`,
    /// `VOLUME_BASED_PRICING_TIER_UPDATE`, `AD_ACCOUNT_LINKED`,
    /// `BUSINESS_VERIFICATION_STATUS_UPDATE`... as sent.
    #[serde(default)]
    pub event: Option<String>,
    /// The phone number concerned, for violations and restrictions.
    #[serde(default, deserialize_with = "lenient_string")]
    pub phone_number: Option<String>,
    /// The account and its owner (partner and linking events).
    #[serde(default)]
    pub waba_info: Option<WabaInfo>,
    /// The violation, for `ACCOUNT_VIOLATION`.
    #[serde(default)]
    pub violation_info: Option<ViolationInfo>,
    /// The restrictions, for `ACCOUNT_RESTRICTION`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub restriction_info: Vec<Restriction>,
    /// The ban, for `DISABLED_UPDATE`.
    #[serde(default)]
    pub ban_info: Option<BanInfo>,
    /// The partner-led business verification, when it changed.
    #[serde(default)]
    pub business_verification_status: Option<String>,
    /// The primary business location country, for its update event.
    #[serde(default)]
    pub country: Option<String>,
}

impl AccountUpdate {
    /// Whether the event stops or limits messaging (a ban, a restriction, a
    /// violation, a deletion, an offboarding): an app should alert someone.
    pub fn is_enforcement(&self) -> bool {
        matches!(
            self.event.as_deref(),
            Some(
                "ACCOUNT_VIOLATION"
                    | "ACCOUNT_RESTRICTION"
                    | "DISABLED_UPDATE"
                    | "ACCOUNT_DELETED"
                    | "ACCOUNT_OFFBOARDED"
            )
        )
    }
}

/// `account_update.waba_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct WabaInfo {
    /// The business account id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub waba_id: Option<String>,
    /// The owning business portfolio.
    #[serde(default, deserialize_with = "lenient_string")]
    pub owner_business_id: Option<String>,
    /// The partner's app, for app install events.
    #[serde(default, deserialize_with = "lenient_string")]
    pub partner_app_id: Option<String>,
    /// The multi-partner solution, when onboarded through one.
    #[serde(default, deserialize_with = "lenient_string")]
    pub solution_id: Option<String>,
    /// The ad account linked, for `AD_ACCOUNT_LINKED`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub ad_account_linked: Option<String>,
}

/// `account_update.violation_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ViolationInfo {
    /// The violation type (`SCAM`, `ADULT`, ...), as sent.
    #[serde(default)]
    pub violation_type: Option<String>,
}

/// One `account_update.restriction_info[]` item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Restriction {
    /// `RESTRICTED_BIZ_INITIATED_MESSAGING`, `RESTRICTED_CUSTOMER_INITIATED_MESSAGING`,
    /// `RESTRICTED_ADD_PHONE_NUMBER_ACTION`, ... as sent.
    #[serde(default)]
    pub restriction_type: Option<String>,
    /// When it ends, as sent (an ISO 8601 date).
    #[serde(default, deserialize_with = "lenient_string")]
    pub expiration: Option<String>,
}

/// `account_update.ban_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct BanInfo {
    /// `DISABLE`, `REINSTATE`, `SCHEDULE_FOR_DISABLE`, as sent.
    #[serde(default)]
    pub waba_ban_state: Option<String>,
    /// When, as sent.
    #[serde(default, deserialize_with = "lenient_string")]
    pub waba_ban_date: Option<String>,
}

/// Field `account_alerts`: an alert about the account or one of its numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AccountAlert {
    /// `WABA`, `PHONE_NUMBER`, `BUSINESS`, as sent.
    #[serde(default)]
    pub entity_type: Option<String>,
    /// The id of the entity.
    #[serde(default, deserialize_with = "lenient_string")]
    pub entity_id: Option<String>,
    /// The alert.
    #[serde(default)]
    pub alert_info: Option<AlertInfo>,
}

/// `account_alerts.alert_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AlertInfo {
    /// `CRITICAL`, `WARNING`, `INFORMATIONAL`, as sent.
    #[serde(default)]
    pub alert_severity: Option<String>,
    /// `ACTIVE`, `NONE`, as sent.
    #[serde(default)]
    pub alert_status: Option<String>,
    /// The alert type, as sent.
    #[serde(default)]
    pub alert_type: Option<String>,
    /// A description.
    #[serde(default)]
    pub alert_description: Option<String>,
}

/// Field `account_review_update`: the account's review was decided.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AccountReviewUpdate {
    /// `APPROVED`, `REJECTED`, `PENDING`, `DEFERRED`, as sent.
    #[serde(default)]
    pub decision: Option<String>,
}

/// Field `business_capability_update`: the account's limits changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct BusinessCapabilityUpdate {
    /// Business-initiated conversations a number may open per day (older payloads).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub max_daily_conversation_per_phone: Option<i64>,
    /// Unique users the portfolio may message per day.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub max_daily_conversations_per_business: Option<i64>,
    /// Phone numbers the business may register.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub max_phone_numbers_per_business: Option<i64>,
    /// Phone numbers per business account.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub max_phone_numbers_per_waba: Option<i64>,
}

/// Field `phone_number_name_update`: a display name change was decided.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PhoneNumberNameUpdate {
    /// The number.
    #[serde(default, deserialize_with = "lenient_string")]
    pub display_phone_number: Option<String>,
    /// `APPROVED`, `REJECTED`, `DEFERRED`, as sent.
    #[serde(default)]
    pub decision: Option<String>,
    /// The name asked for.
    #[serde(default)]
    pub requested_verified_name: Option<String>,
    /// Why it was rejected.
    #[serde(default)]
    pub rejection_reason: Option<String>,
}

/// Field `phone_number_quality_update`: a number's quality or messaging
/// limit changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PhoneNumberQualityUpdate {
    /// The number.
    #[serde(default, deserialize_with = "lenient_string")]
    pub display_phone_number: Option<String>,
    /// `FLAGGED`, `UNFLAGGED`, `DOWNGRADE`, `UPGRADE`, `ONBOARDING`, as sent.
    #[serde(default)]
    pub event: Option<String>,
    /// The messaging limit now (`TIER_1K`, `TIER_10K`, ...).
    #[serde(default)]
    pub current_limit: Option<String>,
    /// The messaging limit before.
    #[serde(default)]
    pub old_limit: Option<String>,
    /// Unique users the portfolio may message per day, when given.
    #[serde(default, deserialize_with = "lenient_string")]
    pub max_daily_conversations_per_business: Option<String>,
}

/// Field `message_template_status_update`: a template was approved, rejected,
/// paused, disabled...
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TemplateStatusUpdate {
    /// `APPROVED`, `REJECTED`, `PAUSED`, `DISABLED`, `FLAGGED`, `PENDING_DELETION`,
    /// `REINSTATED`, ... as sent.
    #[serde(default)]
    pub event: Option<String>,
    /// The template id (a number, as the API documents it).
    #[serde(default, deserialize_with = "lenient_u64")]
    pub message_template_id: Option<u64>,
    /// The template name.
    #[serde(default)]
    pub message_template_name: Option<String>,
    /// The template language.
    #[serde(default)]
    pub message_template_language: Option<String>,
    /// Why (for rejections), e.g. `INVALID_FORMAT` or `NONE`.
    #[serde(default)]
    pub reason: Option<String>,
    /// More about a pause or a flag.
    #[serde(default)]
    pub other_info: Option<OtherInfo>,
    /// The rejection, with a recommendation.
    #[serde(default)]
    pub rejection_info: Option<RejectionInfo>,
    /// When a flagged template will be disabled.
    #[serde(default)]
    pub disable_info: Option<DisableInfo>,
}

impl TemplateStatusUpdate {
    /// Whether the template can no longer be sent (rejected, paused,
    /// disabled, pending deletion).
    pub fn blocks_sending(&self) -> bool {
        matches!(
            self.event.as_deref(),
            Some("REJECTED" | "PAUSED" | "DISABLED" | "PENDING_DELETION")
        )
    }
}

/// `other_info` of a template status update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct OtherInfo {
    /// A title.
    #[serde(default)]
    pub title: Option<String>,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `rejection_info` of a template status update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct RejectionInfo {
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
    /// What to change.
    #[serde(default)]
    pub recommendation: Option<String>,
}

/// `disable_info` of a template status update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct DisableInfo {
    /// When, as sent.
    #[serde(default, deserialize_with = "lenient_string")]
    pub disable_date: Option<String>,
}

/// Field `message_template_quality_update`: a template's quality changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TemplateQualityUpdate {
    /// `GREEN`, `YELLOW`, `RED`, `UNKNOWN`, as sent.
    #[serde(default)]
    pub previous_quality_score: Option<String>,
    /// The new score.
    #[serde(default)]
    pub new_quality_score: Option<String>,
    /// The template id.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub message_template_id: Option<u64>,
    /// The template name.
    #[serde(default)]
    pub message_template_name: Option<String>,
    /// The template language.
    #[serde(default)]
    pub message_template_language: Option<String>,
}

/// Field `message_template_components_update`: a template's text or buttons
/// were edited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TemplateComponentsUpdate {
    /// The template id.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub message_template_id: Option<u64>,
    /// The template name.
    #[serde(default)]
    pub message_template_name: Option<String>,
    /// The template language.
    #[serde(default)]
    pub message_template_language: Option<String>,
    /// The header text.
    #[serde(default)]
    pub message_template_title: Option<String>,
    /// The body text.
    #[serde(default)]
    pub message_template_element: Option<String>,
    /// The footer text.
    #[serde(default)]
    pub message_template_footer: Option<String>,
    /// The buttons.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub message_template_buttons: Vec<TemplateButtonUpdate>,
}

/// One button of a components update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TemplateButtonUpdate {
    /// `URL`, `PHONE_NUMBER`, `QUICK_REPLY`, ... as sent.
    #[serde(default)]
    pub message_template_button_type: Option<String>,
    /// The label.
    #[serde(default)]
    pub message_template_button_text: Option<String>,
    /// The URL, for URL buttons.
    #[serde(default)]
    pub message_template_button_url: Option<String>,
    /// The number, for call buttons.
    #[serde(default, deserialize_with = "lenient_string")]
    pub message_template_button_phone_number: Option<String>,
}

/// Field `template_category_update`: a template was (or will be)
/// recategorized.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TemplateCategoryUpdate {
    /// The template id.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub message_template_id: Option<u64>,
    /// The template name.
    #[serde(default)]
    pub message_template_name: Option<String>,
    /// The template language.
    #[serde(default)]
    pub message_template_language: Option<String>,
    /// The category before (completed changes).
    #[serde(default)]
    pub previous_category: Option<String>,
    /// The category now (for an impending change: the current one).
    #[serde(default)]
    pub new_category: Option<String>,
    /// The category it will have (impending changes).
    #[serde(default)]
    pub correct_category: Option<String>,
    /// When the impending change happens (unix seconds).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub category_update_timestamp: Option<i64>,
}

/// Field `flows`: a Flow's status changed, or its endpoint is failing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct FlowUpdate {
    /// `FLOW_STATUS_CHANGE`, `CLIENT_ERROR_RATE`, `ENDPOINT_ERROR_RATE`,
    /// `ENDPOINT_LATENCY`, `ENDPOINT_AVAILABILITY`, as sent.
    #[serde(default)]
    pub event: Option<String>,
    /// A human-readable message.
    #[serde(default)]
    pub message: Option<String>,
    /// The Flow id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub flow_id: Option<String>,
    /// The status before, for status changes.
    #[serde(default)]
    pub old_status: Option<String>,
    /// The status now.
    #[serde(default)]
    pub new_status: Option<String>,
    /// `ACTIVATED` or `DEACTIVATED`, for alerts.
    #[serde(default)]
    pub alert_state: Option<String>,
}

/// Field `security`: a security setting of a number changed (PIN reset...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SecurityUpdate {
    /// The number.
    #[serde(default, deserialize_with = "lenient_string")]
    pub display_phone_number: Option<String>,
    /// `PIN_CHANGED`, `PIN_RESET_REQUEST`, `PIN_RESET_SUCCESS`, ... as sent.
    #[serde(default)]
    pub event: Option<String>,
    /// Who asked.
    #[serde(default, deserialize_with = "lenient_string")]
    pub requester: Option<String>,
}

/// Field `partner_solutions`: a multi-partner solution changed status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PartnerSolutionUpdate {
    /// The event, as sent.
    #[serde(default)]
    pub event: Option<String>,
    /// The solution id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub solution_id: Option<String>,
    /// Its status (`ACTIVE`, `PENDING`, `DEPRECATED`...), as sent.
    #[serde(default)]
    pub solution_status: Option<String>,
}

/// Field `payment_configuration_update`: a payment configuration changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PaymentConfigurationUpdate {
    /// The configuration's name.
    #[serde(default)]
    pub configuration_name: Option<String>,
    /// The payment provider.
    #[serde(default)]
    pub provider_name: Option<String>,
    /// The merchant id at the provider.
    #[serde(default, deserialize_with = "lenient_string")]
    pub provider_mid: Option<String>,
    /// `Active`, `Needs_Connecting`, ... as sent.
    #[serde(default)]
    pub status: Option<String>,
    /// Created (unix seconds).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub created_timestamp: Option<i64>,
    /// Updated (unix seconds).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub updated_timestamp: Option<i64>,
}
