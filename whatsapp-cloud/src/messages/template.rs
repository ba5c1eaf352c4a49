//! Template messages: approved templates with their parameters.

#[allow(unused_imports)]
use super::*;

/// A template send: name, language and the components' parameters.
///
/// ```
/// use whatsapp_cloud::messages::{Message, Template, TemplateParam};
///
/// let reminder = Template::new("payment_reminder", "en_US")
///     .body(vec![
///         TemplateParam::text("Ana"),
///         TemplateParam::currency("USD", 1_499_990, "$1,499.99"),
///         TemplateParam::date_time("04/30/2025"),
///     ])
///     .url_button(0, "inv-10442");
/// let json = Message::new("14155550123", reminder).to_json();
/// assert_eq!(json["template"]["components"][0]["parameters"][1]["currency"]["amount_1000"], 1_499_990);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    name: String,
    language: Language,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    components: Vec<Component>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Language {
    code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Component {
    Header {
        parameters: Vec<HeaderParam>,
    },
    Body {
        parameters: Vec<TemplateParam>,
    },
    Button {
        sub_type: &'static str,
        index: String,
        parameters: Vec<ButtonParam>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ButtonParam {
    Payload { payload: String },
    Text { text: String },
}

/// A template header parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HeaderParam {
    /// A text parameter (the header text is at most 60 characters).
    Text {
        /// The text.
        text: String,
    },
    /// An image.
    Image {
        /// The image.
        image: Media,
    },
    /// A video.
    Video {
        /// The video.
        video: Media,
    },
    /// A document.
    Document {
        /// The document.
        document: Media,
    },
    /// A location.
    Location {
        /// The location.
        location: Location,
    },
}

/// A template body parameter: text, currency or date/time, optionally named.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateParam {
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter_name: Option<String>,
    #[serde(flatten)]
    value: ParamValue,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ParamValue {
    Text { text: String },
    Currency { currency: Currency },
    DateTime { date_time: DateTime },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Currency {
    fallback_value: String,
    code: String,
    amount_1000: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct DateTime {
    fallback_value: String,
}

impl TemplateParam {
    /// A text parameter.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            parameter_name: None,
            value: ParamValue::Text { text: text.into() },
        }
    }

    /// A currency parameter: ISO 4217 code, the amount times 1000 (`$1,499.99` is
    /// `1_499_990`), and the fallback text the Cloud API renders.
    pub fn currency(
        code: impl Into<String>,
        amount_1000: i64,
        fallback: impl Into<String>,
    ) -> Self {
        Self {
            parameter_name: None,
            value: ParamValue::Currency {
                currency: Currency {
                    fallback_value: fallback.into(),
                    code: code.into(),
                    amount_1000,
                },
            },
        }
    }

    /// A date/time parameter; the Cloud API renders the fallback text.
    pub fn date_time(fallback: impl Into<String>) -> Self {
        Self {
            parameter_name: None,
            value: ParamValue::DateTime {
                date_time: DateTime {
                    fallback_value: fallback.into(),
                },
            },
        }
    }

    /// Names the parameter, for templates created with named parameters.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.parameter_name = Some(name.into());
        self
    }

    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        match &self.value {
            ParamValue::Text { text } => {
                non_empty("template.components.body.parameters.text", text)?;
                max_chars(
                    "template.components.body.parameters.text",
                    text,
                    MAX_TEMPLATE_BODY_PARAM,
                )?;
                if text.contains('\n') || text.contains('\t') || text.contains("    ") {
                    return Err(ValidationError::new(
                        "template.components.body.parameters.text",
                        "no new lines, tabs or more than 4 consecutive spaces",
                    ));
                }
                Ok(())
            }
            ParamValue::Currency { currency } => {
                non_empty(
                    "template.components.body.parameters.currency.fallback_value",
                    &currency.fallback_value,
                )?;
                if currency.code.len() != 3
                    || !currency.code.chars().all(|c| c.is_ascii_uppercase())
                {
                    return Err(ValidationError::new(
                        "template.components.body.parameters.currency.code",
                        "expected an ISO 4217 code such as USD",
                    ));
                }
                Ok(())
            }
            ParamValue::DateTime { date_time } => non_empty(
                "template.components.body.parameters.date_time.fallback_value",
                &date_time.fallback_value,
            ),
        }
    }
}

impl Template {
    /// A template by name and language code (`en_US`).
    pub fn new(name: impl Into<String>, language: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            language: Language {
                code: language.into(),
            },
            components: Vec::new(),
        }
    }

    /// The template name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the header parameter (media headers need one, or the send fails with 132012).
    pub fn header(mut self, param: HeaderParam) -> Self {
        self.components
            .retain(|c| !matches!(c, Component::Header { .. }));
        self.components.push(Component::Header {
            parameters: vec![param],
        });
        self
    }

    /// Sets the body parameters, in placeholder order.
    pub fn body(mut self, params: Vec<TemplateParam>) -> Self {
        self.components
            .retain(|c| !matches!(c, Component::Body { .. }));
        self.components.push(Component::Body { parameters: params });
        self
    }

    /// Sets the payload of the quick-reply button at `index` (returned as
    /// `button.payload` in the webhook).
    pub fn quick_reply_button(mut self, index: u8, payload: impl Into<String>) -> Self {
        self.components.push(Component::Button {
            sub_type: "quick_reply",
            index: index.to_string(),
            parameters: vec![ButtonParam::Payload {
                payload: payload.into(),
            }],
        });
        self
    }

    /// Sets the suffix appended to the dynamic URL of the button at `index`.
    pub fn url_button(mut self, index: u8, url_suffix: impl Into<String>) -> Self {
        self.components.push(Component::Button {
            sub_type: "url",
            index: index.to_string(),
            parameters: vec![ButtonParam::Text {
                text: url_suffix.into(),
            }],
        });
        self
    }

    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        non_empty("template.name", &self.name)?;
        non_empty("template.language.code", &self.language.code)?;
        let mut indexes = Vec::new();
        for c in &self.components {
            match c {
                Component::Header { parameters } => {
                    for p in parameters {
                        match p {
                            HeaderParam::Text { text } => {
                                non_empty("template.components.header.parameters.text", text)?;
                                max_chars(
                                    "template.components.header.parameters.text",
                                    text,
                                    MAX_HEADER_FOOTER,
                                )?;
                            }
                            HeaderParam::Image { image: m }
                            | HeaderParam::Video { video: m }
                            | HeaderParam::Document { document: m } => {
                                m.validate("template.components.header.parameters", false, true)?;
                            }
                            HeaderParam::Location { location } => location.validate()?,
                        }
                    }
                }
                Component::Body { parameters } => {
                    let named = parameters
                        .iter()
                        .filter(|p| p.parameter_name.is_some())
                        .count();
                    if named != 0 && named != parameters.len() {
                        return Err(ValidationError::new(
                            "template.components.body.parameters",
                            "either every parameter is named or none is",
                        ));
                    }
                    for p in parameters {
                        p.validate()?;
                    }
                }
                Component::Button {
                    index, parameters, ..
                } => {
                    if indexes.contains(index) {
                        return Err(ValidationError::new(
                            "template.components.button.index",
                            "each button index may be set once",
                        ));
                    }
                    indexes.push(index.clone());
                    if index.parse::<u8>().map_or(true, |i| i > 9) {
                        return Err(ValidationError::new(
                            "template.components.button.index",
                            "buttons are indexed 0 to 9",
                        ));
                    }
                    for p in parameters {
                        let (ButtonParam::Payload { payload: v } | ButtonParam::Text { text: v }) =
                            p;
                        non_empty("template.components.button.parameters", v)?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl From<Template> for Content {
    fn from(template: Template) -> Self {
        Content::Template { template }
    }
}
