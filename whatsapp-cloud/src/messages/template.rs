//! Template messages: approved templates with their parameters: header, body
//! (positional or named; text, currency, date/time), every button kind
//! (quick reply, URL, copy code, one-time password, Flow, catalog,
//! multi-product), carousels and limited-time offers.

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
    pub(super) name: String,
    pub(super) language: Language,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) components: Vec<Component>,
    /// Set by [`Template::one_time_password`]: the code's length is checked.
    #[serde(skip)]
    otp: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct Language {
    pub(super) code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Component {
    Header {
        parameters: Vec<HeaderParam>,
    },
    Body {
        parameters: Vec<TemplateParam>,
    },
    Button {
        sub_type: &'static str,
        index: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        parameters: Vec<ButtonParam>,
    },
    Carousel {
        cards: Vec<CarouselCard>,
    },
    LimitedTimeOffer {
        parameters: Vec<OfferParam>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ButtonParam {
    Payload { payload: String },
    Text { text: String },
    CouponCode { coupon_code: String },
    Action { action: ButtonAction },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(super) enum ButtonAction {
    Flow {
        flow_token: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        flow_action_data: Option<serde_json::Value>,
    },
    Catalog {
        #[serde(skip_serializing_if = "Option::is_none")]
        thumbnail_product_retailer_id: Option<String>,
    },
    MultiProduct {
        thumbnail_product_retailer_id: String,
        sections: Vec<ProductSection>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum OfferParam {
    LimitedTimeOffer { limited_time_offer: OfferExpiry },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct OfferExpiry {
    expiration_time_ms: i64,
}

/// A template header parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HeaderParam {
    /// A text parameter (the header text is at most 60 characters); named
    /// for templates with named parameters ([`HeaderParam::named_text`]).
    Text {
        /// The text.
        text: String,
        /// The placeholder's name, for a template with named parameters.
        #[serde(skip_serializing_if = "Option::is_none")]
        parameter_name: Option<String>,
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

impl HeaderParam {
    /// A positional text parameter.
    ///
    /// ```
    /// use whatsapp_cloud::messages::HeaderParam;
    /// let p = HeaderParam::text("Order #1042");
    /// assert_eq!(serde_json::to_value(&p).unwrap(), serde_json::json!({ "type": "text", "text": "Order #1042" }));
    /// ```
    pub fn text(text: impl Into<String>) -> Self {
        HeaderParam::Text {
            text: text.into(),
            parameter_name: None,
        }
    }

    /// A named text parameter (`{{order_number}}` in the header).
    ///
    /// ```
    /// use whatsapp_cloud::messages::HeaderParam;
    /// let p = HeaderParam::named_text("order_number", "1042");
    /// assert_eq!(
    ///     serde_json::to_value(&p).unwrap(),
    ///     serde_json::json!({ "type": "text", "text": "1042", "parameter_name": "order_number" })
    /// );
    /// ```
    pub fn named_text(name: impl Into<String>, text: impl Into<String>) -> Self {
        HeaderParam::Text {
            text: text.into(),
            parameter_name: Some(name.into()),
        }
    }
}

/// A template body parameter: text, currency or date/time, optionally named.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateParam {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) parameter_name: Option<String>,
    #[serde(flatten)]
    pub(super) value: ParamValue,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ParamValue {
    Text { text: String },
    Currency { currency: Currency },
    DateTime { date_time: DateTime },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct Currency {
    fallback_value: String,
    code: String,
    amount_1000: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct DateTime {
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
            otp: false,
        }
    }

    /// The template name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The language code.
    pub fn language(&self) -> &str {
        &self.language.code
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
        push_button(
            &mut self.components,
            "quick_reply",
            index,
            ButtonParam::Payload {
                payload: payload.into(),
            },
        );
        self
    }

    /// Sets the suffix appended to the dynamic URL of the button at `index`.
    pub fn url_button(mut self, index: u8, url_suffix: impl Into<String>) -> Self {
        push_button(
            &mut self.components,
            "url",
            index,
            ButtonParam::Text {
                text: url_suffix.into(),
            },
        );
        self
    }

    /// Sets the code of the copy-code (coupon) button at `index`, at most 20
    /// characters ([`MAX_COUPON_CODE`]).
    pub fn copy_code_button(mut self, index: u8, coupon_code: impl Into<String>) -> Self {
        push_button(
            &mut self.components,
            "copy_code",
            index,
            ButtonParam::CouponCode {
                coupon_code: coupon_code.into(),
            },
        );
        self
    }

    /// Fills an authentication template with its one-time password: the body
    /// parameter and the code of the button (copy-code, one-tap or zero-tap
    /// autofill templates all take the code this way). At most 15 characters
    /// ([`MAX_OTP_CODE`]).
    ///
    /// ```
    /// use whatsapp_cloud::messages::{Message, Template};
    ///
    /// let otp = Template::new("login_code", "en_US").one_time_password("482913");
    /// let json = Message::new("14155550123", otp).to_json();
    /// assert_eq!(json["template"]["components"][0]["parameters"][0]["text"], "482913");
    /// assert_eq!(json["template"]["components"][1]["sub_type"], "url");
    /// ```
    pub fn one_time_password(self, code: impl Into<String>) -> Self {
        let code = code.into();
        let mut t = self.body(vec![TemplateParam::text(code.clone())]);
        t.components
            .retain(|c| !matches!(c, Component::Button { index, .. } if index == "0"));
        push_button(
            &mut t.components,
            "url",
            0,
            ButtonParam::Text { text: code },
        );
        t.otp = true;
        t
    }

    /// Sets the Flow button at `index`: a token identifying this session of the
    /// Flow (echoed back in the Flow's requests and its final reply) and
    /// optional data for the first screen.
    pub fn flow_button(
        mut self,
        index: u8,
        flow_token: impl Into<String>,
        action_data: Option<serde_json::Value>,
    ) -> Self {
        let action = ButtonAction::Flow {
            flow_token: flow_token.into(),
            flow_action_data: action_data,
        };
        push_button(
            &mut self.components,
            "flow",
            index,
            ButtonParam::Action { action },
        );
        self
    }

    /// Sets the catalog button at `index`, with an optional product shown as
    /// the thumbnail.
    pub fn catalog_button(
        mut self,
        index: u8,
        thumbnail_product_retailer_id: Option<String>,
    ) -> Self {
        let action = ButtonAction::Catalog {
            thumbnail_product_retailer_id,
        };
        push_button(
            &mut self.components,
            "catalog",
            index,
            ButtonParam::Action { action },
        );
        self
    }

    /// Sets the multi-product button at `index`: a thumbnail product and up to
    /// 30 products in up to 10 sections.
    pub fn multi_product_button(
        mut self,
        index: u8,
        thumbnail_product_retailer_id: impl Into<String>,
        sections: Vec<ProductSection>,
    ) -> Self {
        let action = ButtonAction::MultiProduct {
            thumbnail_product_retailer_id: thumbnail_product_retailer_id.into(),
            sections,
        };
        push_button(
            &mut self.components,
            "mpm",
            index,
            ButtonParam::Action { action },
        );
        self
    }

    /// Sets the expiry of a limited-time-offer template, in Unix milliseconds
    /// (the offer's code goes in [`copy_code_button`](Self::copy_code_button)).
    pub fn limited_time_offer(mut self, expires_at_unix_ms: i64) -> Self {
        self.components
            .retain(|c| !matches!(c, Component::LimitedTimeOffer { .. }));
        self.components.push(Component::LimitedTimeOffer {
            parameters: vec![OfferParam::LimitedTimeOffer {
                limited_time_offer: OfferExpiry {
                    expiration_time_ms: expires_at_unix_ms,
                },
            }],
        });
        self
    }

    /// Sets the cards of a carousel template (2 to 10, in display order; each
    /// card's index is its position).
    pub fn carousel(mut self, cards: Vec<CarouselCard>) -> Self {
        self.components
            .retain(|c| !matches!(c, Component::Carousel { .. }));
        let cards = cards
            .into_iter()
            .enumerate()
            .map(|(i, card)| card.at(i))
            .collect();
        self.components.push(Component::Carousel { cards });
        self
    }

    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        non_empty("template.name", &self.name)?;
        non_empty("template.language.code", &self.language.code)?;
        if self.otp {
            for c in &self.components {
                if let Component::Button {
                    parameters, index, ..
                } = c
                    && index == "0"
                    && let [ButtonParam::Text { text }] = parameters.as_slice()
                {
                    max_chars(
                        "template.components.button.parameters.text",
                        text,
                        MAX_OTP_CODE,
                    )?;
                }
            }
        }
        validate_components(&self.components, false)
    }
}

/// Adds a button component, replacing any earlier one at the same index.
pub(super) fn push_button(
    components: &mut Vec<Component>,
    sub_type: &'static str,
    index: u8,
    param: ButtonParam,
) {
    let index = index.to_string();
    components.retain(|c| !matches!(c, Component::Button { index: i, .. } if *i == index));
    components.push(Component::Button {
        sub_type,
        index,
        parameters: vec![param],
    });
}

const MPM_FIELDS: SectionFields = SectionFields {
    sections: "template.components.button.parameters.action.sections",
    title: "template.components.button.parameters.action.sections.title",
    items: "template.components.button.parameters.action.sections.product_items",
    retailer_id: "template.components.button.parameters.action.sections.product_items.product_retailer_id",
};

/// Checks template (or carousel card) components against the documented limits.
pub(super) fn validate_components(
    components: &[Component],
    in_card: bool,
) -> Result<(), ValidationError> {
    for c in components {
        match c {
            Component::Header { parameters } => {
                for p in parameters {
                    match p {
                        HeaderParam::Text { text, .. } => {
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
                if index.parse::<u8>().map_or(true, |i| i > 9) {
                    return Err(ValidationError::new(
                        "template.components.button.index",
                        "buttons are indexed 0 to 9",
                    ));
                }
                for p in parameters {
                    validate_button_param(p)?;
                }
            }
            Component::Carousel { cards } if !in_card => {
                count_within(
                    "template.components.carousel.cards",
                    "cards",
                    cards.len(),
                    MIN_CAROUSEL_CARDS,
                    MAX_CAROUSEL_CARDS,
                )?;
                for card in cards {
                    card.validate()?;
                }
                if let Some(first) = cards.first()
                    && cards
                        .iter()
                        .any(|c| c.button_kinds() != first.button_kinds())
                {
                    return Err(ValidationError::new(
                        "template.components.carousel.cards.components",
                        "every card needs the same buttons, of the same kinds, in the same order",
                    ));
                }
            }
            Component::LimitedTimeOffer { parameters } if !in_card => {
                for OfferParam::LimitedTimeOffer { limited_time_offer } in parameters {
                    if limited_time_offer.expiration_time_ms <= 0 {
                        return Err(ValidationError::new(
                            "template.components.limited_time_offer.expiration_time_ms",
                            "expected a Unix time in milliseconds",
                        ));
                    }
                }
            }
            Component::Carousel { .. } | Component::LimitedTimeOffer { .. } => {
                return Err(ValidationError::new(
                    "template.components.carousel.cards.components",
                    "a card holds a header, a body and buttons only",
                ));
            }
        }
    }
    Ok(())
}

fn validate_button_param(p: &ButtonParam) -> Result<(), ValidationError> {
    match p {
        ButtonParam::Payload { payload: v } => {
            non_empty("template.components.button.parameters.payload", v)
        }
        ButtonParam::Text { text: v } => non_empty("template.components.button.parameters.text", v),
        ButtonParam::CouponCode { coupon_code: v } => {
            non_empty("template.components.button.parameters.coupon_code", v)?;
            max_chars(
                "template.components.button.parameters.coupon_code",
                v,
                MAX_COUPON_CODE,
            )
        }
        ButtonParam::Action { action } => match action {
            ButtonAction::Flow { flow_token, .. } => non_empty(
                "template.components.button.parameters.action.flow_token",
                flow_token,
            ),
            ButtonAction::Catalog { .. } => Ok(()),
            ButtonAction::MultiProduct {
                thumbnail_product_retailer_id,
                sections,
            } => {
                non_empty(
                    "template.components.button.parameters.action.thumbnail_product_retailer_id",
                    thumbnail_product_retailer_id,
                )?;
                ProductSection::validate_all(&MPM_FIELDS, sections)
            }
        },
    }
}

impl From<Template> for Content {
    fn from(template: Template) -> Self {
        Content::Template { template }
    }
}
