//! Bulk API 2.0 against the mock org: ingest and query jobs end to end, with
//! 100,000 records streamed both ways, failed rows reported with their
//! errors, upserts, deletes, aborts and typed job failures.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt as _;
use salesforce_rest::Error;
use salesforce_rest::bulk::{JobState, NewIngestJob, Poll};
use salesforce_rest::testkit::MockOrg;
use serde::{Deserialize, Serialize};

fn quick() -> Poll {
    Poll::new(
        Duration::from_millis(1),
        Duration::from_millis(5),
        Duration::from_secs(30),
    )
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LeadRow {
    #[serde(rename = "LastName")]
    last_name: String,
    #[serde(rename = "Company")]
    company: String,
    #[serde(rename = "WhatsApp_Phone__c")]
    phone: String,
    #[serde(rename = "Description", default)]
    description: Option<String>,
}

fn lead(i: u32) -> LeadRow {
    LeadRow {
        last_name: format!("Customer {i}"),
        company: "WhatsApp".into(),
        phone: format!("1415{i:07}"),
        description: i
            .is_multiple_of(2)
            .then(|| format!("first message, \"quoted\", line\nbreak {i}")),
    }
}

#[tokio::test]
async fn a_hundred_thousand_leads_go_in_and_come_back_streamed() {
    let org = MockOrg::start().await;
    let bulk = org.client().bulk();
    const N: u32 = 100_000;
    // Generated lazily: the records are never all in memory on the client side.
    let job = bulk
        .ingest(&NewIngestJob::insert("Lead"), (0..N).map(lead), &quick())
        .await
        .unwrap();
    assert_eq!(job.state, JobState::JobComplete);
    assert_eq!(
        (job.records_processed(), job.records_failed()),
        (u64::from(N), 0)
    );
    assert_eq!(org.records("Lead").len(), N as usize);

    let mut ok = bulk.successful_results::<LeadRow>(&job.id).await.unwrap();
    let mut seen = 0u32;
    while let Some(row) = ok.next().await {
        let row = row.unwrap();
        assert!(row.created);
        assert_eq!(
            row.record,
            lead(seen),
            "rows come back in order, quotes and newlines intact"
        );
        seen += 1;
    }
    assert_eq!(seen, N);

    let mut rows = bulk
        .query::<LeadRow>(
            "SELECT LastName, Company, WhatsApp_Phone__c, Description FROM Lead",
            &quick(),
        )
        .await
        .unwrap();
    let mut back = 0u32;
    while let Some(row) = rows.next().await {
        let row = row.unwrap();
        assert_eq!(row, lead(back));
        back += 1;
    }
    assert_eq!(back, N, "every page, through the locators");
}

#[tokio::test]
async fn failed_rows_come_back_with_their_errors_and_the_rest_is_written() {
    let org = MockOrg::start().await;
    org.reject("Lead", "Company", "Blocked Inc");
    let bulk = org.client().bulk();
    let mut rows: Vec<LeadRow> = (0..5).map(lead).collect();
    rows[1].last_name = String::new();
    rows[3].company = "Blocked Inc".into();
    let job = bulk
        .ingest(&NewIngestJob::insert("Lead"), rows.clone(), &quick())
        .await
        .unwrap();
    assert_eq!((job.records_processed(), job.records_failed()), (5, 2));
    let failed: Vec<_> = bulk
        .failed_results::<LeadRow>(&job.id)
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].code(), "REQUIRED_FIELD_MISSING");
    assert!(failed[0].error.contains("LastName"), "{}", failed[0].error);
    assert_eq!(failed[0].record, rows[1]);
    assert_eq!(failed[1].code(), "FIELD_CUSTOM_VALIDATION_EXCEPTION");
    assert_eq!(failed[1].id, None);
    assert_eq!(org.records("Lead").len(), 3);
}

#[tokio::test]
async fn upserts_match_on_the_external_id_and_deletes_remove() {
    let org = MockOrg::start().await;
    let bulk = org.client().bulk();
    bulk.ingest(&NewIngestJob::insert("Lead"), (0..3).map(lead), &quick())
        .await
        .unwrap();
    let mut changed: Vec<LeadRow> = (1..5).map(lead).collect();
    for r in &mut changed {
        r.company = "Acme".into();
    }
    let job = bulk
        .ingest(
            &NewIngestJob::upsert("Lead", "WhatsApp_Phone__c"),
            changed,
            &quick(),
        )
        .await
        .unwrap();
    let results: Vec<_> = bulk
        .successful_results::<HashMap<String, String>>(&job.id)
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    let created: Vec<bool> = results.iter().map(|r| r.created).collect();
    assert_eq!(created, [false, false, true, true]);
    assert_eq!(org.records("Lead").len(), 5);
    assert_eq!(results[0].record["Company"], "Acme");

    #[derive(Serialize)]
    struct ById {
        #[serde(rename = "Id")]
        id: String,
    }
    let ids: Vec<ById> = results
        .iter()
        .take(2)
        .map(|r| ById { id: r.id.clone() })
        .collect();
    let deleted = bulk
        .ingest(&NewIngestJob::delete("Lead"), ids, &quick())
        .await
        .unwrap();
    assert_eq!(deleted.records_failed(), 0);
    assert_eq!(org.records("Lead").len(), 3);
}

#[tokio::test]
async fn csv_from_a_reader_aborts_and_job_errors_are_typed() {
    let org = MockOrg::start().await;
    let bulk = org.client().bulk();
    let job = bulk
        .create_ingest_job(&NewIngestJob::insert("Lead"))
        .await
        .unwrap();
    assert_eq!(job.state, JobState::Open);
    let csv = "LastName,Company\nDoe,Acme\n\"Smith, Jr.\",Globex\n";
    bulk.upload_csv(&job.id, std::io::Cursor::new(csv.as_bytes().to_vec()))
        .await
        .unwrap();
    let closed = bulk.close(&job.id).await.unwrap();
    assert_eq!(closed.state, JobState::UploadComplete);
    let done = bulk.wait_ingest(&job.id, &quick()).await.unwrap();
    assert_eq!(done.records_processed(), 2);
    let names: Vec<String> = org
        .records("Lead")
        .iter()
        .map(|r| r["LastName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Doe", "Smith, Jr."]);
    bulk.delete(&job.id).await.unwrap();
    assert!(org.bulk_jobs().is_empty());

    let open = bulk
        .create_ingest_job(&NewIngestJob::insert("Lead"))
        .await
        .unwrap();
    assert_eq!(bulk.abort(&open.id).await.unwrap().state, JobState::Aborted);
    let err = bulk.wait_ingest(&open.id, &quick()).await.unwrap_err();
    let Error::BulkJobFailed { job_id, state, .. } = err else {
        panic!("expected a typed job failure")
    };
    assert_eq!(
        (job_id.as_str(), state.as_str()),
        (open.id.as_str(), "Aborted")
    );

    assert!(
        matches!(bulk.ingest_job("../sobjects").await, Err(Error::Config(_))),
        "ids are checked before use"
    );
    let missing = bulk.ingest_job("750MOCK99999999999").await.unwrap_err();
    assert_eq!(missing.api_error().map(|a| a.http_status), Some(404));
}

#[tokio::test]
async fn a_job_that_does_not_finish_in_time_is_reported() {
    let org = MockOrg::start().await;
    let bulk = org.client().bulk();
    let job = bulk
        .create_query_job("SELECT Id FROM Lead", false)
        .await
        .unwrap();
    let impatient = Poll::new(
        Duration::from_millis(50),
        Duration::from_millis(50),
        Duration::from_millis(10),
    );
    let err = bulk.wait_query(&job.id, &impatient).await.unwrap_err();
    assert!(
        matches!(&err, Error::BulkJobFailed { message, .. } if message.contains("still running")),
        "{err}"
    );
    assert_eq!(Poll::default().pause(0), Duration::from_secs(1));
    assert_eq!(Poll::default().pause(3), Duration::from_secs(8));
    assert_eq!(Poll::default().pause(40), Duration::from_secs(30));
}

#[tokio::test]
async fn unique_fields_are_enforced_within_a_job_and_against_existing_records() {
    let org = MockOrg::start().await;
    let bulk = org.client().bulk();
    bulk.ingest(&NewIngestJob::insert("Lead"), [lead(1)], &quick())
        .await
        .unwrap();
    // lead(1) exists already; lead(2) appears twice in the job.
    let rows = vec![lead(1), lead(2), lead(2), lead(3)];
    let job = bulk
        .ingest(&NewIngestJob::insert("Lead"), rows, &quick())
        .await
        .unwrap();
    assert_eq!((job.records_processed(), job.records_failed()), (4, 2));
    let failed: Vec<_> = bulk
        .failed_results::<LeadRow>(&job.id)
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    let codes: Vec<(&str, String)> = failed
        .iter()
        .map(|f| (f.code(), f.record.phone.clone()))
        .collect();
    assert_eq!(
        codes,
        [
            ("DUPLICATE_VALUE", lead(1).phone),
            ("DUPLICATE_VALUE", lead(2).phone)
        ]
    );
    assert_eq!(org.records("Lead").len(), 3);
}
