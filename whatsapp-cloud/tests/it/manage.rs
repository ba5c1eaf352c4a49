//! The management surface against the mock Graph API: phone numbers with
//! pagination, registration, codes and PIN, display names, QR codes,
//! conversational components, commerce settings, blocked users, template
//! edits, filters and deletes by id, analytics, and Flows.

use serde_json::json;
use whatsapp_cloud::Error;
use whatsapp_cloud::analytics::{AnalyticsQuery, Granularity, PricingDimension};
use whatsapp_cloud::flows::{
    FlowCategory, FlowMetric, FlowStatus, FlowUpdate, KeySignatureStatus, MetricGranularity,
    NewFlow,
};
use whatsapp_cloud::messages::{Message, Template, Text};
use whatsapp_cloud::phone::{
    BotCommand, CodeMethod, CommerceSettings, ConversationalComponents, NameStatus, QrImageFormat,
};
use whatsapp_cloud::templates::{NewTemplate, TemplateEdit, TemplateFilter, TemplateStatus};
use whatsapp_cloud::testkit::{MOCK_VERIFICATION_CODE, MockGraph};

fn field(err: Error) -> &'static str {
    match err {
        Error::Validation(v) => v.field,
        other => panic!("expected a local validation error, got {other:?}"),
    }
}

#[tokio::test]
async fn phone_numbers_are_paged_to_the_end() {
    let graph = MockGraph::start().await;
    for i in 0..4 {
        graph.add_phone_number(&format!("20{i}"), &format!("+1 555-000-200{i}"));
    }
    let client = graph.client();
    let first = client.account().phone_numbers_page(None, 2).await.unwrap();
    assert_eq!(first.data.len(), 2);
    let second = client
        .account()
        .phone_numbers_page(first.after.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(second.data[0].id.as_deref(), Some("201"));
    let last = client
        .account()
        .phone_numbers_page(second.after.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!((last.data.len(), last.after), (1, None));
    assert_eq!(client.account().phone_numbers().await.unwrap().len(), 5);
}

#[tokio::test]
async fn registration_codes_pin_and_display_name() {
    let graph = MockGraph::start().await;
    let phone = graph.client().phone();
    assert_eq!(field(phone.register("12345").await.unwrap_err()), "pin");
    assert_eq!(
        field(phone.set_two_step_pin("12a456").await.unwrap_err()),
        "pin"
    );
    phone.register("246810").await.unwrap();
    assert_eq!(graph.registration(), (true, Some("246810".into())));
    // Registering again with another PIN is refused, as the API does.
    assert!(phone.register("135790").await.is_err());
    phone.set_two_step_pin("135790").await.unwrap();
    phone.register("135790").await.unwrap();
    phone.deregister().await.unwrap();
    assert!(!graph.registration().0);

    assert!(
        phone.verify_code(MOCK_VERIFICATION_CODE).await.is_err(),
        "no code was requested"
    );
    phone.request_code(CodeMethod::Sms, "en_US").await.unwrap();
    assert!(phone.verify_code("000000").await.is_err());
    phone.verify_code(MOCK_VERIFICATION_CODE).await.unwrap();
    assert!(graph.verified());

    let before = phone.display_name().await.unwrap();
    assert_eq!(before.new_name_status, Some(NameStatus::None));
    phone.request_display_name("Acme Support").await.unwrap();
    let after = phone.display_name().await.unwrap();
    assert_eq!(after.new_display_name.as_deref(), Some("Acme Support"));
    assert_eq!(after.new_name_status, Some(NameStatus::PendingReview));
    assert_eq!(
        field(phone.request_display_name(" ").await.unwrap_err()),
        "new_display_name"
    );
}

#[tokio::test]
async fn qr_codes_are_created_listed_updated_and_deleted() {
    let graph = MockGraph::start().await;
    let phone = graph.client().phone();
    let long = "m".repeat(141);
    assert_eq!(
        field(
            phone
                .create_qr_code(&long, QrImageFormat::Png)
                .await
                .unwrap_err()
        ),
        "prefilled_message"
    );
    let qr = phone
        .create_qr_code("I'd like to book a visit", QrImageFormat::Svg)
        .await
        .unwrap();
    assert!(
        qr.qr_image_url
            .as_deref()
            .is_some_and(|u| u.ends_with(".svg"))
    );
    assert!(
        qr.deep_link_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://wa.me/"))
    );
    phone
        .create_qr_code("Order status", QrImageFormat::Png)
        .await
        .unwrap();
    assert_eq!(phone.qr_codes(QrImageFormat::Png).await.unwrap().len(), 2);
    let updated = phone
        .update_qr_code(&qr.code, "Book a visit")
        .await
        .unwrap();
    assert_eq!(updated.prefilled_message, "Book a visit");
    assert_eq!(
        phone.qr_code(&qr.code).await.unwrap().prefilled_message,
        "Book a visit"
    );
    phone.delete_qr_code(&qr.code).await.unwrap();
    assert!(phone.qr_code(&qr.code).await.is_err());
    assert_eq!(phone.qr_codes(QrImageFormat::Png).await.unwrap().len(), 1);
}

#[tokio::test]
async fn conversational_components_and_commerce_settings_round_trip() {
    let graph = MockGraph::start().await;
    let phone = graph.client().phone();
    let too_many = ConversationalComponents::new()
        .ice_breakers((0..5).map(|i| format!("Prompt {i}")).collect());
    assert_eq!(
        field(
            phone
                .set_conversational_components(&too_many)
                .await
                .unwrap_err()
        ),
        "prompts"
    );
    let long_name =
        ConversationalComponents::new().commands(vec![BotCommand::new("c".repeat(33), "x")]);
    assert_eq!(
        field(
            phone
                .set_conversational_components(&long_name)
                .await
                .unwrap_err()
        ),
        "commands.command_name"
    );
    let set = ConversationalComponents::new()
        .welcome_message(true)
        .commands(vec![BotCommand::new("status", "Where is my order?")])
        .ice_breakers(vec!["Book an appointment".into()]);
    phone.set_conversational_components(&set).await.unwrap();
    assert_eq!(phone.conversational_components().await.unwrap(), set);

    assert_eq!(
        phone.commerce_settings().await.unwrap(),
        CommerceSettings::new(false, false)
    );
    phone
        .set_commerce_settings(CommerceSettings::new(true, true))
        .await
        .unwrap();
    assert_eq!(
        phone.commerce_settings().await.unwrap(),
        CommerceSettings::new(true, true)
    );
}

#[tokio::test]
async fn users_are_blocked_one_by_one_and_listed() {
    let graph = MockGraph::start().await;
    let phone = graph.client().phone();
    assert_eq!(
        field(phone.block_users(&[]).await.unwrap_err()),
        "block_users"
    );
    let many: Vec<String> = (0..1001).map(|i| format!("1415555{i:04}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(
        field(phone.block_users(&refs).await.unwrap_err()),
        "block_users"
    );

    let outcome = phone
        .block_users(&["+1 (415) 555-0123", "12", "14155550124"])
        .await
        .unwrap();
    assert_eq!(outcome.added_users.len(), 2);
    assert_eq!(outcome.failed_users.len(), 1);
    assert_eq!(outcome.failed_users[0].code(), Some(139_100));
    let debug = format!("{outcome:?}");
    assert!(
        !debug.contains("4155550123"),
        "numbers are redacted in Debug: {debug}"
    );
    assert_eq!(graph.blocked_users(), ["14155550123", "14155550124"]);

    let page = phone.blocked_users(None, 1).await.unwrap();
    assert_eq!(page.data[0].wa_id.as_deref(), Some("14155550123"));
    let rest = phone.blocked_users(page.after.as_deref(), 1).await.unwrap();
    assert_eq!((rest.data.len(), rest.after), (1, None));

    let removed = phone.unblock_users(&["14155550123"]).await.unwrap();
    assert_eq!(
        removed.added_users.len(),
        1,
        "removed_users are read into the same list"
    );
    assert_eq!(graph.blocked_users(), ["14155550124"]);
}

#[tokio::test]
async fn templates_are_filtered_edited_and_deleted_by_id() {
    let graph = MockGraph::start().await;
    let templates = graph.client().templates();
    let body = |text: &str| vec![json!({"type": "BODY", "text": text})];
    let created = templates
        .create(&NewTemplate::new(
            "order_update",
            "en_US",
            "UTILITY",
            body("Order {{1}}"),
        ))
        .await
        .unwrap();
    templates
        .create(&NewTemplate::new(
            "order_update",
            "es_MX",
            "UTILITY",
            body("Pedido {{1}}"),
        ))
        .await
        .unwrap();
    templates
        .create(&NewTemplate::new(
            "fall_sale",
            "en_US",
            "MARKETING",
            body("Sale"),
        ))
        .await
        .unwrap();
    let utility = templates
        .list_filtered(&TemplateFilter::new().category("UTILITY").language("en_US"))
        .await
        .unwrap();
    assert_eq!(utility.len(), 1);
    assert_eq!(utility[0].name, "order_update");
    let pending = templates
        .list_filtered(&TemplateFilter::new().status(TemplateStatus::Pending))
        .await
        .unwrap();
    assert_eq!(pending.len(), 3);

    let id = created.id.unwrap();
    templates
        .edit(
            &id,
            &TemplateEdit::components(body("Order {{1}} is on its way")),
        )
        .await
        .unwrap();
    let edited = templates.get_by_name("order_update").await.unwrap();
    let en = edited
        .iter()
        .find(|t| t.language.as_deref() == Some("en_US"))
        .unwrap();
    assert_eq!(en.components[0]["text"], "Order {{1}} is on its way");

    templates.delete_by_id(&id, "order_update").await.unwrap();
    let left = templates.get_by_name("order_update").await.unwrap();
    assert_eq!(left.len(), 1, "only the deleted language goes");
    assert_eq!(left[0].language.as_deref(), Some("es_MX"));
}

#[tokio::test]
async fn analytics_report_what_was_sent() {
    let graph = MockGraph::start().await;
    let client = graph.client();
    client
        .send(Message::new("14155550123", Text::new("hi")))
        .await
        .unwrap();
    client
        .send(Message::new(
            "14155550123",
            Template::new("order_update", "en_US"),
        ))
        .await
        .unwrap();
    let range = AnalyticsQuery::new(1_764_547_200, 1_764_633_600, Granularity::Daily);
    let messages = client.analytics().messages(&range).await.unwrap();
    assert_eq!(messages.granularity.as_deref(), Some("DAY"));
    assert_eq!(messages.data_points[0].sent, Some(2));
    let pricing = client
        .analytics()
        .pricing(
            &range
                .clone()
                .pricing_dimensions([PricingDimension::PricingCategory]),
        )
        .await
        .unwrap();
    assert_eq!(pricing[0].volume, Some(1));
    assert_eq!(pricing[0].pricing_category.as_deref(), Some("UTILITY"));
    let conversations = client.analytics().conversations(&range).await.unwrap();
    assert_eq!(conversations[0].conversation, Some(2));
    let backwards = AnalyticsQuery::new(10, 5, Granularity::Monthly);
    assert_eq!(
        field(client.analytics().messages(&backwards).await.unwrap_err()),
        "start"
    );
    let bad_country = range.country_codes(["usa"]);
    assert_eq!(
        field(client.analytics().pricing(&bad_country).await.unwrap_err()),
        "country_codes"
    );
}

const FLOW_JSON: &str = r#"{"version": "6.0", "screens": [{"id": "PICK_DATE", "layout": {}}]}"#;

#[tokio::test]
async fn flows_go_from_draft_to_published_to_deprecated() {
    let graph = MockGraph::start().await;
    let flows = graph.client().flows();
    let invalid = NewFlow::new("book", vec![FlowCategory::AppointmentBooking]).flow_json("[1]");
    assert_eq!(
        field(flows.create(&invalid).await.unwrap_err()),
        "flow_json"
    );
    let http =
        NewFlow::new("book", vec![FlowCategory::AppointmentBooking]).endpoint_uri("http://x");
    assert_eq!(
        field(flows.create(&http).await.unwrap_err()),
        "endpoint_uri"
    );

    let saved = flows
        .create(&NewFlow::new("book", vec![FlowCategory::AppointmentBooking]).flow_json("{}"))
        .await
        .unwrap();
    assert_eq!(saved.validation_errors.len(), 2, "{saved:?}");
    let id = saved.id.unwrap();
    assert!(
        flows.publish(&id).await.is_err(),
        "a Flow with errors cannot be published"
    );
    let fixed = flows.update_json(&id, FLOW_JSON).await.unwrap();
    assert!(fixed.validation_errors.is_empty(), "{fixed:?}");
    assert_eq!(graph.flows()[0]["flow_json"], FLOW_JSON);
    flows
        .update(
            &id,
            &FlowUpdate::new()
                .name("book_visit")
                .endpoint_uri("https://bridge.example.com/flows"),
        )
        .await
        .unwrap();
    flows.publish(&id).await.unwrap();
    let info = flows.get(&id).await.unwrap();
    assert_eq!(
        (info.name.as_str(), info.status),
        ("book_visit", Some(FlowStatus::Published))
    );
    assert_eq!(info.categories, [FlowCategory::AppointmentBooking]);
    assert!(
        flows.update_json(&id, FLOW_JSON).await.is_err(),
        "a published Flow is frozen"
    );
    assert!(
        flows.delete(&id).await.is_err(),
        "only drafts can be deleted"
    );

    let first = flows.preview(&id, false).await.unwrap();
    let again = flows.preview(&id, false).await.unwrap();
    let fresh = flows.preview(&id, true).await.unwrap();
    assert_eq!(first, again);
    assert_ne!(first.preview_url, fresh.preview_url);

    let metric = flows
        .metrics(
            &id,
            FlowMetric::EndpointRequestCount,
            MetricGranularity::Day,
            "2026-11-01",
            "2026-11-29",
        )
        .await
        .unwrap();
    assert_eq!(metric.name.as_deref(), Some("ENDPOINT_REQUEST_COUNT"));
    assert_eq!(metric.data_points[0].data[0].value, Some(0.0));
    let bad_date = flows
        .metrics(
            &id,
            FlowMetric::EndpointAvailability,
            MetricGranularity::Day,
            "11/01/2026",
            "2026-11-29",
        )
        .await
        .unwrap_err();
    assert_eq!(field(bad_date), "since");

    flows.deprecate(&id).await.unwrap();
    assert_eq!(
        flows.get(&id).await.unwrap().status,
        Some(FlowStatus::Deprecated)
    );

    let draft = flows
        .create(&NewFlow::new("survey", vec![FlowCategory::Survey]))
        .await
        .unwrap()
        .id
        .unwrap();
    assert_eq!(flows.list().await.unwrap().len(), 2);
    flows.delete(&draft).await.unwrap();
    assert_eq!(flows.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_business_public_key_is_uploaded_and_read_back() {
    let graph = MockGraph::start().await;
    let flows = graph.client().flows();
    assert!(flows.public_key().await.is_err(), "none registered yet");
    let not_pem = flows.upload_public_key("MIIBIjANBg").await.unwrap_err();
    assert_eq!(field(not_pem), "business_public_key");
    let pem = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----\n";
    flows.upload_public_key(pem).await.unwrap();
    let key = flows.public_key().await.unwrap();
    assert_eq!(key.business_public_key.as_deref(), Some(pem));
    assert_eq!(
        key.business_public_key_signature_status,
        Some(KeySignatureStatus::Valid)
    );
}
