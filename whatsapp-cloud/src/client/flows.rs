//! Flows management: [`Client::flows`].

use serde::Deserialize;

use super::{Client, Success, paging};
use crate::error::{Error, ValidationError};
use crate::flows::{
    BusinessPublicKey, FlowInfo, FlowMetric, FlowMetrics, FlowPreview, FlowSaved, FlowUpdate,
    MetricGranularity, NewFlow, check_flow_json,
};

/// Create, update, publish, deprecate, delete, preview, list and measure
/// Flows, and register the business public key: [`Client::flows`].
#[derive(Debug, Clone)]
pub struct FlowsApi {
    client: Client,
}

const FLOW_FIELDS: &str =
    "id,name,status,categories,validation_errors,json_version,data_api_version,endpoint_uri";

impl FlowsApi {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    async fn post_ok(&self, op: &'static str, segments: &[&str]) -> Result<(), Error> {
        let url = self.client.url(segments)?;
        let ok: Success = self
            .client
            .execute(op, true, |http| http.post(url.clone()))
            .await?;
        ok.check(op)
    }

    /// Creates a Flow in the business account (needs its id). Problems in
    /// the Flow JSON come back in [`FlowSaved::validation_errors`].
    pub async fn create(&self, flow: &NewFlow) -> Result<FlowSaved, Error> {
        flow.validate()?;
        let url = self.client.url(&[self.client.waba()?, "flows"])?;
        // Not idempotent: a retry after a lost answer would create a second Flow.
        self.client
            .execute("flows.create", false, |http| {
                http.post(url.clone()).json(flow)
            })
            .await
    }

    /// Changes a Flow's name, categories or endpoint.
    pub async fn update(&self, flow_id: &str, update: &FlowUpdate) -> Result<(), Error> {
        let url = self.client.url(&[flow_id])?;
        let ok: Success = self
            .client
            .execute("flows.update", true, |http| {
                http.post(url.clone()).json(update)
            })
            .await?;
        ok.check("flows.update")
    }

    /// Replaces a draft Flow's JSON (uploaded as the `flow.json` asset).
    pub async fn update_json(&self, flow_id: &str, flow_json: &str) -> Result<FlowSaved, Error> {
        check_flow_json(flow_json)?;
        let url = self.client.url(&[flow_id, "assets"])?;
        let bytes = bytes::Bytes::copy_from_slice(flow_json.as_bytes());
        self.client
            .execute("flows.update_json", true, |http| {
                let part = reqwest::multipart::Part::stream(reqwest::Body::from(bytes.clone()))
                    .file_name("flow.json")
                    .mime_str("application/json")
                    .unwrap_or_else(|_| {
                        reqwest::multipart::Part::stream(reqwest::Body::from(bytes.clone()))
                    });
                let form = reqwest::multipart::Form::new()
                    .text("name", "flow.json")
                    .text("asset_type", "FLOW_JSON")
                    .part("file", part);
                http.post(url.clone()).multipart(form)
            })
            .await
    }

    /// Publishes a draft Flow: it can no longer be edited.
    pub async fn publish(&self, flow_id: &str) -> Result<(), Error> {
        self.post_ok("flows.publish", &[flow_id, "publish"]).await
    }

    /// Deprecates a published Flow: it can no longer be sent.
    pub async fn deprecate(&self, flow_id: &str) -> Result<(), Error> {
        self.post_ok("flows.deprecate", &[flow_id, "deprecate"])
            .await
    }

    /// Deletes a draft Flow.
    pub async fn delete(&self, flow_id: &str) -> Result<(), Error> {
        let url = self.client.url(&[flow_id])?;
        let ok: Success = self
            .client
            .execute("flows.delete", true, |http| http.delete(url.clone()))
            .await?;
        ok.check("flows.delete")
    }

    /// One Flow.
    pub async fn get(&self, flow_id: &str) -> Result<FlowInfo, Error> {
        let url = self.client.url(&[flow_id])?;
        self.client
            .execute("flows.get", true, |http| {
                http.get(url.clone()).query(&[("fields", FLOW_FIELDS)])
            })
            .await
    }

    /// Every Flow of the business account.
    pub async fn list(&self) -> Result<Vec<FlowInfo>, Error> {
        let url = self.client.url(&[self.client.waba()?, "flows"])?;
        paging::collect(
            &self.client,
            "flows.list",
            &url,
            &[("fields", FLOW_FIELDS.to_owned())],
        )
        .await
    }

    /// A web preview URL of the Flow; `invalidate` makes a new one (the old
    /// one stops working).
    pub async fn preview(&self, flow_id: &str, invalidate: bool) -> Result<FlowPreview, Error> {
        #[derive(Deserialize)]
        struct Wrapped {
            #[serde(default)]
            preview: Option<FlowPreview>,
        }
        let url = self.client.url(&[flow_id])?;
        let fields = format!("preview.invalidate({invalidate})");
        let w: Wrapped = self
            .client
            .execute("flows.preview", true, |http| {
                http.get(url.clone()).query(&[("fields", fields.as_str())])
            })
            .await?;
        w.preview
            .ok_or_else(|| Error::unexpected(200, "the preview answer had no preview", b""))
    }

    /// An endpoint metric of the Flow, between two dates (`YYYY-MM-DD`).
    pub async fn metrics(
        &self,
        flow_id: &str,
        metric: FlowMetric,
        granularity: MetricGranularity,
        since: &str,
        until: &str,
    ) -> Result<FlowMetrics, Error> {
        #[derive(Deserialize)]
        struct Wrapped {
            #[serde(default)]
            metric: Option<FlowMetrics>,
        }
        for (field, date) in [("since", since), ("until", until)] {
            let b = date.as_bytes();
            let shape = b.len() == 10
                && b.iter().enumerate().all(|(i, c)| {
                    if i == 4 || i == 7 {
                        *c == b'-'
                    } else {
                        c.is_ascii_digit()
                    }
                });
            if !shape {
                return Err(ValidationError::new(field, "expected a date as YYYY-MM-DD").into());
            }
        }
        let url = self.client.url(&[flow_id])?;
        let fields = format!(
            "metric.name({}).granularity({}).since({since}).until({until})",
            metric.as_str(),
            granularity.as_str()
        );
        let w: Wrapped = self
            .client
            .execute("flows.metrics", true, |http| {
                http.get(url.clone()).query(&[("fields", fields.as_str())])
            })
            .await?;
        Ok(w.metric.unwrap_or_default())
    }

    /// Registers the business public key (PEM) the Flows of the client's
    /// number are encrypted to. With feature `flows`,
    /// `FlowsKey::public_key_pem` gives it.
    pub async fn upload_public_key(&self, public_key_pem: &str) -> Result<(), Error> {
        if !public_key_pem.contains("BEGIN PUBLIC KEY") {
            return Err(ValidationError::new(
                "business_public_key",
                "expected a PEM public key (-----BEGIN PUBLIC KEY-----)",
            )
            .into());
        }
        let url = self.client.url(&[
            self.client.phone_number_id(),
            "whatsapp_business_encryption",
        ])?;
        let ok: Success = self
            .client
            .execute("flows.public_key.set", true, |http| {
                http.post(url.clone())
                    .form(&[("business_public_key", public_key_pem)])
            })
            .await?;
        ok.check("flows.public_key.set")
    }

    /// The registered business public key and its signature status.
    pub async fn public_key(&self) -> Result<BusinessPublicKey, Error> {
        let url = self.client.url(&[
            self.client.phone_number_id(),
            "whatsapp_business_encryption",
        ])?;
        let page: paging::Wire<BusinessPublicKey> = self
            .client
            .execute("flows.public_key.get", true, |http| http.get(url.clone()))
            .await?;
        page.data
            .into_iter()
            .next()
            .ok_or_else(|| Error::unexpected(200, "no business public key is registered", b""))
    }
}

impl Client {
    /// Flows management.
    pub fn flows(&self) -> FlowsApi {
        FlowsApi::new(self.clone())
    }
}
