//! Multipart uploads' failure paths, with S3 and DynamoDB mocked: what a failure of either
//! leaves behind, and what a client is told.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::error::ResourceNotFoundException;
use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadOutput;
use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadOutput;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, mock};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use image_upload::api::{self, App, AppState};
use serde_json::json;

use crate::helpers::{Reply, anonymous_settings, clients_with_dynamodb, send};

/// The app over mocked DynamoDB and S3.
fn app(dynamodb: &[&Rule], s3: &[&Rule]) -> App {
    let settings = anonymous_settings(&[("MAX_UPLOAD_BYTES", "33554432")]);
    let mut clients = clients_with_dynamodb(&settings, dynamodb);
    let interceptor = s3.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, rule| i.with_rule(rule),
    );
    clients.s3 = aws_sdk_s3::Client::from_conf(
        clients
            .s3
            .config()
            .to_builder()
            .interceptor(interceptor)
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .build(),
    );
    api::app(AppState::new(&clients, &settings).expect("the app state builds"))
}

async fn start(app: &App) -> Reply {
    let body = json!({"fileName": "big.jpg", "fileType": "image/jpeg", "fileSize": 12_000_000});
    send(
        app,
        Request::post("/upload/multipart")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_row_that_cannot_be_written_aborts_its_upload_and_answers_a_generic_500() {
    let create = mock!(aws_sdk_s3::Client::create_multipart_upload).then_output(|| {
        CreateMultipartUploadOutput::builder()
            .upload_id("u-1")
            .build()
    });
    let abort = mock!(aws_sdk_s3::Client::abort_multipart_upload)
        .match_requests(|r| r.upload_id() == Some("u-1"))
        .then_output(|| AbortMultipartUploadOutput::builder().build());
    let put_item = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
        PutItemError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("Requested resource not found: table ImageMetadata")
                .build(),
        )
    });

    let reply = start(&app(&[&put_item], &[&create, &abort])).await;

    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.error_code(), "INTERNAL_ERROR");
    assert!(!reply.body.to_string().contains("ImageMetadata"));
    assert_eq!(abort.num_calls(), 1, "the upload without a row is aborted");
}

#[tokio::test]
async fn an_upload_s3_will_not_start_writes_no_row() {
    let create = mock!(aws_sdk_s3::Client::create_multipart_upload)
        .sequence()
        .http_status(503, None)
        .times(3)
        .build();
    let put_item = mock!(aws_sdk_dynamodb::Client::put_item)
        .then_output(|| aws_sdk_dynamodb::operation::put_item::PutItemOutput::builder().build());

    let reply = start(&app(&[&put_item], &[&create])).await;

    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.error_code(), "SERVICE_UNAVAILABLE");
    assert_eq!(
        put_item.num_calls(),
        0,
        "no row for an upload that never started"
    );
    assert_eq!(
        create.num_calls(),
        3,
        "the standard retry policy tries three times"
    );
}
