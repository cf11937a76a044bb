use std::collections::HashSet;
use std::time::Duration;

use image_upload::aws::USAGE_KEY_PREFIX;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

const JPEG: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.jpg");
const PNG: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.png");

#[tokio::test]
async fn presign_put_and_the_pending_row_agree() {
    let app = spawn_app().await;

    let upload = app
        .presign(&json!({"fileName": "Sonnenuntergang 🌇.jpg", "fileType": "image/jpeg"}))
        .await;
    let put = app.put_with_given_headers(&upload, JPEG.to_vec()).await;

    assert_eq!(put.status(), 200, "PUT: {}", put.text().await.unwrap());
    let image_id = upload["imageId"].as_str().unwrap();
    let key = format!("uploads/{image_id}.jpg");
    assert!(
        upload["fileUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{}/{key}", app.bucket))
    );
    let head = app
        .s3
        .head_object()
        .bucket(&app.bucket)
        .key(&key)
        .send()
        .await
        .expect("the object exists");
    assert_eq!(head.content_type(), Some("image/jpeg"));
    assert_eq!(head.content_length(), Some(JPEG.len() as i64));
    let item = app.item(image_id).await.expect("the row exists");
    let s = |name: &str| item[name].as_s().unwrap().clone();
    assert_eq!(s("status"), "PENDING");
    assert_eq!(s("fileName"), "Sonnenuntergang 🌇.jpg");
    assert_eq!(s("fileType"), "image/jpeg");
    assert_eq!(s("objectKey"), key);
    assert_eq!(s("bucket"), app.bucket);
    assert_eq!(s("owner"), "anonymous");
    assert!(item.contains_key("pendingExpiry"));
}

#[tokio::test]
async fn a_declared_size_is_stored_and_an_exact_put_succeeds() {
    let app = spawn_app().await;

    let upload = app
        .presign(&json!({"fileName": "a.png", "fileType": "image/png", "fileSize": PNG.len()}))
        .await;
    let put = app.put_with_given_headers(&upload, PNG.to_vec()).await;

    assert_eq!(put.status(), 200);
    let item = app.item(upload["imageId"].as_str().unwrap()).await.unwrap();
    assert_eq!(item["fileSize"].as_n().unwrap(), &PNG.len().to_string());
}

#[tokio::test]
async fn s3_refuses_a_put_with_another_content_type() {
    let app = spawn_app().await;
    let upload = app
        .presign(&json!({"fileName": "a.png", "fileType": "image/png"}))
        .await;

    let put = app
        .http
        .put(upload["uploadUrl"].as_str().unwrap())
        .header("Content-Type", "text/html")
        .body(b"<script>alert(1)</script>".to_vec())
        .send()
        .await
        .unwrap();

    assert_eq!(put.status(), 403);
    assert!(put.text().await.unwrap().contains("SignatureDoesNotMatch"));
    let key = format!("uploads/{}.png", upload["imageId"].as_str().unwrap());
    assert!(
        app.s3
            .head_object()
            .bucket(&app.bucket)
            .key(key)
            .send()
            .await
            .is_err(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn s3_refuses_a_put_of_another_size_than_declared() {
    let app = spawn_app().await;
    let upload = app
        .presign(&json!({"fileName": "a.jpg", "fileType": "image/jpeg", "fileSize": 100}))
        .await;

    let larger = app.put_with_given_headers(&upload, vec![0xFF; 101]).await;
    let smaller = app.put_with_given_headers(&upload, vec![0xFF; 99]).await;

    assert_eq!(larger.status(), 403);
    assert_eq!(smaller.status(), 403);
}

#[tokio::test]
async fn s3_refuses_an_expired_url() {
    let app = spawn_app_with(&[("UPLOAD_URL_EXPIRY_SECONDS", "1")]).await;
    let upload = app
        .presign(&json!({"fileName": "a.png", "fileType": "image/png"}))
        .await;

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let put = app.put_with_given_headers(&upload, PNG.to_vec()).await;

    assert_eq!(put.status(), 403);
    assert!(put.text().await.unwrap().contains("expired"));
}

#[tokio::test]
async fn fifty_concurrent_requests_make_fifty_distinct_rows() {
    // No URL is used, so all 50 stay in flight. Their counts queue on the one usage item, which
    // DynamoDB Local writes far slower than DynamoDB: no deployment timeout for this burst.
    let app = spawn_app_with(&[
        ("MAX_UPLOADS_IN_FLIGHT", "50"),
        ("AWS_ATTEMPT_TIMEOUT_MS", "30000"),
        ("AWS_OPERATION_TIMEOUT_MS", "60000"),
    ])
    .await;
    let body = json!({"fileName": "burst.gif", "fileType": "image/gif"});

    let replies = futures_util::future::join_all((0..50).map(|_| app.presign(&body))).await;

    let ids: HashSet<String> = replies
        .iter()
        .map(|r| r["imageId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 50);
    let stored: HashSet<String> = app
        .all_items()
        .await
        .iter()
        .map(|item| item["imageId"].as_s().unwrap().clone())
        .filter(|key| !key.starts_with(USAGE_KEY_PREFIX))
        .collect();
    assert_eq!(stored, ids);
}

#[tokio::test]
async fn the_bucket_lets_the_local_page_put_from_a_browser() {
    let app = spawn_app().await;
    let upload = app
        .presign(&json!({"fileName": "a.png", "fileType": "image/png"}))
        .await;

    let preflight = app
        .http
        .request(
            reqwest::Method::OPTIONS,
            upload["uploadUrl"].as_str().unwrap(),
        )
        .header("Origin", "http://localhost:3000")
        .header("Access-Control-Request-Method", "PUT")
        // Every header the API tells the client to send, as a browser would announce them.
        .header(
            "Access-Control-Request-Headers",
            "content-type,if-none-match",
        )
        .send()
        .await
        .unwrap();

    assert_eq!(preflight.status(), 200);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("if-none-match"), "{allowed}");
}
