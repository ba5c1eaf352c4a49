use salesforce_rest::testkit::{MockFailure, MockOrg};

use super::*;
use crate::inbound::Channel;
use crate::mapping::{DefaultMapper, Mapper};
use crate::writer::Acknowledgement;

fn msg(id: &str, body: &str) -> CustomerMessage {
    CustomerMessage::text(Channel::WhatsApp, id, "14155550123", body).with_name("Ana Lima")
}

#[test]
fn case_keys_fit_the_field() {
    assert_eq!(case_key("wamid.ABC123"), "wamid.ABC123");
    let real = "wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzRUIwNUE2QjUxQjQ0RjQwNzVBQQA=";
    let k = case_key(real);
    assert!(
        k.starts_with("sha256-") && k.len() == 71,
        "unsafe in a URL: hashed: {k}"
    );
    assert!(k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    assert_eq!(case_key(".."), case_key(".."));
    assert_ne!(case_key(".."), "..");
    let long = format!("wamid.{}", "x".repeat(120));
    let k = case_key(&long);
    assert!(k.starts_with("sha256-") && k.len() == 71, "{k}");
    assert_eq!(k, case_key(&long), "stable");
    assert_ne!(k, case_key(&format!("{long}y")));
}

#[tokio::test]
async fn describes_are_cached_and_refreshed_after_invalid_field() {
    let org = MockOrg::start().await;
    let writer = SalesforceWriter::new(org.client());
    let describes = || async {
        org.requests()
            .await
            .iter()
            .filter(|r| r.path().ends_with("/describe"))
            .count()
    };
    writer.check_setup().await.unwrap();
    writer.check_setup().await.unwrap();
    assert_eq!(describes().await, 3, "Case, Lead and the ledger, once each");
    org.fail_next(MockFailure::api(400, "INVALID_FIELD", "No such column"), 1)
        .await;
    let m = msg("wamid.if", "my order arrived broken");
    let action = DefaultMapper::default().map(&m).await.unwrap();
    assert!(writer.write(&action, &m).await.is_err());
    writer.check_setup().await.unwrap();
    assert_eq!(describes().await, 6, "described again after INVALID_FIELD");
}

#[tokio::test]
async fn a_case_committed_then_answered_503_is_not_created_twice() {
    let org = MockOrg::start().await;
    let writer = SalesforceWriter::new(org.client());
    let mapper = DefaultMapper::default();
    let m = msg(
        "wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzRUIwNUE2QjUxQjQ0RjQwNzVBQQA=",
        "my order arrived broken",
    );
    let action = mapper.map(&m).await.unwrap();
    // Every write is committed and then answered 503, twice: whatever retries
    // (the client's own, then the queue's redelivery), one Case.
    org.fail_after_commit(MockFailure::api(503, "SERVER_UNAVAILABLE", "try later"), 2);
    let first = writer.write(&action, &m).await;
    assert_eq!(
        org.records("Case").len(),
        1,
        "Salesforce committed the Case"
    );
    let again = writer.write(&action, &m).await.unwrap();
    assert_eq!(
        org.records("Case").len(),
        1,
        "retries upsert the same Case: {first:?}"
    );
    assert!(again.case_number.is_some());
    let writes = org
        .requests()
        .await
        .iter()
        .filter(|r| r.method() != "GET" && r.path().ends_with("/composite"))
        .count();
    assert!(
        writes >= 3,
        "the failures were seen and retried ({writes} writes)"
    );
}

#[tokio::test]
async fn an_edit_updates_the_case_of_the_message_it_edits() {
    let org = MockOrg::start().await;
    let writer = SalesforceWriter::new(org.client());
    let mapper = DefaultMapper::default();
    let first = msg("wamid.first", "my order arrived broken");
    let out = writer
        .write(&mapper.map(&first).await.unwrap(), &first)
        .await
        .unwrap();
    let mut edit = msg("wamid.edit", "my order arrived broken and two days late");
    edit.edit_of = Some("wamid.first".into());
    let again = writer
        .write(&mapper.map(&edit).await.unwrap(), &edit)
        .await
        .unwrap();
    assert_eq!(again.record_id, out.record_id, "the same Case");
    assert!(!again.created);
    let entries = org.records("WhatsApp_Message__c");
    assert_eq!(
        entries.len(),
        1,
        "the edit rewrites the original's ledger record"
    );
    assert!(
        entries[0]["Body__c"]
            .as_str()
            .unwrap()
            .starts_with("(edited)")
    );
    let cases = org.records("Case");
    assert_eq!(cases.len(), 1);
    assert!(
        cases[0]["Description"]
            .as_str()
            .unwrap()
            .contains("two days late")
    );
}

/// The ledger records of a customer's number, by key.
fn ledger(org: &MockOrg) -> Vec<serde_json::Map<String, Value>> {
    org.records("WhatsApp_Message__c")
}

async fn write(
    writer: &SalesforceWriter,
    m: &CustomerMessage,
) -> Result<WriteOutcome, BridgeError> {
    let action = DefaultMapper::default().map(m).await.unwrap();
    writer.write(&action, m).await
}

#[tokio::test]
async fn a_customers_sales_messages_make_one_lead_and_one_ledger_record_each() {
    let org = MockOrg::start().await;
    let writer = SalesforceWriter::new(org.client());
    let mut acks = Vec::new();
    for (i, body) in [
        "what does the premium plan cost?",
        "can I get a demo?",
        "and a quote for 10 seats",
    ]
    .iter()
    .enumerate()
    {
        let out = write(&writer, &msg(&format!("wamid.L{i}"), body))
            .await
            .unwrap();
        acks.push(out.acknowledgement.clone());
        assert_eq!(out.object, "Lead");
    }
    assert_eq!(
        acks,
        vec![Some(Acknowledgement::Welcome), None, None],
        "only the first is welcomed"
    );
    let leads = org.records("Lead");
    assert_eq!(leads.len(), 1, "one Lead per customer");
    assert_eq!(leads[0]["WhatsApp_Phone__c"], "+14155550123");
    assert_eq!(leads[0]["WhatsApp_First_Message_Id__c"], "wamid.L0");
    let entries = ledger(&org);
    assert_eq!(entries.len(), 3, "one ledger record per message");
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["Message_Id__c"], format!("wamid.L{i}"));
        assert_eq!(e["Lead__c"], leads[0]["Id"], "linked to the Lead");
        assert_eq!(e["Direction__c"], "Inbound");
        assert_eq!(e["Customer_Phone__c"], "+14155550123");
    }
    assert!(
        entries[2]["Body__c"]
            .as_str()
            .unwrap()
            .contains("quote for 10")
    );
    assert_eq!(
        org.records("Task").len(),
        1,
        "one follow-up, for the new Lead"
    );
}

#[tokio::test]
async fn a_lead_committed_then_answered_503_is_still_welcomed_exactly_once() {
    let org = MockOrg::start().await;
    let m = msg("wamid.NEW", "I'd like a quote");
    // (No Contact lookup: the first call is the Lead's own.)
    // The composite commits, then the answer is lost, past the client's retries.
    org.fail_after_commit(MockFailure::api(503, "SERVER_UNAVAILABLE", "try later"), 1);
    let first = write(
        &SalesforceWriter::new(org.client()).contact_matching(ContactMatching::off()),
        &m,
    )
    .await;
    assert!(first.is_err(), "{first:?}");
    assert_eq!(
        org.records("Lead").len(),
        1,
        "Salesforce committed the Lead"
    );
    // The retry runs in another process (no memory of the first attempt).
    let again = write(
        &SalesforceWriter::new(org.client()).contact_matching(ContactMatching::off()),
        &m,
    )
    .await
    .unwrap();
    assert_eq!(
        again.acknowledgement,
        Some(Acknowledgement::Welcome),
        "decided by the Lead, not by `created`"
    );
    // A redelivery of the same message: the same decision, still one record.
    let third = write(
        &SalesforceWriter::new(org.client()).contact_matching(ContactMatching::off()),
        &m,
    )
    .await
    .unwrap();
    assert_eq!(third.acknowledgement, Some(Acknowledgement::Welcome));
    assert_eq!(org.records("Lead").len(), 1);
    assert_eq!(ledger(&org).len(), 1);
    // Another message of the customer is never welcomed.
    let later = write(
        &SalesforceWriter::new(org.client()).contact_matching(ContactMatching::off()),
        &msg("wamid.NEXT", "and a demo"),
    )
    .await
    .unwrap();
    assert_eq!(later.acknowledgement, None);
}

#[tokio::test]
async fn a_follow_up_joins_the_open_case_and_a_closed_case_starts_a_new_one() {
    let org = MockOrg::start().await;
    let writer = SalesforceWriter::new(org.client());
    let first = write(&writer, &msg("wamid.C1", "my order arrived broken"))
        .await
        .unwrap();
    let Some(Acknowledgement::CaseOpened { number }) = first.acknowledgement.clone() else {
        panic!("{first:?}")
    };
    let calls = org.api_calls();
    let second = write(
        &writer,
        &msg("wamid.C2", "it is still broken, please help, urgent"),
    )
    .await
    .unwrap();
    assert_eq!(org.api_calls() - calls, 1, "a follow-up is one call");
    assert_eq!(
        second.acknowledgement,
        Some(Acknowledgement::CaseJoined {
            number: number.clone()
        })
    );
    assert_eq!(second.record_id, first.record_id);
    assert_eq!(org.records("Case").len(), 1, "one Case, two messages");
    let entries = ledger(&org);
    assert_eq!(entries.len(), 2);
    assert!(
        entries
            .iter()
            .all(|e| e["Case__c"].as_str() == first.record_id.as_deref())
    );
    assert_eq!(
        org.records("Case")[0]["Priority"],
        "High",
        "urgent words raise the priority"
    );
    // An agent closes the Case: the next support message opens a new one.
    org.touch(
        "Case",
        first.record_id.as_deref().unwrap(),
        serde_json::json!({ "Status": "Closed" }),
    );
    let third = write(&writer, &msg("wamid.C3", "my order arrived broken again"))
        .await
        .unwrap();
    let Some(Acknowledgement::CaseOpened { number: new }) = third.acknowledgement else {
        panic!("{third:?}")
    };
    assert_ne!(new, number);
    assert_eq!(org.records("Case").len(), 2);
    let c3 = ledger(&org)
        .into_iter()
        .find(|e| e["Message_Id__c"] == "wamid.C3")
        .unwrap();
    assert_eq!(
        c3["Case__c"].as_str(),
        third.record_id.as_deref(),
        "the ledger follows the new Case"
    );
}

#[tokio::test]
async fn a_retry_of_the_message_that_opened_a_case_is_not_a_follow_up() {
    let org = MockOrg::start().await;
    let writer = SalesforceWriter::new(org.client());
    let m = msg("wamid.O1", "my order arrived broken");
    let a = write(&writer, &m).await.unwrap();
    let b = write(&writer, &m).await.unwrap();
    assert!(
        matches!(b.acknowledgement, Some(Acknowledgement::CaseOpened { .. })),
        "{b:?}"
    );
    assert_eq!(a.record_id, b.record_id);
    assert_eq!((org.records("Case").len(), ledger(&org).len()), (1, 1));
}

#[tokio::test]
async fn a_known_contact_gets_cases_and_ledger_records_and_no_lead() {
    let org = MockOrg::start().await;
    let account = org.insert("Account", serde_json::json!({ "Name": "Acme" }));
    let contact = org.insert(
        "Contact",
        serde_json::json!({ "LastName": "Lima", "MobilePhone": "(415) 555-0123", "AccountId": account }),
    );
    let writer = SalesforceWriter::new(org.client());
    let case = write(&writer, &msg("wamid.K1", "my order arrived broken"))
        .await
        .unwrap();
    let row = &org.records("Case")[0];
    assert_eq!(
        (row["ContactId"].as_str(), row["AccountId"].as_str()),
        (Some(contact.as_str()), Some(account.as_str()))
    );
    assert!(case.case_number.is_some());
    let calls = org.api_calls();
    let sale = write(&writer, &msg("wamid.K2", "I'd like a quote"))
        .await
        .unwrap();
    assert_eq!(
        org.api_calls() - calls,
        1,
        "the match is remembered: one call"
    );
    assert_eq!(
        (sale.object.as_str(), sale.record_id.as_deref()),
        ("Contact", Some(contact.as_str()))
    );
    assert_eq!(sale.acknowledgement, None);
    assert!(
        org.records("Lead").is_empty(),
        "a Contact never becomes a Lead"
    );
    assert!(
        ledger(&org)
            .iter()
            .all(|e| e["Contact__c"] == contact.as_str())
    );
}

#[tokio::test]
async fn two_contacts_with_the_number_pick_the_latest_and_a_failed_lookup_makes_no_lead() {
    let org = MockOrg::start().await;
    org.insert(
        "Contact",
        serde_json::json!({ "LastName": "Old", "Phone": "+14155550123" }),
    );
    let newer = org.insert(
        "Contact",
        serde_json::json!({ "LastName": "New", "MobilePhone": "415-555-0123" }),
    );
    let writer = SalesforceWriter::new(org.client());
    let out = write(&writer, &msg("wamid.A1", "I'd like a quote"))
        .await
        .unwrap();
    assert_eq!(
        out.record_id.as_deref(),
        Some(newer.as_str()),
        "the most recently modified"
    );
    let other = MockOrg::start().await;
    other
        .fail_next(MockFailure::api(503, "SERVER_UNAVAILABLE", "try later"), 10)
        .await;
    let e = write(
        &SalesforceWriter::new(other.client()),
        &msg("wamid.A2", "I'd like a quote"),
    )
    .await
    .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(
        other.records("Lead").is_empty(),
        "no Lead when the Contact check failed"
    );
}

#[tokio::test]
async fn setup_creates_everything_once_and_check_names_what_is_missing() {
    let org = MockOrg::start_bare().await;
    let writer = SalesforceWriter::new(org.client());
    let e = writer.check_setup().await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("WhatsApp_Message__c") && text.contains("setup"),
        "{text}"
    );
    assert!(!e.is_retryable());
    let check = writer.setup(false).await.unwrap();
    assert!(!check.is_complete() && !check.changed());
    assert!(
        check
            .missing
            .iter()
            .any(|m| m == "Case.WhatsApp_Message_Id__c"),
        "{check:?}"
    );
    let made = writer.setup(true).await.unwrap();
    assert!(made.is_complete() && made.changed(), "{made:?}");
    assert!(org.has_field("WhatsApp_Message__c", "Message_Id__c"));
    assert!(org.has_field("Lead", "WhatsApp_First_Message_Id__c"));
    assert_eq!(org.records("PermissionSet").len(), 1);
    assert_eq!(org.records("PermissionSetAssignment").len(), 1);
    assert!(org.records("FieldPermissions").len() >= 15);
    let again = writer.setup(true).await.unwrap();
    assert!(!again.changed(), "a second run changes nothing: {again:?}");
    assert!(again.missing.is_empty());
    writer.check_setup().await.unwrap();
    // And the writer works on the org it set up.
    let out = write(&writer, &msg("wamid.S1", "my order arrived broken"))
        .await
        .unwrap();
    assert!(out.case_number.is_some());
    assert_eq!(ledger(&org).len(), 1);
}

#[tokio::test]
async fn a_key_field_without_external_id_is_reported_with_the_fix() {
    let org = MockOrg::start().await;
    let e = SalesforceWriter::new(org.client())
        .lead_key_field("Phone")
        .check_setup()
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("Lead.Phone") && e.to_string().contains("External ID"),
        "{e}"
    );
}

#[tokio::test]
async fn a_missing_ledger_object_is_a_set_up_error_never_a_retry_loop() {
    let org = MockOrg::start_bare().await;
    let writer = SalesforceWriter::new(org.client());
    let e = write(&writer, &msg("wamid.M1", "my order arrived broken"))
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("WhatsApp_Message__c") && text.contains("setup"),
        "{text}"
    );
    let batch = writer
        .write_batch(&[
            (
                DefaultMapper::default()
                    .map(&msg("wamid.M2", "broken"))
                    .await
                    .unwrap(),
                msg("wamid.M2", "broken"),
            ),
            (
                DefaultMapper::default()
                    .map(&msg("wamid.M3", "a quote"))
                    .await
                    .unwrap(),
                CustomerMessage::text(Channel::WhatsApp, "wamid.M3", "14155550199", "a quote"),
            ),
        ])
        .await;
    assert!(
        batch
            .iter()
            .all(|r| matches!(r, Err(BridgeError::Setup { .. }))),
        "{batch:?}"
    );
}
