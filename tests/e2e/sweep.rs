//! The reconciliation sweep against LocalStack's S3 and DynamoDB Local: debris made the ways it is
//! made in a deployment (a processor that fails after copying an upload, until the row expires;
//! deletes that stopped halfway; objects removed by hand) is found, reported by a dry run without
//! a change, and repaired exactly, while everything else in the bucket stays as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use image_upload::aws::permissions::{CallCheck, PROCESSOR, SWEEP};
use image_upload::aws::{AwsClients, ImageObjects, MetadataTable, USAGE_KEY_PREFIX};
use image_upload::domain::StateName;
use image_upload::processor::{Outcome, Processor};
use image_upload::sweep::{Options, Problem, Repair, Report, Sweeper};
use time::OffsetDateTime;

use crate::helpers::{TestApp, Uploads, spawn};

const JPEG: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.jpg");
const GRACE: Duration = Duration::from_secs(3600);

/// The fault: DynamoDB refuses every write of the processor it is installed on, so the processor
/// verifies an upload, copies it to `originals/`, writes its renditions, and then fails to settle
/// the row, on every delivery.
#[derive(Debug)]
struct RowsCannotBeSettled;

impl Intercept for RowsCannotBeSettled {
    fn name(&self) -> &'static str {
        "RowsCannotBeSettled"
    }

    fn read_before_serialization(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        match cfg.load::<Metadata>().map(Metadata::name) {
            Some("UpdateItem" | "TransactWriteItems") => {
                Err("injected fault: DynamoDB refuses the write".into())
            }
            _ => Ok(()),
        }
    }
}

struct Bench {
    app: TestApp,
    clients: AwsClients,
    processor: Processor,
    faulty: Processor,
}

impl Bench {
    async fn new() -> Self {
        let app = spawn(&[], Uploads::Unprocessed).await;
        let clients = app.clients().await;
        let check = CallCheck::new(&PROCESSOR);
        let processor = Processor::from_parts(
            ImageObjects::new(check.on_s3(&clients.s3), &app.bucket),
            MetadataTable::new(check.on_dynamodb(&clients.dynamodb), &app.table),
            app.settings.processing,
            1,
        );
        let faulty_dynamodb = aws_sdk_dynamodb::Client::from_conf(
            clients
                .dynamodb
                .config()
                .to_builder()
                .interceptor(RowsCannotBeSettled)
                .build(),
        );
        let faulty = Processor::from_parts(
            ImageObjects::new(clients.s3.clone(), &app.bucket),
            MetadataTable::new(faulty_dynamodb, &app.table),
            app.settings.processing,
            1,
        );
        Self {
            app,
            clients,
            processor,
            faulty,
        }
    }

    /// An image uploaded and processed to READY; its id.
    async fn ready(&self) -> String {
        let id = self.app.upload("photo.jpg", "image/jpeg", JPEG).await;
        let outcome = self
            .processor
            .process_object(&format!("uploads/{id}.jpg"))
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::Ready);
        id
    }

    /// An upload the faulty processor failed on, as often as SQS delivers it before the message
    /// goes to the dead-letter queue; with `expired`, its PENDING row is then removed, as
    /// DynamoDB's TTL removes it (DynamoDB Local does not run TTL). Its id.
    async fn failed_after_copying(&self, expired: bool) -> String {
        let id = self.app.upload("photo.jpg", "image/jpeg", JPEG).await;
        for _ in 0..3 {
            let attempt = self
                .faulty
                .process_object(&format!("uploads/{id}.jpg"))
                .await;
            assert!(attempt.is_err(), "the fault fails the message: {attempt:?}");
        }
        // What the failure leaves: the verified copy and its renditions, which no request and
        // no event will reach once the row is gone.
        assert!(self.app.object_exists(&format!("originals/{id}.jpg")).await);
        assert_eq!(self.app.renditions_stored(&id).await.len(), 2);
        if expired {
            self.app
                .dynamodb
                .delete_item()
                .table_name(&self.app.table)
                .key("imageId", AttributeValue::S(id.clone()))
                .send()
                .await
                .expect("DeleteItem");
        }
        id
    }

    async fn put(&self, key: &str) {
        self.app
            .s3
            .put_object()
            .bucket(&self.app.bucket)
            .key(key)
            .body(ByteStream::from_static(b"debris"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutObject {key}: {e:?}"));
    }

    async fn delete(&self, key: &str) {
        self.app
            .s3
            .delete_object()
            .bucket(&self.app.bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DeleteObject {key}: {e:?}"));
    }

    /// Every key in the bucket.
    async fn keys(&self) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        let mut pages = self
            .app
            .s3
            .list_objects_v2()
            .bucket(&self.app.bucket)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.expect("ListObjectsV2");
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        keys
    }

    /// The owner's usage item's `images` and `bytes`.
    async fn usage(&self) -> (i64, i64) {
        let item = self
            .app
            .item(&format!("{USAGE_KEY_PREFIX}anonymous"))
            .await
            .expect("the owner's usage item");
        let n = |name: &str| item[name].as_n().unwrap().parse().unwrap();
        (n("images"), n("bytes"))
    }

    /// A sweep as the deployed function runs it: its clients checked against its role.
    async fn sweep(&self, check: &CallCheck, repair: bool, now: OffsetDateTime) -> Report {
        let clients = AwsClients {
            s3: check.on_s3(&self.clients.s3),
            dynamodb: check.on_dynamodb(&self.clients.dynamodb),
            secrets: self.clients.secrets.clone(),
            sqs: self.clients.sqs.clone(),
        };
        Sweeper::new(&clients, &self.app.settings)
            .run(
                Options {
                    repair,
                    grace: GRACE,
                    force: false,
                },
                now,
            )
            .await
            .expect("the sweep runs")
    }
}

/// The findings as (image id, problem) -> sorted keys.
fn found(report: &Report) -> BTreeMap<(String, Problem), Vec<String>> {
    report
        .findings
        .iter()
        .map(|f| {
            let mut keys = f.keys.clone();
            keys.sort();
            ((f.image_id.to_string(), f.problem), keys)
        })
        .collect()
}

fn keys_of(all: &BTreeSet<String>, id: &str) -> Vec<String> {
    all.iter().filter(|k| k.contains(id)).cloned().collect()
}

#[tokio::test]
async fn the_sweep_reports_then_removes_exactly_the_debris_and_makes_missing_renditions_again() {
    let bench = Bench::new().await;
    let app = &bench.app;

    // What must stay as it is.
    let intact = bench.ready().await;
    let waiting = app.upload("photo.jpg", "image/jpeg", JPEG).await; // PENDING, never processed
    let in_processing = bench.failed_after_copying(false).await; // PENDING, its copies written
    let foreign = ["originals/README", "uploads/notes.txt"];
    for key in foreign {
        bench.put(key).await;
    }
    // A row that cannot be read back: its image's objects are left, whatever they are.
    let unreadable = uuid::Uuid::new_v4().to_string();
    let unreadable_key = format!("originals/{unreadable}.jpg");
    bench.put(&unreadable_key).await;
    app.dynamodb
        .put_item()
        .table_name(&app.table)
        .item("imageId", AttributeValue::S(unreadable.clone()))
        .item("status", AttributeValue::S("READY".into()))
        .send()
        .await
        .expect("PutItem");

    // Debris, made as a deployment makes it.
    let orphans = [
        bench.failed_after_copying(true).await,
        bench.failed_after_copying(true).await,
    ];
    let rejected = app.upload("photo.png", "image/png", b"not a PNG").await;
    let outcome = bench
        .processor
        .process_object(&format!("uploads/{rejected}.png"))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Rejected(_)), "{outcome:?}");
    let left_by_a_failed_delete = format!("originals/{rejected}.png");
    bench.put(&left_by_a_failed_delete).await;
    let stray = bench.ready().await;
    let stray_rendition = format!("renditions/{stray}/display-0123456789abcdef.jpg");
    bench.put(&stray_rendition).await;
    let lost = bench.ready().await;
    bench.delete(&format!("originals/{lost}.jpg")).await;
    // A lost image whose row counts nothing (written before per-user limits).
    let lost_uncounted = bench.ready().await;
    bench
        .delete(&format!("originals/{lost_uncounted}.jpg"))
        .await;
    app.dynamodb
        .update_item()
        .table_name(&app.table)
        .key("imageId", AttributeValue::S(lost_uncounted.clone()))
        .update_expression("REMOVE quotaBytes")
        .send()
        .await
        .expect("UpdateItem");
    // A READY row none of whose objects is left: only the table knows of it.
    let vanished = bench.ready().await;
    let vanished_keys = keys_of(&bench.keys().await, &vanished);
    assert_eq!(vanished_keys.len(), 4, "upload, original, two renditions");
    for key in &vanished_keys {
        bench.delete(key).await;
    }
    let missing = bench.ready().await;
    let display = app
        .renditions_stored(&missing)
        .await
        .into_iter()
        .find(|k| k.contains("/display-"))
        .expect("a display rendition");
    bench.delete(&display).await;

    // An orphan younger than the grace period: spared. Everything above is older than `cutoff`
    // (S3 keeps modification times to the second).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let cutoff = OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let recent_orphan = bench.failed_after_copying(true).await;
    let now = cutoff + GRACE;

    let before = bench.keys().await;
    let usage_before = bench.usage().await;
    let mut expected: BTreeMap<(String, Problem), Vec<String>> = BTreeMap::new();
    for id in &orphans {
        expected.insert((id.clone(), Problem::Orphaned), keys_of(&before, id));
    }
    expected.insert(
        (rejected.clone(), Problem::NotAllowed(StateName::Rejected)),
        vec![left_by_a_failed_delete.clone()],
    );
    expected.insert(
        (stray.clone(), Problem::NotAllowed(StateName::Ready)),
        vec![stray_rendition.clone()],
    );
    expected.insert((lost.clone(), Problem::Lost), keys_of(&before, &lost));
    expected.insert(
        (lost_uncounted.clone(), Problem::Lost),
        keys_of(&before, &lost_uncounted),
    );
    expected.insert((vanished.clone(), Problem::Lost), Vec::new());
    expected.insert(
        (missing.clone(), Problem::RenditionsMissing),
        vec![display.clone()],
    );

    // A dry run: the report, and not one change.
    let check = CallCheck::new(&SWEEP);
    let dry = bench.sweep(&check, false, now).await;
    assert_eq!(found(&dry), expected);
    assert!(dry.findings.iter().all(|f| f.repair == Repair::NotTried));
    assert_eq!(dry.recent, keys_of(&before, &recent_orphan).len());
    assert_eq!(dry.foreign, foreign.map(str::to_owned).to_vec());
    assert_eq!(dry.malformed, std::slice::from_ref(&unreadable));
    assert_eq!(bench.keys().await, before);

    // The repair: exactly the debris goes, and the missing rendition is back under its key.
    let repaired = bench.sweep(&check, true, now).await;
    assert_eq!(found(&repaired), expected);
    assert!(
        repaired.findings.iter().all(|f| f.repair == Repair::Done),
        "{:#?}",
        repaired.findings
    );
    let removed: BTreeSet<String> = expected
        .iter()
        .filter(|((_, problem), _)| *problem != Problem::RenditionsMissing)
        .flat_map(|(_, keys)| keys.iter().cloned())
        .collect();
    let mut after_expected: BTreeSet<String> = before.difference(&removed).cloned().collect();
    after_expected.insert(display.clone());
    assert_eq!(bench.keys().await, after_expected);
    assert!(after_expected.contains(&unreadable_key));
    for id in [&lost, &lost_uncounted, &vanished] {
        assert!(app.item(id).await.is_none(), "the lost image's row is gone");
        assert_eq!(app.get_json(&format!("/images/{id}")).await.0, 404);
    }
    // The counted lost images gave their counts back; the one from before limits had none.
    let given_back = 2 * JPEG.len() as i64;
    assert_eq!(
        bench.usage().await,
        (usage_before.0 - 2, usage_before.1 - given_back)
    );
    let (status, image) = app.get_json(&format!("/images/{missing}")).await;
    assert_eq!((status, image["status"].as_str()), (200, Some("READY")));
    app.rendition(&image, "display").await;
    for id in [&intact, &waiting, &in_processing, &stray, &rejected] {
        assert!(app.item(id).await.is_some(), "{id} keeps its row");
    }

    // Nothing is left to find but the recent orphan, still spared.
    let again = bench.sweep(&check, true, now).await;
    assert_eq!(found(&again), BTreeMap::new());
    assert_eq!(again.recent, dry.recent);
    // Once older than the grace, it goes too.
    let later = bench
        .sweep(&check, true, now + Duration::from_secs(3600))
        .await;
    assert_eq!(
        found(&later),
        BTreeMap::from([(
            (recent_orphan.clone(), Problem::Orphaned),
            keys_of(&after_expected, &recent_orphan)
        )])
    );
    assert_eq!(
        app.renditions_stored(&recent_orphan).await,
        Vec::<String>::new()
    );

    // The sweep's role grants exactly what these runs called.
    assert_eq!(check.calls(), SWEEP.operation_names());
}
