use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::error::ResourceNotFoundException;
use aws_smithy_mocks::mock;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use image_upload::api::MAX_BODY_BYTES;
use serde_json::json;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::ChecksumAlgorithm;

use crate::helpers::{
    anonymous_settings, app, app_with_metrics, clients_with_dynamodb, metric_lines, post_json,
    post_upload, query_of, recording_put_item, send,
};

#[tokio::test]
async fn a_valid_request_gets_a_presigned_put_and_a_pending_row() {
    let (put_item, written) = recording_put_item();
    let (app, metrics) = app_with_metrics(
        &anonymous_settings(&[
            ("BUCKET_NAME", "photos-bucket"),
            ("METRICS_NAMESPACE", "Photos/prod"),
        ]),
        &[&put_item],
    );
    let before = OffsetDateTime::now_utc();

    let reply = post_json(
        &app,
        json!({"fileName": "Été 🌅.JPG", "fileType": "image/jpeg", "extra": 1}),
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let body = &reply.body;
    let image_id = body["imageId"].as_str().unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(image_id).unwrap().get_version_num(),
        4
    );
    let key = format!("uploads/{image_id}.jpg");
    let upload_url = body["uploadUrl"].as_str().unwrap();
    assert_eq!(
        body["fileUrl"].as_str().unwrap(),
        upload_url.split('?').next().unwrap()
    );
    assert!(
        body["fileUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!("photos-bucket.s3.us-east-1.amazonaws.com/{key}"))
    );
    assert_eq!(body["key"], key);
    assert_eq!(body["method"], "PUT");
    // `If-None-Match: *` is signed in: the URL creates its object once (S3 answers a second PUT
    // with 412) and a client that drops the header breaks the signature.
    assert_eq!(
        body["headers"],
        json!({"Content-Type": "image/jpeg", "If-None-Match": "*"})
    );
    let query = query_of(upload_url);
    assert_eq!(query["X-Amz-Expires"], "300");
    assert_eq!(
        query["X-Amz-SignedHeaders"],
        "content-type;host;if-none-match"
    );
    let expires_at = OffsetDateTime::parse(body["expiresAt"].as_str().unwrap(), &Rfc3339).unwrap();
    let expected = before.replace_nanosecond(0).unwrap() + time::Duration::seconds(300);
    assert!(
        (expires_at - expected).whole_seconds().abs() <= 1,
        "expiresAt {expires_at} vs {expected}"
    );

    let written = written.lock().unwrap();
    assert_eq!(written.len(), 1, "exactly one row is written");
    let item = &written[0];
    let s = |name: &str| item[name].as_s().unwrap().as_str();
    assert_eq!(s("imageId"), image_id);
    assert_eq!(s("fileName"), "Été 🌅.JPG");
    assert_eq!(s("fileType"), "image/jpeg");
    assert_eq!(s("objectKey"), key);
    assert_eq!(s("bucket"), "photos-bucket");
    assert_eq!(s("owner"), "anonymous");
    assert_eq!(s("status"), "PENDING");
    assert!(!item.contains_key("fileSize"));
    let created = OffsetDateTime::parse(s("createdAt"), &Rfc3339).unwrap();
    let ttl: i64 = item["pendingExpiry"].as_n().unwrap().parse().unwrap();
    assert_eq!(ttl, (created + time::Duration::hours(24)).unix_timestamp());

    let lines = metric_lines(&metrics);
    assert_eq!(lines.len(), 1, "one metric line per issued URL");
    let line = &lines[0];
    assert_eq!(line.metric_names(), ["UploadUrlsIssued"]);
    assert_eq!(line.number("UploadUrlsIssued"), Some(1.0));
    assert_eq!(line.unit("UploadUrlsIssued"), Some("Count"));
    assert_eq!(line.dimension("Function"), Some("api"));
    assert_eq!(line.dimension_sets(), [["Function"]]);
    assert_eq!(line.directives[0].namespace, "Photos/prod");
    assert_eq!(line.dimension("imageId"), Some(image_id));
}

#[tokio::test]
async fn a_declared_size_is_signed_into_the_url_and_stored() {
    let (put_item, written) = recording_put_item();
    let app = app(&anonymous_settings(&[]), &[&put_item]);

    let reply = post_json(
        &app,
        json!({"fileName": "a.png", "fileType": "image/png", "fileSize": 4096}),
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let query = query_of(reply.body["uploadUrl"].as_str().unwrap());
    assert_eq!(
        query["X-Amz-SignedHeaders"],
        "content-length;content-type;host;if-none-match"
    );
    assert_eq!(
        written.lock().unwrap()[0]["fileSize"].as_n().unwrap(),
        "4096"
    );
}

#[tokio::test]
async fn the_upload_url_carries_no_checksum_a_browser_cannot_send() {
    let (put_item, _) = recording_put_item();
    let app = app(&anonymous_settings(&[]), &[&put_item]);

    let reply = post_json(
        &app,
        json!({"fileName": "a.webp", "fileType": "image/webp", "fileSize": 10}),
    )
    .await;

    let url = reply.body["uploadUrl"].as_str().unwrap();
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert_eq!(checksum_traces(url), Vec::<String>::new(), "{url}");
    assert_eq!(
        reply.body["headers"],
        json!({"Content-Type": "image/webp", "If-None-Match": "*"})
    );
}

/// Control for the test above: a URL the SDK presigns with a checksum is caught by the same check,
/// so that test fails if the SDK (or our client configuration) ever starts adding one.
#[tokio::test]
async fn the_checksum_check_catches_a_checksummed_url() {
    let settings = anonymous_settings(&[]);
    let clients = clients_with_dynamodb(&settings, &[]);
    let config = PresigningConfig::expires_in(Duration::from_secs(60)).unwrap();

    let presigned = clients
        .s3
        .put_object()
        .bucket("b")
        .key("k.png")
        .content_type("image/png")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .presigned(config)
        .await
        .unwrap();

    assert!(
        !checksum_traces(presigned.uri()).is_empty(),
        "{}",
        presigned.uri()
    );
}

/// Query parameters and signed headers of a presigned URL that name a checksum.
fn checksum_traces(url: &str) -> Vec<String> {
    let query = query_of(url);
    let signed = query
        .get("X-Amz-SignedHeaders")
        .cloned()
        .unwrap_or_default();
    query
        .keys()
        .cloned()
        .chain(signed.split(';').map(str::to_owned))
        .filter(|name| name.to_ascii_lowercase().contains("checksum"))
        .collect()
}

#[tokio::test]
async fn the_expiry_follows_configuration() {
    let (put_item, _) = recording_put_item();
    let app = app(
        &anonymous_settings(&[("UPLOAD_URL_EXPIRY_SECONDS", "3600")]),
        &[&put_item],
    );

    let reply = post_json(&app, json!({"fileName": "a.gif", "fileType": "image/gif"})).await;

    assert_eq!(
        query_of(reply.body["uploadUrl"].as_str().unwrap())["X-Amz-Expires"],
        "3600"
    );
}

#[tokio::test]
async fn bad_requests_get_their_status_and_code_and_write_nothing() {
    let (put_item, written) = recording_put_item();
    let (app, metrics) = app_with_metrics(
        &anonymous_settings(&[("MAX_UPLOAD_BYTES", "1000")]),
        &[&put_item],
    );
    let cases: Vec<(&str, StatusCode, &str, &str)> = vec![
        ("", StatusCode::BAD_REQUEST, "INVALID_REQUEST", "empty body"),
        (
            "   ",
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "blank body",
        ),
        (
            "{",
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "malformed JSON",
        ),
        (
            "[]",
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "not an object",
        ),
        ("null", StatusCode::BAD_REQUEST, "INVALID_REQUEST", "null"),
        (
            r#"{"fileType":"image/png"}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "no fileName",
        ),
        (
            r#"{"fileName":"a.png"}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "no fileType",
        ),
        (
            r#"{"fileName":5,"fileType":"image/png"}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "number name",
        ),
        (
            r#"{"fileName":"a.png","fileType":["image/png"]}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "array type",
        ),
        (
            r#"{"fileName":"  ","fileType":"image/png"}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_FILE_NAME",
            "blank name",
        ),
        (
            r#"{"fileName":"a\u0007.png","fileType":"image/png"}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_FILE_NAME",
            "BEL",
        ),
        (
            r#"{"fileName":"a.svg","fileType":"image/svg+xml"}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_FILE_TYPE",
            "svg",
        ),
        (
            r#"{"fileName":"a.jpg","fileType":"image/jpeg; x=y"}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_FILE_TYPE",
            "parameters",
        ),
        (
            r#"{"fileName":"a.txt","fileType":"text/plain"}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_FILE_TYPE",
            "text",
        ),
        (
            r#"{"fileName":"a.png","fileType":"image/jpeg"}"#,
            StatusCode::BAD_REQUEST,
            "EXTENSION_MISMATCH",
            "png as jpeg",
        ),
        (
            r#"{"fileName":"a.png","fileType":"image/png","fileSize":0}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_FILE_SIZE",
            "zero",
        ),
        (
            r#"{"fileName":"a.png","fileType":"image/png","fileSize":-1}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_FILE_SIZE",
            "negative",
        ),
        (
            r#"{"fileName":"a.png","fileType":"image/png","fileSize":2.5}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_FILE_SIZE",
            "float",
        ),
        (
            r#"{"fileName":"a.png","fileType":"image/png","fileSize":"12"}"#,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "string size",
        ),
        (
            r#"{"fileName":"a.png","fileType":"image/png","fileSize":1001}"#,
            StatusCode::PAYLOAD_TOO_LARGE,
            "FILE_TOO_LARGE",
            "over max",
        ),
    ];
    for (body, status, code, case) in cases {
        let reply = send(&app, post_upload(body)).await;
        assert_eq!(reply.status, status, "case {case}: {}", reply.body);
        assert_eq!(reply.error_code(), code, "case {case}");
        assert!(
            !reply.body["error"]["message"].as_str().unwrap().is_empty(),
            "case {case}"
        );
        assert_eq!(
            reply.headers["content-type"], "application/json",
            "case {case}"
        );
        assert!(
            reply.body["error"]["requestId"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
            "case {case}"
        );
    }
    assert!(
        written.lock().unwrap().is_empty(),
        "a refused request wrote a row"
    );
    assert_eq!(
        metrics.lines(),
        Vec::<String>::new(),
        "a refused request counted as an issued URL"
    );
}

#[tokio::test]
async fn a_body_not_declared_as_json_is_refused_and_writes_nothing() {
    // What a page on another site can send without a CORS preflight (text/plain, forms), and what
    // is only almost JSON: each is 415 before the body is read.
    let (put_item, written) = recording_put_item();
    let app = app(&anonymous_settings(&[]), &[&put_item]);
    let body = json!({"fileName": "a.png", "fileType": "image/png"}).to_string();
    let refused: [&[&str]; 7] = [
        &[],
        &["text/plain"],
        &["text/plain;charset=UTF-8"],
        &["application/x-www-form-urlencoded"],
        &["multipart/form-data; boundary=x"],
        &["application/jsonp"],
        &["application/json", "text/plain"],
    ];
    for content_types in refused {
        let mut request = Request::post("/upload");
        for content_type in content_types {
            request = request.header("content-type", *content_type);
        }
        let reply = send(&app, request.body(Body::from(body.clone())).unwrap()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_types:?}: {}",
            reply.body
        );
        assert_eq!(reply.error_code(), "BODY_NOT_JSON", "{content_types:?}");
    }
    assert!(
        written.lock().unwrap().is_empty(),
        "a refused body wrote a row"
    );

    for content_type in ["application/json; charset=utf-8", "Application/JSON"] {
        let request = Request::post("/upload")
            .header("content-type", content_type)
            .body(Body::from(body.clone()))
            .unwrap();
        let reply = send(&app, request).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{content_type}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn echoed_input_is_cut_short_in_the_answer() {
    let (put_item, _) = recording_put_item();
    let app = app(&anonymous_settings(&[]), &[&put_item]);
    let long = "x".repeat(60_000);
    let bodies = [
        json!({"fileName": "a.png", "fileType": format!("image/{long}")}),
        json!({"fileName": "a.png", "fileType": "image/png", "fileSize": long}),
    ];
    for body in bodies {
        let reply = post_json(&app, body).await;
        assert!(reply.status.is_client_error(), "{}", reply.status);
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(
            message.len() <= 300,
            "a {}-byte message echoes the input: {}…",
            message.len(),
            &message[..120]
        );
        assert!(message.contains('…'), "says it was cut: {message}");
    }
}

#[tokio::test]
async fn a_setting_can_make_the_size_required() {
    let (put_item, _) = recording_put_item();
    let app = app(
        &anonymous_settings(&[("REQUIRE_FILE_SIZE", "true")]),
        &[&put_item],
    );

    let reply = post_json(&app, json!({"fileName": "a.png", "fileType": "image/png"})).await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "FILE_SIZE_REQUIRED");
}

#[tokio::test]
async fn bodies_over_64_kib_are_refused_before_being_read_whole() {
    let (put_item, written) = recording_put_item();
    let app = app(&anonymous_settings(&[]), &[&put_item]);
    let name = "a".repeat(MAX_BODY_BYTES);
    let oversized = json!({"fileName": format!("{name}.png"), "fileType": "image/png"}).to_string();

    let streamed = send(&app, post_upload(oversized.clone())).await;
    let declared = send(
        &app,
        Request::post("/upload")
            .header("content-length", oversized.len())
            .body(Body::from(oversized))
            .unwrap(),
    )
    .await;

    for reply in [streamed, declared] {
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(reply.error_code(), "BODY_TOO_LARGE");
    }
    assert!(written.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn throttled_dynamodb_gives_503_without_a_url_after_retrying() {
    let put_item = mock!(aws_sdk_dynamodb::Client::put_item)
        .sequence()
        .http_status(503, None)
        .times(3)
        .build();
    let app = app(&anonymous_settings(&[]), &[&put_item]);

    let reply = post_json(&app, json!({"fileName": "a.png", "fileType": "image/png"})).await;

    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.error_code(), "SERVICE_UNAVAILABLE");
    assert!(reply.body.get("uploadUrl").is_none());
    assert_eq!(
        put_item.num_calls(),
        3,
        "the standard retry policy tries three times"
    );
    let text = reply.body.to_string();
    assert!(
        !text.contains("503") && !text.to_lowercase().contains("dynamodb"),
        "internals leaked: {text}"
    );
}

#[tokio::test]
async fn throughput_exceeded_is_also_unavailability() {
    let put_item = mock!(aws_sdk_dynamodb::Client::put_item)
        .sequence()
        .http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
                aws_smithy_types::body::SdkBody::from(
                    r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#,
                ),
            )
        })
        .times(3)
        .build();
    let app = app(
        &anonymous_settings(&[("AWS_MAX_ATTEMPTS", "1")]),
        &[&put_item],
    );

    let reply = post_json(&app, json!({"fileName": "a.png", "fileType": "image/png"})).await;

    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn a_hard_dynamodb_failure_gives_a_generic_500_without_a_url() {
    let put_item = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
        PutItemError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("Requested resource not found: table ImageMetadata")
                .build(),
        )
    });
    let (app, metrics) = app_with_metrics(&anonymous_settings(&[]), &[&put_item]);

    let reply = post_json(&app, json!({"fileName": "a.png", "fileType": "image/png"})).await;

    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.body["error"]["code"], "INTERNAL_ERROR");
    assert_eq!(reply.body["error"]["message"], "internal error");
    assert!(reply.body.get("uploadUrl").is_none());
    assert!(!reply.body.to_string().contains("ImageMetadata"));
    assert!(
        metrics.lines().is_empty(),
        "no URL left the service, so none is counted"
    );
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_in_json() {
    let app = app(&anonymous_settings(&[]), &[]);

    let missing = send(&app, Request::get("/nope").body(Body::empty()).unwrap()).await;
    let wrong_method = send(&app, Request::get("/upload").body(Body::empty()).unwrap()).await;

    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error_code(), "NOT_FOUND");
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.error_code(), "METHOD_NOT_ALLOWED");
    assert_eq!(wrong_method.headers["content-type"], "application/json");
}

#[tokio::test]
async fn cors_allows_configured_origins_only_and_never_a_wildcard() {
    let app = app(
        &anonymous_settings(&[("ALLOWED_ORIGINS", "https://app.example.com")]),
        &[],
    );
    let preflight = |origin: &str| {
        Request::options("/upload")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .body(Body::empty())
            .unwrap()
    };

    let allowed = send(&app, preflight("https://app.example.com")).await;
    let refused = send(&app, preflight("https://evil.example")).await;

    assert!(allowed.status.is_success());
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        allowed.headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(refused.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn default_origins_are_the_local_page() {
    let (put_item, _) = recording_put_item();
    let app = app(&anonymous_settings(&[]), &[&put_item]);
    let request = |origin: &str| {
        Request::post("/upload")
            .header("origin", origin)
            .body(Body::from(r#"{"fileName":"a.png","fileType":"image/png"}"#))
            .unwrap()
    };

    for origin in ["http://localhost:3000", "http://127.0.0.1:3000"] {
        let reply = send(&app, request(origin)).await;
        assert_eq!(reply.headers["access-control-allow-origin"], origin);
    }
}
