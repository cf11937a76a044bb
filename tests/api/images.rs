//! `/images` routes through the router with DynamoDB's answers mocked: the failure paths that a
//! local stack cannot be made to produce (the happy paths run for real in tests/e2e/images.rs).

use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_smithy_mocks::mock;
use axum::body::Body;
use axum::http::{Request, StatusCode};

use crate::helpers::{anonymous_settings, app, send};

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn a_throttled_listing_is_a_503_that_says_nothing_of_dynamodb() {
    let query = mock!(aws_sdk_dynamodb::Client::query)
        .sequence()
        .http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
                aws_smithy_types::body::SdkBody::from(
                    r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded for index byOwner"}"#,
                ),
            )
        })
        .repeatedly()
        .build();
    let app = app(&anonymous_settings(&[("AWS_MAX_ATTEMPTS", "1")]), &[&query]);

    let reply = send(&app, get("/images?limit=10")).await;

    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.error_code(), "SERVICE_UNAVAILABLE");
    let text = reply.body.to_string().to_lowercase();
    assert!(
        !text.contains("byowner") && !text.contains("throttl") && !text.contains("dynamodb"),
        "internals leaked: {text}"
    );
    assert_eq!(query.num_calls(), 1);
}

#[tokio::test]
async fn a_malformed_id_is_not_found_without_asking_dynamodb() {
    let get_item =
        mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| GetItemOutput::builder().build());
    let app = app(&anonymous_settings(&[]), &[&get_item]);

    for path in [
        "/images/not-an-id",
        "/images/3F1E2C4A-8B6D-4E2F-9A1B-2C3D4E5F6A7B",
        "/images/00000000-0000-1000-8000-000000000000",
        // Not even UTF-8 once percent-decoded: still the same JSON 404, not a text/plain 400.
        "/images/%FF",
    ] {
        let reply = send(&app, get(path)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.error_code(), "IMAGE_NOT_FOUND", "{path}");
        let deleted = send(&app, Request::delete(path).body(Body::empty()).unwrap()).await;
        assert_eq!(deleted.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(get_item.num_calls(), 0);
}

#[tokio::test]
async fn a_missing_image_is_a_404_and_deleting_it_is_a_204() {
    let get_item =
        mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| GetItemOutput::builder().build());
    let app = app(&anonymous_settings(&[]), &[&get_item]);
    let path = format!("/images/{}", uuid::Uuid::new_v4());

    let fetched = send(&app, get(&path)).await;
    let deleted = send(&app, Request::delete(&path).body(Body::empty()).unwrap()).await;

    assert_eq!(fetched.status, StatusCode::NOT_FOUND);
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(get_item.num_calls(), 2);
}
