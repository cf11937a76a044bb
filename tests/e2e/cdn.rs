//! Renditions and originals through the local CDN path, with the API's signed URLs: served to a
//! signed URL, refused without one or with one for another image, another prefix, another key;
//! the same URLs for a second listing within the window. And the signer against references no
//! one here wrote: AWS's JavaScript signer (`@aws-sdk/cloudfront-signer`) for both kinds of key,
//! botocore's `CloudFrontSigner` for RSA.

use std::path::PathBuf;
use std::process::Command;

use image_upload::delivery::{
    CdnOrigin, KeyKind, PrivateKey, PublicKey, SignedUrlChecker, UrlSigner,
    cloudfront_base64_decode,
};
use image_upload::domain::{ImageId, ObjectKey, RenditionFormat, RenditionName};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, Uploads, create_secret, spawn};

const SETTLE: std::time::Duration = std::time::Duration::from_secs(20);

const JPEG: &[u8] = include_bytes!("../../fixtures/images/portrait-exif-rotated.jpg");
const KEY_PAIR_ID: &str = "KLOCALTESTKEY";

fn key_file(name: &str) -> String {
    format!("{}/fixtures/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

async fn spawn_with_cdn() -> TestApp {
    let key = key_file("cdn-test-ec-a.pem");
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
    assert_eq!(app.original(&image).await, JPEG);

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
async fn the_key_is_read_from_its_secret_as_in_a_deployment() {
    let secret = format!("e2e-{}/cdn/private-key-A", uuid::Uuid::new_v4().simple());
    let pem = std::fs::read_to_string(key_file("cdn-test-ec-a.pem")).unwrap();
    create_secret(&secret, &pem).await;
    let app = spawn(
        &[
            ("CDN_URL", "{address}/cdn"),
            ("CDN_KEY_PAIR_ID", KEY_PAIR_ID),
            ("CDN_PRIVATE_KEY_SECRET", secret.as_str()),
        ],
        Uploads::Processed,
    )
    .await;
    let id = app.upload("portrait.jpg", "image/jpeg", JPEG).await;
    assert_eq!(app.settled_status(&id, SETTLE).await, "READY");
    let (status, image) = app.get_json(&format!("/images/{id}")).await;
    assert_eq!(status, 200, "{image}");
    assert_eq!(
        app.rendition(&image, "display").await.dimensions(),
        (48, 64)
    );
    assert_eq!(app.original(&image).await, JPEG);
}

#[tokio::test]
async fn a_missing_signing_key_is_a_503_without_internals() {
    let missing_file = key_file("no-such-key.pem");
    let missing_secret = format!("e2e-{}/no-such-key", uuid::Uuid::new_v4().simple());
    for source in [
        ("CDN_PRIVATE_KEY_FILE", missing_file.as_str()),
        ("CDN_PRIVATE_KEY_SECRET", missing_secret.as_str()),
    ] {
        let app = spawn(
            &[
                ("CDN_URL", "{address}/cdn"),
                ("CDN_KEY_PAIR_ID", KEY_PAIR_ID),
                source,
            ],
            Uploads::Processed,
        )
        .await;
        let id = app.upload("portrait.jpg", "image/jpeg", JPEG).await;
        assert_eq!(app.settled_status(&id, SETTLE).await, "READY");
        let (status, body) = app.get_json(&format!("/images/{id}")).await;
        assert_eq!(status, 503, "{}: {body}", source.0);
        assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
        assert!(!body.to_string().contains("no-such-key"), "{body}");
    }
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

/// A signer for the reference checks: the fixture key `key`, a distribution's origin, an hour's
/// window.
fn reference_signer(key: &str) -> UrlSigner {
    let pem = std::fs::read_to_string(key_file(key)).unwrap();
    UrlSigner::new(
        CdnOrigin::parse("https://d111111abcdef8.cloudfront.net").unwrap(),
        KEY_PAIR_ID.into(),
        PrivateKey::from_pem(&pem).unwrap(),
        std::time::Duration::from_secs(3600),
    )
}

#[test]
fn the_signer_makes_the_url_botocore_makes_for_the_same_key_resource_and_expiry() {
    let signer = reference_signer("cdn-test-a.pem");
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

/// `node tests/e2e/cloudfront-signer/sign.cjs ARGS`, installing its package (pinned by its
/// lockfile) the first time.
fn aws_js_signer(args: &[&str]) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/cloudfront-signer");
    if !dir.join("node_modules/@aws-sdk/cloudfront-signer").exists() {
        let status = Command::new("npm")
            .args([
                "ci",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .current_dir(&dir)
            .status()
            .expect("npm (installed by `just packages stack`)");
        assert!(status.success(), "npm ci in {}", dir.display());
    }
    let output = Command::new("node")
        .arg(dir.join("sign.cjs"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// The query parameters of `url`, sorted (the two signers write them in different orders).
fn params(url: &str) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = url
        .split_once('?')
        .unwrap()
        .1
        .split('&')
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap();
            (name.to_owned(), value.to_owned())
        })
        .collect();
    params.sort();
    params
}

#[test]
fn the_signer_agrees_with_awss_javascript_signer_for_both_kinds_of_key() {
    for (key, public, deterministic_alike) in [
        // RSASSA-PKCS1-v1_5 is deterministic: the same signature.
        ("cdn-test-a.pem", "cdn-test-a.pub.pem", true),
        // ECDSA: AWS's signer (node's crypto) draws a random nonce, ours follows RFC 6979: two
        // signatures, each of which must verify under the other side's check.
        ("cdn-test-ec-a.pem", "cdn-test-ec-a.pub.pem", false),
    ] {
        let signer = reference_signer(key);
        let id = ImageId::new_random();
        let now = time::OffsetDateTime::now_utc();
        let object =
            ObjectKey::for_rendition(id, RenditionName::thumbnail(), RenditionFormat::Jpeg, b"x");
        let ours = signer.url(&object, &signer.sign_image(id, now));
        let policy = signer.policy(id, signer.expiry(now));
        let base = signer.origin().object_url(&object);
        let theirs = aws_js_signer(&["sign", &key_file(key), KEY_PAIR_ID, &base, &policy]);

        assert_eq!(
            ours.split_once('?').unwrap().0,
            theirs.split_once('?').unwrap().0
        );
        let (ours_params, theirs_params) = (params(&ours), params(&theirs));
        let without_signature = |params: &[(String, String)]| {
            params
                .iter()
                .filter(|(name, _)| name != "Signature")
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            without_signature(&ours_params),
            without_signature(&theirs_params),
            "{key}"
        );
        if deterministic_alike {
            assert_eq!(ours_params, theirs_params, "{key}");
        }
        // Their URL passes our checker; our signature passes node's crypto.
        let checker = SignedUrlChecker::default().trusting(
            KEY_PAIR_ID,
            PublicKey::from_pem(&std::fs::read_to_string(key_file(public)).unwrap()).unwrap(),
        );
        let (path, query) = theirs.split_once('?').unwrap();
        assert_eq!(checker.check(path, query, now), Ok(()), "{key}: {theirs}");
        let signature = &ours_params
            .iter()
            .find(|(n, _)| n == "Signature")
            .unwrap()
            .1;
        assert!(cloudfront_base64_decode(signature).is_some());
        assert_eq!(
            aws_js_signer(&["verify", &key_file(public), &policy, signature]),
            "valid",
            "{key}: {ours}"
        );
        let tampered = policy.replace("AWS:EpochTime\":", "AWS:EpochTime\":1");
        assert_eq!(
            aws_js_signer(&["verify", &key_file(public), &tampered, signature]),
            "invalid",
            "{key}"
        );
    }
}

/// A stack in LocalStack's CloudFormation that holds the CDN key parameters as a deployment of
/// `template.yaml` would (and nothing else): what `infra/cdn_key.py` checks samconfig.toml
/// against. `None` deletes it.
const DEPLOY_PARAMETERS: &str = r#"
import json, sys, boto3
stack, parameters = sys.argv[1], json.loads(sys.argv[2])
cf = boto3.client("cloudformation", region_name="us-east-1")
try:
    cf.delete_stack(StackName=stack)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
except Exception:
    pass
if parameters is not None:
    template = {
        "Parameters": {k: {"Type": "String", "Default": ""} for k in parameters},
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
    }
    cf.create_stack(StackName=stack, TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    cf.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
"#;

/// `infra/cdn_key.py`, which `just deploy` and `just cdn-key` run, against LocalStack's Secrets
/// Manager and CloudFormation: it keeps a deployment's key parameters (samconfig.toml) and secrets
/// in step, each secret the private half of its slot's public key, through a rotation and a
/// retirement; it refuses to act on a samconfig.toml out of step with the deployed stack, and
/// never deletes the secret the stack signs with.
#[tokio::test]
async fn deployment_keys_are_made_rotated_and_retired_with_their_secrets() {
    let stack = format!("e2e-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let dir = std::env::temp_dir().join(&stack);
    std::fs::create_dir_all(&dir).unwrap();
    let samconfig = dir.join("samconfig.toml");
    std::fs::write(
        &samconfig,
        format!(
            "version = 0.1\n\n[default.deploy.parameters]\nstack_name = \"{stack}\"\n\
             region = \"us-east-1\"\nconfirm_changeset = true\n\
             parameter_overrides = \"StageName=\\\"prod\\\" AllowedOrigins=\\\"https://app.example.com\\\"\"\n\n\
             [default.global.parameters]\nregion = \"us-east-1\"\n"
        ),
    )
    .unwrap();
    let endpoint = crate::helpers::endpoints()
        .await
        .secrets_manager
        .clone()
        .expect("a Secrets Manager endpoint");
    let python_with = |args: &[&str], key_type: Option<&str>| {
        let mut command = Command::new(reference_python());
        match key_type {
            Some(kind) => command.env("CDN_KEY_TYPE", kind),
            None => command.env_remove("CDN_KEY_TYPE"),
        };
        let out = command
            .args(args)
            .env("SAMCONFIG", &samconfig)
            .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &endpoint)
            .env("AWS_ENDPOINT_URL_CLOUDFORMATION", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let python = |args: &[&str]| python_with(args, None);
    let script = format!("{}/infra/cdn_key.py", env!("CARGO_MANIFEST_DIR"));
    let run = |action: &str| python(&[&script, action]);
    let overrides = || -> std::collections::HashMap<String, String> {
        let text = std::fs::read_to_string(&samconfig).unwrap();
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("parameter_overrides = "))
            .unwrap();
        let value: String = serde_json::from_str(line).unwrap();
        value
            .split(' ')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (k.to_owned(), v.trim_matches('"').to_owned())
            })
            .collect()
    };
    // A deployment of samconfig.toml as it stands (`None`: the stack deleted).
    let deploy = |parameters: Option<&std::collections::HashMap<String, String>>| {
        let keys = parameters.map(|p| {
            ["CdnPublicKeyA", "CdnPublicKeyB", "CdnSigningKey"]
                .into_iter()
                .map(|k| (k, p.get(k).cloned().unwrap_or_default()))
                .collect::<std::collections::HashMap<_, _>>()
        });
        let (ok, out) = python(&[
            "-c",
            DEPLOY_PARAMETERS,
            &stack,
            &serde_json::to_string(&keys).unwrap(),
        ]);
        assert!(ok, "deploying the stack's parameters: {out}");
    };
    let secrets = crate::helpers::secrets_client().await;
    let secret = |slot: &str| format!("{stack}/cdn/private-key-{slot}");
    // The slot's secret signs what the slot's public key (as the template rebuilds it) verifies.
    let check_pair = |params: std::collections::HashMap<String, String>, slot: &'static str| {
        let (secrets, name) = (secrets.clone(), secret(slot));
        async move {
            let lines = params[&format!("CdnPublicKey{slot}")].replace(',', "\n");
            let public = PublicKey::from_pem(&format!(
                "-----BEGIN PUBLIC KEY-----\n{lines}\n-----END PUBLIC KEY-----\n"
            ))
            .unwrap();
            let pem = secrets
                .get_secret_value()
                .secret_id(name)
                .send()
                .await
                .unwrap()
                .secret_string
                .unwrap();
            let private = PrivateKey::from_pem(&pem).unwrap();
            assert_eq!(private.kind(), KeyKind::EcdsaP256, "slot {slot}");
            assert!(
                public.verifies(b"policy", &private.sign(b"policy")),
                "slot {slot}"
            );
        }
    };
    let delete = |name: String| {
        let secrets = secrets.clone();
        async move {
            secrets
                .delete_secret()
                .secret_id(name)
                .force_delete_without_recovery(true)
                .send()
                .await
                .unwrap();
        }
    };
    let exists = |slot: &'static str| {
        let (secrets, name) = (secrets.clone(), secret(slot));
        async move {
            secrets
                .describe_secret()
                .secret_id(name)
                .send()
                .await
                .is_ok()
        }
    };

    // A key type that is neither kind makes nothing.
    let (ok, out) = python_with(&[&script, "ensure"], Some("dsa"));
    assert!(!ok && out.contains("CDN_KEY_TYPE is 'dsa'"), "{out}");
    assert!(!exists("A").await, "no secret made");
    assert!(!overrides().contains_key("CdnPublicKeyA"));

    // The first deployment (no stack yet): key A.
    let (ok, out) = run("ensure");
    assert!(ok, "{out}");
    let first = overrides();
    assert_eq!(first["StageName"], "prod", "other parameters are kept");
    assert_eq!(first["AllowedOrigins"], "https://app.example.com");
    assert_eq!(first["CdnSigningKey"], "A");
    check_pair(first.clone(), "A").await;
    assert!(!out.contains("PRIVATE KEY"), "{out}");
    deploy(Some(&first));
    let (ok, _) = run("ensure");
    assert!(ok);
    assert_eq!(overrides(), first, "a second ensure changes nothing");

    // Rotation: B is added (A still signs), deployed, then signs.
    let (ok, out) = run("add");
    assert!(ok, "{out}");
    let added = overrides();
    assert_eq!(
        added["CdnSigningKey"], "A",
        "the new key is trusted before it signs"
    );
    assert_eq!(added["CdnPublicKeyA"], first["CdnPublicKeyA"]);
    check_pair(added.clone(), "B").await;
    let (ok, out) = run("switch");
    assert!(!ok, "not before the stack trusts B: {out}");
    assert!(out.contains("disagree"), "{out}");
    deploy(Some(&added));
    let (ok, out) = run("switch");
    assert!(ok, "{out}");
    let switched = overrides();
    assert_eq!(switched["CdnSigningKey"], "B");
    deploy(Some(&switched));
    let (ok, out) = run("add");
    assert!(!ok, "a third key before retiring is refused: {out}");

    // Retirement: A leaves the group; its secret goes once the stack no longer has it.
    let (ok, out) = run("retire");
    assert!(ok, "{out}");
    let retired = overrides();
    assert_eq!(retired["CdnPublicKeyA"], "");
    assert_eq!(retired["CdnPublicKeyB"], added["CdnPublicKeyB"]);
    deploy(Some(&retired));
    let (ok, out) = run("tidy");
    assert!(ok, "{out}");
    assert!(!exists("A").await, "the retired key's secret is deleted");
    check_pair(retired.clone(), "B").await;

    // samconfig.toml losing the keys never costs the stack its signing key's secret.
    let (ok, out) = run("forget");
    assert!(ok, "{out}");
    assert!(!overrides().contains_key("CdnPublicKeyB"));
    let (ok, out) = run("tidy");
    assert!(ok, "{out}");
    assert!(exists("B").await, "the deployed stack still signs with B");
    let (ok, out) = run("ensure");
    assert!(!ok, "no new key A while the stack holds keys: {out}");
    assert!(!exists("A").await);

    // The stack destroyed (its secrets deleted, the keys forgotten): a new stack, a new key.
    deploy(None);
    delete(secret("B")).await;
    let (ok, out) = run("ensure");
    assert!(ok, "{out}");
    let renewed = overrides();
    assert_ne!(renewed["CdnPublicKeyA"], first["CdnPublicKeyA"]);
    check_pair(renewed, "A").await;
    // A key whose secret is gone is an error, not a deployment that cannot sign.
    delete(secret("A")).await;
    let (ok, out) = run("ensure");
    assert!(!ok && out.contains("is gone"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
