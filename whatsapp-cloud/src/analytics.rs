//! Business account analytics: messages sent and delivered, conversations, and
//! pricing, over a time range with a granularity and filters. The data of
//! [`Client::analytics`](crate::Client::analytics) (feature `client`).
//!
//! ```
//! use whatsapp_cloud::analytics::{AnalyticsQuery, Granularity, PricingDimension};
//!
//! let october = AnalyticsQuery::new(1_759_276_800, 1_761_955_200, Granularity::Daily)
//!     .phone_numbers(["14155550100"])
//!     .country_codes(["US"]);
//! assert_eq!(
//!     october.field("analytics"),
//!     r#"analytics.start(1759276800).end(1761955200).granularity(DAY).phone_numbers(["14155550100"]).country_codes(["US"])"#
//! );
//! let by_category = october.pricing_dimensions([PricingDimension::PricingCategory]);
//! assert!(by_category.field("pricing_analytics").ends_with(".dimensions([PRICING_CATEGORY])"));
//! ```

use serde::Deserialize;

use crate::error::ValidationError;

/// The size of each data point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Granularity {
    /// 30 minutes.
    HalfHour,
    /// A day.
    Daily,
    /// A month.
    Monthly,
}

impl Granularity {
    /// The value for a field: message analytics say `DAY` / `MONTH`,
    /// conversation and pricing analytics `DAILY` / `MONTHLY`.
    fn wire(self, field: &str) -> &'static str {
        let messages = field == "analytics";
        match (self, messages) {
            (Granularity::HalfHour, _) => "HALF_HOUR",
            (Granularity::Daily, true) => "DAY",
            (Granularity::Daily, false) => "DAILY",
            (Granularity::Monthly, true) => "MONTH",
            (Granularity::Monthly, false) => "MONTHLY",
        }
    }
}

/// A breakdown of pricing or conversation analytics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PricingDimension {
    /// By business phone number.
    BusinessPhoneNumber,
    /// By recipient country.
    Country,
    /// By pricing category (marketing, utility, authentication, service).
    PricingCategory,
    /// By pricing type (regular, free customer service, free entry point).
    PricingType,
    /// By volume tier.
    Tier,
}

impl PricingDimension {
    fn wire(self) -> &'static str {
        match self {
            PricingDimension::BusinessPhoneNumber => "PHONE",
            PricingDimension::Country => "COUNTRY",
            PricingDimension::PricingCategory => "PRICING_CATEGORY",
            PricingDimension::PricingType => "PRICING_TYPE",
            PricingDimension::Tier => "TIER",
        }
    }
}

/// A time range (Unix seconds), a granularity and optional filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsQuery {
    start: i64,
    end: i64,
    granularity: Granularity,
    phone_numbers: Vec<String>,
    country_codes: Vec<String>,
    dimensions: Vec<PricingDimension>,
}

impl AnalyticsQuery {
    /// From `start` to `end` (Unix seconds), in points of `granularity`.
    pub fn new(start: i64, end: i64, granularity: Granularity) -> Self {
        Self {
            start,
            end,
            granularity,
            phone_numbers: Vec::new(),
            country_codes: Vec::new(),
            dimensions: Vec::new(),
        }
    }

    /// Only these business numbers (display numbers, digits only).
    pub fn phone_numbers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, numbers: I) -> Self {
        self.phone_numbers = numbers.into_iter().map(Into::into).collect();
        self
    }

    /// Only these recipient countries (ISO 3166 alpha-2).
    pub fn country_codes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, codes: I) -> Self {
        self.country_codes = codes.into_iter().map(Into::into).collect();
        self
    }

    /// Breaks pricing (and conversation) analytics down by these dimensions.
    pub fn pricing_dimensions<I: IntoIterator<Item = PricingDimension>>(mut self, d: I) -> Self {
        self.dimensions = d.into_iter().collect();
        self
    }

    /// Checks the range and the filters.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.start < 0 || self.end <= self.start {
            return Err(ValidationError::new(
                "start",
                "expected 0 <= start < end (Unix seconds)",
            ));
        }
        let bad = |v: &String, ok: fn(u8) -> bool| v.is_empty() || !v.bytes().all(ok);
        if self
            .phone_numbers
            .iter()
            .any(|p| bad(p, |b| b.is_ascii_digit()))
        {
            return Err(ValidationError::new("phone_numbers", "digits only"));
        }
        if self
            .country_codes
            .iter()
            .any(|c| c.len() != 2 || bad(c, |b| b.is_ascii_uppercase()))
        {
            return Err(ValidationError::new(
                "country_codes",
                "ISO 3166 alpha-2 codes such as US",
            ));
        }
        Ok(())
    }

    /// The `fields` expression for `field` (`analytics`,
    /// `conversation_analytics` or `pricing_analytics`).
    pub fn field(&self, field: &str) -> String {
        let list = |items: &[String]| {
            let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
            format!("[{}]", quoted.join(","))
        };
        let mut out = format!(
            "{field}.start({}).end({}).granularity({})",
            self.start,
            self.end,
            self.granularity.wire(field)
        );
        if !self.phone_numbers.is_empty() {
            out.push_str(&format!(".phone_numbers({})", list(&self.phone_numbers)));
        }
        if !self.country_codes.is_empty() {
            out.push_str(&format!(".country_codes({})", list(&self.country_codes)));
        }
        if field != "analytics" && !self.dimensions.is_empty() {
            let dims: Vec<&str> = self.dimensions.iter().map(|d| d.wire()).collect();
            out.push_str(&format!(".dimensions([{}])", dims.join(",")));
        }
        out
    }
}

/// Messages sent and delivered per period.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MessageAnalytics {
    /// The granularity, as sent.
    #[serde(default)]
    pub granularity: Option<String>,
    /// The data points.
    #[serde(default)]
    pub data_points: Vec<MessagePoint>,
}

/// One period of message analytics.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MessagePoint {
    /// Start (Unix seconds).
    #[serde(default, deserialize_with = "crate::serde_util::lenient_i64")]
    pub start: Option<i64>,
    /// End (Unix seconds).
    #[serde(default, deserialize_with = "crate::serde_util::lenient_i64")]
    pub end: Option<i64>,
    /// Messages sent.
    #[serde(default, deserialize_with = "crate::serde_util::lenient_u64")]
    pub sent: Option<u64>,
    /// Messages delivered.
    #[serde(default, deserialize_with = "crate::serde_util::lenient_u64")]
    pub delivered: Option<u64>,
}

/// Priced messages per period and dimension (pricing analytics), or
/// conversations (conversation analytics).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct PricingPoint {
    /// Start (Unix seconds).
    #[serde(default, deserialize_with = "crate::serde_util::lenient_i64")]
    pub start: Option<i64>,
    /// End (Unix seconds).
    #[serde(default, deserialize_with = "crate::serde_util::lenient_i64")]
    pub end: Option<i64>,
    /// Priced messages (pricing analytics).
    #[serde(default, deserialize_with = "crate::serde_util::lenient_u64")]
    pub volume: Option<u64>,
    /// Conversations (conversation analytics).
    #[serde(default, deserialize_with = "crate::serde_util::lenient_u64")]
    pub conversation: Option<u64>,
    /// Cost in the account's currency.
    #[serde(default, deserialize_with = "crate::serde_util::lenient_f64")]
    pub cost: Option<f64>,
    /// The business number, when broken down by it.
    #[serde(default)]
    pub phone_number: Option<String>,
    /// The country, when broken down by it.
    #[serde(default)]
    pub country: Option<String>,
    /// The pricing category (`MARKETING`, `UTILITY`, ...), when broken down by it.
    #[serde(default)]
    pub pricing_category: Option<String>,
    /// The pricing type, when broken down by it.
    #[serde(default)]
    pub pricing_type: Option<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}
