//! Media, templates and account calls. Each handle owns a client clone, so it can
//! be stored and moved into tasks.

use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tracing::Instrument;

use super::{Client, Success, paging, transport_error};
use crate::account::{BusinessPhoneNumber, BusinessProfile, Page, SubscribedApp};
use crate::error::{Error, MediaError};
use crate::media::{DownloadedMedia, MediaInfo, MediaKind};
use crate::templates::{CreatedTemplate, NewTemplate, TemplateEdit, TemplateFilter, TemplateInfo};

/// Media calls: [`Client::media`].
#[derive(Debug, Clone)]
pub struct MediaApi {
    client: Client,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

impl MediaApi {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// Uploads a file (multipart) and returns its media id, valid for 30 days.
    /// The MIME type and size are checked against WhatsApp's limits for `kind`
    /// before anything is sent.
    pub async fn upload(
        &self,
        kind: MediaKind,
        bytes: Vec<u8>,
        mime_type: &str,
        filename: &str,
    ) -> Result<String, Error> {
        if !kind.accepts(mime_type) {
            return Err(MediaError::UnsupportedType {
                kind: kind.as_str(),
                mime: mime_type.to_owned(),
            }
            .into());
        }
        let size = bytes.len() as u64;
        if size > kind.max_bytes() {
            return Err(MediaError::TooLarge {
                kind: kind.as_str(),
                size,
                limit: kind.max_bytes(),
            }
            .into());
        }
        let url = self.client.url(&[self.client.phone_number_id(), "media"])?;
        let data = bytes::Bytes::from(bytes);
        let mime = mime_type.to_owned();
        let name = if filename.is_empty() {
            "upload"
        } else {
            filename
        }
        .to_owned();
        let span = tracing::info_span!("whatsapp.media.upload", kind = kind.as_str(), size);
        let created: IdOnly = self
            .client
            .execute("media.upload", false, |http| {
                let part = reqwest::multipart::Part::stream(reqwest::Body::from(data.clone()))
                    .file_name(name.clone())
                    .mime_str(&mime)
                    .unwrap_or_else(|_| {
                        reqwest::multipart::Part::stream(reqwest::Body::from(data.clone()))
                    });
                let form = reqwest::multipart::Form::new()
                    .text("messaging_product", "whatsapp")
                    .text("type", mime.clone())
                    .part("file", part);
                http.post(url.clone()).multipart(form)
            })
            .instrument(span)
            .await?;
        Ok(created.id)
    }

    /// Looks up a media id: its short-lived download URL, MIME type, size and hash.
    pub async fn get(&self, media_id: &str) -> Result<MediaInfo, Error> {
        let url = self.client.url(&[media_id])?;
        let phone = self.client.phone_number_id().to_owned();
        self.client
            .execute("media.get", true, |http| {
                http.get(url.clone())
                    .query(&[("phone_number_id", phone.as_str())])
            })
            .await
    }

    /// Downloads a media file: looks up its URL, then GETs it with the bearer token
    /// and a User-Agent, streaming it under the download cap and checking its
    /// SHA-256. The URL lives 5 minutes, so an expired one (401, 403, 404) is
    /// looked up again, once.
    pub async fn download(&self, media_id: &str) -> Result<DownloadedMedia, Error> {
        let mut bytes = Vec::new();
        let (info, digest) = self.download_to(media_id, &mut bytes).await?;
        Ok(DownloadedMedia {
            bytes,
            mime_type: info.mime_type,
            sha256: Some(digest),
        })
    }

    /// Streams a media file into a writer (a file, an upload to your storage)
    /// without holding it in memory; returns its info and SHA-256 (hex). The cap,
    /// the checksum and the one re-lookup of an expired URL work as in
    /// [`download`](Self::download). On an error, what was written is
    /// incomplete or unverified: discard it.
    pub async fn download_to<W>(
        &self,
        media_id: &str,
        writer: &mut W,
    ) -> Result<(MediaInfo, String), Error>
    where
        W: tokio::io::AsyncWrite + Unpin + Send + ?Sized,
    {
        let span = tracing::info_span!("whatsapp.media.download");
        async {
            let mut info = self.get(media_id).await?;
            let mut refreshed = false;
            loop {
                match self.fetch(&info, writer).await {
                    Err(Error::UnexpectedResponse { status, .. })
                        if !refreshed && matches!(status, 401 | 403 | 404 | 410) =>
                    {
                        tracing::info!(status, "media URL expired, looking it up again");
                        refreshed = true;
                        info = self.get(media_id).await?;
                    }
                    Ok(digest) => return Ok((info, digest)),
                    Err(e) => return Err(e),
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn fetch<W>(&self, info: &MediaInfo, writer: &mut W) -> Result<String, Error>
    where
        W: tokio::io::AsyncWrite + Unpin + Send + ?Sized,
    {
        use tokio::io::AsyncWriteExt;
        let cap = self.client.download_cap();
        if let Some(size) = info.file_size.filter(|s| *s > 0 && *s as u64 > cap) {
            return Err(MediaError::TooLarge {
                kind: "download",
                size: size as u64,
                limit: cap,
            }
            .into());
        }
        let (first_byte, between_chunks) = self.client.media_timeouts();
        let timed_out = |what: &str| Error::Transport {
            kind: crate::TransportKind::Timeout,
            message: format!("the media download stalled: {what}"),
            source: None,
        };
        // No total limit (a large file on a slow link completes); instead a
        // deadline for the first byte and one between chunks.
        let request = self
            .client
            .authorized_get(&info.url)?
            .timeout(Duration::from_secs(24 * 3600));
        let mut response = tokio::time::timeout(first_byte, request.send())
            .await
            .map_err(|_| timed_out("no answer"))?
            .map_err(transport_error)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            return Err(Error::unexpected(
                status.as_u16(),
                "the media download failed",
                &body,
            ));
        }
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = tokio::time::timeout(between_chunks, response.chunk())
            .await
            .map_err(|_| timed_out("no data for too long"))?
            .map_err(transport_error)?
        {
            size += chunk.len() as u64;
            if size > cap {
                return Err(MediaError::TooLarge {
                    kind: "download",
                    size,
                    limit: cap,
                }
                .into());
            }
            hasher.update(&chunk);
            writer
                .write_all(&chunk)
                .await
                .map_err(|e| Error::Transport {
                    kind: crate::TransportKind::Body,
                    message: format!("cannot write the media: {e}"),
                    source: Some(std::sync::Arc::new(e)),
                })?;
        }
        writer.flush().await.map_err(|e| Error::Transport {
            kind: crate::TransportKind::Body,
            message: format!("cannot write the media: {e}"),
            source: Some(std::sync::Arc::new(e)),
        })?;
        let digest = hex::encode(hasher.finalize());
        if let Some(expected) = info.sha256.as_deref().filter(|e| !e.is_empty())
            && !expected.eq_ignore_ascii_case(&digest)
        {
            return Err(MediaError::ChecksumMismatch.into());
        }
        Ok(digest)
    }

    /// Deletes an uploaded media file.
    pub async fn delete(&self, media_id: &str) -> Result<(), Error> {
        let url = self.client.url(&[media_id])?;
        let ok: Success = self
            .client
            .execute("media.delete", true, |http| http.delete(url.clone()))
            .await?;
        ok.check("media.delete")
    }
}

/// Template management: [`Client::templates`]. Needs the business account id.
#[derive(Debug, Clone)]
pub struct TemplatesApi {
    client: Client,
}

const TEMPLATE_FIELDS: &str = "id,name,language,status,category,parameter_format,components";

impl TemplatesApi {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// Lists every template, following the cursor pagination to the end.
    pub async fn list(&self) -> Result<Vec<TemplateInfo>, Error> {
        self.list_filtered(&TemplateFilter::new()).await
    }

    /// The templates with this name (one per language).
    pub async fn get_by_name(&self, name: &str) -> Result<Vec<TemplateInfo>, Error> {
        let mut found = self
            .list_filtered(&TemplateFilter::new().name(name))
            .await?;
        // The API's name filter matches substrings; keep exact matches only.
        found.retain(|t| t.name == name);
        Ok(found)
    }

    /// Lists the templates that pass a filter (name, status, category,
    /// language), following the pagination to the end.
    pub async fn list_filtered(&self, filter: &TemplateFilter) -> Result<Vec<TemplateInfo>, Error> {
        let url = self
            .client
            .url(&[self.client.waba()?, "message_templates"])?;
        let mut query = filter.query();
        query.push(("fields", TEMPLATE_FIELDS.to_owned()));
        paging::collect(&self.client, "templates.list", &url, &query).await
    }

    /// Edits a template by id: its components (and category, while it is
    /// not yet approved). An approved template goes back into review.
    pub async fn edit(&self, template_id: &str, edit: &TemplateEdit) -> Result<(), Error> {
        let url = self.client.url(&[template_id])?;
        let ok: Success = self
            .client
            .execute("templates.edit", true, |http| {
                http.post(url.clone()).json(edit)
            })
            .await?;
        ok.check("templates.edit")
    }

    /// Deletes one language of a template, by its id and name.
    pub async fn delete_by_id(&self, template_id: &str, name: &str) -> Result<(), Error> {
        let url = self
            .client
            .url(&[self.client.waba()?, "message_templates"])?;
        let ok: Success = self
            .client
            .execute("templates.delete", true, |http| {
                http.delete(url.clone())
                    .query(&[("hsm_id", template_id), ("name", name)])
            })
            .await?;
        ok.check("templates.delete")
    }

    /// Forgets the cached definition of `name` (every language), so the next
    /// checked send fetches it again: call it when a
    /// `message_template_status_update` or a template edit arrives.
    pub fn invalidate(&self, name: &str) {
        if let Some(cache) = self.client.template_cache() {
            cache.invalidate(Some(name));
        }
    }

    /// Forgets every cached template definition.
    pub fn invalidate_all(&self) {
        if let Some(cache) = self.client.template_cache() {
            cache.invalidate(None);
        }
    }

    /// Creates a template; it starts in review.
    pub async fn create(&self, template: &NewTemplate) -> Result<CreatedTemplate, Error> {
        template.validate()?;
        let url = self
            .client
            .url(&[self.client.waba()?, "message_templates"])?;
        self.client
            .execute("templates.create", false, |http| {
                http.post(url.clone()).json(template)
            })
            .await
    }

    /// Deletes a template by name (every language).
    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        let url = self
            .client
            .url(&[self.client.waba()?, "message_templates"])?;
        let ok: Success = self
            .client
            .execute("templates.delete", true, |http| {
                http.delete(url.clone()).query(&[("name", name)])
            })
            .await?;
        ok.check("templates.delete")
    }
}

/// Phone numbers, business profile and subscriptions: [`Client::account`].
#[derive(Debug, Clone)]
pub struct AccountApi {
    client: Client,
}

const PHONE_FIELDS: &str =
    "id,display_phone_number,verified_name,quality_rating,code_verification_status,platform_type";
const PROFILE_FIELDS: &str =
    "about,address,description,email,profile_picture_url,websites,vertical";

impl AccountApi {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// The business account's phone numbers, following the pagination to the end.
    pub async fn phone_numbers(&self) -> Result<Vec<BusinessPhoneNumber>, Error> {
        let url = self.client.url(&[self.client.waba()?, "phone_numbers"])?;
        let query = [("fields", PHONE_FIELDS.to_owned())];
        paging::collect(&self.client, "phone_numbers.list", &url, &query).await
    }

    /// One page of the business account's phone numbers: up to `limit`, after
    /// the cursor of the previous page.
    pub async fn phone_numbers_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<BusinessPhoneNumber>, Error> {
        let url = self.client.url(&[self.client.waba()?, "phone_numbers"])?;
        let query = [("fields", PHONE_FIELDS.to_owned())];
        paging::page(
            &self.client,
            "phone_numbers.list",
            &url,
            &query,
            after,
            limit,
        )
        .await
    }

    /// One phone number: display number, verified name, quality rating.
    pub async fn phone_number(&self, phone_number_id: &str) -> Result<BusinessPhoneNumber, Error> {
        let url = self.client.url(&[phone_number_id])?;
        self.client
            .execute("phone_numbers.get", true, |http| {
                http.get(url.clone()).query(&[("fields", PHONE_FIELDS)])
            })
            .await
    }

    /// The business profile of the client's number.
    pub async fn business_profile(&self) -> Result<BusinessProfile, Error> {
        let url = self
            .client
            .url(&[self.client.phone_number_id(), "whatsapp_business_profile"])?;
        let page: paging::Wire<BusinessProfile> = self
            .client
            .execute("business_profile.get", true, |http| {
                http.get(url.clone()).query(&[("fields", PROFILE_FIELDS)])
            })
            .await?;
        page.data
            .into_iter()
            .next()
            .ok_or_else(|| Error::unexpected(200, "the business profile answer had no data", b""))
    }

    /// Updates the business profile (only the fields set are changed).
    pub async fn update_business_profile(&self, profile: &BusinessProfile) -> Result<(), Error> {
        let url = self
            .client
            .url(&[self.client.phone_number_id(), "whatsapp_business_profile"])?;
        let mut body = match serde_json::to_value(profile) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(Error::Config("cannot encode the profile".into())),
        };
        body.insert("messaging_product".into(), "whatsapp".into());
        let ok: Success = self
            .client
            .execute("business_profile.update", true, |http| {
                http.post(url.clone()).json(&body)
            })
            .await?;
        ok.check("business_profile.update")
    }

    /// Subscribes this app to the business account's webhooks. Without it no
    /// webhook ever arrives, even when the callback URL verified.
    pub async fn subscribe_app(&self) -> Result<(), Error> {
        let url = self.client.url(&[self.client.waba()?, "subscribed_apps"])?;
        let ok: Success = self
            .client
            .execute("subscribed_apps.create", true, |http| {
                http.post(url.clone())
            })
            .await?;
        ok.check("subscribed_apps.create")
    }

    /// The apps subscribed to the business account.
    pub async fn subscribed_apps(&self) -> Result<Vec<SubscribedApp>, Error> {
        #[derive(Deserialize)]
        struct Wrapped {
            #[serde(default)]
            whatsapp_business_api_data: Option<SubscribedApp>,
        }
        let url = self.client.url(&[self.client.waba()?, "subscribed_apps"])?;
        let page: paging::Wire<Wrapped> = self
            .client
            .execute("subscribed_apps.list", true, |http| http.get(url.clone()))
            .await?;
        Ok(page
            .data
            .into_iter()
            .filter_map(|w| w.whatsapp_business_api_data)
            .collect())
    }
}
