//! Text messages.

#[allow(unused_imports)]
use super::*;

/// A text body, with an optional link preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Text {
    body: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    preview_url: bool,
}

impl Text {
    /// A text of at most 4096 characters.
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            preview_url: false,
        }
    }

    /// Shows a preview of the first URL in the body.
    pub fn preview_url(mut self, preview: bool) -> Self {
        self.preview_url = preview;
        self
    }

    /// The body.
    pub fn body(&self) -> &str {
        &self.body
    }

    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        non_empty("text.body", &self.body)?;
        max_chars("text.body", &self.body, MAX_TEXT_BODY)
    }
}

impl From<Text> for Content {
    fn from(text: Text) -> Self {
        Content::Text { text }
    }
}
