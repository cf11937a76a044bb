//! HEIF uploads (HEIC and AVIF) through real S3 notifications and a real SQS queue: decoded,
//! turned upright, thumbnailed, settled; and a HEIC declared as AVIF refused.
//!
//! The fixtures and what they show are described in fixtures/images/heif/expected.json.

use std::time::Duration;

use image::{Rgb, RgbImage};

use crate::helpers::{TestApp, spawn_processing_app};

/// A 48-tile grid, 4032 x 3024 as stored, shown 3024 x 4032 after its `irot` (a quarter turn):
/// red, green and blue squares in the displayed top-left, top-right and bottom-left corners.
const IPHONE_HEIC: &[u8] =
    include_bytes!("../../fixtures/images/heif/iphone-grid-4032x3024-irot90.heic");
/// 640 x 480 with an alpha plane: opaque left half, half-transparent right half, and a fully
/// transparent disc of radius 80 around (480, 240).
const ALPHA_AVIF: &[u8] = include_bytes!("../../fixtures/images/heif/alpha-640x480.avif");
/// 640 x 480, 4:4:4.
const PHOTO_444_AVIF: &[u8] = include_bytes!("../../fixtures/images/heif/photo-444-640x480.avif");

/// How long a notification may take to be processed. A 12 MP grid of 48 HEVC tiles takes longer
/// to decode than the small fixtures of the other cases, the more so in a test build on a busy
/// 2-core machine.
const SETTLE: Duration = Duration::from_secs(120);

/// The corner markers' colours (expected.json, "corners").
const RED: [u8; 3] = [230, 30, 30];
const GREEN: [u8; 3] = [30, 200, 60];
const BLUE: [u8; 3] = [30, 60, 230];
const MARKERS: [(&str, [u8; 3]); 3] = [("red", RED), ("green", GREEN), ("blue", BLUE)];
/// How far (Euclidean, in RGB) a thumbnail's patch may be from its marker: about 40 a channel for
/// the lossy coding (HEVC, then the JPEG thumbnail), as expected.json allows.
const NEAR: f64 = 70.0;

/// The mean RGB of the `size` x `size` patch of `image` whose top-left pixel is (`x`, `y`).
fn patch_mean(image: &RgbImage, x: u32, y: u32, size: u32) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for py in y..y + size {
        for px in x..x + size {
            let Rgb(p) = *image.get_pixel(px, py);
            for c in 0..3 {
                sum[c] += f64::from(p[c]);
            }
        }
    }
    let n = f64::from(size * size);
    sum.map(|s| s / n)
}

fn distance(a: [f64; 3], b: [u8; 3]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - f64::from(b)).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Waits for image `id` to settle and asserts it is READY, saying why it was rejected if it was.
async fn assert_ready(app: &TestApp, id: &str) {
    let status = app.settled_status(id, SETTLE).await;
    let reason = app
        .item(id)
        .await
        .and_then(|item| item.get("rejectionReason")?.as_s().ok().cloned());
    assert_eq!(status, "READY", "{id}: rejectionReason {reason:?}");
}

/// Asserts a READY row of `width` x `height` whose original is `bytes` under `extension`, and
/// returns its thumbnail, decoded.
async fn ready_image(
    app: &TestApp,
    id: &str,
    extension: &str,
    bytes: &[u8],
    (width, height): (u64, u64),
) -> RgbImage {
    let item = app.item(id).await.unwrap();
    let n = |name: &str| item[name].as_n().unwrap().parse::<u64>().unwrap();
    assert_eq!((n("width"), n("height")), (width, height), "{id}");
    assert_eq!(n("sizeBytes"), bytes.len() as u64);
    assert!(
        item["thumbnailKey"]
            .as_s()
            .unwrap()
            .starts_with(&format!("renditions/{id}/thumbnail-"))
    );
    assert_eq!(
        item["originalKey"].as_s().unwrap(),
        &format!("originals/{id}.{extension}")
    );
    assert_eq!(
        app.object(&format!("originals/{id}.{extension}")).await,
        bytes
    );
    let (status, image) = app.get_json(&format!("/images/{id}")).await;
    assert_eq!(status, 200, "{image}");
    assert_eq!(image["status"], "READY");
    assert_eq!(
        (image["width"].as_u64(), image["height"].as_u64()),
        (Some(width), Some(height))
    );
    // A display rendition any browser can show, whatever the upload's format.
    let display = app.rendition(&image, "display").await;
    let longest = u64::from(display.width().max(display.height()));
    assert_eq!(longest, width.max(height).min(1600), "{id}");
    let jpeg = app.thumbnail(&image).await;
    image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
        .expect("the thumbnail is a JPEG")
        .to_rgb8()
}

#[tokio::test]
async fn an_iphone_heic_grid_becomes_ready_with_an_upright_thumbnail() {
    let app = spawn_processing_app().await;

    let id = app.upload("IMG_0001.HEIC", "image/heic", IPHONE_HEIC).await;

    assert_ready(&app, &id).await;
    // The displayed size: the quarter turn of the `irot` applied.
    let thumbnail = ready_image(&app, &id, "heic", IPHONE_HEIC, (3024, 4032)).await;
    // Longest side 256 (THUMBNAIL_SIZE's default), the other in proportion.
    assert_eq!((thumbnail.width(), thumbnail.height()), (192, 256));
    // expected.json measures 64 px patches 100 px in from each corner of the 3024 x 4032 image,
    // inside 378 px markers; in the thumbnail (1/15.75 of the size) that is 6 to 10 px in, inside
    // 24 px markers.
    let (w, h, size, inset) = (thumbnail.width(), thumbnail.height(), 5, 6);
    let corners = [
        ("top-left", (inset, inset), RED),
        ("top-right", (w - inset - size, inset), GREEN),
        ("bottom-left", (inset, h - inset - size), BLUE),
    ];
    for (corner, (x, y), expected) in corners {
        let mean = patch_mean(&thumbnail, x, y, size);
        let (nearest, _) = MARKERS
            .iter()
            .min_by(|a, b| distance(mean, a.1).total_cmp(&distance(mean, b.1)))
            .unwrap();
        let (wanted, _) = MARKERS.iter().find(|(_, rgb)| *rgb == expected).unwrap();
        assert_eq!(
            nearest, wanted,
            "the {corner} corner of the thumbnail is {mean:?}: nearer {nearest} than {wanted}"
        );
        assert!(
            distance(mean, expected) < NEAR,
            "the {corner} corner of the thumbnail is {mean:?}, {:.0} from {wanted} {expected:?}",
            distance(mean, expected)
        );
    }
    // No marker in the bottom-right corner, whichever way the image was turned.
    let mean = patch_mean(&thumbnail, w - inset - size, h - inset - size, size);
    for (name, rgb) in MARKERS {
        assert!(
            distance(mean, rgb) >= NEAR,
            "the bottom-right corner of the thumbnail is {mean:?}, near {name}: turned the wrong way"
        );
    }
}

#[tokio::test]
async fn avif_photos_become_ready_with_thumbnails() {
    let app = spawn_processing_app().await;

    let alpha_id = app.upload("alpha.avif", "image/avif", ALPHA_AVIF).await;
    let photo_id = app.upload("photo.avif", "image/avif", PHOTO_444_AVIF).await;

    for (id, bytes) in [(&alpha_id, ALPHA_AVIF), (&photo_id, PHOTO_444_AVIF)] {
        assert_ready(&app, id).await;
        let thumbnail = ready_image(&app, id, "avif", bytes, (640, 480)).await;
        assert_eq!((thumbnail.width(), thumbnail.height()), (256, 192), "{id}");
    }
    // The fully transparent disc around (480, 240), radius 80, is (192, 96), radius 32, in the
    // thumbnail: transparency is flattened onto white.
    let thumbnail = ready_image(&app, &alpha_id, "avif", ALPHA_AVIF, (640, 480)).await;
    let mean = patch_mean(&thumbnail, 190, 94, 5);
    assert!(
        distance(mean, [255, 255, 255]) < 30.0,
        "the transparent disc of the AVIF's thumbnail is {mean:?}, not white"
    );
}

#[tokio::test]
async fn a_heic_declared_as_avif_is_rejected_as_a_type_mismatch() {
    let app = spawn_processing_app().await;

    let id = app.upload("photo.avif", "image/avif", IPHONE_HEIC).await;

    app.assert_rejected(&id, "avif", "TYPE_MISMATCH", SETTLE)
        .await;
}
