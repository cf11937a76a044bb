//! Renditions and originals through the local CDN path, with the API's signed URLs: served to a
//! signed URL, refused without one or with one for another image, another prefix, another key;
//! the same URLs for a second listing within the window. And the signer against a reference no
//! one here wrote: botocore's `CloudFrontSigner`.

use std::path::PathBuf;
use std::process::Command;

use image_upload::delivery::{CdnOrigin, PrivateKey, UrlSigner};
use image_upload::domain::{ImageId, ObjectKey, RenditionFormat, RenditionName};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, Uploads, spawn};

const SETTLE: std::time::Duration = std::time::Duration::from_secs(20);

const JPEG: &[u8] = include_bytes!("../../fixtures/images/portrait-exif-rotated.jpg");
const KEY_PAIR_ID: &str = "KLOCALTESTKEY";

fn key_file(name: &str) -> String {
    format!("{}/fixtures/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

async fn spawn_with_cdn() -> TestApp {
    let key = key_file("cdn-test-a.pem");
    spawn(
        &[
            ("CDN_URL", "{address}/cdn"),
            ("CDN_KEY_PAIR_ID", KEY_PAIR_ID),
            ("CDN_PRIVATE_KEY_FILE", key.as_str()),
            // A day: two listings in one test fall in one window unless they straddle midnight.
            ("CDN_URL_WINDOW_SECONDS", "86400"),
        ],
        Uploads::Processed,
    )
    .await
}

async fn get_status(app: &TestApp, url: &str) -> u16 {
    app.http.get(url).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn renditions_and_originals_are_served_through_the_cdn_path_to_signed_urls_only() {
    let app = spawn_with_cdn().await;
    let id = app.upload("portrait.jpg", "image/jpeg", JPEG).await;
    assert_eq!(app.settled_status(&id, SETTLE).await, "READY");
    let (status, image) = app.get_json(&format!("/images/{id}")).await;
    assert_eq!(status, 200, "{image}");
    let cdn = format!("{}/cdn/", app.address);
    let urls: Vec<String> = image["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["url"].as_str().unwrap().to_owned())
        .chain([
            image["thumbnailUrl"].as_str().unwrap().to_owned(),
            image["url"].as_str().unwrap().to_owned(),
        ])
        .collect();
    for url in &urls {
        assert!(url.starts_with(&cdn), "{url}");
        assert!(url.contains("&Hash-Algorithm=SHA256"), "{url}");
    }

    // Served: every rendition (checked against its view), and the original as uploaded.
    let upright = app.rendition(&image, "display").await;
    assert_eq!(upright.dimensions(), (48, 64), "upright");
    app.rendition(&image, "thumbnail").await;
    let original = app
        .http
        .get(image["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(original.status(), 200);
    assert_eq!(original.bytes().await.unwrap().as_ref(), JPEG);

    // Refused: no signature, a signature for another image, another prefix, a tampered policy.
    let display = image["renditions"][0]["url"].as_str().unwrap();
    let (base, query) = display.split_once('?').unwrap();
    assert_eq!(get_status(&app, base).await, 403, "unsigned");
    let other = app.upload("other.jpg", "image/jpeg", JPEG).await;
    assert_eq!(app.settled_status(&other, SETTLE).await, "READY");
    let (_, other_image) = app.get_json(&format!("/images/{other}")).await;
    let other_base = other_image["renditions"][0]["url"]
        .as_str()
        .unwrap()
        .split_once('?')
        .unwrap()
        .0
        .to_owned();
    assert_eq!(
        get_status(&app, &format!("{other_base}?{query}")).await,
        403,
        "one image's signature on another's rendition"
    );
    let upload = format!("{cdn}uploads/{id}.jpg?{query}");
    assert_eq!(
        get_status(&app, &upload).await,
        403,
        "uploads/ is never served"
    );
    let tampered = query.replacen("Policy=eyJ", "Policy=eyK", 1);
    assert_eq!(get_status(&app, &format!("{base}?{tampered}")).await, 403);

    // The same URLs for a second listing within the window.
    let (_, again) = app.get_json(&format!("/images/{id}")).await;
    if again["urlsExpireAt"] == image["urlsExpireAt"] {
        assert_eq!(again["renditions"], image["renditions"]);
        assert_eq!(again["url"], image["url"]);
    }
    let (_, list) = app.get_json("/images").await;
    let listed: &Value = list["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["imageId"] == id.as_str())
        .unwrap();
    if listed["urlsExpireAt"] == image["urlsExpireAt"] {
        assert_eq!(listed["renditions"], image["renditions"]);
    }
}

#[tokio::test]
async fn a_missing_signing_key_is_a_503_without_internals() {
    let missing = key_file("no-such-key.pem");
    let app = spawn(
        &[
            ("CDN_URL", "{address}/cdn"),
            ("CDN_KEY_PAIR_ID", KEY_PAIR_ID),
            ("CDN_PRIVATE_KEY_FILE", missing.as_str()),
        ],
        Uploads::Processed,
    )
    .await;
    let id = app.upload("portrait.jpg", "image/jpeg", JPEG).await;
    assert_eq!(app.settled_status(&id, SETTLE).await, "READY");
    let (status, body) = app.get_json(&format!("/images/{id}")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
    assert!(!body.to_string().contains("no-such-key"), "{body}");
}

/// The Python of the host stack's moto venv (botocore and cryptography, pinned by
/// `localstack/moto-requirements.lock`), installed by `localstack/stack.sh install` if missing.
fn reference_python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lock = std::fs::read(root.join("localstack/moto-requirements.lock")).unwrap();
    let hash: String = Sha256::digest(&lock)[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let cache = std::env::var_os("IMAGE_UPLOAD_STACK_HOME").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/image-upload-stack"),
        PathBuf::from,
    );
    let python = cache.join(format!("moto-{hash}/bin/python"));
    if !python.exists() {
        let status = Command::new(root.join("localstack/stack.sh"))
            .arg("install")
            .status()
            .unwrap();
        assert!(status.success(), "localstack/stack.sh install");
    }
    python
}

#[test]
fn the_signer_makes_the_url_botocore_makes_for_the_same_key_resource_and_expiry() {
    let pem = std::fs::read_to_string(key_file("cdn-test-a.pem")).unwrap();
    let signer = UrlSigner::new(
        CdnOrigin::parse("https://d111111abcdef8.cloudfront.net").unwrap(),
        KEY_PAIR_ID.into(),
        PrivateKey::from_pem(&pem).unwrap(),
        std::time::Duration::from_secs(3600),
    );
    let id = ImageId::new_random();
    let now = time::OffsetDateTime::now_utc();
    let signed = signer.sign_image(id, now);
    let key = ObjectKey::for_rendition(id, RenditionName::thumbnail(), RenditionFormat::Jpeg, b"x");
    let ours = signer.url(&key, &signed);
    let policy = signer.policy(id, signer.expiry(now));
    let script = r#"
import sys
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
key_file, key_pair_id, url, policy = sys.argv[1:5]
with open(key_file, "rb") as f:
    key = serialization.load_pem_private_key(f.read(), password=None)
def rsa_signer(message):
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
print(CloudFrontSigner(key_pair_id, rsa_signer).generate_presigned_url(url, policy=policy))
"#;
    let output = Command::new(reference_python())
        .args([
            "-c",
            script,
            &key_file("cdn-test-a.pem"),
            KEY_PAIR_ID,
            &signer.origin().object_url(&key),
            &policy,
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let botocore = String::from_utf8(output.stdout).unwrap();
    // botocore names no hash (its signer is whatever the caller passes): SHA-256 is ours to say.
    assert_eq!(ours, format!("{}&Hash-Algorithm=SHA256", botocore.trim()));
}
