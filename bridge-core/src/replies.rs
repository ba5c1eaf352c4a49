//! Reply texts and the outbound templates of the usual jobs, with parameters
//! in US formats (currency as `amount_1000` with a `$1,499.99` fallback,
//! dates as `04/30/2025`, times as `2:30 PM EST`).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::format;

/// `Thanks! Your case number is 00001026.`
pub fn case_acknowledgement(case_number: &str) -> String {
    format!("Thanks! Your case number is {case_number}. We'll get back to you shortly.")
}

/// `Thanks! We added your message to case 00001026.` (a follow-up that
/// joined the customer's open Case).
pub fn case_followup(case_number: &str) -> String {
    format!("Thanks! We added your message to case {case_number}. We'll get back to you shortly.")
}

/// The text acknowledging a written message, if it gets one: the writer's
/// [`Acknowledgement`](crate::writer::Acknowledgement) when it decided one,
/// else (writers that do not decide) a Case with a number or a created Lead.
pub fn acknowledgement_text(
    action: &crate::mapping::Action,
    write: &crate::writer::WriteOutcome,
) -> Option<String> {
    use crate::mapping::Action;
    use crate::writer::Acknowledgement;
    let first_name = match action {
        Action::UpsertLead { lead, .. } => lead.first_name.as_deref(),
        _ => None,
    };
    match (&write.acknowledgement, action) {
        (Some(Acknowledgement::CaseOpened { number }), _) => Some(case_acknowledgement(number)),
        (Some(Acknowledgement::CaseJoined { number }), _) => Some(case_followup(number)),
        (Some(Acknowledgement::Welcome), _) => Some(lead_acknowledgement(first_name)),
        (None, Action::CreateCase { .. }) => write.case_number.as_deref().map(case_acknowledgement),
        (None, Action::UpsertLead { .. }) if write.created => {
            Some(lead_acknowledgement(first_name))
        }
        (None, _) => None,
    }
}

/// The reply to a sales enquiry.
pub fn lead_acknowledgement(first_name: Option<&str>) -> String {
    match first_name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => format!("Thanks, {n}! A member of our team will contact you shortly."),
        None => {
            "Thanks for reaching out! A member of our team will contact you shortly.".to_owned()
        }
    }
}

/// `Your payment of $1,499.99 is due on 04/30/2025.` (the text form, for dry
/// runs and non-WhatsApp channels).
pub fn payment_reminder_text(amount_cents: i64, due: NaiveDate) -> String {
    format!(
        "Your payment of {} is due on {}.",
        format::money(amount_cents),
        format::date(due)
    )
}

/// `Reminder: your appointment is on 04/30/2025 at 2:30 PM EDT.`
pub fn appointment_reminder_text(at: DateTime<Utc>, zone: Tz) -> String {
    let local = at.with_timezone(&zone).date_naive();
    format!(
        "Reminder: your appointment is on {} at {}.",
        format::date(local),
        format::time(at, zone)
    )
}

/// `Your order 1042 has shipped and should arrive by 05/02/2025.`
/// `Your order 1042 has shipped and should arrive by 05/02/2025.`, or, when
/// no delivery estimate is known (none is ever invented), `Your order 1042 has
/// shipped.`
pub fn shipping_update_text(order_number: &str, eta: Option<NaiveDate>) -> String {
    match eta {
        Some(eta) => format!(
            "Your order {order_number} has shipped and should arrive by {}.",
            format::date(eta)
        ),
        None => format!("Your order {order_number} has shipped."),
    }
}

/// Why a text cannot be a template's text parameter, as Meta refuses it
/// (`None` when it can): at most 1,024 characters, no new lines or tabs, no
/// more than four spaces in a row.
///
/// ```
/// use bridge_core::replies::template_text_problem;
/// assert_eq!(template_text_problem("See you at 2:30 PM EST"), None);
/// assert!(template_text_problem("line\nbreak").is_some());
/// ```
pub fn template_text_problem(text: &str) -> Option<&'static str> {
    if text.chars().count() > 1_024 {
        Some("at most 1,024 characters")
    } else if text.contains(['\n', '\t']) {
        Some("no new lines or tabs")
    } else if text.contains("     ") {
        Some("no more than 4 spaces in a row")
    } else {
        None
    }
}

/// The text [`shipping_update`] puts in the delivery-estimate parameter when
/// the order has none.
pub const NO_ETA: &str = "to be confirmed by the carrier";

/// The text [`shipping_update`] puts in the carrier parameter when the order
/// names none (the Cloud API refuses an empty text parameter).
pub const NO_CARRIER: &str = "our carrier";

/// `Your order 1042 was delivered.`
pub fn order_delivered_text(order_number: &str) -> String {
    format!("Your order {order_number} was delivered.")
}

/// `Your order 1042 is confirmed: $1,499.99.`
pub fn order_confirmation_text(order_number: &str, total_cents: i64) -> String {
    format!(
        "Your order {order_number} is confirmed: {}.",
        format::money(total_cents)
    )
}

#[cfg(feature = "whatsapp")]
pub use templates::*;

#[cfg(feature = "whatsapp")]
mod templates {
    use super::*;
    use whatsapp_cloud::messages::{Template, TemplateParam};

    /// A currency parameter in USD from cents, with the US-format fallback.
    pub fn usd(cents: i64) -> TemplateParam {
        TemplateParam::currency("USD", format::amount_1000(cents), format::money(cents))
    }

    /// A date parameter with the `MM/DD/YYYY` fallback.
    pub fn us_date(d: NaiveDate) -> TemplateParam {
        TemplateParam::date_time(format::date(d))
    }

    /// `payment_reminder`: {{1}} name, {{2}} amount, {{3}} due date; a URL button
    /// whose suffix is the invoice's payment path.
    ///
    /// ```
    /// use bridge_core::replies::payment_reminder;
    /// use chrono::NaiveDate;
    /// use whatsapp_cloud::messages::Message;
    ///
    /// let t = payment_reminder("payment_reminder", "en_US", "Ana", 149_999, NaiveDate::from_ymd_opt(2025, 4, 30).unwrap(), "inv/10442");
    /// let json = Message::new("14155550123", t).to_json();
    /// let p = &json["template"]["components"][0]["parameters"];
    /// assert_eq!(p[1]["currency"]["fallback_value"], "$1,499.99");
    /// assert_eq!(p[1]["currency"]["amount_1000"], 1_499_990);
    /// assert_eq!(p[2]["date_time"]["fallback_value"], "04/30/2025");
    /// ```
    pub fn payment_reminder(
        name: &str,
        language: &str,
        customer: &str,
        amount_cents: i64,
        due: NaiveDate,
        pay_path: &str,
    ) -> Template {
        Template::new(name, language)
            .body(vec![
                TemplateParam::text(customer),
                usd(amount_cents),
                us_date(due),
            ])
            .url_button(0, pay_path)
    }

    /// `appointment_reminder`: {{1}} name, {{2}} date, {{3}} time with zone;
    /// quick replies `CONFIRM:<id>` and `RESCHEDULE:<id>`.
    pub fn appointment_reminder(
        name: &str,
        language: &str,
        customer: &str,
        at: DateTime<Utc>,
        zone: Tz,
        appointment_id: &str,
    ) -> Template {
        let local = at.with_timezone(&zone).date_naive();
        Template::new(name, language)
            .body(vec![
                TemplateParam::text(customer),
                us_date(local),
                TemplateParam::text(format::time(at, zone)),
            ])
            .quick_reply_button(0, format!("CONFIRM:{appointment_id}"))
            .quick_reply_button(1, format!("RESCHEDULE:{appointment_id}"))
    }

    /// `order_confirmation`: {{1}} name, {{2}} order number, {{3}} total, {{4}} date.
    pub fn order_confirmation(
        name: &str,
        language: &str,
        customer: &str,
        order_number: &str,
        total_cents: i64,
        ordered_on: NaiveDate,
    ) -> Template {
        Template::new(name, language).body(vec![
            TemplateParam::text(customer),
            TemplateParam::text(order_number),
            usd(total_cents),
            us_date(ordered_on),
        ])
    }

    /// `shipping_update`: {{1}} name, {{2}} order number, {{3}} carrier (or
    /// [`NO_CARRIER`]), {{4}} estimated delivery (the date, or [`NO_ETA`]
    /// when the order has none: an estimate is never made up); a URL button
    /// with the tracking number.
    ///
    /// No parameter is ever empty (the Cloud API answers 400 to one): a
    /// blank carrier reads [`NO_CARRIER`], and without a tracking number no
    /// button parameter is sent, so `name` must then be a variant of the
    /// template whose button has no variable (`shipping_update_no_tracking`,
    /// say).
    pub fn shipping_update(
        name: &str,
        language: &str,
        customer: &str,
        order_number: &str,
        carrier: Option<&str>,
        eta: Option<NaiveDate>,
        tracking: Option<&str>,
    ) -> Template {
        let carrier = carrier.map(str::trim).filter(|c| !c.is_empty());
        let t = Template::new(name, language).body(vec![
            TemplateParam::text(customer),
            TemplateParam::text(order_number),
            TemplateParam::text(carrier.unwrap_or(NO_CARRIER)),
            eta.map_or_else(|| TemplateParam::text(NO_ETA), us_date),
        ]);
        match tracking.map(str::trim).filter(|t| !t.is_empty()) {
            Some(tracking) => t.url_button(0, tracking),
            None => t,
        }
    }

    /// `order_delivered`: {{1}} name, {{2}} order number.
    pub fn order_delivered(
        name: &str,
        language: &str,
        customer: &str,
        order_number: &str,
    ) -> Template {
        Template::new(name, language).body(vec![
            TemplateParam::text(customer),
            TemplateParam::text(order_number),
        ])
    }

    /// Parses a quick-reply payload made by [`appointment_reminder`]:
    /// `("CONFIRM", "<id>")`.
    pub fn parse_appointment_reply(payload: &str) -> Option<(&str, &str)> {
        let (action, id) = payload.split_once(':')?;
        matches!(action, "CONFIRM" | "RESCHEDULE").then_some((action, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[cfg(feature = "whatsapp")]
    #[test]
    fn a_shipping_update_never_has_an_empty_parameter() {
        let t = templates::shipping_update(
            "shipping_update_no_tracking",
            "en_US",
            "Ana",
            "1042",
            Some("  "),
            None,
            None,
        );
        let json = serde_json::to_value(&t).unwrap().to_string();
        assert!(json.contains(NO_CARRIER) && json.contains(NO_ETA), "{json}");
        assert!(!json.contains("\"text\":\"\""), "{json}");
        assert!(!json.contains("button"), "no button parameter: {json}");
        let with = templates::shipping_update(
            "shipping_update",
            "en_US",
            "Ana",
            "1042",
            Some("UPS"),
            NaiveDate::from_ymd_opt(2026, 12, 9),
            Some("1Z999"),
        );
        let json = serde_json::to_value(&with).unwrap().to_string();
        assert!(json.contains("UPS") && json.contains("12/09/2026") && json.contains("1Z999"));
    }

    #[test]
    fn texts_in_us_formats() {
        assert_eq!(
            case_acknowledgement("00001026"),
            "Thanks! Your case number is 00001026. We'll get back to you shortly."
        );
        assert_eq!(
            payment_reminder_text(149_999, NaiveDate::from_ymd_opt(2025, 4, 30).unwrap()),
            "Your payment of $1,499.99 is due on 04/30/2025."
        );
        let at = Utc.with_ymd_and_hms(2025, 4, 30, 18, 30, 0).unwrap();
        assert_eq!(
            appointment_reminder_text(at, chrono_tz::America::New_York),
            "Reminder: your appointment is on 04/30/2025 at 2:30 PM EDT."
        );
        assert_eq!(lead_acknowledgement(Some(" ")), lead_acknowledgement(None));
        assert_eq!(
            order_confirmation_text("1042", 5_000),
            "Your order 1042 is confirmed: $50.00."
        );
        assert_eq!(
            shipping_update_text("1042", NaiveDate::from_ymd_opt(2025, 5, 2)),
            "Your order 1042 has shipped and should arrive by 05/02/2025."
        );
    }

    #[cfg(feature = "whatsapp")]
    #[test]
    fn appointment_template_and_its_replies() {
        use whatsapp_cloud::messages::Message;
        let at = Utc.with_ymd_and_hms(2026, 1, 15, 19, 30, 0).unwrap();
        let t = appointment_reminder(
            "appointment_reminder",
            "en_US",
            "Ana",
            at,
            chrono_tz::America::New_York,
            "A-77",
        );
        let m = Message::new("14155550123", t);
        assert!(m.validate().is_ok());
        let j = m.to_json();
        assert_eq!(
            j["template"]["components"][0]["parameters"][2]["text"],
            "2:30 PM EST"
        );
        assert_eq!(
            j["template"]["components"][2]["parameters"][0]["payload"],
            "RESCHEDULE:A-77"
        );
        assert_eq!(
            parse_appointment_reply("CONFIRM:A-77"),
            Some(("CONFIRM", "A-77"))
        );
        assert_eq!(parse_appointment_reply("HELLO:1"), None);
    }
}
