//! Single-flight refresh, rotation through a shared store, no loops.

use std::sync::Arc;
use std::time::Duration;

use salesforce_rest::Error;
use salesforce_rest::auth::{Credentials, MemoryTokenStore, Session, StoredToken, TokenStore};
use salesforce_rest::records::Lead;
use salesforce_rest::testkit::{MOCK_REFRESH_TOKEN, MockOrg};
use secrecy::{ExposeSecret, SecretString};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_requests_after_expiry_cause_exactly_one_refresh() {
    let org = MockOrg::start().await;
    let client = org.client();
    client.limits().await.unwrap();
    assert_eq!(org.token_requests(), 1);
    org.expire_sessions();
    org.token_delay(Duration::from_millis(50));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.limits().await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        org.token_requests(),
        2,
        "exactly one refresh for the whole wave"
    );
    assert_eq!(client.session().token_calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_refresh_token_gives_one_typed_error_and_no_loop() {
    let org = MockOrg::start().await;
    let client = org.client();
    client.limits().await.unwrap();
    org.expire_sessions();
    org.revoke_refresh_tokens();
    org.token_delay(Duration::from_millis(30));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.limits().await })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        match &err {
            Error::ReauthorizationRequired(inner) => {
                assert!(matches!(**inner, Error::OAuth(_)), "{inner:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(err.hint().unwrap().contains("revoked"));
    }
    assert_eq!(
        org.token_requests(),
        2,
        "one failed refresh, shared by every waiter"
    );
}

#[tokio::test]
async fn a_refresh_in_the_middle_of_a_paginated_stream() {
    let org = MockOrg::start().await;
    let client = org.client();
    for i in 0..7 {
        client
            .create(&Lead::new(format!("L{i}"), "Acme"))
            .await
            .unwrap();
    }
    org.set_page_size(3);
    let mut stream = client.query_stream::<Lead>("SELECT Id, LastName FROM Lead");
    let mut names = Vec::new();
    for _ in 0..3 {
        names.push(
            stream
                .next()
                .await
                .unwrap()
                .unwrap()
                .last_name
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    org.expire_sessions();
    while let Some(row) = stream.next().await {
        names.push(row.unwrap().last_name.as_str().unwrap().to_owned());
    }
    assert_eq!(names, (0..7).map(|i| format!("L{i}")).collect::<Vec<_>>());
    assert_eq!(stream.pages_fetched(), 3);
    assert_eq!(org.token_requests(), 2);
}

#[tokio::test]
async fn a_stale_401_does_not_refresh_again() {
    let org = MockOrg::start().await;
    let session = org.session();
    let old = session.token().await.unwrap();
    org.expire_sessions();
    let new = session.token_after_unauthorized(&old).await.unwrap();
    assert_ne!(old.generation(), new.generation());
    // Another request that carried the old token reports its 401 late.
    let again = session.token_after_unauthorized(&old).await.unwrap();
    assert_eq!(again.generation(), new.generation());
    assert_eq!(org.token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_through_a_shared_store_never_spends_a_token_twice() {
    let org = MockOrg::start().await;
    org.enable_rotation();
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::with(
        StoredToken::with_refresh_token(SecretString::from(MOCK_REFRESH_TOKEN)),
    ));
    // Two "instances": separate sessions and clients, one store.
    let a = org.client_for(
        Session::builder(
            org.oauth(),
            Credentials::RefreshToken(SecretString::from(MOCK_REFRESH_TOKEN)),
        )
        .token_store(store.clone())
        .build(),
    );
    let b = org.client_for(
        Session::builder(
            org.oauth(),
            Credentials::RefreshToken(SecretString::from(MOCK_REFRESH_TOKEN)),
        )
        .token_store(store.clone())
        .build(),
    );
    a.limits().await.unwrap();
    let first = store.load().await.unwrap().unwrap();
    assert!(
        first
            .refresh_token
            .as_ref()
            .unwrap()
            .expose_secret()
            .starts_with("5AepRotated"),
        "the rotated token was saved"
    );
    b.limits().await.unwrap();
    assert_eq!(
        org.token_requests(),
        1,
        "instance B used the token A stored"
    );
    org.expire_sessions();
    org.token_delay(Duration::from_millis(40));
    // Two tasks on two threads, released together: the refreshes really race.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let tasks: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|c| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                c.limits().await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        org.token_requests(),
        2,
        "one refresh for both instances (a lease in the store)"
    );
    let now = store.load().await.unwrap().unwrap();
    assert!(now.version > first.version);
    assert!(now.refresh_lease_until.is_none());
    assert_ne!(
        now.refresh_token.as_ref().unwrap().expose_secret(),
        first.refresh_token.as_ref().unwrap().expose_secret()
    );
}

#[tokio::test]
async fn proactive_renewal_with_a_configured_lifetime() {
    let org = MockOrg::start().await;
    let session = Session::builder(
        org.oauth(),
        Credentials::RefreshToken(SecretString::from(MOCK_REFRESH_TOKEN)),
    )
    .session_lifetime(Duration::from_millis(200))
    .build();
    let t1 = session.token().await.unwrap();
    let t2 = session.token().await.unwrap();
    assert_eq!(t1.generation(), t2.generation());
    tokio::time::sleep(Duration::from_millis(250)).await;
    let t3 = session.token().await.unwrap();
    assert_ne!(t1.generation(), t3.generation(), "renewed before any 401");
    assert_eq!(org.token_requests(), 2);
}

#[tokio::test]
async fn introspection_gives_the_expiry() {
    let org = MockOrg::start().await;
    let session = Session::builder(
        org.oauth(),
        Credentials::RefreshToken(SecretString::from(MOCK_REFRESH_TOKEN)),
    )
    .introspect_expiry(true)
    .build();
    session.token().await.unwrap();
    let t = session.token().await.unwrap();
    assert_eq!(org.token_requests(), 1, "two hours left: no renewal");
    assert!(
        org.requests()
            .await
            .iter()
            .any(|r| r.url.path() == "/services/oauth2/introspect")
    );
    let _ = t;
}

#[tokio::test]
async fn jwt_and_client_credentials_sessions_rerun_their_flow() {
    let org = MockOrg::start().await;
    let key = salesforce_rest::auth::JwtKey::from_pem(
        include_str!("../fixtures/test_rsa_key.pem").as_bytes(),
    )
    .unwrap();
    let jwt = org.client_for(
        Session::builder(
            org.oauth(),
            Credentials::JwtBearer {
                username: "u@example.com".into(),
                key,
            },
        )
        .build(),
    );
    jwt.limits().await.unwrap();
    org.expire_sessions();
    jwt.limits().await.unwrap();
    let cc = org.client_for(Session::builder(org.oauth(), Credentials::ClientCredentials).build());
    cc.limits().await.unwrap();
    assert_eq!(org.token_requests(), 3);
}

#[tokio::test]
async fn rotated_refresh_tokens_survive_restarts_in_a_file_store() {
    use salesforce_rest::auth::{Credentials, FileTokenStore, Session};
    use salesforce_rest::testkit::MOCK_REFRESH_TOKEN;
    use secrecy::SecretString;
    let org = MockOrg::start().await;
    org.enable_rotation();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("salesforce-token.json");
    for restart in 0..4 {
        // A new process each time, configured with the refresh token it was
        // first given: the store's rotated one must win over it.
        let session = Session::builder(
            org.oauth(),
            Credentials::RefreshToken(SecretString::from(MOCK_REFRESH_TOKEN)),
        )
        .token_store(std::sync::Arc::new(FileTokenStore::new(&path)))
        .build();
        let client = org.client_for(session);
        org.expire_sessions();
        client
            .limits()
            .await
            .unwrap_or_else(|e| panic!("restart {restart}: {e}"));
    }
    assert_eq!(
        org.token_requests(),
        4,
        "one refresh per restart, none refused"
    );
}

async fn token_calls(org: &MockOrg) -> usize {
    org.requests()
        .await
        .iter()
        .filter(|r| r.url.path() == "/services/oauth2/token")
        .count()
}

async fn token_endpoint_answers(org: &MockOrg, answer: wiremock::ResponseTemplate, times: u64) {
    wiremock::Mock::given(wiremock::matchers::path("/services/oauth2/token"))
        .respond_with(answer)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(org.server())
        .await;
}

#[tokio::test]
async fn a_token_endpoint_outage_is_transient_not_a_reauthorization() {
    for answer in [
        wiremock::ResponseTemplate::new(500),
        wiremock::ResponseTemplate::new(503).set_body_raw(
            "<html><body>Down for maintenance</body></html>",
            "text/html",
        ),
    ] {
        let org = MockOrg::start().await;
        let client = org.client();
        token_endpoint_answers(&org, answer, 1).await;
        let e = client.limits().await.unwrap_err();
        assert!(!matches!(e, Error::ReauthorizationRequired(_)), "{e:?}");
        assert!(e.is_retryable(), "{e:?}");
    }
}

#[tokio::test]
async fn a_stored_token_issued_long_ago_by_a_skewed_clock_is_not_renewed_on_arrival() {
    let org = MockOrg::start().await;
    let store = Arc::new(MemoryTokenStore::new());
    let first = org.client_for(
        Session::builder(
            org.oauth(),
            Credentials::RefreshToken(SecretString::from(MOCK_REFRESH_TOKEN)),
        )
        .token_store(store.clone())
        .build(),
    );
    first.limits().await.unwrap();
    // The server's clock is three hours behind ours.
    let mut t = store.load().await.unwrap().unwrap();
    t.issued_at = Some(chrono::Utc::now() - chrono::Duration::hours(3));
    let v = t.version;
    t.version += 1;
    assert!(store.compare_and_swap(Some(v), t).await.unwrap());
    let before = token_calls(&org).await;
    let second = org.client_for(
        Session::builder(
            org.oauth(),
            Credentials::RefreshToken(SecretString::from(MOCK_REFRESH_TOKEN)),
        )
        .token_store(store.clone())
        .session_lifetime(Duration::from_secs(2 * 3600))
        .build(),
    );
    for _ in 0..20 {
        second.limits().await.unwrap();
    }
    assert_eq!(
        token_calls(&org).await,
        before,
        "the token's age counts from when we got it"
    );
}

#[tokio::test]
async fn a_refresh_refused_as_concurrent_is_retried_once() {
    let org = MockOrg::start().await;
    let client = org.client();
    token_endpoint_answers(
        &org,
        wiremock::ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_grant", "error_description": "token request is already being processed"
        })),
        1,
    )
    .await;
    client.limits().await.unwrap();
    assert_eq!(token_calls(&org).await, 2, "one refusal, one retry");
}

#[tokio::test]
async fn the_login_rate_limit_backs_off_for_minutes() {
    let org = MockOrg::start().await;
    let client = org.client();
    token_endpoint_answers(
        &org,
        wiremock::ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "rate_limit_exceeded", "error_description": "ip/login rate exceeded"
        })),
        1,
    )
    .await;
    let e = client.limits().await.unwrap_err();
    assert!(e.is_login_rate_limit(), "{e:?}");
    tokio::time::sleep(Duration::from_secs(6)).await; // past the 5 s transient cooldown
    let again = client.limits().await.unwrap_err();
    assert!(again.is_login_rate_limit(), "still backing off: {again:?}");
    assert_eq!(
        token_calls(&org).await,
        1,
        "no token call while backing off"
    );
}

#[tokio::test]
async fn a_session_renews_when_its_clock_says_so_without_sleeping() {
    use chrono::Utc;
    use salesforce_rest::auth::ManualClock;
    let org = MockOrg::start().await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let session = Session::builder(
        org.oauth(),
        Credentials::RefreshToken(SecretString::from(MOCK_REFRESH_TOKEN)),
    )
    .session_lifetime(Duration::from_secs(2 * 3600))
    .clock(clock.clone())
    .build();
    let client = org.client_for(session);
    client.limits().await.unwrap();
    client.limits().await.unwrap();
    assert_eq!(org.token_requests(), 1);
    // 1 h 50 min later: still inside the lifetime minus the margin.
    clock.advance(chrono::Duration::minutes(110));
    client.limits().await.unwrap();
    assert_eq!(org.token_requests(), 1);
    // 1 h 59 min 30 s: within the last minute, renewed before any 401.
    clock.advance(chrono::Duration::seconds(9 * 60 + 30));
    let limits_calls = || async {
        org.requests()
            .await
            .iter()
            .filter(|r| r.url.path().ends_with("/limits"))
            .count()
    };
    let before = limits_calls().await;
    client.limits().await.unwrap();
    assert_eq!(org.token_requests(), 2, "renewed proactively");
    assert_eq!(
        limits_calls().await - before,
        1,
        "no 401 and retry: one REST request"
    );
}
