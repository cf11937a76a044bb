//! `reprocess` against the local stack: after the rendition set changes, READY images are brought
//! to it through the real queue and processor, in as many runs as it takes (a run limited to a
//! few first, as an interrupted one would leave it); the renditions it replaces stay until a
//! later run finds their time up and deletes them; then a run asks for nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use image::{ImageFormat, Rgb, RgbImage};
use image_upload::aws::MetadataTable;
use image_upload::reprocess::{self, Options};

use crate::helpers::{Uploads, spawn};

const SETTLE: Duration = Duration::from_secs(30);

/// A 400 × 300 JPEG of one colour per `seed`: renditions of 128 and 256 px differ.
fn photo(seed: u8) -> Vec<u8> {
    let image = RgbImage::from_fn(400, 300, |x, y| {
        Rgb([seed.wrapping_mul(12), (x / 2) as u8, (y / 2) as u8])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, ImageFormat::Jpeg).unwrap();
    bytes.into_inner()
}

#[tokio::test]
async fn reprocessing_brings_twenty_images_to_a_new_rendition_set_and_then_asks_for_nothing() {
    // Renditions a reprocessing replaces are due at once, so that a later run deletes them.
    let mut app = spawn(
        &[
            ("RENDITIONS", "thumbnail:128"),
            ("SUPERSEDED_RENDITIONS_KEPT_SECONDS", "0"),
        ],
        Uploads::Processed,
    )
    .await;
    let mut ids = Vec::new();
    for seed in 0..20 {
        ids.push(
            app.upload(&format!("photo-{seed}.jpg"), "image/jpeg", &photo(seed))
                .await,
        );
    }
    for id in &ids {
        assert_eq!(app.settled_status(id, SETTLE).await, "READY", "{id}");
    }
    let old_thumbnails: BTreeSet<String> =
        futures_util::future::join_all(ids.iter().map(|id| app.renditions_stored(id)))
            .await
            .into_iter()
            .flatten()
            .collect();
    assert_eq!(old_thumbnails.len(), 20);

    // The configuration changes: a larger thumbnail and a display rendition.
    let wanted = "thumbnail:256,display:1600";
    app.restart_processor(wanted).await;
    let table = MetadataTable::new(app.dynamodb.clone(), &app.table);
    let queue = app.queue_url.clone().unwrap();
    let renditions = app.settings.processing.renditions;
    let pass = |limit: Option<usize>| {
        let (table, queue, sqs) = (table.clone(), queue.clone(), app.sqs.clone());
        async move {
            let options = Options {
                rate: 50,
                limit,
                wait: Duration::from_secs(60),
                ..Options::default()
            };
            let mut seen = Vec::new();
            let report = reprocess::run(&table, &sqs, &queue, &renditions, options, |p| {
                seen.push(p);
            })
            .await
            .unwrap();
            (report, seen)
        }
    };

    // A first run limited to 5: what an interrupted run leaves.
    let (first, progress) = pass(Some(5)).await;
    assert_eq!(first.ready, 5 + first.up_to_date, "it stopped at its limit");
    assert_eq!((first.requested.len(), first.done), (5, 5), "{first:?}");
    assert!(first.not_done.is_empty());
    assert!(
        matches!(
            progress.last(),
            Some(reprocess::Progress::Waiting {
                done: 5,
                requested: 5
            })
        ),
        "{progress:?}"
    );
    // The first five keep their replaced thumbnails until a later run: a URL handed out for one
    // before would still work.
    for id in &first.requested {
        let stored = app.renditions_stored(&id.to_string()).await;
        assert_eq!(
            stored.len(),
            3,
            "display, thumbnail and the old one: {stored:?}"
        );
        assert_eq!(
            stored
                .iter()
                .filter(|key| old_thumbnails.contains(*key))
                .count(),
            1
        );
    }

    // A READY row that cannot be read back (no renditions, no dimensions) is named, left as it
    // is, and stops nothing.
    let broken = uuid::Uuid::new_v4().to_string();
    app.dynamodb
        .put_item()
        .table_name(&app.table)
        .item("imageId", AttributeValue::S(broken.clone()))
        .item("status", AttributeValue::S("READY".into()))
        .send()
        .await
        .unwrap();

    // The rest, and the first five's replaced thumbnails, now due.
    let (second, _) = pass(None).await;
    assert_eq!(second.malformed.len(), 1, "{second:?}");
    assert_eq!(second.malformed[0].0.as_deref(), Some(broken.as_str()));
    assert!(
        second.malformed[0]
            .1
            .starts_with("stored image metadata is malformed"),
        "{second:?}"
    );
    assert_eq!(second.ready, 20);
    assert_eq!(second.up_to_date, 0, "{second:?}");
    assert_eq!(
        (second.requested.len(), second.done),
        (20, 20),
        "{second:?}"
    );
    // The fifteen's replaced thumbnails, due since.
    let (third, _) = pass(None).await;
    assert_eq!((third.ready, third.up_to_date), (20, 5), "{third:?}");
    assert_eq!((third.requested.len(), third.done), (15, 15), "{third:?}");
    let (fourth, _) = pass(None).await;
    assert_eq!((fourth.ready, fourth.up_to_date), (20, 20));
    assert_eq!(
        fourth.malformed.len(),
        1,
        "still there, untouched: {fourth:?}"
    );
    assert!(fourth.requested.is_empty(), "nothing changes: {fourth:?}");

    for id in &ids {
        let (status, image) = app.get_json(&format!("/images/{id}")).await;
        assert_eq!(status, 200, "{image}");
        let sides: BTreeSet<(String, u64)> = image["renditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let side = r["width"]
                    .as_u64()
                    .unwrap()
                    .max(r["height"].as_u64().unwrap());
                (r["name"].as_str().unwrap().to_owned(), side)
            })
            .collect();
        assert_eq!(
            sides,
            BTreeSet::from([("display".to_owned(), 400), ("thumbnail".to_owned(), 256)]),
            "{id}"
        );
        assert_eq!(
            app.rendition(&image, "thumbnail").await.dimensions(),
            (256, 192)
        );
        // The bucket holds exactly the renditions the row names: the old thumbnail is gone.
        let stored = app.renditions_stored(id).await;
        assert_eq!(stored.len(), 2, "{stored:?}");
        assert!(
            stored.iter().all(|key| !old_thumbnails.contains(key)),
            "{stored:?}"
        );
    }
}
