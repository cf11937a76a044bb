//! One upload URL, one object: S3 refuses a second PUT (`If-None-Match: *` is signed in), and
//! what an image serves is the verified copy, even where a store lets a second PUT through.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_processing_app};

const JPEG: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.jpg");
const OTHER_JPEG: &[u8] = include_bytes!("../../fixtures/images/gps-exif-64x48.jpg");
/// How long a notification may take to be processed on a busy 2-core machine.
const SETTLE: Duration = Duration::from_secs(20);

/// Presigns, PUTs `bytes`, and waits until the image is READY; returns the upload answer.
async fn ready_upload(app: &TestApp, bytes: &[u8]) -> Value {
    let upload = app
        .presign(&json!({"fileName": "once.jpg", "fileType": "image/jpeg"}))
        .await;
    let put = app.put_with_given_headers(&upload, bytes.to_vec()).await;
    assert_eq!(put.status(), 200);
    let id = upload["imageId"].as_str().unwrap();
    assert_eq!(app.settled_status(id, SETTLE).await, "READY");
    upload
}

/// The bytes `GET /images/{id}` serves as the original, through its presigned URL.
async fn served_original(app: &TestApp, id: &str) -> Vec<u8> {
    let (status, view) = app.get_json(&format!("/images/{id}")).await;
    assert_eq!(status, 200, "{view}");
    let url = view["url"].as_str().expect("a READY image has a URL");
    assert!(url.contains(&format!("/originals/{id}.jpg?")), "{url}");
    let response = app.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn a_second_put_to_the_same_url_gets_412_and_the_image_keeps_its_bytes() {
    let app = spawn_processing_app().await;
    let upload = ready_upload(&app, JPEG).await;
    let id = upload["imageId"].as_str().unwrap();
    assert_eq!(upload["headers"]["If-None-Match"], "*");

    let again = app
        .put_with_given_headers(&upload, OTHER_JPEG.to_vec())
        .await;

    assert_eq!(again.status(), 412, "{}", again.text().await.unwrap());
    assert_eq!(app.object(&format!("uploads/{id}.jpg")).await, JPEG);
    assert_eq!(served_original(&app, id).await, JPEG);
    let item = app.item(id).await.unwrap();
    assert_eq!(item["status"].as_s().unwrap(), "READY");
    assert_eq!(item["sizeBytes"].as_n().unwrap(), &JPEG.len().to_string());
}

#[tokio::test]
async fn the_url_without_its_if_none_match_header_is_refused_by_the_signature() {
    let app = spawn_processing_app().await;
    let upload = app
        .presign(&json!({"fileName": "once.jpg", "fileType": "image/jpeg"}))
        .await;
    let id = upload["imageId"].as_str().unwrap();

    let stripped = app
        .http
        .put(upload["uploadUrl"].as_str().unwrap())
        .header("Content-Type", "image/jpeg")
        .body(JPEG.to_vec())
        .send()
        .await
        .unwrap();

    assert_eq!(stripped.status(), 403);
    let body = stripped.text().await.unwrap();
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    assert!(!app.object_exists(&format!("uploads/{id}.jpg")).await);

    // The same after the image is READY: the header cannot be dropped to overwrite it.
    let upload = ready_upload(&app, JPEG).await;
    let id = upload["imageId"].as_str().unwrap();
    let stripped = app
        .http
        .put(upload["uploadUrl"].as_str().unwrap())
        .header("Content-Type", "image/jpeg")
        .body(OTHER_JPEG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(stripped.status(), 403);
    assert_eq!(served_original(&app, id).await, JPEG);
}

#[tokio::test]
async fn an_upload_replaced_behind_a_store_that_ignores_the_header_is_never_served() {
    // Defence in depth: a PUT without `If-None-Match` (the test's own credentials, standing in
    // for a store that ignores the header) replaces the verified upload in the inbox.
    let app = spawn_processing_app().await;
    let upload = ready_upload(&app, JPEG).await;
    let id = upload["imageId"].as_str().unwrap();
    let key = format!("uploads/{id}.jpg");

    app.s3
        .put_object()
        .bucket(&app.bucket)
        .key(&key)
        .content_type("image/jpeg")
        .body(OTHER_JPEG.to_vec().into())
        .send()
        .await
        .unwrap();

    // Its notification reaches the processor, which deletes it unverified.
    let deadline = tokio::time::Instant::now() + SETTLE;
    while app.object_exists(&key).await && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!app.object_exists(&key).await, "the replacement is deleted");
    assert_eq!(served_original(&app, id).await, JPEG);
    assert_eq!(app.object(&format!("originals/{id}.jpg")).await, JPEG);
    let item = app.item(id).await.unwrap();
    assert_eq!(item["status"].as_s().unwrap(), "READY");
    assert_eq!(item["sizeBytes"].as_n().unwrap(), &JPEG.len().to_string());
}
