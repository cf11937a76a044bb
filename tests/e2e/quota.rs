//! Per-user limits against DynamoDB Local: a burst cannot race past a limit, and after uploads,
//! rejections, deletes and a lapsed slot the owner's usage item says exactly what the rows say.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use image_upload::aws::{Admission, MetadataTable, USAGE_KEY_PREFIX};
use image_upload::domain::{
    Counted, FileName, ImageId, ImageMetadata, ImageType, InFlight, NewUpload, Owner, QuotaPolicy,
    UploadPolicy, UploadSize,
};
use serde_json::json;
use time::OffsetDateTime;

use crate::helpers::{TestApp, Uploads, audit_usage, slots, spawn, spawn_app_with};

const JPEG: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.jpg");
const SETTLE: Duration = Duration::from_secs(30);

type Item = HashMap<String, AttributeValue>;

#[tokio::test]
async fn two_hundred_concurrent_uploads_against_a_limit_of_fifty_get_exactly_fifty_urls() {
    // DynamoDB Local writes the one usage item a few hundred times a second, not DynamoDB's
    // thousand with millisecond latency: the burst queues behind it for seconds, which the
    // deployment's 4 s operation timeout would turn into 503s. The count is what is tested.
    let app = spawn_app_with(&[
        ("MAX_UPLOADS_IN_FLIGHT", "50"),
        ("AWS_ATTEMPT_TIMEOUT_MS", "30000"),
        ("AWS_OPERATION_TIMEOUT_MS", "60000"),
    ])
    .await;
    let body = json!({"fileName": "burst.jpg", "fileType": "image/jpeg", "fileSize": JPEG.len()});

    let replies = futures_util::future::join_all((0..200).map(|_| async {
        let response = app.post_upload(&body).await;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: serde_json::Value = response.json().await.unwrap();
        (status, body, retry_after)
    }))
    .await;

    let mut by_answer: BTreeMap<(u16, String), usize> = BTreeMap::new();
    for (status, body, retry_after) in &replies {
        let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
        if *status == 429 {
            let wait: u64 = retry_after
                .as_deref()
                .expect("Retry-After")
                .parse()
                .unwrap();
            assert!((1..=5).contains(&wait), "Retry-After: {wait}");
        }
        *by_answer.entry((*status, code)).or_default() += 1;
    }
    assert_eq!(
        by_answer,
        BTreeMap::from([
            ((200, String::new()), 50),
            ((429, "TOO_MANY_UPLOADS_IN_FLIGHT".into()), 150),
        ])
    );
    // Exactly the 50 URLs have rows, and the usage item counts exactly them.
    let granted: HashSet<String> = replies
        .iter()
        .filter(|(status, ..)| *status == 200)
        .map(|(_, body, _)| body["imageId"].as_str().unwrap().to_owned())
        .collect();
    let (rows, usage) = rows_and_usage(&app).await;
    let row_ids: HashSet<String> = rows.iter().map(|row| s(row, "imageId")).collect();
    assert_eq!(row_ids, granted);
    assert_eq!(number(&usage, "images"), 50);
    assert_eq!(number(&usage, "bytes"), 50 * JPEG.len() as i64);
    assert_eq!(number(&usage, "startedInHour"), 50);
    assert_eq!(usage["inFlight"].as_ss().unwrap().len(), 50);
    assert_eq!(audit_usage(&rows, &usage), Ok(()));
    let (status, seen) = app.get_json("/usage").await;
    assert_eq!(status, 200);
    assert_eq!(seen["images"], 50);
    assert_eq!(seen["uploadsInFlight"], 50);
    assert_eq!(seen["limits"]["maxUploadsInFlight"], 50);
}

#[tokio::test]
async fn the_counts_match_the_rows_after_uploads_rejections_deletes_and_a_lapsed_slot() {
    let app = spawn(&[("MAX_UPLOADS_IN_FLIGHT", "3")], Uploads::Processed).await;
    let table = MetadataTable::new(app.dynamodb.clone(), &app.table);
    let owner = Owner::anonymous();

    // Three READY images, one of them without a declared size (counted as the largest upload
    // until it is verified, then at its size); one of them deleted.
    let sized = json!({"fileName": "a.jpg", "fileType": "image/jpeg", "fileSize": JPEG.len()});
    let mut ready = Vec::new();
    for body in [
        sized.clone(),
        json!({"fileName": "b.jpg", "fileType": "image/jpeg"}),
        sized.clone(),
    ] {
        let upload = app.presign(&body).await;
        assert_eq!(
            app.put_with_given_headers(&upload, JPEG.to_vec())
                .await
                .status(),
            200
        );
        let id = upload["imageId"].as_str().unwrap().to_owned();
        assert_eq!(app.settled_status(&id, SETTLE).await, "READY");
        ready.push(id);
    }
    assert_eq!(app.delete(&format!("/images/{}", ready[0])).await, 204);
    // A REJECTED upload gives everything back.
    let text = b"not an image at all";
    let refused = app
        .presign(&json!({"fileName": "c.jpg", "fileType": "image/jpeg", "fileSize": text.len()}))
        .await;
    assert_eq!(
        app.put_with_given_headers(&refused, text.to_vec())
            .await
            .status(),
        200
    );
    let refused = refused["imageId"].as_str().unwrap().to_owned();
    assert_eq!(app.settled_status(&refused, SETTLE).await, "REJECTED");
    // A PENDING upload deleted before its bytes came.
    let abandoned = app.presign(&sized).await;
    let abandoned = abandoned["imageId"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/images/{abandoned}")).await, 204);
    let (rows, usage) = rows_and_usage(&app).await;
    assert_eq!(audit_usage(&rows, &usage), Ok(()));
    assert_eq!(number(&usage, "images"), 2);

    // A slot whose time has passed (a URL nobody used, counted as the API counts it), and two
    // uploads in flight: the limit of 3 is full until the lapsed slot is given back, which the
    // next upload does.
    let lapsed = lapsed_upload(&app, &table, &owner).await;
    let in_flight = [app.presign(&sized).await, app.presign(&sized).await];
    assert_eq!(number(&rows_and_usage(&app).await.1, "images"), 5);
    let admitted = app.post_upload(&sized).await;
    assert_eq!(admitted.status(), 200, "{}", admitted.text().await.unwrap());
    let (rows, usage) = rows_and_usage(&app).await;
    assert_eq!(audit_usage(&rows, &usage), Ok(()));
    assert_eq!(
        number(&usage, "images"),
        2 + 3,
        "two READY, three in flight"
    );
    assert!(
        !slots(&usage).contains(&lapsed.entry()),
        "the lapsed slot was given back"
    );
    // Its bytes arrive after all (a PUT that began before the URL expired): the image is counted
    // anew when it settles READY.
    app.s3
        .put_object()
        .bucket(&app.bucket)
        .key(format!("uploads/{}.jpg", lapsed.image_id))
        .content_type("image/jpeg")
        .body(JPEG.to_vec().into())
        .send()
        .await
        .expect("PUT the lapsed upload's bytes");
    let id = lapsed.image_id.to_string();
    assert_eq!(app.settled_status(&id, SETTLE).await, "READY");
    for upload in &in_flight {
        let id = upload["imageId"].as_str().unwrap();
        assert_eq!(app.delete(&format!("/images/{id}")).await, 204);
    }
    let (rows, usage) = rows_and_usage(&app).await;
    assert_eq!(audit_usage(&rows, &usage), Ok(()));
    assert_eq!(
        number(&usage, "images"),
        2 + 1 + 1,
        "three READY, one in flight"
    );
    let (_, seen) = app.get_json("/usage").await;
    assert_eq!(seen["images"], 4);
    assert_eq!(seen["bytes"], number(&usage, "bytes"));
    assert_eq!(seen["uploadsInFlight"], 1);
}

/// Counts an upload whose slot lapsed a minute ago, and writes its PENDING row, as the API would
/// have an hour earlier.
async fn lapsed_upload(app: &TestApp, table: &MetadataTable, owner: &Owner) -> InFlight {
    let now = OffsetDateTime::now_utc();
    let id = ImageId::new_random();
    let upload = NewUpload {
        file_name: FileName::parse("lapsed.jpg").unwrap(),
        image_type: ImageType::Jpeg,
        declared_size: UploadSize::within(JPEG.len() as u64, u64::MAX),
    };
    let policy = UploadPolicy::default();
    let mut row = ImageMetadata::pending(id, upload, &app.bucket, owner.clone(), now, &policy);
    let slot = InFlight::new(id, JPEG.len() as u64, now - time::Duration::minutes(1));
    let quota = QuotaPolicy::default();
    assert_eq!(
        table.charge(owner, &slot, &quota, now).await.unwrap(),
        Admission::Admitted
    );
    row.counted = Some(Counted::InFlight(slot.clone()));
    table.insert(&row).await.unwrap();
    slot
}

/// Every image row, and the owner's usage item.
async fn rows_and_usage(app: &TestApp) -> (Vec<Item>, Item) {
    let (usage, rows): (Vec<Item>, Vec<Item>) = app
        .all_items()
        .await
        .into_iter()
        .partition(|item| s(item, "imageId").starts_with(USAGE_KEY_PREFIX));
    let [usage] = <[Item; 1]>::try_from(usage).expect("one owner, one usage item");
    (rows, usage)
}

fn s(item: &Item, name: &str) -> String {
    item[name].as_s().unwrap().clone()
}

fn number(item: &Item, name: &str) -> i64 {
    item.get(name)
        .map_or(0, |v| v.as_n().unwrap().parse().unwrap())
}

#[tokio::test]
async fn a_scan_of_ready_images_walks_past_usage_items() {
    // `just reprocess` scans the table: a page may end on the owner's usage item, which the
    // filter leaves out; the next page must start after it all the same.
    let app = spawn(&[], Uploads::Processed).await;
    let mut ready = HashSet::new();
    for name in ["a.jpg", "b.jpg", "c.jpg"] {
        let id = app.upload(name, "image/jpeg", JPEG).await;
        assert_eq!(app.settled_status(&id, SETTLE).await, "READY");
        ready.insert(id);
    }
    let table = MetadataTable::new(app.dynamodb.clone(), &app.table);
    let (mut seen, mut cursor, mut pages) = (HashSet::new(), None, 0);
    loop {
        let page = table
            .scan_ready(1, cursor)
            .await
            .expect("a page of the scan");
        seen.extend(page.images.iter().map(|row| row.image_id.to_string()));
        pages += 1;
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ready);
    assert!(
        pages >= 4,
        "one item a page, the usage item's included: {pages}"
    );
}
