//! The Flows endpoint crypto: round trips with keys made here, WhatsApp's
//! request shape built the way the client builds it, tampering and wrong
//! keys answered 421 (never a panic), signatures checked, pings answered.

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes128;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::Sha256;
use whatsapp_cloud::flows::{self, DECRYPTION_FAILED, FlowAction, FlowsKey, SIGNATURE_MISMATCH};
use whatsapp_cloud::webhooks::{SignatureVerifier, WebhookConfig};

type Gcm16 = AesGcm<Aes128, U16>;

fn key() -> RsaPrivateKey {
    // 1024 bits keeps debug-mode tests fast; the scheme is the same.
    RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap()
}

/// What WhatsApp's client does: a fresh AES key and IV, the body sealed with
/// AES-128-GCM, the key wrapped with RSA-OAEP-SHA256.
fn seal(public: &RsaPublicKey, body: &Value, aes_key: [u8; 16], iv: [u8; 16]) -> Vec<u8> {
    let sealed = Gcm16::new_from_slice(&aes_key)
        .unwrap()
        .encrypt(
            (&iv).into(),
            Payload {
                msg: body.to_string().as_bytes(),
                aad: b"",
            },
        )
        .unwrap();
    let wrapped = public
        .encrypt(&mut rand::thread_rng(), Oaep::new::<Sha256>(), &aes_key)
        .unwrap();
    json!({
        "encrypted_flow_data": B64.encode(sealed),
        "encrypted_aes_key": B64.encode(wrapped),
        "initial_vector": B64.encode(iv),
    })
    .to_string()
    .into_bytes()
}

fn open(answer: &str, aes_key: [u8; 16], iv: [u8; 16]) -> Value {
    let flipped = iv.map(|b| !b);
    let plain = Gcm16::new_from_slice(&aes_key)
        .unwrap()
        .decrypt(
            (&flipped).into(),
            Payload {
                msg: &B64.decode(answer).unwrap(),
                aad: b"",
            },
        )
        .unwrap();
    serde_json::from_slice(&plain).unwrap()
}

#[tokio::test]
async fn a_data_exchange_round_trips_through_the_crypto() {
    let private = key();
    let public = RsaPublicKey::from(&private);
    let pem = SecretString::from(private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string());
    let flows_key = FlowsKey::from_pem(&pem).unwrap();
    assert_eq!(format!("{flows_key:?}"), "FlowsKey([redacted])");
    assert!(
        flows_key
            .public_key_pem()
            .unwrap()
            .contains("BEGIN PUBLIC KEY")
    );
    let (aes_key, iv) = ([7u8; 16], [9u8; 16]);
    let request = json!({
        "version": "3.0", "action": "data_exchange", "screen": "PICK_DATE",
        "data": { "date": "2026-12-01" }, "flow_token": "tok-1"
    });
    let body = seal(&public, &request, aes_key, iv);
    let d = flows::decrypt(&flows_key, &body).unwrap();
    assert_eq!(d.request.action, FlowAction::DataExchange);
    assert_eq!(d.request.screen.as_deref(), Some("PICK_DATE"));
    assert_eq!(d.request.data["date"], "2026-12-01");
    assert!(
        !format!("{:?}", d.request).contains("2026-12-01"),
        "Debug hides the answers"
    );
    let answer = flows::handle(&flows_key, None, None, &body, |req| async move {
        assert_eq!(req.flow_token.as_deref(), Some("tok-1"));
        Ok(json!({ "screen": "PICK_SLOT", "data": { "slots": ["10:00 AM", "2:30 PM"] } }))
    })
    .await;
    assert_eq!(answer.status, 200);
    let opened = open(&answer.body, aes_key, iv);
    assert_eq!(opened["screen"], "PICK_SLOT");
    assert_eq!(opened["data"]["slots"][1], "2:30 PM");
}

#[tokio::test]
async fn pings_and_error_notifications_are_answered_without_the_app() {
    let private = key();
    let public = RsaPublicKey::from(&private);
    let flows_key = FlowsKey::from_rsa(private);
    let (aes_key, iv) = ([1u8; 16], [2u8; 16]);
    let ping = seal(
        &public,
        &json!({ "version": "3.0", "action": "ping" }),
        aes_key,
        iv,
    );
    let answer = flows::handle(&flows_key, None, None, &ping, |_| async {
        Err("the app must not be called for a ping".into())
    })
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(open(&answer.body, aes_key, iv)["data"]["status"], "active");
    let error = seal(
        &public,
        &json!({ "version": "3.0", "action": "data_exchange", "flow_token": "t",
                 "data": { "error": "invalid-screen-transition", "error_message": "..." } }),
        aes_key,
        iv,
    );
    let answer = flows::handle(&flows_key, None, None, &error, |_| async {
        Err("not for error notifications".into())
    })
    .await;
    assert_eq!(
        open(&answer.body, aes_key, iv)["data"]["acknowledged"],
        true
    );
}

#[tokio::test]
async fn tampering_and_wrong_keys_get_421_never_a_panic() {
    let private = key();
    let public = RsaPublicKey::from(&private);
    let flows_key = FlowsKey::from_rsa(private);
    let body = seal(&public, &json!({ "action": "INIT" }), [3; 16], [4; 16]);
    let mut envelope: Value = serde_json::from_slice(&body).unwrap();
    // One flipped bit in the sealed body.
    let mut sealed = B64
        .decode(envelope["encrypted_flow_data"].as_str().unwrap())
        .unwrap();
    sealed[0] ^= 1;
    envelope["encrypted_flow_data"] = json!(B64.encode(&sealed));
    let tampered = envelope.to_string().into_bytes();
    let called = |_| async { Ok(json!({})) };
    assert_eq!(
        flows::handle(&flows_key, None, None, &tampered, called)
            .await
            .status,
        DECRYPTION_FAILED
    );
    // Another business's key.
    let other = FlowsKey::from_rsa(key());
    assert_eq!(
        flows::handle(&other, None, None, &body, called)
            .await
            .status,
        DECRYPTION_FAILED
    );
    // Garbage of every kind: typed errors, no panic.
    for junk in [
        &b""[..],
        b"not json",
        br#"{"encrypted_flow_data":"!!","encrypted_aes_key":"!!","initial_vector":"!!"}"#,
        br#"{"encrypted_flow_data":"","encrypted_aes_key":"","initial_vector":""}"#,
        br#"{"encrypted_flow_data":"AAAA","encrypted_aes_key":"AAAA","initial_vector":"AAAAAAAAAAAAAAAAAAAAAA=="}"#,
    ] {
        let a = flows::handle(&flows_key, None, None, junk, called).await;
        assert!(a.status == 400 || a.status == DECRYPTION_FAILED, "{a:?}");
    }
}

#[tokio::test]
async fn a_wrong_signature_gets_432_and_keys_load_from_every_pem_form() {
    let private = key();
    let public = RsaPublicKey::from(&private);
    let config = WebhookConfig::new(&SecretString::from("app-secret"));
    let verifier = SignatureVerifier::new(&SecretString::from("app-secret"));
    let body = seal(&public, &json!({ "action": "ping" }), [5; 16], [6; 16]);
    let flows_key = FlowsKey::from_rsa(private.clone());
    let good = config.sign(&body);
    let ok = flows::handle(&flows_key, Some(&verifier), Some(&good), &body, |_| async {
        Ok(json!({}))
    })
    .await;
    assert_eq!(ok.status, 200);
    let bad = flows::handle(
        &flows_key,
        Some(&verifier),
        Some("sha256=00"),
        &body,
        |_| async { Ok(json!({})) },
    )
    .await;
    assert_eq!(bad.status, SIGNATURE_MISMATCH);
    // PKCS#1 and encrypted PKCS#8 load too; a wrong passphrase is a typed error.
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let pkcs1 = private.to_pkcs1_pem(LineEnding::LF).unwrap().to_string();
    assert!(FlowsKey::from_pem(&SecretString::from(pkcs1)).is_ok());
    let encrypted = private
        .to_pkcs8_encrypted_pem(&mut rand::thread_rng(), b"s3cret", LineEnding::LF)
        .unwrap()
        .to_string();
    let encrypted = SecretString::from(encrypted);
    assert!(FlowsKey::from_encrypted_pem(&encrypted, &SecretString::from("s3cret")).is_ok());
    let wrong = FlowsKey::from_encrypted_pem(&encrypted, &SecretString::from("nope")).unwrap_err();
    assert!(!wrong.to_string().contains("s3cret"));
    assert!(FlowsKey::from_pem(&SecretString::from("-----BEGIN NOTHING-----")).is_err());
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn the_axum_endpoint_answers_encrypted_text() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    use whatsapp_cloud::flows::{FlowRequest, FlowsHandler, router};

    struct Booking;
    #[async_trait::async_trait]
    impl FlowsHandler for Booking {
        async fn handle(
            &self,
            r: FlowRequest,
        ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
            Ok(json!({ "screen": "PICK_SLOT", "data": { "for": r.screen } }))
        }
    }

    let private = key();
    let public = RsaPublicKey::from(&private);
    let app = router(FlowsKey::from_rsa(private), None, Booking);
    let (aes_key, iv) = ([11u8; 16], [12u8; 16]);
    let body = seal(
        &public,
        &json!({ "version": "3.0", "action": "data_exchange", "screen": "PICK_DATE", "data": {} }),
        aes_key,
        iv,
    );
    let post = |body: Vec<u8>| {
        axum::http::Request::post("/")
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    let res = app.clone().oneshot(post(body)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/plain");
    let text = res.into_body().collect().await.unwrap().to_bytes();
    let opened = open(std::str::from_utf8(&text).unwrap(), aes_key, iv);
    assert_eq!(opened["data"]["for"], "PICK_DATE");
    let res = app.oneshot(post(b"{}".to_vec())).await.unwrap();
    assert_eq!(res.status(), 400);
}

/// Each request shape the Flows documentation describes (written here from
/// its field list), sealed as WhatsApp seals it and read back field by field.
#[tokio::test]
async fn every_documented_request_shape_decrypts_to_its_fields() {
    let private = key();
    let public = RsaPublicKey::from(&private);
    let flows_key = FlowsKey::from_rsa(private);
    let cases = [
        (
            json!({"version": "3.0", "action": "INIT", "flow_token": "appt-77"}),
            FlowAction::Init,
            None,
        ),
        (
            json!({"version": "3.0", "action": "BACK", "screen": "PICK_SLOT", "data": {}, "flow_token": "appt-77"}),
            FlowAction::Back,
            Some("PICK_SLOT"),
        ),
        (
            json!({"version": "3.0", "action": "data_exchange", "screen": "PICK_DATE",
                   "data": {"date": "2026-12-01", "notes": "first visit"}, "flow_token": "appt-77"}),
            FlowAction::DataExchange,
            Some("PICK_DATE"),
        ),
        (
            json!({"version": "3.0", "action": "navigate", "screen": "DONE", "data": {}, "flow_token": "appt-77"}),
            FlowAction::Other("navigate".into()),
            Some("DONE"),
        ),
    ];
    for (i, (request, action, screen)) in cases.into_iter().enumerate() {
        let (aes_key, iv) = ([i as u8 + 1; 16], [i as u8 + 40; 16]);
        let d = flows::decrypt(&flows_key, &seal(&public, &request, aes_key, iv)).unwrap();
        assert_eq!(d.request.action, action, "{request}");
        assert_eq!(d.request.screen.as_deref(), screen);
        assert_eq!(d.request.version.as_deref(), Some("3.0"));
        assert_eq!(d.request.flow_token.as_deref(), Some("appt-77"));
        assert_eq!(d.request.raw, request, "the whole JSON is kept");
        assert!(!d.request.is_error_notification());
        let answer = d
            .encrypt(&json!({"screen": "SUCCESS", "data": {}}))
            .unwrap();
        assert_eq!(open(&answer, aes_key, iv)["screen"], "SUCCESS");
    }
}

/// Issue 26, item 2: the key Meta's Flows guide has you make
/// (`openssl genrsa -des3`; OpenSSL 3 writes encrypted PKCS#8 with PBES2,
/// PBKDF2-SHA256 and des-ede3-cbc) loads. The vector is a throwaway 1,024-bit
/// test key made that way, passphrase `flows-test`.
#[test]
fn a_key_made_by_openssl_genrsa_des3_loads() {
    let pem = include_str!("../fixtures/flows/test-key-des3-pkcs8.pem");
    assert!(pem.contains("BEGIN ENCRYPTED PRIVATE KEY"));
    let pem = SecretString::from(pem.to_owned());
    let key = FlowsKey::from_encrypted_pem(&pem, &SecretString::from("flows-test")).unwrap();
    assert!(key.public_key_pem().unwrap().contains("BEGIN PUBLIC KEY"));
    let wrong = FlowsKey::from_encrypted_pem(&pem, &SecretString::from("nope")).unwrap_err();
    assert!(!wrong.to_string().contains("flows-test"));
    // OpenSSL 1.x's legacy encryption (`-traditional` with OpenSSL 3): a
    // typed error that says how to convert it, not "wrong passphrase".
    let legacy =
        SecretString::from(include_str!("../fixtures/flows/test-key-des3-legacy.pem").to_owned());
    for e in [
        FlowsKey::from_encrypted_pem(&legacy, &SecretString::from("flows-test")).unwrap_err(),
        FlowsKey::from_pem(&legacy).unwrap_err(),
    ] {
        assert!(e.to_string().contains("openssl pkcs8 -topk8"), "{e}");
    }
}
