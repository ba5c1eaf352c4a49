use salesforce_rest::testkit::{MockFailure, MockOrg};

use super::*;
use crate::inbound::Channel;
use crate::mapping::{DefaultMapper, Mapper};

fn msg(id: &str, body: &str) -> InboundMessage {
    InboundMessage::text(Channel::WhatsApp, id, "14155550123", body).with_name("Ana Lima")
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

#[test]
fn descriptions_grow_newest_first_and_tags_merge() {
    assert_eq!(merge_description("b", Some("a"), 100), "b\n\na");
    assert_eq!(merge_description("b", Some("  "), 100), "b");
    assert_eq!(merge_description("new", Some("older text"), 6), "new\n\no");
    assert_eq!(
        merge_tags(Some("pricing;Demo"), &["demo".into(), "quote".into()]),
        "pricing;Demo;quote"
    );
    assert_eq!(merge_tags(None, &[]), "");
}

#[test]
fn a_retried_entry_is_not_added_twice() {
    let once = merge_description("quote for 20", Some("hello"), 100);
    assert_eq!(merge_description("quote for 20", Some(&once), 100), once);
}

#[tokio::test]
async fn describes_are_cached_and_refreshed_after_invalid_field() {
    let org = MockOrg::start().await;
    let writer = SalesforceWriter::new(org.client());
    let describes = || async {
        org.requests()
            .await
            .iter()
            .filter(|r| r.url.path().ends_with("/describe"))
            .count()
    };
    writer.check_setup().await.unwrap();
    writer.check_setup().await.unwrap();
    assert_eq!(describes().await, 2, "Case and Lead, once each");
    org.fail_next(MockFailure::api(400, "INVALID_FIELD", "No such column"), 1)
        .await;
    let m = msg("wamid.if", "my order arrived broken");
    let action = DefaultMapper::default().map(&m).await.unwrap();
    assert!(writer.write(&action, &m).await.is_err());
    writer.check_setup().await.unwrap();
    assert_eq!(describes().await, 4, "described again after INVALID_FIELD");
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
        .filter(|r| r.method.as_str() != "GET" && r.url.path().ends_with("/composite"))
        .count();
    assert!(
        writes >= 3,
        "the failures were seen and retried ({writes} writes)"
    );
}

#[tokio::test]
async fn later_messages_are_prepended_to_one_lead_and_tags_merge() {
    let org = MockOrg::start().await;
    let writer = SalesforceWriter::new(org.client()).tags_field(Some("WhatsApp_Tags__c".into()));
    writer.check_setup().await.unwrap();
    let mapper = DefaultMapper::default();
    for (i, body) in [
        "what does the premium plan cost?",
        "can I get a demo?",
        "and a quote for 10 seats",
    ]
    .iter()
    .enumerate()
    {
        let m = msg(&format!("wamid.L{i}"), body);
        let mut action = mapper.map(&m).await.unwrap();
        let Action::UpsertLead { lead, .. } = &mut action else {
            panic!("{action:?}")
        };
        lead.tags = vec![["pricing", "demo", "Pricing"][i].to_owned()];
        writer.write(&action, &m).await.unwrap();
    }
    let leads = org.records("Lead");
    assert_eq!(leads.len(), 1, "one Lead per customer");
    let lead = &leads[0];
    assert_eq!(lead["WhatsApp_Phone__c"], "+14155550123");
    let d = lead["Description"].as_str().unwrap();
    let (a, b, c) = (
        d.find("quote").unwrap(),
        d.find("demo").unwrap(),
        d.find("premium").unwrap(),
    );
    assert!(a < b && b < c, "newest first, nothing lost: {d}");
    assert_eq!(
        org.records("Task").len(),
        1,
        "one follow-up for the new Lead"
    );
    assert_eq!(
        lead["WhatsApp_Tags__c"], "pricing;demo",
        "tags merged, not overwritten"
    );
}

#[tokio::test]
async fn setup_errors_name_the_field_and_the_fix() {
    let org = MockOrg::start().await;
    let e = SalesforceWriter::new(org.client())
        .case_key_field(Some("Missing_Key__c".into()))
        .check_setup()
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("Case.Missing_Key__c does not exist")
            && text.contains("External ID")
            && text.contains("Unique"),
        "{text}"
    );
    assert!(!e.is_retryable());
    let e = SalesforceWriter::new(org.client())
        .lead_key_field(Some("Phone".into()))
        .check_setup()
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Lead.Phone is not marked External ID"),
        "{e}"
    );
    assert!(
        SalesforceWriter::new(org.client())
            .check_setup()
            .await
            .is_ok()
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
    let cases = org.records("Case");
    assert_eq!(cases.len(), 1);
    assert!(
        cases[0]["Description"]
            .as_str()
            .unwrap()
            .contains("two days late")
    );
}
