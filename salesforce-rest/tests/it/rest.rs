//! sObjects, upsert answers, queries, collections, composite, limits.

use chrono::{DateTime, Utc};
use salesforce_rest::records::{Case, DynamicRecord, Field, Lead};
use salesforce_rest::sobjects::{AutoAssign, WriteOptions};
use salesforce_rest::soql::{Like, Soql};
use salesforce_rest::testkit::{MockOrg, RecordedRequest, Stub};
use salesforce_rest::{Error, SalesforceId};
use serde_json::json;

#[tokio::test]
async fn create_get_update_delete() {
    let org = MockOrg::start().await;
    let client = org.client();
    let mut lead = Lead::new("Lima", "Acme");
    lead.phone = "+1 (415) 555-0123".into();
    lead.extra.insert("Score__c".into(), json!(10));
    let id = client.create(&lead).await.unwrap();
    assert_eq!(id.key_prefix(), "00Q");
    let got: Lead = client
        .get(&id, &["LastName", "Phone", "Score__c"])
        .await
        .unwrap();
    assert_eq!(got.phone.as_str(), Some("+1 (415) 555-0123"));
    assert_eq!(got.extra["Score__c"], 10);
    assert_eq!(got.id.as_ref(), Some(&id));
    let mut patch = Lead::default();
    patch.status = "Working".into();
    patch.phone = Field::Null;
    client.update(&id, &patch).await.unwrap();
    let stored = &org.records("Lead")[0];
    assert_eq!(stored["Status"], "Working");
    assert!(stored["Phone"].is_null(), "null clears");
    assert_eq!(stored["LastName"], "Lima", "unset leaves unchanged");
    let body = org
        .requests()
        .await
        .into_iter()
        .find(|r| r.method() == "PATCH")
        .unwrap()
        .body_json()
        .unwrap();
    assert_eq!(body, json!({"Phone": null, "Status": "Working"}));
    client.delete("Lead", &id).await.unwrap();
    assert!(org.records("Lead").is_empty());
    let err = client.get::<Lead>(&id, &[]).await.unwrap_err();
    assert!(err.hint().is_some());
}

#[tokio::test]
async fn cases_get_a_case_number_and_options_become_headers() {
    let org = MockOrg::start().await;
    let client = org.client();
    let mut case = Case::new("Broken", "Arrived broken");
    case.supplied_phone = "14155550123".into();
    let opts = WriteOptions::new()
        .auto_assign(AutoAssign::Off)
        .allow_duplicates(true);
    let id = client.create(&case).options(opts).await.unwrap();
    let read: Case = client.get(&id, &["CaseNumber", "Subject"]).await.unwrap();
    assert_eq!(read.case_number.as_deref(), Some("00001026"));
    let post = org
        .requests()
        .await
        .into_iter()
        .find(|r| r.method() == "POST" && r.path().ends_with("/sobjects/Case"))
        .unwrap();
    assert_eq!(post.header("sforce-auto-assign").unwrap(), "FALSE");
    assert_eq!(
        post.header("sforce-duplicate-rule-header").unwrap(),
        "allowSave=true"
    );
}

#[tokio::test]
async fn upsert_tells_created_from_updated_and_routes_unsafe_values_through_collections() {
    let org = MockOrg::start().await;
    let client = org.client();
    let case = Case::new("Hello", "first");
    let first = client.upsert("Ext_Id__c", "INV-1042", &case).await.unwrap();
    assert!(first.created);
    let second = client
        .upsert("Ext_Id__c", "INV-1042", &Case::new("Hello", "second"))
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(first.id, second.id);
    let wamid = "wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQTdBQjE2/+==";
    let a = client
        .upsert("WhatsApp_Message_Id__c", wamid, &Case::new("WA", "once"))
        .await
        .unwrap();
    let b = client
        .upsert("WhatsApp_Message_Id__c", wamid, &Case::new("WA", "twice"))
        .await
        .unwrap();
    assert!(a.created && !b.created);
    assert_eq!(org.records("Case").len(), 2);
    assert!(org.requests().await.iter().any(|r| {
        r.path()
            .ends_with("/composite/sobjects/Case/WhatsApp_Message_Id__c")
    }));
    assert!(
        org.requests()
            .await
            .iter()
            .all(|r| !r.path().contains("wamid")),
        "the id never travels in a path"
    );
}

#[tokio::test]
async fn upsert_handles_204_and_300() {
    let org = MockOrg::start().await;
    let client = org.client();
    org.stub(Stub::new("PATCH", "/sobjects/Case/Ext__c/OLD$").status(204))
        .await;
    let o = client
        .upsert("Ext__c", "OLD", &Case::new("s", "d"))
        .await
        .unwrap();
    assert!(!o.created && o.id.is_none());
    org.insert("Case", json!({"Ext__c": "DUP", "Subject": "a"}));
    org.insert("Case", json!({"Ext__c": "DUP", "Subject": "b"}));
    match client
        .upsert("Ext__c", "DUP", &Case::new("s", "d"))
        .await
        .unwrap_err()
    {
        Error::MultipleMatches { records } => assert_eq!(records.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn queries_search_and_change_polling() {
    let org = MockOrg::start().await;
    let client = org.client();
    for (name, phone) in [
        ("A", "+14155550123"),
        ("B", "(415) 555-0199"),
        ("O'Brien", "4155550100"),
    ] {
        let mut l = Lead::new(name, "Acme");
        l.phone = phone.into();
        client.create(&l).await.unwrap();
    }
    let q = Soql::new("SELECT Id, LastName FROM Lead WHERE LastName = {}")
        .bind("O'Brien")
        .build()
        .unwrap();
    let page = client.query::<Lead>(&q).await.unwrap();
    assert_eq!(page.total_size, 1);
    assert!(page.done);
    let count = client
        .query::<serde_json::Value>("SELECT COUNT() FROM Lead")
        .await
        .unwrap();
    assert_eq!(count.total_size, 3);
    assert!(
        client
            .query_all::<Lead>("SELECT Id FROM Lead")
            .await
            .unwrap()
            .records
            .len()
            == 3
    );
    let like = Soql::new("SELECT Id FROM Lead WHERE Name LIKE {}")
        .bind(Like::contains("x"))
        .build()
        .unwrap();
    assert!(like.contains(r"'%x%'"));
    let hits = client
        .search("FIND {4155550199} IN PHONE FIELDS RETURNING Lead(Id)")
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    let all = client
        .query_stream::<Lead>("SELECT Id, LastName, SystemModstamp FROM Lead")
        .collect_max(10)
        .await
        .unwrap();
    let watermark = all[0].system_modstamp.unwrap().0;
    let changed = client
        .changed_since::<Lead>("Lead", &["Id", "LastName"], watermark)
        .unwrap()
        .collect_max(10)
        .await
        .unwrap();
    assert_eq!(
        changed.len(),
        2,
        "strictly after the watermark, oldest first"
    );
    assert_eq!(changed[0].last_name.as_str(), Some("B"));
    assert!(
        client
            .query_stream::<Lead>("SELECT Id FROM Lead")
            .collect_max(2)
            .await
            .is_err(),
        "the guard trips"
    );
    assert!(
        client
            .changed_since::<Lead>("Lead; DROP", &["Id"], Utc::now())
            .is_err()
    );
    let _: DateTime<Utc> = watermark;
}

#[tokio::test]
async fn ten_thousand_records_go_in_fifty_collection_requests() {
    let org = MockOrg::start().await;
    let client = org.client();
    let leads: Vec<Lead> = (0..10_000)
        .map(|i| Lead::new(format!("L{i}"), "Acme"))
        .collect();
    let before = org.api_calls();
    let results = client.create_many(&leads, true).await.unwrap();
    assert_eq!(org.api_calls() - before, 50);
    assert_eq!(results.len(), 10_000);
    assert!(results.iter().all(|r| r.success && r.id.is_some()));
    let ids: Vec<SalesforceId> = results
        .iter()
        .take(300)
        .map(|r| r.id.clone().unwrap())
        .collect();
    let mut patch = Lead::default();
    patch.status = "Working".into();
    let updates: Vec<_> = ids.iter().map(|id| (id.clone(), patch.clone())).collect();
    assert!(
        client
            .update_many(&updates, false)
            .await
            .unwrap()
            .iter()
            .all(|r| r.success)
    );
    let deleted = client.delete_many(&ids, false).await.unwrap();
    assert_eq!(deleted.len(), 300);
    assert_eq!(org.records("Lead").len(), 9_700);
}

#[tokio::test]
async fn per_record_failures_are_typed() {
    let org = MockOrg::start().await;
    let client = org.client();
    let mut bad = Lead::default();
    bad.last_name = "NoCompany".into();
    let results = client
        .create_many(&[Lead::new("Ok", "Acme"), bad], false)
        .await
        .unwrap();
    assert!(results[0].success);
    assert!(!results[1].success);
    assert_eq!(
        results[1].errors[0].code,
        salesforce_rest::ErrorCode::RequiredFieldMissing
    );
    assert_eq!(results[1].errors[0].fields, vec!["Company"]);
    let mut case = Case::new("a", "b");
    case.extra.insert("Ext__c".into(), json!("E-1"));
    let upserts = client
        .upsert_many("Ext__c", &[case.clone()], false)
        .await
        .unwrap();
    assert_eq!(upserts[0].created, Some(true));
    let again = client.upsert_many("Ext__c", &[case], false).await.unwrap();
    assert_eq!(again[0].created, Some(false));
    assert_eq!(again[0].id, upserts[0].id);
}

#[tokio::test]
async fn describe_limits_usage_and_versions() {
    let org = MockOrg::start().await;
    let client = org.client();
    let d = client.describe("Lead").await.unwrap();
    assert!(
        d.fields
            .iter()
            .any(|f| f.name == "WhatsApp_Message_Id__c" && f.external_id)
    );
    assert_eq!(client.describe_global().await.unwrap().len(), 2);
    let limits = client.limits().await.unwrap();
    assert_eq!(limits["DailyApiRequests"].max, 15000);
    let usage = client.api_usage().unwrap();
    assert_eq!(usage.max, 15000);
    assert!(usage.used >= 1);
    assert!(
        client
            .versions()
            .await
            .unwrap()
            .iter()
            .any(|v| v.version == "66.0")
    );
    let dynamic = DynamicRecord::new()
        .set("Name", "INV-1")
        .set("Amount__c", 1499.99);
    let id = client.create(&dynamic).object("Invoice__c").await.unwrap();
    assert_eq!(
        client
            .get_dynamic("Invoice__c", &id, &["Name"])
            .await
            .unwrap()
            .get("Name")
            .unwrap(),
        "INV-1"
    );
    assert!(matches!(
        client.describe("Bad Name").await,
        Err(Error::Config(_))
    ));
}

#[test]
fn handles_are_send_sync_clone_and_debug() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    assert_traits::<salesforce_rest::Client>();
    assert_traits::<salesforce_rest::auth::Session>();
    assert_traits::<salesforce_rest::auth::OAuthClient>();
    assert_traits::<salesforce_rest::Error>();
}

#[tokio::test]
async fn a_stream_yields_its_rows_then_the_error_then_ends() {
    let org = MockOrg::start().await;
    org.stub(Stub::new("GET", ".*/query$").json(&json!({
        "totalSize": 4, "done": false,
        "records": [{"Id": "00Q000000000001AAA"}, {"Id": "00Q000000000002AAA"}]
    })))
    .await;
    let mut rows = org
        .client()
        .query_stream::<DynamicRecord>("SELECT Id FROM Lead");
    let mut seen = Vec::new();
    while let Some(r) = rows.next().await {
        seen.push(r.is_ok());
    }
    assert_eq!(
        seen,
        [true, true, false],
        "rows, then the error, then the end"
    );
}

#[tokio::test]
async fn dot_external_ids_go_through_the_collections_upsert() {
    let org = MockOrg::start().await;
    let client = org.client();
    for value in [".", ".."] {
        let o = client
            .upsert(
                "WhatsApp_Message_Id__c",
                value,
                &DynamicRecord::new().set("Subject", "x"),
            )
            .object("Case")
            .await
            .unwrap();
        assert!(o.created, "{value}");
    }
    let paths: Vec<String> = org
        .requests()
        .await
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert!(
        paths
            .iter()
            .all(|p| !p.ends_with("/WhatsApp_Message_Id__c/.")
                && !p.ends_with("/WhatsApp_Message_Id__c/..")),
        "{paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.contains("/composite/sobjects/")),
        "{paths:?}"
    );
    assert_eq!(org.records("Case").len(), 2);
}

#[tokio::test]
async fn retry_after_is_honoured_within_the_time_budget() {
    let busy = |after: &str| {
        Stub::new("GET", ".*/limits/?$")
            .status(503)
            .header("retry-after", after)
            .json(&json!([{"errorCode": "SERVER_UNAVAILABLE", "message": "busy"}]))
            .times(1)
    };
    let limit_calls =
        |reqs: &[RecordedRequest]| reqs.iter().filter(|r| r.path().contains("/limits")).count();
    // A short Retry-After: waited for, then the call succeeds.
    let org = MockOrg::start().await;
    org.stub(busy("1")).await;
    org.client().limits().await.unwrap();
    assert_eq!(limit_calls(&org.requests().await), 2);
    // Longer than the call's budget: no retry at all, the error comes back now.
    let org = MockOrg::start().await;
    org.stub(busy("120")).await;
    assert!(org.client().limits().await.is_err());
    assert_eq!(
        limit_calls(&org.requests().await),
        1,
        "no retry that would end after the budget"
    );
}

#[tokio::test]
async fn the_escape_hatch_reaches_any_endpoint_with_the_same_rules() {
    let org = MockOrg::start().await;
    org.stub(Stub::new("POST", "^/services/apexrest/Orders/42$").json(&json!({"ok": true})))
        .await;
    let client = org.client();
    let limits: serde_json::Value = client
        .request(reqwest::Method::GET, "limits")
        .unwrap()
        .send()
        .await
        .unwrap()
        .json()
        .unwrap();
    assert!(limits.get("DailyApiRequests").is_some());
    org.expire_sessions(); // the same refresh rule applies
    let r = client
        .apex_rest(reqwest::Method::POST, "Orders/42")
        .unwrap()
        .json(&json!({"status": "Shipped"}))
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<serde_json::Value>().unwrap()["ok"], true);
    assert!(
        matches!(
            client
                .request(reqwest::Method::GET, "sobjects/Lead/00Q000000000000AAA")
                .unwrap()
                .send()
                .await,
            Err(Error::Api(_))
        ),
        "typed errors"
    );
    assert!(
        client
            .request(reqwest::Method::GET, "https://evil.example.net/")
            .is_err()
    );
}

#[tokio::test]
async fn updated_deleted_and_record_types() {
    let org = MockOrg::start().await;
    org.stub(Stub::new("GET", ".*/sobjects/Lead/updated/$").json(&json!({
            "ids": ["00Q000000000001AAA", "00Q000000000002AAA"], "latestDateCovered": "2025-04-30T14:30:00.000+0000"
        }))).await;
    org.stub(Stub::new("GET", ".*/sobjects/Lead/deleted/$").json(&json!({
            "deletedRecords": [{"id": "00Q000000000003AAA", "deletedDate": "2025-04-30T10:00:00.000+0000"}],
            "earliestDateAvailable": "2025-03-31T00:00:00.000+0000", "latestDateCovered": "2025-04-30T14:30:00.000+0000"
        }))).await;
    let client = org.client();
    let (start, end) = (Utc::now() - chrono::Duration::days(1), Utc::now());
    let up = client.updated("Lead", start, end).await.unwrap();
    assert_eq!(up.ids.len(), 2);
    assert!(up.latest_date_covered.is_some());
    let del = client.deleted("Lead", start, end).await.unwrap();
    assert_eq!(del.records.len(), 1);
    assert!(del.earliest_date_available.is_some());
    let queries: Vec<String> = org
        .requests()
        .await
        .iter()
        .filter_map(|r| r.query().map(str::to_owned))
        .collect();
    assert!(
        queries
            .iter()
            .any(|q| q.contains("start=") && q.contains("end=")),
        "{queries:?}"
    );
    assert!(client.updated("Lead/../x", start, end).await.is_err());
    let rt = org.insert(
        "RecordType",
        json!({"SobjectType": "Case", "DeveloperName": "WhatsApp_Support", "IsActive": true}),
    );
    assert_eq!(
        client
            .record_type_id("Case", "WhatsApp_Support")
            .await
            .unwrap()
            .map(|i| i.to_string()),
        Some(rt)
    );
    assert_eq!(client.record_type_id("Case", "Nope").await.unwrap(), None);
}

#[tokio::test]
async fn a_file_is_streamed_onto_a_record_and_shared() {
    use tokio::io::AsyncReadExt as _;
    let org = MockOrg::start().await;
    let client = org.client();
    let case = client
        .create(&Case::new("Broken blender", "photo attached"))
        .await
        .unwrap();
    // 3 MB from a reader: sent in 64 KiB chunks, never buffered whole.
    let reader = tokio::io::repeat(b'x').take(3_000_000);
    let file = client
        .upload_file("Customer photo", "photo.jpg", reader, Some(&case))
        .await
        .unwrap();
    let versions = org.records("ContentVersion");
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["ContentSize"], 3_000_000);
    assert_eq!(versions[0]["FirstPublishLocationId"], case.as_str());
    assert_eq!(versions[0]["PathOnClient"], "photo.jpg");
    let doc = file.content_document_id.unwrap();
    let lead = client.create(&Lead::new("Lima", "Acme")).await.unwrap();
    client.link_file(&doc, &lead).await.unwrap();
    assert_eq!(
        org.records("ContentDocumentLink")[0]["LinkedEntityId"],
        lead.as_str()
    );
}

/// A file comes back byte for byte, streamed; one larger than the caller's
/// limit stops with a typed error naming both sizes; an unknown id is a
/// typed 404.
#[tokio::test]
async fn files_download_as_streams_under_a_limit() {
    let org = MockOrg::start().await;
    let client = org.client();
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let file = client
        .upload_file(
            "Invoice",
            "invoice.pdf",
            std::io::Cursor::new(bytes.clone()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(org.records("ContentVersion")[0]["FileExtension"], "pdf");
    let mut back = Vec::new();
    let size = client
        .download_file(&file.content_version_id, &mut back, 1_000_000)
        .await
        .unwrap();
    assert_eq!((size, back), (200_000, bytes));
    let mut partial = Vec::new();
    let err = client
        .download_file(&file.content_version_id, &mut partial, 100_000)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            salesforce_rest::Error::FileTooLarge { limit: 100_000, .. }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("100000 allowed"), "{err}");
    assert!(!err.is_retryable());
    let missing = salesforce_rest::SalesforceId::parse("068000000000999AAA").unwrap();
    let err = client
        .download_file(&missing, &mut Vec::new(), 10)
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(404), "{err:?}");
}

/// The names `whatsapp-cloud` uses for the same things work here too.
#[test]
fn sibling_names_match_whatsapp_cloud() {
    use salesforce_rest::ErrorCode;
    use salesforce_rest::error::ApiError;
    use salesforce_rest::retry::{Decision, RetryPolicy, RetryState, decide};
    use std::time::Duration;
    let code = ErrorCode::parse("UNABLE_TO_LOCK_ROW");
    assert_eq!(code.code(), "UNABLE_TO_LOCK_ROW");
    assert!(code.is_retryable());
    let api = ApiError::from_body(
        400,
        br#"[{"errorCode":"UNABLE_TO_LOCK_ROW","message":"locked"}]"#,
    )
    .unwrap();
    assert_eq!(api.http_status, 400);
    assert!(api.is_retryable());
    let err = Error::Api(Box::new(api));
    assert_eq!(err.http_status(), Some(400));
    let policy = RetryPolicy::new(3, Duration::from_millis(10), Duration::from_secs(1))
        .with_max_attempts(2)
        .with_max_elapsed(Duration::from_secs(5));
    let first = RetryState::new(&err, 1).with_idempotent(true);
    assert!(matches!(decide(&policy, &first), Decision::RetryAfter(_)));
    let second = RetryState::new(&err, 2).with_idempotent(true);
    assert_eq!(decide(&policy, &second), Decision::Stop);
    assert_eq!(
        decide(&policy, &first.with_elapsed(Duration::from_secs(5))),
        Decision::Stop,
        "over the time budget"
    );
    // The same predicates and accessors as whatsapp-cloud's errors.
    assert!(!err.is_rate_limited() && !err.is_auth() && err.retry_after().is_none());
    let limited = Error::Api(Box::new(
        ApiError::from_body(
            403,
            br#"[{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"TotalRequests Limit exceeded."}]"#,
        )
        .unwrap(),
    ));
    assert!(limited.is_rate_limited() && !limited.is_retryable());
    let login = Error::from(
        salesforce_rest::error::OAuthError::from_body(
            400,
            br#"{"error":"invalid_grant","error_description":"ip/login rate exceeded"}"#,
        )
        .unwrap(),
    );
    assert!(login.is_rate_limited());
    assert_eq!(login.retry_after(), Some(Duration::from_secs(300)));
    assert!(login.hint().is_some());
}

#[tokio::test]
async fn every_write_has_one_home_for_its_options() {
    use salesforce_rest::sobjects::{AutoAssign, WriteOptions};
    let org = MockOrg::start().await;
    let client = org.client();
    let opts = WriteOptions::new()
        .auto_assign(AutoAssign::Off)
        .allow_duplicates(true);
    let record = DynamicRecord::new().set("Subject", "from a custom form");
    // A dynamic upsert carries the options (it silently dropped them before).
    client
        .upsert("Ext__c", "F-1", &record)
        .object("Case")
        .options(opts.clone())
        .await
        .unwrap();
    let id = client
        .create(&record)
        .object("Case")
        .options(opts.clone())
        .await
        .unwrap();
    client
        .update(&id, &record)
        .object("Case")
        .options(opts)
        .await
        .unwrap();
    let writes: Vec<_> = org
        .requests()
        .await
        .into_iter()
        .filter(|r| r.method() != "GET" && r.path().starts_with("/services/data/"))
        .collect();
    assert_eq!(writes.len(), 3);
    for w in &writes {
        assert_eq!(
            w.header("sforce-auto-assign"),
            Some("FALSE"),
            "{} {}",
            w.method(),
            w.path()
        );
        assert!(w.header("sforce-duplicate-rule-header").is_some());
    }
    // A dynamic record without its object is a typed error before any call.
    let err = client.create(&record).await.unwrap_err();
    assert!(
        matches!(err, Error::Config(ref m) if m.contains(".object(")),
        "{err}"
    );
}

/// The Tooling API creates objects and fields (the mock's bare org gains
/// them: describes, unique keys), a second create is a typed duplicate, and
/// records link to parents through external-ID relationships.
#[tokio::test]
async fn tooling_creates_schema_and_relationships_resolve_by_external_id() {
    use salesforce_rest::tooling::{CustomField, CustomObject, FieldKind};
    let org = MockOrg::start_bare().await;
    let client = org.client();
    assert!(
        client.describe("Log__c").await.is_err(),
        "a bare org has no custom object"
    );
    let tooling = client.tooling();
    tooling
        .create_object(&CustomObject::new("Log__c", "Log", "Logs"))
        .await
        .unwrap();
    tooling
        .create_field(
            &CustomField::new("Log__c", "Key__c", "Key", FieldKind::Text { length: 80 })
                .external_id(true)
                .unique(true),
        )
        .await
        .unwrap();
    tooling
        .create_field(&CustomField::new(
            "Log__c",
            "Lead__c",
            "Lead",
            FieldKind::Lookup {
                to: "Lead".into(),
                relationship: "Logs".into(),
            },
        ))
        .await
        .unwrap();
    tooling
        .create_field(
            &CustomField::new(
                "Lead",
                "Phone_Key__c",
                "Phone key",
                FieldKind::Text { length: 40 },
            )
            .external_id(true)
            .unique(true),
        )
        .await
        .unwrap();
    let again = tooling
        .create_field(&CustomField::new(
            "Log__c",
            "Key__c",
            "Key",
            FieldKind::Text { length: 80 },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        again.code().map(|c| c.code()),
        Some("DUPLICATE_DEVELOPER_NAME"),
        "{again}"
    );
    let d = client.describe("Log__c").await.unwrap();
    assert!(
        d.fields
            .iter()
            .any(|f| f.name == "Key__c" && f.external_id && f.unique)
    );
    assert!(org.has_field("Lead", "Phone_Key__c"));

    let lead = client
        .create(
            &DynamicRecord::new()
                .set("LastName", "Lima")
                .set("Company", "-")
                .set("Phone_Key__c", "+14155550123"),
        )
        .object("Lead")
        .await
        .unwrap();
    let log = DynamicRecord::new().set(
        "Lead__r",
        serde_json::json!({ "Phone_Key__c": "+14155550123" }),
    );
    client
        .upsert("Key__c", "k1", &log)
        .object("Log__c")
        .await
        .unwrap();
    let row = &org.records("Log__c")[0];
    assert_eq!(row["Lead__c"], lead.to_string());
    let orphan = DynamicRecord::new().set(
        "Lead__r",
        serde_json::json!({ "Phone_Key__c": "+19999999999" }),
    );
    let e = client
        .upsert("Key__c", "k2", &orphan)
        .object("Log__c")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Foreign key external ID"), "{e}");
    // Unique on the new key: a second record with k1 is refused.
    let dup = client
        .create(&DynamicRecord::new().set("Key__c", "k1"))
        .object("Log__c")
        .await
        .unwrap_err();
    assert_eq!(dup.code().map(|c| c.code()), Some("DUPLICATE_VALUE"));
}
