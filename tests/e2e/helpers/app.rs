//! One running API per test, on a random port, with its own bucket and table.

use std::collections::HashMap;
use std::sync::Once;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use image_upload::api::{self, AppState};
use image_upload::aws::{AwsClients, config_loader};
use image_upload::config::{AwsTimeouts, Settings};
use image_upload::provision::{ensure_bucket, ensure_table};
use serde_json::Value;
use tokio::sync::oneshot;

use super::stack::endpoints;

pub struct TestApp {
    /// `http://127.0.0.1:{port}`
    pub address: String,
    pub bucket: String,
    pub table: String,
    /// Clients of the test's own, to look at S3 and DynamoDB directly.
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub http: reqwest::Client,
    _shutdown: oneshot::Sender<()>,
}

/// An app with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// An app with `overrides` applied to its settings (as environment variables would be).
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    init_test_log();
    let stack = endpoints().await;
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let mut vars: HashMap<String, String> = HashMap::from([
        ("BUCKET_NAME".into(), format!("e2e-{suffix}")),
        ("TABLE_NAME".into(), format!("ImageMetadata-{suffix}")),
        ("AWS_ENDPOINT_URL_S3".into(), stack.s3.clone()),
        ("AWS_ENDPOINT_URL_DYNAMODB".into(), stack.dynamodb.clone()),
    ]);
    vars.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let settings =
        Settings::from_lookup(|name| vars.get(name).cloned()).expect("valid test settings");

    let clients = clients_for(&settings).await;
    // The test's own clients (provisioning, inspection) wait patiently: a slow emulator on a busy
    // machine must not fail a test that is about something else. The app keeps its real timeouts.
    let mut patient = settings.clone();
    patient.aws_timeouts = AwsTimeouts {
        connect: Duration::from_secs(10),
        attempt: Duration::from_secs(30),
        operation: Duration::from_secs(60),
        max_attempts: 5,
    };
    let own = clients_for(&patient).await;
    ensure_bucket(&own.s3, &settings.bucket_name, &settings.allowed_origins)
        .await
        .expect("creating the bucket");
    ensure_table(&own.dynamodb, &settings.table_name)
        .await
        .expect("creating the table");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (shutdown, stop) = oneshot::channel::<()>();
    let app = api::app(AppState::new(&clients, &settings));
    tokio::spawn(api::serve(listener, app, async {
        let _ = stop.await;
    }));

    TestApp {
        address,
        bucket: settings.bucket_name.clone(),
        table: settings.table_name.clone(),
        s3: own.s3,
        dynamodb: own.dynamodb,
        http: reqwest::Client::new(),
        _shutdown: shutdown,
    }
}

async fn clients_for(settings: &Settings) -> AwsClients {
    let sdk = config_loader(settings)
        .credentials_provider(Credentials::new("test", "test", None, None, "e2e"))
        .load()
        .await;
    AwsClients::new(&sdk, settings)
}

/// Logs from the app under test, only when `TEST_LOG` is set.
fn init_test_log() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter("info")
                .with_test_writer()
                .try_init();
        }
    });
}

impl TestApp {
    pub async fn post_upload(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}/upload", self.address))
            .json(body)
            .send()
            .await
            .expect("POST /upload")
    }

    /// `POST /upload` that must succeed; returns its body.
    pub async fn presign(&self, body: &Value) -> Value {
        let response = self.post_upload(body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "POST /upload {body}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// PUTs `bytes` to an upload URL with the headers the API said to send.
    pub async fn put_with_given_headers(
        &self,
        upload: &Value,
        bytes: Vec<u8>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .put(upload["uploadUrl"].as_str().unwrap())
            .body(bytes);
        for (name, value) in upload["headers"].as_object().unwrap() {
            request = request.header(name, value.as_str().unwrap());
        }
        request.send().await.expect("PUT to the upload URL")
    }

    /// The metadata row of an image, read consistently.
    pub async fn item(&self, image_id: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(&self.table)
            .key("imageId", AttributeValue::S(image_id.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem")
            .item
    }

    /// Every row in the test's table.
    pub async fn all_items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let pages = self
            .dynamodb
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        pages.try_collect().await.expect("Scan")
    }
}
