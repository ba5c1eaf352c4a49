//! `Debug` of the webhook model without customer data.

use std::fmt;

use super::{
    Call, CallStatus, ContactAddress, ContactEmail, ContactName, ContactPhone, EchoMessage,
    InboundLocation, InboundMedia, InboundMessage, MessageContent, MessageContext, Order, Profile,
    Sender, SharedContact, Status, SyncedContact, SystemMessage, UserPreference, WebhookContact,
};

// Debug never prints a customer's number, name, user id or message text: the
// fields stay public (the raw values are one field access away), the output
// of `{:?}` in logs is safe.
fn id_hint(v: Option<&String>) -> Option<String> {
    v.map(|p| crate::redact::phone(p))
}

fn hidden<T>(v: Option<&T>) -> Option<&'static str> {
    v.map(|_| "[redacted]")
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("name", &hidden(self.name.as_ref()))
            .field("username", &hidden(self.username.as_ref()))
            .finish()
    }
}

impl fmt::Debug for WebhookContact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookContact")
            .field("profile", &self.profile)
            .field("wa_id", &id_hint(self.wa_id.as_ref()))
            .field("user_id", &hidden(self.user_id.as_ref()))
            .field("parent_user_id", &hidden(self.parent_user_id.as_ref()))
            .finish()
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("wa_id", &id_hint(self.wa_id.as_ref()))
            .field("user_id", &hidden(self.user_id.as_ref()))
            .field("parent_user_id", &hidden(self.parent_user_id.as_ref()))
            .finish()
    }
}

impl fmt::Debug for MessageContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The variant only: bodies, captions, places and replies are the customer's.
        let name = match self {
            MessageContent::Text { .. } => "Text",
            MessageContent::Image(_) => "Image",
            MessageContent::Audio(_) => "Audio",
            MessageContent::Video(_) => "Video",
            MessageContent::Document(_) => "Document",
            MessageContent::Sticker(_) => "Sticker",
            MessageContent::Location(_) => "Location",
            MessageContent::Contacts(_) => "Contacts",
            MessageContent::Interactive(_) => "Interactive",
            MessageContent::Button { .. } => "Button",
            MessageContent::Reaction { .. } => "Reaction",
            MessageContent::Order(_) => "Order",
            MessageContent::System(_) => "System",
            MessageContent::RequestWelcome => "RequestWelcome",
            MessageContent::Edit { .. } => "Edit",
            MessageContent::Revoke { .. } => "Revoke",
            MessageContent::Unsupported { kind } => {
                // The subtype names a feature (`poll`), not customer data.
                return f.debug_struct("Unsupported").field("kind", kind).finish();
            }
            MessageContent::Unknown { .. } => "Unknown",
        };
        f.debug_struct(name).finish_non_exhaustive()
    }
}

impl fmt::Debug for InboundMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundMessage")
            .field("id", &self.id)
            .field("from", &self.from)
            .field("timestamp", &self.timestamp)
            .field("kind", &self.kind)
            .field("content", &self.content)
            .field("context", &self.context.as_ref().map(|_| "[present]"))
            .field("referral", &self.referral.as_ref().map(|_| "[present]"))
            .field("errors", &self.errors)
            .field("diagnostics", &self.diagnostics)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Status")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("timestamp", &self.timestamp)
            .field("recipient_id", &id_hint(self.recipient_id.as_ref()))
            .field(
                "recipient_user_id",
                &hidden(self.recipient_user_id.as_ref()),
            )
            .field(
                "parent_recipient_user_id",
                &hidden(self.parent_recipient_user_id.as_ref()),
            )
            .field("recipient_type", &self.recipient_type)
            .field("conversation", &self.conversation)
            .field("pricing", &self.pricing)
            .field(
                "biz_opaque_callback_data",
                &hidden(self.biz_opaque_callback_data.as_ref()),
            )
            .field("errors", &self.errors)
            .field("diagnostics", &self.diagnostics)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("id", &self.id)
            .field("event", &self.event)
            .field("from", &id_hint(self.from.as_ref()))
            .field("to", &id_hint(self.to.as_ref()))
            .field("timestamp", &self.timestamp)
            .field("direction", &self.direction)
            .field("session", &self.session.as_ref().map(|_| "[present]"))
            .field("status", &self.status)
            .field("duration", &self.duration)
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for CallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallStatus")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("timestamp", &self.timestamp)
            .field("recipient_id", &id_hint(self.recipient_id.as_ref()))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for EchoMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EchoMessage")
            .field("id", &self.id)
            .field("from", &id_hint(self.from.as_ref()))
            .field("to", &id_hint(self.to.as_ref()))
            .field("timestamp", &self.timestamp)
            .field("kind", &self.kind)
            .field("content", &self.content)
            .field("diagnostics", &self.diagnostics)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SyncedContact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncedContact")
            .field("full_name", &hidden(self.full_name.as_ref()))
            .field("first_name", &hidden(self.first_name.as_ref()))
            .field("phone_number", &id_hint(self.phone_number.as_ref()))
            .finish()
    }
}

impl fmt::Debug for UserPreference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserPreference")
            .field("wa_id", &id_hint(self.wa_id.as_ref()))
            .field("user_id", &hidden(self.user_id.as_ref()))
            .field("category", &self.category)
            .field("value", &self.value)
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

// The customer's own content: shapes and counts only.

impl fmt::Debug for InboundMedia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundMedia")
            .field("id", &self.id)
            .field("mime_type", &self.mime_type)
            .field("caption", &hidden(self.caption.as_ref()))
            .field("filename", &hidden(self.filename.as_ref()))
            .field("voice", &self.voice)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for InboundLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundLocation")
            .field("coordinates", &self.latitude.map(|_| "[redacted]"))
            .field("name", &hidden(self.name.as_ref()))
            .field("address", &hidden(self.address.as_ref()))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SharedContact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedContact")
            .field("name", &self.name)
            .field("phones", &self.phones)
            .field("emails", &self.emails.len())
            .field("addresses", &self.addresses.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ContactName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContactName([redacted])")
    }
}

impl fmt::Debug for ContactPhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContactPhone")
            .field("phone", &id_hint(self.phone.as_ref()))
            .field("wa_id", &id_hint(self.wa_id.as_ref()))
            .field("kind", &self.kind)
            .finish()
    }
}

impl fmt::Debug for ContactEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContactEmail")
            .field("email", &hidden(self.email.as_ref()))
            .field("kind", &self.kind)
            .finish()
    }
}

impl fmt::Debug for ContactAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContactAddress")
            .field("country_code", &self.country_code)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SystemMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemMessage")
            .field("kind", &self.kind)
            .field("body", &hidden(self.body.as_ref()))
            .field("wa_id", &id_hint(self.wa_id.as_ref()))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for MessageContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageContext")
            .field("from", &id_hint(self.from.as_ref()))
            .field("id", &self.id)
            .field("forwarded", &self.forwarded)
            .field("referred_product", &self.referred_product)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Order")
            .field("catalog_id", &self.catalog_id)
            .field("text", &hidden(self.text.as_ref()))
            .field("product_items", &self.product_items)
            .finish()
    }
}
