//! The cold path of `POST /upload`: configuration and clients, the first request through a new
//! router, a warm request, and one presign. DynamoDB's answers are mocked (no network), so the
//! figures are the service's own CPU cost. And the CDN's signing, with each kind of key (ECDSA
//! P-256, what `just deploy` makes, and RSA 2048): reading the key (once per process), and signing
//! a page of 50 images none of which was signed in the window (one signature each, covering the
//! image's renditions and original).

#[allow(dead_code)]
#[path = "../tests/api/helpers.rs"]
mod helpers;

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_smithy_mocks::{Rule, mock};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use image_upload::aws::{AwsClients, ImageObjects, Roots, config_loader};
use image_upload::domain::{ImageId, ImageType, ObjectKey, UploadSize};
use time::OffsetDateTime;

fn put_item_ok() -> Rule {
    mock!(aws_sdk_dynamodb::Client::put_item).then_output(|| PutItemOutput::builder().build())
}

const BODY: &str = r#"{"fileName":"holiday photo.jpg","fileType":"image/jpeg","fileSize":2097152}"#;

fn cold_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let settings = helpers::settings(&[]);

    c.bench_function("config_load_and_clients", |b| {
        b.to_async(&rt).iter(|| async {
            let settings = helpers::settings(&[]);
            let sdk = config_loader(&settings, Roots::AmazonTrustServices)
                .credentials_provider(Credentials::new("AKIDBENCH", "secret", None, None, "bench"))
                .load()
                .await;
            AwsClients::new(&sdk, &settings)
        })
    });

    let rule = put_item_ok();
    c.bench_function("first_request_through_new_router", |b| {
        b.to_async(&rt).iter_batched(
            || helpers::app(&settings, &[&rule]),
            |app| async move {
                let reply = helpers::send(&app, helpers::post_upload(BODY)).await;
                assert_eq!(reply.status, 200);
            },
            BatchSize::SmallInput,
        )
    });

    let app = helpers::app(&settings, &[&rule]);
    c.bench_function("warm_request", |b| {
        b.to_async(&rt).iter(|| async {
            let reply = helpers::send(&app, helpers::post_upload(BODY)).await;
            assert_eq!(reply.status, 200);
        })
    });

    let clients = helpers::clients_with_dynamodb(&settings, &[]);
    let bucket = ImageObjects::new(clients.s3, "bench-bucket");
    let key = ObjectKey::for_upload(ImageId::new_random(), ImageType::Jpeg);
    let size = UploadSize::within(2 * 1024 * 1024, u64::MAX);
    c.bench_function("presign_upload", |b| {
        b.to_async(&rt).iter(|| async {
            bucket
                .presign_upload(
                    &key,
                    ImageType::Jpeg,
                    size,
                    OffsetDateTime::now_utc(),
                    Duration::from_secs(300),
                )
                .await
                .unwrap()
        })
    });
}

fn cdn_signing(c: &mut Criterion) {
    use image_upload::delivery::{CdnOrigin, PrivateKey, UrlSigner};
    let keys = [
        (
            "ecdsa_p256",
            include_str!("../fixtures/keys/cdn-test-ec-a.pem"),
        ),
        ("rsa_2048", include_str!("../fixtures/keys/cdn-test-a.pem")),
    ];
    let ids: Vec<ImageId> = (0..50).map(|_| ImageId::new_random()).collect();
    for (kind, pem) in keys {
        c.bench_function(&format!("cdn_key_from_pem/{kind}"), |b| {
            b.iter(|| PrivateKey::from_pem(pem).unwrap())
        });
        c.bench_function(&format!("cdn_sign_page_of_50_images/{kind}"), |b| {
            b.iter_batched(
                || {
                    // A fresh signer: nothing cached.
                    UrlSigner::new(
                        CdnOrigin::parse("https://d111111abcdef8.cloudfront.net").unwrap(),
                        "K2JCJMDEHXQW5F".into(),
                        PrivateKey::from_pem(pem).unwrap(),
                        Duration::from_secs(3600),
                    )
                },
                |signer| {
                    let now = OffsetDateTime::now_utc();
                    for id in &ids {
                        std::hint::black_box(signer.sign_image(*id, now));
                    }
                },
                BatchSize::SmallInput,
            )
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = cold_path, cdn_signing
}
criterion_main!(benches);
