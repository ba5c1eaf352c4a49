//! The client against the mock Graph API and raw wiremock answers.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use whatsapp_cloud::messages::{
    ContactCard, FlowAction, FlowRef, HeaderParam, Interactive, ListRow, ListSection, Location,
    Media, MediaSource, Message, Reaction, ReplyButton, Template, TemplateParam, Text,
};
use whatsapp_cloud::retry::RetryPolicy;
use whatsapp_cloud::templates::{NewTemplate, TemplateStatus};
use whatsapp_cloud::testkit::{GraphFailure, MOCK_TOKEN, MockGraph};
use whatsapp_cloud::{Client, Error, ErrorClass, ErrorCode, Pacing, RateLimit, TransportKind};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const TO: &str = "14155550123";

#[tokio::test]
async fn sends_every_message_kind_with_the_documented_wire_shape() {
    let graph = MockGraph::start().await;
    let client = graph.client();
    let messages = vec![
        Message::new(TO, Text::new("see https://example.com").preview_url(true))
            .reply_to("wamid.Q"),
        Message::new(TO, Reaction::new("wamid.Q", "👍")),
        Message::new(TO, Reaction::remove("wamid.Q")),
        Message::new(
            TO,
            Media::image(MediaSource::Id("m1".into())).caption("box"),
        ),
        Message::new(
            TO,
            Media::audio(MediaSource::Link("https://example.com/a.ogg".into())),
        ),
        Message::new(TO, Media::video(MediaSource::Id("m2".into()))),
        Message::new(
            TO,
            Media::document(MediaSource::Id("m3".into())).filename("invoice.pdf"),
        ),
        Message::new(TO, Media::sticker(MediaSource::Id("m4".into()))),
        Message::new(
            TO,
            Location::new(37.77, -122.41)
                .name("Store")
                .address("1 Market St"),
        ),
        Message::new(
            TO,
            vec![ContactCard::new("Support").phone("+14155550100", "WORK")],
        ),
        Message::new(
            TO,
            Interactive::buttons(
                "Confirm?",
                vec![ReplyButton::new("y", "Yes"), ReplyButton::new("n", "No")],
            )
            .footer("Reply below"),
        ),
        Message::new(
            TO,
            Interactive::list(
                "Pick a slot",
                "Slots",
                vec![ListSection::new(
                    "Tuesday",
                    vec![ListRow::new("t1", "2:30 PM").description("Dr. Lee")],
                )],
            ),
        ),
        Message::new(
            TO,
            Interactive::cta_url("Pay your invoice", "Pay now", "https://pay.example.com/i/1"),
        ),
        Message::new(
            TO,
            Interactive::location_request("Where should we deliver?"),
        ),
        Message::new(
            TO,
            Interactive::flow(
                "Book",
                FlowRef::Id("777".into()),
                "tok-1",
                "Open form",
                FlowAction::Navigate {
                    screen: "START".into(),
                    data: Some(json!({"k": 1})),
                },
            ),
        ),
        Message::new(
            TO,
            Template::new("order_shipped", "en_US")
                .header(HeaderParam::Image {
                    image: Media::image(MediaSource::Link("https://example.com/p.jpg".into())),
                })
                .body(vec![
                    TemplateParam::text("Ana"),
                    TemplateParam::currency("USD", 1_499_990, "$1,499.99"),
                    TemplateParam::date_time("04/30/2025"),
                ])
                .quick_reply_button(0, "TRACK")
                .url_button(1, "1042"),
        ),
        Message::new("US.13491208655302741918", Text::new("hello username")),
    ];
    for m in messages {
        let sent = client.send(m).await.unwrap();
        assert!(sent.message_id().unwrap().starts_with("wamid.MOCK"));
    }
    let sent = graph.message_requests().await;
    assert_eq!(sent.len(), 17);
    assert!(
        sent.iter()
            .all(|m| m["messaging_product"] == "whatsapp" && m["recipient_type"] == "individual")
    );
    assert_eq!(sent[0]["text"]["preview_url"], true);
    assert_eq!(sent[0]["context"]["message_id"], "wamid.Q");
    assert_eq!(sent[2]["reaction"]["emoji"], "");
    assert_eq!(sent[3]["image"], json!({"id": "m1", "caption": "box"}));
    assert_eq!(sent[6]["document"]["filename"], "invoice.pdf");
    assert_eq!(sent[9]["contacts"][0]["phones"][0]["type"], "WORK");
    assert_eq!(
        sent[10]["interactive"]["action"]["buttons"][1],
        json!({"type": "reply", "reply": {"id": "n", "title": "No"}})
    );
    assert_eq!(
        sent[11]["interactive"]["action"]["sections"][0]["rows"][0]["description"],
        "Dr. Lee"
    );
    assert_eq!(
        sent[12]["interactive"]["action"],
        json!({"name": "cta_url", "parameters": {"display_text": "Pay now", "url": "https://pay.example.com/i/1"}})
    );
    assert_eq!(sent[13]["interactive"]["type"], "location_request_message");
    assert_eq!(sent[13]["interactive"]["action"]["name"], "send_location");
    assert_eq!(
        sent[14]["interactive"]["action"]["parameters"]["flow_action_payload"]["screen"],
        "START"
    );
    let t = &sent[15]["template"];
    assert_eq!(t["language"]["code"], "en_US");
    assert_eq!(
        t["components"][0]["parameters"][0]["image"]["link"],
        "https://example.com/p.jpg"
    );
    assert_eq!(
        t["components"][1]["parameters"][1],
        json!({"type": "currency", "currency": {"fallback_value": "$1,499.99", "code": "USD", "amount_1000": 1_499_990}})
    );
    assert_eq!(
        t["components"][2],
        json!({"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "TRACK"}]})
    );
    assert_eq!(
        t["components"][3]["parameters"][0],
        json!({"type": "text", "text": "1042"})
    );
    assert_eq!(sent[16]["recipient"], "US.13491208655302741918");
    assert!(sent[16].get("to").is_none());
}

#[tokio::test]
async fn limits_are_checked_before_anything_goes_on_the_wire() {
    let graph = MockGraph::start().await;
    let client = graph.client();
    let cases = vec![
        (Message::new(TO, Text::new("x".repeat(4097))), "text.body"),
        (Message::new(TO, Text::new("")), "text.body"),
        (
            Message::new(
                TO,
                Interactive::buttons("b", vec![ReplyButton::new("1", "a"); 4]),
            ),
            "interactive.action.buttons",
        ),
        (
            Message::new(
                TO,
                Interactive::buttons("b", vec![ReplyButton::new("1", "x".repeat(21))]),
            ),
            "interactive.action.buttons.reply.title",
        ),
        (
            Message::new(
                TO,
                Interactive::list(
                    "b",
                    "Pick",
                    vec![ListSection::new(
                        "s",
                        (0..11).map(|i| ListRow::new(i.to_string(), "r")).collect(),
                    )],
                ),
            ),
            "interactive.action.sections.rows",
        ),
        (
            Message::new(
                TO,
                Media::image(MediaSource::Id("m".into())).caption("c".repeat(1025)),
            ),
            "image",
        ),
        (
            Message::new(TO, Media::audio(MediaSource::Id("m".into())).caption("no")),
            "audio",
        ),
        (
            Message::new(
                TO,
                Interactive::cta_url("b", "x".repeat(21), "https://e.com"),
            ),
            "interactive.action.parameters.display_text",
        ),
        (Message::new("12", Text::new("hi")), "to"),
        (
            Message::new(
                TO,
                Template::new("t", "en_US").body(vec![TemplateParam::text("a\nb")]),
            ),
            "template.components.body.parameters.text",
        ),
        // An empty (or blank) text parameter: Meta answers (#100) Invalid parameter.
        (
            Message::new(
                TO,
                Template::new("t", "en_US").body(vec![TemplateParam::text(" ")]),
            ),
            "template.components.body.parameters.text",
        ),
    ];
    for (message, field) in cases {
        match client.send(message).await {
            Err(Error::Validation(v)) => assert_eq!(v.field, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(
        graph.requests().await.is_empty(),
        "nothing over a limit reaches the API"
    );
}

#[tokio::test]
async fn mark_read_with_and_without_typing_indicator() {
    let graph = MockGraph::start().await;
    let client = graph.client();
    client.mark_read("wamid.IN1").await.unwrap();
    client.mark_read_with_typing("wamid.IN2").await.unwrap();
    let receipts = graph.read_receipts().await;
    assert_eq!(
        receipts[0],
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1"})
    );
    assert_eq!(receipts[1]["typing_indicator"], json!({"type": "text"}));
}

#[tokio::test]
async fn every_error_class_is_typed() {
    let graph = MockGraph::start().await;
    let client = graph
        .client_builder()
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let cases = [
        (
            GraphFailure::token_expired(),
            ErrorClass::Authentication,
            false,
        ),
        (GraphFailure::code(10, 403), ErrorClass::Permission, false),
        (
            GraphFailure::throughput_exceeded(),
            ErrorClass::RateLimited(RateLimit::Throughput),
            true,
        ),
        (
            GraphFailure::pair_rate_limit(),
            ErrorClass::RateLimited(RateLimit::Pair),
            true,
        ),
        (
            GraphFailure::code(131_048, 400),
            ErrorClass::RateLimited(RateLimit::Spam),
            false,
        ),
        (
            GraphFailure::re_engagement_required(),
            ErrorClass::ReEngagementRequired,
            false,
        ),
        (
            GraphFailure::template_not_found(),
            ErrorClass::Template,
            false,
        ),
        (GraphFailure::code(131_053, 400), ErrorClass::Media, false),
        (
            GraphFailure::undeliverable(),
            ErrorClass::RecipientUnavailable,
            false,
        ),
        (
            GraphFailure::code(100, 400),
            ErrorClass::InvalidParameter,
            false,
        ),
        (GraphFailure::code(368, 403), ErrorClass::Blocked, false),
        (
            GraphFailure::server_unavailable(),
            ErrorClass::ServerError,
            true,
        ),
        (GraphFailure::code(987_654, 400), ErrorClass::Unknown, false),
    ];
    for (failure, class, retryable) in cases {
        graph.fail_sends(failure.clone(), 1).await;
        let err = client.send_text(TO, "hi").await.unwrap_err();
        assert_eq!(err.class(), Some(class), "{failure:?}");
        assert_eq!(err.is_retryable(), retryable, "{failure:?}");
        let api = err.api_error().unwrap();
        assert_eq!(api.fbtrace_id.as_deref(), Some("MockTrace123"));
        assert!(api.details.is_some());
    }
    graph.fail_sends(GraphFailure::code(987_654, 400), 1).await;
    let err = client.send_text(TO, "hi").await.unwrap_err();
    assert_eq!(err.api_error().unwrap().code, ErrorCode::Other(987_654));
}

#[tokio::test]
async fn non_json_answers_become_clear_errors() {
    let graph = MockGraph::start().await;
    let client = graph
        .client_builder()
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    graph.fail_sends(GraphFailure::Html(502), 1).await;
    match client.send_text(TO, "hi").await.unwrap_err() {
        Error::UnexpectedResponse {
            status, excerpt, ..
        } => {
            assert_eq!(status, 502);
            assert!(excerpt.contains("Bad Gateway"), "{excerpt}");
            assert!(!excerpt.contains("502"), "digits are masked: {excerpt}");
        }
        other => panic!("{other:?}"),
    }
    graph.fail_sends(GraphFailure::Empty(503), 1).await;
    let err = client.send_text(TO, "hi").await.unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedResponse { status: 503, .. }),
        "{err:?}"
    );
    // A 200 that is not a send answer.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"messages\": 5"))
        .mount(&server)
        .await;
    let client = Client::builder()
        .access_token(SecretString::from("t"))
        .phone_number_id("1")
        .base_url(server.uri())
        .build()
        .unwrap();
    let err = client.send_text(TO, "hi").await.unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedResponse { status: 200, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn sends_are_retried_only_when_provably_not_accepted() {
    let graph = MockGraph::start().await;
    let client = graph.client();
    // Rate limited twice, then accepted: three POSTs, one message.
    graph
        .fail_sends(GraphFailure::throughput_exceeded(), 2)
        .await;
    client.send_text(TO, "retry me").await.unwrap();
    assert_eq!(graph.message_requests().await.len(), 3);
    // An HTML 502 might have been processed: never retried for a send.
    graph.fail_sends(GraphFailure::Html(502), 1).await;
    assert!(client.send_text(TO, "once").await.is_err());
    assert_eq!(graph.message_requests().await.len(), 4);
    // Retry-After is honoured.
    graph
        .fail_sends(
            GraphFailure::Code {
                code: 4,
                http_status: 429,
                retry_after: Some(0),
            },
            1,
        )
        .await;
    client.send_text(TO, "after").await.unwrap();
    assert_eq!(graph.message_requests().await.len(), 6);
}

#[tokio::test]
async fn a_timeout_after_sending_is_not_retried() {
    let graph = MockGraph::start().await;
    let client = graph
        .client_builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    graph
        .fail_sends(GraphFailure::Delay(Duration::from_secs(2)), 5)
        .await;
    let err = client.send_text(TO, "slow").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        graph.message_requests().await.len(),
        1,
        "exactly one attempt"
    );
}

#[tokio::test]
async fn a_connection_that_never_opened_is_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::builder()
        .access_token(SecretString::from("t"))
        .phone_number_id("1")
        .base_url(format!("http://{addr}"))
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(3)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .build()
        .unwrap();
    // Count the client's retries from its own "retrying" events.
    let retries = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let subscriber = {
        use tracing_subscriber::layer::SubscriberExt;
        tracing_subscriber::registry().with(CountRetries(retries.clone()))
    };
    let guard = tracing::subscriber::set_default(subscriber);
    let err = client.send_text(TO, "hi").await.unwrap_err();
    drop(guard);
    assert_eq!(
        retries.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "3 attempts: the first and 2 retries"
    );
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(
        std::error::Error::source(&err).is_some(),
        "the HTTP client's error is kept as the source"
    );
    assert!(
        !err.to_string().contains("http://"),
        "no URL in transport errors: {err}"
    );
}

#[tokio::test]
async fn templates_list_follows_pagination_get_create_delete() {
    let graph = MockGraph::start().await;
    graph.set_template_page_size(2);
    for i in 0..5 {
        graph.add_template(json!({"id": format!("{i}"), "name": format!("tpl_{i}"), "language": "en_US", "status": if i == 4 { "SOMETHING_NEW" } else { "APPROVED" }, "category": "UTILITY"}));
    }
    let client = graph.client();
    let all = client.templates().list().await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(
        all[4].status,
        Some(TemplateStatus::Other("SOMETHING_NEW".into()))
    );
    let pages = graph
        .requests()
        .await
        .iter()
        .filter(|r| r.path().ends_with("message_templates"))
        .count();
    assert_eq!(pages, 3);
    let one = client.templates().get_by_name("tpl_1").await.unwrap();
    assert_eq!(one.len(), 1);
    let created = client
        .templates()
        .create(&NewTemplate::new(
            "payment_reminder",
            "en_US",
            "UTILITY",
            vec![json!({"type": "BODY", "text": "Your payment of {{1}} is due on {{2}}."})],
        ))
        .await
        .unwrap();
    assert_eq!(created.status, Some(TemplateStatus::Pending));
    assert!(matches!(
        client
            .templates()
            .create(&NewTemplate::new("Bad Name", "en_US", "UTILITY", vec![]))
            .await,
        Err(Error::Validation(_))
    ));
    client.templates().delete("tpl_0").await.unwrap();
    assert_eq!(
        client
            .templates()
            .delete("missing")
            .await
            .unwrap_err()
            .class(),
        Some(ErrorClass::Template)
    );
    let no_waba = Client::builder()
        .access_token(SecretString::from(MOCK_TOKEN))
        .phone_number_id("1234567890")
        .base_url(graph.uri())
        .build()
        .unwrap();
    assert!(matches!(
        no_waba.templates().list().await,
        Err(Error::Config(_))
    ));
}

#[tokio::test]
async fn phone_numbers_profile_and_subscriptions() {
    let graph = MockGraph::start().await;
    let account = graph.client().account();
    let numbers = account.phone_numbers().await.unwrap();
    assert_eq!(numbers[0].verified_name.as_deref(), Some("Mock Store"));
    assert_eq!(
        numbers[0].quality_rating,
        Some(whatsapp_cloud::account::QualityRating::Green)
    );
    let one = account.phone_number("1234567890").await.unwrap();
    assert_eq!(one.display_phone_number.as_deref(), Some("+1 555-000-1111"));
    account
        .update_business_profile(&whatsapp_cloud::account::BusinessProfile::new().about("Open 9-5"))
        .await
        .unwrap();
    assert_eq!(
        account.business_profile().await.unwrap().about.as_deref(),
        Some("Open 9-5")
    );
    assert!(account.subscribed_apps().await.unwrap().is_empty());
    account.subscribe_app().await.unwrap();
    assert_eq!(
        account.subscribed_apps().await.unwrap()[0].name.as_deref(),
        Some("Mock App")
    );
}

#[tokio::test]
async fn pacing_spaces_sends_to_one_recipient() {
    let graph = MockGraph::start().await;
    let client = graph
        .client_builder()
        .pacing(Pacing::default().per_recipient(1, Duration::from_millis(150)))
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    for _ in 0..3 {
        client.send_text(TO, "tick").await.unwrap();
    }
    // Behaviour, not speed: the third send had to wait for two intervals.
    assert!(start.elapsed() >= Duration::from_millis(290));
}

/// Issue 23, item 4: one client sends from any number of the account, and
/// each number has its own pacing.
#[tokio::test]
async fn one_client_sends_from_several_numbers_each_paced_alone() {
    use whatsapp_cloud::testkit::{MOCK_PHONE_NUMBER_ID, MOCK_SECOND_PHONE_NUMBER_ID};
    let graph = MockGraph::start().await;
    let support = graph
        .client_builder()
        .pacing(Pacing::default().per_recipient(1, Duration::from_secs(60)))
        .build()
        .unwrap();
    let sales = support.for_number(MOCK_SECOND_PHONE_NUMBER_ID);
    assert_eq!(sales.phone_number_id(), MOCK_SECOND_PHONE_NUMBER_ID);
    assert_eq!(support.phone_number_id(), MOCK_PHONE_NUMBER_ID);
    // The pair limit is per business number: the same customer gets one
    // message from each number at once, with no wait.
    let start = std::time::Instant::now();
    support.send_text(TO, "from support").await.unwrap();
    sales.send_text(TO, "from sales").await.unwrap();
    // Behaviour, not speed: a shared pacer would have held the second send
    // for the 60-second interval.
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "no pacing across numbers"
    );
    let sent = graph.messages_by_number().await;
    assert_eq!(
        sent.iter()
            .map(|(n, b)| (n.as_str(), b["text"]["body"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [
            (MOCK_PHONE_NUMBER_ID, "from support"),
            (MOCK_SECOND_PHONE_NUMBER_ID, "from sales")
        ]
    );
}

#[test]
fn builder_rejects_bad_configuration_and_hides_the_token() {
    let ok = Client::builder()
        .access_token(SecretString::from("EAAG-secret-token"))
        .phone_number_id("1")
        .build()
        .unwrap();
    let debug = format!("{ok:?}");
    assert!(!debug.contains("EAAG-secret-token"), "{debug}");
    assert!(debug.contains("[redacted]"));
    let b = || {
        Client::builder()
            .access_token(SecretString::from("t"))
            .phone_number_id("1")
    };
    assert!(matches!(
        b().base_url("http://graph.example.com").build(),
        Err(Error::Config(_))
    ));
    assert!(
        b().base_url("http://graph.example.com")
            .allow_insecure_http(true)
            .build()
            .is_ok()
    );
    for ok in [
        "http://127.0.0.1:9",
        "http://localhost:9",
        "http://[::1]:9",
        "https://proxy.example.com/graph",
    ] {
        assert!(b().base_url(ok).build().is_ok(), "{ok}");
    }
    assert!(matches!(
        b().base_url("ftp://x").build(),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        b().api_version("23").build(),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        Client::builder().phone_number_id("1").build(),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        Client::builder()
            .access_token(SecretString::from("t"))
            .build(),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        b().access_token(SecretString::from("bad\ntoken")).build(),
        Err(Error::Config(_))
    ));
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    assert_traits::<Client>();
}

/// The names `salesforce-rest` uses for the same things work here too.
#[test]
fn sibling_names_match_salesforce_rest() {
    use std::time::Duration;
    use whatsapp_cloud::retry::{Decision, Outcome, RetryPolicy, RetryState, decide};
    use whatsapp_cloud::{ApiError, Error, ErrorCode};
    let code = ErrorCode::parse(131_056);
    assert_eq!(code.code(), 131_056);
    assert!(code.is_retryable());
    assert!(!ErrorCode::parse(131_047).is_retryable());
    let api = ApiError::new(400, code, "pair rate limit");
    assert!(api.is_retryable());
    let err = Error::Api(Box::new(api.clone()));
    assert_eq!(err.http_status(), Some(400));
    assert_eq!(err.code(), Some(code));
    assert!(err.is_retryable());
    // The pair limit asks for about 6 s: the policy allows waits that long.
    let policy = RetryPolicy::new(3, Duration::from_millis(10), Duration::from_secs(10))
        .with_max_elapsed(Duration::from_secs(30));
    let first = RetryState::new(Outcome::Api(&api), 1).with_idempotent(true);
    assert!(matches!(decide(&policy, &first), Decision::RetryAfter(_)));
    let third = RetryState::new(Outcome::Api(&api), 3).with_idempotent(true);
    assert_eq!(decide(&policy, &third), Decision::Stop);
    // The same predicates and accessors as salesforce-rest's errors.
    assert!(err.is_rate_limited() && !err.is_auth());
    assert!(err.retry_after().is_some(), "the pair limit says how long");
    assert!(err.hint().is_some_and(|h| h.contains("rate limit")));
    let window = Error::Api(Box::new(ApiError::new(
        400,
        ErrorCode::parse(131_047),
        "re-engagement",
    )));
    assert!(!window.is_rate_limited() && !window.is_retryable());
    assert!(window.hint().is_some_and(|h| h.contains("template")));
    // API versions in both forms, as salesforce-rest accepts them.
    for v in ["v23.0", "23.0"] {
        let c = whatsapp_cloud::Client::builder()
            .access_token(secrecy::SecretString::from("EAAtoken"))
            .phone_number_id("123")
            .api_version(v)
            .build()
            .unwrap();
        assert_eq!(c.api_version(), "v23.0");
    }
    for bad in ["23", "v23.x", "latest", "v23.0/"] {
        assert!(
            whatsapp_cloud::Client::builder()
                .access_token(secrecy::SecretString::from("EAAtoken"))
                .phone_number_id("123")
                .api_version(bad)
                .build()
                .is_err(),
            "{bad}"
        );
    }
}

/// Counts the client's `retrying` events.
struct CountRetries(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountRetries {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(bool);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" && format!("{value:?}") == "retrying" {
                    self.0 = true;
                }
            }
        }
        let mut m = Message(false);
        event.record(&mut m);
        if m.0 {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

#[tokio::test]
async fn the_mock_refuses_template_sends_as_the_real_api_does() {
    let graph = MockGraph::start().await;
    graph.add_template(json!({
        "name": "payment_due", "language": "en_US", "status": "APPROVED",
        "components": [{ "type": "BODY", "text": "Hi {{1}}, your payment of {{2}} is due on {{3}}." }]
    }));
    graph.add_template(json!({
        "name": "promo", "language": "en_US", "status": "PAUSED",
        "components": [{ "type": "BODY", "text": "Sale!" }]
    }));
    graph.check_templates(true);
    let client = graph.client();
    let send = |name: &str, params: Vec<TemplateParam>| {
        Message::new(TO, Template::new(name, "en_US").body(params))
    };
    let three = vec![
        TemplateParam::text("Ana"),
        TemplateParam::currency("USD", 1_499_990, "$1,499.99"),
        TemplateParam::text("04/30/2025"),
    ];
    client.send(send("payment_due", three)).await.unwrap();
    let code = |e: Error| e.api_error().map(|a| a.code);
    let wrong = client
        .send(send("payment_due", vec![TemplateParam::text("Ana")]))
        .await
        .unwrap_err();
    assert_eq!(code(wrong), Some(ErrorCode::TemplateParamCount));
    let unknown = client.send(send("nope", vec![])).await.unwrap_err();
    assert_eq!(code(unknown), Some(ErrorCode::parse(132_001)));
    let paused = client.send(send("promo", vec![])).await.unwrap_err();
    assert_eq!(code(paused), Some(ErrorCode::parse(132_015)));
    // Another language of a known name is a different template.
    let spanish = client
        .send(Message::new(TO, Template::new("payment_due", "es_MX")))
        .await
        .unwrap_err();
    assert_eq!(code(spanish), Some(ErrorCode::parse(132_001)));
}

/// Issue 24: with Meta's default 80 messages/s configured, a burst of 1,000
/// replies to 1,000 customers is paced, never refused: the mock enforces the
/// same rate and answers 130429 above it. A lower bound on the time (the
/// pacing itself), not a performance figure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_at_the_configured_send_rate_gets_no_throughput_errors() {
    let graph = MockGraph::start().await;
    graph.limit_throughput(80.0);
    let client = graph
        .client_builder()
        .pacing(Pacing::default().messages_per_second(80.0))
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    let sends: Vec<_> = (0..1000)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .send_text(&format!("1415555{i:04}"), "Your order shipped")
                    .await
            })
        })
        .collect();
    for s in sends {
        s.await.unwrap().unwrap();
    }
    assert_eq!(graph.throughput_rejections(), 0, "no 130429");
    assert!(
        start.elapsed() >= Duration::from_secs_f64(999.0 / 80.0),
        "{:?}: the sends were spaced at the rate",
        start.elapsed()
    );
    // Without pacing the same mock refuses most of an instant burst.
    let unpaced = graph.client_builder().build().unwrap();
    let sends: Vec<_> = (0..200)
        .map(|i| {
            let c = unpaced.clone();
            tokio::spawn(async move { c.send_text(&format!("1415556{i:04}"), "x").await })
        })
        .collect();
    for s in sends {
        let _ = s.await.unwrap();
    }
    assert!(
        graph.throughput_rejections() > 0,
        "the mock enforces the rate"
    );
}

/// A stub answers before the mock's own routes, for as many requests as it
/// was given; then the mock answers again. The recorded requests show both.
#[tokio::test]
async fn a_stub_answers_first_then_the_mock_takes_over() {
    use whatsapp_cloud::testkit::Stub;
    let graph = MockGraph::start().await;
    graph
        .stub(
            Stub::new("POST", "/messages$")
                .status(503)
                .json(&json!({"error": {"code": 131016, "message": "Service unavailable"}}))
                .times(1),
        )
        .await;
    let client = graph.client();
    let sent = client.send_text(TO, "hi").await.unwrap();
    assert!(sent.message_id().is_some_and(|id| id.starts_with("wamid.")));
    let posts: Vec<_> = graph
        .requests()
        .await
        .into_iter()
        .filter(|r| r.method() == "POST" && r.path().ends_with("/messages"))
        .collect();
    assert_eq!(
        posts.len(),
        2,
        "the stub's 131016, then the retry the mock accepts"
    );
    assert_eq!(posts[0].body_json().unwrap()["text"]["body"], "hi");
    assert!(posts[0].header("authorization").is_some());
    assert!(!format!("{:?}", posts[0]).contains(TO));
}
