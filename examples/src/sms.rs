//! An SMS fallback channel over a Twilio-compatible Messages API: the
//! customers WhatsApp cannot reach get the text by SMS (opt-in:
//! `SMS_FALLBACK=twilio` with `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN` and
//! `TWILIO_FROM`; `TWILIO_BASE_URL` points it at a compatible provider or a
//! local mock).

use async_trait::async_trait;
use bridge_core::inbound::Channel;
use bridge_core::sender::{ChannelSender, Outbound, SendError, SendReceipt};
use secrecy::{ExposeSecret, SecretString};

use crate::BoxError;

/// Twilio's API host.
pub const TWILIO_API: &str = "https://api.twilio.com";

/// Sends SMS through `POST /2010-04-01/Accounts/{sid}/Messages.json`.
pub struct TwilioSms {
    http: reqwest::Client,
    base: reqwest::Url,
    account_sid: String,
    auth_token: SecretString,
    from: String,
}

impl std::fmt::Debug for TwilioSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioSms")
            .field("base", &self.base.as_str())
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl TwilioSms {
    /// A sender for an account, from a number (`+14155550100`), against
    /// `base` (https, or plain http on loopback only).
    pub fn new(
        base: &str,
        account_sid: impl Into<String>,
        auth_token: SecretString,
        from: impl Into<String>,
    ) -> Result<Self, BoxError> {
        let base =
            reqwest::Url::parse(base).map_err(|e| format!("the SMS API URL {base:?}: {e}"))?;
        let loopback = matches!(
            base.host_str(),
            Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
        );
        if base.scheme() != "https" && !(base.scheme() == "http" && loopback) {
            return Err(format!(
                "the SMS API URL must be https (plain http only on loopback), got {base}"
            )
            .into());
        }
        let account_sid = account_sid.into();
        if account_sid.is_empty() || !account_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("TWILIO_ACCOUNT_SID must be letters and digits (AC...)".into());
        }
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            base,
            account_sid,
            auth_token,
            from: from.into(),
        })
    }

    /// The opt-in sender from the environment: `None` unless
    /// `SMS_FALLBACK=twilio`; then every `TWILIO_*` variable is required.
    pub fn from_env() -> Result<Option<Self>, BoxError> {
        match crate::var("SMS_FALLBACK").as_deref().map(str::trim) {
            None | Some("") | Some("off") => return Ok(None),
            Some("twilio") => {}
            Some(other) => {
                return Err(
                    format!("SMS_FALLBACK={other:?}: the one fallback is \"twilio\"").into(),
                );
            }
        }
        let need = |k: &str| {
            crate::var(k)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| format!("SMS_FALLBACK=twilio needs {k}"))
        };
        let base = crate::var("TWILIO_BASE_URL").unwrap_or_else(|| TWILIO_API.into());
        Ok(Some(Self::new(
            &base,
            need("TWILIO_ACCOUNT_SID")?,
            SecretString::from(need("TWILIO_AUTH_TOKEN")?),
            need("TWILIO_FROM")?,
        )?))
    }
}

/// Twilio error codes meaning the number cannot get SMS (invalid, not a
/// mobile, unsubscribed, unreachable carrier).
const UNREACHABLE: &[i64] = &[21211, 21214, 21408, 21610, 21612, 21614];

#[async_trait]
impl ChannelSender for TwilioSms {
    fn channel(&self) -> Channel {
        Channel::Sms
    }

    async fn send(&self, to: &str, message: &Outbound) -> Result<SendReceipt, SendError> {
        let digits: String = to.chars().filter(char::is_ascii_digit).collect();
        let e164 = format!("+{digits}");
        let mut url = self.base.clone();
        url.set_path(&format!(
            "/2010-04-01/Accounts/{}/Messages.json",
            self.account_sid
        ));
        let answer = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .form(&[
                ("To", e164.as_str()),
                ("From", self.from.as_str()),
                ("Body", message.text.as_str()),
            ])
            .send()
            .await
            .map_err(|e| {
                // Nothing was provably accepted: retrying may send twice,
                // which the outbox's checkpoint keeps to one attempt.
                SendError::new(Channel::Sms, format!("the SMS API: {e}")).retryable(e.is_connect())
            })?;
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.unwrap_or_default();
        if status.is_success() {
            return Ok(SendReceipt::new(
                Channel::Sms,
                body.get("sid")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
            ));
        }
        let code = body.get("code").and_then(serde_json::Value::as_i64);
        let text = body
            .get("message")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("no message");
        let err = SendError::new(
            Channel::Sms,
            format!(
                "the SMS API answered {} (code {}): {text}",
                status.as_u16(),
                code.map_or_else(|| "none".into(), |c| c.to_string())
            ),
        )
        .retryable(status.as_u16() == 429 || status.is_server_error())
        .unreachable(code.is_some_and(|c| UNREACHABLE.contains(&c)));
        Err(if status.as_u16() == 429 {
            err.rate_limited(None)
        } else {
            err
        })
    }
}
