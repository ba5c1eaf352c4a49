//! Carousel template cards: a media header, a body and up to two buttons each.

#[allow(unused_imports)]
use super::*;

/// One card of a carousel template. Its index is its position in
/// [`Template::carousel`].
///
/// ```
/// use whatsapp_cloud::messages::{CarouselCard, MediaSource, Message, Template, TemplateParam};
///
/// let card = |sku: &str, price: &str| {
///     CarouselCard::image(MediaSource::Link(format!("https://shop.example.com/{sku}.png")))
///         .body(vec![TemplateParam::text(price)])
///         .quick_reply_button(0, format!("buy-{sku}"))
///         .url_button(1, sku)
/// };
/// let spring = Template::new("spring_picks", "en_US")
///     .body(vec![TemplateParam::text("Ana")])
///     .carousel(vec![card("runner", "$89.00"), card("trail", "$119.00")]);
/// assert!(Message::new("14155550123", spring).validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CarouselCard {
    card_index: usize,
    components: Vec<Component>,
}

impl CarouselCard {
    fn with_header(header: HeaderParam) -> Self {
        Self {
            card_index: 0,
            components: vec![Component::Header {
                parameters: vec![header],
            }],
        }
    }

    /// A card with an image header.
    pub fn image(source: MediaSource) -> Self {
        Self::with_header(HeaderParam::Image {
            image: Media::image(source),
        })
    }

    /// A card with a video header.
    pub fn video(source: MediaSource) -> Self {
        Self::with_header(HeaderParam::Video {
            video: Media::video(source),
        })
    }

    /// Sets the card's body parameters, in placeholder order.
    pub fn body(mut self, params: Vec<TemplateParam>) -> Self {
        self.components
            .retain(|c| !matches!(c, Component::Body { .. }));
        self.components.push(Component::Body { parameters: params });
        self
    }

    /// Sets the payload of the card's quick-reply button at `index`.
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

    /// Sets the URL suffix of the card's URL button at `index`.
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

    pub(super) fn components(&self) -> &[Component] {
        &self.components
    }

    pub(super) fn at(mut self, index: usize) -> Self {
        self.card_index = index;
        self
    }

    /// The card's buttons as (index, kind), sorted: every card must match.
    pub(super) fn button_kinds(&self) -> Vec<(&str, &'static str)> {
        let mut kinds: Vec<_> = self
            .components
            .iter()
            .filter_map(|c| match c {
                Component::Button {
                    index, sub_type, ..
                } => Some((index.as_str(), *sub_type)),
                _ => None,
            })
            .collect();
        kinds.sort_unstable();
        kinds
    }

    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        let media_header = self.components.iter().any(|c| {
            matches!(c, Component::Header { parameters }
                if matches!(parameters.as_slice(), [HeaderParam::Image { .. } | HeaderParam::Video { .. }]))
        });
        if !media_header {
            return Err(ValidationError::new(
                "template.components.carousel.cards.components.header",
                "each card needs one image or video header",
            ));
        }
        count_within(
            "template.components.carousel.cards.components.button",
            "buttons per card",
            self.button_kinds().len(),
            0,
            MAX_CARD_BUTTONS,
        )?;
        validate_components(&self.components, true)
    }
}
