//! The processor against mocked S3 and DynamoDB: faults that a local stack cannot be made to
//! produce on cue. The same flows against real emulators are in `tests/e2e/lifecycle.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
use aws_sdk_s3::operation::copy_object::{CopyObjectError, CopyObjectOutput};
use aws_sdk_s3::operation::delete_object::DeleteObjectOutput;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::Object;
use aws_sdk_s3::types::error::NotFound;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use time::macros::datetime;

use super::*;
use crate::aws::dynamodb_item;
use crate::aws::permissions::{CallCheck, PROCESSOR};
use crate::config::MetricsNamespace;
use crate::domain::{Counted, ImageId, InFlight, NewUpload, Owner, UploadPolicy, UploadRequest};
use crate::telemetry::emf_spec::{EmfLine, validate};

const JPEG: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.jpg");

fn pending_row() -> ImageMetadata {
    let request = UploadRequest {
        file_name: "sunset.jpg".into(),
        file_type: "image/jpeg".into(),
        file_size: None,
    };
    let policy = UploadPolicy::default();
    ImageMetadata::pending(
        ImageId::new_random(),
        NewUpload::parse(&request, &policy).unwrap(),
        "bucket",
        Owner::anonymous(),
        datetime!(2026-11-24 10:00:00 UTC),
        &policy,
    )
}

fn ready(row: &ImageMetadata) -> ImageMetadata {
    ImageMetadata {
        state: ImageState::Ready(ReadyImage {
            width: 64,
            height: 48,
            size_bytes: JPEG.len() as u64,
            original_key: ObjectKey::for_original(row.image_id, row.image_type),
            upload_etag: "\"etag\"".into(),
            thumbnail_key: ObjectKey::for_legacy_thumbnail(row.image_id),
            renditions: Vec::new(),
            superseded: Vec::new(),
            processed_at: datetime!(2026-11-24 10:00:05 UTC),
        }),
        ..row.clone()
    }
}

/// An SQS message carrying the S3 notification for `key`, as Lambda delivers it.
fn message(id: &str, key: &str) -> SqsMessage {
    let body = include_str!("../../fixtures/events/s3-put-notification.json");
    let mut notification: serde_json::Value = serde_json::from_str(body).unwrap();
    let records = notification["Records"].as_array_mut().unwrap();
    records.truncate(1);
    records[0]["s3"]["object"]["key"] = key.into();
    let mut message = SqsMessage::default();
    message.message_id = Some(id.into());
    message.body = Some(notification.to_string());
    message
}

fn batch(messages: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages;
    event
}

fn get_item_returning(row: ImageMetadata) -> Rule {
    let id = row.image_id.to_string();
    mock!(aws_sdk_dynamodb::Client::get_item)
        .match_requests(move |req| {
            req.key().and_then(|k| k.get("imageId")) == Some(&AttributeValue::S(id.clone()))
        })
        .then_output(move || {
            GetItemOutput::builder()
                .set_item(Some(dynamodb_item(&row)))
                .build()
        })
}

/// The one object a listing of renditions finds under any folder: `{folder}thumbnail-….jpg`.
const LISTED_RENDITION: &str = "thumbnail-0123456789abcdef.jpg";

/// Records the key of every DeleteObject, in order; lists [`LISTED_RENDITION`] under every
/// folder asked for, so that deleting a folder deletes it.
fn deletes_recorded() -> (Vec<Rule>, Arc<Mutex<Vec<String>>>) {
    let deleted = Arc::new(Mutex::new(Vec::new()));
    let folder = Arc::new(Mutex::new(String::new()));
    let list = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests({
            let folder = folder.clone();
            move |req| {
                *folder.lock().unwrap() = req.prefix().unwrap_or_default().to_owned();
                true
            }
        })
        .then_output(move || {
            let key = format!("{}{LISTED_RENDITION}", folder.lock().unwrap());
            ListObjectsV2Output::builder()
                .contents(Object::builder().key(key).build())
                .is_truncated(false)
                .build()
        });
    let rule = mock!(aws_sdk_s3::Client::delete_object)
        .match_requests({
            let deleted = deleted.clone();
            move |req| {
                deleted
                    .lock()
                    .unwrap()
                    .push(req.key().unwrap_or_default().to_owned());
                true
            }
        })
        .then_output(|| DeleteObjectOutput::builder().build());
    (vec![rule, list], deleted)
}

fn sorted(keys: &Mutex<Vec<String>>) -> Vec<String> {
    let mut keys = keys.lock().unwrap().clone();
    keys.sort();
    keys
}

/// HeadObject, GetObject, CopyObject and PutObject for a healthy JPEG upload, and any DeleteObject.
fn s3_serving_the_jpeg() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_s3::Client::head_object).then_output(|| {
            HeadObjectOutput::builder()
                .content_length(JPEG.len() as i64)
                .e_tag("\"etag\"")
                .build()
        }),
        mock!(aws_sdk_s3::Client::get_object).then_output(|| {
            GetObjectOutput::builder()
                .body(ByteStream::from_static(JPEG))
                .build()
        }),
        mock!(aws_sdk_s3::Client::copy_object).then_output(|| CopyObjectOutput::builder().build()),
        mock!(aws_sdk_s3::Client::put_object).then_output(|| PutObjectOutput::builder().build()),
        mock!(aws_sdk_s3::Client::delete_object)
            .then_output(|| DeleteObjectOutput::builder().build()),
        mock!(aws_sdk_s3::Client::list_objects_v2)
            .then_output(|| ListObjectsV2Output::builder().is_truncated(false).build()),
    ]
}

/// A processor over mocked clients. Every test runs them through a [`CallCheck`]: a call that
/// `permissions::PROCESSOR` does not declare (and the deployed role would refuse) panics.
fn processor(s3_rules: &[Rule], dynamodb_rules: &[Rule]) -> Processor {
    processor_checked(&CallCheck::new(&PROCESSOR), s3_rules, dynamodb_rules)
}

fn processor_checked(check: &CallCheck, s3_rules: &[Rule], dynamodb_rules: &[Rule]) -> Processor {
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3_rules);
    let dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, dynamodb_rules, |c| c
        .retry_config(RetryConfig::disabled()));
    // Two renditions, so that every path handles more than one.
    let policy = ProcessingPolicy {
        renditions: crate::domain::Renditions::parse("thumbnail:256,display:1600").unwrap(),
        ..ProcessingPolicy::default()
    };
    Processor::from_parts(
        ImageObjects::new(check.on_s3(&s3), "bucket"),
        MetadataTable::new(check.on_dynamodb(&dynamodb), "ImageMetadata"),
        policy,
        2,
    )
}

/// The processor over `processor(..)`'s mocks, writing its metrics to memory.
fn processor_with_metrics(s3_rules: &[Rule], dynamodb_rules: &[Rule]) -> (Processor, Metrics) {
    let metrics = Metrics::in_memory(MetricsNamespace::default(), Function::Processor);
    let processor = processor(s3_rules, dynamodb_rules).with_metrics(metrics.clone());
    (processor, metrics)
}

/// Every metric line written, each checked against the EMF specification.
fn metric_lines(metrics: &Metrics) -> Vec<EmfLine> {
    metrics
        .lines()
        .iter()
        .map(|line| validate(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

#[tokio::test]
async fn a_missing_object_is_done_not_retried_and_the_row_is_untouched() {
    let row = pending_row();
    let head = mock!(aws_sdk_s3::Client::head_object)
        .then_error(|| HeadObjectError::NotFound(NotFound::builder().build()));
    let get =
        mock!(aws_sdk_s3::Client::get_object).then_output(|| GetObjectOutput::builder().build());
    let update = mock!(aws_sdk_dynamodb::Client::update_item)
        .then_output(|| UpdateItemOutput::builder().build());
    let processor = processor(
        &[head.clone(), get.clone()],
        &[get_item_returning(row.clone()), update.clone()],
    );

    let response = processor
        .handle_batch(batch(vec![message("m1", row.object_key.as_ref())]))
        .await;

    assert!(failed_ids(&response).is_empty());
    assert_eq!(head.num_calls(), 1);
    assert_eq!(get.num_calls(), 0);
    assert_eq!(update.num_calls(), 0);
    assert_eq!(
        processor
            .process_object(row.object_key.as_ref())
            .await
            .unwrap(),
        Outcome::Gone
    );
}

#[tokio::test]
async fn a_conditional_failure_on_a_redelivery_is_treated_as_done() {
    // The first delivery settled the row between this delivery's read and its write.
    let row = pending_row();
    let get_item = mock!(aws_sdk_dynamodb::Client::get_item)
        .sequence()
        .output({
            let item = dynamodb_item(&row);
            move || {
                GetItemOutput::builder()
                    .set_item(Some(item.clone()))
                    .build()
            }
        })
        .output({
            let item = dynamodb_item(&ready(&row));
            move || {
                GetItemOutput::builder()
                    .set_item(Some(item.clone()))
                    .build()
            }
        })
        .build();
    let update = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|req| req.condition_expression() == Some("#status = :pending"))
        .then_error(|| {
            UpdateItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder().build(),
            )
        });
    let (deletes, deleted) = deletes_recorded();
    let mut s3_rules = deletes;
    s3_rules.extend(s3_serving_the_jpeg());
    let processor = processor(&s3_rules, &[get_item.clone(), update.clone()]);

    let response = processor
        .handle_batch(batch(vec![message("redelivered", row.object_key.as_ref())]))
        .await;

    assert!(failed_ids(&response).is_empty(), "{response:?}");
    assert_eq!(update.num_calls(), 1);
    assert_eq!(get_item.num_calls(), 2, "re-read to see who settled it");
    assert_eq!(
        *deleted.lock().unwrap(),
        Vec::<String>::new(),
        "a READY image keeps its objects, the verified upload included"
    );
}

#[tokio::test]
async fn a_throttled_write_fails_only_its_own_message() {
    let throttled = pending_row();
    let healthy = pending_row();
    let throttled_id = throttled.image_id.to_string();
    let update_throttled = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(move |req| {
            req.key().and_then(|k| k.get("imageId"))
                == Some(&AttributeValue::S(throttled_id.clone()))
        })
        .then_error(|| {
            UpdateItemError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("Rate of requests exceeds the allowed throughput.")
                    .build(),
            )
        });
    let update_healthy = mock!(aws_sdk_dynamodb::Client::update_item)
        .then_output(|| UpdateItemOutput::builder().build());
    let processor = processor(
        &s3_serving_the_jpeg(),
        &[
            get_item_returning(throttled.clone()),
            get_item_returning(healthy.clone()),
            update_throttled.clone(),
            update_healthy.clone(),
        ],
    );

    let response = processor
        .handle_batch(batch(vec![
            message("throttled", throttled.object_key.as_ref()),
            message("healthy", healthy.object_key.as_ref()),
        ]))
        .await;

    assert_eq!(failed_ids(&response), ["throttled"]);
    assert_eq!(update_throttled.num_calls(), 1);
    assert_eq!(update_healthy.num_calls(), 1);
}

#[tokio::test]
async fn a_malformed_message_fails_alone_and_a_test_event_is_done() {
    let mut malformed = message("malformed", "x");
    malformed.body = Some("{\"not\": \"an S3 event\"}".into());
    let mut test_event = message("test", "x");
    test_event.body = Some(include_str!("../../fixtures/events/s3-test-event.json").into());
    let processor = processor(&s3_serving_the_jpeg(), &[]);

    let response = processor
        .handle_batch(batch(vec![malformed, test_event]))
        .await;

    assert_eq!(failed_ids(&response), ["malformed"]);
}

#[tokio::test]
async fn an_object_without_a_row_is_deleted() {
    let id = ImageId::new_random();
    let key = ObjectKey::for_upload(id, crate::domain::ImageType::Png);
    let no_row =
        mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| GetItemOutput::builder().build());
    let (deletes, deleted) = deletes_recorded();
    let processor = processor(&deletes, &[no_row]);

    let outcome = processor.process_object(key.as_ref()).await.unwrap();

    assert_eq!(outcome, Outcome::Orphan);
    // Whatever an earlier attempt may have left for this id goes too: with no row, nothing stays.
    let keys = ImageObjectKeys::new(id, crate::domain::ImageType::Png);
    let mut expected = vec![
        keys.upload.to_string(),
        keys.original.to_string(),
        keys.legacy_thumbnail.to_string(),
        format!("renditions/{id}/{LISTED_RENDITION}"),
    ];
    expected.sort();
    assert_eq!(sorted(&deleted), expected);
}

#[tokio::test]
async fn objects_outside_the_upload_inbox_are_left_alone() {
    let id = ImageId::new_random();
    // No rules: any call to S3 or DynamoDB would fail the test.
    let processor = processor(&[], &[]);
    for key in [
        format!("originals/{id}.png"),
        format!("thumbnails/{id}.jpg"),
        "reports/2026.csv".to_owned(),
        format!("Uploads/{id}.png"),
    ] {
        let outcome = processor.process_object(&key).await.unwrap();
        assert_eq!(outcome, Outcome::Ignored, "{key}");
    }
}

#[tokio::test]
async fn an_upload_put_again_after_ready_is_deleted_never_verified() {
    // Only possible where the bucket ignores `If-None-Match`: the new bytes land in the inbox.
    let row = pending_row();
    let (mut s3_rules, deleted) = deletes_recorded();
    let replaced = mock!(aws_sdk_s3::Client::head_object).then_output(|| {
        HeadObjectOutput::builder()
            .content_length(10)
            .e_tag("\"another-version\"")
            .build()
    });
    s3_rules.push(replaced);
    let processor = processor(&s3_rules, &[get_item_returning(ready(&row))]);

    let outcome = processor
        .process_object(row.object_key.as_ref())
        .await
        .unwrap();

    assert_eq!(outcome, Outcome::AlreadySettled);
    assert_eq!(*deleted.lock().unwrap(), [row.object_key.to_string()]);
}

#[tokio::test]
async fn a_redelivery_after_ready_keeps_the_verified_upload() {
    let row = pending_row();
    let (mut s3_rules, deleted) = deletes_recorded();
    s3_rules.extend(s3_serving_the_jpeg());
    let processor = processor(&s3_rules, &[get_item_returning(ready(&row))]);

    let outcome = processor
        .process_object(row.object_key.as_ref())
        .await
        .unwrap();

    assert_eq!(outcome, Outcome::AlreadySettled);
    assert_eq!(*deleted.lock().unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn an_accepted_upload_is_copied_as_verified_its_renditions_written_then_settled() {
    let row = pending_row();
    let keys = row.object_keys();
    let order = Arc::new(Mutex::new(Vec::<String>::new()));
    let step = |name: &'static str| {
        let order = order.clone();
        move || order.lock().unwrap().push(name.to_owned())
    };
    let copy = mock!(aws_sdk_s3::Client::copy_object)
        .match_requests({
            let (expected_source, expected_key) =
                (format!("bucket/{}", keys.upload), keys.original.to_string());
            let record = step("copy");
            move |req| {
                record();
                req.copy_source() == Some(expected_source.as_str())
                    && req.copy_source_if_match() == Some("\"etag\"")
                    && req.key() == Some(expected_key.as_str())
            }
        })
        .then_output(|| CopyObjectOutput::builder().build());
    let written = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let renditions = mock!(aws_sdk_s3::Client::put_object)
        .match_requests({
            let (written, record) = (written.clone(), step("rendition"));
            move |req| {
                record();
                written.lock().unwrap().push((
                    req.key().unwrap_or_default().to_owned(),
                    req.cache_control().unwrap_or_default().to_owned(),
                ));
                req.content_type() == Some("image/jpeg")
            }
        })
        .then_output(|| PutObjectOutput::builder().build());
    let settle = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests({
            let (original, record) = (keys.original.to_string(), step("settle"));
            move |req| {
                record();
                let values = req
                    .expression_attribute_values()
                    .cloned()
                    .unwrap_or_default();
                let renditions = values.get(":renditions").and_then(|v| v.as_l().ok());
                let thumbnail = values.get(":thumbnailKey").and_then(|v| v.as_s().ok());
                values.get(":originalKey") == Some(&AttributeValue::S(original.clone()))
                    && values.get(":uploadEtag") == Some(&AttributeValue::S("\"etag\"".into()))
                    && renditions.is_some_and(|list| list.len() == 2)
                    && thumbnail.is_some_and(|key| key.contains("/thumbnail-"))
            }
        })
        .then_output(|| UpdateItemOutput::builder().build());
    let (deletes, deleted) = deletes_recorded();
    let mut s3_rules = vec![copy.clone(), renditions.clone()];
    s3_rules.extend(deletes);
    s3_rules.extend(s3_serving_the_jpeg().into_iter().take(2));
    let (processor, metrics) = processor_with_metrics(
        &s3_rules,
        &[get_item_returning(row.clone()), settle.clone()],
    );

    let outcomes = processor
        .handle_message(&message("m1", row.object_key.as_ref()))
        .await
        .unwrap();

    assert_eq!(outcomes, [Outcome::Ready]);
    assert_eq!(
        *order.lock().unwrap(),
        ["copy", "rendition", "rendition", "settle"]
    );
    let written = written.lock().unwrap().clone();
    let folder = format!("renditions/{}/", row.image_id);
    for (key, cache_control) in &written {
        assert!(key.starts_with(&folder), "{key}");
        assert_eq!(cache_control, "public, max-age=31536000, immutable");
    }
    let lines = metric_lines(&metrics);
    let names: Vec<Vec<&str>> = lines.iter().map(EmfLine::metric_names).collect();
    assert_eq!(
        names,
        [
            vec!["UploadsReady", "ThumbnailTime"],
            vec!["ProcessingTime"]
        ],
        "one line as the row turns READY, one when the message is done"
    );
    assert_eq!(lines[0].number("UploadsReady"), Some(1.0));
    assert_eq!(
        lines[0].dimension("imageId"),
        Some(row.image_id.to_string().as_str())
    );
    let thumbnail_ms = lines[0].number("ThumbnailTime").unwrap();
    let processing_ms = lines[1].number("ProcessingTime").unwrap();
    assert!(
        thumbnail_ms <= processing_ms,
        "making the thumbnail is part of processing the message: {thumbnail_ms} > {processing_ms}"
    );
    for line in &lines {
        assert_eq!(line.dimension("Function"), Some("processor"));
        assert_eq!(line.dimension_sets(), [["Function"]]);
    }
    assert_eq!(
        *deleted.lock().unwrap(),
        Vec::<String>::new(),
        "the verified upload stays in the inbox, so its URL cannot create it again"
    );
}

#[tokio::test]
async fn an_upload_replaced_after_it_was_verified_is_not_kept() {
    // The copy is pinned to the verified ETag; S3 answers 412 when the object changed since.
    let row = pending_row();
    let copy = mock!(aws_sdk_s3::Client::copy_object).then_error(|| {
        CopyObjectError::generic(
            ErrorMetadata::builder()
                .code("PreconditionFailed")
                .message("At least one of the pre-conditions you specified did not hold")
                .build(),
        )
    });
    let thumbnail =
        mock!(aws_sdk_s3::Client::put_object).then_output(|| PutObjectOutput::builder().build());
    let settle = mock!(aws_sdk_dynamodb::Client::update_item)
        .then_output(|| UpdateItemOutput::builder().build());
    let mut s3_rules = vec![copy, thumbnail.clone()];
    s3_rules.extend(s3_serving_the_jpeg().into_iter().take(2));
    let processor = processor(
        &s3_rules,
        &[get_item_returning(row.clone()), settle.clone()],
    );

    let outcome = processor
        .process_object(row.object_key.as_ref())
        .await
        .unwrap();

    assert_eq!(outcome, Outcome::Gone, "the new version has its own event");
    assert_eq!(thumbnail.num_calls(), 0);
    assert_eq!(settle.num_calls(), 0);
}

#[tokio::test]
async fn a_rejected_upload_settles_the_row_before_deleting_the_object() {
    let row = pending_row();
    let html = b"<!DOCTYPE html><html><body>not a photo</body></html>";
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let update = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests({
            let order = order.clone();
            move |req| {
                let values: HashMap<_, _> = req
                    .expression_attribute_values()
                    .cloned()
                    .unwrap_or_default();
                order.lock().unwrap().push("update");
                values.get(":rejectionReason") == Some(&AttributeValue::S("TYPE_MISMATCH".into()))
            }
        })
        .then_output(|| UpdateItemOutput::builder().build());
    let delete = mock!(aws_sdk_s3::Client::delete_object)
        .match_requests({
            let order = order.clone();
            move |_| {
                order.lock().unwrap().push("delete");
                true
            }
        })
        .then_output(|| DeleteObjectOutput::builder().build());
    let s3_rules = [
        mock!(aws_sdk_s3::Client::head_object).then_output(move || {
            HeadObjectOutput::builder()
                .content_length(html.len() as i64)
                .build()
        }),
        mock!(aws_sdk_s3::Client::get_object).then_output(move || {
            GetObjectOutput::builder()
                .body(ByteStream::from_static(html))
                .build()
        }),
        delete.clone(),
        mock!(aws_sdk_s3::Client::list_objects_v2)
            .match_requests({
                let order = order.clone();
                move |_| {
                    order.lock().unwrap().push("list");
                    true
                }
            })
            .then_output(|| {
                ListObjectsV2Output::builder()
                    .contents(Object::builder().key(LISTED_RENDITION).build())
                    .is_truncated(false)
                    .build()
            }),
    ];
    let (processor, metrics) = processor_with_metrics(
        &s3_rules,
        &[get_item_returning(row.clone()), update.clone()],
    );

    let outcomes = processor
        .handle_message(&message("m1", row.object_key.as_ref()))
        .await
        .unwrap();

    assert_eq!(outcomes, [Outcome::Rejected(RejectionReason::TypeMismatch)]);
    let mut order = order.lock().unwrap().clone();
    assert_eq!(
        order.remove(0),
        "update",
        "the row first, then every object a REJECTED image may not have"
    );
    order.sort_unstable();
    // The upload, the original, a thumbnail from before renditions, and the one rendition listed.
    assert_eq!(order, ["delete", "delete", "delete", "delete", "list"]);
    assert_eq!(delete.num_calls(), 4);
    let lines = metric_lines(&metrics);
    let names: Vec<Vec<&str>> = lines.iter().map(EmfLine::metric_names).collect();
    assert_eq!(names, [vec!["UploadsRejected"], vec!["ProcessingTime"]]);
    let rejected = &lines[0];
    assert_eq!(rejected.number("UploadsRejected"), Some(1.0));
    assert_eq!(rejected.dimension("Reason"), Some("TYPE_MISMATCH"));
    assert_eq!(
        rejected.dimension_sets(),
        [vec!["Function"], vec!["Function", "Reason"]]
    );
}

#[tokio::test]
async fn a_redelivery_counts_no_second_upload_but_its_processing_time() {
    let row = pending_row();
    let (processor, metrics) =
        processor_with_metrics(&s3_serving_the_jpeg(), &[get_item_returning(ready(&row))]);

    let outcomes = processor
        .handle_message(&message("again", row.object_key.as_ref()))
        .await
        .unwrap();

    assert_eq!(outcomes, [Outcome::AlreadySettled]);
    let lines = metric_lines(&metrics);
    let names: Vec<Vec<&str>> = lines.iter().map(EmfLine::metric_names).collect();
    assert_eq!(names, [vec!["ProcessingTime"]]);
}

#[tokio::test]
async fn the_processor_calls_exactly_the_operations_its_role_is_granted() {
    // An accepted upload, a refused one and an orphan between them make every call the
    // processor has; the declaration (and so the deployed role) must hold no more than that.
    let check = CallCheck::new(&PROCESSOR);
    let accepted = pending_row();
    let mut s3_rules = s3_serving_the_jpeg();
    let processor = processor_checked(
        &check,
        &s3_rules,
        &[
            get_item_returning(accepted.clone()),
            mock!(aws_sdk_dynamodb::Client::update_item)
                .then_output(|| UpdateItemOutput::builder().build()),
        ],
    );
    let outcome = processor.process_object(accepted.object_key.as_ref()).await;
    assert_eq!(outcome.unwrap(), Outcome::Ready);

    // An upload counted in its owner's usage settles in a transaction with the usage item.
    let mut counted = pending_row();
    counted.counted = Some(Counted::InFlight(InFlight::new(
        counted.image_id,
        UploadPolicy::default().max_bytes,
        datetime!(2026-11-24 10:20:00 UTC),
    )));
    let processor = processor_checked(
        &check,
        &s3_rules,
        &[
            get_item_returning(counted.clone()),
            mock!(aws_sdk_dynamodb::Client::transact_write_items)
                .then_output(|| TransactWriteItemsOutput::builder().build()),
        ],
    );
    let outcome = processor.process_object(counted.object_key.as_ref()).await;
    assert_eq!(outcome.unwrap(), Outcome::Ready);

    let orphan = ObjectKey::for_upload(ImageId::new_random(), crate::domain::ImageType::Png);
    s3_rules.truncate(0);
    s3_rules.extend(deletes_recorded().0);
    let no_row =
        mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| GetItemOutput::builder().build());
    let processor = processor_checked(&check, &s3_rules, &[no_row]);
    let outcome = processor.process_object(orphan.as_ref()).await;
    assert_eq!(outcome.unwrap(), Outcome::Orphan);

    assert_eq!(check.calls(), PROCESSOR.operation_names());
}

#[tokio::test]
#[should_panic(
    expected = "ProcessorFunction calls S3.ListBuckets, which src/aws/permissions.rs does not declare"
)]
async fn a_call_the_role_does_not_grant_fails_the_test_that_makes_it() {
    let check = CallCheck::new(&PROCESSOR);
    let s3 = check.on_s3(&mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        &[mock!(aws_sdk_s3::Client::list_buckets).then_output(|| {
            aws_sdk_s3::operation::list_buckets::ListBucketsOutput::builder().build()
        })]
    ));
    let _ = s3.list_buckets().send().await;
}

// ------------------------------------------------------------------ reprocessing

/// A READY row whose only rendition is a 128 px thumbnail: not the configured set.
fn ready_with_old_thumbnail(row: &ImageMetadata) -> ImageMetadata {
    let old = ObjectKey::for_rendition(
        row.image_id,
        RenditionName::thumbnail(),
        crate::domain::RenditionFormat::Jpeg,
        b"old thumbnail",
    );
    let ImageState::Ready(ready) = ready(row).state else {
        unreachable!()
    };
    ImageMetadata {
        state: ImageState::Ready(ReadyImage {
            thumbnail_key: old.clone(),
            renditions: vec![StoredRendition {
                name: RenditionName::thumbnail(),
                max_side: 128,
                format: crate::domain::RenditionFormat::Jpeg,
                width: 128,
                height: 96,
                bytes: 13,
                key: old,
            }],
            ..ready
        }),
        ..row.clone()
    }
}

/// HeadObject and GetObject serving the JPEG (the verified original), `put` for PutObject, and
/// DeleteObject and ListObjectsV2 as [`deletes_recorded`].
fn s3_for_reprocessing(put: &Rule) -> (Vec<Rule>, Arc<Mutex<Vec<String>>>) {
    let (deletes, deleted) = deletes_recorded();
    let mut rules = s3_serving_the_jpeg();
    rules.truncate(2); // HeadObject, GetObject
    rules.push(put.clone());
    rules.extend(deletes);
    (rules, deleted)
}

fn put_counted() -> Rule {
    mock!(aws_sdk_s3::Client::put_object).then_output(|| PutObjectOutput::builder().build())
}

/// Each UpdateItem's condition and values, in order.
type Updates = Arc<Mutex<Vec<(String, HashMap<String, AttributeValue>)>>>;

/// Records each UpdateItem's condition and values, and answers it: applied, or the condition
/// failing.
fn update_recorded(applies: bool) -> (Rule, Updates) {
    let updates = Arc::new(Mutex::new(Vec::new()));
    let rule = mock!(aws_sdk_dynamodb::Client::update_item).match_requests({
        let updates = updates.clone();
        move |req| {
            updates.lock().unwrap().push((
                req.condition_expression().unwrap_or_default().to_owned(),
                req.expression_attribute_values()
                    .cloned()
                    .unwrap_or_default(),
            ));
            true
        }
    });
    let rule = if applies {
        rule.then_output(|| UpdateItemOutput::builder().build())
    } else {
        rule.then_error(|| {
            UpdateItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder().build(),
            )
        })
    };
    (rule, updates)
}

#[tokio::test]
async fn reprocessing_makes_the_configured_renditions_and_keeps_the_old_ones_as_superseded() {
    let row = ready_with_old_thumbnail(&pending_row());
    let ImageState::Ready(before) = row.state.clone() else {
        unreachable!()
    };
    let put = put_counted();
    let (s3, deleted) = s3_for_reprocessing(&put);
    let (update, updates) = update_recorded(true);
    let processor = processor(&s3, &[get_item_returning(row.clone()), update]);

    let body = event::reprocess_body(row.image_id);
    let mut message = SqsMessage::default();
    message.body = Some(body);
    let outcomes = processor.handle_message(&message).await.unwrap();

    assert_eq!(outcomes, [Outcome::Reprocessed]);
    assert_eq!(
        put.num_calls(),
        2,
        "the thumbnail and the display rendition"
    );
    let updates = updates.lock().unwrap();
    let (condition, values) = &updates[0];
    assert_eq!(condition, "#status = :ready AND processedAt = :processed");
    assert_eq!(
        values[":processed"],
        AttributeValue::S(crate::aws::format_time(before.processed_at)),
        "only the row as it was read"
    );
    let names: Vec<&str> = values[":renditions"]
        .as_l()
        .unwrap()
        .iter()
        .map(|r| r.as_m().unwrap()["name"].as_s().unwrap().as_str())
        .collect();
    assert_eq!(names, ["display", "thumbnail"]);
    let superseded = values[":superseded"].as_l().unwrap();
    assert_eq!(superseded.len(), 1, "{superseded:?}");
    let old = superseded[0].as_m().unwrap();
    assert_eq!(old["key"].as_s().unwrap(), before.thumbnail_key.as_ref());
    let until = crate::aws::parse_stored_time(old["until"].as_s().unwrap()).unwrap();
    let kept = until - OffsetDateTime::now_utc();
    assert!(
        kept > time::Duration::days(2) - time::Duration::minutes(1)
            && kept <= time::Duration::days(2),
        "kept two days by default: {kept}"
    );
    assert_eq!(
        sorted(&deleted),
        Vec::<String>::new(),
        "nothing is deleted: URLs handed out for the old thumbnail keep working"
    );
}

#[tokio::test]
async fn superseded_renditions_are_deleted_once_their_time_is_up_the_row_first() {
    // A READY row with the configured set and two superseded renditions, one due.
    let row = pending_row();
    let id = row.image_id;
    let key = |name: &str, content: &[u8]| {
        ObjectKey::for_rendition(
            id,
            RenditionName::parse(name).unwrap(),
            crate::domain::RenditionFormat::Jpeg,
            content,
        )
    };
    let stored = |name: &str, side: u32| StoredRendition {
        name: RenditionName::parse(name).unwrap(),
        max_side: side,
        format: crate::domain::RenditionFormat::Jpeg,
        width: side,
        height: side,
        bytes: 10,
        key: key(name, name.as_bytes()),
    };
    let ImageState::Ready(ready) = ready(&row).state else {
        unreachable!()
    };
    let due = key("thumbnail", b"due");
    let later = key("thumbnail", b"later");
    let row = ImageMetadata {
        state: ImageState::Ready(ReadyImage {
            thumbnail_key: stored("thumbnail", 256).key,
            renditions: vec![stored("display", 1600), stored("thumbnail", 256)],
            superseded: vec![
                crate::domain::Superseded {
                    key: due.clone(),
                    until: OffsetDateTime::now_utc() - time::Duration::minutes(1),
                },
                crate::domain::Superseded {
                    key: later.clone(),
                    until: OffsetDateTime::now_utc() + time::Duration::days(1),
                },
            ],
            ..ready
        }),
        ..row
    };
    let order = Arc::new(Mutex::new(Vec::new()));
    let updates: Updates = Arc::default();
    let update = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests({
            let (order, updates) = (order.clone(), updates.clone());
            move |req| {
                order.lock().unwrap().push("update".to_owned());
                updates.lock().unwrap().push((
                    req.condition_expression().unwrap_or_default().to_owned(),
                    req.expression_attribute_values()
                        .cloned()
                        .unwrap_or_default(),
                ));
                true
            }
        })
        .then_output(|| UpdateItemOutput::builder().build());
    let delete = mock!(aws_sdk_s3::Client::delete_object)
        .match_requests({
            let order = order.clone();
            move |req| {
                order
                    .lock()
                    .unwrap()
                    .push(format!("delete {}", req.key().unwrap_or_default()));
                true
            }
        })
        .then_output(|| DeleteObjectOutput::builder().build());
    let processor = processor(&[delete], &[get_item_returning(row.clone()), update]);

    assert_eq!(processor.reprocess(id).await.unwrap(), Outcome::Pruned);
    assert_eq!(
        *order.lock().unwrap(),
        ["update".to_owned(), format!("delete {due}")],
        "the row stops naming it, then it goes; the one not due stays"
    );
    let (condition, values) = updates.lock().unwrap()[0].clone();
    assert_eq!(condition, "#status = :ready AND processedAt = :processed");
    let kept = values[":superseded"].as_l().unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        kept[0].as_m().unwrap()["key"].as_s().unwrap(),
        later.as_ref()
    );
}

#[tokio::test]
async fn reprocessing_an_image_already_made_so_writes_nothing() {
    let pending = pending_row();
    let idle = processor(
        &s3_serving_the_jpeg(),
        &[get_item_returning(pending.clone())],
    );
    // A PENDING row: nothing to reprocess.
    assert_eq!(
        idle.reprocess(pending.image_id).await.unwrap(),
        Outcome::NotReprocessed
    );
    // A READY one with the configured set: nothing to do.
    let row = ready_with_old_thumbnail(&pending_row());
    let (update, updates) = update_recorded(true);
    let put = put_counted();
    let (s3, _) = s3_for_reprocessing(&put);
    let first = processor(&s3, &[get_item_returning(row.clone()), update.clone()]);
    assert_eq!(
        first.reprocess(row.image_id).await.unwrap(),
        Outcome::Reprocessed
    );
    let (_, values) = updates.lock().unwrap()[0].clone();
    let renditions = values[":renditions"].clone();
    // The row as the first reprocessing left it.
    let mut item = dynamodb_item(&row);
    item.insert("renditions".into(), renditions);
    item.insert("thumbnailKey".into(), values[":thumbnail"].clone());
    let remade = ImageMetadata::try_from(&item).unwrap();
    let puts_before = put.num_calls();
    let second = processor(&s3, &[get_item_returning(remade.clone()), update.clone()]);
    assert_eq!(
        second.reprocess(row.image_id).await.unwrap(),
        Outcome::UpToDate
    );
    assert_eq!(put.num_calls(), puts_before, "nothing written");
    assert_eq!(updates.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn reprocessing_an_image_deleted_meanwhile_leaves_nothing_behind() {
    let row = ready_with_old_thumbnail(&pending_row());
    let get_item = mock!(aws_sdk_dynamodb::Client::get_item)
        .sequence()
        .output({
            let item = dynamodb_item(&row);
            move || {
                GetItemOutput::builder()
                    .set_item(Some(item.clone()))
                    .build()
            }
        })
        .output(|| GetItemOutput::builder().build())
        .build();
    let (update, _) = update_recorded(false);
    let (s3, deleted) = s3_for_reprocessing(&put_counted());
    let processor = processor(&s3, &[get_item, update]);

    assert_eq!(
        processor.reprocess(row.image_id).await.unwrap(),
        Outcome::NotReprocessed
    );
    let deleted = sorted(&deleted);
    let folder = ObjectKey::renditions_folder(row.image_id);
    assert!(
        deleted.contains(&format!("{folder}{LISTED_RENDITION}")),
        "what was written under the deleted image's folder goes: {deleted:?}"
    );
}
