//! A flat view of a notification: one [`Event`] per message, status, error or
//! other change, each with its business account and number, so an app never
//! walks five levels of nesting.

use serde_json::value::RawValue;

use super::model::{
    Call, CallStatus, ChangeValue, EchoMessage, Entry, ErrorDetail, InboundMessage, InvalidItem,
    Metadata, Notification, Status, TemplateStatusUpdate, UserPreference, WebhookContact,
};

/// Where an event came from.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct EventContext<'a> {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: &'a str,
    /// The change field (`messages`, ...).
    pub field: &'a str,
    /// The business number, for `messages` changes.
    pub metadata: Option<&'a Metadata>,
}

impl<'a> EventContext<'a> {
    /// The business phone number id the event is about.
    pub fn phone_number_id(&self) -> Option<&'a str> {
        self.metadata.and_then(|m| m.phone_number_id.as_deref())
    }
}

/// One event of a notification.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// An inbound message.
    Message(MessageEvent<'a>),
    /// A delivery status of an outbound message.
    Status(StatusEvent<'a>),
    /// An error about a change as a whole (`value.errors`).
    Error(ErrorEvent<'a>),
    /// A template status update.
    TemplateStatus(TemplateStatusEvent<'a>),
    /// A message the business sent from the WhatsApp Business app (never a
    /// customer's message).
    Echo(EchoEvent<'a>),
    /// A customer stopped or resumed marketing messages.
    Preference(PreferenceEvent<'a>),
    /// A call event (connect, terminate).
    Call(CallEvent<'a>),
    /// A status of a business-initiated call.
    CallStatus(CallStatusEvent<'a>),
    /// A typed change of another field (account, numbers, templates, Flows,
    /// security, partners, payments, contact syncs, history).
    Update(UpdateEvent<'a>),
    /// A change of another field, as raw JSON.
    Other(OtherEvent<'a>),
    /// An item that could not be parsed; its raw JSON is kept.
    Invalid(InvalidEvent<'a>),
}

impl Event<'_> {
    /// A stable key for deduplicating redeliveries of this event. Meta delivers
    /// webhooks at least once; process each key once.
    ///
    /// Messages: `wa:msg:<wamid>`; statuses: `wa:status:<wamid>:<status>`;
    /// template updates: `wa:template:<id>:<event>`; anything else: the field and
    /// a hash of the raw JSON.
    pub fn dedup_key(&self) -> String {
        match self {
            Event::Message(m) => m.dedup_key(),
            Event::Status(s) => s.dedup_key(),
            Event::TemplateStatus(t) => format!(
                "wa:template:{}:{}",
                t.update.message_template_id.unwrap_or(0),
                t.update.event.as_deref().unwrap_or("")
            ),
            Event::Echo(e) => format!("wa:echo:{}", e.echo.id),
            Event::Preference(p) => format!(
                "wa:pref:{}:{}:{}",
                p.preference.address().unwrap_or(""),
                p.preference.value.as_deref().unwrap_or(""),
                p.preference.timestamp.unwrap_or(0)
            ),
            Event::Call(c) => format!(
                "wa:call:{}:{}",
                c.call.id,
                c.call.event.as_deref().unwrap_or("")
            ),
            Event::CallStatus(c) => format!(
                "wa:callstatus:{}:{}",
                c.status.id,
                c.status.status.as_deref().unwrap_or("")
            ),
            Event::Update(u) => format!(
                "wa:{}:{}:{:016x}",
                u.context.field,
                u.context.waba_id,
                fnv1a(u.raw.get().as_bytes())
            ),
            Event::Error(e) => format!(
                "wa:error:{}:{}:{:016x}",
                e.context.waba_id,
                e.error.code.unwrap_or(-1),
                fnv1a(e.error.message.as_deref().unwrap_or("").as_bytes())
            ),
            Event::Other(o) => format!(
                "wa:{}:{}:{:016x}",
                o.context.field,
                o.context.waba_id,
                fnv1a(o.raw.get().as_bytes())
            ),
            Event::Invalid(i) => format!(
                "wa:invalid:{}:{:016x}",
                i.context.field,
                fnv1a(i.item.raw.get().as_bytes())
            ),
        }
    }

    /// Where the event came from.
    pub fn context(&self) -> &EventContext<'_> {
        match self {
            Event::Message(e) => &e.context,
            Event::Status(e) => &e.context,
            Event::Error(e) => &e.context,
            Event::TemplateStatus(e) => &e.context,
            Event::Echo(e) => &e.context,
            Event::Preference(e) => &e.context,
            Event::Call(e) => &e.context,
            Event::CallStatus(e) => &e.context,
            Event::Update(e) => &e.context,
            Event::Other(e) => &e.context,
            Event::Invalid(e) => &e.context,
        }
    }
}

/// An inbound message with its context and the sender's contact entry.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct MessageEvent<'a> {
    /// Where it came from.
    pub context: EventContext<'a>,
    /// The sender's `contacts[]` entry, matched by wa_id or user id.
    pub contact: Option<&'a WebhookContact>,
    /// The message.
    pub message: &'a InboundMessage,
}

impl<'a> MessageEvent<'a> {
    /// The sender's profile name, when the contact entry has one.
    pub fn sender_name(&self) -> Option<&'a str> {
        self.contact
            .and_then(|c| c.profile.as_ref())
            .and_then(|p| p.name.as_deref())
    }

    /// The sender's wa_id: `from`, else the contact's `wa_id`.
    pub fn sender_wa_id(&self) -> Option<&'a str> {
        self.message
            .from
            .wa_id
            .as_deref()
            .or_else(|| self.contact.and_then(|c| c.wa_id.as_deref()))
    }

    /// `wa:msg:<wamid>`.
    pub fn dedup_key(&self) -> String {
        format!("wa:msg:{}", self.message.id)
    }
}

/// A status with its context.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct StatusEvent<'a> {
    /// Where it came from.
    pub context: EventContext<'a>,
    /// The status.
    pub status: &'a Status,
}

impl StatusEvent<'_> {
    /// `wa:status:<wamid>:<status>`.
    pub fn dedup_key(&self) -> String {
        format!("wa:status:{}:{}", self.status.id, self.status.status)
    }
}

/// A `value.errors[]` item with its context.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ErrorEvent<'a> {
    /// Where it came from.
    pub context: EventContext<'a>,
    /// The error.
    pub error: &'a ErrorDetail,
}

/// A template status update with its context.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct TemplateStatusEvent<'a> {
    /// Where it came from.
    pub context: EventContext<'a>,
    /// The update.
    pub update: &'a TemplateStatusUpdate,
}

/// A message the business sent from the WhatsApp Business app.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct EchoEvent<'a> {
    /// Where it came from.
    pub context: EventContext<'a>,
    /// The message.
    pub echo: &'a EchoMessage,
}

/// A customer's marketing preference.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PreferenceEvent<'a> {
    /// Where it came from.
    pub context: EventContext<'a>,
    /// The preference.
    pub preference: &'a UserPreference,
}

/// A call event.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct CallEvent<'a> {
    /// Where it came from.
    pub context: EventContext<'a>,
    /// The call.
    pub call: &'a Call,
}

/// A status of a business-initiated call.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct CallStatusEvent<'a> {
    /// Where it came from.
    pub context: EventContext<'a>,
    /// The status.
    pub status: &'a CallStatus,
}

/// A typed change of a management field; match on `value`.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct UpdateEvent<'a> {
    /// Where it came from; `field` names the change.
    pub context: EventContext<'a>,
    /// The typed value.
    pub value: &'a ChangeValue,
    /// The raw JSON of the value.
    pub raw: &'a RawValue,
}

/// A change of a field this crate does not type, as raw JSON.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct OtherEvent<'a> {
    /// Where it came from; `field` names the change.
    pub context: EventContext<'a>,
    /// The raw `value`.
    pub raw: &'a RawValue,
}

/// An item that could not be parsed.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct InvalidEvent<'a> {
    /// Where it came from.
    pub context: EventContext<'a>,
    /// The item, with its raw JSON.
    pub item: &'a InvalidItem,
}

impl Notification {
    /// Every event of the notification, in order: for each entry and change, its
    /// messages, then its statuses, then its errors.
    pub fn events(&self) -> impl Iterator<Item = Event<'_>> + '_ {
        self.entries.iter().flat_map(entry_events)
    }

    /// The number of inbound messages (valid or not) in the notification.
    pub fn message_count(&self) -> usize {
        self.entries
            .iter()
            .flat_map(|e| e.changes.iter())
            .map(|c| match &c.value {
                ChangeValue::Messages(v) => v.messages.len(),
                _ => 0,
            })
            .sum()
    }
}

fn entry_events(entry: &Entry) -> impl Iterator<Item = Event<'_>> + '_ {
    entry.changes.iter().flat_map(move |change| {
        let mut out = Vec::new();
        let mut context = EventContext {
            waba_id: &entry.id,
            field: &change.field,
            metadata: None,
        };
        match &change.value {
            ChangeValue::Messages(v) => {
                context.metadata = Some(&v.metadata);
                out.reserve(v.messages.len() + v.statuses.len() + v.errors.len());
                for m in &v.messages {
                    out.push(match m {
                        Ok(message) => Event::Message(MessageEvent {
                            context,
                            contact: find_contact(&v.contacts, message),
                            message,
                        }),
                        Err(item) => Event::Invalid(InvalidEvent { context, item }),
                    });
                }
                for s in &v.statuses {
                    out.push(match s {
                        Ok(status) => Event::Status(StatusEvent { context, status }),
                        Err(item) => Event::Invalid(InvalidEvent { context, item }),
                    });
                }
                for error in &v.errors {
                    out.push(Event::Error(ErrorEvent { context, error }));
                }
            }
            ChangeValue::TemplateStatusUpdate(update) => {
                out.push(Event::TemplateStatus(TemplateStatusEvent {
                    context,
                    update: &update.value,
                }));
            }
            ChangeValue::MessageEchoes(v) => {
                context.metadata = Some(&v.metadata);
                for e in &v.echoes {
                    out.push(match e {
                        Ok(echo) => Event::Echo(EchoEvent { context, echo }),
                        Err(item) => Event::Invalid(InvalidEvent { context, item }),
                    });
                }
            }
            ChangeValue::UserPreferences(v) => {
                context.metadata = Some(&v.metadata);
                for preference in &v.user_preferences {
                    out.push(Event::Preference(PreferenceEvent {
                        context,
                        preference,
                    }));
                }
            }
            ChangeValue::Calls(v) => {
                context.metadata = Some(&v.metadata);
                for call in &v.calls {
                    out.push(Event::Call(CallEvent { context, call }));
                }
                for status in &v.statuses {
                    out.push(Event::CallStatus(CallStatusEvent { context, status }));
                }
                for error in &v.errors {
                    out.push(Event::Error(ErrorEvent { context, error }));
                }
            }
            ChangeValue::Other(raw) => out.push(Event::Other(OtherEvent { context, raw })),
            ChangeValue::Invalid(item) => out.push(Event::Invalid(InvalidEvent { context, item })),
            value => {
                if let Some(raw) = update_raw(value) {
                    out.push(Event::Update(UpdateEvent {
                        context,
                        value,
                        raw,
                    }));
                }
            }
        }
        out
    })
}

/// The raw JSON of a typed management value.
fn update_raw(value: &ChangeValue) -> Option<&RawValue> {
    Some(match value {
        ChangeValue::AppStateSync(v) => &v.raw,
        ChangeValue::AccountUpdate(v) => &v.raw,
        ChangeValue::AccountAlert(v) => &v.raw,
        ChangeValue::AccountReviewUpdate(v) => &v.raw,
        ChangeValue::BusinessCapabilityUpdate(v) => &v.raw,
        ChangeValue::PhoneNumberNameUpdate(v) => &v.raw,
        ChangeValue::PhoneNumberQualityUpdate(v) => &v.raw,
        ChangeValue::TemplateQualityUpdate(v) => &v.raw,
        ChangeValue::TemplateComponentsUpdate(v) => &v.raw,
        ChangeValue::TemplateCategoryUpdate(v) => &v.raw,
        ChangeValue::Flows(v) => &v.raw,
        ChangeValue::Security(v) => &v.raw,
        ChangeValue::PartnerSolutions(v) => &v.raw,
        ChangeValue::PaymentConfigurationUpdate(v) => &v.raw,
        ChangeValue::History(v) => &v.raw,
        _ => return None,
    })
}

fn find_contact<'a>(
    contacts: &'a [WebhookContact],
    message: &InboundMessage,
) -> Option<&'a WebhookContact> {
    let by_wa = message
        .from
        .wa_id
        .as_deref()
        .and_then(|from| contacts.iter().find(|c| c.wa_id.as_deref() == Some(from)));
    let by_user = || {
        message
            .from
            .user_id
            .as_deref()
            .and_then(|uid| contacts.iter().find(|c| c.user_id.as_deref() == Some(uid)))
    };
    // A message without a wa_id (a username user whose phone is withheld) whose
    // user id is not listed either still belongs to the only contact of the change.
    let only = || {
        (message.from.wa_id.is_none() && contacts.len() == 1)
            .then(|| contacts.first())
            .flatten()
    };
    by_wa.or_else(by_user).or_else(only)
}

/// FNV-1a, 64 bits: a stable, dependency-free hash for dedup keys.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
