//! Interactive messages: reply buttons, lists, call-to-action URLs, Flows,
//! location, address and contact requests, call buttons and call permission
//! requests. Product, product list and catalog messages are in `commerce`.

#[allow(unused_imports)]
use super::*;

/// An interactive message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interactive {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) header: Option<InteractiveHeader>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<BodyText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    footer: Option<BodyText>,
    pub(super) action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct BodyText {
    text: String,
}

/// The header of an interactive message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum InteractiveHeader {
    /// A text header (at most 60 characters).
    Text {
        /// The text.
        text: String,
    },
    /// An image header.
    Image {
        /// The image.
        image: Media,
    },
    /// A video header.
    Video {
        /// The video.
        video: Media,
    },
    /// A document header.
    Document {
        /// The document.
        document: Media,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(super) enum Action {
    Buttons {
        buttons: Vec<WireButton>,
    },
    List {
        button: String,
        sections: Vec<ListSection>,
    },
    Product {
        catalog_id: String,
        product_retailer_id: String,
    },
    ProductList {
        catalog_id: String,
        sections: Vec<ProductSection>,
    },
    Named {
        name: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        parameters: Option<serde_json::Value>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct WireButton {
    #[serde(rename = "type")]
    kind: &'static str,
    reply: ReplyButton,
}

/// A reply button: an id you get back and a title of at most 20 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyButton {
    id: String,
    title: String,
}

impl ReplyButton {
    /// A button with an id (returned in the reply) and a title.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
        }
    }
}

/// A section of a list message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    rows: Vec<ListRow>,
}

impl ListSection {
    /// A section with a title (required when there are several sections).
    pub fn new(title: impl Into<String>, rows: Vec<ListRow>) -> Self {
        Self {
            title: Some(title.into()),
            rows,
        }
    }
    /// A section without a title (only valid as the single section).
    pub fn untitled(rows: Vec<ListRow>) -> Self {
        Self { title: None, rows }
    }
}

/// A row of a list message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListRow {
    id: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

impl ListRow {
    /// A row with an id (returned in the reply) and a title of at most 24 characters.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            description: None,
        }
    }
    /// A description of at most 72 characters.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// What a Flow button does when tapped.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FlowAction {
    /// Opens a screen, with initial data.
    Navigate {
        /// The screen id.
        screen: String,
        /// Data for the screen.
        data: Option<serde_json::Value>,
    },
    /// Asks your Flow endpoint for the first screen.
    DataExchange,
}

/// Which Flow to open.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlowRef {
    /// By id.
    Id(String),
    /// By name.
    Name(String),
}

impl Interactive {
    pub(super) fn with(kind: &'static str, body: impl Into<String>, action: Action) -> Self {
        let text = body.into();
        Self {
            kind,
            header: None,
            // Only a single product may go without a body; elsewhere an empty
            // body is kept, so validation names it.
            body: (kind != "product" || !text.is_empty()).then_some(BodyText { text }),
            footer: None,
            action,
        }
    }

    /// Up to 3 reply buttons under a body text.
    pub fn buttons(body: impl Into<String>, buttons: Vec<ReplyButton>) -> Self {
        let buttons = buttons
            .into_iter()
            .map(|reply| WireButton {
                kind: "reply",
                reply,
            })
            .collect();
        Self::with("button", body, Action::Buttons { buttons })
    }

    /// A list: a button label and up to 10 sections with 10 rows in total.
    pub fn list(
        body: impl Into<String>,
        button_label: impl Into<String>,
        sections: Vec<ListSection>,
    ) -> Self {
        Self::with(
            "list",
            body,
            Action::List {
                button: button_label.into(),
                sections,
            },
        )
    }

    /// A call-to-action button that opens a URL.
    pub fn cta_url(
        body: impl Into<String>,
        display_text: impl Into<String>,
        url: impl Into<String>,
    ) -> Self {
        let params = serde_json::json!({
            "display_text": display_text.into(),
            "url": url.into(),
        });
        Self::with(
            "cta_url",
            body,
            Action::Named {
                name: "cta_url",
                parameters: Some(params),
            },
        )
    }

    /// Asks the customer to share their location.
    pub fn location_request(body: impl Into<String>) -> Self {
        Self::with(
            "location_request_message",
            body,
            Action::Named {
                name: "send_location",
                parameters: None,
            },
        )
    }

    /// Opens a WhatsApp Flow.
    pub fn flow(
        body: impl Into<String>,
        flow: FlowRef,
        flow_token: impl Into<String>,
        cta: impl Into<String>,
        action: FlowAction,
    ) -> Self {
        let mut p = serde_json::Map::new();
        p.insert("flow_message_version".into(), "3".into());
        p.insert("flow_token".into(), flow_token.into().into());
        match flow {
            FlowRef::Id(id) => p.insert("flow_id".into(), id.into()),
            FlowRef::Name(name) => p.insert("flow_name".into(), name.into()),
        };
        p.insert("flow_cta".into(), cta.into().into());
        match action {
            FlowAction::Navigate { screen, data } => {
                p.insert("flow_action".into(), "navigate".into());
                let mut payload = serde_json::Map::new();
                payload.insert("screen".into(), screen.into());
                if let Some(data) = data {
                    payload.insert("data".into(), data);
                }
                p.insert("flow_action_payload".into(), payload.into());
            }
            FlowAction::DataExchange => {
                p.insert("flow_action".into(), "data_exchange".into());
            }
        }
        Self::with(
            "flow",
            body,
            Action::Named {
                name: "flow",
                parameters: Some(p.into()),
            },
        )
    }

    /// Asks for a delivery address (available for businesses in India and
    /// Singapore). `country` is the ISO 3166 alpha-2 code (`IN`, `SG`);
    /// `values` pre-fills the form (`{"name": ..., "phone_number": ...}`) and
    /// may be `None`. The answer arrives as an `nfm_reply` named `address_message`.
    pub fn address_request(
        body: impl Into<String>,
        country: impl Into<String>,
        values: Option<serde_json::Value>,
    ) -> Self {
        let mut p = serde_json::Map::new();
        p.insert("country".into(), country.into().into());
        if let Some(values) = values {
            p.insert("values".into(), values);
        }
        Self::with(
            "address_message",
            body,
            Action::Named {
                name: "address_message",
                parameters: Some(p.into()),
            },
        )
    }

    /// Asks for permission to call the customer on WhatsApp; the answer arrives
    /// as a `call_permission_reply`.
    pub fn call_permission_request(body: impl Into<String>) -> Self {
        Self::with(
            "call_permission_request",
            body,
            Action::Named {
                name: "call_permission_request",
                parameters: None,
            },
        )
    }

    /// Asks a customer known by a business-scoped user id to share their phone
    /// number; the answer arrives as a `contacts` message.
    pub fn contact_info_request(body: impl Into<String>) -> Self {
        Self::with(
            "request_contact_info",
            body,
            Action::Named {
                name: "request_contact_info",
                parameters: None,
            },
        )
    }

    /// A button that calls the business on WhatsApp. Each part is optional:
    /// the label (at most 20 characters, WhatsApp's default otherwise), how long
    /// the button works (1 to 43,200 minutes) and a payload of at most 512
    /// characters returned on the call's webhooks.
    pub fn voice_call(
        body: impl Into<String>,
        display_text: Option<String>,
        ttl_minutes: Option<u32>,
        payload: Option<String>,
    ) -> Self {
        let mut p = serde_json::Map::new();
        if let Some(text) = display_text {
            p.insert("display_text".into(), text.into());
        }
        if let Some(ttl) = ttl_minutes {
            p.insert("ttl_minutes".into(), ttl.into());
        }
        if let Some(payload) = payload {
            p.insert("payload".into(), payload.into());
        }
        Self::with(
            "voice_call",
            body,
            Action::Named {
                name: "voice_call",
                parameters: (!p.is_empty()).then(|| p.into()),
            },
        )
    }

    /// Sets the header.
    pub fn header(mut self, header: InteractiveHeader) -> Self {
        self.header = Some(header);
        self
    }

    /// Sets a footer of at most 60 characters.
    pub fn footer(mut self, footer: impl Into<String>) -> Self {
        self.footer = Some(BodyText {
            text: footer.into(),
        });
        self
    }

    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        match &self.body {
            Some(body) => {
                non_empty("interactive.body.text", &body.text)?;
                max_chars("interactive.body.text", &body.text, MAX_INTERACTIVE_BODY)?;
            }
            None if self.kind == "product" => {}
            None => {
                return Err(ValidationError::new(
                    "interactive.body.text",
                    "must not be empty",
                ));
            }
        }
        if let Some(footer) = &self.footer {
            max_chars("interactive.footer.text", &footer.text, MAX_HEADER_FOOTER)?;
        }
        match &self.header {
            Some(InteractiveHeader::Text { text }) => {
                max_chars("interactive.header.text", text, MAX_HEADER_FOOTER)?;
            }
            Some(InteractiveHeader::Image { image: m })
            | Some(InteractiveHeader::Video { video: m })
            | Some(InteractiveHeader::Document { document: m }) => {
                m.validate("interactive.header", false, true)?;
            }
            None => {}
        }
        match &self.action {
            Action::Buttons { buttons } => {
                let field = "interactive.action.buttons";
                count_within(field, "buttons", buttons.len(), 1, MAX_REPLY_BUTTONS)?;
                for (i, b) in buttons.iter().enumerate() {
                    non_empty("interactive.action.buttons.reply.id", &b.reply.id)?;
                    max_chars(
                        "interactive.action.buttons.reply.id",
                        &b.reply.id,
                        MAX_BUTTON_ID,
                    )?;
                    non_empty("interactive.action.buttons.reply.title", &b.reply.title)?;
                    max_chars(
                        "interactive.action.buttons.reply.title",
                        &b.reply.title,
                        MAX_BUTTON_TITLE,
                    )?;
                    if buttons.iter().skip(i + 1).any(|o| o.reply.id == b.reply.id) {
                        return Err(ValidationError::new(field, "button ids must be unique"));
                    }
                }
            }
            Action::List { button, sections } => {
                non_empty("interactive.action.button", button)?;
                max_chars("interactive.action.button", button, MAX_BUTTON_LABEL)?;
                count_within(
                    "interactive.action.sections",
                    "sections",
                    sections.len(),
                    1,
                    MAX_LIST_SECTIONS,
                )?;
                let rows: usize = sections.iter().map(|s| s.rows.len()).sum();
                count_within(
                    "interactive.action.sections.rows",
                    "rows in total",
                    rows,
                    1,
                    MAX_LIST_ROWS,
                )?;
                for s in sections {
                    match &s.title {
                        Some(t) => {
                            max_chars("interactive.action.sections.title", t, MAX_ROW_TITLE)?;
                        }
                        None if sections.len() > 1 => {
                            return Err(ValidationError::new(
                                "interactive.action.sections.title",
                                "a title is required when there are several sections",
                            ));
                        }
                        None => {}
                    }
                    for r in &s.rows {
                        non_empty("interactive.action.sections.rows.id", &r.id)?;
                        max_chars("interactive.action.sections.rows.id", &r.id, MAX_ROW_ID)?;
                        non_empty("interactive.action.sections.rows.title", &r.title)?;
                        max_chars(
                            "interactive.action.sections.rows.title",
                            &r.title,
                            MAX_ROW_TITLE,
                        )?;
                        if let Some(d) = &r.description {
                            max_chars(
                                "interactive.action.sections.rows.description",
                                d,
                                MAX_ROW_DESCRIPTION,
                            )?;
                        }
                    }
                }
            }
            Action::Product { .. } | Action::ProductList { .. } => self.validate_commerce()?,
            Action::Named { name, parameters } => {
                let p = parameters.as_ref();
                let text = |key: &str| p.and_then(|p| p.get(key)).and_then(|v| v.as_str());
                match *name {
                    "cta_url" => {
                        let label = text("display_text").unwrap_or("");
                        non_empty("interactive.action.parameters.display_text", label)?;
                        max_chars(
                            "interactive.action.parameters.display_text",
                            label,
                            MAX_BUTTON_LABEL,
                        )?;
                        let url = text("url").unwrap_or("");
                        if !(url.starts_with("https://") || url.starts_with("http://")) {
                            return Err(ValidationError::new(
                                "interactive.action.parameters.url",
                                "must be an http(s) URL",
                            ));
                        }
                    }
                    "flow" => {
                        let cta = text("flow_cta").unwrap_or("");
                        non_empty("interactive.action.parameters.flow_cta", cta)?;
                        max_chars("interactive.action.parameters.flow_cta", cta, MAX_FLOW_CTA)?;
                        non_empty(
                            "interactive.action.parameters.flow_token",
                            text("flow_token").unwrap_or(""),
                        )?;
                        let id = text("flow_id").or_else(|| text("flow_name")).unwrap_or("");
                        non_empty("interactive.action.parameters.flow_id", id)?;
                    }
                    "address_message" => {
                        let country = text("country").unwrap_or("");
                        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
                            return Err(ValidationError::new(
                                "interactive.action.parameters.country",
                                "expected an ISO 3166 alpha-2 code such as IN or SG",
                            ));
                        }
                    }
                    "voice_call" => {
                        if let Some(label) = text("display_text") {
                            non_empty("interactive.action.parameters.display_text", label)?;
                            max_chars(
                                "interactive.action.parameters.display_text",
                                label,
                                MAX_BUTTON_LABEL,
                            )?;
                        }
                        let ttl = p
                            .and_then(|p| p.get("ttl_minutes"))
                            .and_then(|v| v.as_u64());
                        if let Some(ttl) = ttl
                            && !(1..=MAX_CALL_BUTTON_TTL_MINUTES).contains(&ttl)
                        {
                            return Err(ValidationError::new(
                                "interactive.action.parameters.ttl_minutes",
                                format!(
                                    "at least 1 and at most {MAX_CALL_BUTTON_TTL_MINUTES} minutes, got {ttl}"
                                ),
                            ));
                        }
                        if let Some(payload) = text("payload") {
                            max_chars("interactive.action.parameters.payload", payload, 512)?;
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

impl From<Interactive> for Content {
    fn from(interactive: Interactive) -> Self {
        Content::Interactive { interactive }
    }
}
