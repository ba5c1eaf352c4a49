//! The OAuth device flow (for command-line tools and devices without a
//! browser), the `userinfo` endpoint, and the ids in a token's identity URL.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

use super::{OAuthClient, TokenResponse, WireToken, classify_token_failure};
use crate::error::{Error, OAuthError};

/// The start of a device flow: show `user_code` and `verification_uri` to the
/// person, then [`poll`](OAuthClient::poll_device_flow).
#[derive(Clone)]
#[non_exhaustive]
pub struct DeviceAuthorization {
    /// The code the client polls with (secret).
    pub device_code: SecretString,
    /// The code the person types at the verification URL.
    pub user_code: String,
    /// Where the person goes.
    pub verification_uri: String,
    /// How often to poll.
    pub interval: Duration,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("device_code", &"[redacted]")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("interval", &self.interval)
            .finish()
    }
}

/// One poll of a device flow.
#[derive(Debug)]
#[non_exhaustive]
pub enum DevicePoll {
    /// The person has not approved yet (`authorization_pending`).
    Pending,
    /// Polling too fast (`slow_down`): wait longer.
    SlowDown,
    /// Approved.
    Token(Box<TokenResponse>),
}

/// What `userinfo` says about the user behind a token. `Debug` hides the
/// e-mail and name.
#[derive(Clone, Deserialize)]
#[non_exhaustive]
pub struct UserInfo {
    /// The user id (`005...`).
    #[serde(default)]
    pub user_id: String,
    /// The org id (`00D...`).
    #[serde(default)]
    pub organization_id: String,
    /// The username.
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// The e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// The display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The org's endpoints, with `{version}` replaced by the API version asked for.
    #[serde(default)]
    pub urls: BTreeMap<String, String>,
    /// The whole answer.
    #[serde(skip)]
    pub raw: Value,
}

impl fmt::Debug for UserInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserInfo")
            .field("user_id", &self.user_id)
            .field("organization_id", &self.organization_id)
            .field("email", &self.email.as_ref().map(|_| "[redacted]"))
            .field("name", &self.name.as_ref().map(|_| "[redacted]"))
            .field("urls", &self.urls.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl TokenResponse {
    /// The org id from the identity URL (`.../id/<org>/<user>`).
    pub fn org_id(&self) -> Option<&str> {
        identity_parts(self.id.as_deref()?).map(|(org, _)| org)
    }

    /// The user id from the identity URL.
    pub fn user_id(&self) -> Option<&str> {
        identity_parts(self.id.as_deref()?).map(|(_, user)| user)
    }
}

/// `(org, user)` from `https://login.salesforce.com/id/<org>/<user>`.
fn identity_parts(id: &str) -> Option<(&str, &str)> {
    let path = id.split_once("://").map_or(id, |(_, rest)| rest);
    let mut parts = path.trim_end_matches('/').rsplit('/');
    let user = parts.next().filter(|s| !s.is_empty())?;
    let org = parts.next().filter(|s| !s.is_empty())?;
    (parts.next() == Some("id")).then_some((org, user))
}

impl OAuthClient {
    /// Starts the device flow: the connected app must have "Enable for Device
    /// Flow" ticked.
    pub async fn start_device_flow(&self, scopes: &[&str]) -> Result<DeviceAuthorization, Error> {
        #[derive(Deserialize)]
        struct Wire {
            device_code: String,
            user_code: String,
            verification_uri: String,
            #[serde(default)]
            interval: Option<u64>,
        }
        let mut form = vec![("response_type", "device_code".to_owned())];
        if !scopes.is_empty() {
            form.push(("scope", scopes.join(" ")));
        }
        let (status, _, body) = self
            .post_form("/services/oauth2/token", &form, true)
            .await?;
        if !(200..300).contains(&status) {
            return Err(classify_token_failure(status, &body));
        }
        let w: Wire = serde_json::from_slice(&body).map_err(|_| {
            Error::unexpected(status, "the device authorization is not JSON", &body)
        })?;
        Ok(DeviceAuthorization {
            device_code: SecretString::from(w.device_code),
            user_code: w.user_code,
            verification_uri: w.verification_uri,
            interval: Duration::from_secs(w.interval.unwrap_or(5)),
        })
    }

    /// Polls once.
    pub async fn device_token(&self, auth: &DeviceAuthorization) -> Result<DevicePoll, Error> {
        let form = [
            ("grant_type", "device".to_owned()),
            ("code", auth.device_code.expose_secret().to_owned()),
        ];
        let (status, _, body) = self
            .post_form("/services/oauth2/token", &form, true)
            .await?;
        if (200..300).contains(&status) {
            let w: WireToken = serde_json::from_slice(&body).map_err(|_| {
                Error::unexpected(status, "the token response is not a token", &body)
            })?;
            return Ok(DevicePoll::Token(Box::new(TokenResponse::from_wire(w))));
        }
        match OAuthError::from_body(status, &body) {
            Some(e) if e.error.as_str() == "authorization_pending" => Ok(DevicePoll::Pending),
            Some(e) if e.error.as_str() == "slow_down" => Ok(DevicePoll::SlowDown),
            _ => Err(classify_token_failure(status, &body)),
        }
    }

    /// Polls at the interval the server gave (5 s longer after each
    /// `slow_down`, as RFC 8628 says) until the person approves, refuses, the
    /// code expires, or `timeout` passes.
    pub async fn poll_device_flow(
        &self,
        auth: &DeviceAuthorization,
        timeout: Duration,
    ) -> Result<TokenResponse, Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut interval = auth.interval;
        loop {
            match self.device_token(auth).await? {
                DevicePoll::Token(t) => return Ok(*t),
                DevicePoll::SlowDown => interval += Duration::from_secs(5),
                _ => {}
            }
            if tokio::time::Instant::now() + interval > deadline {
                return Err(Error::Config(
                    "the device was not approved in time; start again".into(),
                ));
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// Who the token belongs to (`/services/oauth2/userinfo`), with the
    /// `{version}` placeholders of its URLs filled with `api_version` (`66.0`).
    pub async fn userinfo(
        &self,
        access_token: &SecretString,
        api_version: &str,
    ) -> Result<UserInfo, Error> {
        let response = self
            .http
            .get(self.app.login.endpoint("/services/oauth2/userinfo"))
            .bearer_auth(access_token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(crate::http::transport_error)?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(crate::http::transport_error)?;
        if !(200..300).contains(&status) {
            return Err(classify_token_failure(status, &body));
        }
        let raw: Value = serde_json::from_slice(&body)
            .map_err(|_| Error::unexpected(status, "the userinfo answer is not JSON", &body))?;
        let mut info: UserInfo = serde_json::from_value(raw.clone())
            .map_err(|_| Error::unexpected(status, "unexpected userinfo shape", &body))?;
        let version = api_version.trim_start_matches('v');
        for url in info.urls.values_mut() {
            *url = url.replace("{version}", version);
        }
        info.raw = raw;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_the_identity_url() {
        assert_eq!(
            identity_parts("https://login.salesforce.com/id/00D5g000000AbCdEAK/0055g00000XyZwQAAV"),
            Some(("00D5g000000AbCdEAK", "0055g00000XyZwQAAV"))
        );
        assert_eq!(
            identity_parts("https://login.salesforce.com/services/oauth2/token"),
            None
        );
        assert_eq!(identity_parts("garbage"), None);
    }
}
