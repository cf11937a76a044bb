//! Multipart uploads end to end: the API starts them, signs each part to its length, and
//! completes them once; LocalStack checks every presigned part's signature, and the processor
//! verifies the completed object as any other upload.

use std::time::Duration;

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use serde_json::{Value, json};

use crate::helpers::{TestApp, Uploads, spawn};

const MIB: usize = 1024 * 1024;
/// How long the processor may take over a multi-megabyte image on a busy 2-core machine.
const SETTLE: Duration = Duration::from_secs(60);

/// A PNG of noise, which does not compress: a little over 5.6 MiB, so two parts of 5 MiB.
fn noisy_png() -> Vec<u8> {
    let (width, height) = (1400u32, 1400u32);
    let mut state = 0x2545_f491_u32;
    let pixels: Vec<u8> = (0..width * height * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect();
    let mut png = Vec::new();
    PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::NoFilter)
        .write_image(&pixels, width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    assert!(png.len() > 5 * MIB && png.len() < 10 * MIB, "{}", png.len());
    png
}

async fn multipart_app(uploads: Uploads) -> TestApp {
    spawn(&[("MAX_UPLOAD_BYTES", "33554432")], uploads).await
}

/// `method path` on the app with an optional JSON body; the status and the JSON answer.
async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.http.request(method, format!("{}{path}", app.address));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("a request to the app");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `method path` asking for S3's XML (`Accept: application/xml`); the status, content type and
/// document.
async fn call_xml(app: &TestApp, method: reqwest::Method, path: &str) -> (u16, String, String) {
    let response = app
        .http
        .request(method, format!("{}{path}", app.address))
        .header("accept", "application/xml")
        .send()
        .await
        .expect("a request to the app");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// Starts a multipart upload of `bytes` as a PNG; its answer.
async fn start(app: &TestApp, bytes: &[u8]) -> Value {
    let (status, upload) = call(
        app,
        reqwest::Method::POST,
        "/upload/multipart",
        Some(json!({"fileName": "big.png", "fileType": "image/png", "fileSize": bytes.len()})),
    )
    .await;
    assert_eq!(status, 200, "{upload}");
    upload
}

/// `POST /upload/multipart/{id}/parts/{number}`: the status and the answer.
async fn sign(app: &TestApp, id: &str, number: &str) -> (u16, Value) {
    call(
        app,
        reqwest::Method::POST,
        &format!("/upload/multipart/{id}/parts/{number}"),
        None,
    )
    .await
}

/// PUTs `bytes` to a part URL; the status and the ETag S3 answered.
async fn put_part(app: &TestApp, part: &Value, bytes: &[u8]) -> (u16, Option<String>) {
    let mut request = app
        .http
        .put(part["uploadUrl"].as_str().unwrap())
        .body(bytes.to_vec());
    for (name, value) in part["headers"].as_object().unwrap() {
        request = request.header(name, value.as_str().unwrap());
    }
    let response = request.send().await.expect("PUT of a part");
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), etag)
}

/// Signs and PUTs every part of `bytes` as the upload's plan cuts them.
async fn put_all_parts(app: &TestApp, upload: &Value, bytes: &[u8]) {
    let id = upload["imageId"].as_str().unwrap();
    let part_size = upload["partSize"].as_u64().unwrap() as usize;
    for (index, chunk) in bytes.chunks(part_size).enumerate() {
        let (status, part) = sign(app, id, &(index + 1).to_string()).await;
        assert_eq!(status, 200, "{part}");
        assert_eq!(part["size"].as_u64().unwrap() as usize, chunk.len());
        let (status, etag) = put_part(app, &part, chunk).await;
        assert_eq!(status, 200, "part {}", index + 1);
        assert!(etag.is_some(), "S3 answers each part's ETag");
    }
}

async fn complete(app: &TestApp, id: &str) -> (u16, Value) {
    call(
        app,
        reqwest::Method::POST,
        &format!("/upload/multipart/{id}/complete"),
        None,
    )
    .await
}

#[tokio::test]
async fn a_multipart_upload_is_completed_once_and_verified_to_ready() {
    let app = multipart_app(Uploads::Processed).await;
    let png = noisy_png();
    let upload = start(&app, &png).await;
    let id = upload["imageId"].as_str().unwrap();
    assert_eq!(upload["partCount"], 2);
    assert_eq!(upload["partSize"], 5 * MIB);
    assert_eq!(upload["key"], format!("uploads/{id}.png"));
    let item = app
        .item(id)
        .await
        .expect("the row is written before the answer");
    assert_eq!(item["status"].as_s().unwrap(), "PENDING");
    assert_eq!(
        item["uploadId"].as_s().unwrap(),
        upload["uploadId"].as_str().unwrap()
    );

    put_all_parts(&app, &upload, &png).await;
    let (status, listed) = call(
        &app,
        reqwest::Method::GET,
        &format!("/upload/multipart/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    let sizes: Vec<u64> = listed["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [5 * MIB as u64, (png.len() - 5 * MIB) as u64]);

    // What an S3 client (Uppy) reads: the upload id as S3's answer to its creation, the parts
    // as S3 lists them.
    let upload_id = upload["uploadId"].as_str().unwrap();
    let (status, content_type, initiated) = call_xml(
        &app,
        reqwest::Method::POST,
        &format!("/upload/multipart/{id}"),
    )
    .await;
    assert_eq!((status, content_type.as_str()), (200, "application/xml"));
    assert!(
        initiated.contains(&format!(
            "<Key>uploads/{id}.png</Key><UploadId>{upload_id}</UploadId>"
        )),
        "{initiated}"
    );
    let (status, _, listed) = call_xml(
        &app,
        reqwest::Method::GET,
        &format!("/upload/multipart/{id}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed.matches("<Part><PartNumber>").count(), 2, "{listed}");
    assert!(
        listed.contains(&format!("<Size>{}</Size>", 5 * MIB)),
        "{listed}"
    );

    let (status, completed) = complete(&app, id).await;
    assert_eq!(status, 200, "{completed}");
    assert_eq!(completed["status"], "PENDING");
    assert_eq!(app.settled_status(id, SETTLE).await, "READY");
    assert_eq!(app.object(&format!("uploads/{id}.png")).await, png);

    let (status, again) = complete(&app, id).await;
    assert_eq!(status, 409, "a second completion is refused: {again}");
    assert_eq!(again["error"]["code"], "UPLOAD_NOT_ACTIVE");
    // Even a completion S3 is asked for directly, of another upload to the same key, finds
    // the object there (`If-None-Match: *`) and changes nothing.
    let key = image_upload::domain::ObjectKey::for_upload(
        image_upload::domain::ImageId::parse(id).unwrap(),
        image_upload::domain::ImageType::Png,
    );
    let objects = &app.state.objects;
    let other = objects
        .create_multipart(&key, image_upload::domain::ImageType::Png)
        .await
        .unwrap();
    app.s3
        .upload_part()
        .bucket(&app.bucket)
        .key(key.as_ref())
        .upload_id(&other)
        .part_number(1)
        .body(b"not an image".to_vec().into())
        .send()
        .await
        .unwrap();
    let parts = objects.list_parts(&key, &other).await.unwrap().unwrap();
    assert_eq!(
        objects
            .complete_multipart(&key, &other, &parts)
            .await
            .unwrap(),
        image_upload::aws::Completion::ObjectExists
    );
    assert_eq!(app.object(&format!("uploads/{id}.png")).await, png);
    objects.abort_multipart(&key, &other).await.unwrap();
}

#[tokio::test]
async fn s3_refuses_a_part_of_any_length_but_the_signed_one() {
    let app = multipart_app(Uploads::Unprocessed).await;
    let png = noisy_png();
    let upload = start(&app, &png).await;
    let id = upload["imageId"].as_str().unwrap();
    let (_, first) = sign(&app, id, "1").await;
    assert_eq!(first["size"], 5 * MIB);

    for len in [5 * MIB + 1, 5 * MIB - 1] {
        let (status, _) = put_part(&app, &first, &png[..len]).await;
        assert_eq!(status, 403, "a {len}-byte body on a URL signed for 5 MiB");
    }
    let (_, listed) = call(
        &app,
        reqwest::Method::GET,
        &format!("/upload/multipart/{id}"),
        None,
    )
    .await;
    assert_eq!(listed["parts"], json!([]), "S3 kept nothing");

    // The signature covers the part number: a part's URL cannot put another part.
    let (_, last) = sign(&app, id, "2").await;
    let moved = json!({
        "uploadUrl": last["uploadUrl"].as_str().unwrap().replace("partNumber=2", "partNumber=3"),
        "headers": last["headers"],
    });
    let (status, _) = put_part(&app, &moved, &png[5 * MIB..]).await;
    assert_eq!(status, 403, "part 2's URL moved to part 3");
}

#[tokio::test]
async fn no_part_beyond_the_declared_size_is_signed_and_an_incomplete_upload_is_not_completed() {
    let app = multipart_app(Uploads::Unprocessed).await;
    let png = noisy_png();
    let upload = start(&app, &png).await;
    let id = upload["imageId"].as_str().unwrap();

    for number in ["3", "0", "-1", "1.0", "two", "4294967297"] {
        let (status, refused) = sign(&app, id, number).await;
        assert_eq!(status, 400, "part {number}: {refused}");
        assert_eq!(refused["error"]["code"], "INVALID_PART_NUMBER");
    }
    let (_, first) = sign(&app, id, "1").await;
    assert_eq!(put_part(&app, &first, &png[..5 * MIB]).await.0, 200);
    let (status, refused) = complete(&app, id).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "UPLOAD_INCOMPLETE");
    assert!(!app.object_exists(&format!("uploads/{id}.png")).await);

    // The size and its parts are checked when the upload starts.
    for (body, code) in [
        (
            json!({"fileName": "a.png", "fileType": "image/png"}),
            "FILE_SIZE_REQUIRED",
        ),
        (
            json!({"fileName": "a.png", "fileType": "image/png", "fileSize": 33554433}),
            "FILE_TOO_LARGE",
        ),
        (
            json!({"fileName": "a.png", "fileType": "image/png", "fileSize": 100, "partSize": 1024}),
            "INVALID_PART_SIZE",
        ),
        (
            json!({"fileName": "a.exe", "fileType": "image/png", "fileSize": 100}),
            "EXTENSION_MISMATCH",
        ),
    ] {
        let before = app.all_items().await.len();
        let (status, refused) =
            call(&app, reqwest::Method::POST, "/upload/multipart", Some(body)).await;
        assert!((400..500).contains(&status), "{refused}");
        assert_eq!(refused["error"]["code"], code);
        assert_eq!(app.all_items().await.len(), before, "nothing written");
    }
}

#[tokio::test]
async fn someone_elses_upload_and_a_mismatched_upload_id_or_key_are_refused() {
    let app = multipart_app(Uploads::Unprocessed).await;
    let png = noisy_png();
    let (status, upload) = app
        .as_owner(
            "ana",
            "POST",
            "/upload/multipart",
            Some(json!({"fileName": "big.png", "fileType": "image/png", "fileSize": png.len()})),
        )
        .await;
    assert_eq!(status, 200, "{upload}");
    let id = upload["imageId"].as_str().unwrap();
    let upload_id = upload["uploadId"].as_str().unwrap();

    for (method, path) in [
        ("POST", format!("/upload/multipart/{id}")),
        ("GET", format!("/upload/multipart/{id}")),
        ("POST", format!("/upload/multipart/{id}/parts/1")),
        ("POST", format!("/upload/multipart/{id}/complete")),
    ] {
        let (status, refused) = app.as_owner("ben", method, &path, None).await;
        assert_eq!(status, 404, "ben: {method} {path}: {refused}");
        assert_eq!(refused["error"]["code"], "UPLOAD_NOT_FOUND");
        // Ana, with her upload id and key: each route answers as it does for its owner (no part
        // has been sent, so a completion is incomplete).
        let expected = if path.ends_with("/complete") {
            409
        } else {
            200
        };
        let (status, own) = app
            .as_owner(
                "ana",
                method,
                &format!("{path}?uploadId={upload_id}&key=uploads/{id}.png"),
                None,
            )
            .await;
        assert_eq!(status, expected, "ana: {method} {path}: {own}");
        if expected == 409 {
            assert_eq!(own["error"]["code"], "UPLOAD_INCOMPLETE");
        }
        for query in [
            "uploadId=someone-elses",
            &format!("uploadId={upload_id}&key=uploads/other.png"),
        ] {
            let (status, refused) = app
                .as_owner("ana", method, &format!("{path}?{query}"), None)
                .await;
            assert_eq!(status, 404, "ana, {query}: {method} {path}: {refused}");
        }
    }
    // Ben's delete answers as for a missing image, and aborts nothing.
    assert_eq!(
        app.as_owner("ben", "DELETE", &format!("/images/{id}"), None)
            .await
            .0,
        204
    );
    let (status, listed) = app
        .as_owner("ana", "GET", &format!("/upload/multipart/{id}"), None)
        .await;
    assert_eq!(status, 200, "ana's upload is still open: {listed}");
}

#[tokio::test]
async fn deleting_a_pending_multipart_upload_aborts_it() {
    let app = multipart_app(Uploads::Unprocessed).await;
    let png = noisy_png();
    let upload = start(&app, &png).await;
    let id = upload["imageId"].as_str().unwrap();
    let (_, first) = sign(&app, id, "1").await;
    assert_eq!(put_part(&app, &first, &png[..5 * MIB]).await.0, 200);

    assert_eq!(app.delete(&format!("/images/{id}")).await, 204);

    assert!(app.item(id).await.is_none(), "the row is gone");
    let open = app
        .s3
        .list_multipart_uploads()
        .bucket(&app.bucket)
        .send()
        .await
        .unwrap();
    assert!(
        open.uploads()
            .iter()
            .all(|u| u.upload_id() != upload["uploadId"].as_str()),
        "the upload was aborted: {open:?}"
    );
    let (status, refused) = sign(&app, id, "2").await;
    assert_eq!(status, 404, "no more parts are signed: {refused}");
    assert_eq!(refused["error"]["code"], "UPLOAD_NOT_FOUND");
    assert_eq!(
        put_part(&app, &first, &png[..5 * MIB]).await.0,
        404,
        "S3 has no such upload"
    );
}

#[tokio::test]
async fn an_upload_past_its_deadline_is_over() {
    // The shortest life a row may have: its deadline (the row's expiry less a part URL's life and
    // the margin) is its start.
    let app = spawn(
        &[
            ("MAX_UPLOAD_BYTES", "33554432"),
            ("UPLOAD_URL_EXPIRY_SECONDS", "60"),
            ("PENDING_TTL_SECONDS", "960"),
        ],
        Uploads::Unprocessed,
    )
    .await;
    let upload = start(&app, &noisy_png()).await;
    let id = upload["imageId"].as_str().unwrap();

    let (status, refused) = sign(&app, id, "1").await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "UPLOAD_NOT_ACTIVE");
    let (status, refused) = complete(&app, id).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("UPLOAD_NOT_ACTIVE"))
    );
    // Deleting it still aborts it.
    assert_eq!(app.delete(&format!("/images/{id}")).await, 204);
    assert!(app.item(id).await.is_none());
}
