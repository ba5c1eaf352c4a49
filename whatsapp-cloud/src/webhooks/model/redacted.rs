//! `Debug` of the webhook model without customer data.

use std::fmt;

use super::{Contact, InboundMessage, MessageContent, Profile, Sender, Status};

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

impl fmt::Debug for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contact")
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
            MessageContent::Unsupported => "Unsupported",
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
            .finish()
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
            .field("conversation", &self.conversation)
            .field("pricing", &self.pricing)
            .field(
                "biz_opaque_callback_data",
                &hidden(self.biz_opaque_callback_data.as_ref()),
            )
            .field("errors", &self.errors)
            .finish()
    }
}
