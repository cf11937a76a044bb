//! Per-user limits through the router, DynamoDB mocked: which answer each limit gets, that a
//! refusal writes no row, that a row that cannot be written gives its count back, and `GET /usage`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::error::{ConditionalCheckFailedException, ResourceNotFoundException};
use aws_smithy_mocks::mock;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use image_upload::domain::{ImageId, InFlight, hour_of};
use serde_json::json;
use time::OffsetDateTime;

use crate::helpers::{
    Item, anonymous_settings, app, app_with_metrics, is_usage_key, metric_lines, post_json,
    recording_put_item, send,
};

const LIMITS: [(&str, &str); 4] = [
    ("MAX_IMAGES_PER_USER", "10"),
    ("MAX_BYTES_PER_USER", "10000"),
    ("MAX_UPLOADS_IN_FLIGHT", "2"),
    ("MAX_UPLOADS_PER_HOUR", "5"),
];

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A usage item: `images`, `bytes`, uploads started this hour, and slots lapsing in `seconds`.
fn usage(images: u64, bytes: u64, started: u32, slots: &[i64]) -> Item {
    let now = OffsetDateTime::now_utc();
    let mut item = HashMap::from([
        (
            "imageId".to_owned(),
            AttributeValue::S("usage#anonymous".into()),
        ),
        ("images".to_owned(), n(images)),
        ("bytes".to_owned(), n(bytes)),
        ("hour".to_owned(), AttributeValue::S(hour_of(now))),
        ("startedInHour".to_owned(), n(started)),
    ]);
    if !slots.is_empty() {
        let entries = slots
            .iter()
            .map(|s| {
                InFlight::new(
                    ImageId::new_random(),
                    100,
                    now + time::Duration::seconds(*s),
                )
                .entry()
            })
            .collect();
        item.insert("inFlight".into(), AttributeValue::Ss(entries));
    }
    item
}

/// The usage update refused, DynamoDB returning the item as it was.
fn refused_by(old: Item) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|r| r.key().is_some_and(is_usage_key))
        .then_error(move || {
            UpdateItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .message("The conditional request failed")
                    .set_item(Some(old.clone()))
                    .build(),
            )
        })
}

#[tokio::test]
async fn each_limit_gets_its_answer_and_a_refusal_writes_no_row() {
    let body = json!({"fileName": "a.jpg", "fileType": "image/jpeg", "fileSize": 1000});
    let cases = [
        (
            usage(10, 1000, 0, &[]),
            StatusCode::FORBIDDEN,
            "QUOTA_EXCEEDED",
            None,
        ),
        (
            usage(1, 9001, 0, &[]),
            StatusCode::FORBIDDEN,
            "QUOTA_EXCEEDED",
            None,
        ),
        (
            usage(2, 200, 2, &[3, 600]),
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_UPLOADS_IN_FLIGHT",
            Some(2..=3),
        ),
        (
            usage(1, 100, 5, &[]),
            StatusCode::TOO_MANY_REQUESTS,
            "HOURLY_UPLOAD_LIMIT",
            Some(1..=3600),
        ),
    ];
    for (old, status, code, retry_after) in cases {
        let (put_item, written) = recording_put_item();
        let refused = refused_by(old.clone());
        let (app, metrics) = app_with_metrics(&anonymous_settings(&LIMITS), &[&refused, &put_item]);

        let reply = post_json(&app, body.clone()).await;

        assert_eq!(reply.status, status, "{old:?}: {}", reply.body);
        assert_eq!(reply.error_code(), code);
        let wait = reply
            .headers
            .get("retry-after")
            .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        match retry_after {
            Some(range) => assert!(wait.is_some_and(|w| range.contains(&w)), "{code}: {wait:?}"),
            None => assert_eq!(wait, None, "{code}: waiting does not help"),
        }
        assert!(
            written.lock().unwrap().is_empty(),
            "{code}: a row was written"
        );
        // One line says which limit refused, and no URL is counted as issued.
        let lines = metric_lines(&metrics);
        assert_eq!(lines.len(), 1, "{code}");
        assert_eq!(lines[0].metric_names(), ["UploadsRefusedByLimit"]);
        assert_eq!(lines[0].number("UploadsRefusedByLimit"), Some(1.0));
        assert_eq!(lines[0].dimension("Reason"), Some(code));
        assert_eq!(
            lines[0].dimension_sets(),
            [vec!["Function"], vec!["Function", "Reason"]]
        );
    }
}

#[tokio::test]
async fn a_row_that_cannot_be_written_gives_its_count_back() {
    let updates: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = updates.clone();
    let usage_updates = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(move |r| {
            seen.lock()
                .unwrap()
                .push(r.update_expression().unwrap_or_default().to_owned());
            r.key().is_some_and(is_usage_key)
        })
        .then_output(|| UpdateItemOutput::builder().build());
    let put_item = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
        PutItemError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("Requested resource not found")
                .build(),
        )
    });
    let app = app(&anonymous_settings(&LIMITS), &[&usage_updates, &put_item]);

    let reply = post_json(
        &app,
        json!({"fileName": "a.jpg", "fileType": "image/jpeg", "fileSize": 1000}),
    )
    .await;

    assert_eq!(
        reply.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        reply.body
    );
    let updates = updates.lock().unwrap();
    assert_eq!(updates.len(), 2, "counted, then given back: {updates:?}");
    assert!(updates[0].contains("ADD #inFlight :slot"), "{}", updates[0]);
    assert!(
        updates[1].contains("DELETE #inFlight :slot"),
        "{}",
        updates[1]
    );
}

#[tokio::test]
async fn usage_is_shown_without_lapsed_slots() {
    let stored = usage(3, 1300, 4, &[-60, 600]);
    let get_usage = mock!(aws_sdk_dynamodb::Client::get_item)
        .match_requests(|r| r.key().is_some_and(is_usage_key))
        .then_output(move || {
            GetItemOutput::builder()
                .set_item(Some(stored.clone()))
                .build()
        });
    let app = app(&anonymous_settings(&LIMITS), &[&get_usage]);

    let reply = send(&app, Request::get("/usage").body(Body::empty()).unwrap()).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!({
            "images": 2,
            "bytes": 1200,
            "uploadsInFlight": 1,
            "uploadsThisHour": 4,
            "limits": {
                "maxImages": 10,
                "maxBytes": 10000,
                "maxUploadsInFlight": 2,
                "maxUploadsPerHour": 5
            }
        })
    );
}
