//! Contact cards.

#[allow(unused_imports)]
use super::*;

/// A contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactCard {
    /// The name; `formatted_name` is required.
    pub name: ContactName,
    /// Phone numbers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<ContactPhone>,
    /// Email addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<ContactEmail>,
}

impl ContactCard {
    /// A card with a formatted name.
    pub fn new(formatted_name: impl Into<String>) -> Self {
        Self {
            name: ContactName {
                formatted_name: formatted_name.into(),
                first_name: None,
                last_name: None,
            },
            phones: Vec::new(),
            emails: Vec::new(),
        }
    }
    /// Adds a phone number, with its type (`CELL`, `WORK`, ...).
    pub fn phone(mut self, phone: impl Into<String>, kind: impl Into<String>) -> Self {
        self.phones.push(ContactPhone {
            phone: phone.into(),
            kind: Some(kind.into()),
            wa_id: None,
        });
        self
    }
    /// Adds an email address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.emails.push(ContactEmail {
            email: email.into(),
            kind: None,
        });
        self
    }
}

/// The name on a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactName {
    /// The full name as shown.
    pub formatted_name: String,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

/// A phone number on a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactPhone {
    /// The number.
    pub phone: String,
    /// `CELL`, `MAIN`, `HOME`, `WORK`, ...
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The WhatsApp id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
}

/// An email address on a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactEmail {
    /// The address.
    pub email: String,
    /// `HOME` or `WORK`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl From<Vec<ContactCard>> for Content {
    fn from(contacts: Vec<ContactCard>) -> Self {
        Content::Contacts { contacts }
    }
}
