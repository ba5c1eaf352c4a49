//! Every error class, non-JSON answers, retries and their limits.

use salesforce_rest::records::{Case, Lead};
use salesforce_rest::testkit::{MockFailure, MockOrg, Stub};
use salesforce_rest::{Error, ErrorCode, LimitKind};

#[tokio::test]
async fn every_error_class_is_typed_with_a_hint() {
    let org = MockOrg::start().await;
    let client = org.client();
    client.limits().await.unwrap();
    let cases = [
        (
            MockFailure::api_disabled(),
            ErrorCode::ApiDisabledForOrg,
            "API Enabled",
        ),
        (
            MockFailure::daily_limit(),
            ErrorCode::RequestLimitExceeded,
            "24-hour",
        ),
        (
            MockFailure::api(400, "INVALID_FIELD", "No such column 'Foo'"),
            ErrorCode::InvalidField,
            "__c",
        ),
        (
            MockFailure::api(400, "MALFORMED_QUERY", "unexpected token"),
            ErrorCode::MalformedQuery,
            "escaping",
        ),
        (
            MockFailure::api(400, "DUPLICATES_DETECTED", "Use one of these records?"),
            ErrorCode::DuplicatesDetected,
            "allowSave",
        ),
        (
            MockFailure::api(404, "ENTITY_IS_DELETED", "entity is deleted"),
            ErrorCode::EntityIsDeleted,
            "deleted",
        ),
        (
            MockFailure::api(400, "DUPLICATE_VALUE", "duplicate value found"),
            ErrorCode::DuplicateValue,
            "upsert",
        ),
        (
            MockFailure::api(400, "SOMETHING_NEW", "new"),
            ErrorCode::Other("SOMETHING_NEW".into()),
            "",
        ),
    ];
    for (failure, code, hint) in cases {
        org.fail_next(failure, 1).await;
        let err = client.create(&Lead::new("a", "b")).await.unwrap_err();
        assert_eq!(err.code(), Some(&code), "{err}");
        if !hint.is_empty() {
            assert!(err.hint().unwrap().contains(hint), "{err}");
        }
        assert!(!err.is_retryable());
    }
    org.fail_next(MockFailure::daily_limit(), 1).await;
    let err = client.limits().await.unwrap_err();
    assert_eq!(
        err.api_error().unwrap().errors[0].limit_kind(),
        Some(LimitKind::Daily)
    );
}

#[tokio::test]
async fn transient_failures_of_idempotent_calls_are_retried() {
    let org = MockOrg::start().await;
    let client = org.client();
    let id = client.create(&Case::new("s", "d")).await.unwrap();
    for failure in [
        MockFailure::lock_row(),
        MockFailure::api(503, "SERVER_UNAVAILABLE", "down"),
        MockFailure::concurrent_limit(),
        MockFailure::Html(503),
        MockFailure::Empty(502),
    ] {
        org.fail_next(failure.clone(), 2).await;
        let mut patch = Case::default();
        patch.status = "Working".into();
        client
            .update(&id, &patch)
            .await
            .unwrap_or_else(|e| panic!("{failure:?}: {e}"));
    }
    org.fail_next(MockFailure::lock_row(), 5).await;
    let err = client.get::<Case>(&id, &[]).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&ErrorCode::UnableToLockRow),
        "bounded: gives up after 3 attempts"
    );
}

#[tokio::test]
async fn creates_are_not_retried_after_an_ambiguous_failure() {
    let org = MockOrg::start().await;
    let client = org.client();
    client.limits().await.unwrap();
    let before = org.api_calls();
    org.fail_next(MockFailure::Html(503), 1).await;
    let err = client.create(&Lead::new("a", "b")).await.unwrap_err();
    match &err {
        Error::UnexpectedResponse {
            status,
            excerpt,
            reason,
        } => {
            assert_eq!(*status, 503);
            assert!(excerpt.contains("Service Unavailable"), "{excerpt}");
            assert!(reason.contains("HTML"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable(), "retryable in principle...");
    let posts = org
        .requests()
        .await
        .iter()
        .filter(|r| r.method() == "POST" && r.path().ends_with("/sobjects/Lead"))
        .count();
    assert_eq!(posts, 1, "...but a create is sent once");
    assert_eq!(org.records("Lead").len(), 0);
    let _ = before;
}

#[tokio::test]
async fn retired_versions_and_odd_bodies() {
    let org = MockOrg::start().await;
    let client = org.client();
    client.limits().await.unwrap();
    org.fail_next(MockFailure::Empty(410), 1).await;
    assert!(matches!(
        client.limits().await.unwrap_err(),
        Error::ApiVersionRetired { .. }
    ));
    org.fail_next(MockFailure::Empty(500), 1).await;
    let err = client.create(&Lead::new("a", "b")).await.unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedResponse { status: 500, .. }),
        "{err:?}"
    );
    org.stub(
        Stub::any("/limits$")
            .text("{\"DailyApiRequests\": {\"Max\": 5")
            .times(1),
    )
    .await;
    let err = client.limits().await.unwrap_err();
    match err {
        Error::UnexpectedResponse { reason, .. } => {
            assert!(reason.contains("truncated"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_401_that_is_not_refreshable_is_returned_not_looped() {
    let org = MockOrg::start().await;
    let client = org.client();
    client.limits().await.unwrap();
    org.fail_next(
        MockFailure::api(
            401,
            "INVALID_SESSION_ID",
            "This session is not valid for use with the REST API",
        ),
        1,
    )
    .await;
    let err = client.limits().await.unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::InvalidSessionId));
    assert_eq!(
        org.token_requests(),
        1,
        "no refresh for a non-refreshable 401"
    );
    // A refreshable 401 that persists after renewal: renewed once, then returned.
    org.fail_next(
        MockFailure::api(401, "INVALID_SESSION_ID", "Session expired or invalid"),
        2,
    )
    .await;
    let err = client.limits().await.unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::InvalidSessionId));
    assert_eq!(org.token_requests(), 2);
}

#[test]
fn displayed_api_errors_mask_the_values_salesforce_echoes() {
    let body = br#"[{"message":"Description: data value too large: call me at +1 415 555 0123 or ana@example.com (max length=255)","errorCode":"STRING_TOO_LONG","fields":["Description"]}]"#;
    let e = salesforce_rest::ApiError::from_body(400, body).unwrap();
    let shown = e.to_string();
    assert!(
        !shown.contains("555") && !shown.contains("ana@example.com"),
        "{shown}"
    );
    assert!(
        shown.contains("STRING_TOO_LONG") && shown.contains("Description"),
        "{shown}"
    );
    assert!(
        e.errors[0].message.contains("+1 415 555 0123"),
        "the full text stays available"
    );
}
