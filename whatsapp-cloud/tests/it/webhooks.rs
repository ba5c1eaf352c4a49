//! The webhook model against fixtures written from Meta's documented shapes.

use secrecy::SecretString;
use whatsapp_cloud::webhooks::{
    ChangeValue, Event, InteractiveReply, MessageContent, StatusKind, WebhookConfig, WebhookError,
    parse_unverified,
};
use whatsapp_cloud::{ErrorClass, ErrorCode};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/webhooks/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn only_message(name: &str) -> (whatsapp_cloud::webhooks::Notification, usize) {
    let n = parse_unverified(&fixture(name)).unwrap();
    let count = n.events().count();
    (n, count)
}

macro_rules! message_of {
    ($n:expr) => {{
        let mut it = $n.events();
        match it.next() {
            Some(Event::Message(m)) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }};
}

#[test]
fn text_with_escaped_unicode_and_slashes() {
    let (n, count) = only_message("text");
    assert_eq!(count, 1);
    let m = message_of!(n);
    let MessageContent::Text { body } = &m.message.content else {
        panic!()
    };
    assert_eq!(
        body,
        "My order #1042 arrived broken é 😢 https://example.com/a"
    );
    assert_eq!(m.sender_name(), Some("Ana Lima"));
    assert_eq!(m.sender_wa_id(), Some("14155550123"));
    assert_eq!(m.context.phone_number_id(), Some("1234567890"));
    assert_eq!(m.context.waba_id, "9876543210");
    assert_eq!(m.message.timestamp, Some(1_714_000_000));
    assert!(m.dedup_key().starts_with("wa:msg:wamid."));
}

#[test]
fn reply_and_forward_context() {
    let (n, _) = only_message("text_reply_context");
    let m = message_of!(n);
    assert_eq!(
        m.message.context.as_ref().unwrap().id.as_deref(),
        Some("wamid.ORIGINAL")
    );
    let (n, _) = only_message("text_forwarded");
    let m = message_of!(n);
    assert_eq!(
        m.message.context.as_ref().unwrap().frequently_forwarded,
        Some(true)
    );
}

#[test]
fn every_media_type() {
    for (name, caption) in [
        ("image", Some("the broken box")),
        ("video", Some("unboxing")),
        ("document", Some("invoice")),
        ("audio_voice", None),
        ("sticker", None),
    ] {
        let (n, _) = only_message(name);
        let m = message_of!(n);
        let media = match &m.message.content {
            MessageContent::Image(x)
            | MessageContent::Video(x)
            | MessageContent::Document(x)
            | MessageContent::Audio(x)
            | MessageContent::Sticker(x) => x,
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(media.id.as_deref(), Some("1046212345678"), "{name}");
        assert!(media.sha256.is_some());
        assert_eq!(media.caption.as_deref(), caption, "{name}");
        assert_eq!(m.message.kind, name.split('_').next().unwrap());
    }
    let (n, _) = only_message("document");
    let MessageContent::Document(d) = &message_of!(n).message.content else {
        panic!()
    };
    assert_eq!(d.filename.as_deref(), Some("invoice-1042.pdf"));
    let (n, _) = only_message("audio_voice");
    let MessageContent::Audio(a) = &message_of!(n).message.content else {
        panic!()
    };
    assert_eq!(a.voice, Some(true));
}

#[test]
fn location_and_contacts() {
    let (n, _) = only_message("location");
    let MessageContent::Location(l) = &message_of!(n).message.content else {
        panic!()
    };
    assert_eq!(l.latitude, Some(37.7749));
    assert_eq!(l.name.as_deref(), Some("Store"));
    let (n, _) = only_message("contacts");
    let MessageContent::Contacts(c) = &message_of!(n).message.content else {
        panic!()
    };
    assert_eq!(
        c[0].name.as_ref().and_then(|n| n.formatted_name.as_deref()),
        Some("Bob Smith")
    );
}

#[test]
fn interactive_replies_and_unknown_interactive_kinds() {
    let (n, _) = only_message("interactive_button_reply");
    let m = message_of!(n);
    match &m.message.content {
        MessageContent::Interactive(InteractiveReply::ButtonReply { id, title }) => {
            assert_eq!((id.as_str(), title.as_str()), ("confirm", "Confirm"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.message.content.text(), Some("Confirm"));
    let (n, _) = only_message("interactive_list_reply");
    assert!(matches!(
        &message_of!(n).message.content,
        MessageContent::Interactive(InteractiveReply::ListReply { description: Some(d), .. }) if d == "with Dr. Lee"
    ));
    let (n, _) = only_message("interactive_nfm_reply");
    match &message_of!(n).message.content {
        MessageContent::Interactive(InteractiveReply::FlowReply {
            response_json: Some(j),
            ..
        }) => {
            let v: serde_json::Value = serde_json::from_str(j).unwrap();
            assert_eq!(v["rating"], "5");
        }
        other => panic!("{other:?}"),
    }
    let (n, _) = only_message("interactive_unknown");
    match &message_of!(n).message.content {
        MessageContent::Interactive(InteractiveReply::CallPermissionReply { response, .. }) => {
            assert_eq!(response.as_deref(), Some("accept"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn template_button_reaction_order_system_referral() {
    let (n, _) = only_message("button");
    assert!(matches!(&message_of!(n).message.content,
        MessageContent::Button { payload: Some(p), .. } if p == "CONFIRM_APPT_77"));
    let (n, _) = only_message("reaction");
    assert!(matches!(&message_of!(n).message.content,
        MessageContent::Reaction { emoji: Some(e), .. } if e == "👍"));
    let (n, _) = only_message("reaction_removed");
    assert!(matches!(
        &message_of!(n).message.content,
        MessageContent::Reaction {
            emoji: None,
            message_id: Some(_)
        }
    ));
    let (n, _) = only_message("order");
    let MessageContent::Order(o) = &message_of!(n).message.content else {
        panic!()
    };
    assert_eq!(o.product_items.len(), 2);
    assert_eq!(
        o.product_items[1].quantity,
        Some(1),
        "quantity sent as a string"
    );
    let (n, _) = only_message("system_user_changed_number");
    let m = message_of!(n);
    assert!(m.contact.is_none(), "system messages have no contacts");
    let MessageContent::System(s) = &m.message.content else {
        panic!()
    };
    assert_eq!(s.wa_id.as_deref(), Some("14155550999"));
    let (n, _) = only_message("referral");
    let m = message_of!(n);
    assert_eq!(
        m.message.referral.as_ref().unwrap().ctwa_clid.as_deref(),
        Some("ARAkLk")
    );
    let (n, _) = only_message("request_welcome");
    assert!(matches!(
        message_of!(n).message.content,
        MessageContent::RequestWelcome
    ));
}

#[test]
fn unsupported_and_unknown_types_keep_their_data() {
    let (n, _) = only_message("unsupported");
    let m = message_of!(n);
    assert!(matches!(
        m.message.content,
        MessageContent::Unsupported { .. }
    ));
    assert_eq!(
        m.message.errors[0].error_code(),
        ErrorCode::UnsupportedMessageType
    );
    let (n, _) = only_message("unknown_type");
    let m = message_of!(n);
    let MessageContent::Unknown { raw } = &m.message.content else {
        panic!()
    };
    let v: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
    assert_eq!(v["hologram"]["frames"], 3);
    assert_eq!(m.message.kind, "hologram");
}

#[test]
fn username_only_sender_without_a_phone_number() {
    let (n, _) = only_message("bsuid_username_only");
    let m = message_of!(n);
    assert_eq!(m.message.from.wa_id, None);
    assert_eq!(
        m.message.from.user_id.as_deref(),
        Some("US.13491208655302741918")
    );
    assert_eq!(
        m.message.from.reply_address(),
        Some("US.13491208655302741918")
    );
    assert_eq!(m.sender_name(), Some("Ana"));
    assert_eq!(
        m.contact
            .unwrap()
            .profile
            .as_ref()
            .unwrap()
            .username
            .as_deref(),
        Some("@ana")
    );
}

#[test]
fn statuses_in_both_shapes_with_monotonic_rank() {
    let mut seen = Vec::new();
    for name in [
        "status_sent_v23",
        "status_delivered_v24",
        "status_read",
        "status_failed",
        "status_unknown_value",
    ] {
        let n = parse_unverified(&fixture(name)).unwrap();
        let Some(Event::Status(s)) = n.events().next() else {
            panic!("{name}")
        };
        seen.push(s.status.status.clone());
        match name {
            "status_sent_v23" => {
                let c = s.status.conversation.as_ref().unwrap();
                assert_eq!(c.expiration_timestamp, Some(1_714_086_400));
                assert_eq!(
                    s.status.pricing.as_ref().unwrap().pricing_model.as_deref(),
                    Some("CBP")
                );
            }
            "status_delivered_v24" => {
                assert!(s.status.conversation.is_none());
                assert_eq!(
                    s.status.pricing.as_ref().unwrap().kind.as_deref(),
                    Some("regular")
                );
            }
            "status_read" => assert_eq!(
                s.status.biz_opaque_callback_data.as_deref(),
                Some("case:00001026")
            ),
            "status_failed" => {
                assert_eq!(
                    s.status.errors[0].error_code().class(),
                    ErrorClass::ReEngagementRequired
                );
                assert_eq!(s.dedup_key(), "wa:status:wamid.OUT2:failed");
            }
            _ => assert_eq!(s.status.status, StatusKind::Other("held_for_review".into())),
        }
    }
    assert!(seen[1].advances(Some(&seen[0])));
    assert!(!seen[0].advances(Some(&seen[2])));
    assert!(!seen[2].advances(Some(&seen[3])), "failed is terminal");
    assert!(
        !seen[4].advances(Some(&seen[0])),
        "unknown values never move a message"
    );
}

#[test]
fn value_errors_template_updates_and_other_fields() {
    let n = parse_unverified(&fixture("value_errors")).unwrap();
    let Some(Event::Error(e)) = n.events().next() else {
        panic!()
    };
    assert_eq!(e.error.code, Some(131_000));
    let n = parse_unverified(&fixture("template_status_update")).unwrap();
    let Some(Event::TemplateStatus(t)) = n.events().next() else {
        panic!()
    };
    assert_eq!(t.update.message_template_id, Some(594_425_479_261_596));
    assert_eq!(t.update.event.as_deref(), Some("APPROVED"));
    let n = parse_unverified(&fixture("other_field")).unwrap();
    let Some(Event::Update(u)) = n.events().next() else {
        panic!()
    };
    assert_eq!(u.context.field, "phone_number_quality_update");
    let ChangeValue::PhoneNumberQualityUpdate(q) = u.value else {
        panic!()
    };
    assert_eq!(q.current_limit.as_deref(), Some("TIER_10K"));
    let n = parse_unverified(
        br#"{"entry":[{"id":"1","changes":[{"field":"brand_new_field","value":{"x":1}}]}]}"#,
    )
    .unwrap();
    let Some(Event::Other(o)) = n.events().next() else {
        panic!()
    };
    assert_eq!(o.context.field, "brand_new_field");
    assert_eq!(o.raw.get(), r#"{"x":1}"#);
}

#[test]
fn one_bad_item_does_not_hide_the_others() {
    let n = parse_unverified(&fixture("batch_mixed")).unwrap();
    let events: Vec<_> = n.events().collect();
    // 3 messages (one with a wrong-typed body: kept, with a diagnostic), 2
    // statuses (one without an id: invalid), a template update; the change
    // with a broken `metadata` keeps its (empty) lists.
    assert_eq!(events.len(), 6, "{events:#?}");
    let Event::Message(b) = &events[0] else {
        panic!()
    };
    assert_eq!(
        b.sender_name(),
        Some("B"),
        "contacts are matched by wa_id, not position"
    );
    let Event::Message(odd) = &events[1] else {
        panic!("{:?}", events[1])
    };
    assert_eq!(odd.message.id, "wamid.A1", "the message is not lost");
    assert!(matches!(
        odd.message.content,
        MessageContent::Unknown { .. }
    ));
    let paths: Vec<&str> = odd
        .message
        .diagnostics
        .iter()
        .map(|d| d.path.as_str())
        .collect();
    assert_eq!(
        paths,
        ["text.body", "text"],
        "{:?}",
        odd.message.diagnostics
    );
    assert!(
        odd.message.raw.get().contains("wamid.A1"),
        "the raw item is kept"
    );
    assert!(
        !format!("{:?}", odd.message).contains("14155550001"),
        "no data in Debug"
    );
    let Event::Message(a) = &events[2] else {
        panic!()
    };
    assert_eq!(a.sender_name(), Some("A"));
    assert!(matches!(events[3], Event::Status(_)));
    let Event::Invalid(bad) = &events[4] else {
        panic!()
    };
    assert!(bad.item.problem.contains("missing"), "{}", bad.item.problem);
    let Event::TemplateStatus(t) = &events[5] else {
        panic!()
    };
    assert_eq!(t.context.waba_id, "222");
    assert_eq!(n.message_count(), 3);
}

#[test]
fn dashboard_sample_and_odd_envelopes_parse_without_panics() {
    // Meta's dashboard "test" button sends a bare {field, value}; no entries.
    let sample = br#"{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"id":"w1","from":"1555","type":"text","text":{"body":"hi"}}]}}"#;
    let n = parse_unverified(sample).unwrap();
    assert_eq!(n.message_count(), 1);
    let n = parse_unverified(br#"{"object":"whatsapp_business_account","entry":null}"#).unwrap();
    assert!(n.entries.is_empty());
    let n = parse_unverified(
        br#"{"object":"x","entry":[{"id":123,"changes":[{"field":"messages"}]}]}"#,
    )
    .unwrap();
    assert_eq!(n.entries[0].id, "123");
    assert!(matches!(
        n.entries[0].changes[0].value,
        ChangeValue::Invalid(_)
    ));
}

#[test]
fn malformed_bodies_give_typed_errors() {
    let good = fixture("text");
    for cut in [1, 10, good.len() / 2, good.len() - 1] {
        match parse_unverified(&good[..cut]) {
            Err(WebhookError::InvalidBody { problem }) => assert!(
                problem.contains("truncated")
                    || problem.contains("malformed")
                    || problem.contains("object"),
                "{problem}"
            ),
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    for bad in [
        &b""[..],
        b"null",
        b"[]",
        b"<html>502</html>",
        b"\xff\xfe",
        br#"{"entry":"x"}"#,
    ] {
        assert!(
            matches!(parse_unverified(bad), Err(WebhookError::InvalidBody { .. })),
            "{bad:?}"
        );
    }
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_obj = format!(r#"{{"object":"x","entry":{deep}}}"#);
    assert_eq!(
        parse_unverified(deep_obj.as_bytes()).unwrap_err(),
        WebhookError::TooDeep
    );
    let huge = format!(
        r#"{{"object":"x","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messages":[{{"id":"w","type":"text","text":{{"body":"{}"}}}}]}}}}]}}]}}"#,
        "a".repeat(3_000_000)
    );
    let n = parse_unverified(huge.as_bytes()).unwrap();
    assert_eq!(n.message_count(), 1);
    let too_big = "a".repeat(5 * 1024 * 1024);
    assert!(matches!(
        parse_unverified(too_big.as_bytes()),
        Err(WebhookError::BodyTooLarge { .. })
    ));
}

#[test]
fn signature_is_checked_over_the_raw_bytes_before_parsing() {
    let config = WebhookConfig::new(&SecretString::from("s3cr3t"));
    let body = fixture("text");
    let header = config.sign(&body);
    assert!(config.receive(Some(&header), &body).is_ok());
    // Re-serializing changes the bytes (\/ and \u escapes) and breaks the signature.
    let reserialized =
        serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&body).unwrap()).unwrap();
    assert_ne!(reserialized, body);
    assert_eq!(
        config.receive(Some(&header), &reserialized).unwrap_err(),
        WebhookError::SignatureMismatch
    );
    // A wrong signature is refused even for an unparseable body: no parse before the check.
    assert_eq!(
        config.receive(Some(&header), b"not json").unwrap_err(),
        WebhookError::SignatureMismatch
    );
    let other = WebhookConfig::new(&SecretString::from("other"));
    assert_eq!(
        other.receive(Some(&header), &body).unwrap_err(),
        WebhookError::SignatureMismatch
    );
}
