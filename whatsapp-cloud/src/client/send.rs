//! Sending: [`Client::send`] returns a [`SendRequest`], awaited directly or
//! adjusted first; the template-definition cache behind the pre-send check.

use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::Instrument;

use super::Client;
use crate::error::{Error, TemplateMismatch};
use crate::messages::{Content, Message, SendResponse, Template};
use crate::redact;
use crate::templates::TemplateInfo;

/// A send in preparation: await it to send. Made by [`Client::send`].
///
/// ```no_run
/// # async fn demo(client: whatsapp_cloud::Client) -> Result<(), whatsapp_cloud::Error> {
/// use whatsapp_cloud::messages::{Message, Template};
///
/// let reminder = Message::new("14155550123", Template::new("legacy_notice", "en_US"));
/// // This template was created outside the business account the check reads.
/// client.send(reminder).skip_template_check().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a send does nothing until it is awaited"]
pub struct SendRequest {
    client: Client,
    message: Message,
    check_template: bool,
}

impl SendRequest {
    /// Sends without checking a template against its definition, even when
    /// [`ClientBuilder::template_check`](super::ClientBuilder::template_check) is on.
    pub fn skip_template_check(mut self) -> Self {
        self.check_template = false;
        self
    }

    async fn run(self) -> Result<SendResponse, Error> {
        let result = self.send().await;
        crate::metrics::send_finished(&result);
        result
    }

    async fn send(self) -> Result<SendResponse, Error> {
        let SendRequest {
            client,
            message,
            check_template,
        } = self;
        message.validate()?;
        if check_template && let Content::Template { template } = message.content() {
            client.check_template(template).await?;
        }
        let span = tracing::info_span!(
            "whatsapp.send",
            kind = message.kind(),
            to = %redact::phone(message.recipient().as_str()),
            message_id = tracing::field::Empty,
        );
        async {
            if let Some(pacer) = &client.number.pacer {
                pacer.acquire(message.recipient().as_str()).await;
            }
            let url = client.url(&[&client.number.phone_number_id, "messages"])?;
            let response: SendResponse = client
                .execute("send", false, |http| http.post(url.clone()).json(&message))
                .await?;
            if let Some(id) = response.message_id() {
                tracing::Span::current().record(
                    "message_id",
                    tracing::field::display(redact::message_id(id)),
                );
            }
            tracing::info!("message sent");
            Ok(response)
        }
        .instrument(span)
        .await
    }
}

impl IntoFuture for SendRequest {
    type Output = Result<SendResponse, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

impl Client {
    /// Sends a message, after checking it against the documented limits (and,
    /// with [`template_check`](super::ClientBuilder::template_check), a
    /// template against its approved definition). Await the answer, or adjust
    /// the send first ([`SendRequest::skip_template_check`]).
    ///
    /// Retries follow the policy in the [`retry`](crate::retry) module: only
    /// when the answer proves the message was not accepted.
    pub fn send(&self, message: Message) -> SendRequest {
        SendRequest {
            client: self.clone(),
            message,
            check_template: true,
        }
    }

    async fn check_template(&self, template: &Template) -> Result<(), Error> {
        let Some(cache) = &self.inner.templates else {
            return Ok(());
        };
        let (name, language) = (template.name(), template.language());
        let definition = match cache.fresh(name, language, Instant::now()) {
            Some(found) => found,
            None => {
                // One fetch at a time: concurrent sends of a cold template wait
                // for it instead of listing the templates once each.
                let _guard = cache.fetching.lock().await;
                match cache.fresh(name, language, Instant::now()) {
                    Some(found) => found,
                    None => {
                        let listed = self.templates().get_by_name(name).await?;
                        cache.store(name, listed, Instant::now());
                        cache.fresh(name, language, Instant::now()).ok_or_else(|| {
                            TemplateMismatch {
                                name: name.to_owned(),
                                language: language.to_owned(),
                                component: "template".into(),
                                problem: "no template with this name and language in the business account (the API would answer 132001)".into(),
                            }
                        })?
                    }
                }
            }
        };
        template.check_against(&definition)?;
        Ok(())
    }

    pub(crate) fn template_cache(&self) -> Option<&TemplateDefinitions> {
        self.inner.templates.as_ref()
    }
}

/// Every language of one template name, and when it was fetched.
type Fetched = (Instant, Vec<Arc<TemplateInfo>>);

/// Template definitions by (name, language), each kept for a TTL.
pub(crate) struct TemplateDefinitions {
    ttl: Duration,
    entries: Mutex<HashMap<String, Fetched>>,
    fetching: tokio::sync::Mutex<()>,
}

impl TemplateDefinitions {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The definition of `name` in `language`, when fetched less than the TTL
    /// before `now`.
    fn fresh(&self, name: &str, language: &str, now: Instant) -> Option<Arc<TemplateInfo>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (at, infos) = entries.get(name)?;
        if now.saturating_duration_since(*at) >= self.ttl {
            return None;
        }
        infos
            .iter()
            .find(|t| t.language.as_deref() == Some(language))
            .cloned()
    }

    /// Stores every language of `name` as fetched at `now`.
    fn store(&self, name: &str, listed: Vec<TemplateInfo>, now: Instant) {
        let infos = listed.into_iter().map(Arc::new).collect();
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), (now, infos));
    }

    /// Forgets `name` (every language), or everything.
    pub(crate) fn invalidate(&self, name: Option<&str>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match name {
            Some(name) => {
                entries.remove(name);
            }
            None => entries.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, language: &str) -> TemplateInfo {
        serde_json::from_value(serde_json::json!({
            "name": name, "language": language, "status": "APPROVED", "components": []
        }))
        .unwrap()
    }

    #[test]
    fn definitions_expire_after_the_ttl_and_can_be_forgotten() {
        let cache = TemplateDefinitions::new(Duration::from_secs(60));
        let t0 = Instant::now();
        cache.store(
            "order_update",
            vec![info("order_update", "en_US"), info("order_update", "es_MX")],
            t0,
        );
        assert!(
            cache
                .fresh("order_update", "es_MX", t0 + Duration::from_secs(59))
                .is_some()
        );
        assert!(cache.fresh("order_update", "fr_FR", t0).is_none());
        assert!(
            cache
                .fresh("order_update", "en_US", t0 + Duration::from_secs(60))
                .is_none()
        );
        cache.invalidate(Some("order_update"));
        assert!(cache.fresh("order_update", "en_US", t0).is_none());
        cache.store("a", vec![info("a", "en_US")], t0);
        cache.invalidate(None);
        assert!(cache.fresh("a", "en_US", t0).is_none());
    }
}
