//! Template sends checked against the approved definitions before sending: the
//! typed error names the component, nothing reaches the API, definitions are
//! cached by name, and the check can be skipped or its cache invalidated.

use std::time::Duration;

use serde_json::{Value, json};
use whatsapp_cloud::messages::{
    CarouselCard, HeaderParam, Media, MediaSource, Message, Template, TemplateParam,
};
use whatsapp_cloud::templates::TemplateInfo;
use whatsapp_cloud::testkit::MockGraph;
use whatsapp_cloud::{Client, Error, TemplateMismatch};

const TO: &str = "14155550123";

fn definition(value: Value) -> TemplateInfo {
    serde_json::from_value(value).unwrap()
}

fn shipped() -> Value {
    json!({
        "name": "order_shipped", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
        "components": [
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Hi {{1}}, order {{2}} ships on {{3}}."},
            {"type": "BUTTONS", "buttons": [
                {"type": "URL", "text": "Track", "url": "https://shop.example.com/track/{{1}}"},
                {"type": "QUICK_REPLY", "text": "Stop updates"},
                {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+14155550100"}
            ]}
        ]
    })
}

fn good_send() -> Template {
    Template::new("order_shipped", "en_US")
        .header(HeaderParam::Image {
            image: Media::image(MediaSource::Link("https://shop.example.com/box.png".into())),
        })
        .body(vec![
            TemplateParam::text("Ana"),
            TemplateParam::text("10442"),
            TemplateParam::date_time("04/30/2025"),
        ])
        .url_button(0, "10442")
}

#[allow(clippy::needless_pass_by_value)] // call sites read better by value
fn mismatch(template: Template, def: Value) -> TemplateMismatch {
    template.check_against(&definition(def)).unwrap_err()
}

#[test]
fn a_matching_send_passes_and_each_component_is_named_when_wrong() {
    assert_eq!(good_send().check_against(&definition(shipped())), Ok(()));
    // Body count.
    let short = good_send().body(vec![TemplateParam::text("Ana")]);
    let e = mismatch(short, shipped());
    assert_eq!(
        (e.component.as_str(), e.problem.as_str()),
        (
            "body",
            "the definition has 3 placeholder(s), got 1 parameter(s)"
        )
    );
    // Header kind.
    let text_header = good_send().header(HeaderParam::text("Hi"));
    assert_eq!(mismatch(text_header, shipped()).component, "header");
    let no_header = Template::new("order_shipped", "en_US")
        .body(vec![
            TemplateParam::text("a"),
            TemplateParam::text("b"),
            TemplateParam::text("c"),
        ])
        .url_button(0, "x");
    let e = mismatch(no_header, shipped());
    assert_eq!(e.component, "header");
    assert!(e.problem.contains("image"), "{e}");
    // A dynamic URL button needs its suffix.
    let no_suffix = Template::new("order_shipped", "en_US")
        .header(HeaderParam::Image {
            image: Media::image(MediaSource::Id("1".into())),
        })
        .body(vec![
            TemplateParam::text("a"),
            TemplateParam::text("b"),
            TemplateParam::text("c"),
        ]);
    assert_eq!(mismatch(no_suffix, shipped()).component, "button 0");
    // Wrong kind at an index, a parameter for a phone button, an index past the end.
    assert_eq!(
        mismatch(good_send().copy_code_button(1, "X"), shipped()).component,
        "button 1"
    );
    assert_eq!(
        mismatch(good_send().quick_reply_button(2, "x"), shipped()).component,
        "button 2"
    );
    let e = mismatch(good_send().quick_reply_button(7, "x"), shipped());
    assert_eq!(
        (e.component.as_str(), e.problem.as_str()),
        ("button 7", "the definition has 3 button(s), indexed from 0")
    );
    // A quick-reply payload is optional.
    assert_eq!(
        good_send()
            .quick_reply_button(1, "stop")
            .check_against(&definition(shipped())),
        Ok(())
    );
}

#[test]
fn status_named_parameters_carousels_and_offers_are_checked() {
    let mut paused = shipped();
    paused["status"] = json!("PAUSED");
    assert_eq!(mismatch(good_send(), paused).component, "template");

    let named = json!({
        "name": "welcome", "language": "en_US", "status": "APPROVED", "parameter_format": "NAMED",
        "components": [{"type": "BODY", "text": "Hi {{first_name}}, welcome to {{store}}."}]
    });
    let ok = Template::new("welcome", "en_US").body(vec![
        TemplateParam::text("Ana").named("first_name"),
        TemplateParam::text("Acme").named("store"),
    ]);
    assert_eq!(ok.check_against(&definition(named.clone())), Ok(()));
    let misnamed = Template::new("welcome", "en_US").body(vec![
        TemplateParam::text("Ana").named("name"),
        TemplateParam::text("Acme").named("store"),
    ]);
    assert!(
        mismatch(misnamed, named.clone())
            .problem
            .contains("\"name\"")
    );
    // Issue 26, item 8: a named text header parameter, checked by name.
    let with_header = json!({
        "name": "order", "language": "en_US", "status": "APPROVED", "parameter_format": "NAMED",
        "components": [{"type": "HEADER", "format": "TEXT", "text": "Order {{order_number}}"},
                       {"type": "BODY", "text": "Hi {{first_name}}"}]
    });
    let good = Template::new("order", "en_US")
        .header(HeaderParam::named_text("order_number", "1042"))
        .body(vec![TemplateParam::text("Ana").named("first_name")]);
    assert_eq!(good.check_against(&definition(with_header.clone())), Ok(()));
    let wire = serde_json::to_value(&good).unwrap();
    assert_eq!(
        wire["components"][0]["parameters"][0]["parameter_name"],
        "order_number"
    );
    let wrong = Template::new("order", "en_US")
        .header(HeaderParam::named_text("order", "1042"))
        .body(vec![TemplateParam::text("Ana").named("first_name")]);
    let m = mismatch(wrong, with_header.clone());
    assert!(
        m.component == "header" && m.problem.contains("\"order\""),
        "{m:?}"
    );
    let unnamed = Template::new("order", "en_US")
        .header(HeaderParam::text("1042"))
        .body(vec![TemplateParam::text("Ana").named("first_name")]);
    assert_eq!(mismatch(unnamed, with_header).component, "header");
    // Issue 26, item 6: every placeholder gets exactly one value.
    let twice = Template::new("welcome", "en_US").body(vec![
        TemplateParam::text("Ana").named("first_name"),
        TemplateParam::text("Bea").named("first_name"),
    ]);
    let m = mismatch(twice, named.clone());
    assert!(
        m.problem.contains("\"first_name\" is given twice") && m.problem.contains("missing: store"),
        "{}",
        m.problem
    );
    let positional = Template::new("welcome", "en_US").body(vec![
        TemplateParam::text("Ana"),
        TemplateParam::text("Acme"),
    ]);
    assert_eq!(mismatch(positional, named).component, "body");

    let card_def = json!({"components": [
        {"type": "HEADER", "format": "IMAGE"},
        {"type": "BODY", "text": "{{1}} only"},
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Buy"}]}
    ]});
    let carousel = json!({
        "name": "picks", "language": "en_US", "status": "APPROVED",
        "components": [
            {"type": "BODY", "text": "Picked for you"},
            {"type": "CAROUSEL", "cards": [card_def.clone(), card_def]}
        ]
    });
    let card = |price: &str| {
        CarouselCard::image(MediaSource::Id("9".into()))
            .body(vec![TemplateParam::text(price)])
            .quick_reply_button(0, "buy")
    };
    let two = Template::new("picks", "en_US").carousel(vec![card("$1"), card("$2")]);
    assert_eq!(two.check_against(&definition(carousel.clone())), Ok(()));
    let three = Template::new("picks", "en_US").carousel(vec![card("$1"), card("$2"), card("$3")]);
    assert_eq!(mismatch(three, carousel.clone()).component, "carousel");
    let bare_card = CarouselCard::image(MediaSource::Id("9".into())).quick_reply_button(0, "buy");
    let e = mismatch(
        Template::new("picks", "en_US").carousel(vec![card("$1"), bare_card]),
        carousel,
    );
    assert_eq!(e.component, "carousel card 1 body");

    let offer = json!({
        "name": "flash", "language": "en_US", "status": "APPROVED",
        "components": [
            {"type": "LIMITED_TIME_OFFER", "limited_time_offer": {"text": "Ends soon", "has_expiration": true}},
            {"type": "BODY", "text": "Sale"},
            {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "FLASH"}]}
        ]
    });
    let without_expiry = Template::new("flash", "en_US").copy_code_button(0, "FLASH");
    assert_eq!(
        mismatch(without_expiry.clone(), offer.clone()).component,
        "limited_time_offer"
    );
    let with_expiry = without_expiry.limited_time_offer(1_767_225_600_000);
    assert_eq!(with_expiry.check_against(&definition(offer)), Ok(()));
}

fn checked_client(graph: &MockGraph) -> Client {
    graph
        .client_builder()
        .template_check(Duration::from_secs(3600))
        .build()
        .unwrap()
}

async fn template_lists(graph: &MockGraph) -> usize {
    graph
        .requests()
        .await
        .iter()
        .filter(|r| r.method() == "GET" && r.path().ends_with("/message_templates"))
        .count()
}

#[tokio::test]
async fn a_wrong_send_fails_locally_and_definitions_are_fetched_once_per_name() {
    let graph = MockGraph::start().await;
    graph.add_template(shipped());
    let mut spanish = shipped();
    spanish["language"] = json!("es_MX");
    graph.add_template(spanish);
    let client = checked_client(&graph);

    let wrong = Message::new(TO, good_send().body(vec![TemplateParam::text("Ana")]));
    let err = client.send(wrong).await.unwrap_err();
    let Error::TemplateMismatch(m) = &err else {
        panic!("expected a mismatch, got {err:?}")
    };
    assert_eq!(m.component, "body");
    assert!(!err.is_retryable());
    assert!(
        graph.message_requests().await.is_empty(),
        "nothing may be sent"
    );

    let sends = (0..8).map(|_| client.send(Message::new(TO, good_send())).into_future());
    for sent in futures_util::future::join_all(sends).await {
        sent.unwrap();
    }
    let es = Template::new("order_shipped", "es_MX")
        .header(HeaderParam::Image {
            image: Media::image(MediaSource::Id("1".into())),
        })
        .body(vec![
            TemplateParam::text("a"),
            TemplateParam::text("b"),
            TemplateParam::text("c"),
        ])
        .url_button(0, "1");
    client.send(Message::new(TO, es)).await.unwrap();
    assert_eq!(graph.message_requests().await.len(), 9);
    assert_eq!(
        template_lists(&graph).await,
        1,
        "one list call covers every language and every send"
    );
}

#[tokio::test]
async fn unknown_templates_are_refused_and_invalidation_refetches() {
    let graph = MockGraph::start().await;
    let client = checked_client(&graph);
    let err = client
        .send(Message::new(TO, good_send()))
        .await
        .unwrap_err();
    let Error::TemplateMismatch(m) = err else {
        panic!("expected a mismatch")
    };
    assert_eq!(m.component, "template");
    assert!(m.problem.contains("132001"));

    // Created (and approved) after the first miss: found, since misses are not cached.
    graph.add_template(shipped());
    client.send(Message::new(TO, good_send())).await.unwrap();
    let before = template_lists(&graph).await;
    client.send(Message::new(TO, good_send())).await.unwrap();
    assert_eq!(
        template_lists(&graph).await,
        before,
        "served from the cache"
    );
    client.templates().invalidate("order_shipped");
    client.send(Message::new(TO, good_send())).await.unwrap();
    assert_eq!(template_lists(&graph).await, before + 1);
    client.templates().invalidate_all();
    client.send(Message::new(TO, good_send())).await.unwrap();
    assert_eq!(template_lists(&graph).await, before + 2);
}

#[tokio::test]
async fn the_check_can_be_skipped_per_send_and_needs_the_business_account() {
    let graph = MockGraph::start().await;
    let client = checked_client(&graph);
    let legacy = Message::new(TO, Template::new("not_listed", "en_US"));
    client.send(legacy).skip_template_check().await.unwrap();
    assert_eq!(template_lists(&graph).await, 0);
    assert_eq!(graph.message_requests().await.len(), 1);

    let err = Client::builder()
        .access_token("t".to_owned().into())
        .phone_number_id("1")
        .template_check(Duration::from_secs(60))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("business account id"), "{err}");
}
