//! Commerce messages: single product, product list and catalog, and the product
//! sections that multi-product templates share with product lists.

#[allow(unused_imports)]
use super::*;

/// Most product sections in a product list or multi-product template.
pub const MAX_PRODUCT_SECTIONS: usize = 10;
/// Most products across all sections of a product list or multi-product template.
pub const MAX_PRODUCTS: usize = 30;
/// Longest product section title, in characters.
pub const MAX_PRODUCT_SECTION_TITLE: usize = 24;

/// A section of products from your catalog, by retailer id (the SKU you gave
/// the product in Commerce Manager).
///
/// ```
/// use whatsapp_cloud::messages::{Interactive, Message, ProductSection};
///
/// let picks = Interactive::product_list(
///     "Our bestsellers",
///     "Spring collection",
///     "367025965434465",
///     vec![
///         ProductSection::new("Shoes", ["sku-runner-42", "sku-trail-43"]),
///         ProductSection::new("Bags", ["sku-tote"]),
///     ],
/// );
/// assert!(Message::new("14155550123", picks).validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    product_items: Vec<ProductItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct ProductItem {
    product_retailer_id: String,
}

impl ProductSection {
    /// A titled section (a title is required when there are several sections).
    pub fn new<I, S>(title: impl Into<String>, retailer_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            title: Some(title.into()),
            ..Self::untitled(retailer_ids)
        }
    }

    /// A section without a title (only valid as the single section).
    pub fn untitled<I, S>(retailer_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            title: None,
            product_items: retailer_ids
                .into_iter()
                .map(|id| ProductItem {
                    product_retailer_id: id.into(),
                })
                .collect(),
        }
    }

    /// Checks a set of sections against the documented limits.
    pub(super) fn validate_all(
        fields: &SectionFields,
        sections: &[ProductSection],
    ) -> Result<(), ValidationError> {
        count_within(
            fields.sections,
            "sections",
            sections.len(),
            1,
            MAX_PRODUCT_SECTIONS,
        )?;
        let products: usize = sections.iter().map(|s| s.product_items.len()).sum();
        count_within(
            fields.sections,
            "products in total",
            products,
            1,
            MAX_PRODUCTS,
        )?;
        for s in sections {
            match &s.title {
                Some(t) => {
                    non_empty(fields.title, t)?;
                    max_chars(fields.title, t, MAX_PRODUCT_SECTION_TITLE)?;
                }
                None if sections.len() > 1 => {
                    return Err(ValidationError::new(
                        fields.title,
                        "a title is required when there are several sections",
                    ));
                }
                None => {}
            }
            if s.product_items.is_empty() {
                return Err(ValidationError::new(
                    fields.items,
                    "each section needs at least one product",
                ));
            }
            for p in &s.product_items {
                non_empty(fields.retailer_id, &p.product_retailer_id)?;
            }
        }
        Ok(())
    }
}

/// Where product sections sit in a message, for error field names.
pub(super) struct SectionFields {
    pub(super) sections: &'static str,
    pub(super) title: &'static str,
    pub(super) items: &'static str,
    pub(super) retailer_id: &'static str,
}

const LIST_FIELDS: SectionFields = SectionFields {
    sections: "interactive.action.sections",
    title: "interactive.action.sections.title",
    items: "interactive.action.sections.product_items",
    retailer_id: "interactive.action.sections.product_items.product_retailer_id",
};

impl Interactive {
    /// One product from a catalog. The body is optional for this kind: pass an
    /// empty string to leave it out.
    pub fn product(
        body: impl Into<String>,
        catalog_id: impl Into<String>,
        product_retailer_id: impl Into<String>,
    ) -> Self {
        Self::with(
            "product",
            body,
            Action::Product {
                catalog_id: catalog_id.into(),
                product_retailer_id: product_retailer_id.into(),
            },
        )
    }

    /// Up to 30 products in up to 10 sections, under a text header (required
    /// for this kind).
    pub fn product_list(
        header: impl Into<String>,
        body: impl Into<String>,
        catalog_id: impl Into<String>,
        sections: Vec<ProductSection>,
    ) -> Self {
        Self::with(
            "product_list",
            body,
            Action::ProductList {
                catalog_id: catalog_id.into(),
                sections,
            },
        )
        .header(InteractiveHeader::Text {
            text: header.into(),
        })
    }

    /// A button that opens the business's whole catalog, optionally with one
    /// product as the thumbnail.
    pub fn catalog(body: impl Into<String>, thumbnail_product_retailer_id: Option<String>) -> Self {
        let parameters = thumbnail_product_retailer_id
            .map(|id| serde_json::json!({ "thumbnail_product_retailer_id": id }));
        Self::with(
            "catalog_message",
            body,
            Action::Named {
                name: "catalog_message",
                parameters,
            },
        )
    }

    pub(super) fn validate_commerce(&self) -> Result<(), ValidationError> {
        match &self.action {
            Action::Product {
                catalog_id,
                product_retailer_id,
            } => {
                non_empty("interactive.action.catalog_id", catalog_id)?;
                non_empty(
                    "interactive.action.product_retailer_id",
                    product_retailer_id,
                )
            }
            Action::ProductList {
                catalog_id,
                sections,
            } => {
                non_empty("interactive.action.catalog_id", catalog_id)?;
                match &self.header {
                    Some(InteractiveHeader::Text { text }) if !text.trim().is_empty() => {}
                    _ => {
                        return Err(ValidationError::new(
                            "interactive.header",
                            "a product list needs a text header",
                        ));
                    }
                }
                ProductSection::validate_all(&LIST_FIELDS, sections)
            }
            _ => Ok(()),
        }
    }
}
