//! Single-flight refresh, rotation through a shared store, no loops.

use std::sync::Arc;
use std::time::Duration;

use salesforce_rest::Error;
use salesforce_rest::auth::{Credentials, MemoryTokenStore, Session, StoredToken, TokenStore};
use salesforce_rest::records::Lead;
use salesforce_rest::testkit::{MOCK_REFRESH_TOKEN, MockOrg, Stub};
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
            .any(|r| r.path() == "/services/oauth2/introspect")
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
        .filter(|r| r.path() == "/services/oauth2/token")
        .count()
}

async fn token_endpoint_answers(org: &MockOrg, answer: Stub, times: u64) {
    org.stub(answer.times(times)).await;
}

/// A stub for the token endpoint, answering `status`.
fn token_answer(status: u16) -> Stub {
    Stub::any("^/services/oauth2/token$").status(status)
}

#[tokio::test]
async fn a_token_endpoint_outage_is_transient_not_a_reauthorization() {
    for answer in [
        token_answer(500),
        token_answer(503)
            .text("<html><body>Down for maintenance</body></html>")
            .header("content-type", "text/html"),
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
        token_answer(400).json(&serde_json::json!({
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
    use salesforce_rest::auth::ManualClock;
    let org = MockOrg::start().await;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let session = Session::builder(
        org.oauth(),
        Credentials::RefreshToken(SecretString::from(MOCK_REFRESH_TOKEN)),
    )
    .clock(clock.clone())
    .build();
    let client = org.client_for(session);
    token_endpoint_answers(
        &org,
        token_answer(400).json(&serde_json::json!({
            "error": "rate_limit_exceeded", "error_description": "ip/login rate exceeded"
        })),
        1,
    )
    .await;
    let e = client.limits().await.unwrap_err();
    assert!(e.is_login_rate_limit(), "{e:?}");
    clock.advance(Duration::from_secs(6)); // past the 5 s transient cooldown
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
    clock.advance(Duration::from_secs(110 * 60));
    client.limits().await.unwrap();
    assert_eq!(org.token_requests(), 1);
    // 1 h 59 min 30 s: within the last minute, renewed before any 401.
    clock.advance(Duration::from_secs(9 * 60 + 30));
    let limits_calls = || async {
        org.requests()
            .await
            .iter()
            .filter(|r| r.path().ends_with("/limits"))
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

/// Issue 26, item 0: a stored session must not outlive a change of org. A
/// process logged in to org A leaves its session in the file; the next run is
/// configured for org B (another login host) with the same file: every write
/// goes to B, after a login at B, never to A.
#[tokio::test]
async fn a_stored_session_of_another_org_is_discarded_not_used() {
    use salesforce_rest::auth::{Credentials, FileTokenStore, Session, TokenStore};
    use salesforce_rest::records::DynamicRecord;
    use salesforce_rest::testkit::MOCK_REFRESH_TOKEN;
    use secrecy::SecretString;
    let (a, b) = (MockOrg::start().await, MockOrg::start().await);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("salesforce-token.json");
    let session_for = |org: &MockOrg| {
        Session::builder(
            org.oauth(),
            Credentials::RefreshToken(SecretString::from(MOCK_REFRESH_TOKEN)),
        )
        .token_store(std::sync::Arc::new(FileTokenStore::new(&path)))
        .build()
    };
    let case = DynamicRecord::new().set("Subject", "first run");
    let on_a = session_for(&a);
    a.client_for(on_a.clone())
        .create(&case)
        .object("Case")
        .await
        .unwrap();
    let stored = FileTokenStore::new(&path).load().await.unwrap().unwrap();
    assert_eq!(stored.issuer.as_deref(), Some(on_a.issuer()));
    assert_eq!(stored.org_id.as_deref(), Some("00D000000000001EAA"));

    // The next run, pointed at org B, same data directory.
    let on_b = session_for(&b);
    assert_ne!(
        on_a.issuer(),
        on_b.issuer(),
        "another login host, another issuer"
    );
    let client = b.client_for(on_b.clone());
    client
        .create(&DynamicRecord::new().set("Subject", "second run"))
        .object("Case")
        .await
        .unwrap();
    assert_eq!(a.records("Case").len(), 1, "nothing more went to org A");
    assert_eq!(b.records("Case").len(), 1, "the write went to org B");
    assert_eq!(b.token_requests(), 1, "org B saw a login");
    assert_eq!(
        a.token_requests(),
        1,
        "org A's refresh token was not spent again"
    );
    let stored = FileTokenStore::new(&path).load().await.unwrap().unwrap();
    assert_eq!(stored.issuer.as_deref(), Some(on_b.issuer()));

    // The same configuration again adopts the stored session: no new login.
    let again = b.client_for(session_for(&b));
    again.limits().await.unwrap();
    assert_eq!(b.token_requests(), 1);
}

/// A session pinned to an org refuses a token of another org, with an error
/// naming both, and never saves it.
#[tokio::test]
async fn a_pinned_org_refuses_tokens_of_another_org() {
    use salesforce_rest::auth::{Credentials, MemoryTokenStore, Session, TokenStore};
    use salesforce_rest::testkit::MOCK_REFRESH_TOKEN;
    use secrecy::SecretString;
    let org = MockOrg::start().await;
    let store = std::sync::Arc::new(MemoryTokenStore::new());
    let session = Session::builder(
        org.oauth(),
        Credentials::RefreshToken(SecretString::from(MOCK_REFRESH_TOKEN)),
    )
    .token_store(store.clone())
    .expect_org_id("00D0000000000ZZ")
    .build();
    let e = org.client_for(session).limits().await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("00D000000000001EAA") && text.contains("00D0000000000ZZ"),
        "{text}"
    );
    let stored = store.load().await.unwrap();
    assert!(
        stored.is_none_or(|s| s.access_token.is_none()),
        "the other org's token is never saved"
    );
    // The right org (15-character form accepted) works.
    let right = Session::builder(
        org.oauth(),
        Credentials::RefreshToken(SecretString::from(MOCK_REFRESH_TOKEN)),
    )
    .expect_org_id("00D000000000001")
    .build();
    org.client_for(right).limits().await.unwrap();
}

/// A record written before sessions were bound is adopted once and bound to
/// the configuration that found it (no login spent on an upgrade).
#[tokio::test]
async fn an_unbound_record_is_bound_on_first_use() {
    use salesforce_rest::auth::{Credentials, MemoryTokenStore, Session, StoredToken, TokenStore};
    use salesforce_rest::testkit::MOCK_REFRESH_TOKEN;
    use secrecy::SecretString;
    let org = MockOrg::start().await;
    // A real token of the org, saved the way older versions did (no issuer).
    let token = org
        .oauth()
        .refresh(&SecretString::from(MOCK_REFRESH_TOKEN))
        .await
        .unwrap();
    let mut legacy = StoredToken::with_refresh_token(SecretString::from(MOCK_REFRESH_TOKEN));
    legacy.version = 3;
    legacy.access_token = Some(token.access_token.clone());
    legacy.instance_url = Some(token.instance_url.clone());
    let store = std::sync::Arc::new(MemoryTokenStore::with(legacy));
    let session = Session::builder(
        org.oauth(),
        Credentials::RefreshToken(SecretString::from(MOCK_REFRESH_TOKEN)),
    )
    .token_store(store.clone())
    .build();
    org.client_for(session.clone()).limits().await.unwrap();
    assert_eq!(org.token_requests(), 1, "only the set-up refresh");
    let stored = store.load().await.unwrap().unwrap();
    assert_eq!(stored.issuer.as_deref(), Some(session.issuer()));
    assert_eq!(stored.version, 4);
}
