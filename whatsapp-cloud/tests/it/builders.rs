//! The send builders against their documented limits: one test per limit, each
//! checking the accepted edge and the first value past it, plus the wire shape.

use serde_json::{Value, json};
use whatsapp_cloud::messages::*;

const TO: &str = "14155550123";

fn field_of(content: impl Into<Content>) -> Option<&'static str> {
    Message::new(TO, content).validate().err().map(|e| e.field)
}

fn wire(content: impl Into<Content>) -> Value {
    Message::new(TO, content).to_json()
}

fn image(n: usize) -> MediaSource {
    MediaSource::Link(format!("https://shop.example.com/{n}.png"))
}

fn card(n: usize) -> CarouselCard {
    CarouselCard::image(image(n))
        .body(vec![TemplateParam::text(format!("${n}9.00"))])
        .quick_reply_button(0, format!("buy-{n}"))
}

fn carousel(cards: usize) -> Template {
    Template::new("spring_picks", "en_US").carousel((0..cards).map(card).collect())
}

#[test]
fn carousel_has_two_to_ten_cards() {
    assert_eq!(
        field_of(carousel(1)),
        Some("template.components.carousel.cards")
    );
    assert_eq!(field_of(carousel(2)), None);
    assert_eq!(field_of(carousel(MAX_CAROUSEL_CARDS)), None);
    assert_eq!(
        field_of(carousel(MAX_CAROUSEL_CARDS + 1)),
        Some("template.components.carousel.cards")
    );
    let json = wire(carousel(3));
    let cards = &json["template"]["components"][0]["cards"];
    assert_eq!(json["template"]["components"][0]["type"], "carousel");
    assert_eq!(cards[2]["card_index"], 2);
    assert_eq!(
        cards[1]["components"][0]["parameters"][0]["image"]["link"],
        "https://shop.example.com/1.png"
    );
    assert_eq!(cards[1]["components"][2]["sub_type"], "quick_reply");
}

#[test]
fn carousel_cards_have_at_most_two_buttons_of_matching_kinds() {
    let three = |n| card(n).url_button(1, "x").quick_reply_button(2, "y");
    let over = Template::new("t", "en_US").carousel(vec![three(0), three(1)]);
    assert_eq!(
        field_of(over),
        Some("template.components.carousel.cards.components.button")
    );
    let two = |n| card(n).url_button(1, format!("sku-{n}"));
    assert_eq!(
        field_of(Template::new("t", "en_US").carousel(vec![two(0), two(1)])),
        None
    );
    let mixed = Template::new("t", "en_US").carousel(vec![two(0), card(1)]);
    assert_eq!(
        field_of(mixed),
        Some("template.components.carousel.cards.components")
    );
}

#[test]
fn carousel_cards_take_image_or_video_headers() {
    let video =
        CarouselCard::video(MediaSource::Id("1234567890".into())).quick_reply_button(0, "a");
    let doc_card = CarouselCard::image(image(0))
        .quick_reply_button(0, "a")
        .body(vec![]);
    assert_eq!(
        field_of(Template::new("t", "en_US").carousel(vec![video.clone(), doc_card])),
        None
    );
    assert_eq!(
        wire(Template::new("t", "en_US").carousel(vec![video.clone(), video]))["template"]["components"]
            [0]["cards"][0]["components"][0]["parameters"][0]["type"],
        "video"
    );
}

#[test]
fn copy_code_is_at_most_twenty_characters() {
    assert_eq!(MAX_COUPON_CODE, 20, "Meta's coupon code templates page");
    let with = |code: &str| Template::new("fall_sale", "en_US").copy_code_button(1, code);
    assert_eq!(field_of(with(&"C".repeat(MAX_COUPON_CODE))), None);
    assert_eq!(
        field_of(with(&"C".repeat(MAX_COUPON_CODE + 1))),
        Some("template.components.button.parameters.coupon_code")
    );
    assert_eq!(
        field_of(with("")),
        Some("template.components.button.parameters.coupon_code")
    );
    let json = wire(with("FALL25"));
    assert_eq!(
        json["template"]["components"][0],
        json!({"type": "button", "sub_type": "copy_code", "index": "1",
               "parameters": [{"type": "coupon_code", "coupon_code": "FALL25"}]})
    );
}

#[test]
fn one_time_password_fills_body_and_button_and_is_bounded() {
    let otp = Template::new("login_code", "en_US")
        .url_button(0, "old")
        .one_time_password("482913");
    let json = wire(otp);
    let components = json["template"]["components"].as_array().unwrap().clone();
    assert_eq!(
        components.len(),
        2,
        "the earlier button 0 is replaced: {components:?}"
    );
    assert_eq!(components[0]["parameters"][0]["text"], "482913");
    assert_eq!(components[1]["parameters"][0]["text"], "482913");
    let code = |n: usize| Template::new("login_code", "en_US").one_time_password("1".repeat(n));
    assert_eq!(field_of(code(MAX_OTP_CODE)), None);
    assert_eq!(
        field_of(code(MAX_OTP_CODE + 1)),
        Some("template.components.button.parameters.text")
    );
}

#[test]
fn flow_catalog_and_multi_product_buttons_have_their_shapes() {
    let flow = Template::new("book", "en_US").flow_button(0, "tok-1", Some(json!({"slot": "am"})));
    assert_eq!(
        wire(flow)["template"]["components"][0]["parameters"][0],
        json!({"type": "action", "action": {"flow_token": "tok-1", "flow_action_data": {"slot": "am"}}})
    );
    assert_eq!(
        field_of(Template::new("book", "en_US").flow_button(0, " ", None)),
        Some("template.components.button.parameters.action.flow_token")
    );
    let catalog = Template::new("shop", "en_US").catalog_button(0, Some("sku-1".into()));
    assert_eq!(
        wire(catalog)["template"]["components"][0]["parameters"][0]["action"],
        json!({"thumbnail_product_retailer_id": "sku-1"})
    );
    let mpm = Template::new("picks", "en_US").multi_product_button(
        0,
        "sku-1",
        vec![ProductSection::new("Shoes", ["sku-1", "sku-2"])],
    );
    let json = wire(mpm);
    assert_eq!(json["template"]["components"][0]["sub_type"], "mpm");
    assert_eq!(
        json["template"]["components"][0]["parameters"][0]["action"]["sections"][0]["product_items"]
            [1]["product_retailer_id"],
        "sku-2"
    );
}

fn sections(n_sections: usize, per_section: usize) -> Vec<ProductSection> {
    (0..n_sections)
        .map(|s| {
            ProductSection::new(
                format!("S{s}"),
                (0..per_section).map(|p| format!("sku-{s}-{p}")),
            )
        })
        .collect()
}

#[test]
fn multi_product_has_at_most_ten_sections_and_thirty_products() {
    let mpm = |s| Template::new("picks", "en_US").multi_product_button(0, "sku-0-0", s);
    assert_eq!(field_of(mpm(sections(10, 3))), None);
    assert_eq!(
        field_of(mpm(sections(11, 1))),
        Some("template.components.button.parameters.action.sections")
    );
    assert_eq!(
        field_of(mpm(sections(2, 16))),
        Some("template.components.button.parameters.action.sections")
    );
    let untitled = vec![
        ProductSection::untitled(["a"]),
        ProductSection::untitled(["b"]),
    ];
    assert_eq!(
        field_of(mpm(untitled)),
        Some("template.components.button.parameters.action.sections.title")
    );
}

#[test]
fn product_list_limits() {
    let list = |s| Interactive::product_list("Spring", "Our picks", "367025965434465", s);
    assert_eq!(field_of(list(sections(10, 3))), None);
    assert_eq!(
        field_of(list(sections(11, 1))),
        Some("interactive.action.sections")
    );
    assert_eq!(
        field_of(list(sections(1, 31))),
        Some("interactive.action.sections")
    );
    assert_eq!(field_of(list(vec![])), Some("interactive.action.sections"));
    let long_title = vec![ProductSection::new("T".repeat(25), ["a"])];
    assert_eq!(
        field_of(list(long_title)),
        Some("interactive.action.sections.title")
    );
    let no_header = Interactive::product_list("", "Our picks", "1", sections(1, 1));
    assert_eq!(field_of(no_header), Some("interactive.header"));
    let json = wire(list(sections(1, 2)));
    assert_eq!(json["interactive"]["type"], "product_list");
    assert_eq!(
        json["interactive"]["header"],
        json!({"type": "text", "text": "Spring"})
    );
    assert_eq!(
        json["interactive"]["action"]["catalog_id"],
        "367025965434465"
    );
}

#[test]
fn single_product_body_is_optional() {
    let bare = Interactive::product("", "367025965434465", "sku-1");
    assert_eq!(field_of(bare.clone()), None);
    let json = wire(bare);
    assert!(json["interactive"].get("body").is_none());
    assert_eq!(
        json["interactive"]["action"],
        json!({"catalog_id": "367025965434465", "product_retailer_id": "sku-1"})
    );
    assert_eq!(
        field_of(Interactive::product("x", "", "sku-1")),
        Some("interactive.action.catalog_id")
    );
    // Other kinds still need their body.
    assert_eq!(
        field_of(Interactive::call_permission_request("")),
        Some("interactive.body.text")
    );
}

#[test]
fn catalog_contact_and_call_permission_requests_have_their_shapes() {
    let catalog = wire(Interactive::catalog("Browse", Some("sku-9".into())));
    assert_eq!(
        catalog["interactive"]["action"],
        json!({"name": "catalog_message", "parameters": {"thumbnail_product_retailer_id": "sku-9"}})
    );
    let bare = wire(Interactive::catalog("Browse", None));
    assert_eq!(
        bare["interactive"]["action"],
        json!({"name": "catalog_message"})
    );
    let contact = Message::new(
        "US.13491208655302741918",
        Interactive::contact_info_request("Share your number?"),
    );
    let json = contact.to_json();
    assert_eq!(json["recipient"], "US.13491208655302741918");
    assert_eq!(json["interactive"]["type"], "request_contact_info");
    assert_eq!(
        json["interactive"]["action"],
        json!({"name": "request_contact_info"})
    );
    let permission = wire(Interactive::call_permission_request("May we call you?"));
    assert_eq!(permission["interactive"]["type"], "call_permission_request");
}

#[test]
fn address_request_needs_a_two_letter_country() {
    let ok = Interactive::address_request("Where to?", "IN", Some(json!({"name": "Ana"})));
    assert_eq!(field_of(ok.clone()), None);
    assert_eq!(
        wire(ok)["interactive"]["action"]["parameters"]["values"]["name"],
        "Ana"
    );
    assert_eq!(
        field_of(Interactive::address_request("Where to?", "India", None)),
        Some("interactive.action.parameters.country")
    );
}

#[test]
fn voice_call_button_limits() {
    let call = |label: &str, ttl, payload: &str| {
        Interactive::voice_call(
            "Call us",
            Some(label.into()),
            Some(ttl),
            Some(payload.into()),
        )
    };
    assert_eq!(
        field_of(call(&"L".repeat(20), 43_200, &"p".repeat(512))),
        None
    );
    assert_eq!(
        field_of(call(&"L".repeat(21), 60, "p")),
        Some("interactive.action.parameters.display_text")
    );
    assert_eq!(
        field_of(call("Call", 0, "p")),
        Some("interactive.action.parameters.ttl_minutes")
    );
    assert_eq!(
        field_of(call("Call", 43_201, "p")),
        Some("interactive.action.parameters.ttl_minutes")
    );
    assert_eq!(
        field_of(call("Call", 60, &"p".repeat(513))),
        Some("interactive.action.parameters.payload")
    );
    let defaults = wire(Interactive::voice_call("Call us", None, None, None));
    assert_eq!(
        defaults["interactive"]["action"],
        json!({"name": "voice_call"})
    );
}

#[test]
fn limited_time_offer_needs_a_positive_expiry() {
    let offer = |ms| {
        Template::new("flash", "en_US")
            .limited_time_offer(ms)
            .copy_code_button(0, "FLASH")
    };
    assert_eq!(field_of(offer(1_767_225_600_000)), None);
    assert_eq!(
        field_of(offer(0)),
        Some("template.components.limited_time_offer.expiration_time_ms")
    );
    assert_eq!(
        wire(offer(1_767_225_600_000))["template"]["components"][0],
        json!({"type": "limited_time_offer", "parameters": [{"type": "limited_time_offer",
               "limited_time_offer": {"expiration_time_ms": 1_767_225_600_000_i64}}]})
    );
}

#[test]
fn every_kind_takes_context_and_callback_data() {
    let kinds: Vec<Content> = vec![
        Interactive::product("", "1", "sku").into(),
        Interactive::catalog("Browse", None).into(),
        Interactive::call_permission_request("May we call?").into(),
        carousel(2).into(),
        Reaction::new("wamid.ORIGINAL", "👍").into(),
    ];
    for content in kinds {
        let m = Message::new(TO, content)
            .reply_to("wamid.ORIGINAL")
            .callback_data("campaign-7");
        assert!(m.validate().is_ok());
        let json = m.to_json();
        assert_eq!(json["context"]["message_id"], "wamid.ORIGINAL");
        assert_eq!(json["biz_opaque_callback_data"], "campaign-7");
    }
}

/// Issue 26, item 9: a contact card carries every field of Meta's contacts
/// message; a birthday that is not `YYYY-MM-DD` is refused before sending.
#[test]
fn a_contact_card_has_every_documented_field() {
    use whatsapp_cloud::messages::{ContactAddress, ContactCard, Message};
    let card = ContactCard::new("Dr. Ana María Lima Jr.")
        .first_name("Ana")
        .middle_name("María")
        .last_name("Lima")
        .name_prefix("Dr.")
        .name_suffix("Jr.")
        .phone("+14155550123", "CELL")
        .email("ana@example.com")
        .address(
            ContactAddress::new("WORK")
                .street("1 Market St")
                .city("San Francisco")
                .state("CA")
                .zip("94105")
                .country("United States", "US"),
        )
        .birthday("1990-04-30")
        .org("Acme", Some("Support"), Some("Lead"))
        .url("https://example.com", "WORK");
    let m = Message::new("14155550123", vec![card.clone()]);
    assert!(m.validate().is_ok());
    let json = m.to_json();
    let c = &json["contacts"][0];
    assert_eq!(
        c["name"],
        serde_json::json!({"formatted_name": "Dr. Ana María Lima Jr.", "first_name": "Ana", "last_name": "Lima",
                           "middle_name": "María", "suffix": "Jr.", "prefix": "Dr."})
    );
    assert_eq!(
        c["addresses"][0],
        serde_json::json!({"street": "1 Market St", "city": "San Francisco", "state": "CA", "zip": "94105",
                           "country": "United States", "country_code": "US", "type": "WORK"})
    );
    assert_eq!(c["birthday"], "1990-04-30");
    assert_eq!(
        c["org"],
        serde_json::json!({"company": "Acme", "department": "Support", "title": "Lead"})
    );
    assert_eq!(
        c["urls"][0],
        serde_json::json!({"url": "https://example.com", "type": "WORK"})
    );
    for bad in ["04/30/1990", "1990-02-30", "1990-13-01", "1990-4-30", ""] {
        let e = Message::new("14155550123", vec![card.clone().birthday(bad)])
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "contacts.birthday", "{bad}");
    }
    assert!(
        Message::new("14155550123", vec![card.birthday("2024-02-29")])
            .validate()
            .is_ok(),
        "a leap day"
    );
}
