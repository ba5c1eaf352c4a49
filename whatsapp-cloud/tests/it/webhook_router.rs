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

#[async_trait::async_trait]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_get_408_or_a_closed_connection_and_others_are_served() {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use whatsapp_cloud::webhooks::axum::{ServeOptions, serve};

    let secret = SecretString::from("app-secret");
    let config = WebhookConfig::new(&secret).body_timeout(Duration::from_millis(300));
    let app = axum::Router::new().nest("/webhook", router(config, Counting::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        app,
        ServeOptions::default().header_timeout(Duration::from_millis(300)),
        async {
            let _ = stopped.await;
        },
    ));
    // Headers trickled and never finished: the connection is closed.
    let mut slow_headers = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow_headers
        .write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A body announced and never sent: 408.
    let mut slow_body = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow_body
        .write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nX-Hub-Signature-256: sha256=00\r\n\r\n{")
        .await
        .unwrap();
    // Meanwhile a normal client is served.
    let (body, sig) = signed_webhook(
        &payloads::text_message("14155550123", "Ana", "wamid.1", "hi"),
        "app-secret",
    );
    let ok = reqwest::Client::new()
        .post(format!("http://{addr}/webhook"))
        .header("x-hub-signature-256", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let mut answer = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(5), slow_body.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the stalled body must not hold the connection"
    );
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let mut rest = Vec::new();
    let closed =
        tokio::time::timeout(Duration::from_secs(5), slow_headers.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the stalled headers must not hold the connection"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
