//! The API's calls against its declared permissions (`image_upload::aws::permissions::API`, what
//! `template.yaml` grants its role): every route once, S3, DynamoDB and Secrets Manager mocked, the clients
//! run through a `CallCheck` that panics on an undeclared operation.

use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadOutput;
use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadOutput;
use aws_sdk_s3::operation::delete_object::DeleteObjectOutput;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::list_parts::ListPartsOutput;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::operation::upload_part::UploadPartOutput;
use aws_sdk_s3::types::Part;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, mock};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use image_upload::api::{self, AppState};
use image_upload::aws::permissions::{API, CallCheck};
use image_upload::aws::{AwsClients, dynamodb_item};
use image_upload::domain::{
    Counted, ImageId, ImageMetadata, ImageState, MIN_PART_BYTES, MultipartUpload, NewUpload,
    ObjectKey, Owner, PartPlan, ReadyImage, RenditionFormat, RenditionName, StoredRendition,
    UploadPolicy, UploadRequest,
};
use time::macros::datetime;

use crate::helpers::{post_json, sdk_config, send, settings};

/// A READY image of the caller (anonymous: the local default).
fn ready_row() -> ImageMetadata {
    let policy = UploadPolicy::default();
    let request = UploadRequest {
        file_name: "sunset.jpg".into(),
        file_type: "image/jpeg".into(),
        file_size: None,
    };
    let id = ImageId::new_random();
    let pending = ImageMetadata::pending(
        id,
        NewUpload::parse(&request, &policy).unwrap(),
        "bucket",
        Owner::anonymous(),
        datetime!(2026-11-24 10:00:00 UTC),
        &policy,
    );
    let thumbnail = ObjectKey::for_rendition(
        id,
        RenditionName::thumbnail(),
        RenditionFormat::Jpeg,
        b"thumbnail",
    );
    ImageMetadata {
        state: ImageState::Ready(ReadyImage {
            width: 64,
            height: 48,
            size_bytes: 1000,
            original_key: ObjectKey::for_original(id, pending.image_type),
            upload_etag: "\"etag\"".into(),
            thumbnail_key: thumbnail.clone(),
            renditions: vec![StoredRendition {
                name: RenditionName::thumbnail(),
                max_side: 256,
                format: RenditionFormat::Jpeg,
                width: 64,
                height: 48,
                bytes: 900,
                key: thumbnail,
            }],
            superseded: Vec::new(),
            processed_at: datetime!(2026-11-24 10:00:05 UTC),
        }),
        pending_expiry: None,
        // Counted in its owner's usage: deleting it gives the count back in a transaction.
        counted: Some(Counted::Stored { bytes: 1000 }),
        ..pending
    }
}

/// A PENDING image of the caller's whose 6 MiB arrive in a multipart upload of two parts.
fn multipart_row() -> ImageMetadata {
    let policy = UploadPolicy::default();
    let request = UploadRequest {
        file_name: "big.jpg".into(),
        file_type: "image/jpeg".into(),
        file_size: Some((6 * 1024 * 1024).into()),
    };
    let mut row = ImageMetadata::pending(
        ImageId::new_random(),
        NewUpload::parse(&request, &policy).unwrap(),
        "bucket",
        Owner::anonymous(),
        // Started now: past its deadline (a day on), its routes would answer 409.
        time::OffsetDateTime::now_utc(),
        &policy,
    );
    row.multipart = Some(MultipartUpload {
        upload_id: "upload-1".into(),
        parts: PartPlan::new(row.declared_size.unwrap(), MIN_PART_BYTES).unwrap(),
    });
    row
}

#[tokio::test]
async fn the_api_calls_exactly_the_operations_its_role_is_granted() {
    // ALLOW_ANONYMOUS: the routes run without an authorizer here, as the local server does.
    let anonymous = settings(&[("ALLOW_ANONYMOUS", "true")]);
    let row = ready_row();
    let item = dynamodb_item(&row);
    let multipart = multipart_row();
    let multipart_id = multipart.image_id.to_string();
    let dynamodb_rules = [
        mock!(aws_sdk_dynamodb::Client::put_item).then_output(|| PutItemOutput::builder().build()),
        mock!(aws_sdk_dynamodb::Client::get_item)
            .match_requests({
                let id = multipart_id.clone();
                move |r| r.key().and_then(|k| k["imageId"].as_s().ok()) == Some(&id)
            })
            .then_output({
                let item = dynamodb_item(&multipart);
                move || {
                    GetItemOutput::builder()
                        .set_item(Some(item.clone()))
                        .build()
                }
            }),
        mock!(aws_sdk_dynamodb::Client::get_item).then_output({
            let item = item.clone();
            move || {
                GetItemOutput::builder()
                    .set_item(Some(item.clone()))
                    .build()
            }
        }),
        mock!(aws_sdk_dynamodb::Client::query).then_output({
            let item = item.clone();
            move || QueryOutput::builder().items(item.clone()).build()
        }),
        mock!(aws_sdk_dynamodb::Client::delete_item)
            .then_output(|| DeleteItemOutput::builder().build()),
        mock!(aws_sdk_dynamodb::Client::update_item)
            .then_output(|| UpdateItemOutput::builder().build()),
        mock!(aws_sdk_dynamodb::Client::transact_write_items)
            .then_output(|| TransactWriteItemsOutput::builder().build()),
    ];
    // Presigning runs the interceptors too (and stops before sending): the mock must let the
    // presigned PutObject and GetObject through.
    let s3_rules = [
        mock!(aws_sdk_s3::Client::delete_object)
            .then_output(|| DeleteObjectOutput::builder().build()),
        mock!(aws_sdk_s3::Client::put_object).then_output(|| PutObjectOutput::builder().build()),
        mock!(aws_sdk_s3::Client::get_object).then_output(|| GetObjectOutput::builder().build()),
        mock!(aws_sdk_s3::Client::list_objects_v2)
            .then_output(|| ListObjectsV2Output::builder().is_truncated(false).build()),
        mock!(aws_sdk_s3::Client::create_multipart_upload).then_output(|| {
            CreateMultipartUploadOutput::builder()
                .upload_id("upload-2")
                .build()
        }),
        mock!(aws_sdk_s3::Client::upload_part).then_output(|| UploadPartOutput::builder().build()),
        mock!(aws_sdk_s3::Client::list_parts).then_output(|| {
            let part = |number: i32, size: i64| {
                Part::builder()
                    .part_number(number)
                    .size(size)
                    .e_tag(format!("\"{number}\""))
                    .build()
            };
            ListPartsOutput::builder()
                .parts(part(1, 5 * 1024 * 1024))
                .parts(part(2, 1024 * 1024))
                .is_truncated(false)
                .build()
        }),
        mock!(aws_sdk_s3::Client::complete_multipart_upload).then_output(|| {
            CompleteMultipartUploadOutput::builder()
                .e_tag("\"c-2\"")
                .build()
        }),
        mock!(aws_sdk_s3::Client::abort_multipart_upload)
            .then_output(|| AbortMultipartUploadOutput::builder().build()),
    ];
    let check = CallCheck::new(&API);
    let mut clients = AwsClients::new(&sdk_config(&anonymous), &anonymous);
    let mocked = |rules: &[aws_smithy_mocks::Rule]| {
        rules.iter().fold(
            MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
            |i, rule| i.with_rule(rule),
        )
    };
    clients.dynamodb = check.on_dynamodb(&aws_sdk_dynamodb::Client::from_conf(
        clients
            .dynamodb
            .config()
            .to_builder()
            .interceptor(mocked(&dynamodb_rules))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .build(),
    ));
    clients.s3 = check.on_s3(&aws_sdk_s3::Client::from_conf(
        clients
            .s3
            .config()
            .to_builder()
            .interceptor(mocked(&s3_rules))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .build(),
    ));
    let app = api::app(AppState::new(&clients, &anonymous).expect("the app state builds"));
    let path = format!("/images/{}", row.image_id);

    let upload = post_json(
        &app,
        serde_json::json!({"fileName": "a.png", "fileType": "image/png"}),
    )
    .await;
    let listed = send(&app, Request::get("/images").body(Body::empty()).unwrap()).await;
    let fetched = send(&app, Request::get(&path).body(Body::empty()).unwrap()).await;
    let deleted = send(&app, Request::delete(&path).body(Body::empty()).unwrap()).await;
    let usage = send(&app, Request::get("/usage").body(Body::empty()).unwrap()).await;

    let started = send(
        &app,
        Request::post("/upload/multipart")
            .header("content-type", "application/json")
            .body(Body::from(
                r#"{"fileName": "big.jpg", "fileType": "image/jpeg", "fileSize": 6291456}"#,
            ))
            .unwrap(),
    )
    .await;
    let multipart_path = format!("/upload/multipart/{multipart_id}");
    let part = send(
        &app,
        Request::post(format!("{multipart_path}/parts/2"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let parts = send(
        &app,
        Request::get(&multipart_path).body(Body::empty()).unwrap(),
    )
    .await;
    let completed = send(
        &app,
        Request::post(format!("{multipart_path}/complete"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let aborted = send(
        &app,
        Request::delete(format!("/images/{multipart_id}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;

    assert_eq!(upload.status, StatusCode::OK, "{}", upload.body);
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    assert_eq!(started.body["uploadId"], "upload-2");
    assert_eq!(part.status, StatusCode::OK, "{}", part.body);
    assert_eq!(part.body["size"], 1024 * 1024);
    assert_eq!(parts.status, StatusCode::OK, "{}", parts.body);
    assert_eq!(completed.status, StatusCode::OK, "{}", completed.body);
    assert_eq!(aborted.status, StatusCode::NO_CONTENT, "{}", aborted.body);
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.body);
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.body);

    // With a CDN whose key is a secret, the first listing reads it.
    let secrets_rules = [mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(|r| r.secret_id() == Some("stack/cdn/private-key-A"))
        .then_output(|| {
            GetSecretValueOutput::builder()
                .secret_string(include_str!("../../fixtures/keys/cdn-test-ec-a.pem"))
                .build()
        })];
    clients.secrets = check.on_secrets(
        &clients
            .secrets
            .to_builder()
            .interceptor(mocked(&secrets_rules))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .build(),
    );
    let with_cdn = settings(&[
        ("ALLOW_ANONYMOUS", "true"),
        ("CDN_URL", "https://d111111abcdef8.cloudfront.net"),
        ("CDN_KEY_PAIR_ID", "K2JCJMDEHXQW5F"),
        ("CDN_PRIVATE_KEY_SECRET", "stack/cdn/private-key-A"),
    ]);
    let app = api::app(AppState::new(&clients, &with_cdn).expect("the app state builds"));
    let listed = send(&app, Request::get("/images").body(Body::empty()).unwrap()).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert!(
        listed.body["images"][0]["thumbnailUrl"]
            .as_str()
            .is_some_and(|url| url.starts_with("https://d111111abcdef8.cloudfront.net/renditions/")),
        "{}",
        listed.body
    );

    // Presigned PUT and GET count: the URLs carry the function's authority.
    assert_eq!(check.calls(), API.operation_names());
}
