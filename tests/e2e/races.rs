//! DELETE racing the processor, in every interleaving that matters, against the real S3 and
//! DynamoDB: one actor is stopped by a [`gate_before`] just before one of its calls, the other
//! runs to the end, then the first goes on. Whatever the order, no object outlives its row.

use std::future::Future;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use image_upload::api::{self, AppState};
use image_upload::aws::{ImageObjects, MetadataTable};
use image_upload::domain::{ImageId, ImageObjectKeys, ImageType, ProcessingPolicy};
use image_upload::processor::{MessageError, Outcome, Processor};
use tower::ServiceExt;

use crate::helpers::{Gate, GateControl, TestApp, Uploads, gate_before, spawn};

const JPEG: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.jpg");

/// Runs `future` to completion on a thread and runtime of its own, so a gate can block it
/// without stopping the test.
fn on_own_thread<F>(future: F) -> std::thread::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    })
}

async fn joined<T: Send + 'static>(handle: std::thread::JoinHandle<T>) -> T {
    tokio::task::spawn_blocking(move || handle.join().expect("the actor panicked"))
        .await
        .unwrap()
}

fn gated_processor(app: &TestApp, gate: &Gate) -> Processor {
    Processor::from_parts(
        ImageObjects::new(gate.on_s3(&app.s3), &app.bucket),
        MetadataTable::new(gate.on_dynamodb(&app.dynamodb), &app.table),
        ProcessingPolicy::default(),
        1,
    )
}

fn keys_of(id: &str) -> ImageObjectKeys {
    ImageObjectKeys::new(ImageId::parse(id).unwrap(), ImageType::Jpeg)
}

/// Asserts the image has no row and none of its objects.
async fn assert_nothing_left(app: &TestApp, id: &str, case: &str) {
    assert!(app.item(id).await.is_none(), "{case}: the row is gone");
    let keys = keys_of(id);
    for key in [&keys.upload, &keys.original, &keys.legacy_thumbnail] {
        assert!(
            !app.object_exists(key.as_ref()).await,
            "{case}: {key} outlived its row"
        );
    }
    assert_eq!(
        app.renditions_stored(id).await,
        Vec::<String>::new(),
        "{case}: renditions outlived their row"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_while_the_processor_stands_before_each_of_its_calls_leaves_nothing() {
    let app = spawn(&[], Uploads::Unprocessed).await;
    // The processor's calls in order, and what it makes of finding the image deleted there.
    let cases = [
        ("GetItem", Outcome::Orphan),
        ("HeadObject", Outcome::Gone),
        ("GetObject", Outcome::Gone),
        ("CopyObject", Outcome::Gone),
        ("PutObject", Outcome::AlreadySettled),
        // Settling: the row and its owner's usage item, in one transaction.
        ("TransactWriteItems", Outcome::AlreadySettled),
    ];
    for (operation, expected) in cases {
        let id = app.upload("race.jpg", "image/jpeg", JPEG).await;
        let key = keys_of(&id).upload.to_string();
        let (gate, control) = gate_before(operation);
        let processor = gated_processor(&app, &gate);
        drop(gate);
        let processing = on_own_thread(async move { processor.process_object(&key).await });

        control.reached().await;
        assert_eq!(
            app.delete(&format!("/images/{id}")).await,
            204,
            "{operation}"
        );
        control.release();
        let outcome = joined(processing).await.expect("processing succeeds");

        assert_eq!(outcome, expected, "processor stopped before {operation}");
        assert_nothing_left(
            &app,
            &id,
            &format!("DELETE before the processor's {operation}"),
        )
        .await;
    }
}

/// `DELETE /images/{id}` through the router on a thread of its own, its clients behind `gate`.
fn gated_delete(app: &TestApp, gate: Gate, id: &str) -> std::thread::JoinHandle<StatusCode> {
    let state = AppState {
        objects: ImageObjects::new(gate.on_s3(&app.s3), &app.bucket),
        table: MetadataTable::new(gate.on_dynamodb(&app.dynamodb), &app.table),
        ..app.state.clone()
    };
    let path = format!("/images/{id}");
    on_own_thread(async move {
        let request = Request::delete(path).body(Body::empty()).unwrap();
        api::app(state).oneshot(request).await.unwrap().status()
    })
}

fn processor(app: &TestApp) -> Processor {
    Processor::from_parts(
        ImageObjects::new(app.s3.clone(), &app.bucket),
        MetadataTable::new(app.dynamodb.clone(), &app.table),
        ProcessingPolicy::default(),
        1,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_processor_running_while_delete_stands_before_each_of_its_calls_leaves_nothing() {
    let app = spawn(&[], Uploads::Unprocessed).await;
    // DELETE's calls in order, and what the processor makes of the image when it runs there.
    let cases = [
        ("GetItem", Outcome::Ready),
        // DELETE has read the PENDING row; the processor settles it READY and writes objects.
        ("DeleteObject", Outcome::Ready),
        // DELETE has removed the upload and stands before deleting the row (with its owner's
        // usage, in one transaction): nothing is left to verify.
        ("TransactWriteItems", Outcome::Gone),
    ];
    for (operation, expected) in cases {
        let id = app.upload("race.jpg", "image/jpeg", JPEG).await;
        let (gate, control) = gate_before(operation);
        let deleting = gated_delete(&app, gate, &id);

        control.reached().await;
        let outcome = processor(&app)
            .process_object(keys_of(&id).upload.as_ref())
            .await
            .expect("processing succeeds");
        control.release();
        let status = joined(deleting).await;

        assert_eq!(status, StatusCode::NO_CONTENT, "{operation}");
        assert_eq!(outcome, expected, "DELETE stopped before {operation}");
        assert_nothing_left(&app, &id, &format!("processor during DELETE's {operation}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_processor_settling_between_deletes_objects_and_its_row_leaves_nothing() {
    // The interleaving that used to orphan a thumbnail: the processor has verified and copied the
    // upload; DELETE removes the objects; the processor writes the thumbnail and settles the row
    // READY; only then does DELETE remove the row.
    let app = spawn(&[], Uploads::Unprocessed).await;
    for processor_stop in ["PutObject", "TransactWriteItems"] {
        let id = app.upload("race.jpg", "image/jpeg", JPEG).await;
        let key = keys_of(&id).upload.to_string();
        let (processor_gate, processor_control) = gate_before(processor_stop);
        let gated = gated_processor(&app, &processor_gate);
        drop(processor_gate);
        let processing = on_own_thread(async move { gated.process_object(&key).await });
        processor_control.reached().await;

        let (delete_gate, delete_control) = gate_before("TransactWriteItems");
        let deleting = gated_delete(&app, delete_gate, &id);
        delete_control.reached().await;
        assert!(
            !app.object_exists(keys_of(&id).original.as_ref()).await,
            "DELETE has removed the copied original"
        );

        processor_control.release();
        let outcome = joined(processing).await.expect("processing succeeds");
        assert_eq!(outcome, Outcome::Ready, "the row was still there to settle");
        delete_control.release();
        let status = joined(deleting).await;

        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_nothing_left(
            &app,
            &id,
            &format!("processor stopped before {processor_stop}"),
        )
        .await;
    }
}

/// A processor that makes the renditions `renditions` (a changed configuration), its clients
/// behind `gate` if any.
fn reprocessor(app: &TestApp, gate: Option<&Gate>, renditions: &str) -> Processor {
    let policy = ProcessingPolicy {
        renditions: image_upload::domain::Renditions::parse(renditions).unwrap(),
        ..ProcessingPolicy::default()
    };
    let (s3, dynamodb) = match gate {
        Some(gate) => (gate.on_s3(&app.s3), gate.on_dynamodb(&app.dynamodb)),
        None => (app.s3.clone(), app.dynamodb.clone()),
    };
    Processor::from_parts(
        ImageObjects::new(s3, &app.bucket),
        MetadataTable::new(dynamodb, &app.table),
        policy,
        1,
    )
}

/// An image processed to READY, and a reprocessing of it (to a 128 px thumbnail) on its own
/// thread, standing before its first `operation` until the returned control releases it.
async fn reprocessing_standing_before(
    operation: &'static str,
) -> (
    TestApp,
    String,
    std::thread::JoinHandle<Result<Outcome, MessageError>>,
    GateControl,
) {
    let app = spawn(&[], Uploads::Unprocessed).await;
    let id = app.upload("race.jpg", "image/jpeg", JPEG).await;
    let ready = processor(&app)
        .process_object(keys_of(&id).upload.as_ref())
        .await
        .unwrap();
    assert_eq!(ready, Outcome::Ready);
    let (gate, control) = gate_before(operation);
    let gated = reprocessor(&app, Some(&gate), "thumbnail:128");
    drop(gate);
    let image_id = ImageId::parse(&id).unwrap();
    let reprocessing = on_own_thread(async move { gated.reprocess(image_id).await });
    control.reached().await;
    (app, id, reprocessing, control)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reprocessing_between_deletes_objects_and_its_row_leaves_nothing() {
    // Reprocessing has read the original and stands before writing its renditions; DELETE
    // removes the objects and stands before deleting the row (with its owner's usage, in one
    // transaction); reprocessing writes the renditions and points the row at them; DELETE's
    // conditional delete then finds the row changed and goes round again.
    let (app, id, reprocessing, reprocess_control) =
        reprocessing_standing_before("PutObject").await;

    let (delete_gate, delete_control) = gate_before("TransactWriteItems");
    let deleting = gated_delete(&app, delete_gate, &id);
    delete_control.reached().await;
    reprocess_control.release();
    let outcome = joined(reprocessing).await.expect("reprocessing succeeds");
    assert_eq!(
        outcome,
        Outcome::Reprocessed,
        "the row was still there to update"
    );
    assert!(
        !app.renditions_stored(&id).await.is_empty(),
        "written meanwhile"
    );
    delete_control.release();

    assert_eq!(joined(deleting).await, StatusCode::NO_CONTENT);
    assert_nothing_left(&app, &id, "reprocessed during DELETE").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_while_reprocessing_stands_before_its_row_update_leaves_nothing() {
    let (app, id, reprocessing, control) = reprocessing_standing_before("UpdateItem").await;

    assert_eq!(app.delete(&format!("/images/{id}")).await, 204);
    control.release();
    let outcome = joined(reprocessing).await.expect("reprocessing succeeds");

    assert_eq!(outcome, Outcome::NotReprocessed, "the row was gone");
    assert_nothing_left(&app, &id, "DELETE during reprocessing").await;
}
