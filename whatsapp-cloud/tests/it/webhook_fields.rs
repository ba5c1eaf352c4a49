//! Every webhook field Meta documents for a WhatsApp Business Account parses
//! to its typed value; leniency is per field; unknown keys stay readable.
//! The payloads are written here from the documented shapes (values made up).
#![allow(clippy::needless_pass_by_value)]

use serde_json::json;
use whatsapp_cloud::webhooks::{
    ChangeValue, Event, InteractiveReply, MessageContent, Notification, StatusKind,
    parse_unverified,
};

fn envelope(field: &str, value: serde_json::Value) -> Vec<u8> {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "102290129340398", "time": 1_767_225_600, "changes": [{ "field": field, "value": value }] }]
    })
    .to_string()
    .into_bytes()
}

fn value_of(field: &str, value: serde_json::Value) -> ChangeValue {
    let n: Notification = parse_unverified(&envelope(field, value)).unwrap();
    let change = n
        .entries
        .into_iter()
        .next()
        .unwrap()
        .changes
        .into_iter()
        .next()
        .unwrap();
    assert_eq!(change.field, field);
    change.value
}

fn meta() -> serde_json::Value {
    json!({ "display_phone_number": "15550783881", "phone_number_id": "106540352242922" })
}

fn one_message(message: serde_json::Value) -> whatsapp_cloud::webhooks::InboundMessage {
    let v = value_of(
        "messages",
        json!({ "messaging_product": "whatsapp", "metadata": meta(),
                "contacts": [{ "profile": { "name": "Ana" }, "wa_id": "14155550123" }],
                "messages": [message] }),
    );
    let ChangeValue::Messages(m) = v else {
        panic!("{v:?}")
    };
    m.messages.into_iter().next().unwrap().unwrap()
}

#[test]
fn message_types_edit_revoke_unsupported_welcome_system_order_flow() {
    let base = |kind: &str, obj: serde_json::Value| {
        let mut m = json!({ "from": "14155550123", "id": format!("wamid.{kind}"), "timestamp": "1767225600", "type": kind });
        if !obj.is_null() {
            m[kind] = obj;
        }
        one_message(m)
    };
    let edit = base(
        "edit",
        json!({ "original_message_id": "wamid.orig", "message": { "type": "text", "text": { "body": "new words" } } }),
    );
    match &edit.content {
        MessageContent::Edit {
            original_message_id,
            content: Some(c),
        } => {
            assert_eq!(original_message_id.as_deref(), Some("wamid.orig"));
            assert_eq!(c.text(), Some("new words"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(edit.content.text(), Some("new words"));
    let revoke = base("revoke", json!({ "original_message_id": "wamid.gone" }));
    assert!(matches!(&revoke.content,
        MessageContent::Revoke { original_message_id: Some(id) } if id == "wamid.gone"));
    let mut unsupported = json!({ "from": "14155550123", "id": "wamid.u", "type": "unsupported",
        "unsupported": { "type": "poll" },
        "errors": [{ "code": 131051, "title": "Message type unknown", "message": "Message type unknown", "error_data": { "details": "Message type is currently not supported." } }] });
    let u = one_message(unsupported.take());
    assert!(matches!(&u.content, MessageContent::Unsupported { kind: Some(k) } if k == "poll"));
    assert_eq!(u.errors[0].code, Some(131_051));
    assert!(matches!(
        base("request_welcome", json!(null)).content,
        MessageContent::RequestWelcome
    ));
    let system = base(
        "system",
        json!({ "body": "User changed from 14155550123 to 14155550999", "type": "user_changed_number", "wa_id": "14155550999" }),
    );
    assert!(
        matches!(&system.content, MessageContent::System(s) if s.wa_id.as_deref() == Some("14155550999"))
    );
    let order = base(
        "order",
        json!({ "catalog_id": "837261", "text": "two please", "product_items": [
            { "product_retailer_id": "sku-1", "quantity": "2", "item_price": 14.99, "currency": "USD" }] }),
    );
    let MessageContent::Order(o) = &order.content else {
        panic!()
    };
    assert_eq!(o.product_items[0].quantity, Some(2));
    assert_eq!(o.product_items[0].item_price, Some(14.99));
    let flow = base(
        "interactive",
        json!({ "type": "nfm_reply", "nfm_reply": { "name": "flow", "body": "Sent",
            "response_json": "{\"flow_token\":\"tok-1\",\"slot\":\"2026-12-01T10:00\"}" } }),
    );
    match &flow.content {
        MessageContent::Interactive(InteractiveReply::FlowReply {
            response: Some(r), ..
        }) => {
            assert_eq!(r["flow_token"], "tok-1");
        }
        other => panic!("{other:?}"),
    }
    let call = base(
        "interactive",
        json!({ "type": "call_permission_reply", "call_permission_reply": {
            "response": "accept", "is_permanent": false, "expiration_timestamp": 1_767_312_000, "response_source": "user_action" } }),
    );
    assert!(matches!(
        &call.content,
        MessageContent::Interactive(InteractiveReply::CallPermissionReply {
            is_permanent: Some(false),
            expiration_timestamp: Some(1_767_312_000),
            ..
        })
    ));
    let contacts = base(
        "contacts",
        json!([{ "name": { "formatted_name": "Bo Li", "first_name": "Bo" },
                 "phones": [{ "phone": "+1 (415) 555-0100", "wa_id": "14155550100", "type": "CELL" }],
                 "emails": [{ "email": "bo@example.com", "type": "WORK" }],
                 "org": { "company": "Acme" } }]),
    );
    let MessageContent::Contacts(c) = &contacts.content else {
        panic!()
    };
    assert_eq!(c[0].phones[0].wa_id.as_deref(), Some("14155550100"));
    assert_eq!(
        c[0].org.as_ref().and_then(|o| o.company.as_deref()),
        Some("Acme")
    );
    assert!(
        !format!("{:?}", contacts).contains("555-0100"),
        "Debug stays redacted"
    );
}

#[test]
fn a_wrong_typed_optional_field_never_drops_the_message() {
    // A string latitude is read as a number; an object where a string belongs is left out.
    let m = one_message(
        json!({ "from": "14155550123", "id": "wamid.loc", "type": "location",
        "location": { "latitude": "37.7749", "longitude": -122.4194, "name": { "odd": true } } }),
    );
    let MessageContent::Location(l) = &m.content else {
        panic!()
    };
    assert_eq!(l.latitude, Some(37.7749));
    assert_eq!(l.name, None);
    assert_eq!(m.diagnostics.len(), 1);
    assert_eq!(m.diagnostics[0].path, "location.name");
    // An interactive message that carries only errors is content WhatsApp
    // could not deliver, typed as such, with its errors (issue 26, item 11).
    let m = one_message(
        json!({ "from": "14155550123", "id": "wamid.i", "type": "interactive",
        "errors": [{ "code": 131000, "title": "Something went wrong" }] }),
    );
    assert!(
        matches!(&m.content, MessageContent::Unsupported { kind: Some(k) } if k == "interactive"),
        "{:?}",
        m.content
    );
    assert_eq!(m.errors.len(), 1);
    assert_eq!(m.errors[0].code, Some(131_000));
    // A context of the wrong shape costs the context, not the text.
    let m = one_message(
        json!({ "from": "14155550123", "id": "wamid.c", "type": "text",
        "text": { "body": "hello" }, "context": "oops", "timestamp": { "no": 1 } }),
    );
    assert_eq!(m.content.text(), Some("hello"));
    assert!(m.context.is_none());
    // Only an item without a usable id is invalid.
    let v = value_of(
        "messages",
        json!({ "messages": [{ "type": "text", "text": { "body": "x" } }] }),
    );
    let ChangeValue::Messages(v) = v else {
        panic!()
    };
    assert!(v.messages[0].is_err());
}

#[test]
fn unknown_keys_on_known_objects_are_readable() {
    let m = one_message(
        json!({ "from": "14155550123", "id": "wamid.r", "type": "text",
        "text": { "body": "hi", "brand_new": 1 },
        "referral": { "source_url": "https://fb.me/x", "source_type": "ad", "source_id": 1234,
            "image_url": "https://x/img.jpg", "welcome_message": { "text": "Hi! Ask us anything" },
            "tomorrow_field": "kept" } }),
    );
    let r = m.referral.as_ref().unwrap();
    assert_eq!(r.source_id.as_deref(), Some("1234"));
    assert_eq!(r.image_url.as_deref(), Some("https://x/img.jpg"));
    assert_eq!(
        r.welcome_message.as_ref().and_then(|w| w.text.as_deref()),
        Some("Hi! Ask us anything")
    );
    assert_eq!(m.raw_field("referral").unwrap()["tomorrow_field"], "kept");
    assert_eq!(m.raw_field("text").unwrap()["brand_new"], 1);
    let v = value_of(
        "account_update",
        json!({ "event": "ACCOUNT_VIOLATION", "violation_info": { "violation_type": "SCAM" }, "new_key": [1, 2] }),
    );
    let ChangeValue::AccountUpdate(a) = v else {
        panic!()
    };
    assert!(a.raw.get().contains("new_key"));
}

#[test]
fn statuses_played_pricing_parents_and_recipients_from_contacts() {
    let v = value_of(
        "messages",
        json!({ "metadata": meta(),
            "contacts": [{ "wa_id": "14155550123", "user_id": "US.1349", "parent_user_id": "US.9000" }],
            "statuses": [
                { "id": "wamid.s1", "status": "played", "timestamp": "1767225600", "recipient_user_id": "US.1349",
                  "pricing": { "billable": true, "pricing_model": "PMP", "category": "utility", "type": "regular" } },
                { "id": "wamid.s2", "status": "delivered", "recipient_id": "120363021234567890", "recipient_type": "group" }
            ] }),
    );
    let ChangeValue::Messages(v) = v else {
        panic!()
    };
    let s = v.statuses[0].as_ref().unwrap();
    assert_eq!(s.status, StatusKind::Played);
    assert_eq!(
        s.recipient_id.as_deref(),
        Some("14155550123"),
        "completed from contacts[]"
    );
    assert_eq!(s.parent_recipient_user_id.as_deref(), Some("US.9000"));
    assert_eq!(
        s.pricing.as_ref().and_then(|p| p.kind.as_deref()),
        Some("regular")
    );
    let g = v.statuses[1].as_ref().unwrap();
    assert_eq!(g.recipient_type.as_deref(), Some("group"));
    assert_eq!(
        g.recipient_user_id, None,
        "a group status takes nobody's user id"
    );
    assert_eq!(v.contacts[0].reply_address(), Some("14155550123"));
    // A user whose phone is withheld: replies go to the parent id.
    let m = one_message(
        json!({ "from_user_id": "US.1349", "from_parent_user_id": "US.9000", "id": "wamid.p", "type": "text", "text": { "body": "hi" } }),
    );
    assert_eq!(m.from.reply_address(), Some("US.9000"));
}

#[test]
fn calls_echoes_syncs_history_and_preferences() {
    let v = value_of(
        "calls",
        json!({ "messaging_product": "whatsapp", "metadata": meta(),
            "contacts": [{ "profile": { "name": "Ana" }, "wa_id": "14155550123" }],
            "calls": [
                { "id": "wacid.1", "to": "15550783881", "from": "14155550123", "event": "connect", "timestamp": "1767225600",
                  "direction": "USER_INITIATED", "session": { "sdp_type": "offer", "sdp": "v=0" } },
                { "id": "wacid.1", "to": "15550783881", "from": "14155550123", "event": "terminate", "timestamp": "1767225660",
                  "status": "COMPLETED", "start_time": "1767225605", "end_time": "1767225660", "duration": 55 }
            ],
            "statuses": [{ "id": "wacid.2", "type": "call", "status": "RINGING", "timestamp": "1767225700", "recipient_id": "14155550123" }] }),
    );
    let ChangeValue::Calls(c) = &v else { panic!() };
    assert_eq!(c.calls[1].duration, Some(55));
    assert_eq!(c.statuses[0].status.as_deref(), Some("RINGING"));
    assert!(
        !format!("{v:?}").contains("14155550123"),
        "Debug stays redacted"
    );
    let n = parse_unverified(&envelope(
        "calls",
        json!({ "calls": [{ "id": "wacid.3", "event": "connect" }] }),
    ))
    .unwrap();
    assert!(matches!(n.events().next(), Some(Event::Call(_))));

    let echoes = envelope(
        "smb_message_echoes",
        json!({ "messaging_product": "whatsapp", "metadata": meta(), "message_echoes": [
            { "from": "15550783881", "to": "14155550123", "id": "wamid.e1", "timestamp": "1767225600", "type": "text", "text": { "body": "On our way" } },
            { "from": "15550783881", "to": "14155550123", "id": "wamid.e2", "timestamp": "1767225601", "type": "revoke", "revoke": { "original_message_id": "wamid.e0" } }
        ] }),
    );
    let n = parse_unverified(&echoes).unwrap();
    let events: Vec<_> = n.events().collect();
    assert_eq!(events.len(), 2);
    let Event::Echo(e) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(e.echo.to.as_deref(), Some("14155550123"));
    assert_eq!(e.echo.content.text(), Some("On our way"));
    assert_eq!(n.message_count(), 0, "echoes are never customer messages");

    let v = value_of(
        "smb_app_state_sync",
        json!({ "messaging_product": "whatsapp", "metadata": meta(), "state_sync": [
            { "type": "contact", "contact": { "full_name": "Ana Lima", "first_name": "Ana", "phone_number": "14155550123" },
              "action": "add", "metadata": { "timestamp": "1767225600" } }] }),
    );
    let ChangeValue::AppStateSync(s) = &v else {
        panic!()
    };
    assert_eq!(s.state_sync[0].action.as_deref(), Some("add"));
    assert!(!format!("{v:?}").contains("Lima"));

    let v = value_of(
        "history",
        json!({ "messaging_product": "whatsapp", "metadata": meta(), "history": [
            { "metadata": { "phase": 0, "chunk_order": 1, "progress": 55 }, "threads": [
                { "id": "14155550123", "messages": [
                    { "from": "14155550123", "id": "wamid.h1", "timestamp": "1767000000", "type": "text", "text": { "body": "old" },
                      "history_context": { "status": "READ" } } ] } ] } ] }),
    );
    let ChangeValue::History(h) = &v else {
        panic!()
    };
    assert_eq!(h.chunks[0].progress, Some(55));
    let msg = h.chunks[0].threads[0].messages[0].as_ref().unwrap();
    assert_eq!(msg.content.text(), Some("old"));

    let prefs = envelope(
        "user_preferences",
        json!({ "messaging_product": "whatsapp", "metadata": meta(),
            "contacts": [{ "wa_id": "14155550123" }],
            "user_preferences": [{ "wa_id": "14155550123", "detail": "User requested to stop marketing messages",
                "category": "marketing_messages", "value": "stop", "timestamp": 1_767_225_600 }] }),
    );
    let n = parse_unverified(&prefs).unwrap();
    let Some(Event::Preference(p)) = n.events().next() else {
        panic!()
    };
    assert_eq!(p.preference.marketing_opt_out(), Some(true));
    assert_eq!(p.preference.address(), Some("14155550123"));
}

#[test]
fn account_number_and_template_fields() {
    let a = value_of(
        "account_update",
        json!({ "event": "ACCOUNT_RESTRICTION", "phone_number": "15550783881",
        "restriction_info": [{ "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": "2026-12-19T13:59:20+0000" }] }),
    );
    let ChangeValue::AccountUpdate(a) = a else {
        panic!()
    };
    assert!(a.is_enforcement());
    assert_eq!(
        a.restriction_info[0].restriction_type.as_deref(),
        Some("RESTRICTED_BIZ_INITIATED_MESSAGING")
    );
    let a = value_of(
        "account_update",
        json!({ "event": "DISABLED_UPDATE", "ban_info": { "waba_ban_state": "DISABLE", "waba_ban_date": "December 9, 2026" } }),
    );
    let ChangeValue::AccountUpdate(a) = a else {
        panic!()
    };
    assert_eq!(
        a.ban_info
            .as_ref()
            .and_then(|b| b.waba_ban_state.as_deref()),
        Some("DISABLE")
    );
    let a = value_of(
        "account_update",
        json!({ "event": "PARTNER_APP_INSTALLED", "waba_info": { "waba_id": "4455", "owner_business_id": 9988, "partner_app_id": "771" } }),
    );
    let ChangeValue::AccountUpdate(a) = a else {
        panic!()
    };
    assert_eq!(
        a.waba_info
            .as_ref()
            .and_then(|w| w.owner_business_id.as_deref()),
        Some("9988")
    );
    assert!(!a.is_enforcement());

    let v = value_of(
        "account_alerts",
        json!({ "entity_type": "PHONE_NUMBER", "entity_id": 106540352242922u64,
        "alert_info": { "alert_severity": "WARNING", "alert_status": "ACTIVE", "alert_type": "OBA_APPROVED", "alert_description": "..." } }),
    );
    assert!(
        matches!(&v, ChangeValue::AccountAlert(a) if a.entity_id.as_deref() == Some("106540352242922"))
    );
    let v = value_of("account_review_update", json!({ "decision": "APPROVED" }));
    assert!(
        matches!(&v, ChangeValue::AccountReviewUpdate(r) if r.decision.as_deref() == Some("APPROVED"))
    );
    let v = value_of(
        "business_capability_update",
        json!({ "max_daily_conversations_per_business": 2000, "max_phone_numbers_per_business": 2 }),
    );
    assert!(
        matches!(&v, ChangeValue::BusinessCapabilityUpdate(b) if b.max_daily_conversations_per_business == Some(2000))
    );
    let v = value_of(
        "phone_number_name_update",
        json!({ "display_phone_number": "15550783881", "decision": "REJECTED",
        "requested_verified_name": "Acme Repairs", "rejection_reason": "NAME_FORMAT_UNACCEPTABLE" }),
    );
    assert!(
        matches!(&v, ChangeValue::PhoneNumberNameUpdate(p) if p.decision.as_deref() == Some("REJECTED"))
    );
    let v = value_of(
        "phone_number_quality_update",
        json!({ "display_phone_number": "15550783881", "event": "DOWNGRADE", "current_limit": "TIER_1K", "old_limit": "TIER_10K" }),
    );
    assert!(
        matches!(&v, ChangeValue::PhoneNumberQualityUpdate(p) if p.old_limit.as_deref() == Some("TIER_10K"))
    );

    let v = value_of(
        "message_template_status_update",
        json!({ "event": "REJECTED", "message_template_id": 278_077_987_957_091u64,
        "message_template_name": "payment_due", "message_template_language": "en_US", "reason": "INCORRECT_CATEGORY",
        "rejection_info": { "reason": "Uses marketing language", "recommendation": "Recategorize as MARKETING" } }),
    );
    let ChangeValue::TemplateStatusUpdate(t) = v else {
        panic!()
    };
    assert_eq!(t.message_template_id, Some(278_077_987_957_091));
    assert!(t.blocks_sending());
    assert!(
        t.rejection_info
            .as_ref()
            .and_then(|r| r.recommendation.as_deref())
            .is_some()
    );
    let v = value_of(
        "message_template_quality_update",
        json!({ "previous_quality_score": "GREEN", "new_quality_score": "YELLOW",
        "message_template_id": "278077987957091", "message_template_name": "payment_due", "message_template_language": "en_US" }),
    );
    assert!(
        matches!(&v, ChangeValue::TemplateQualityUpdate(q) if q.message_template_id == Some(278_077_987_957_091))
    );
    let v = value_of(
        "message_template_components_update",
        json!({ "message_template_id": 1, "message_template_name": "order_ready",
        "message_template_language": "en_US", "message_template_element": "Your order {{1}} is ready",
        "message_template_buttons": [{ "message_template_button_type": "URL", "message_template_button_text": "Track", "message_template_button_url": "https://x/{{1}}" }] }),
    );
    assert!(
        matches!(&v, ChangeValue::TemplateComponentsUpdate(c) if c.message_template_buttons.len() == 1)
    );
    let v = value_of(
        "template_category_update",
        json!({ "message_template_id": 1, "message_template_name": "order_ready",
        "message_template_language": "en_US", "correct_category": "MARKETING", "new_category": "UTILITY", "category_update_timestamp": 1_767_312_000 }),
    );
    assert!(
        matches!(&v, ChangeValue::TemplateCategoryUpdate(c) if c.correct_category.as_deref() == Some("MARKETING"))
    );
}

#[test]
fn flows_security_partners_and_payments() {
    let v = value_of(
        "flows",
        json!({ "event": "ENDPOINT_ERROR_RATE", "message": "Flow endpoint error rate above 10%", "flow_id": "6625", "alert_state": "ACTIVATED" }),
    );
    assert!(matches!(&v, ChangeValue::Flows(f) if f.flow_id.as_deref() == Some("6625")));
    let v = value_of(
        "flows",
        json!({ "event": "FLOW_STATUS_CHANGE", "flow_id": 6626, "old_status": "DRAFT", "new_status": "PUBLISHED" }),
    );
    assert!(matches!(&v, ChangeValue::Flows(f) if f.new_status.as_deref() == Some("PUBLISHED")));
    let v = value_of(
        "security",
        json!({ "display_phone_number": "15550783881", "event": "PIN_RESET_REQUEST", "requester": "1234" }),
    );
    assert!(
        matches!(&v, ChangeValue::Security(s) if s.event.as_deref() == Some("PIN_RESET_REQUEST"))
    );
    let v = value_of(
        "partner_solutions",
        json!({ "event": "SOLUTION_UPDATED", "solution_id": "9876", "solution_status": "ACTIVE" }),
    );
    assert!(
        matches!(&v, ChangeValue::PartnerSolutions(p) if p.solution_status.as_deref() == Some("ACTIVE"))
    );
    let v = value_of(
        "payment_configuration_update",
        json!({ "configuration_name": "us-store", "provider_name": "stripe",
        "provider_mid": "acct_1", "status": "Active", "created_timestamp": 1_767_225_600, "updated_timestamp": "1767225700" }),
    );
    assert!(
        matches!(&v, ChangeValue::PaymentConfigurationUpdate(p) if p.updated_timestamp == Some(1_767_225_700))
    );
    let n = parse_unverified(&envelope("security", json!({ "event": "PIN_CHANGED" }))).unwrap();
    let Some(Event::Update(u)) = n.events().next() else {
        panic!()
    };
    assert!(u.raw.get().contains("PIN_CHANGED"));
    assert_ne!(
        Event::Update(u).dedup_key(),
        parse_unverified(&envelope(
            "security",
            json!({ "event": "PIN_RESET_REQUEST" })
        ))
        .unwrap()
        .events()
        .next()
        .unwrap()
        .dedup_key()
    );
    // A management value that is not an object is invalid, its raw JSON kept.
    assert!(matches!(
        value_of("flows", json!("nope")),
        ChangeValue::Invalid(_)
    ));
}

/// Issue 26, item 12: a status naming the customer's number but not their
/// user id gets the user id (and parent) from `contacts[]`.
#[test]
fn a_status_gets_the_user_id_of_its_number_from_contacts() {
    let v = value_of(
        "messages",
        json!({ "metadata": meta(),
            "contacts": [
                { "wa_id": "14155550199", "user_id": "US.2" },
                { "wa_id": "14155550123", "user_id": "US.1349", "parent_user_id": "US.9000" }
            ],
            "statuses": [{ "id": "wamid.s3", "status": "read", "timestamp": "1767225600", "recipient_id": "14155550123" }] }),
    );
    let ChangeValue::Messages(v) = v else {
        panic!()
    };
    let s = v.statuses[0].as_ref().unwrap();
    assert_eq!(s.recipient_user_id.as_deref(), Some("US.1349"));
    assert_eq!(s.parent_recipient_user_id.as_deref(), Some("US.9000"));
}
