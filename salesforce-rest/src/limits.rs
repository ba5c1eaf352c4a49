//! API limits: the `/limits` resource, the `Sforce-Limit-Info` header, versions.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;

use crate::client::{Client, Req};
use crate::error::Error;

pub use crate::usage::ApiUsage;

/// One limit of `/limits`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Limit {
    /// The allocation.
    #[serde(rename = "Max", default)]
    pub max: i64,
    /// What is left.
    #[serde(rename = "Remaining", default)]
    pub remaining: i64,
}

/// An API version from `GET /services/data`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ApiVersion {
    /// `Winter '27`.
    #[serde(default)]
    pub label: String,
    /// `/services/data/v66.0`.
    #[serde(default)]
    pub url: String,
    /// `66.0`.
    #[serde(default)]
    pub version: String,
}

impl Client {
    /// The org's limits (`DailyApiRequests`, `DataStorageMB`, ...).
    pub async fn limits(&self) -> Result<BTreeMap<String, Limit>, Error> {
        let raw: BTreeMap<String, serde_json::Value> =
            self.call(Req::new(Method::GET, "limits")).await?.json()?;
        Ok(raw
            .into_iter()
            .filter_map(|(k, v)| serde_json::from_value::<Limit>(v).ok().map(|l| (k, l)))
            .collect())
    }

    /// The API versions the org offers.
    pub async fn versions(&self) -> Result<Vec<ApiVersion>, Error> {
        self.call(Req::new(Method::GET, "/services/data"))
            .await?
            .json()
    }
}
