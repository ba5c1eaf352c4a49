//! The Twilio-compatible SMS fallback against a local mock of the Messages
//! API: the request's shape and auth, and how answers map to retry and
//! "unreachable".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bridge_core::sender::{ChannelSender, Outbound};
use examples::sms::TwilioSms;
use secrecy::SecretString;
use serde_json::json;

type Seen = Arc<Mutex<Vec<(String, String)>>>;

async fn messages(
    State(seen): State<Seen>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let json = |v: serde_json::Value| ([("content-type", "application/json")], v.to_string());
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    seen.lock().unwrap().push((auth, body.clone()));
    if body.contains("To=%2B14155550100") {
        let (h, b) = json(
            json!({"code": 21614, "message": "'To' number is not a valid mobile number", "status": 400}),
        );
        return (StatusCode::BAD_REQUEST, h, b);
    }
    if body.contains("To=%2B14155550101") {
        let (h, b) = json(json!({"code": 20429, "message": "Too Many Requests", "status": 429}));
        return (StatusCode::TOO_MANY_REQUESTS, h, b);
    }
    let (h, b) = json(json!({"sid": "SM0123456789abcdef", "status": "queued"}));
    (StatusCode::CREATED, h, b)
}

#[tokio::test]
async fn the_sms_fallback_speaks_the_messages_api() {
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route("/2010-04-01/Accounts/{sid}/Messages.json", post(messages))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let sms = TwilioSms::new(
        &base,
        "AC0123",
        SecretString::from("tok-secret".to_owned()),
        "+14155550000",
    )
    .unwrap();
    assert!(
        !format!("{sms:?}").contains("tok-secret"),
        "the token never prints"
    );

    let receipt = sms
        .send(
            "14155550123",
            &Outbound::text("Your case number is 00001026."),
        )
        .await
        .unwrap();
    assert_eq!(receipt.message_id.as_deref(), Some("SM0123456789abcdef"));
    let (auth, body) = seen.lock().unwrap()[0].clone();
    // Basic base64("AC0123:tok-secret")
    assert_eq!(auth, "Basic QUMwMTIzOnRvay1zZWNyZXQ=");
    assert!(body.contains("To=%2B14155550123"), "{body}");
    assert!(body.contains("From=%2B14155550000"), "{body}");
    assert!(
        body.contains("Body=Your+case+number+is+00001026."),
        "{body}"
    );

    let not_mobile = sms
        .send("14155550100", &Outbound::text("hi"))
        .await
        .unwrap_err();
    assert!(
        not_mobile.unreachable && !not_mobile.retryable,
        "{not_mobile:?}"
    );
    assert!(
        not_mobile.message.contains("21614"),
        "{}",
        not_mobile.message
    );
    let busy = sms
        .send("14155550101", &Outbound::text("hi"))
        .await
        .unwrap_err();
    assert!(busy.retryable && !busy.unreachable, "{busy:?}");

    let plain = TwilioSms::new(
        "http://sms.example.com",
        "AC0123",
        SecretString::from("t".to_owned()),
        "+1",
    )
    .unwrap_err();
    assert!(plain.to_string().contains("https"), "{plain}");
}
