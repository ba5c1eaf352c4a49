//! Message templates: the data of template management. The calls are on
//! [`Client::templates`](crate::Client::templates) (feature `client`). To *send*
//! a template, see [`messages::Template`](crate::messages::Template).

use serde::{Deserialize, Serialize};

/// A template as listed by `GET /{waba-id}/message_templates`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct TemplateInfo {
    /// The template id.
    #[serde(default, deserialize_with = "crate::serde_util::lenient_string")]
    pub id: Option<String>,
    /// The name.
    #[serde(default)]
    pub name: String,
    /// The language code (`en_US`).
    #[serde(default)]
    pub language: Option<String>,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`, ... as an open enum.
    #[serde(default)]
    pub status: Option<TemplateStatus>,
    /// `MARKETING`, `UTILITY`, `AUTHENTICATION`, as sent.
    #[serde(default)]
    pub category: Option<String>,
    /// `positional` or `named`.
    #[serde(default)]
    pub parameter_format: Option<String>,
    /// The components, as raw JSON.
    #[serde(default)]
    pub components: Vec<serde_json::Value>,
}

/// A template's review status. Open: unknown values are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TemplateStatus {
    /// Approved: can be sent.
    Approved,
    /// In review.
    Pending,
    /// Rejected.
    Rejected,
    /// Paused for low quality.
    Paused,
    /// Disabled for low quality.
    Disabled,
    /// Any other value, as sent.
    Other(String),
}

impl TemplateStatus {
    /// Parses a status value.
    pub fn parse(value: &str) -> Self {
        match value {
            "APPROVED" => Self::Approved,
            "PENDING" => Self::Pending,
            "REJECTED" => Self::Rejected,
            "PAUSED" => Self::Paused,
            "DISABLED" => Self::Disabled,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl<'de> Deserialize<'de> for TemplateStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

/// A template to create with `POST /{waba-id}/message_templates`.
///
/// Components are JSON, as in Meta's template reference, so that every
/// component type (including ones added later) can be created.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct NewTemplate {
    /// The name: lowercase letters, digits and underscores.
    pub name: String,
    /// The language code.
    pub language: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`.
    pub category: String,
    /// The components.
    pub components: Vec<serde_json::Value>,
    /// `positional` or `named`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter_format: Option<String>,
}

impl NewTemplate {
    /// A template definition.
    pub fn new(
        name: impl Into<String>,
        language: impl Into<String>,
        category: impl Into<String>,
        components: Vec<serde_json::Value>,
    ) -> Self {
        Self {
            name: name.into(),
            language: language.into(),
            category: category.into(),
            components,
            parameter_format: None,
        }
    }

    /// Checks the name rule (lowercase letters, digits, underscores; at most 512).
    pub fn validate(&self) -> Result<(), crate::ValidationError> {
        let ok = !self.name.is_empty()
            && self.name.len() <= 512
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(())
        } else {
            Err(crate::ValidationError::new(
                "name",
                "lowercase letters, digits and underscores only, at most 512 characters",
            ))
        }
    }
}

/// The answer to a template creation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct CreatedTemplate {
    /// The new template's id.
    #[serde(default, deserialize_with = "crate::serde_util::lenient_string")]
    pub id: Option<String>,
    /// Its review status.
    #[serde(default)]
    pub status: Option<TemplateStatus>,
    /// Its category.
    #[serde(default)]
    pub category: Option<String>,
}
