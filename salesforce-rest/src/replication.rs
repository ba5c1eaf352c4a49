//! The replication calls (`getUpdated` / `getDeleted`) and record-type lookup.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde::Deserialize;

use crate::client::{Client, Req};
use crate::error::Error;
use crate::id::SalesforceId;
use crate::soql::Soql;

/// The records of an object created or updated in a time range.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Updated {
    /// Their ids.
    #[serde(default)]
    pub ids: Vec<SalesforceId>,
    /// The last moment the answer covers (ask from here next time).
    #[serde(rename = "latestDateCovered", default)]
    pub latest_date_covered: Option<DateTime<Utc>>,
}

/// A deleted record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct DeletedRecord {
    /// Its id.
    pub id: SalesforceId,
    /// When it was deleted.
    #[serde(rename = "deletedDate")]
    pub deleted_date: DateTime<Utc>,
}

/// The records of an object deleted in a time range.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Deleted {
    /// The records.
    #[serde(rename = "deletedRecords", default)]
    pub records: Vec<DeletedRecord>,
    /// The earliest moment the org still knows deletions from.
    #[serde(rename = "earliestDateAvailable", default)]
    pub earliest_date_available: Option<DateTime<Utc>>,
    /// The last moment the answer covers.
    #[serde(rename = "latestDateCovered", default)]
    pub latest_date_covered: Option<DateTime<Utc>>,
}

fn check_object(object: &str) -> Result<(), Error> {
    if object.is_empty()
        || !object
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(Error::Config(format!(
            "{object:?} is not an object API name"
        )));
    }
    Ok(())
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Client {
    /// `getUpdated`: the ids of records of `object` created or updated between
    /// `start` and `end` (at most 30 days back, minute precision).
    pub async fn updated(
        &self,
        object: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Updated, Error> {
        check_object(object)?;
        self.call(
            Req::new(Method::GET, format!("sobjects/{object}/updated/"))
                .query("start", stamp(start))
                .query("end", stamp(end)),
        )
        .await?
        .json()
    }

    /// `getDeleted`: the records of `object` deleted between `start` and `end`.
    pub async fn deleted(
        &self,
        object: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Deleted, Error> {
        check_object(object)?;
        self.call(
            Req::new(Method::GET, format!("sobjects/{object}/deleted/"))
                .query("start", stamp(start))
                .query("end", stamp(end)),
        )
        .await?
        .json()
    }

    /// The id of the active record type `developer_name` of `object`
    /// (`RecordTypeId` for creates), or `None`.
    pub async fn record_type_id(
        &self,
        object: &str,
        developer_name: &str,
    ) -> Result<Option<SalesforceId>, Error> {
        #[derive(Deserialize)]
        struct Row {
            #[serde(rename = "Id")]
            id: SalesforceId,
        }
        let soql = Soql::new(
            "SELECT Id FROM RecordType WHERE SobjectType = {} AND DeveloperName = {} AND IsActive = true LIMIT 1",
        )
        .bind(object)
        .bind(developer_name)
        .build()?;
        Ok(self
            .query::<Row>(&soql)
            .await?
            .records
            .into_iter()
            .next()
            .map(|r| r.id))
    }
}
