//! Builders of realistic webhook payloads, in Meta's wire form (compact JSON,
//! non-ASCII escaped as `\uXXXX`, `/` escaped as `\/`).

use serde_json::{Value, json};

/// The phone number id the payloads name (the mock's).
pub const PHONE_NUMBER_ID: &str = super::MOCK_PHONE_NUMBER_ID;

/// Wraps `messages` values into a whole notification body.
pub fn envelope(values: Vec<Value>) -> String {
    let changes: Vec<Value> = values
        .into_iter()
        .map(|value| json!({ "value": value, "field": "messages" }))
        .collect();
    to_wire(&json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": super::MOCK_BUSINESS_ACCOUNT_ID, "changes": changes }],
    }))
}

/// A `messages` value with contacts and messages.
pub fn messages_value(contacts: &[Value], messages: &[Value]) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550001111", "phone_number_id": PHONE_NUMBER_ID },
        "contacts": contacts,
        "messages": messages,
    })
}

/// A contact entry.
pub fn contact(wa_id: &str, name: &str) -> Value {
    json!({ "profile": { "name": name }, "wa_id": wa_id })
}

/// Now, as a webhook timestamp (unix seconds, as a string).
pub fn now() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .to_string()
}

/// A text message object, sent now.
pub fn text(from: &str, id: &str, body: &str) -> Value {
    json!({ "from": from, "id": id, "timestamp": now(), "type": "text", "text": { "body": body } })
}

/// A whole notification with one text message.
pub fn text_message(from: &str, name: &str, id: &str, body: &str) -> String {
    envelope(vec![messages_value(
        &[contact(from, name)],
        &[text(from, id, body)],
    )])
}

/// A whole notification with one button reply (to an interactive message).
pub fn button_reply(from: &str, name: &str, id: &str, button_id: &str, title: &str) -> String {
    let message = json!({
        "from": from, "id": id, "timestamp": now(), "type": "interactive",
        "interactive": { "type": "button_reply", "button_reply": { "id": button_id, "title": title } }
    });
    envelope(vec![messages_value(&[contact(from, name)], &[message])])
}

/// A whole notification with one status.
pub fn status(message_id: &str, status: &str, recipient: &str) -> String {
    let mut s = json!({
        "id": message_id, "status": status, "timestamp": now(), "recipient_id": recipient,
    });
    if status == "failed" {
        s["errors"] = json!([{ "code": 131026, "title": "Message undeliverable", "message": "Message undeliverable", "error_data": { "details": "Message Undeliverable." } }]);
    } else {
        s["pricing"] = json!({ "billable": true, "pricing_model": "PMP", "category": "service", "type": "free_customer_service" });
    }
    envelope(vec![json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550001111", "phone_number_id": PHONE_NUMBER_ID },
        "statuses": [s],
    })])
}

/// A status webhook of a message sent with tracking data: WhatsApp echoes
/// it as `biz_opaque_callback_data`.
pub fn tracked_status(message_id: &str, status: &str, recipient: &str, tracking: &str) -> String {
    let mut payload: Value =
        serde_json::from_str(&self::status(message_id, status, recipient)).unwrap_or(Value::Null);
    if let Some(s) = payload.pointer_mut("/entry/0/changes/0/value/statuses/0") {
        s["biz_opaque_callback_data"] = json!(tracking);
    }
    to_wire(&payload)
}

/// Serializes like Meta's wire form: compact, non-ASCII as `\uXXXX`
/// (surrogate pairs for emoji), `/` as `\/`.
pub fn to_wire(value: &Value) -> String {
    let compact = value.to_string();
    let mut out = String::with_capacity(compact.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    for c in compact.chars() {
        if in_string {
            if escaped {
                escaped = false;
                out.push(c);
                continue;
            }
            match c {
                '\\' => {
                    escaped = true;
                    out.push(c);
                }
                '"' => {
                    in_string = false;
                    out.push(c);
                }
                '/' => out.push_str("\\/"),
                c if !c.is_ascii() => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
                c => out.push(c),
            }
        } else {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
        }
    }
    out
}
