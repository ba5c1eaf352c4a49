//! The Bulk example: Leads exported by source and date range, and a Case
//! backfill that a rerun does not duplicate, with refused rows reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    dead_code,
    unreachable_pub
)]

#[path = "../examples/bulk_export.rs"]
mod bulk_export;

use std::time::Duration;

use chrono::NaiveDate;
use examples::Backends;
use salesforce_rest::bulk::Poll;
use serde_json::json;

fn quick() -> Poll {
    Poll::new(
        Duration::from_millis(1),
        Duration::from_millis(5),
        Duration::from_secs(30),
    )
}

/// Day `d` of the sandbox, day 1 being the day the mock org started (its
/// clock starts that midnight and moves a second per write).
fn day(b: &Backends, d: u32) -> NaiveDate {
    b.org.as_ref().unwrap().clock_origin().date_naive() + chrono::Duration::days(i64::from(d) - 1)
}

#[tokio::test]
async fn only_whatsapp_leads_in_the_range_are_exported() {
    let b = Backends::sandbox().await.unwrap();
    let org = b.org.as_ref().unwrap();
    // The mock's clock starts today at midnight and moves a second per write.
    for i in 0..30 {
        org.insert("Lead", json!({"LastName": format!("L{i}"), "Company": "x", "LeadSource": if i == 3 { "Web" } else { "WhatsApp" }}));
    }
    let mut out = Vec::new();
    let n = bulk_export::export_leads(&b, day(&b, 1), day(&b, 1), &quick(), &mut out)
        .await
        .unwrap();
    assert_eq!(n, 29);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("Id,LastName,Phone,CreatedDate\n"),
        "{text}"
    );
    assert!(!text.contains(",L3,"), "the Web lead is not exported");
    let mut none = Vec::new();
    assert_eq!(
        bulk_export::export_leads(&b, day(&b, 2), day(&b, 3), &quick(), &mut none)
            .await
            .unwrap(),
        0
    );
    assert!(
        bulk_export::export_leads(&b, day(&b, 3), day(&b, 2), &quick(), &mut none)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_backfill_creates_once_and_reports_refused_rows() {
    let b = Backends::sandbox().await.unwrap();
    let org = b.org.as_ref().unwrap();
    org.reject("Case", "SuppliedName", "Customer 7");
    let history = bulk_export::sample_history(50);
    let first = bulk_export::backfill_cases(&b, std::io::Cursor::new(history.clone()), &quick())
        .await
        .unwrap();
    assert_eq!((first.created, first.existing), (49, 0));
    assert_eq!(first.failed.len(), 1);
    assert_eq!(first.failed[0].0, "wamid.HIST000007");
    assert!(
        first.failed[0]
            .1
            .starts_with("FIELD_CUSTOM_VALIDATION_EXCEPTION"),
        "{:?}",
        first.failed
    );
    let again = bulk_export::backfill_cases(&b, std::io::Cursor::new(history), &quick())
        .await
        .unwrap();
    assert_eq!(
        (again.created, again.existing),
        (0, 49),
        "a rerun adds nothing"
    );
    assert_eq!(org.records("Case").len(), 49);
    let case = org
        .records("Case")
        .into_iter()
        .find(|c| c["WhatsApp_Message_Id__c"] == "wamid.HIST000001")
        .unwrap();
    assert_eq!(case["Origin"], "WhatsApp");
    assert!(
        case["Description"]
            .as_str()
            .unwrap()
            .contains("\"box crushed\"")
    );

    // A broken line is skipped and reported; the others still go in.
    let broken = "message_id,phone,name,text,received_at\nwamid.X1,1415,Ana,hi,2026-10-01T00:00:00Z\nwamid.X2,1415,Ben\n";
    let r = bulk_export::backfill_cases(
        &b,
        std::io::Cursor::new(broken.as_bytes().to_vec()),
        &quick(),
    )
    .await
    .unwrap();
    assert_eq!(r.created, 1);
}
