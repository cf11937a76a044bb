//! `GET /images`, `GET /images/{id}` and `DELETE /images/{id}` against the local stack.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_app_with, spawn_processing_app};

const JPEG: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.jpg");
const SETTLE: Duration = Duration::from_secs(20);

fn ids(page: &Value) -> Vec<String> {
    page["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["imageId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn twenty_five_images_come_in_three_pages_newest_first() {
    // No URL is used, so all 25 stay in flight.
    let app = spawn_app_with(&[("MAX_UPLOADS_IN_FLIGHT", "25")]).await;
    let mut created = Vec::new();
    for n in 0..25 {
        let upload = app
            .presign(&json!({"fileName": format!("photo-{n}.jpg"), "fileType": "image/jpeg"}))
            .await;
        created.push(upload["imageId"].as_str().unwrap().to_owned());
        // createdAt has millisecond precision: keep every image in its own millisecond.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }

    let mut pages = Vec::new();
    let mut path = "/images?limit=10".to_owned();
    loop {
        let (status, page) = app.get_json(&path).await;
        assert_eq!(status, 200, "{page}");
        pages.push(page.clone());
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/images?limit=10&cursor={cursor}"),
            None => break,
        }
        assert!(pages.len() < 10, "the cursor must come to an end");
    }

    let sizes: Vec<usize> = pages.iter().map(|p| ids(p).len()).collect();
    assert_eq!(sizes, [10, 10, 5]);
    let listed: Vec<String> = pages.iter().flat_map(ids).collect();
    let unique: HashSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), 25, "no duplicates");
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(listed, newest_first, "newest first, none missing");
    let first = &pages[0]["images"][0];
    assert_eq!(first["status"], "PENDING");
    assert_eq!(first["fileName"], "photo-24.jpg");
    assert!(
        first.get("url").is_none(),
        "no URLs before the image is READY"
    );
}

#[tokio::test]
async fn bad_limits_and_cursors_are_refused() {
    let app = spawn_app().await;
    for query in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "cursor=bm9wZQ",
        "limit=-1",
    ] {
        let (status, body) = app.get_json(&format!("/images?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "INVALID_QUERY", "{query}");
    }
    let (status, body) = app.get_json("/images").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"images": [], "nextCursor": null}));
}

#[tokio::test]
async fn a_ready_image_comes_with_working_short_lived_urls() {
    let app = spawn_processing_app().await;
    let id = app.upload("sunset.jpg", "image/jpeg", JPEG).await;
    assert_eq!(app.settled_status(&id, SETTLE).await, "READY");

    let (status, image) = app.get_json(&format!("/images/{id}")).await;

    assert_eq!(status, 200, "{image}");
    assert_eq!(image["status"], "READY");
    assert_eq!(
        (image["width"].as_u64(), image["height"].as_u64()),
        (Some(64), Some(48))
    );
    assert_eq!(image["sizeBytes"].as_u64(), Some(JPEG.len() as u64));
    assert_eq!(app.original(&image).await, JPEG);
    app.thumbnail(&image).await;
    assert!(
        image["thumbnailUrl"]
            .as_str()
            .unwrap()
            .contains("X-Amz-Expires=300")
    );
    let names: Vec<&str> = image["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["display", "thumbnail"], "largest first");
    // A 64 x 48 photo is never enlarged: both renditions have its size.
    for name in names {
        let rendition = app.rendition(&image, name).await;
        assert_eq!(rendition.dimensions(), (64, 48), "{name}");
    }
    let (_, list) = app.get_json("/images").await;
    assert_eq!(list["images"][0]["imageId"], id.as_str());
    assert!(
        list["images"][0]["thumbnailUrl"]
            .as_str()
            .is_some_and(|u| u.contains(&format!("renditions/{id}/thumbnail-"))),
        "{list}"
    );
}

#[tokio::test]
async fn delete_removes_both_objects_and_the_row_and_can_be_repeated() {
    let app = spawn_processing_app().await;
    let id = app.upload("sunset.jpg", "image/jpeg", JPEG).await;
    assert_eq!(app.settled_status(&id, SETTLE).await, "READY");
    assert_eq!(app.renditions_stored(&id).await.len(), 2);

    assert_eq!(app.delete(&format!("/images/{id}")).await, 204);

    assert!(!app.object_exists(&format!("uploads/{id}.jpg")).await);
    assert!(!app.object_exists(&format!("originals/{id}.jpg")).await);
    assert_eq!(app.renditions_stored(&id).await, Vec::<String>::new());
    assert!(app.item(&id).await.is_none());
    assert_eq!(
        app.delete(&format!("/images/{id}")).await,
        204,
        "idempotent"
    );
    let (status, body) = app.get_json(&format!("/images/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "IMAGE_NOT_FOUND");
}

#[tokio::test]
async fn another_owners_image_answers_like_a_missing_one_and_is_not_deleted() {
    let app = spawn_app().await;
    let (ana, ben) = ("sub-ana-0001", "sub-ben-0002");
    let (status, upload) = app
        .as_owner(
            ana,
            "POST",
            "/upload",
            Some(json!({"fileName": "mine.png", "fileType": "image/png"})),
        )
        .await;
    assert_eq!(status, 200, "{upload}");
    let id = upload["imageId"].as_str().unwrap();
    let path = format!("/images/{id}");

    let (ben_get, ben_body) = app.as_owner(ben, "GET", &path, None).await;
    let (ben_delete, _) = app.as_owner(ben, "DELETE", &path, None).await;
    let (_, ben_list) = app.as_owner(ben, "GET", "/images", None).await;

    assert_eq!(ben_get, 404);
    assert_eq!(ben_body["error"]["code"], "IMAGE_NOT_FOUND");
    let missing = format!("/images/{}", uuid::Uuid::new_v4());
    let (missing_get, missing_body) = app.as_owner(ben, "GET", &missing, None).await;
    let (missing_delete, _) = app.as_owner(ben, "DELETE", &missing, None).await;
    // Someone else's image and a missing one get the same answers, so ids cannot be probed.
    assert_eq!((ben_get, ben_delete), (missing_get, missing_delete));
    for field in ["code", "message"] {
        assert_eq!(
            ben_body["error"][field], missing_body["error"][field],
            "{field}"
        );
    }
    assert_eq!(ben_delete, 204);
    assert_eq!(ben_list["images"], json!([]));
    assert_eq!(app.item(id).await.unwrap()["owner"].as_s().unwrap(), ana);
    let (ana_get, ana_body) = app.as_owner(ana, "GET", &path, None).await;
    assert_eq!((ana_get, ana_body["imageId"].as_str()), (200, Some(id)));
    let (_, ana_list) = app.as_owner(ana, "GET", "/images?limit=5", None).await;
    assert_eq!(ana_list["images"][0]["imageId"], id);
    let (ana_delete, _) = app.as_owner(ana, "DELETE", &path, None).await;
    assert_eq!(ana_delete, 204);
    assert!(app.item(id).await.is_none());
}
