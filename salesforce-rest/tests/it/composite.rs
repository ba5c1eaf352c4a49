//! Composite: references, rollback, graphs and trees, reads after writes,
//! preconditions and limits.

use salesforce_rest::Error;
use salesforce_rest::composite::CompositeRequest;
use salesforce_rest::records::Task;
use salesforce_rest::testkit::{MockOrg, Stub};
use serde_json::json;

#[tokio::test]
async fn composite_with_references() {
    let org = MockOrg::start().await;
    let client = org.client();
    let v = client.api_version();
    let req = CompositeRequest::new(true)
        .add(
            "POST",
            format!("/services/data/v{v}/sobjects/Lead"),
            "refLead",
            Some(json!({"LastName": "Lima", "Company": "Acme"})),
        )
        .add(
            "POST",
            format!("/services/data/v{v}/sobjects/Task"),
            "refTask",
            Some(json!({"Subject": "Follow up", "WhoId": "@{refLead.id}"})),
        );
    let out = client.composite(&req).await.unwrap();
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|r| r.error().is_none()));
    let task = &org.records("Task")[0];
    assert_eq!(task["WhoId"], org.records("Lead")[0]["Id"]);
    let too_many = (0..26).fold(CompositeRequest::new(false), |r, i| {
        r.add("GET", "/x", format!("r{i}"), None)
    });
    assert!(matches!(
        client.composite(&too_many).await,
        Err(Error::Config(_))
    ));
    let _ = Task::default();
}

#[tokio::test]
async fn an_all_or_none_rollback_is_visible_and_typed() {
    let org = MockOrg::start().await;
    org.stub(Stub::new("POST", ".*/composite$").json(&json!({"compositeResponse": [
            {"body": [{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed."}], "httpStatusCode": 400, "referenceId": "refLead"},
            {"body": [{"errorCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Subject]", "fields": ["Subject"]}], "httpStatusCode": 400, "referenceId": "refTask"}
        ]}))).await;
    let v = salesforce_rest::DEFAULT_API_VERSION;
    let req = CompositeRequest::new(true)
        .add(
            "POST",
            format!("/services/data/v{v}/sobjects/Lead"),
            "refLead",
            Some(json!({"LastName": "Lima", "Company": "Acme"})),
        )
        .add(
            "POST",
            format!("/services/data/v{v}/sobjects/Task"),
            "refTask",
            Some(json!({"WhoId": "@{refLead.id}"})),
        );
    let out = org.client().composite(&req).await.unwrap();
    assert!(!out.is_success());
    assert!(
        out.rolled_back(),
        "all-or-none with a failure: nothing was kept"
    );
    assert_eq!(out.failures().count(), 2);
    let Err(Error::Api(e)) = out.into_result() else {
        panic!("a rollback is an error")
    };
    assert_eq!(
        e.errors[0].code.as_str(),
        "REQUIRED_FIELD_MISSING",
        "the cause, not the halted neighbour"
    );
}

#[tokio::test]
async fn composite_graph_and_sobject_tree() {
    use salesforce_rest::composite::{Graph, TreeRecord};
    let org = MockOrg::start().await;
    org.stub(Stub::new("POST", ".*/composite/graph$").json(&json!({"graphs": [
            {"graphId": "g1", "isSuccessful": true, "graphResponse": {"compositeResponse": [
                {"body": {"id": "00Q000000000001EAA", "success": true, "errors": []}, "httpStatusCode": 201, "referenceId": "lead"}]}},
            {"graphId": "g2", "isSuccessful": false, "graphResponse": {"compositeResponse": [
                {"body": [{"errorCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [LastName]"}], "httpStatusCode": 400, "referenceId": "lead"}]}}
        ]}))).await;
    org.stub(Stub::new("POST", ".*/composite/tree/Account$").status(201).json(&json!({"hasErrors": false, "results": [
            {"referenceId": "acme", "id": "001000000000001AAA"}, {"referenceId": "ana", "id": "003000000000001AAA"}
        ]}))).await;
    let client = org.client();
    let v = salesforce_rest::DEFAULT_API_VERSION;
    let node = |name: &str| {
        CompositeRequest::new(true).add(
            "POST",
            format!("/services/data/v{v}/sobjects/Lead"),
            "lead",
            Some(json!({"LastName": name, "Company": "Acme"})),
        )
    };
    let out = client
        .composite_graph(vec![
            Graph::new("g1", node("Lima")),
            Graph::new("g2", node("")),
        ])
        .await
        .unwrap();
    assert!(out[0].is_successful && !out[1].is_successful);
    assert!(out[1].responses[0].error().is_some());
    let sent = org
        .requests()
        .await
        .into_iter()
        .find(|r| r.path().ends_with("/composite/graph"))
        .unwrap();
    let body: serde_json::Value = sent.body_json().unwrap();
    assert_eq!(body["graphs"][1]["graphId"], "g2");
    let tree = TreeRecord::new("Account", "acme")
        .set("Name", "Acme")
        .children(
            "Contacts",
            vec![TreeRecord::new("Contact", "ana").set("LastName", "Lima")],
        );
    let ids = client.create_tree("Account", &[tree]).await.unwrap();
    assert_eq!(ids.len(), 2);
    let sent = org
        .requests()
        .await
        .into_iter()
        .find(|r| r.path().contains("/composite/tree/"))
        .unwrap();
    let body: serde_json::Value = sent.body_json().unwrap();
    assert_eq!(
        body["records"][0]["Contacts"]["records"][0]["attributes"]["referenceId"],
        "ana"
    );
}

#[tokio::test]
async fn composite_reads_after_writes_and_honours_preconditions() {
    use salesforce_rest::composite::Subrequest;
    let org = MockOrg::start().await;
    let client = org.client();
    // An upsert and a query reading what it wrote, in one call.
    let key = "wamid.ABC";
    let q =
        format!("query?q=SELECT+Id,CaseNumber+FROM+Case+WHERE+WhatsApp_Message_Id__c+=+'{key}'");
    let req = CompositeRequest::new(false)
        .push(
            Subrequest::new(
                "PATCH",
                client.data_path(&format!("sobjects/Case/WhatsApp_Message_Id__c/{key}")),
                "kase",
            )
            .body(json!({ "Subject": "Broken" })),
        )
        .push(Subrequest::new("GET", client.data_path(&q), "number"));
    let before = org.api_calls();
    let out = client.composite(&req).await.unwrap().into_result().unwrap();
    assert_eq!(org.api_calls() - before, 1);
    assert_eq!(out[0].http_status_code, 201);
    let number = out[1].body["records"][0]["CaseNumber"].as_str().unwrap();
    assert_eq!(number, org.records("Case")[0]["CaseNumber"]);

    // If-Unmodified-Since: an older date than the record's answers 412.
    let id = org.records("Case")[0]["Id"].as_str().unwrap().to_owned();
    let stale = Subrequest::new(
        "PATCH",
        client.data_path(&format!("sobjects/Case/{id}")),
        "upd",
    )
    .body(json!({ "Subject": "stale" }))
    .header(
        "If-Unmodified-Since",
        (org.clock_origin() - chrono::Duration::seconds(1)).to_rfc2822(),
    );
    let out = client
        .composite(&CompositeRequest::new(false).push(stale))
        .await
        .unwrap();
    assert_eq!(out[0].http_status_code, 412);
    assert_eq!(org.records("Case")[0]["Subject"], "Broken");
    let fresh = Subrequest::new(
        "PATCH",
        client.data_path(&format!("sobjects/Case/{id}")),
        "upd",
    )
    .body(json!({ "Subject": "fresh" }))
    .header(
        "If-Unmodified-Since",
        (org.clock_origin() + chrono::Duration::days(365)).to_rfc2822(),
    );
    let out = client
        .composite(&CompositeRequest::new(false).push(fresh))
        .await
        .unwrap();
    assert_eq!(out[0].http_status_code, 204);
    assert_eq!(org.records("Case")[0]["Subject"], "fresh");

    // A unique external id cannot be created twice; dependents are halted,
    // independent subrequests still run (allOrNone = false).
    let req = CompositeRequest::new(false)
        .push(
            Subrequest::new("POST", client.data_path("sobjects/Case"), "dup")
                .body(json!({ "Subject": "again", "WhatsApp_Message_Id__c": key })),
        )
        .push(
            Subrequest::new("POST", client.data_path("sobjects/Task"), "task")
                .body(json!({ "Subject": "x", "WhatId": "@{dup.id}" })),
        )
        .push(
            Subrequest::new("POST", client.data_path("composite/sobjects"), "many").body(json!({
                "allOrNone": false,
                "records": [
                    { "attributes": { "type": "Lead" }, "LastName": "A", "Company": "C" },
                    { "attributes": { "type": "Lead" }, "LastName": "B" }
                ]
            })),
        )
        .push(
            Subrequest::new("POST", client.data_path("sobjects/Task"), "first")
                .body(json!({ "Subject": "for A", "WhoId": "@{many[0].id}" })),
        );
    let out = client.composite(&req).await.unwrap();
    assert_eq!(
        out[0].error().unwrap().errors[0].code.as_str(),
        "DUPLICATE_VALUE"
    );
    assert_eq!(
        out[1].error().unwrap().errors[0].code.as_str(),
        "PROCESSING_HALTED"
    );
    assert_eq!(out[2].body[1]["success"], false);
    assert_eq!(out[3].http_status_code, 201);
    assert_eq!(
        org.records("Task")[0]["WhoId"],
        org.records("Lead")[0]["Id"]
    );

    // allOrNone: one failure rolls everything back.
    let req = CompositeRequest::new(true)
        .add(
            "POST",
            client.data_path("sobjects/Case"),
            "ok",
            Some(json!({ "Subject": "kept?" })),
        )
        .add(
            "POST",
            client.data_path("sobjects/Lead"),
            "bad",
            Some(json!({ "LastName": "NoCompany" })),
        );
    let out = client.composite(&req).await.unwrap();
    assert!(out.rolled_back());
    assert_eq!(org.records("Case").len(), 1);
    let too_heavy = (0..6).fold(CompositeRequest::new(false), |r, i| {
        r.add(
            "GET",
            client.data_path("query?q=SELECT+Id+FROM+Case"),
            format!("q{i}"),
            None,
        )
    });
    assert!(matches!(
        client.composite(&too_heavy).await,
        Err(Error::Config(_))
    ));
}
