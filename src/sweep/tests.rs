//! What the sweep finds, judged without I/O: each row state against the objects it allows. The
//! same against real S3 and DynamoDB, repairs included, is `tests/e2e/sweep.rs`.

use time::macros::datetime;

use super::*;
use crate::domain::{
    ImageType, NewUpload, Owner, Rejection, RejectionReason, RenditionFormat, RenditionName,
    StoredRendition, Superseded, UploadPolicy, UploadRequest,
};

const NOW: OffsetDateTime = datetime!(2026-12-08 12:00:00 UTC);
const CUTOFF: OffsetDateTime = datetime!(2026-12-08 11:00:00 UTC);
const OLD: OffsetDateTime = datetime!(2026-12-08 09:00:00 UTC);

fn pending() -> ImageMetadata {
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
        OLD,
        &policy,
    )
}

fn rendition(id: ImageId, name: &str, content: &[u8]) -> StoredRendition {
    StoredRendition {
        name: RenditionName::parse(name).unwrap(),
        max_side: 256,
        format: RenditionFormat::Jpeg,
        width: 256,
        height: 192,
        bytes: content.len() as u64,
        key: ObjectKey::for_rendition(
            id,
            RenditionName::parse(name).unwrap(),
            RenditionFormat::Jpeg,
            content,
        ),
    }
}

/// A READY row with a thumbnail and a display rendition, and one superseded rendition.
fn ready(row: &ImageMetadata) -> ImageMetadata {
    let id = row.image_id;
    let thumbnail = rendition(id, "thumbnail", b"thumbnail");
    ImageMetadata {
        state: ImageState::Ready(ReadyImage {
            width: 1600,
            height: 1200,
            size_bytes: 1000,
            original_key: ObjectKey::for_original(id, row.image_type),
            upload_etag: "\"etag\"".into(),
            thumbnail_key: thumbnail.key.clone(),
            renditions: vec![thumbnail, rendition(id, "display", b"display")],
            superseded: vec![Superseded {
                key: rendition(id, "thumbnail", b"older thumbnail").key,
                until: NOW + time::Duration::hours(1),
            }],
            processed_at: OLD,
        }),
        pending_expiry: None,
        ..row.clone()
    }
}

fn rejected(row: &ImageMetadata) -> ImageMetadata {
    ImageMetadata {
        state: ImageState::Rejected(Rejection {
            reason: RejectionReason::TypeMismatch,
            processed_at: OLD,
        }),
        ..row.clone()
    }
}

/// Every key a READY row from [`ready`] allows.
fn allowed_keys(row: &ImageMetadata) -> Vec<String> {
    let ImageState::Ready(ready) = &row.state else {
        unreachable!()
    };
    let mut keys = vec![row.object_key.to_string(), ready.original_key.to_string()];
    keys.extend(ready.renditions.iter().map(|r| r.key.to_string()));
    keys.extend(ready.superseded.iter().map(|s| s.key.to_string()));
    keys
}

fn listed(keys: &[String], at: Option<OffsetDateTime>) -> Vec<Listed> {
    keys.iter()
        .map(|key| Listed {
            key: key.clone(),
            last_modified: at,
        })
        .collect()
}

fn found(judged: &Judged) -> Vec<(Problem, Vec<String>)> {
    judged
        .findings
        .iter()
        .map(|f| (f.problem, f.keys.clone()))
        .collect()
}

#[test]
fn objects_without_a_row_are_orphans_unless_they_are_recent() {
    let row = ready(&pending());
    let keys = allowed_keys(&row);
    let mut objects = listed(&keys[..3], Some(OLD));
    objects.extend(listed(&keys[3..4], Some(NOW)));
    objects.extend(listed(&keys[4..], None));

    let judged = judge(row.image_id, None, &objects, CUTOFF);

    assert_eq!(
        found(&judged),
        vec![(Problem::Orphaned, keys[..3].to_vec())]
    );
    assert_eq!(judged.recent, 2, "a new object and one of unknown age");
}

#[test]
fn a_ready_image_with_all_its_objects_is_fine() {
    let row = ready(&pending());
    let judged = judge(
        row.image_id,
        Some(&row),
        &listed(&allowed_keys(&row), Some(OLD)),
        CUTOFF,
    );
    assert_eq!(judged, Judged::default());
}

#[test]
fn a_ready_image_keeps_what_it_names_and_nothing_else() {
    let row = ready(&pending());
    let id = row.image_id;
    let stray = vec![
        rendition(id, "display", b"a reprocessing that never landed")
            .key
            .to_string(),
        ObjectKey::for_original(id, ImageType::Png).to_string(),
        ObjectKey::for_legacy_thumbnail(id).to_string(),
    ];
    let mut objects = listed(&allowed_keys(&row), Some(OLD));
    objects.extend(listed(&stray, Some(OLD)));

    let judged = judge(id, Some(&row), &objects, CUTOFF);

    assert_eq!(
        found(&judged),
        vec![(Problem::NotAllowed(StateName::Ready), stray)]
    );
}

#[test]
fn a_ready_image_without_its_original_is_lost_whatever_is_left() {
    let row = ready(&pending());
    let keys: Vec<String> = allowed_keys(&row)
        .into_iter()
        .filter(|k| !k.starts_with(ObjectKey::ORIGINALS_PREFIX))
        .collect();
    // Even a new object goes with it: nothing of the image can be served or made again.
    let mut objects = listed(&keys[..1], Some(OLD));
    objects.extend(listed(&keys[1..], Some(NOW)));

    let judged = judge(row.image_id, Some(&row), &objects, CUTOFF);

    assert_eq!(found(&judged), vec![(Problem::Lost, keys)]);
}

#[test]
fn a_ready_image_missing_a_rendition_gets_it_made_again() {
    let row = ready(&pending());
    let ImageState::Ready(image) = &row.state else {
        unreachable!()
    };
    let display = image.renditions[1].key.to_string();
    let keys: Vec<String> = allowed_keys(&row)
        .into_iter()
        .filter(|k| *k != display)
        .collect();
    // A superseded rendition that is gone is no loss: nothing serves it any more.
    let superseded = image.superseded[0].key.to_string();
    let keys: Vec<String> = keys.into_iter().filter(|k| *k != superseded).collect();

    let judged = judge(row.image_id, Some(&row), &listed(&keys, Some(OLD)), CUTOFF);

    assert_eq!(
        found(&judged),
        vec![(Problem::RenditionsMissing, vec![display])]
    );
}

#[test]
fn a_row_from_before_renditions_serves_its_old_thumbnail() {
    let row = ready(&pending());
    let ImageState::Ready(image) = &row.state else {
        unreachable!()
    };
    let legacy = ObjectKey::for_legacy_thumbnail(row.image_id);
    let row = ImageMetadata {
        state: ImageState::Ready(ReadyImage {
            thumbnail_key: legacy.clone(),
            renditions: Vec::new(),
            superseded: Vec::new(),
            ..image.clone()
        }),
        ..row.clone()
    };
    let with = listed(
        &[image.original_key.to_string(), legacy.to_string()],
        Some(OLD),
    );
    assert_eq!(
        judge(row.image_id, Some(&row), &with, CUTOFF),
        Judged::default()
    );

    let without = listed(&[image.original_key.to_string()], Some(OLD));
    assert_eq!(
        found(&judge(row.image_id, Some(&row), &without, CUTOFF)),
        vec![(Problem::RenditionsMissing, vec![legacy.to_string()])]
    );
}

#[test]
fn a_rejected_image_keeps_nothing_and_a_pending_one_is_left_alone() {
    let row = pending();
    let keys = allowed_keys(&ready(&row));
    let objects = listed(&keys, Some(OLD));

    let judged = judge(row.image_id, Some(&rejected(&row)), &objects, CUTOFF);
    assert_eq!(
        found(&judged),
        vec![(Problem::NotAllowed(StateName::Rejected), keys)]
    );
    // Uploading, or in processing (its original and renditions written, the row not settled
    // yet): nothing is taken from it.
    assert_eq!(
        judge(row.image_id, Some(&row), &objects, CUTOFF),
        Judged::default()
    );
}

#[test]
fn every_problem_has_its_own_name() {
    let problems = [
        Problem::Orphaned,
        Problem::NotAllowed(StateName::Pending),
        Problem::NotAllowed(StateName::Ready),
        Problem::NotAllowed(StateName::Rejected),
        Problem::Lost,
        Problem::RenditionsMissing,
    ];
    let names: HashSet<&str> = problems.iter().map(|p| p.as_str()).collect();
    assert_eq!(names.len(), problems.len());
}

#[test]
fn many_lost_or_orphaned_images_at_once_wait_for_a_person() {
    let findings = |problem, n: usize| -> Vec<(Finding, Vec<Listed>)> {
        (0..n)
            .map(|_| {
                let finding = Finding {
                    image_id: ImageId::new_random(),
                    problem,
                    keys: Vec::new(),
                    repair: Repair::NotTried,
                };
                (finding, Vec::new())
            })
            .collect()
    };
    let report = |images, ready_rows| Report {
        images,
        ready_rows,
        ..Report::default()
    };
    // Up to the bound, repaired; one more, refused, saying why.
    assert!(unattended_refusals(&findings(Problem::Lost, 10), &report(0, 500)).is_empty());
    let refused = unattended_refusals(&findings(Problem::Lost, 11), &report(0, 500));
    assert_eq!(refused.keys().collect::<Vec<_>>(), [&Problem::Lost]);
    assert!(refused[&Problem::Lost].contains("--force"), "{refused:?}");
    // Beyond the floor, the bound is a share of the deployment.
    assert!(unattended_refusals(&findings(Problem::Lost, 30), &report(0, 3000)).is_empty());
    assert!(!unattended_refusals(&findings(Problem::Lost, 31), &report(0, 3000)).is_empty());
    assert!(unattended_refusals(&findings(Problem::Orphaned, 100), &report(500, 0)).is_empty());
    assert!(!unattended_refusals(&findings(Problem::Orphaned, 101), &report(500, 0)).is_empty());
    assert!(unattended_refusals(&findings(Problem::Orphaned, 300), &report(3000, 0)).is_empty());
    assert!(!unattended_refusals(&findings(Problem::Orphaned, 301), &report(3000, 0)).is_empty());
    // Objects a row does not allow are bounded by the rows themselves.
    let stray = findings(Problem::NotAllowed(StateName::Ready), 1000);
    assert!(unattended_refusals(&stray, &report(1000, 1000)).is_empty());
}

mod against_mocked_aws {
    //! Faults a local stack cannot be made to produce on cue.

    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::scan::ScanOutput;
    use aws_sdk_s3::operation::delete_object::{DeleteObjectError, DeleteObjectOutput};
    use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
    use aws_sdk_s3::primitives::DateTime;
    use aws_sdk_s3::types::Object;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use std::sync::{Arc, Mutex};

    use aws_sdk_s3::operation::get_object::GetObjectOutput;
    use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::error::NotFound;
    use aws_smithy_mocks::Rule;

    use super::*;
    use crate::aws::dynamodb_item;
    use crate::aws::permissions::{CallCheck, SWEEP};
    use crate::domain::ProcessingPolicy;

    fn sweeper(s3_rules: &[&Rule], dynamodb_rules: &[&Rule]) -> Sweeper {
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3_rules, |c| c
            .retry_config(RetryConfig::disabled()));
        let dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, dynamodb_rules, |c| c
            .retry_config(RetryConfig::disabled()));
        let check = CallCheck::new(&SWEEP);
        let objects = ImageObjects::new(check.on_s3(&s3), "bucket");
        let table = MetadataTable::new(check.on_dynamodb(&dynamodb), "ImageMetadata");
        let processor = Processor::from_parts(
            objects.clone(),
            table.clone(),
            ProcessingPolicy::default(),
            1,
        );
        Sweeper::from_parts(objects, table, processor)
    }

    /// Lists `keys` (those under the prefix asked for, in key order), one key a page.
    fn one_key_a_page(keys: &[String]) -> Rule {
        let mut keys = keys.to_vec();
        keys.sort();
        let asked: Arc<Mutex<(String, usize)>> = Arc::default();
        mock!(aws_sdk_s3::Client::list_objects_v2)
            .match_requests({
                let asked = asked.clone();
                move |req| {
                    let from = req
                        .continuation_token()
                        .map_or(0, |t| t.parse::<usize>().unwrap());
                    *asked.lock().unwrap() = (req.prefix().unwrap_or_default().to_owned(), from);
                    true
                }
            })
            .then_output(move || {
                let (prefix, from) = asked.lock().unwrap().clone();
                let under: Vec<&String> = keys.iter().filter(|k| k.starts_with(&prefix)).collect();
                let old = DateTime::from_secs(OLD.unix_timestamp());
                let page = ListObjectsV2Output::builder().set_contents(Some(
                    under
                        .get(from)
                        .map(|key| Object::builder().key(*key).last_modified(old).build())
                        .into_iter()
                        .collect(),
                ));
                if from + 1 < under.len() {
                    page.is_truncated(true)
                        .next_continuation_token((from + 1).to_string())
                        .build()
                } else {
                    page.is_truncated(false).build()
                }
            })
    }

    fn no_rows() -> [Rule; 3] {
        [
            mock!(aws_sdk_dynamodb::Client::batch_get_item)
                .then_output(|| BatchGetItemOutput::builder().build()),
            mock!(aws_sdk_dynamodb::Client::get_item)
                .then_output(|| GetItemOutput::builder().build()),
            mock!(aws_sdk_dynamodb::Client::scan).then_output(|| ScanOutput::builder().build()),
        ]
    }

    #[tokio::test]
    async fn each_image_is_judged_once_with_all_its_objects_across_pages_and_strays() {
        let mut ids = [ImageId::new_random(), ImageId::new_random()];
        ids.sort();
        let [a, b] = ids;
        let rendition = |id, name: &str| rendition(id, name, b"pixels").key.to_string();
        let a_keys = vec![
            format!("originals/{a}.jpg"),
            rendition(a, "display"),
            rendition(a, "thumbnail"),
        ];
        let b_keys = vec![rendition(b, "thumbnail")];
        // Keys of another shape that start as the image's do, between its own in key order.
        let strays = vec![
            format!("originals/{b}.jpg.bak"),
            format!("renditions/{a}/notes.txt"),
        ];
        let all: Vec<String> = a_keys
            .iter()
            .chain(&b_keys)
            .chain(&strays)
            .cloned()
            .collect();
        let [batch_get, get, scan] = no_rows();

        let report = sweeper(&[&one_key_a_page(&all)], &[&batch_get, &get, &scan])
            .run(
                Options {
                    repair: false,
                    grace: GRACE_DEFAULT,
                    force: false,
                },
                NOW,
            )
            .await
            .unwrap();

        let found: Vec<(ImageId, Problem, Vec<String>)> = report
            .findings
            .iter()
            .map(|f| {
                let mut keys = f.keys.clone();
                keys.sort();
                (f.image_id, f.problem, keys)
            })
            .collect();
        let mut a_sorted = a_keys.clone();
        a_sorted.sort();
        assert_eq!(
            found,
            [
                (a, Problem::Orphaned, a_sorted),
                (b, Problem::Orphaned, b_keys)
            ]
        );
        let mut strays = strays;
        strays.sort();
        assert_eq!(report.foreign, strays);
        assert_eq!((report.objects, report.images), (6, 2));
    }

    #[tokio::test]
    async fn renditions_that_cannot_be_made_again_are_a_failed_repair_not_a_done_one() {
        let row = ready(&pending());
        let ImageState::Ready(image) = &row.state else {
            unreachable!()
        };
        let original = image.original_key.to_string();
        let item = dynamodb_item(&row);
        let (batch_item, get_item) = (item.clone(), item);
        let listed = original.clone();
        let s3 = [
            mock!(aws_sdk_s3::Client::list_objects_v2)
                .match_requests(|req| req.prefix() == Some(ObjectKey::ORIGINALS_PREFIX))
                .then_output(move || {
                    let old = DateTime::from_secs(OLD.unix_timestamp());
                    ListObjectsV2Output::builder()
                        .contents(Object::builder().key(&listed).last_modified(old).build())
                        .is_truncated(false)
                        .build()
                }),
            mock!(aws_sdk_s3::Client::list_objects_v2)
                .then_output(|| ListObjectsV2Output::builder().is_truncated(false).build()),
            mock!(aws_sdk_s3::Client::head_object)
                .match_requests(move |req| req.key() == Some(original.as_str()))
                .then_output(|| {
                    HeadObjectOutput::builder()
                        .content_length(20)
                        .e_tag("\"etag\"")
                        .build()
                }),
            mock!(aws_sdk_s3::Client::head_object)
                .then_error(|| HeadObjectError::NotFound(NotFound::builder().build())),
            // The original is no longer an image this processor accepts.
            mock!(aws_sdk_s3::Client::get_object).then_output(|| {
                GetObjectOutput::builder()
                    .body(ByteStream::from_static(b"not a JPEG any more"))
                    .build()
            }),
        ];
        let dynamodb = [
            mock!(aws_sdk_dynamodb::Client::batch_get_item).then_output(move || {
                BatchGetItemOutput::builder()
                    .responses("ImageMetadata", vec![batch_item.clone()])
                    .build()
            }),
            mock!(aws_sdk_dynamodb::Client::get_item).then_output(move || {
                GetItemOutput::builder()
                    .set_item(Some(get_item.clone()))
                    .build()
            }),
            mock!(aws_sdk_dynamodb::Client::scan).then_output(|| ScanOutput::builder().build()),
        ];
        let s3: Vec<&Rule> = s3.iter().collect();
        let dynamodb: Vec<&Rule> = dynamodb.iter().collect();

        let report = sweeper(&s3, &dynamodb)
            .run(Options::SCHEDULED, NOW)
            .await
            .unwrap();

        assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
        let finding = &report.findings[0];
        assert_eq!(finding.problem, Problem::RenditionsMissing);
        assert!(
            matches!(&finding.repair, Repair::Failed(why) if why.contains("not made again")),
            "{:?}",
            finding.repair
        );
        assert_eq!(report.failed(), 1);
    }

    #[tokio::test]
    async fn a_repair_that_fails_is_reported_and_the_sweep_goes_on() {
        let mut keys: Vec<String> = (0..2)
            .map(|_| format!("originals/{}.jpg", ImageId::new_random()))
            .collect();
        keys.sort();
        let (failing, deletable) = (keys[0].clone(), keys[1].clone());
        let listed = keys.clone();
        let s3 = mock_client!(
            aws_sdk_s3,
            RuleMode::MatchAny,
            &[
                &mock!(aws_sdk_s3::Client::list_objects_v2)
                    .match_requests(|req| req.prefix() == Some(ObjectKey::ORIGINALS_PREFIX))
                    .then_output(move || {
                        let old = DateTime::from_secs(OLD.unix_timestamp());
                        ListObjectsV2Output::builder()
                            .set_contents(Some(
                                listed
                                    .iter()
                                    .map(|key| {
                                        Object::builder().key(key).last_modified(old).build()
                                    })
                                    .collect(),
                            ))
                            .is_truncated(false)
                            .build()
                    }),
                &mock!(aws_sdk_s3::Client::list_objects_v2)
                    .then_output(|| ListObjectsV2Output::builder().is_truncated(false).build()),
                &mock!(aws_sdk_s3::Client::delete_object)
                    .match_requests(move |req| req.key() == Some(failing.as_str()))
                    .then_error(|| {
                        DeleteObjectError::generic(
                            ErrorMetadata::builder()
                                .code("AccessDenied")
                                .message("denied")
                                .build(),
                        )
                    }),
                &mock!(aws_sdk_s3::Client::delete_object)
                    .then_output(|| DeleteObjectOutput::builder().build()),
            ],
            |c| c.retry_config(RetryConfig::disabled())
        );
        let dynamodb = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            &[
                &mock!(aws_sdk_dynamodb::Client::batch_get_item)
                    .then_output(|| BatchGetItemOutput::builder().build()),
                &mock!(aws_sdk_dynamodb::Client::get_item)
                    .then_output(|| GetItemOutput::builder().build()),
                &mock!(aws_sdk_dynamodb::Client::scan)
                    .then_output(|| ScanOutput::builder().build()),
            ],
            |c| c.retry_config(RetryConfig::disabled())
        );
        let check = CallCheck::new(&SWEEP);
        let objects = ImageObjects::new(check.on_s3(&s3), "bucket");
        let table = MetadataTable::new(check.on_dynamodb(&dynamodb), "ImageMetadata");
        let processor = Processor::from_parts(
            objects.clone(),
            table.clone(),
            ProcessingPolicy::default(),
            1,
        );

        let report = Sweeper::from_parts(objects, table, processor)
            .run(
                Options {
                    repair: true,
                    grace: GRACE_DEFAULT,
                    force: false,
                },
                NOW,
            )
            .await
            .expect("a failed repair does not stop the run");

        let outcomes: Vec<(Vec<String>, bool)> = report
            .findings
            .iter()
            .map(|f| {
                assert_eq!(f.problem, Problem::Orphaned);
                (f.keys.clone(), f.repair == Repair::Done)
            })
            .collect();
        assert_eq!(
            outcomes,
            vec![(vec![keys[0].clone()], false), (vec![deletable], true)]
        );
        let Repair::Failed(error) = &report.findings[0].repair else {
            panic!("{:?}", report.findings[0].repair);
        };
        assert!(error.contains("deleting an object"), "{error}");
        assert_eq!(report.failed(), 1);
        assert_eq!(report.summary()["failed"], 1);
        assert_eq!(report.summary()["repaired"], 1);
    }
}
