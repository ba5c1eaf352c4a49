//! The axum router: handshake, signature, malformed bodies, handler failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use secrecy::SecretString;
use tower::ServiceExt;
use whatsapp_cloud::testkit::{payloads, signed_webhook};
use whatsapp_cloud::webhooks::axum::{HandlerError, WebhookHandler, router};
use whatsapp_cloud::webhooks::{Notification, WebhookConfig};

#[derive(Clone, Default)]
struct Counting {
    messages: Arc<AtomicUsize>,
    fail: bool,
}

impl WebhookHandler for Counting {
    async fn handle(&self, n: Notification) -> Result<(), HandlerError> {
        if self.fail {
            return Err("database down".into());
        }
        self.messages.fetch_add(n.message_count(), Ordering::SeqCst);
        Ok(())
    }
}

fn app(handler: Counting) -> axum::Router {
    let config = WebhookConfig::new(&SecretString::from("app-secret"))
        .verify_token(SecretString::from("verify-me"))
        .max_body_bytes(64 * 1024);
    router(config, handler)
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn post(body: Vec<u8>, signature: Option<&str>) -> Request<Body> {
    let mut b = Request::post("/").header("content-type", "application/json");
    if let Some(s) = signature {
        b = b.header("X-Hub-Signature-256", s);
    }
    b.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn handshake_echoes_the_challenge_or_refuses() {
    let app = app(Counting::default());
    let ok =
        Request::get("/?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444")
            .body(Body::empty())
            .unwrap();
    assert_eq!(call(&app, ok).await, (StatusCode::OK, "1158201444".into()));
    let bad = Request::get("/?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, bad).await.0, StatusCode::FORBIDDEN);
    let missing = Request::get("/").body(Body::empty()).unwrap();
    assert_eq!(call(&app, missing).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn signed_posts_reach_the_handler_and_bad_ones_do_not() {
    let handler = Counting::default();
    let app = app(handler.clone());
    let (body, sig) = signed_webhook(
        &payloads::text_message("14155550123", "Ana", "wamid.1", "héllo / 😀"),
        "app-secret",
    );
    assert_eq!(
        call(&app, post(body.clone(), Some(&sig))).await.0,
        StatusCode::OK
    );
    assert_eq!(handler.messages.load(Ordering::SeqCst), 1);
    // Wrong signature, missing header, malformed header: 401, and the server stays up.
    let (_, other) = signed_webhook(&payloads::text_message("1", "x", "w", "y"), "app-secret");
    assert_eq!(
        call(&app, post(body.clone(), Some(&other))).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, post(body.clone(), None)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, post(body.clone(), Some("sha1=abc"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Signed but malformed: 400.
    let (junk, junk_sig) = signed_webhook("{\"object\":", "app-secret");
    assert_eq!(
        call(&app, post(junk, Some(&junk_sig))).await.0,
        StatusCode::BAD_REQUEST
    );
    // Too large: 413.
    let big = vec![b' '; 70 * 1024];
    assert_eq!(
        call(&app, post(big, Some(&sig))).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Still serving.
    assert_eq!(call(&app, post(body, Some(&sig))).await.0, StatusCode::OK);
    assert_eq!(handler.messages.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_failing_handler_gets_500_so_meta_redelivers() {
    let app = app(Counting {
        fail: true,
        ..Counting::default()
    });
    let (body, sig) = signed_webhook(&payloads::text_message("1", "x", "w", "y"), "app-secret");
    assert_eq!(
        call(&app, post(body, Some(&sig))).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}
