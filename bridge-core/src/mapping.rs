//! Mapping: inbound message → the action to take in Salesforce.
//!
//! [`Mapper`] is the trait apps implement (async, so a mapper may look things
//! up); [`DefaultMapper`] routes with keywords and the channel table and builds
//! Lead and Case records with values cut to Salesforce's field lengths on
//! character boundaries.

use async_trait::async_trait;

use crate::error::BridgeError;
use crate::inbound::{CustomerContent, CustomerMessage};
use crate::routing::{ChannelTable, KeywordRouter, Priority, Purpose, RecordKind, Route};

/// Field lengths from Salesforce's field reference.
pub mod limits {
    /// Lead.LastName.
    pub const LAST_NAME: usize = 80;
    /// Lead.FirstName.
    pub const FIRST_NAME: usize = 40;
    /// Lead.Company.
    pub const COMPANY: usize = 255;
    /// Phone fields.
    pub const PHONE: usize = 40;
    /// Case.Subject.
    pub const SUBJECT: usize = 255;
    /// Long text areas (Description).
    pub const DESCRIPTION: usize = 32_000;
    /// Case.SuppliedName.
    pub const SUPPLIED_NAME: usize = 80;
    /// Case.SuppliedPhone.
    pub const SUPPLIED_PHONE: usize = 40;
    /// A text external-ID field.
    pub const EXTERNAL_ID: usize = 255;
}

/// Cuts a string to at most `max` characters, on a character boundary, never
/// in the middle of a UTF-8 sequence.
///
/// ```
/// assert_eq!(bridge_core::mapping::truncate_chars("héllo", 2), "hé");
/// assert_eq!(bridge_core::mapping::truncate_chars("😀😀", 1), "😀");
/// ```
pub fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// A channel-neutral Lead to write.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeadDraft {
    /// LastName (the profile name, or a placeholder).
    pub last_name: String,
    /// FirstName, when the profile name has two parts.
    pub first_name: Option<String>,
    /// Company (a placeholder when unknown).
    pub company: String,
    /// Phone, formatted for display when it parses, else as received.
    pub phone: Option<String>,
    /// LeadSource (`WhatsApp`).
    pub lead_source: String,
    /// Description: the message.
    pub description: String,
    /// Tags from the content (matched keywords), for a custom field or the description.
    pub tags: Vec<String>,
}

/// A channel-neutral Case to write.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CaseDraft {
    /// Subject: the first words.
    pub subject: String,
    /// Description: the whole text.
    pub description: String,
    /// Origin (`WhatsApp`).
    pub origin: String,
    /// Priority.
    pub priority: Priority,
    /// SuppliedPhone.
    pub supplied_phone: Option<String>,
    /// SuppliedName.
    pub supplied_name: Option<String>,
}

/// What to do in Salesforce for a message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Create a Case.
    CreateCase {
        /// The case.
        case: CaseDraft,
        /// Why.
        route: Route,
    },
    /// Find the Lead by phone and update it, else create one; optionally add a
    /// follow-up Task.
    UpsertLead {
        /// The lead.
        lead: LeadDraft,
        /// A follow-up Task this many hours later.
        follow_up_hours: Option<u32>,
        /// Why.
        route: Route,
    },
    /// Add a Task (e.g. to an existing record).
    AddTask {
        /// Subject.
        subject: String,
        /// Comments.
        description: String,
        /// The record it is about, when known.
        who_or_what: Option<String>,
    },
    /// Write any object as JSON fields, optionally idempotently on an external ID.
    Custom {
        /// The object's API name.
        object: String,
        /// The fields.
        fields: serde_json::Map<String, serde_json::Value>,
        /// `(field, value)` to upsert on.
        external_id: Option<(String, String)>,
    },
    /// Do nothing, and say why.
    Ignore {
        /// Why.
        reason: String,
    },
}

/// Which kind of [`Action`] was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ActionKind {
    /// A Case was created (or updated, for an edit).
    CreateCase,
    /// A Lead was created or updated.
    UpsertLead,
    /// A Task was added.
    AddTask,
    /// A custom object was written.
    Custom,
    /// Nothing was written.
    Ignore,
}

impl ActionKind {
    /// The name used in logs (`create_case`, `upsert_lead`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::CreateCase => "create_case",
            ActionKind::UpsertLead => "upsert_lead",
            ActionKind::AddTask => "add_task",
            ActionKind::Custom => "custom",
            ActionKind::Ignore => "ignore",
        }
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Action {
    /// Which kind of action this is.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::CreateCase { .. } => ActionKind::CreateCase,
            Action::UpsertLead { .. } => ActionKind::UpsertLead,
            Action::AddTask { .. } => ActionKind::AddTask,
            Action::Custom { .. } => ActionKind::Custom,
            Action::Ignore { .. } => ActionKind::Ignore,
        }
    }

    /// A short name for logs (`create_case`, `upsert_lead`, ...).
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }
}

/// Decides what an inbound message becomes in Salesforce.
#[async_trait]
pub trait Mapper: Send + Sync {
    /// The action for a message.
    async fn map(&self, message: &CustomerMessage) -> Result<Action, BridgeError>;
}

/// Options of the [`DefaultMapper`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MapperOptions {
    /// LastName when the profile name is unknown.
    pub last_name_placeholder: String,
    /// Company when unknown (Lead requires one).
    pub company_placeholder: String,
    /// Words of the message used as the Case subject.
    pub subject_words: usize,
    /// Add a follow-up Task this many hours after a Lead (None: no task).
    pub follow_up_hours: Option<u32>,
}

impl Default for MapperOptions {
    fn default() -> Self {
        Self {
            last_name_placeholder: "WhatsApp contact".into(),
            company_placeholder: "Unknown (via WhatsApp)".into(),
            subject_words: 8,
            follow_up_hours: Some(24),
        }
    }
}

/// The default mapper: keyword routing, channel table, Lead and Case drafts.
#[derive(Debug, Clone, Default)]
pub struct DefaultMapper {
    router: KeywordRouter,
    table: ChannelTable,
    options: MapperOptions,
}

impl DefaultMapper {
    /// A mapper with the given parts.
    pub fn new(router: KeywordRouter, table: ChannelTable, options: MapperOptions) -> Self {
        Self {
            router,
            table,
            options,
        }
    }

    /// The decision and action, synchronously (the trait method wraps this).
    pub fn decide(&self, m: &CustomerMessage) -> Action {
        let described;
        let text = match m.text_content().filter(|t| !t.trim().is_empty()) {
            Some(t) => t,
            None => match describe_content(&m.content) {
                Some(d) => {
                    described = d;
                    described.as_str()
                }
                None => {
                    return Action::Ignore {
                        reason: format!("{} message: nothing for the CRM", m.kind()),
                    };
                }
            },
        };
        let route = self
            .table
            .route_for(&self.router, &m.channel, m.business_id.as_deref(), text);
        match route.record {
            RecordKind::Case => Action::CreateCase {
                case: case_draft(m, text, route.priority, self.options.subject_words),
                route,
            },
            RecordKind::Lead if route.purpose == Purpose::AutomatedUpdate => Action::Ignore {
                reason: format!("automated message ({})", route.matched.join(", ")),
            },
            RecordKind::Lead => Action::UpsertLead {
                lead: lead_draft(m, text, &self.options, &route),
                follow_up_hours: self.options.follow_up_hours,
                route,
            },
            RecordKind::Other(ref object) => {
                let mut fields = serde_json::Map::new();
                fields.insert(
                    "Description".into(),
                    truncate_chars(text, limits::DESCRIPTION).into(),
                );
                Action::Custom {
                    object: object.clone(),
                    fields,
                    external_id: None,
                }
            }
        }
    }
}

#[async_trait]
impl Mapper for DefaultMapper {
    async fn map(&self, message: &CustomerMessage) -> Result<Action, BridgeError> {
        Ok(self.decide(message))
    }
}

/// A text for content that has none, so that a photo, a location or a type
/// this crate does not know still reaches the CRM (kept, not dropped). `None`
/// for reactions, which are feedback on our own messages.
pub fn describe_content(content: &CustomerContent) -> Option<String> {
    Some(match content {
        CustomerContent::Text(t) => t.clone(),
        CustomerContent::Media {
            kind,
            media_id,
            caption,
            ..
        } => match caption.as_deref().filter(|c| !c.trim().is_empty()) {
            Some(c) => c.to_owned(),
            None => format!(
                "[{kind} sent on WhatsApp, media id {}]",
                media_id.as_deref().unwrap_or("unknown")
            ),
        },
        CustomerContent::Location {
            latitude,
            longitude,
            label,
        } => match label {
            Some(l) => format!("[location: {l} ({latitude}, {longitude})]"),
            None => format!("[location: {latitude}, {longitude}]"),
        },
        CustomerContent::Reply { id, title } => format!("{title} [{id}]"),
        CustomerContent::Form(json) => format!("[form answers] {json}"),
        CustomerContent::Reaction { .. } => return None,
        CustomerContent::Other { kind } => format!("[{kind} message]"),
    })
}

/// The Lead for a message: name split into first and last, placeholders where
/// unknown, the phone formatted (or kept as received), the text as description.
pub fn lead_draft(
    m: &CustomerMessage,
    text: &str,
    options: &MapperOptions,
    route: &Route,
) -> LeadDraft {
    let name = m
        .from
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let (first, last) = match name {
        Some(n) => match n.rsplit_once(char::is_whitespace) {
            Some((f, l)) if !l.trim().is_empty() => (Some(f.trim()), l.trim()),
            _ => (None, n),
        },
        None => (None, options.last_name_placeholder.as_str()),
    };
    LeadDraft {
        last_name: truncate_chars(last, limits::LAST_NAME).to_owned(),
        first_name: first.map(|f| truncate_chars(f, limits::FIRST_NAME).to_owned()),
        company: truncate_chars(&options.company_placeholder, limits::COMPANY).to_owned(),
        phone: m.from.phone.as_deref().map(|p| {
            truncate_chars(&crate::format::phone::format_or_raw(p), limits::PHONE).to_owned()
        }),
        lead_source: m.channel.name().to_owned(),
        description: truncate_chars(text, limits::DESCRIPTION).to_owned(),
        tags: route.matched.clone(),
    }
}

/// The Case for a message: the first words as subject, the whole text as
/// description, the channel as origin, the sender as supplied name and phone.
pub fn case_draft(
    m: &CustomerMessage,
    text: &str,
    priority: Priority,
    subject_words: usize,
) -> CaseDraft {
    let n = subject_words.max(1);
    let mut subject = String::with_capacity(64);
    let mut words = text.split_whitespace();
    for w in words.by_ref().take(n) {
        if !subject.is_empty() {
            subject.push(' ');
        }
        subject.push_str(w);
    }
    if words.next().is_some() {
        subject.push('…');
    }
    CaseDraft {
        subject: truncate_chars(&subject, limits::SUBJECT).to_owned(),
        description: truncate_chars(text, limits::DESCRIPTION).to_owned(),
        origin: m.channel.name().to_owned(),
        priority,
        supplied_phone: m.from.phone.as_deref().map(|p| {
            truncate_chars(
                &crate::format::phone::format_or_raw(p),
                limits::SUPPLIED_PHONE,
            )
            .to_owned()
        }),
        supplied_name: m
            .from
            .name
            .as_deref()
            .map(|n| truncate_chars(n.trim(), limits::SUPPLIED_NAME).to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::{Channel, CustomerContent};

    fn msg(body: &str) -> CustomerMessage {
        CustomerMessage::text(Channel::WhatsApp, "wamid.1", "14155550123", body)
            .with_name("Ana Lima")
    }

    #[test]
    fn support_text_becomes_a_case() {
        let a = DefaultMapper::default().decide(&msg(
            "My order #1042 arrived broken and the box was open, I need a replacement",
        ));
        let Action::CreateCase { case, route } = a else {
            panic!("{a:?}")
        };
        assert_eq!(case.subject, "My order #1042 arrived broken and the box…");
        assert_eq!(case.origin, "WhatsApp");
        assert_eq!(case.supplied_phone.as_deref(), Some("+1 (415) 555-0123"));
        assert_eq!(case.supplied_name.as_deref(), Some("Ana Lima"));
        assert_eq!(route.matched, vec!["broken"]);
    }

    #[test]
    fn other_text_becomes_a_lead_with_placeholders_when_unknown() {
        let a = DefaultMapper::default().decide(&msg("I'd like a quote for 20 chairs"));
        let Action::UpsertLead {
            lead,
            follow_up_hours,
            ..
        } = a
        else {
            panic!()
        };
        assert_eq!(
            (lead.first_name.as_deref(), lead.last_name.as_str()),
            (Some("Ana"), "Lima")
        );
        assert_eq!(lead.company, "Unknown (via WhatsApp)");
        assert_eq!(lead.lead_source, "WhatsApp");
        assert_eq!(follow_up_hours, Some(24));
        let mut anon = CustomerMessage::text(Channel::WhatsApp, "w", "ext. 12", "quote");
        anon.from.name = None;
        let Action::UpsertLead { lead, .. } = DefaultMapper::default().decide(&anon) else {
            panic!()
        };
        assert_eq!(lead.last_name, "WhatsApp contact");
        assert_eq!(
            lead.phone.as_deref(),
            Some("ext. 12"),
            "an unformattable phone is kept, not dropped"
        );
    }

    #[test]
    fn values_are_cut_on_character_boundaries() {
        let long_name = "é".repeat(200);
        let m = CustomerMessage::text(Channel::WhatsApp, "w", "14155550123", "quote")
            .with_name(long_name);
        let Action::UpsertLead { lead, .. } = DefaultMapper::default().decide(&m) else {
            panic!()
        };
        assert_eq!(lead.last_name.chars().count(), limits::LAST_NAME);
        let big = "broken ".repeat(10_000);
        let Action::CreateCase { case, .. } = DefaultMapper::default().decide(&msg(&big)) else {
            panic!()
        };
        assert_eq!(case.description.chars().count(), limits::DESCRIPTION);
        assert_eq!(truncate_chars("abc", 0), "");
    }

    #[test]
    fn content_without_text_is_kept_and_reactions_and_automated_messages_are_ignored() {
        let mut m = msg("x");
        m.content = CustomerContent::Other {
            kind: "hologram".into(),
        };
        let a = DefaultMapper::default().decide(&m);
        assert!(
            matches!(&a, Action::UpsertLead { lead, .. } if lead.description == "[hologram message]"),
            "{a:?}"
        );
        m.content = CustomerContent::Media {
            kind: "image".into(),
            media_id: Some("104".into()),
            caption: None,
            mime_type: None,
        };
        let Action::UpsertLead { lead, .. } = DefaultMapper::default().decide(&m) else {
            panic!()
        };
        assert_eq!(lead.description, "[image sent on WhatsApp, media id 104]");
        m.content = CustomerContent::Media {
            kind: "image".into(),
            media_id: Some("104".into()),
            caption: Some("the box arrived broken".into()),
            mime_type: None,
        };
        assert!(matches!(
            DefaultMapper::default().decide(&m),
            Action::CreateCase { .. }
        ));
        m.content = CustomerContent::Reaction {
            to: Some("w".into()),
            emoji: Some("👍".into()),
        };
        assert!(
            matches!(DefaultMapper::default().decide(&m), Action::Ignore { reason } if reason.contains("reaction"))
        );
        assert!(matches!(
            DefaultMapper::default().decide(&msg("STOP")),
            Action::Ignore { .. }
        ));
        let viber = CustomerMessage::text(Channel::Viber, "v1", "14155550123", "hello there");
        assert!(matches!(
            DefaultMapper::default().decide(&viber),
            Action::CreateCase { .. }
        ));
    }
}
