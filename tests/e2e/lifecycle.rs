//! Uploads through real S3 notifications to a real SQS queue, processed by the same handler the
//! Lambda function runs: verified, thumbnailed, settled.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use image_upload::aws::{ImageObjects, MetadataTable};
use image_upload::domain::ProcessingPolicy;
use image_upload::processor::{Outcome, Processor, to_lambda_message};
use serde_json::json;

use crate::helpers::{Uploads, spawn, spawn_processing_app};

const JPEG: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.jpg");
const PNG: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.png");
const GPS_JPEG: &[u8] = include_bytes!("../../fixtures/images/gps-exif-64x48.jpg");
/// How long a notification may take to be processed on a busy 2-core machine.
const SETTLE: Duration = Duration::from_secs(20);

/// A 1200 x 900 JPEG, made here so the fixture folder stays small.
fn large_jpeg() -> Vec<u8> {
    let pixels = image::RgbImage::from_fn(1200, 900, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 256) as u8])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&pixels)
        .unwrap();
    jpeg
}

fn has_exif(jpeg: &[u8]) -> bool {
    jpeg.windows(4).any(|w| w == b"Exif")
}

#[tokio::test]
async fn a_real_jpeg_becomes_ready_with_a_small_thumbnail_without_exif() {
    let app = spawn_processing_app().await;
    let large = large_jpeg();
    assert!(has_exif(GPS_JPEG), "the fixture carries EXIF with GPS");

    let large_id = app.upload("big.jpg", "image/jpeg", &large).await;
    let gps_id = app.upload("gps.jpg", "image/jpeg", GPS_JPEG).await;

    for (id, bytes, (width, height)) in [
        (&large_id, &large, (1200, 900)),
        (&gps_id, &GPS_JPEG.to_vec(), (64, 48)),
    ] {
        assert_eq!(app.settled_status(id, SETTLE).await, "READY", "{id}");
        let item = app.item(id).await.unwrap();
        let n = |name: &str| item[name].as_n().unwrap().parse::<u64>().unwrap();
        assert_eq!((n("width"), n("height")), (width, height));
        assert_eq!(n("sizeBytes"), bytes.len() as u64);
        let thumbnail_key = item["thumbnailKey"].as_s().unwrap();
        assert!(thumbnail_key.starts_with(&format!("renditions/{id}/thumbnail-")));
        let renditions = item["renditions"].as_l().unwrap();
        assert_eq!(
            renditions.len(),
            2,
            "the thumbnail and the display rendition"
        );
        assert!(item.contains_key("processedAt"));
        assert!(
            !item.contains_key("pendingExpiry"),
            "a READY row must not expire"
        );
        let thumbnail = app.object(thumbnail_key).await;
        let decoded = image::load_from_memory_with_format(&thumbnail, image::ImageFormat::Jpeg)
            .expect("the thumbnail is a JPEG");
        assert!(decoded.width().max(decoded.height()) <= 256);
        assert!(!has_exif(&thumbnail), "no EXIF in the thumbnail of {id}");
        // The verified bytes are copied where no upload URL can write; the upload stays in the
        // inbox (so its URL cannot create it again) until the bucket's lifecycle rule expires it.
        assert_eq!(
            item["originalKey"].as_s().unwrap(),
            &format!("originals/{id}.jpg")
        );
        assert_eq!(&app.object(&format!("originals/{id}.jpg")).await, bytes);
        assert_eq!(&app.object(&format!("uploads/{id}.jpg")).await, bytes);
    }
    let (_, large) = app.get_json(&format!("/images/{large_id}")).await;
    assert_eq!(
        app.rendition(&large, "thumbnail").await.dimensions(),
        (256, 192)
    );
    // 1200 x 900 is under 1600 px: the display rendition keeps its size.
    let display = app.rendition(&large, "display").await;
    assert_eq!(display.dimensions(), (1200, 900));
    let item = app.item(&gps_id).await.unwrap();
    for rendition in item["renditions"].as_l().unwrap() {
        let key = rendition.as_m().unwrap()["key"].as_s().unwrap();
        assert!(!has_exif(&app.object(key).await), "no EXIF in {key}");
    }
}

#[tokio::test]
async fn text_declared_as_png_is_rejected_and_its_object_deleted() {
    let app = spawn_processing_app().await;

    let id = app
        .upload(
            "cat.png",
            "image/png",
            b"<html><script>alert(1)</script></html>",
        )
        .await;

    app.assert_rejected(&id, "png", "TYPE_MISMATCH", SETTLE)
        .await;
}

#[tokio::test]
async fn an_object_over_the_size_limit_is_rejected_as_too_large() {
    let app = spawn(&[("MAX_UPLOAD_BYTES", "1000")], Uploads::Processed).await;
    let mut padded = PNG.to_vec();
    padded.resize(1500, 0);

    let id = app.upload("big.png", "image/png", &padded).await;

    assert_eq!(app.settled_status(&id, SETTLE).await, "REJECTED");
    let item = app.item(&id).await.unwrap();
    assert_eq!(item["rejectionReason"].as_s().unwrap(), "TOO_LARGE");
    assert!(!app.object_exists(&format!("uploads/{id}.png")).await);
}

#[tokio::test]
async fn a_file_larger_than_its_declared_size_cannot_even_be_put() {
    let app = spawn_processing_app().await;
    let upload = app
        .presign(&json!({"fileName": "a.png", "fileType": "image/png", "fileSize": PNG.len()}))
        .await;
    let id = upload["imageId"].as_str().unwrap();
    let mut larger = PNG.to_vec();
    larger.extend_from_slice(b"<script>alert(1)</script>");

    let put = app.put_with_given_headers(&upload, larger).await;

    assert_eq!(put.status(), 403);
    assert!(!app.object_exists(&format!("uploads/{id}.png")).await);
    assert_eq!(
        app.item(id).await.unwrap()["status"].as_s().unwrap(),
        "PENDING"
    );
}

#[tokio::test]
async fn a_key_with_spaces_and_plus_signs_is_decoded_from_the_event() {
    // Not a key this service issues: the processor finds no row for it and deletes it, which it
    // can only do if it decoded the key from the event correctly (`+` is a space, `%2B` a plus).
    let app = spawn_processing_app().await;
    let key = "uploads/holiday photo+1 été.png";
    app.s3
        .put_object()
        .bucket(&app.bucket)
        .key(key)
        .body(PNG.to_vec().into())
        .send()
        .await
        .unwrap();

    let deadline = tokio::time::Instant::now() + SETTLE;
    while app.object_exists(key).await && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert!(!app.object_exists(key).await, "the stray object is deleted");
}

/// Counts PUTs of renditions that reach the wire.
#[derive(Debug, Clone, Default)]
struct RenditionWrites(Arc<AtomicUsize>);

impl Intercept for RenditionWrites {
    fn name(&self) -> &'static str {
        "RenditionWrites"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        if request.method() == "PUT" && request.uri().contains("/renditions/") {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

#[tokio::test]
async fn the_same_message_delivered_twice_writes_each_rendition_once() {
    let app = spawn(&[], Uploads::Queued).await;
    let writes = RenditionWrites::default();
    let s3 = aws_sdk_s3::Client::from_conf(
        app.s3
            .config()
            .to_builder()
            .interceptor(writes.clone())
            .build(),
    );
    let policy = ProcessingPolicy::default();
    let processor = Processor::from_parts(
        ImageObjects::new(s3, &app.bucket),
        MetadataTable::new(app.dynamodb.clone(), &app.table),
        policy,
        2,
    );
    let queue_url = app.queue_url.clone().unwrap();
    let id = app.upload("once.jpg", "image/jpeg", JPEG).await;

    let first = receive_notification(&app.sqs, &queue_url, &id).await;
    let outcomes = processor.handle_message(&first).await.unwrap();
    assert_eq!(outcomes, [Outcome::Ready]);
    let processed_at = app.item(&id).await.unwrap()["processedAt"].clone();
    // Let SQS deliver the very same message again, as it does when a consumer times out.
    app.sqs
        .change_message_visibility()
        .queue_url(&queue_url)
        .receipt_handle(first.receipt_handle.clone().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let again = receive_notification(&app.sqs, &queue_url, &id).await;
    assert_eq!(
        again.message_id, first.message_id,
        "a redelivery, not a new message"
    );
    let mut batch = SqsEvent::default();
    batch.records = vec![again];
    let response = processor.handle_batch(batch).await;

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        writes.0.load(Ordering::SeqCst),
        policy.renditions.iter().count(),
        "one write of each rendition"
    );
    let item = app.item(&id).await.unwrap();
    assert_eq!(item["status"].as_s().unwrap(), "READY");
    assert_eq!(item["processedAt"], processed_at, "the row is unchanged");
}

/// The next message on the queue that announces image `id`, as Lambda would be handed it.
async fn receive_notification(sqs: &aws_sdk_sqs::Client, queue_url: &str, id: &str) -> SqsMessage {
    let deadline = tokio::time::Instant::now() + SETTLE;
    while tokio::time::Instant::now() < deadline {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .wait_time_seconds(2)
            .visibility_timeout(30)
            .send()
            .await
            .expect("ReceiveMessage");
        for message in received.messages.unwrap_or_default() {
            if message.body().is_some_and(|b| b.contains(id)) {
                return to_lambda_message(message);
            }
        }
    }
    panic!("no notification for {id} within {SETTLE:?}");
}
