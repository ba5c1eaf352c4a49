//! Contact cards.

#[allow(unused_imports)]
use super::*;

/// A contact card: every field of Meta's `contacts` message (name, phones,
/// emails, addresses, birthday, organization, URLs).
///
/// ```
/// use whatsapp_cloud::messages::{ContactAddress, ContactCard};
///
/// let card = ContactCard::new("Dr. Ana María Lima Jr.")
///     .first_name("Ana")
///     .middle_name("María")
///     .last_name("Lima")
///     .name_prefix("Dr.")
///     .name_suffix("Jr.")
///     .phone("+14155550123", "CELL")
///     .email("ana@example.com")
///     .address(ContactAddress::new("WORK").street("1 Market St").city("San Francisco").state("CA").zip("94105").country("United States", "US"))
///     .birthday("1990-04-30")
///     .org("Acme", Some("Support"), Some("Lead"))
///     .url("https://example.com", "WORK");
/// let json = serde_json::to_value(&card).unwrap();
/// assert_eq!(json["name"]["middle_name"], "María");
/// assert_eq!(json["addresses"][0]["zip"], "94105");
/// assert_eq!(json["org"]["company"], "Acme");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ContactCard {
    /// The name; `formatted_name` is required.
    pub name: ContactName,
    /// Phone numbers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<ContactPhone>,
    /// Email addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<ContactEmail>,
    /// Postal addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<ContactAddress>,
    /// The birthday, `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    /// The organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<ContactOrg>,
    /// Web addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<ContactUrl>,
}

impl ContactCard {
    /// A card with a formatted name.
    pub fn new(formatted_name: impl Into<String>) -> Self {
        Self {
            name: ContactName {
                formatted_name: formatted_name.into(),
                first_name: None,
                last_name: None,
                middle_name: None,
                suffix: None,
                prefix: None,
            },
            phones: Vec::new(),
            emails: Vec::new(),
            addresses: Vec::new(),
            birthday: None,
            org: None,
            urls: Vec::new(),
        }
    }

    /// The first name.
    pub fn first_name(mut self, name: impl Into<String>) -> Self {
        self.name.first_name = Some(name.into());
        self
    }

    /// The last name.
    pub fn last_name(mut self, name: impl Into<String>) -> Self {
        self.name.last_name = Some(name.into());
        self
    }

    /// The middle name.
    pub fn middle_name(mut self, name: impl Into<String>) -> Self {
        self.name.middle_name = Some(name.into());
        self
    }

    /// A name prefix (`Dr.`).
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name.prefix = Some(prefix.into());
        self
    }

    /// A name suffix (`Jr.`).
    pub fn name_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.name.suffix = Some(suffix.into());
        self
    }

    /// Adds a postal address.
    pub fn address(mut self, address: ContactAddress) -> Self {
        self.addresses.push(address);
        self
    }

    /// The birthday, `YYYY-MM-DD` (checked before sending).
    pub fn birthday(mut self, date: impl Into<String>) -> Self {
        self.birthday = Some(date.into());
        self
    }

    /// The organization: company, and optionally department and title.
    pub fn org(
        mut self,
        company: impl Into<String>,
        department: Option<&str>,
        title: Option<&str>,
    ) -> Self {
        self.org = Some(ContactOrg {
            company: Some(company.into()),
            department: department.map(str::to_owned),
            title: title.map(str::to_owned),
        });
        self
    }

    /// Adds a web address, with its type (`HOME`, `WORK`).
    pub fn url(mut self, url: impl Into<String>, kind: impl Into<String>) -> Self {
        self.urls.push(ContactUrl {
            url: url.into(),
            kind: Some(kind.into()),
        });
        self
    }

    /// Checks what Meta checks: a formatted name, a `YYYY-MM-DD` birthday.
    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        non_empty("contacts.name.formatted_name", &self.name.formatted_name)?;
        if let Some(b) = &self.birthday
            && !is_iso_date(b)
        {
            return Err(ValidationError::new(
                "contacts.birthday",
                "must be a date written YYYY-MM-DD",
            ));
        }
        Ok(())
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

/// Whether `s` is a calendar date written `YYYY-MM-DD`.
fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r)
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .and_then(|d| std::str::from_utf8(d).ok()?.parse::<u32>().ok())
    };
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => return false,
    };
    b.len() == 10 && b.get(4) == Some(&b'-') && b.get(7) == Some(&b'-') && (1..=days).contains(&day)
}

/// The name on a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ContactName {
    /// The full name as shown.
    pub formatted_name: String,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Middle name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Name suffix (`Jr.`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// Name prefix (`Dr.`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// A postal address on a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ContactAddress {
    /// Street.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State (`CA`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// ZIP code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    /// Country name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// ISO two-letter country code (`US`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    /// `HOME` or `WORK`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl ContactAddress {
    /// An address of a type (`HOME`, `WORK`).
    pub fn new(kind: impl Into<String>) -> Self {
        Self {
            street: None,
            city: None,
            state: None,
            zip: None,
            country: None,
            country_code: None,
            kind: Some(kind.into()),
        }
    }

    /// The street.
    pub fn street(mut self, street: impl Into<String>) -> Self {
        self.street = Some(street.into());
        self
    }

    /// The city.
    pub fn city(mut self, city: impl Into<String>) -> Self {
        self.city = Some(city.into());
        self
    }

    /// The state.
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// The ZIP code.
    pub fn zip(mut self, zip: impl Into<String>) -> Self {
        self.zip = Some(zip.into());
        self
    }

    /// The country: its name and ISO code.
    pub fn country(mut self, name: impl Into<String>, code: impl Into<String>) -> Self {
        self.country = Some(name.into());
        self.country_code = Some(code.into());
        self
    }
}

/// The organization on a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ContactOrg {
    /// Company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Department.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A web address on a contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ContactUrl {
    /// The URL.
    pub url: String,
    /// `HOME` or `WORK`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
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
