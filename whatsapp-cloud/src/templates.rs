//! Message templates: the data of template management. The calls are on
//! [`Client::templates`](crate::Client::templates) (feature `client`). To *send*
//! a template, see [`messages::Template`](crate::messages::Template).

use serde::{Deserialize, Serialize};

use crate::serde_util::open_enum;

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

open_enum! {
    /// A template's review status. Open: unknown values are kept.
    TemplateStatus {
        /// Approved: can be sent.
        Approved = "APPROVED",
        /// In review.
        Pending = "PENDING",
        /// Rejected.
        Rejected = "REJECTED",
        /// Paused for low quality.
        Paused = "PAUSED",
        /// Disabled for low quality.
        Disabled = "DISABLED",
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

/// Which templates to list: by name (substring, as the API matches), status,
/// category and language.
///
/// ```
/// use whatsapp_cloud::templates::{TemplateFilter, TemplateStatus};
///
/// let live_utility = TemplateFilter::new()
///     .status(TemplateStatus::Approved)
///     .category("UTILITY")
///     .language("en_US");
/// # let _ = live_utility;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateFilter {
    name: Option<String>,
    status: Option<TemplateStatus>,
    category: Option<String>,
    language: Option<String>,
}

impl TemplateFilter {
    /// No filter: every template.
    pub fn new() -> Self {
        Self::default()
    }
    /// Names containing this.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Only this status.
    pub fn status(mut self, status: TemplateStatus) -> Self {
        self.status = Some(status);
        self
    }
    /// Only this category (`MARKETING`, `UTILITY`, `AUTHENTICATION`).
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }
    /// Only this language.
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// The query parameters of the listing.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(n) = &self.name {
            q.push(("name", n.clone()));
        }
        if let Some(s) = &self.status {
            q.push(("status", s.as_str().to_owned()));
        }
        if let Some(c) = &self.category {
            q.push(("category", c.clone()));
        }
        if let Some(l) = &self.language {
            q.push(("language", l.clone()));
        }
        q
    }
}

/// An edit of an existing template (`POST /{template-id}`): new components
/// and, before approval, a new category.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TemplateEdit {
    /// The new components, as in [`NewTemplate`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<serde_json::Value>>,
    /// The new category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

impl TemplateEdit {
    /// New components.
    pub fn components(components: Vec<serde_json::Value>) -> Self {
        Self {
            components: Some(components),
            category: None,
        }
    }
    /// Also changes the category.
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }
}
