//! Phone number management and analytics: [`Client::phone`], [`Client::analytics`].

use serde::Deserialize;
use serde_json::json;

use super::{Client, Success, paging};
use crate::account::Page;
use crate::analytics::{AnalyticsQuery, MessageAnalytics, PricingPoint};
use crate::error::{Error, ValidationError};
use crate::phone::{
    BlockOutcome, BlockedUser, CodeMethod, CommerceSettings, ConversationalComponents, DisplayName,
    MAX_BLOCK_USERS, QrCode, QrImageFormat, check_pin, check_qr_message,
};

/// Registration, verification, PIN, display name, QR codes, conversational
/// components, commerce settings and blocked users of one business number:
/// [`Client::phone`].
#[derive(Debug, Clone)]
pub struct PhoneApi {
    client: Client,
    phone_number_id: String,
}

#[derive(Deserialize)]
struct BlockAnswer {
    #[serde(default)]
    block_users: BlockOutcome,
}

#[derive(Deserialize)]
struct BlockListItem {
    #[serde(default)]
    block_users: Vec<BlockedUser>,
}

impl PhoneApi {
    pub(crate) fn new(client: Client, phone_number_id: String) -> Self {
        Self {
            client,
            phone_number_id,
        }
    }

    async fn post_ok(
        &self,
        op: &'static str,
        segment: Option<&str>,
        body: serde_json::Value,
    ) -> Result<(), Error> {
        let url = match segment {
            Some(s) => self.client.url(&[&self.phone_number_id, s])?,
            None => self.client.url(&[&self.phone_number_id])?,
        };
        let ok: Success = self
            .client
            .execute(op, true, |http| http.post(url.clone()).json(&body))
            .await?;
        ok.check(op)
    }

    /// Registers the number for the Cloud API, setting its two-step PIN
    /// (six digits).
    pub async fn register(&self, pin: &str) -> Result<(), Error> {
        check_pin(pin)?;
        let body = json!({ "messaging_product": "whatsapp", "pin": pin });
        self.post_ok("phone.register", Some("register"), body).await
    }

    /// Deregisters the number from the Cloud API.
    pub async fn deregister(&self) -> Result<(), Error> {
        self.post_ok("phone.deregister", Some("deregister"), json!({}))
            .await
    }

    /// Asks for a verification code by SMS or voice, in a language (`en_US`).
    pub async fn request_code(&self, method: CodeMethod, language: &str) -> Result<(), Error> {
        let body = json!({ "code_method": method, "language": language });
        self.post_ok("phone.request_code", Some("request_code"), body)
            .await
    }

    /// Verifies the number with the code received.
    pub async fn verify_code(&self, code: &str) -> Result<(), Error> {
        if code.trim().is_empty() {
            return Err(ValidationError::new("code", "must not be empty").into());
        }
        let body = json!({ "code": code });
        self.post_ok("phone.verify_code", Some("verify_code"), body)
            .await
    }

    /// Sets (or changes) the two-step verification PIN: six digits.
    pub async fn set_two_step_pin(&self, pin: &str) -> Result<(), Error> {
        check_pin(pin)?;
        self.post_ok("phone.two_step", None, json!({ "pin": pin }))
            .await
    }

    /// Asks for a new display name; it goes into review
    /// ([`display_name`](Self::display_name) tells the status).
    pub async fn request_display_name(&self, name: &str) -> Result<(), Error> {
        if name.trim().is_empty() {
            return Err(ValidationError::new("new_display_name", "must not be empty").into());
        }
        self.post_ok(
            "phone.display_name",
            None,
            json!({ "new_display_name": name }),
        )
        .await
    }

    /// The verified name and any requested change with its review status.
    pub async fn display_name(&self) -> Result<DisplayName, Error> {
        let url = self.client.url(&[&self.phone_number_id])?;
        self.client
            .execute("phone.display_name.get", true, |http| {
                http.get(url.clone())
                    .query(&[("fields", "verified_name,new_display_name,new_name_status")])
            })
            .await
    }

    /// Creates a QR code (and short link) opening a chat with a prefilled
    /// message of at most 140 characters, with its image in `format`.
    pub async fn create_qr_code(
        &self,
        prefilled_message: &str,
        format: QrImageFormat,
    ) -> Result<QrCode, Error> {
        check_qr_message(prefilled_message)?;
        let url = self.client.url(&[&self.phone_number_id, "message_qrdls"])?;
        let body = json!({ "prefilled_message": prefilled_message, "generate_qr_image": format });
        // Not idempotent: a retry after a lost answer would create a second code.
        self.client
            .execute("qr.create", false, |http| {
                http.post(url.clone()).json(&body)
            })
            .await
    }

    /// Changes a QR code's prefilled message.
    pub async fn update_qr_code(
        &self,
        code: &str,
        prefilled_message: &str,
    ) -> Result<QrCode, Error> {
        check_qr_message(prefilled_message)?;
        let url = self.client.url(&[&self.phone_number_id, "message_qrdls"])?;
        let body = json!({ "code": code, "prefilled_message": prefilled_message });
        self.client
            .execute("qr.update", true, |http| http.post(url.clone()).json(&body))
            .await
    }

    /// Every QR code of the number, with image URLs in `format`.
    pub async fn qr_codes(&self, format: QrImageFormat) -> Result<Vec<QrCode>, Error> {
        let url = self.client.url(&[&self.phone_number_id, "message_qrdls"])?;
        let fields = format!(
            "code,prefilled_message,deep_link_url,qr_image_url.format({})",
            match format {
                QrImageFormat::Png => "PNG",
                QrImageFormat::Svg => "SVG",
            }
        );
        paging::collect(&self.client, "qr.list", &url, &[("fields", fields)]).await
    }

    /// One QR code.
    pub async fn qr_code(&self, code: &str) -> Result<QrCode, Error> {
        let url = self
            .client
            .url(&[&self.phone_number_id, "message_qrdls", code])?;
        let page: paging::Wire<QrCode> = self
            .client
            .execute("qr.get", true, |http| http.get(url.clone()))
            .await?;
        page.data
            .into_iter()
            .next()
            .ok_or_else(|| Error::unexpected(200, "the QR code answer had no data", b""))
    }

    /// Deletes a QR code.
    pub async fn delete_qr_code(&self, code: &str) -> Result<(), Error> {
        let url = self
            .client
            .url(&[&self.phone_number_id, "message_qrdls", code])?;
        let ok: Success = self
            .client
            .execute("qr.delete", true, |http| http.delete(url.clone()))
            .await?;
        ok.check("qr.delete")
    }

    /// Sets the welcome message, commands and ice breakers (the parts set).
    pub async fn set_conversational_components(
        &self,
        components: &ConversationalComponents,
    ) -> Result<(), Error> {
        components.validate()?;
        let body = serde_json::to_value(components)
            .map_err(|e| Error::Config(format!("cannot encode the components: {e}")))?;
        self.post_ok(
            "phone.conversational_automation",
            Some("conversational_automation"),
            body,
        )
        .await
    }

    /// The current welcome message setting, commands and ice breakers.
    pub async fn conversational_components(&self) -> Result<ConversationalComponents, Error> {
        #[derive(Deserialize)]
        struct Wrapped {
            #[serde(default)]
            conversational_automation: Option<ConversationalComponents>,
        }
        let url = self.client.url(&[&self.phone_number_id])?;
        let w: Wrapped = self
            .client
            .execute("phone.conversational_automation.get", true, |http| {
                http.get(url.clone())
                    .query(&[("fields", "conversational_automation")])
            })
            .await?;
        Ok(w.conversational_automation.unwrap_or_default())
    }

    /// Whether the cart and the catalog are on.
    pub async fn commerce_settings(&self) -> Result<CommerceSettings, Error> {
        let url = self
            .client
            .url(&[&self.phone_number_id, "whatsapp_commerce_settings"])?;
        let page: paging::Wire<CommerceSettings> = self
            .client
            .execute("commerce.get", true, |http| http.get(url.clone()))
            .await?;
        Ok(page.data.into_iter().next().unwrap_or_default())
    }

    /// Turns the cart and the catalog on or off.
    pub async fn set_commerce_settings(&self, settings: CommerceSettings) -> Result<(), Error> {
        let url = self
            .client
            .url(&[&self.phone_number_id, "whatsapp_commerce_settings"])?;
        let query = [
            ("is_cart_enabled", settings.is_cart_enabled.to_string()),
            (
                "is_catalog_visible",
                settings.is_catalog_visible.to_string(),
            ),
        ];
        let ok: Success = self
            .client
            .execute("commerce.set", true, |http| {
                http.post(url.clone()).query(&query)
            })
            .await?;
        ok.check("commerce.set")
    }

    async fn block_call(
        &self,
        op: &'static str,
        users: &[&str],
        block: bool,
    ) -> Result<BlockOutcome, Error> {
        if users.is_empty() || users.len() > MAX_BLOCK_USERS {
            return Err(ValidationError::new(
                "block_users",
                format!(
                    "1 to {MAX_BLOCK_USERS} users per request, got {}",
                    users.len()
                ),
            )
            .into());
        }
        let url = self.client.url(&[&self.phone_number_id, "block_users"])?;
        let list: Vec<serde_json::Value> = users.iter().map(|u| json!({ "user": u })).collect();
        let body = json!({ "messaging_product": "whatsapp", "block_users": list });
        let answer: BlockAnswer = self
            .client
            .execute(op, true, |http| {
                let req = if block {
                    http.post(url.clone())
                } else {
                    http.delete(url.clone())
                };
                req.json(&body)
            })
            .await?;
        Ok(answer.block_users)
    }

    /// Blocks up to 1,000 users (only ones who wrote in the last 24 hours).
    /// Each user succeeds or fails on its own: see [`BlockOutcome`].
    pub async fn block_users(&self, users: &[&str]) -> Result<BlockOutcome, Error> {
        self.block_call("block_users.block", users, true).await
    }

    /// Unblocks up to 1,000 users.
    pub async fn unblock_users(&self, users: &[&str]) -> Result<BlockOutcome, Error> {
        self.block_call("block_users.unblock", users, false).await
    }

    /// One page of the block list.
    pub async fn blocked_users(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<BlockedUser>, Error> {
        let url = self.client.url(&[&self.phone_number_id, "block_users"])?;
        let page: Page<BlockListItem> =
            paging::page(&self.client, "block_users.list", &url, &[], after, limit).await?;
        Ok(Page {
            data: page.data.into_iter().flat_map(|i| i.block_users).collect(),
            after: page.after,
        })
    }
}

/// Message, conversation and pricing analytics of the business account:
/// [`Client::analytics`].
#[derive(Debug, Clone)]
pub struct AnalyticsApi {
    client: Client,
}

impl AnalyticsApi {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    async fn field<T: serde::de::DeserializeOwned>(
        &self,
        field: &'static str,
        query: &AnalyticsQuery,
    ) -> Result<Option<T>, Error> {
        query.validate()?;
        let url = self.client.url(&[self.client.waba()?])?;
        let fields = query.field(field);
        let mut answer: serde_json::Map<String, serde_json::Value> = self
            .client
            .execute("analytics", true, |http| {
                http.get(url.clone()).query(&[("fields", fields.as_str())])
            })
            .await?;
        match answer.remove(field) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(value) => serde_json::from_value(value).map(Some).map_err(|e| {
                Error::unexpected(
                    200,
                    format!(
                        "the {field} answer did not match the expected shape ({})",
                        crate::serde_util::describe_serde_error(&e)
                    ),
                    b"",
                )
            }),
        }
    }

    /// Messages sent and delivered per period.
    pub async fn messages(&self, query: &AnalyticsQuery) -> Result<MessageAnalytics, Error> {
        Ok(self.field("analytics", query).await?.unwrap_or_default())
    }

    /// Priced messages and cost per period (and dimension).
    pub async fn pricing(&self, query: &AnalyticsQuery) -> Result<Vec<PricingPoint>, Error> {
        self.points("pricing_analytics", query).await
    }

    /// Conversations and cost per period (and dimension).
    pub async fn conversations(&self, query: &AnalyticsQuery) -> Result<Vec<PricingPoint>, Error> {
        self.points("conversation_analytics", query).await
    }

    async fn points(
        &self,
        field: &'static str,
        query: &AnalyticsQuery,
    ) -> Result<Vec<PricingPoint>, Error> {
        #[derive(Deserialize)]
        struct Series {
            #[serde(default)]
            data_points: Vec<PricingPoint>,
        }
        let page: Option<paging::Wire<Series>> = self.field(field, query).await?;
        Ok(page
            .map(|p| p.data.into_iter().flat_map(|s| s.data_points).collect())
            .unwrap_or_default())
    }
}

impl Client {
    /// Management of the client's business number.
    pub fn phone(&self) -> PhoneApi {
        PhoneApi::new(self.clone(), self.phone_number_id().to_owned())
    }

    /// Management of another number of the business account.
    pub fn phone_number(&self, phone_number_id: impl Into<String>) -> PhoneApi {
        PhoneApi::new(self.clone(), phone_number_id.into())
    }

    /// Analytics of the business account (needs its id).
    pub fn analytics(&self) -> AnalyticsApi {
        AnalyticsApi::new(self.clone())
    }
}
