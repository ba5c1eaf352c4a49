//! What the inbox does with the events that are not customer messages:
//! marketing preferences feed the opt-out registry, the business's own
//! messages from the WhatsApp Business app are audited and marked as ours,
//! and account and template events reach the operators.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::InboxHandler;
use crate::inbound::{Channel, CustomerMessage};
use crate::queue::JobError;

/// An account or template event for the operators: a ban, a restriction, a
/// violation, a paused or rejected template, a quality drop... Holds codes and
/// names (template names, event kinds), never customer data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BusinessNotice {
    /// The webhook field (`account_update`, `message_template_status_update`...).
    pub field: String,
    /// The event kind as sent (`ACCOUNT_RESTRICTION`, `PAUSED`, `DOWNGRADE`...).
    pub event: Option<String>,
    /// What it is about: a template name and language, a phone number id.
    pub subject: Option<String>,
    /// More: the violation type, the rejection reason, the new limit.
    pub detail: Option<String>,
    /// Whether messaging or sending is stopped or limited (someone should act).
    pub urgent: bool,
}

/// A callback for every [`BusinessNotice`] that reaches the inbox worker.
pub type NoticeCallback = Arc<dyn Fn(&BusinessNotice) + Send + Sync>;

#[cfg(feature = "whatsapp")]
impl BusinessNotice {
    /// The notice of a WhatsApp event, for the account and template fields;
    /// `None` for messages, statuses and the rest.
    pub fn from_event(event: &whatsapp_cloud::webhooks::Event<'_>) -> Option<Self> {
        use whatsapp_cloud::webhooks::{ChangeValue, Event};
        let template = |name: &Option<String>, language: &Option<String>| {
            name.as_ref().map(|n| match language {
                Some(l) => format!("{n} ({l})"),
                None => n.clone(),
            })
        };
        let (field, value) = match event {
            Event::TemplateStatus(t) => {
                let u = t.update;
                return Some(Self {
                    field: t.context.field.to_owned(),
                    event: u.event.clone(),
                    subject: template(&u.message_template_name, &u.message_template_language),
                    detail: u
                        .rejection_info
                        .as_ref()
                        .and_then(|r| r.reason.clone())
                        .or_else(|| u.reason.clone()),
                    urgent: u.blocks_sending(),
                });
            }
            Event::Update(u) => (u.context.field.to_owned(), u.value),
            _ => return None,
        };
        let notice = |event: &Option<String>, subject: Option<String>, detail, urgent| Self {
            field: field.clone(),
            event: event.clone(),
            subject,
            detail,
            urgent,
        };
        Some(match value {
            ChangeValue::AccountUpdate(a) => notice(
                &a.event,
                a.phone_number.clone(),
                a.violation_info
                    .as_ref()
                    .and_then(|v| v.violation_type.clone())
                    .or_else(|| {
                        a.restriction_info
                            .iter()
                            .filter_map(|r| r.restriction_type.clone())
                            .reduce(|a, b| format!("{a}, {b}"))
                    })
                    .or_else(|| a.ban_info.as_ref().and_then(|b| b.waba_ban_state.clone())),
                a.is_enforcement(),
            ),
            ChangeValue::AccountAlert(a) => {
                let info = a.alert_info.as_ref();
                notice(
                    &info.and_then(|i| i.alert_type.clone()),
                    a.entity_id.clone(),
                    info.and_then(|i| i.alert_severity.clone()),
                    info.and_then(|i| i.alert_severity.as_deref()) == Some("CRITICAL"),
                )
            }
            ChangeValue::PhoneNumberQualityUpdate(q) => notice(
                &q.event,
                q.display_phone_number.clone(),
                q.current_limit.clone(),
                matches!(q.event.as_deref(), Some("FLAGGED" | "DOWNGRADE")),
            ),
            ChangeValue::PhoneNumberNameUpdate(n) => notice(
                &n.decision,
                n.requested_verified_name.clone(),
                n.rejection_reason.clone(),
                n.decision.as_deref() == Some("REJECTED"),
            ),
            ChangeValue::TemplateQualityUpdate(q) => notice(
                &q.new_quality_score,
                template(&q.message_template_name, &q.message_template_language),
                q.previous_quality_score.clone(),
                q.new_quality_score.as_deref() == Some("RED"),
            ),
            ChangeValue::TemplateCategoryUpdate(c) => notice(
                &c.correct_category
                    .clone()
                    .or_else(|| c.new_category.clone()),
                template(&c.message_template_name, &c.message_template_language),
                c.previous_category.clone(),
                false,
            ),
            ChangeValue::Flows(f) => notice(
                &f.event,
                f.flow_id.clone(),
                f.new_status.clone().or_else(|| f.alert_state.clone()),
                f.alert_state.as_deref() == Some("ACTIVATED"),
            ),
            ChangeValue::Security(s) => {
                notice(&s.event, s.display_phone_number.clone(), None, true)
            }
            _ => return None,
        })
    }
}

impl InboxHandler {
    /// WhatsApp's marketing preference: recorded like STOP / START.
    pub(super) async fn preference(&self, customer: &str, opted_out: bool) -> Result<(), JobError> {
        let Some(registry) = &self.opt_outs else {
            return Ok(());
        };
        let now = self.clock.now();
        if opted_out {
            registry
                .opt_out(
                    customer,
                    "WhatsApp setting: stopped marketing messages",
                    now,
                )
                .await?;
        } else {
            registry.opt_in(customer, now).await?;
        }
        // The writer notes it on the customer's record, as for a keyword.
        let note = CustomerMessage::text(
            Channel::WhatsApp,
            format!("preference:{}", now.timestamp()),
            customer,
            "",
        );
        self.bridge
            .writer
            .record_opt_out(&note, opted_out)
            .await
            .map_err(JobError::from)?;
        tracing::info!(target: "bridge_core::audit", event = "marketing_preference", opted_out, "a customer changed their marketing preference in WhatsApp");
        Ok(())
    }

    /// A message the business sent from the WhatsApp Business app.
    pub(super) async fn echo(&self, message_id: &str, kind: &str) -> Result<(), JobError> {
        let b = &self.bridge;
        b.guard.note_sent(message_id);
        b.dedup
            .mark_done(&super::sent_key(message_id), b.options.remember_for)
            .await?;
        tracing::info!(target: "bridge_core::audit", event = "business_app_message", message_id = %crate::audit::redact_message_id(message_id), kind, "the business wrote from the WhatsApp Business app");
        Ok(())
    }

    /// An account or template notice: a warning when urgent, then the callback.
    pub(super) fn notice(&self, n: &BusinessNotice) {
        if n.urgent {
            tracing::warn!(field = %n.field, event = ?n.event, subject = ?n.subject, detail = ?n.detail, "WhatsApp account or template event needs attention");
        } else {
            tracing::info!(field = %n.field, event = ?n.event, subject = ?n.subject, "WhatsApp account or template event");
        }
        if let Some(cb) = &self.on_notice {
            cb(n);
        }
    }
}
