//! From JSON to the model: the wire shapes and the parsers.
//!
//! The envelope is read once, with each change's value read into its members
//! (see `parts`) and each message or status borrowed as raw JSON; each item
//! is then read on its own (one item's problem never touches its
//! neighbours), leniently (see `lenient`).

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use super::activity::{EchoMessage, EchoesValue, HistoryChunk, HistoryThread, HistoryValue};
use super::lenient::{self, Diagnostic};
use super::message::{
    InboundLocation, InboundMedia, InboundMessage, InteractiveReply, MessageContent,
    MessageContext, Order, Referral, Sender, SharedContact, SystemMessage,
};
use super::parts::{Member, WireValue};
use super::status::{Conversation, ErrorDetail, Pricing, Status, StatusKind};
use super::{
    Change, ChangeValue, Entry, InvalidItem, Known, MessagesValue, Metadata, Notification,
    WebhookContact,
};
use crate::serde_util::{lenient_i64, lenient_string, null_as_empty};

#[derive(Deserialize)]
struct WireNotification<'a> {
    #[serde(default)]
    object: Option<String>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    entry: Vec<WireEntry<'a>>,
    /// The dashboard's "test" button sends a bare `{field, value}`.
    #[serde(default)]
    field: Option<String>,
    #[serde(default, borrow)]
    value: Option<WireValue<'a>>,
}

#[derive(Deserialize)]
struct WireEntry<'a> {
    #[serde(default, deserialize_with = "lenient_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    time: Option<i64>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    changes: Vec<WireChange<'a>>,
}

#[derive(Deserialize)]
struct WireChange<'a> {
    #[serde(default)]
    field: Option<String>,
    #[serde(borrow)]
    value: Option<WireValue<'a>>,
}

/// The parts of a rarer change value (echoes, history), read from its text.
#[derive(Deserialize)]
struct WireParts<'a> {
    #[serde(default, borrow)]
    metadata: Option<&'a RawValue>,
    #[serde(default, borrow)]
    errors: Option<&'a RawValue>,
    #[serde(default, borrow)]
    message_echoes: Option<&'a RawValue>,
    #[serde(default, borrow)]
    history: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireText {
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize)]
struct WireButton {
    #[serde(default, deserialize_with = "lenient_string")]
    payload: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct WireReaction {
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    emoji: Option<String>,
}

#[derive(Deserialize)]
struct WireKind {
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct WireOriginal {
    #[serde(default)]
    original_message_id: Option<String>,
}

#[derive(Deserialize)]
struct WireEdit {
    #[serde(default)]
    original_message_id: Option<String>,
    #[serde(default)]
    message: Option<Box<WireMessage>>,
}

/// A message (inbound, echo, history, or the new content of an edit).
#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    from: Option<String>,
    #[serde(default)]
    from_user_id: Option<String>,
    #[serde(default)]
    from_parent_user_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    to: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    timestamp: Option<i64>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    context: Option<Box<MessageContext>>,
    #[serde(default)]
    referral: Option<Box<Referral>>,
    #[serde(default, deserialize_with = "null_as_empty")]
    errors: Vec<ErrorDetail>,
    #[serde(default)]
    text: Option<WireText>,
    #[serde(default)]
    image: Option<Box<InboundMedia>>,
    #[serde(default)]
    audio: Option<Box<InboundMedia>>,
    #[serde(default)]
    video: Option<Box<InboundMedia>>,
    #[serde(default)]
    document: Option<Box<InboundMedia>>,
    #[serde(default)]
    sticker: Option<Box<InboundMedia>>,
    #[serde(default)]
    location: Option<Box<InboundLocation>>,
    #[serde(default)]
    contacts: Option<Vec<SharedContact>>,
    #[serde(default)]
    interactive: Option<Value>,
    #[serde(default)]
    button: Option<WireButton>,
    #[serde(default)]
    reaction: Option<WireReaction>,
    #[serde(default)]
    order: Option<Box<Order>>,
    #[serde(default)]
    system: Option<Box<SystemMessage>>,
    #[serde(default)]
    unsupported: Option<WireKind>,
    #[serde(default)]
    edit: Option<WireEdit>,
    #[serde(default)]
    revoke: Option<WireOriginal>,
}

#[derive(Deserialize)]
struct WireStatus {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_string")]
    recipient_id: Option<String>,
    #[serde(default)]
    recipient_user_id: Option<String>,
    #[serde(default)]
    parent_recipient_user_id: Option<String>,
    #[serde(default)]
    recipient_type: Option<String>,
    #[serde(default)]
    conversation: Option<Conversation>,
    #[serde(default)]
    pricing: Option<Pricing>,
    #[serde(default)]
    biz_opaque_callback_data: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    errors: Vec<ErrorDetail>,
}

/// A boxed optional object, or its default.
fn unbox<T: Default>(b: Option<Box<T>>) -> T {
    b.map(|b| *b).unwrap_or_default()
}

fn missing(what: &str) -> serde_json::Error {
    serde_json::Error::io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("missing field `{what}`"),
    ))
}

pub(crate) fn parse_notification(body: &[u8]) -> Result<Notification, serde_json::Error> {
    let wire: WireNotification<'_> = super::quiet::from_slice(body)?;
    let mut wire_entries = wire.entry;
    if wire_entries.is_empty() && wire.field.is_some() {
        wire_entries.push(WireEntry {
            id: None,
            time: None,
            changes: vec![WireChange {
                field: wire.field,
                value: wire.value,
            }],
        });
    }
    let entries = wire_entries
        .into_iter()
        .map(|e| Entry {
            id: e.id.unwrap_or_default(),
            time: e.time,
            changes: e.changes.into_iter().map(parse_change).collect(),
        })
        .collect();
    Ok(Notification {
        object: wire.object.unwrap_or_default(),
        entries,
    })
}

fn known<T: DeserializeOwned>(raw: &RawValue) -> Result<Box<Known<T>>, InvalidItem> {
    let (value, diagnostics) =
        lenient::parse::<T>(raw.get()).map_err(|e| InvalidItem::new(raw, &e))?;
    Ok(Box::new(Known {
        value,
        diagnostics,
        raw: raw.to_owned(),
    }))
}

fn parse_change(change: WireChange<'_>) -> Change {
    let field = change.field.unwrap_or_default();
    let value = change
        .value
        .unwrap_or_else(|| WireValue::Other(Box::<RawValue>::default()));
    if field == "messages" {
        return Change {
            field,
            value: parse_messages_value(&value)
                .map(ChangeValue::Messages)
                .unwrap_or_else(ChangeValue::Invalid),
        };
    }
    // The other fields are rarer: their value's text is rebuilt and read as
    // a whole.
    let raw = value.raw();
    let raw: &RawValue = &raw;
    let typed = match field.as_str() {
        "calls" => known(raw).map(ChangeValue::Calls),
        "smb_message_echoes" => parse_echoes(raw).map(ChangeValue::MessageEchoes),
        "smb_app_state_sync" => known(raw).map(ChangeValue::AppStateSync),
        "history" => parse_history(raw).map(ChangeValue::History),
        "user_preferences" => known(raw).map(ChangeValue::UserPreferences),
        "account_update" => known(raw).map(ChangeValue::AccountUpdate),
        "account_alerts" => known(raw).map(ChangeValue::AccountAlert),
        "account_review_update" => known(raw).map(ChangeValue::AccountReviewUpdate),
        "business_capability_update" => known(raw).map(ChangeValue::BusinessCapabilityUpdate),
        "phone_number_name_update" => known(raw).map(ChangeValue::PhoneNumberNameUpdate),
        "phone_number_quality_update" => known(raw).map(ChangeValue::PhoneNumberQualityUpdate),
        "message_template_status_update" => known(raw).map(ChangeValue::TemplateStatusUpdate),
        "message_template_quality_update" => known(raw).map(ChangeValue::TemplateQualityUpdate),
        "message_template_components_update" => {
            known(raw).map(ChangeValue::TemplateComponentsUpdate)
        }
        "template_category_update" => known(raw).map(ChangeValue::TemplateCategoryUpdate),
        "flows" => known(raw).map(ChangeValue::Flows),
        "security" => known(raw).map(ChangeValue::Security),
        "partner_solutions" => known(raw).map(ChangeValue::PartnerSolutions),
        "payment_configuration_update" => known(raw).map(ChangeValue::PaymentConfigurationUpdate),
        _ => Ok(ChangeValue::Other(raw.to_owned())),
    };
    Change {
        field,
        value: typed.unwrap_or_else(ChangeValue::Invalid),
    }
}

/// Items of a list that may be absent or `null`; `Err` when it is something else.
fn items(raw: Option<&RawValue>) -> Result<Vec<&RawValue>, serde_json::Error> {
    match raw {
        None => Ok(Vec::new()),
        Some(r) if r.get() == "null" => Ok(Vec::new()),
        Some(r) => super::quiet::from_str(r.get()),
    }
}

/// Reads each item of a list leniently, dropping (and logging) the unusable ones.
fn lenient_items<T: DeserializeOwned>(raw: Option<&RawValue>, what: &str) -> Vec<T> {
    items(raw)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| match lenient::parse::<T>(r.get()) {
            Ok((t, _)) => Some(t),
            Err(e) => {
                tracing::warn!(item = what, problem = %crate::serde_util::describe_serde_error(&e), "a webhook item was dropped");
                None
            }
        })
        .collect()
}

fn metadata(raw: Option<&RawValue>) -> Metadata {
    raw.and_then(|r| lenient::parse::<Metadata>(r.get()).ok())
        .map(|(m, _)| m)
        .unwrap_or_default()
}

/// A list member's items: `Err` when it is there and not a list (nor null).
fn member_items<'a>(value: &WireValue<'a>, key: &str) -> Result<Vec<&'a RawValue>, InvalidItem> {
    match value.member(key) {
        None => Ok(Vec::new()),
        Some(Member::Items(items)) => Ok(items.clone()),
        // A list is split while reading; what is left is `null` or not a list.
        Some(Member::Raw(text)) => match items(Some(text.get())) {
            Ok(_) => Ok(Vec::new()),
            Err(e) => Err(InvalidItem::new(&value.raw(), &e)),
        },
    }
}

fn parse_messages_value(value: &WireValue<'_>) -> Result<Box<MessagesValue>, InvalidItem> {
    if let WireValue::Other(raw) = value {
        let e = super::quiet::from_str::<WireParts<'_>>(raw.get())
            .err()
            .unwrap_or_else(|| missing("messages"));
        return Err(InvalidItem::new(raw, &e));
    }
    let raw = |key: &str| value.raw_member(key);
    let messages = member_items(value, "messages")?;
    let statuses = member_items(value, "statuses")?;
    let contacts: Vec<WebhookContact> = match raw("contacts") {
        None => Vec::new(),
        Some(text) => match super::quiet::from_str::<Option<Vec<WebhookContact>>>(text.get().get())
        {
            Ok(contacts) => contacts.unwrap_or_default(),
            Err(_) => lenient_items(Some(text.get()), "contact"),
        },
    };
    let statuses = statuses_of(statuses, &contacts);
    Ok(Box::new(MessagesValue {
        messaging_product: raw("messaging_product").and_then(|t| {
            super::quiet::from_str::<Option<String>>(t.get().get())
                .ok()
                .flatten()
        }),
        metadata: metadata(raw("metadata").as_ref().map(super::parts::Text::get)),
        messages: messages.into_iter().map(parse_message).collect(),
        statuses,
        errors: lenient_items(raw("errors").as_ref().map(super::parts::Text::get), "error"),
        contacts,
    }))
}

/// The statuses of a `messages` value, completed from its contacts.
fn statuses_of(
    raw: Vec<&RawValue>,
    contacts: &[WebhookContact],
) -> Vec<Result<Status, InvalidItem>> {
    let mut statuses: Vec<Result<Status, InvalidItem>> =
        raw.into_iter().map(parse_status).collect();
    for s in statuses.iter_mut().flatten() {
        complete_recipient(s, contacts);
    }
    statuses
}

/// A status takes what it lacks (`recipient_id`, `recipient_user_id`,
/// `parent_recipient_user_id`) from its contact in `contacts[]`: the one with
/// its user id, else the one with its number, else the only contact of the
/// change. A status to a customer known only by user id gets the user id
/// this way too.
fn complete_recipient(s: &mut Status, contacts: &[WebhookContact]) {
    if s.recipient_id.is_some()
        && s.recipient_user_id.is_some()
        && s.parent_recipient_user_id.is_some()
    {
        return;
    }
    let by_user = s
        .recipient_user_id
        .as_deref()
        .and_then(|u| contacts.iter().find(|c| c.user_id.as_deref() == Some(u)));
    let by_number = || {
        s.recipient_id
            .as_deref()
            .and_then(|n| contacts.iter().find(|c| c.wa_id.as_deref() == Some(n)))
    };
    // The only contact stands in for a status that names nobody (never for
    // one that names someone else, such as a group).
    let only = || {
        (s.recipient_id.is_none() && contacts.len() == 1)
            .then(|| contacts.first())
            .flatten()
    };
    if let Some(c) = by_user.or_else(by_number).or_else(only) {
        if s.recipient_id.is_none() {
            s.recipient_id = c.wa_id.clone();
        }
        if s.recipient_user_id.is_none() {
            s.recipient_user_id = c.user_id.clone();
        }
        if s.parent_recipient_user_id.is_none() {
            s.parent_recipient_user_id = c.parent_user_id.clone();
        }
    }
}

/// The content of a message of type `kind`.
fn content(
    kind: &str,
    w: WireMessage,
    raw: &RawValue,
    diags: &mut Vec<Diagnostic>,
) -> MessageContent {
    let mut absent = |what: &str| {
        diags.push(Diagnostic {
            path: what.to_owned(),
            problem: format!("missing (the `{what}` object of a `{what}` message)"),
        });
    };
    match kind {
        "text" => match w.text.and_then(|t| t.body) {
            Some(body) => MessageContent::Text { body },
            None => {
                absent("text");
                MessageContent::Unknown {
                    raw: raw.to_owned(),
                }
            }
        },
        "image" => MessageContent::Image(unbox(w.image)),
        "audio" => MessageContent::Audio(unbox(w.audio)),
        "video" => MessageContent::Video(unbox(w.video)),
        "document" => MessageContent::Document(unbox(w.document)),
        "sticker" => MessageContent::Sticker(unbox(w.sticker)),
        "location" => MessageContent::Location(unbox(w.location)),
        "contacts" => MessageContent::Contacts(w.contacts.unwrap_or_default()),
        "interactive" => match w.interactive {
            Some(v) => MessageContent::Interactive(parse_interactive(v)),
            // No reply object, only the message's `errors` (Meta could not
            // read the reply): typed as content WhatsApp could not deliver,
            // with its errors, never dropped.
            None => MessageContent::Unsupported {
                kind: Some("interactive".into()),
            },
        },
        "button" => {
            let b = w.button;
            MessageContent::Button {
                payload: b.as_ref().and_then(|b| b.payload.clone()),
                text: b.and_then(|b| b.text),
            }
        }
        "reaction" => {
            let r = w.reaction;
            MessageContent::Reaction {
                message_id: r.as_ref().and_then(|r| r.message_id.clone()),
                emoji: r.and_then(|r| r.emoji).filter(|e| !e.is_empty()),
            }
        }
        "order" => MessageContent::Order(unbox(w.order)),
        "system" => MessageContent::System(unbox(w.system)),
        "request_welcome" => MessageContent::RequestWelcome,
        "edit" => {
            let edit = w.edit;
            let original_message_id = edit.as_ref().and_then(|e| e.original_message_id.clone());
            let content = edit.and_then(|e| e.message).map(|inner| {
                let inner_kind = inner.kind.clone().unwrap_or_default();
                let mut inner_diags = Vec::new();
                let c = content(&inner_kind, *inner, raw, &mut inner_diags);
                diags.extend(inner_diags.into_iter().map(|d| Diagnostic {
                    path: format!("edit.message.{}", d.path),
                    problem: d.problem,
                }));
                Box::new(c)
            });
            MessageContent::Edit {
                original_message_id,
                content,
            }
        }
        "revoke" => MessageContent::Revoke {
            original_message_id: w.revoke.and_then(|r| r.original_message_id),
        },
        "unsupported" | "unknown" => MessageContent::Unsupported {
            kind: w.unsupported.and_then(|u| u.kind),
        },
        _ => MessageContent::Unknown {
            raw: raw.to_owned(),
        },
    }
}

fn read_message(raw: &RawValue) -> Result<(WireMessage, Vec<Diagnostic>, String), InvalidItem> {
    let (w, diags) =
        lenient::parse::<WireMessage>(raw.get()).map_err(|e| InvalidItem::new(raw, &e))?;
    let id =
        w.id.clone()
            .filter(|i| !i.is_empty())
            .ok_or_else(|| InvalidItem::new(raw, &missing("id")))?;
    Ok((w, diags, id))
}

pub(crate) fn parse_message(raw: &RawValue) -> Result<InboundMessage, InvalidItem> {
    let (mut w, mut diagnostics, id) = read_message(raw)?;
    let kind = w.kind.take().unwrap_or_default();
    let from = Sender {
        wa_id: w.from.take(),
        user_id: w.from_user_id.take(),
        parent_user_id: w.from_parent_user_id.take(),
    };
    let (timestamp, context, referral) = (
        w.timestamp,
        w.context.take().map(|c| *c),
        w.referral.take().map(|r| *r),
    );
    let errors = std::mem::take(&mut w.errors);
    let content = content(&kind, w, raw, &mut diagnostics);
    Ok(InboundMessage {
        id,
        from,
        timestamp,
        kind,
        content,
        context,
        referral,
        errors,
        diagnostics,
        raw: raw.to_owned(),
    })
}

fn parse_echo(raw: &RawValue) -> Result<EchoMessage, InvalidItem> {
    let (mut w, mut diagnostics, id) = read_message(raw)?;
    let kind = w.kind.take().unwrap_or_default();
    let (from, to, timestamp) = (w.from.take(), w.to.take(), w.timestamp);
    let content = content(&kind, w, raw, &mut diagnostics);
    Ok(EchoMessage {
        id,
        from,
        to,
        timestamp,
        kind,
        content,
        diagnostics,
        raw: raw.to_owned(),
    })
}

fn parse_interactive(v: Value) -> InteractiveReply {
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let obj = v.get(&kind);
    let text = |k: &str| {
        obj.and_then(|o| o.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let reply = match kind.as_str() {
        "button_reply" => text("id").map(|id| InteractiveReply::ButtonReply {
            id,
            title: text("title").unwrap_or_default(),
        }),
        "list_reply" => text("id").map(|id| InteractiveReply::ListReply {
            id,
            title: text("title").unwrap_or_default(),
            description: text("description"),
        }),
        "nfm_reply" => obj.map(|_| {
            let response_json = text("response_json");
            InteractiveReply::FlowReply {
                name: text("name"),
                body: text("body"),
                response: response_json
                    .as_deref()
                    .and_then(|j| serde_json::from_str(j).ok()),
                response_json,
            }
        }),
        "call_permission_reply" => obj.map(|o| InteractiveReply::CallPermissionReply {
            response: text("response"),
            is_permanent: o.get("is_permanent").and_then(Value::as_bool),
            expiration_timestamp: o.get("expiration_timestamp").and_then(|t| {
                t.as_i64()
                    .or_else(|| t.as_str().and_then(|s| s.trim().parse().ok()))
            }),
            response_source: text("response_source"),
        }),
        _ => None,
    };
    reply.unwrap_or(InteractiveReply::Unknown { kind, raw: v })
}

pub(crate) fn parse_status(raw: &RawValue) -> Result<Status, InvalidItem> {
    let (w, mut diagnostics) =
        lenient::parse::<WireStatus>(raw.get()).map_err(|e| InvalidItem::new(raw, &e))?;
    let id =
        w.id.filter(|i| !i.is_empty())
            .ok_or_else(|| InvalidItem::new(raw, &missing("id")))?;
    let status = match w.status {
        Some(s) => StatusKind::parse(&s),
        None => {
            diagnostics.push(Diagnostic {
                path: "status".into(),
                problem: "missing".into(),
            });
            StatusKind::Other(String::new())
        }
    };
    Ok(Status {
        id,
        status,
        timestamp: w.timestamp,
        recipient_id: w.recipient_id,
        recipient_user_id: w.recipient_user_id,
        parent_recipient_user_id: w.parent_recipient_user_id,
        recipient_type: w.recipient_type,
        conversation: w.conversation,
        pricing: w.pricing,
        biz_opaque_callback_data: w.biz_opaque_callback_data,
        errors: w.errors,
        diagnostics,
        raw: raw.to_owned(),
    })
}

fn parse_echoes(raw: &RawValue) -> Result<Box<EchoesValue>, InvalidItem> {
    let parts: WireParts<'_> =
        super::quiet::from_str(raw.get()).map_err(|e| InvalidItem::new(raw, &e))?;
    let echoes = items(parts.message_echoes).map_err(|e| InvalidItem::new(raw, &e))?;
    Ok(Box::new(EchoesValue {
        metadata: metadata(parts.metadata),
        echoes: echoes.into_iter().map(parse_echo).collect(),
    }))
}

#[derive(Deserialize)]
struct WireChunk<'a> {
    #[serde(default)]
    metadata: Option<WireChunkMeta>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    threads: Vec<WireThread<'a>>,
}

#[derive(Deserialize)]
struct WireChunkMeta {
    #[serde(default, deserialize_with = "lenient_i64")]
    phase: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    chunk_order: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    progress: Option<i64>,
}

#[derive(Deserialize)]
struct WireThread<'a> {
    #[serde(default, deserialize_with = "lenient_string")]
    id: Option<String>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    messages: Vec<&'a RawValue>,
}

fn parse_history(raw: &RawValue) -> Result<Box<HistoryValue>, InvalidItem> {
    let parts: WireParts<'_> =
        super::quiet::from_str(raw.get()).map_err(|e| InvalidItem::new(raw, &e))?;
    let chunks: Vec<WireChunk<'_>> = match parts.history {
        Some(h) if h.get() != "null" => {
            super::quiet::from_str(h.get()).map_err(|e| InvalidItem::new(raw, &e))?
        }
        _ => Vec::new(),
    };
    Ok(Box::new(HistoryValue {
        metadata: metadata(parts.metadata),
        chunks: chunks
            .into_iter()
            .map(|c| {
                let meta = c.metadata;
                HistoryChunk {
                    phase: meta.as_ref().and_then(|m| m.phase),
                    chunk_order: meta.as_ref().and_then(|m| m.chunk_order),
                    progress: meta.as_ref().and_then(|m| m.progress),
                    threads: c
                        .threads
                        .into_iter()
                        .map(|t| HistoryThread {
                            id: t.id,
                            messages: t.messages.into_iter().map(parse_message).collect(),
                        })
                        .collect(),
                }
            })
            .collect(),
        errors: lenient_items(parts.errors, "error"),
        raw: raw.to_owned(),
    }))
}
