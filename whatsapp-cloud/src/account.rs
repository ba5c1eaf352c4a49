//! Phone numbers, the business profile and app subscriptions: the data of the
//! account calls on [`Client`](crate::Client) (feature `client`).

use serde::{Deserialize, Serialize};

/// A business phone number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct BusinessPhoneNumber {
    /// The phone number id.
    #[serde(default, deserialize_with = "crate::serde_util::lenient_string")]
    pub id: Option<String>,
    /// The number as displayed.
    #[serde(default)]
    pub display_phone_number: Option<String>,
    /// The verified business name.
    #[serde(default)]
    pub verified_name: Option<String>,
    /// `GREEN`, `YELLOW`, `RED`, `UNKNOWN`, ... as an open enum.
    #[serde(default)]
    pub quality_rating: Option<QualityRating>,
    /// `VERIFIED`, `NOT_VERIFIED`, ...
    #[serde(default)]
    pub code_verification_status: Option<String>,
    /// `CLOUD_API`, ...
    #[serde(default)]
    pub platform_type: Option<String>,
}

/// A number's quality rating. Open: unknown values are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QualityRating {
    /// High quality.
    Green,
    /// Medium quality.
    Yellow,
    /// Low quality.
    Red,
    /// Any other value, as sent.
    Other(String),
}

impl<'de> Deserialize<'de> for QualityRating {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "GREEN" => Self::Green,
            "YELLOW" => Self::Yellow,
            "RED" => Self::Red,
            _ => Self::Other(s),
        })
    }
}

/// The WhatsApp business profile of a number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BusinessProfile {
    /// The "About" text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    /// The address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The contact email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The industry (`RETAIL`, `HEALTH`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertical: Option<String>,
    /// Up to two websites.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub websites: Vec<String>,
    /// The profile picture URL (read only).
    #[serde(default, skip_serializing)]
    pub profile_picture_url: Option<String>,
}

impl BusinessProfile {
    /// An empty profile update; set the fields to change.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the "About" text.
    pub fn about(mut self, about: impl Into<String>) -> Self {
        self.about = Some(about.into());
        self
    }
    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
    /// Sets the email.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }
    /// Sets the websites.
    pub fn websites(mut self, websites: Vec<String>) -> Self {
        self.websites = websites;
        self
    }
}

/// An app subscribed to the business account's webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SubscribedApp {
    /// The app id.
    #[serde(default, deserialize_with = "crate::serde_util::lenient_string")]
    pub id: Option<String>,
    /// The app name.
    #[serde(default)]
    pub name: Option<String>,
}

/// One page of a listing, and the cursor of the next one.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// The cursor to pass for the next page; `None` on the last one.
    pub after: Option<String>,
}
