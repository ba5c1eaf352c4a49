//! Files: a `ContentVersion` uploaded or downloaded as a stream (never held
//! whole in memory) and linked to a record.

use futures_util::StreamExt as _;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::client::{Client, Req};
use crate::error::Error;
use crate::http::transport_error;
use crate::id::SalesforceId;

/// What an upload created.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadedFile {
    /// The `ContentVersion` id.
    pub content_version_id: SalesforceId,
    /// Its `ContentDocumentId` (link it to more records with
    /// [`Client::link_file`]).
    pub content_document_id: Option<SalesforceId>,
}

const CHUNK: usize = 64 * 1024;

impl Client {
    /// Uploads a file as a `ContentVersion`, streaming `reader` in 64 KiB
    /// chunks (memory is bounded by the chunk, not the file), and publishes it
    /// on `record` (a Case, a Lead) when given. The stream cannot be replayed,
    /// so the upload is not retried: on an error, upload again.
    pub async fn upload_file<R>(
        &self,
        title: &str,
        file_name: &str,
        reader: R,
        record: Option<&SalesforceId>,
    ) -> Result<UploadedFile, Error>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        let mut entity = serde_json::Map::new();
        entity.insert("Title".into(), title.into());
        entity.insert("PathOnClient".into(), file_name.into());
        if let Some(r) = record {
            entity.insert("FirstPublishLocationId".into(), r.as_str().into());
        }
        let entity = serde_json::Value::Object(entity);
        let chunks = futures_util::stream::unfold(reader, |mut r| async move {
            let mut buf = vec![0u8; CHUNK];
            match r.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), r))
                }
                Err(e) => Some((Err(e), r)),
            }
        })
        .boxed();
        let form = reqwest::multipart::Form::new()
            .part(
                "entity_content",
                reqwest::multipart::Part::text(entity.to_string())
                    .mime_str("application/json")
                    .map_err(|e| Error::Config(e.to_string()))?,
            )
            .part(
                "VersionData",
                reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(chunks))
                    .file_name(file_name.to_owned())
                    .mime_str("application/octet-stream")
                    .map_err(|e| Error::Config(e.to_string()))?,
            );
        let token = self.session().token().await?;
        let url = self.url_for(&token, "sobjects/ContentVersion")?;
        let response = self
            .http()
            .post(url)
            .header(AUTHORIZATION, token.header().clone())
            .header(ACCEPT, "application/json")
            .multipart(form)
            .send()
            .await
            .map_err(transport_error)?;
        #[derive(Deserialize)]
        struct Created {
            id: SalesforceId,
        }
        let created: Created = self.read_answer(response).await?.json()?;
        #[derive(Deserialize)]
        struct Version {
            #[serde(rename = "ContentDocumentId")]
            content_document_id: Option<SalesforceId>,
        }
        let v: Version = self
            .call(
                Req::new(
                    reqwest::Method::GET,
                    format!("sobjects/ContentVersion/{}", created.id),
                )
                .query("fields", "ContentDocumentId"),
            )
            .await?
            .json()?;
        Ok(UploadedFile {
            content_version_id: created.id,
            content_document_id: v.content_document_id,
        })
    }

    /// Shares an uploaded file on another record (`ContentDocumentLink`).
    pub async fn link_file(
        &self,
        content_document_id: &SalesforceId,
        record: &SalesforceId,
    ) -> Result<SalesforceId, Error> {
        let link = crate::records::DynamicRecord::new()
            .set("ContentDocumentId", content_document_id.as_str())
            .set("LinkedEntityId", record.as_str())
            .set("ShareType", "V");
        self.create(&link).object("ContentDocumentLink").await
    }

    /// Downloads a file's bytes (`ContentVersion/{id}/VersionData`) into
    /// `writer`, streamed, and returns how many bytes came. A file larger
    /// than `max_bytes` stops the download with [`Error::FileTooLarge`]
    /// (what was written is incomplete: discard it). The session is renewed
    /// once on 401, like every call; the download itself is not retried.
    ///
    /// ```no_run
    /// # async fn run(client: salesforce_rest::Client, id: salesforce_rest::SalesforceId) -> Result<(), salesforce_rest::Error> {
    /// let mut bytes = Vec::new();
    /// let size = client.download_file(&id, &mut bytes, 5 * 1024 * 1024).await?;
    /// assert_eq!(size as usize, bytes.len());
    /// # Ok(()) }
    /// ```
    pub async fn download_file<W>(
        &self,
        content_version_id: &SalesforceId,
        writer: &mut W,
        max_bytes: u64,
    ) -> Result<u64, Error>
    where
        W: AsyncWrite + Unpin + Send + ?Sized,
    {
        let path = format!("sobjects/ContentVersion/{content_version_id}/VersionData");
        let mut token = self.session().token().await?;
        let mut renewed = false;
        let response = loop {
            let url = self.url_for(&token, &path)?;
            let response = self
                .http()
                .get(url)
                .header(AUTHORIZATION, token.header().clone())
                .send()
                .await
                .map_err(transport_error)?;
            if response.status().is_success() {
                break response;
            }
            // Error bodies are JSON: read them the usual way for a typed error.
            let err = match self.read_answer(response).await {
                Err(e) => e,
                Ok(a) => Error::unexpected(a.status, "the file could not be read", &a.body),
            };
            if !renewed && crate::client::is_refreshable_401(&err) {
                renewed = true;
                token = self.session().token_after_unauthorized(&token).await?;
                continue;
            }
            return Err(err);
        };
        if let Some(size) = response.content_length()
            && size > max_bytes
        {
            return Err(Error::FileTooLarge {
                size,
                limit: max_bytes,
            });
        }
        let mut written = 0u64;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(transport_error)?;
            written += chunk.len() as u64;
            if written > max_bytes {
                return Err(Error::FileTooLarge {
                    size: written,
                    limit: max_bytes,
                });
            }
            writer
                .write_all(&chunk)
                .await
                .map_err(|e| Error::LocalWrite(e.to_string()))?;
        }
        writer
            .flush()
            .await
            .map_err(|e| Error::LocalWrite(e.to_string()))?;
        Ok(written)
    }
}
