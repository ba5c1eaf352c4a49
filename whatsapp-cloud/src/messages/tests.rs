use super::*;

fn err(m: impl Into<Box<Message>>) -> ValidationError {
    let m: Box<Message> = m.into();
    m.validate().unwrap_err()
}

#[test]
fn recipients_are_phones_or_user_ids() {
    assert_eq!(
        Recipient::parse("+1 (415) 555-0123"),
        Recipient::Phone("+1 (415) 555-0123".into())
    );
    assert_eq!(
        Recipient::parse("US.1349"),
        Recipient::UserId("US.1349".into())
    );
    assert_eq!(err(Message::new("1234", Text::new("x"))).field, "to");
    assert_eq!(
        err(Message::new("1415555012345678", Text::new("x"))).field,
        "to"
    );
    assert_eq!(
        err(Message::new("+1 415 555 0123 ext 4", Text::new("x"))).field,
        "to"
    );
}

#[test]
fn text_limit_counts_characters_not_bytes() {
    assert!(
        Message::new("14155550123", Text::new("é".repeat(4096)))
            .validate()
            .is_ok()
    );
    let e = err(Message::new("14155550123", Text::new("é".repeat(4097))));
    assert_eq!(e.problem, "at most 4096 characters, got 4097");
}

#[test]
fn list_rules() {
    let rows = |n: usize| {
        (0..n)
            .map(|i| ListRow::new(format!("r{i}"), "Row"))
            .collect::<Vec<_>>()
    };
    let ok = Interactive::list(
        "b",
        "Pick",
        vec![
            ListSection::new("A", rows(5)),
            ListSection::new("B", rows(5)),
        ],
    );
    assert!(Message::new("14155550123", ok).validate().is_ok());
    let untitled = Interactive::list(
        "b",
        "Pick",
        vec![
            ListSection::untitled(rows(1)),
            ListSection::new("B", rows(1)),
        ],
    );
    assert_eq!(
        err(Message::new("14155550123", untitled)).field,
        "interactive.action.sections.title"
    );
    let long_desc = Interactive::list(
        "b",
        "Pick",
        vec![ListSection::untitled(vec![
            ListRow::new("1", "t").description("d".repeat(73)),
        ])],
    );
    assert_eq!(
        err(Message::new("14155550123", long_desc)).field,
        "interactive.action.sections.rows.description"
    );
    let no_sections = Interactive::list("b", "Pick", vec![]);
    assert_eq!(
        err(Message::new("14155550123", no_sections)).field,
        "interactive.action.sections"
    );
}

#[test]
fn button_ids_must_be_unique_and_headers_bounded() {
    let dup = Interactive::buttons(
        "b",
        vec![ReplyButton::new("a", "A"), ReplyButton::new("a", "B")],
    );
    assert!(
        err(Message::new("14155550123", dup))
            .problem
            .contains("unique")
    );
    let header = Interactive::buttons("b", vec![ReplyButton::new("a", "A")]).header(
        InteractiveHeader::Text {
            text: "h".repeat(61),
        },
    );
    assert_eq!(
        err(Message::new("14155550123", header)).field,
        "interactive.header.text"
    );
}

#[test]
fn template_rules() {
    let mixed = Template::new("t", "en_US").body(vec![
        TemplateParam::text("a").named("first"),
        TemplateParam::text("b"),
    ]);
    assert!(
        err(Message::new("14155550123", mixed))
            .problem
            .contains("named")
    );
    let bad_code =
        Template::new("t", "en_US").body(vec![TemplateParam::currency("usd", 1, "$0.00")]);
    assert_eq!(
        err(Message::new("14155550123", bad_code)).field,
        "template.components.body.parameters.currency.code"
    );
    let twice = Template::new("t", "en_US")
        .quick_reply_button(0, "a")
        .quick_reply_button(0, "b");
    // Setting a button index again replaces the earlier value, as `body` does.
    let json = Message::new("14155550123", twice).to_json();
    let components = json["template"]["components"].as_array().unwrap();
    assert_eq!(components.len(), 1);
    assert_eq!(components[0]["parameters"][0]["payload"], "b");
    let named = Template::new("t", "en_US").body(vec![TemplateParam::text("Ana").named("name")]);
    let json = Message::new("14155550123", named).to_json();
    assert_eq!(
        json["template"]["components"][0]["parameters"][0],
        serde_json::json!({"parameter_name": "name", "type": "text", "text": "Ana"})
    );
    assert!(Content::from(Template::new("t", "en_US")).is_template());
}

#[test]
fn media_kinds_accept_their_mime_types() {
    assert!(MediaKind::Audio.accepts("audio/ogg; codecs=opus"));
    assert!(MediaKind::Image.accepts("IMAGE/PNG"));
    assert!(!MediaKind::Image.accepts("image/gif"));
    assert_eq!(MediaKind::Sticker.max_bytes(), 500 * 1024);
    let bad_link = Media::image(MediaSource::Link("ftp://x".into()));
    assert_eq!(err(Message::new("14155550123", bad_link)).field, "image");
    let filename_on_image = Media::image(MediaSource::Id("1".into())).filename("x.jpg");
    assert!(
        err(Message::new("14155550123", filename_on_image))
            .problem
            .contains("documents")
    );
}

#[test]
fn location_bounds_and_callback_data() {
    assert_eq!(
        err(Message::new("14155550123", Location::new(91.0, 0.0))).field,
        "location"
    );
    let long = Message::new("14155550123", Text::new("x")).callback_data("c".repeat(513));
    assert_eq!(err(long).field, "biz_opaque_callback_data");
}

#[test]
fn wire_form_content_round_trips_and_is_checked() {
    let typed: Content = Template::new("payment_due", "en_US").into();
    let raw = Content::Json(typed.to_json_map());
    assert!(raw.is_template());
    let a = Message::new("14155550123", typed).to_json();
    let b = Message::new("14155550123", raw.clone()).to_json();
    assert_eq!(
        a, b,
        "the wire form sends exactly what the typed content sends"
    );
    assert!(Message::new("14155550123", raw).validate().is_ok());
    let mut broken = serde_json::Map::new();
    broken.insert("type".into(), "text".into());
    let e = Message::new("14155550123", Content::Json(broken))
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("type"), "{e}");
}
