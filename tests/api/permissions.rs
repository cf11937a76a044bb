//! The API's calls against its declared permissions (`image_upload::aws::permissions::API`, what
//! `template.yaml` grants its role): every route once, S3, DynamoDB and Secrets Manager mocked, the clients
//! run through a `CallCheck` that panics on an undeclared operation.

use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_s3::operation::delete_object::DeleteObjectOutput;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, mock};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use image_upload::api::{self, AppState};
use image_upload::aws::permissions::{API, CallCheck};
use image_upload::aws::{AwsClients, dynamodb_item};
use image_upload::domain::{
    ImageId, ImageMetadata, ImageState, NewUpload, ObjectKey, Owner, ReadyImage, RenditionFormat,
    RenditionName, StoredRendition, UploadPolicy, UploadRequest,
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
        ..pending
    }
}

#[tokio::test]
async fn the_api_calls_exactly_the_operations_its_role_is_granted() {
    // ALLOW_ANONYMOUS: the routes run without an authorizer here, as the local server does.
    let anonymous = settings(&[("ALLOW_ANONYMOUS", "true")]);
    let row = ready_row();
    let item = dynamodb_item(&row);
    let dynamodb_rules = [
        mock!(aws_sdk_dynamodb::Client::put_item).then_output(|| PutItemOutput::builder().build()),
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

    assert_eq!(upload.status, StatusCode::OK, "{}", upload.body);
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.body);
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);

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
