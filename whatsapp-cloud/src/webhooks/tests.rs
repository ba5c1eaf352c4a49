use super::*;

#[test]
fn signature_header_forms() {
    let secret = SecretString::from("k");
    let v = SignatureVerifier::new(&secret);
    let body = b"{}";
    let good = v.sign(body);
    assert!(good.starts_with("sha256=") && good.len() == 71);
    assert!(v.verify(Some(&good), body).is_ok());
    assert!(v.verify(Some(&format!("  {good} ")), body).is_ok());
    assert!(
        v.verify(
            Some(&good.to_uppercase().replace("SHA256=", "sha256=")),
            body
        )
        .is_ok()
    );
    assert_eq!(v.verify(None, body), Err(WebhookError::MissingSignature));
    assert_eq!(
        v.verify(Some(""), body),
        Err(WebhookError::MissingSignature)
    );
    assert!(matches!(
        v.verify(Some("sha1=00"), body),
        Err(WebhookError::MalformedSignature(_))
    ));
    assert!(matches!(
        v.verify(Some("sha256=abc"), body),
        Err(WebhookError::MalformedSignature(_))
    ));
    let not_hex = format!("sha256={}", "g".repeat(64));
    assert!(matches!(
        v.verify(Some(&not_hex), body),
        Err(WebhookError::MalformedSignature(_))
    ));
    let wrong = format!("sha256={}", "0".repeat(64));
    assert_eq!(
        v.verify(Some(&wrong), body),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn known_vector() {
    // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog")
    let v = SignatureVerifier::new(&SecretString::from("key"));
    assert_eq!(
        v.sign(b"The quick brown fox jumps over the lazy dog"),
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    );
}

#[test]
fn secrets_stay_out_of_debug() {
    let c = WebhookConfig::new(&SecretString::from("app-secret-value"))
        .verify_token(SecretString::from("verify-token-value"));
    let d = format!("{c:?}");
    assert!(
        !d.contains("app-secret-value") && !d.contains("verify-token-value"),
        "{d}"
    );
    let q = SubscriptionQuery::from_query("hub.verify_token=verify-token-value");
    assert!(!format!("{q:?}").contains("verify-token-value"));
}

#[test]
fn handshake_rules() {
    let token = SecretString::from("t0k");
    let q = |s: &str| SubscriptionQuery::from_query(s);
    assert_eq!(
        verify_subscription(
            &q("hub_mode=subscribe&hub_verify_token=t0k&hub_challenge=42"),
            &token
        ),
        Ok("42".into())
    );
    assert_eq!(
        verify_subscription(
            &q("hub.mode=unsubscribe&hub.verify_token=t0k&hub.challenge=1"),
            &token
        ),
        Err(WebhookError::HandshakeMode)
    );
    assert_eq!(
        verify_subscription(&q("hub.mode=subscribe&hub.challenge=1"), &token),
        Err(WebhookError::HandshakeMissing("hub.verify_token"))
    );
    assert_eq!(
        verify_subscription(&q("hub.mode=subscribe&hub.verify_token=t0k"), &token),
        Err(WebhookError::HandshakeMissing("hub.challenge"))
    );
    assert_eq!(
        verify_subscription(
            &q("hub.mode=subscribe&hub.verify_token=t0k%20&hub.challenge=1"),
            &token
        ),
        Err(WebhookError::HandshakeToken)
    );
    let no_token = WebhookConfig::new(&SecretString::from("s"));
    assert_eq!(
        no_token.handshake(&q("hub.mode=subscribe&hub.verify_token=&hub.challenge=1")),
        Err(WebhookError::HandshakeToken)
    );
}

#[test]
fn error_statuses() {
    assert_eq!(WebhookError::SignatureMismatch.http_status(), 401);
    assert_eq!(WebhookError::TooDeep.http_status(), 400);
    assert_eq!(
        WebhookError::BodyTooLarge { size: 2, limit: 1 }.http_status(),
        413
    );
    assert_eq!(WebhookError::HandshakeToken.http_status(), 403);
}

#[test]
fn receive_checks_size_before_signature() {
    let c = WebhookConfig::new(&SecretString::from("s")).max_body_bytes(10);
    assert!(matches!(
        c.receive(None, b"{\"object\":\"whatsapp\"}"),
        Err(WebhookError::BodyTooLarge {
            size: 21,
            limit: 10
        })
    ));
}

#[test]
fn debug_output_never_shows_numbers_names_or_text() {
    let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
        "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"123"},
        "contacts":[{"profile":{"name":"Ana Lima"},"wa_id":"14155550123","user_id":"US.13491208655302741918"}],
        "messages":[{"from":"14155550123","id":"wamid.A","timestamp":"1700000000","type":"text","text":{"body":"my card 4111 1111 is broken"}},
                    {"from":"14155550123","id":"wamid.B","timestamp":"1700000000","type":"location","location":{"latitude":37.77,"longitude":-122.41,"name":"Home of Ana"}}],
        "statuses":[{"id":"wamid.OUT","status":"delivered","timestamp":"1700000001","recipient_id":"14155550123"}]}}]}]}"#;
    let n = crate::webhooks::parse_unverified(body).unwrap();
    let mut text = format!("{n:?}");
    for e in n.events() {
        text.push_str(&format!("{e:?}"));
    }
    for secret in [
        "14155550123",
        "Ana Lima",
        "4111",
        "broken",
        "Home of Ana",
        "13491208655302741918",
        "37.77",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert!(
        text.contains("wamid.A") && text.contains("Text"),
        "ids and kinds stay: {text}"
    );
}
