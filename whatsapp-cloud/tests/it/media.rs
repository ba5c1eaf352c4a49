//! Media through the client: upload, lookup, download (checksums, caps, host
//! allowlist, redirects, deadlines) and delete.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use whatsapp_cloud::testkit::MockGraph;
use whatsapp_cloud::{Client, Error, ErrorClass, MediaError};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn media_upload_lookup_download_and_delete() {
    let graph = MockGraph::start().await;
    let client = graph.client();
    let media = client.media();
    let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
    let id = media
        .upload(
            whatsapp_cloud::media::MediaKind::Image,
            jpeg.clone(),
            "image/jpeg",
            "box.jpg",
        )
        .await
        .unwrap();
    assert!(id.starts_with("media-"));
    let upload = graph
        .requests()
        .await
        .into_iter()
        .find(|r| r.path().ends_with("/media"))
        .unwrap();
    let body = upload.body_text();
    assert!(
        body.contains("name=\"messaging_product\"")
            && body.contains("name=\"file\"")
            && body.contains("image/jpeg")
    );

    graph.add_media("m-77", b"%PDF-1.7 invoice", "application/pdf");
    let info = media.get("m-77").await.unwrap();
    assert_eq!(info.mime_type.as_deref(), Some("application/pdf"));
    assert!(
        !format!("{info:?}").contains("media-download"),
        "the signed URL stays out of Debug"
    );
    let file = media.download("m-77").await.unwrap();
    assert_eq!(file.bytes, b"%PDF-1.7 invoice");
    let mut sink: Vec<u8> = Vec::new();
    let (info, sha) = media.download_to("m-77", &mut sink).await.unwrap();
    assert_eq!(sink, b"%PDF-1.7 invoice");
    assert_eq!(Some(sha), info.sha256);
    media.delete("m-77").await.unwrap();
    let err = media.get("m-77").await.unwrap_err();
    assert_eq!(err.class(), Some(ErrorClass::InvalidParameter));

    // Local refusals: wrong type, too large.
    let err = media
        .upload(
            whatsapp_cloud::media::MediaKind::Image,
            vec![0; 10],
            "image/gif",
            "a.gif",
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Media(MediaError::UnsupportedType { .. })
    ));
    let err = media
        .upload(
            whatsapp_cloud::media::MediaKind::Sticker,
            vec![0; 600 * 1024],
            "image/webp",
            "s.webp",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Media(MediaError::TooLarge { .. })));
}

#[tokio::test]
async fn download_checks_sha256_cap_and_refreshes_an_expired_url_once() {
    let server = MockServer::start().await;
    let uri = server.uri();
    let good = b"hello".to_vec();
    let sha = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    Mock::given(method("GET")).and(path("/v23.0/m1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "m1", "url": format!("{uri}/dl/expired"), "mime_type": "text/plain", "sha256": sha, "file_size": 5})))
        .up_to_n_times(1).with_priority(1).mount(&server).await;
    Mock::given(method("GET")).and(path("/v23.0/m1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "m1", "url": format!("{uri}/dl/fresh"), "mime_type": "text/plain", "sha256": sha, "file_size": 5})))
        .mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/dl/expired"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/dl/fresh"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(good.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v23.0/bad"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "bad", "url": format!("{uri}/dl/fresh"), "sha256": "00".repeat(32)}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v23.0/big"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "big", "url": format!("{uri}/dl/fresh")})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v23.0/insecure"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "x", "url": "http://example.com/file"})),
        )
        .mount(&server)
        .await;
    let client = Client::builder()
        .access_token(SecretString::from("t"))
        .phone_number_id("1")
        .base_url(uri.clone())
        .download_cap(4)
        .build()
        .unwrap();
    let big = Client::builder()
        .access_token(SecretString::from("t"))
        .phone_number_id("1")
        .base_url(uri)
        .build()
        .unwrap();
    let file = big.media().download("m1").await.unwrap();
    assert_eq!(file.bytes, good);
    let dl: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().starts_with("/dl/"))
        .collect();
    assert_eq!(dl.len(), 2);
    assert!(
        dl.iter()
            .all(|r| r.headers.get("authorization").is_some()
                && r.headers.get("user-agent").is_some())
    );
    assert!(matches!(
        big.media().download("bad").await,
        Err(Error::Media(MediaError::ChecksumMismatch))
    ));
    assert!(matches!(
        client.media().download("big").await,
        Err(Error::Media(MediaError::TooLarge { .. }))
    ));
    assert!(
        matches!(
            big.media().download("insecure").await,
            Err(Error::Config(_))
        ),
        "no token over plain http"
    );
}

#[tokio::test]
async fn the_token_only_goes_to_media_hosts_and_never_across_a_redirect() {
    let server = MockServer::start().await;
    let other = MockServer::start().await;
    let uri = server.uri();
    // The other server is reached as `localhost`: another host than 127.0.0.1.
    let elsewhere = other.uri().replace("127.0.0.1", "localhost");
    for (id, url) in [
        ("attacker", "https://attacker.example.net/file".to_owned()),
        (
            "lookalike",
            "https://lookaside.fbsbx.com.evil.net/file".to_owned(),
        ),
        ("hop", format!("{uri}/dl/hop")),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/v23.0/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": id, "url": url})))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/dl/hop"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", format!("{elsewhere}/stolen")),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"x".to_vec()))
        .mount(&other)
        .await;
    let client = Client::builder()
        .access_token(SecretString::from("t"))
        .phone_number_id("1")
        .base_url(uri)
        .build()
        .unwrap();
    for id in ["attacker", "lookalike"] {
        let e = client.media().download(id).await.unwrap_err();
        assert!(
            matches!(e, Error::Config(_)) && e.to_string().contains("media host"),
            "{id}: {e}"
        );
    }
    assert!(
        client.media().download("hop").await.is_err(),
        "a cross-host redirect is not followed"
    );
    assert!(
        other.received_requests().await.unwrap().is_empty(),
        "nothing, and no token, reached the other host"
    );
}

#[tokio::test]
async fn a_stalled_media_download_times_out_but_a_slow_one_is_not_cut_short() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // A server that answers the lookup, then sends the file's headers and
    // one byte, then nothing.
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                if req.starts_with("GET /v23.0/slow") {
                    let body = format!("{{\"id\":\"slow\",\"url\":\"http://{addr}/dl/slow\"}}");
                    let _ = sock.write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len()).as_bytes()).await;
                } else {
                    let _ = sock
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nx")
                        .await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            });
        }
    });
    let client = Client::builder()
        .access_token(SecretString::from("t"))
        .phone_number_id("1")
        .base_url(format!("http://{addr}"))
        .timeout(Duration::from_millis(100))
        .media_timeouts(Duration::from_secs(5), Duration::from_millis(300))
        .build()
        .unwrap();
    let e = client.media().download("slow").await.unwrap_err();
    assert!(
        e.to_string().contains("stalled"),
        "the progress deadline, not the 100 ms request timeout: {e}"
    );
}
