//! The mock org's token endpoint: every grant the client speaks, rotation,
//! revocation, HTML answers and delays on demand.

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use wiremock::{Request, ResponseTemplate};

use super::router::{Router, form, oauth_error};
use super::state::lock;
use super::{MOCK_CLIENT_ID, MOCK_CLIENT_SECRET, MOCK_PASSWORD, MOCK_USERNAME};

impl Router {
    pub(super) fn token(&self, req: &Request) -> ResponseTemplate {
        self.state.token_requests.fetch_add(1, Ordering::SeqCst);
        let delay = Duration::from_millis(self.state.token_delay_ms.load(Ordering::SeqCst));
        if self.state.token_html.load(Ordering::SeqCst) {
            return ResponseTemplate::new(200).set_body_raw(
                "<html><body><form id=\"login\">Login to Salesforce</form></body></html>",
                "text/html",
            );
        }
        let f = form(req);
        if f.get("client_id").map(String::as_str) != Some(MOCK_CLIENT_ID) {
            return oauth_error("invalid_client_id", "client identifier invalid");
        }
        let mut refresh = None;
        match f.get("grant_type").map(String::as_str) {
            Some("refresh_token") => {
                let rt = f.get("refresh_token").cloned().unwrap_or_default();
                if lock(&self.state.spent_refresh_tokens).contains(&rt) {
                    // Reusing a rotated-away token revokes the whole grant.
                    lock(&self.state.refresh_tokens).clear();
                    return oauth_error("invalid_grant", "expired access/refresh token");
                }
                if !lock(&self.state.refresh_tokens).contains(&rt) {
                    return oauth_error("invalid_grant", "expired access/refresh token");
                }
                if self.state.rotation.load(Ordering::SeqCst) {
                    lock(&self.state.refresh_tokens).remove(&rt);
                    lock(&self.state.spent_refresh_tokens).insert(rt);
                    let new = format!(
                        "5AepRotated{}",
                        self.state.counter.fetch_add(1, Ordering::SeqCst)
                    );
                    lock(&self.state.refresh_tokens).insert(new.clone());
                    refresh = Some(new);
                }
            }
            Some("authorization_code") => {
                let code = f.get("code").cloned().unwrap_or_default();
                if !lock(&self.state.codes).remove(&code) {
                    return oauth_error("invalid_grant", "expired authorization code");
                }
                let rt = format!(
                    "5AepFromCode{}",
                    self.state.counter.fetch_add(1, Ordering::SeqCst)
                );
                lock(&self.state.refresh_tokens).insert(rt.clone());
                refresh = Some(rt);
            }
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
                let ok = f
                    .get("assertion")
                    .is_some_and(|a| a.split('.').count() == 3);
                if !ok {
                    return oauth_error("invalid_grant", "invalid assertion");
                }
            }
            Some("client_credentials") => {
                if f.get("client_secret").map(String::as_str) != Some(MOCK_CLIENT_SECRET) {
                    return oauth_error("invalid_client", "invalid client credentials");
                }
            }
            Some("password") => {
                if f.get("username").map(String::as_str) != Some(MOCK_USERNAME)
                    || f.get("password").map(String::as_str) != Some(MOCK_PASSWORD)
                {
                    return oauth_error("invalid_grant", "authentication failure");
                }
            }
            _ => return oauth_error("unsupported_grant_type", "grant type not supported"),
        }
        let n = self.state.counter.fetch_add(1, Ordering::SeqCst);
        let access = format!("00D000000000001!AQ{n:08}");
        lock(&self.state.access_tokens).insert(access.clone());
        let id = format!("{}/id/00D000000000001EAA/005000000000001AAA", self.base);
        let issued = chrono::Utc::now().timestamp_millis().to_string();
        let signature = <Hmac<Sha256> as Mac>::new_from_slice(MOCK_CLIENT_SECRET.as_bytes())
            .map(|mut m| {
                m.update(id.as_bytes());
                m.update(issued.as_bytes());
                base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
            })
            .unwrap_or_default();
        let mut body = json!({
            "access_token": access,
            "instance_url": self.base,
            "id": id,
            "token_type": "Bearer",
            "issued_at": issued,
            "scope": "api refresh_token",
            "signature": signature,
        });
        if let Some(rt) = refresh {
            body["refresh_token"] = json!(rt);
        }
        ResponseTemplate::new(200)
            .set_body_json(body)
            .set_delay(delay)
    }
}
