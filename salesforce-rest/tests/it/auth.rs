//! Every OAuth flow, token handling and login-host problems.

use salesforce_rest::auth::{
    ConnectedApp, Credentials, JwtKey, LoginHost, OAuthClient, Pkce, Session,
};
use salesforce_rest::testkit::{
    MOCK_CLIENT_ID, MOCK_PASSWORD, MOCK_REFRESH_TOKEN, MOCK_USERNAME, MockOrg, Stub,
};
use salesforce_rest::{Error, OAuthErrorCode};
use secrecy::{ExposeSecret, SecretString};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

// A throwaway 2048-bit RSA test key (never used anywhere else).
const TEST_KEY: &str = include_str!("../fixtures/test_rsa_key.pem");

#[tokio::test]
async fn web_server_flow_with_pkce() {
    let org = MockOrg::start().await;
    let oauth = org.oauth();
    let pkce = Pkce::generate().unwrap();
    let url = oauth.authorize_url(
        &["api", "refresh_token", "offline_access"],
        "st8",
        Some(&pkce),
    );
    assert!(
        url.as_str()
            .starts_with(&format!("{}/services/oauth2/authorize?", org.uri()))
    );
    let code = org.issue_authorization_code();
    let tokens = oauth.exchange_code(&code, Some(&pkce)).await.unwrap();
    assert!(tokens.refresh_token.is_some());
    assert_eq!(tokens.instance_url, org.uri());
    oauth.verify_signature(&tokens).unwrap();
    let form = org.requests().await.last().unwrap().body_text();
    assert!(form.contains("grant_type=authorization_code") && form.contains("code_verifier="));
    // A code works once.
    let err = oauth.exchange_code(&code, Some(&pkce)).await.unwrap_err();
    assert!(err.hint().unwrap().contains("authorization code"), "{err}");
}

#[tokio::test]
async fn refresh_jwt_client_credentials_and_password_flows() {
    let org = MockOrg::start().await;
    let oauth = org.oauth();
    let t = oauth
        .refresh(&SecretString::from(MOCK_REFRESH_TOKEN))
        .await
        .unwrap();
    assert!(
        t.access_token
            .expose_secret()
            .starts_with("00D000000000001!")
    );
    let key = JwtKey::from_pem(TEST_KEY.as_bytes()).unwrap();
    assert_eq!(format!("{key:?}"), "JwtKey([redacted])");
    oauth
        .jwt_bearer("integration@example.com", &key)
        .await
        .unwrap();
    let body = org.requests().await.last().unwrap().body_text();
    assert!(body.contains("jwt-bearer") && body.contains("assertion="));
    oauth.client_credentials().await.unwrap();
    oauth
        .password(MOCK_USERNAME, &SecretString::from(MOCK_PASSWORD))
        .await
        .unwrap();
    let err = oauth
        .password(MOCK_USERNAME, &SecretString::from("wrong"))
        .await
        .unwrap_err();
    assert!(err.hint().unwrap().contains("security token"));
    oauth
        .revoke(&SecretString::from(MOCK_REFRESH_TOKEN))
        .await
        .unwrap();
    let err = oauth
        .refresh(&SecretString::from(MOCK_REFRESH_TOKEN))
        .await
        .unwrap_err();
    match &err {
        Error::OAuth(o) => assert_eq!(o.error, OAuthErrorCode::InvalidGrant),
        other => panic!("{other:?}"),
    }
}

#[test]
fn jwt_assertion_has_the_documented_claims() {
    use base64::Engine;
    let key = JwtKey::from_pem(TEST_KEY.as_bytes()).unwrap();
    let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let jwt = key
        .assertion(
            "key",
            "user@example.com",
            "https://test.salesforce.com",
            now,
        )
        .unwrap();
    let parts: Vec<&str> = jwt.expose_secret().split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[0])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], "key");
    assert_eq!(claims["sub"], "user@example.com");
    assert_eq!(claims["aud"], "https://test.salesforce.com");
    assert_eq!(claims["exp"], 1_700_000_180);
    assert!(
        JwtKey::from_pem(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----").is_err()
    );
}

#[tokio::test]
async fn client_credentials_need_my_domain() {
    let app = ConnectedApp::new("k")
        .client_secret(SecretString::from("s"))
        .login_host(LoginHost::Production);
    let err = OAuthClient::new(app)
        .unwrap()
        .client_credentials()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("My Domain"), "{err}");
}

#[tokio::test]
async fn wrong_login_host_html_and_redirects_are_reported_as_such() {
    let org = MockOrg::start().await;
    org.token_endpoint_html(true);
    let err = org
        .oauth()
        .refresh(&SecretString::from(MOCK_REFRESH_TOKEN))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongLoginHost {
                what: "an HTML page",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.hint().unwrap().contains("My Domain"));

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "https://elsewhere.example.com/"),
        )
        .mount(&server)
        .await;
    let app =
        ConnectedApp::new(MOCK_CLIENT_ID).login_host(LoginHost::parse(&server.uri()).unwrap());
    let err = OAuthClient::new(app)
        .unwrap()
        .refresh(&SecretString::from("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongLoginHost {
                what: "a redirect",
                status: 302
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "the redirect was not followed"
    );
}

#[tokio::test]
async fn secrets_never_print() {
    let org = MockOrg::start().await;
    let t = org
        .oauth()
        .refresh(&SecretString::from(MOCK_REFRESH_TOKEN))
        .await
        .unwrap();
    let printed = format!(
        "{t:?} {:?} {:?}",
        org.app(),
        Credentials::RefreshToken(SecretString::from(MOCK_REFRESH_TOKEN))
    );
    assert!(
        !printed.contains(t.access_token.expose_secret()),
        "{printed}"
    );
    assert!(!printed.contains(MOCK_REFRESH_TOKEN), "{printed}");
    assert!(!printed.contains("mock-client-secret"), "{printed}");
    let client = org.client();
    client.limits().await.unwrap();
    let printed = format!("{client:?} {:?}", client.session().token().await.unwrap());
    assert!(!printed.contains("00D000000000001!"), "{printed}");
}

#[tokio::test]
async fn a_fixed_access_token_is_used_and_never_renewed() {
    let org = MockOrg::start().await;
    let t = org
        .oauth()
        .refresh(&SecretString::from(MOCK_REFRESH_TOKEN))
        .await
        .unwrap();
    let session = Session::builder(
        org.oauth(),
        Credentials::AccessToken {
            token: t.access_token.clone(),
            instance_url: t.instance_url.clone(),
        },
    )
    .build();
    let client = org.client_for(session);
    client.limits().await.unwrap();
    org.expire_sessions();
    let err = client.limits().await.unwrap_err();
    assert!(matches!(err, Error::ReauthorizationRequired(_)), "{err:?}");
}

#[tokio::test]
async fn insecure_instance_urls_are_refused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"access_token": "00D!x", "instance_url": "http://evil.example.com"}),
        ))
        .mount(&server)
        .await;
    let app = ConnectedApp::new("k").login_host(LoginHost::parse(&server.uri()).unwrap());
    let session = Session::builder(
        OAuthClient::new(app).unwrap(),
        Credentials::RefreshToken(SecretString::from("r")),
    )
    .build();
    let err = session.token().await.unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");
}

#[tokio::test]
async fn the_device_flow_polls_through_pending_and_slow_down() {
    use salesforce_rest::auth::DevicePoll;
    let org = MockOrg::start().await;
    // Stubs answer in the order they were added, each until its count runs out.
    let token = |body: &str| Stub::any("^/services/oauth2/token$").body_contains(body);
    let oauth_error = |e: &str| {
        token("grant_type=device")
            .status(400)
            .json(&serde_json::json!({"error": e, "error_description": e}))
    };
    org.stub(token("response_type=device_code").json(&serde_json::json!({
        "device_code": "dc-secret", "user_code": "WXYZ-1234", "verification_uri": "https://login.salesforce.com/setup/connect", "interval": 0
    })).times(1)).await;
    org.stub(oauth_error("authorization_pending").times(2))
        .await;
    org.stub(oauth_error("slow_down").times(1)).await;
    org.stub(token("grant_type=device").json(&serde_json::json!({
        "access_token": "00D!device", "instance_url": org.uri(), "id": "https://login.salesforce.com/id/00D5g000000AbCdEAK/0055g00000XyZwQAAV", "issued_at": "1700000000000"
    })).times(1)).await;
    let oauth = org.oauth();
    let auth = oauth
        .start_device_flow(&["api", "refresh_token"])
        .await
        .unwrap();
    assert_eq!(auth.user_code, "WXYZ-1234");
    assert!(!format!("{auth:?}").contains("dc-secret"));
    assert!(matches!(
        oauth.device_token(&auth).await.unwrap(),
        DevicePoll::Pending
    ));
    let t = oauth
        .poll_device_flow(&auth, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(t.org_id(), Some("00D5g000000AbCdEAK"));
    assert_eq!(t.user_id(), Some("0055g00000XyZwQAAV"));
    let polls = org
        .requests()
        .await
        .iter()
        .filter(|r| r.body_text().contains("grant_type=device"))
        .count();
    assert_eq!(polls, 4, "pending, pending, slow_down, token");
}

#[tokio::test]
async fn userinfo_fills_the_version_placeholder_and_hides_the_email() {
    let org = MockOrg::start().await;
    org.stub(Stub::any("^/services/oauth2/userinfo$").json(&serde_json::json!({
            "user_id": "0055g00000XyZwQAAV", "organization_id": "00D5g000000AbCdEAK",
            "email": "ana@example.com", "name": "Ana Lima",
            "urls": {"rest": "https://acme.my.salesforce.com/services/data/v{version}/", "sobjects": "https://acme.my.salesforce.com/services/data/v{version}/sobjects/"}
        })))
        .await;
    let info = org
        .oauth()
        .userinfo(&secrecy::SecretString::from("00D!x"), "v66.0")
        .await
        .unwrap();
    assert_eq!(
        info.urls["rest"],
        "https://acme.my.salesforce.com/services/data/v66.0/"
    );
    assert_eq!(info.organization_id, "00D5g000000AbCdEAK");
    let shown = format!("{info:?}");
    assert!(
        !shown.contains("ana@example.com") && !shown.contains("Ana Lima"),
        "{shown}"
    );
}
