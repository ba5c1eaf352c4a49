//! Sending: a [`ChannelSender`] trait for outbound messages (implemented for the
//! WhatsApp client), and a [`FallbackSender`] that tries a second channel (e.g.
//! SMS) when WhatsApp reports the customer unreachable.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::inbound::Channel;

/// An outbound message: the text (always: logs, SMS, fallbacks) and optional
/// rich WhatsApp content (template, buttons...).
///
/// It serializes (for the outbox) with the WhatsApp content in wire form; it
/// comes back as [`Content::Json`](whatsapp_cloud::messages::Content::Json),
/// which sends the same body.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Outbound {
    /// The plain text.
    pub text: String,
    /// Rich WhatsApp content; when absent, the text is sent.
    #[cfg(feature = "whatsapp")]
    #[serde(
        default,
        with = "wire_content",
        skip_serializing_if = "Option::is_none"
    )]
    pub whatsapp: Option<whatsapp_cloud::messages::Content>,
    /// The message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// Tracking data echoed on the message's statuses (WhatsApp's
    /// `biz_opaque_callback_data`): the outbox puts the message's ledger key
    /// here, so every status finds its ledger record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<String>,
    /// The business number to send from (WhatsApp's phone number id): a
    /// reply leaves from the number the customer wrote to. `None`: the
    /// sender's own number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// A file to send with the text as its caption (an agent's reply with a
    /// file): fetched and uploaded at send time by a sender that can reach
    /// it, such as [`AttachmentSender`](crate::attachments::AttachmentSender).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
}

/// A file kept elsewhere (a Salesforce `ContentVersion`) to send with a
/// message. Its name never appears in `Debug`: only its type and size.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Attachment {
    /// Where the bytes are: the `ContentVersion` id.
    pub content_version_id: String,
    /// The file name the customer sees (documents).
    pub file_name: String,
    /// Its MIME type (`application/pdf`, `image/png`).
    pub mime_type: String,
    /// Its size in bytes, as Salesforce reported it.
    pub size: u64,
}

impl Attachment {
    /// A file to attach.
    pub fn new(
        content_version_id: impl Into<String>,
        file_name: impl Into<String>,
        mime_type: impl Into<String>,
        size: u64,
    ) -> Self {
        Self {
            content_version_id: content_version_id.into(),
            file_name: file_name.into(),
            mime_type: mime_type.into(),
            size,
        }
    }
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("content_version_id", &self.content_version_id)
            .field("file_name", &"[redacted]")
            .field("mime_type", &self.mime_type)
            .field("size", &self.size)
            .finish()
    }
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Outbound");
        d.field(
            "text",
            &format_args!("[{} chars]", self.text.chars().count()),
        );
        #[cfg(feature = "whatsapp")]
        d.field("whatsapp", &self.whatsapp.as_ref().map(|c| c.kind()));
        d.field("reply_to", &self.reply_to)
            .field("from", &self.from)
            .field("attachment", &self.attachment)
            .finish()
    }
}

#[cfg(feature = "whatsapp")]
mod wire_content {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use whatsapp_cloud::messages::Content;

    #[allow(clippy::ref_option)] // serde's `with` passes `&Option<T>`
    pub(super) fn serialize<S: Serializer>(c: &Option<Content>, s: S) -> Result<S::Ok, S::Error> {
        c.as_ref().map(Content::to_json_map).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Content>, D::Error> {
        Ok(
            Option::<serde_json::Map<String, serde_json::Value>>::deserialize(d)?
                .map(Content::Json),
        )
    }
}

impl Outbound {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            #[cfg(feature = "whatsapp")]
            whatsapp: None,
            reply_to: None,
            tracking: None,
            from: None,
            attachment: None,
        }
    }

    /// Rich WhatsApp content, with the text as the fallback for other channels.
    #[cfg(feature = "whatsapp")]
    pub fn whatsapp(
        content: impl Into<whatsapp_cloud::messages::Content>,
        fallback_text: impl Into<String>,
    ) -> Self {
        Self {
            text: fallback_text.into(),
            whatsapp: Some(content.into()),
            reply_to: None,
            tracking: None,
            from: None,
            attachment: None,
        }
    }

    /// Quotes an earlier message.
    pub fn reply_to(mut self, message_id: impl Into<String>) -> Self {
        self.reply_to = Some(message_id.into());
        self
    }

    /// Sets the tracking data echoed on the message's statuses.
    pub fn tracking(mut self, data: impl Into<String>) -> Self {
        self.tracking = Some(data.into());
        self
    }

    /// Sends from this business number (a phone number id of the account).
    pub fn from_number(mut self, phone_number_id: impl Into<String>) -> Self {
        self.from = Some(phone_number_id.into());
        self
    }

    /// Sends `file` with the text as its caption.
    pub fn attach(mut self, file: Attachment) -> Self {
        self.attachment = Some(file);
        self
    }

    /// Sends from this business number when there is one.
    pub fn from_number_opt(mut self, phone_number_id: Option<String>) -> Self {
        self.from = phone_number_id;
        self
    }

    /// The template's name, for a template send.
    pub fn template_name(&self) -> Option<String> {
        #[cfg(feature = "whatsapp")]
        {
            let json = self.whatsapp.as_ref()?.to_json_map();
            if json.get("type").and_then(serde_json::Value::as_str) == Some("template") {
                return json
                    .get("template")?
                    .get("name")?
                    .as_str()
                    .map(str::to_owned);
            }
        }
        None
    }
}

/// What a send gave back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SendReceipt {
    /// The channel that delivered.
    pub channel: Channel,
    /// The channel's message id.
    pub message_id: Option<String>,
}

impl SendReceipt {
    /// A receipt (for `ChannelSender` implementations outside this crate).
    pub fn new(channel: impl Into<Channel>, message_id: Option<String>) -> Self {
        Self {
            channel: channel.into(),
            message_id,
        }
    }
}

pub use crate::error::SendError;

/// Sends messages to customers on one channel.
#[async_trait]
pub trait ChannelSender: Send + Sync {
    /// The channel.
    fn channel(&self) -> Channel;
    /// Sends a message to a customer address (phone, wa_id or user id).
    async fn send(&self, to: &str, message: &Outbound) -> Result<SendReceipt, SendError>;
}

#[cfg(feature = "whatsapp")]
#[async_trait]
impl ChannelSender for whatsapp_cloud::Client {
    fn channel(&self) -> Channel {
        Channel::WhatsApp
    }

    async fn send(&self, to: &str, message: &Outbound) -> Result<SendReceipt, SendError> {
        use whatsapp_cloud::messages::{Message, Text};
        if message.attachment.is_some() {
            // Sending the caption alone would drop the file unseen.
            return Err(SendError::new(
                "WhatsApp",
                "the message carries an attachment this sender cannot fetch: send through bridge_core::attachments::AttachmentSender",
            ));
        }
        let content = message
            .whatsapp
            .clone()
            .unwrap_or_else(|| Text::new(message.text.clone()).into());
        let mut m = Message::new(to, content);
        let client = client_for(self, message);
        if let Some(r) = &message.reply_to {
            m = m.reply_to(r.clone());
        }
        if let Some(t) = &message.tracking {
            m = m.callback_data(t.clone());
        }
        match whatsapp_cloud::Client::send(&client, m).await {
            Ok(r) => Ok(SendReceipt {
                channel: Channel::WhatsApp,
                message_id: r.message_id().map(str::to_owned),
            }),
            Err(e) => Err(send_error(&e, "")),
        }
    }
}

/// The client that sends from the number `message` names (the same client
/// for another phone number id), or `client` itself.
#[cfg(feature = "whatsapp")]
pub(crate) fn client_for(
    client: &whatsapp_cloud::Client,
    message: &Outbound,
) -> whatsapp_cloud::Client {
    match &message.from {
        Some(from) if from != client.phone_number_id() => client.for_number(from),
        _ => client.clone(),
    }
}

/// A WhatsApp error as a [`SendError`] (`context` before its text): who can
/// be reached, what can be retried and when, whether it may have gone.
#[cfg(feature = "whatsapp")]
pub(crate) fn send_error(e: &whatsapp_cloud::Error, context: &str) -> SendError {
    let mut err = SendError::new("WhatsApp", format!("{context}{e}"))
        .unreachable(matches!(
            e.class(),
            Some(whatsapp_cloud::ErrorClass::RecipientUnavailable)
        ))
        .retryable(e.is_retryable())
        .auth(e.is_auth())
        .ambiguous(matches!(
            e,
            whatsapp_cloud::Error::Transport { kind, .. }
                if *kind != whatsapp_cloud::error::TransportKind::Connect
        ));
    if matches!(e.class(), Some(whatsapp_cloud::ErrorClass::RateLimited(_))) {
        err = err.rate_limited(e.retry_after());
    } else {
        err.retry_after = e.retry_after();
    }
    err
}

/// Whether a WhatsApp status says the customer could not be reached (a failed
/// status with an undeliverable / not-on-WhatsApp / opted-out error): the cue to
/// resend on another channel.
#[cfg(feature = "whatsapp")]
pub fn status_means_unreachable(status: &whatsapp_cloud::webhooks::Status) -> bool {
    status.status == whatsapp_cloud::webhooks::StatusKind::Failed
        && status
            .errors
            .iter()
            .any(|e| e.error_code().class() == whatsapp_cloud::ErrorClass::RecipientUnavailable)
}

/// Tries `primary`; when it reports the customer unreachable, sends the text on
/// `secondary`. WhatsApp often accepts a message and reports it failed seconds
/// later, by webhook: the sender remembers what it sent (the last 100,000
/// messages), and [`FallbackSender::on_failed_delivery`] resends one on the
/// secondary channel when its failure means the customer is unreachable.
#[derive(Debug)]
pub struct FallbackSender<P, S> {
    primary: P,
    secondary: S,
    sent: Mutex<SentMemory>,
}

#[derive(Debug, Default)]
struct SentMemory {
    order: std::collections::VecDeque<String>,
    by_id: std::collections::HashMap<String, (String, String)>,
}

const SENT_MEMORY: usize = 100_000;

impl<P: ChannelSender, S: ChannelSender> FallbackSender<P, S> {
    /// A sender with a fallback.
    pub fn new(primary: P, secondary: S) -> Self {
        Self {
            primary,
            secondary,
            sent: Mutex::default(),
        }
    }

    /// The fallback sender.
    pub fn secondary(&self) -> &S {
        &self.secondary
    }

    fn remember(&self, message_id: &str, to: &str, text: &str) {
        if let Ok(mut m) = self.sent.lock() {
            if m.by_id
                .insert(message_id.to_owned(), (to.to_owned(), text.to_owned()))
                .is_none()
            {
                m.order.push_back(message_id.to_owned());
            }
            while m.order.len() > SENT_MEMORY {
                if let Some(old) = m.order.pop_front() {
                    m.by_id.remove(&old);
                }
            }
        }
    }

    /// Resends a message on the secondary channel after an asynchronous
    /// failure: call it with the id of a message this sender sent on the primary
    /// channel and whether its failure means "unreachable" (see
    /// `status_means_unreachable`). `None` when the message is unknown or the
    /// failure is of another kind.
    pub async fn on_failed_delivery(
        &self,
        message_id: &str,
        unreachable: bool,
    ) -> Option<Result<SendReceipt, SendError>> {
        if !unreachable {
            return None;
        }
        let (to, text) = self.sent.lock().ok()?.by_id.remove(message_id)?;
        tracing::info!(
            to_channel = %self.secondary.channel(),
            "delivery failed: customer unreachable; falling back"
        );
        Some(self.secondary.send(&to, &Outbound::text(text)).await)
    }
}

#[async_trait]
impl<P: ChannelSender, S: ChannelSender> ChannelSender for FallbackSender<P, S> {
    fn channel(&self) -> Channel {
        self.primary.channel()
    }

    async fn send(&self, to: &str, message: &Outbound) -> Result<SendReceipt, SendError> {
        match self.primary.send(to, message).await {
            Ok(receipt) => {
                if let Some(id) = &receipt.message_id {
                    self.remember(id, to, &message.text);
                }
                Ok(receipt)
            }
            Err(e) if e.unreachable => {
                tracing::info!(
                    from = %self.primary.channel(),
                    to_channel = %self.secondary.channel(),
                    "customer unreachable; falling back"
                );
                self.secondary
                    .send(to, &Outbound::text(message.text.clone()))
                    .await
            }
            Err(e) => Err(e),
        }
    }
}

/// A sender that records what it sends: a sandbox SMS gateway for examples and
/// a test double.
#[derive(Debug, Default)]
pub struct RecordingSender {
    channel: Channel,
    sent: Mutex<Vec<(String, String)>>,
    fail_unreachable: bool,
}

impl RecordingSender {
    /// A recorder for a channel name.
    pub fn new(channel: impl Into<Channel>) -> Self {
        Self {
            channel: channel.into(),
            ..Self::default()
        }
    }

    /// A recorder that answers every send with "unreachable".
    pub fn unreachable(channel: impl Into<Channel>) -> Self {
        Self {
            channel: channel.into(),
            fail_unreachable: true,
            ..Self::default()
        }
    }

    /// What was sent: `(to, text)`.
    pub fn sent(&self) -> Vec<(String, String)> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl ChannelSender for RecordingSender {
    fn channel(&self) -> Channel {
        self.channel.clone()
    }

    async fn send(&self, to: &str, message: &Outbound) -> Result<SendReceipt, SendError> {
        if self.fail_unreachable {
            return Err(SendError::new(self.channel.clone(), "unreachable").unreachable(true));
        }
        let mut sent = self
            .sent
            .lock()
            .map_err(|_| SendError::new(self.channel.clone(), "poisoned").retryable(true))?;
        sent.push((to.to_owned(), message.text.clone()));
        Ok(SendReceipt {
            channel: self.channel.clone(),
            message_id: Some(format!(
                "{}-{}",
                self.channel.name().to_ascii_lowercase(),
                sent.len()
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "whatsapp")]
    #[test]
    fn failed_statuses_that_mean_unreachable() {
        use whatsapp_cloud::testkit::payloads;
        use whatsapp_cloud::webhooks::{Event, parse_unverified};
        let n = parse_unverified(payloads::status("wamid.X", "failed", "14155550123").as_bytes())
            .unwrap();
        let Some(Event::Status(s)) = n.events().next() else {
            panic!()
        };
        assert!(status_means_unreachable(s.status), "131026 undeliverable");
        let n =
            parse_unverified(payloads::status("wamid.X", "delivered", "14155550123").as_bytes())
                .unwrap();
        let Some(Event::Status(s)) = n.events().next() else {
            panic!()
        };
        assert!(!status_means_unreachable(s.status));
    }

    #[tokio::test]
    async fn falls_back_only_when_unreachable() {
        let f = FallbackSender::new(
            RecordingSender::unreachable("WhatsApp"),
            RecordingSender::new("SMS"),
        );
        let r = f
            .send("14155550123", &Outbound::text("Your order shipped"))
            .await
            .unwrap();
        assert_eq!(r.channel, Channel::Sms);
        assert_eq!(
            f.secondary().sent(),
            vec![("14155550123".to_owned(), "Your order shipped".to_owned())]
        );
        let ok = FallbackSender::new(
            RecordingSender::new("WhatsApp"),
            RecordingSender::new("SMS"),
        );
        assert_eq!(
            ok.send("1", &Outbound::text("x")).await.unwrap().channel,
            Channel::WhatsApp
        );
        assert!(ok.secondary().sent().is_empty());
    }
}
