//! The escape hatch: any REST call the typed API does not cover yet, with
//! the same token refresh, retries and typed errors.

use bytes::Bytes;
pub use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{Client, Req};
use crate::error::Error;

/// A request to any REST endpoint of the org: build it with
/// [`Client::request`] or [`Client::apex_rest`], then `send` it.
///
/// ```
/// # #[cfg(feature = "testkit")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), salesforce_rest::Error> {
/// # let org = salesforce_rest::testkit::MockOrg::start().await;
/// # let client = org.client();
/// use reqwest::Method;
/// // Relative to /services/data/vXX.X/:
/// let limits: serde_json::Value = client.request(Method::GET, "limits")?.send().await?.json()?;
/// assert!(limits.get("DailyApiRequests").is_some());
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "testkit"))]
/// # fn main() {}
/// ```
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct RawRequest {
    client: Client,
    req: Req,
}

/// The answer to a [`RawRequest`] (a 2xx: errors are typed `Err`s).
#[derive(Debug, Clone)]
pub struct RawResponse {
    status: u16,
    body: Bytes,
}

impl RawResponse {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }
    /// The body.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }
    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::unexpected(
                self.status,
                format!("the answer is not the JSON expected ({e})"),
                &self.body,
            )
        })
    }
}

fn check_path(path: &str) -> Result<(), Error> {
    let bad = path.is_empty()
        || path.contains("://")
        || path.contains('?')
        || path.contains('#')
        || path.split('/').any(|seg| seg == "." || seg == "..")
        || (path.starts_with('/') && !path.starts_with("/services/"));
    if bad {
        return Err(Error::Config(format!(
            "request path {path:?}: use a path relative to /services/data/vXX.X/ or an absolute /services/... path, without a query (use .query) or dot segments"
        )));
    }
    Ok(())
}

impl Client {
    /// A request to any endpoint: `path` is relative to
    /// `/services/data/vXX.X/` (`"sobjects/Account/describe"`), or absolute
    /// under `/services/` (`"/services/apexrest/Orders/42"`). POST is not
    /// retried after an ambiguous failure; other methods are, like the typed
    /// calls (see [`RawRequest::idempotent`]).
    pub fn request(&self, method: Method, path: &str) -> Result<RawRequest, Error> {
        check_path(path)?;
        Ok(RawRequest {
            client: self.clone(),
            req: Req::new(method, path),
        })
    }

    /// A request to an Apex REST endpoint (`/services/apexrest/<path>`).
    pub fn apex_rest(&self, method: Method, path: &str) -> Result<RawRequest, Error> {
        self.request(
            method,
            &format!("/services/apexrest/{}", path.trim_start_matches('/')),
        )
    }
}

impl RawRequest {
    /// Adds a query parameter (encoded for you).
    pub fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.req = self.req.query(key, value);
        self
    }

    /// Sets a JSON body.
    pub fn json(mut self, body: &impl Serialize) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::Config(format!("cannot encode the body: {e}")))?;
        self.req = self.req.json_bytes(bytes);
        Ok(self)
    }

    /// Whether the call may be retried after an ambiguous failure (default:
    /// every method but POST; say `true` for an idempotent Apex POST).
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.req.idempotent = idempotent;
        self
    }

    /// Sends it.
    pub async fn send(self) -> Result<RawResponse, Error> {
        let answer = self.client.call(self.req).await?;
        Ok(RawResponse {
            status: answer.status,
            body: answer.body,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_stay_on_the_org() {
        for bad in [
            "",
            "https://evil.example.net/x",
            "../x",
            "sobjects/../../x",
            "/other/x",
            "limits?x=1",
        ] {
            assert!(super::check_path(bad).is_err(), "{bad}");
        }
        for good in [
            "limits",
            "sobjects/Account/describe",
            "/services/apexrest/Orders/42",
            "/services/data/v66.0/limits",
        ] {
            assert!(super::check_path(good).is_ok(), "{good}");
        }
    }
}
