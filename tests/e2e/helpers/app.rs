//! One running API per test, on a random port, with its own bucket, table and (when the test is
//! about processing) its own upload queue, S3 notifications and queue poller.

use std::collections::HashMap;
use std::sync::Once;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use image_upload::api::{self, AppState};
use image_upload::aws::permissions::{API, CallCheck, FunctionAccess, PROCESSOR};
use image_upload::aws::{AwsClients, Roots, config_loader};
use image_upload::config::{AwsTimeouts, Settings, TokenSettings};
use image_upload::processor::{Processor, QueuePoller};
use image_upload::provision::{
    ensure_bucket, ensure_queue, ensure_table, ensure_upload_notifications,
};
use serde_json::Value;
use tokio::sync::oneshot;

use super::stack::endpoints;

/// The upload queue's visibility timeout: short, so that a message whose processing failed (or
/// whose processor was killed) comes back soon.
pub const QUEUE_VISIBILITY: Duration = Duration::from_secs(5);

pub struct TestApp {
    /// `http://127.0.0.1:{port}`
    pub address: String,
    pub bucket: String,
    pub table: String,
    /// Clients of the test's own, to look at S3 and DynamoDB directly.
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub http: reqwest::Client,
    /// What the API handlers share, to drive the same app through the Lambda entry.
    pub state: AppState,
    /// The upload queue the bucket notifies, when there is one.
    pub queue_url: Option<String>,
    /// Its dead-letter queue, where a message goes after its last failed receive.
    pub dead_letter_url: Option<String>,
    /// The app's settings (the processor's, with `restart_processor`'s changes).
    pub settings: Settings,
    /// The processor's poller, when uploads are processed: stopped and replaced by
    /// `restart_processor`, killed by `kill_processor`.
    processor: std::sync::Mutex<Option<ProcessorRun>>,
    _shutdown: oneshot::Sender<()>,
}

/// A processor's poller running on the test's queue.
struct ProcessorRun {
    clients: AwsClients,
    /// The app's shutdown; the poller stops with it or with its own `stop`.
    app_stopped: tokio_util::sync::CancellationToken,
    stop: tokio_util::sync::CancellationToken,
    done: tokio::task::JoinHandle<()>,
}

/// What happens to objects uploaded to the test's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploads {
    /// Nothing: no notifications; rows stay PENDING (tests of the upload API alone).
    Unprocessed,
    /// S3 notifies the test's queue, and nobody reads it: the test receives the messages itself.
    Queued,
    /// S3 notifies the test's queue, and a poller feeds the processor, as `just dev` does.
    Processed,
}

/// An app with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// An app with `overrides` applied to its settings (as environment variables would be).
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    spawn(overrides, Uploads::Unprocessed).await
}

/// An app that verifies bearer ID tokens itself (`AUTH_*`), as the local server does with
/// `just dev-auth`: nobody is anonymous.
pub async fn spawn_verifying_app(tokens: &TokenSettings) -> TestApp {
    spawn_verifying(tokens, &[], Uploads::Unprocessed).await
}

/// An app that verifies bearer ID tokens itself, with `overrides` applied to its settings and
/// `uploads` deciding what happens to its uploads: many owners, each signed in as themselves.
pub async fn spawn_verifying(
    tokens: &TokenSettings,
    overrides: &[(&str, &str)],
    uploads: Uploads,
) -> TestApp {
    let mut vars = vec![
        ("AUTH_ISSUER", tokens.issuer.as_str()),
        ("AUTH_AUDIENCE", tokens.audience.as_str()),
        ("AUTH_JWKS_URL", tokens.jwks_url.as_str()),
    ];
    vars.extend_from_slice(overrides);
    spawn_as(&vars, uploads, Callers::Verified).await
}

/// An app whose uploads are processed through real S3 notifications and a real SQS queue.
pub async fn spawn_processing_app() -> TestApp {
    spawn(&[], Uploads::Processed).await
}

/// A Secrets Manager client of the stack's (LocalStack), with the test credentials.
pub async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    let stack = endpoints().await;
    let mut vars: HashMap<String, String> = stack
        .variables()
        .map(|(name, endpoint)| (name.to_owned(), endpoint.to_owned()))
        .collect();
    vars.insert("ALLOW_ANONYMOUS".into(), "true".into());
    let settings =
        Settings::from_lookup(|name| vars.get(name).cloned()).expect("valid test settings");
    aws_sdk_secretsmanager::Client::from_conf(clients_for(&settings).await.secrets)
}

/// Stores `value` as a new secret `name` in the stack's Secrets Manager, as `just deploy` stores
/// the CDN's private key in AWS.
pub async fn create_secret(name: &str, value: &str) {
    secrets_client()
        .await
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("CreateSecret");
}

/// How the app identifies callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Callers {
    /// `ALLOW_ANONYMOUS=true`: plain HTTP requests are owner `anonymous`, as with `just dev`;
    /// API Gateway events with authorizer claims (`TestApp::as_owner`) are their `sub`.
    Anonymous,
    /// The overrides carry AUTH_*: every request needs a valid ID token.
    Verified,
}

/// An app, and what happens to its uploads. Its callers are anonymous, set explicitly, because
/// most tests are about uploads, not identity (tests/e2e/auth.rs is about identity).
pub async fn spawn(overrides: &[(&str, &str)], uploads: Uploads) -> TestApp {
    spawn_as(overrides, uploads, Callers::Anonymous).await
}

async fn spawn_as(overrides: &[(&str, &str)], uploads: Uploads, callers: Callers) -> TestApp {
    init_test_log();
    let stack = endpoints().await;
    // Bound first, so that a setting can name the app's own address (`{address}`: the local CDN
    // path's `CDN_URL`).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let mut vars: HashMap<String, String> = HashMap::from([
        ("BUCKET_NAME".into(), format!("e2e-{suffix}")),
        ("TABLE_NAME".into(), format!("ImageMetadata-{suffix}")),
    ]);
    vars.extend(
        stack
            .variables()
            .map(|(name, endpoint)| (name.to_owned(), endpoint.to_owned())),
    );
    if callers == Callers::Anonymous {
        vars.insert("ALLOW_ANONYMOUS".into(), "true".into());
    }
    // A display rendition beside the thumbnail (the default set is the thumbnail alone), so that
    // every path that makes, serves and deletes renditions has more than one to handle.
    vars.insert("RENDITIONS".into(), "thumbnail:256,display:1600".into());
    vars.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.replace("{address}", &address))),
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
    let queue = if uploads == Uploads::Unprocessed {
        None
    } else {
        let queue = ensure_queue(
            &own.sqs,
            &format!("e2e-uploads-{suffix}"),
            QUEUE_VISIBILITY,
            3,
        )
        .await
        .expect("creating the upload queue");
        ensure_upload_notifications(&own.s3, &settings.bucket_name, &queue.arn)
            .await
            .expect("connecting the bucket's notifications to the queue");
        Some(queue)
    };
    let (queue_url, dead_letter_url) = match queue {
        Some(queue) => (Some(queue.url), Some(queue.dead_letter_url)),
        None => (None, None),
    };

    let (shutdown, stop) = oneshot::channel::<()>();
    // Each function's clients run through a CallCheck: an SDK operation its deployed IAM role
    // would refuse (not in `aws::permissions`) panics, failing the test that made it.
    let state = AppState::new(&checked(&clients, &API), &settings).expect("the app state builds");
    let stopped = tokio_util::sync::CancellationToken::new();
    let processor = match (uploads, &queue_url) {
        (Uploads::Processed, Some(queue_url)) => Some(ProcessorRun::start(
            clients.clone(),
            &settings,
            queue_url,
            stopped.clone(),
        )),
        _ => None,
    };
    let shutdown_when = async move {
        let _ = stop.await;
        stopped.cancel();
    };
    match state.cdn.clone() {
        // As the local server does: the local CDN path beside the API.
        Some(cdn) => {
            let site = axum::Router::new()
                .merge(image_upload::delivery::local_cdn(
                    state.objects.clone(),
                    cdn,
                ))
                .fallback_service(api::app(state.clone()));
            let hosts = image_upload::web::AllowedHosts::for_local_server(&settings);
            tokio::spawn(image_upload::web::serve(
                listener,
                site,
                hosts,
                shutdown_when,
            ));
        }
        None => {
            tokio::spawn(api::serve(listener, api::app(state.clone()), shutdown_when));
        }
    }

    TestApp {
        address,
        bucket: settings.bucket_name.clone(),
        table: settings.table_name.clone(),
        s3: own.s3,
        dynamodb: own.dynamodb,
        sqs: own.sqs,
        http: super::http_client(),
        state,
        queue_url,
        dead_letter_url,
        settings,
        processor: std::sync::Mutex::new(processor),
        _shutdown: shutdown,
    }
}

/// `clients` with a [`CallCheck`] for `access` on S3, DynamoDB and Secrets Manager (SQS is the local poller's, not
/// the function's: Lambda's event source mapping polls in AWS).
fn checked(clients: &AwsClients, access: &'static FunctionAccess) -> AwsClients {
    let check = CallCheck::new(access);
    AwsClients {
        s3: check.on_s3(&clients.s3),
        dynamodb: check.on_dynamodb(&clients.dynamodb),
        secrets: check.on_secrets(&clients.secrets),
        sqs: clients.sqs.clone(),
    }
}

async fn clients_for(settings: &Settings) -> AwsClients {
    // The local server's roots (the SDK's default client), not the Lambda functions': the race
    // tests run clients of one configuration on several threads, each with its own Tokio runtime.
    // An HTTP client set on the configuration, as the Lambda one is, is one connection pool for
    // all of them, and a connection belongs to the runtime that opened it: with it, a runtime
    // blocked at a test's gate stalled another thread's call (two race tests timed out); with the
    // default client they pass. Each Lambda function has one runtime; the Lambda client is tested
    // in src/aws/tls.rs.
    let sdk = config_loader(settings, Roots::System)
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

impl ProcessorRun {
    fn start(
        clients: AwsClients,
        settings: &Settings,
        queue_url: &str,
        app_stopped: tokio_util::sync::CancellationToken,
    ) -> Self {
        let processor = Processor::new(&checked(&clients, &PROCESSOR), settings);
        let poller = QueuePoller::new(clients.sqs.clone(), queue_url, processor);
        let stop = app_stopped.child_token();
        let done = tokio::spawn(poller.run(stop.clone().cancelled_owned()));
        Self {
            clients,
            app_stopped,
            stop,
            done,
        }
    }
}

/// A processor [`TestApp::kill_processor`] killed: what [`TestApp::start_processor`] needs to
/// start another on the same queue.
pub struct KilledProcessor {
    clients: AwsClients,
    app_stopped: tokio_util::sync::CancellationToken,
}

impl TestApp {
    /// Kills the processor wherever it stands, as a crashed or timed-out Lambda function: its
    /// task is aborted, not stopped, so the messages it holds are neither finished nor deleted and
    /// come back when the queue's visibility timeout passes.
    pub async fn kill_processor(&self) -> KilledProcessor {
        let run = self
            .processor
            .lock()
            .unwrap()
            .take()
            .expect("an app whose uploads are processed, its processor running");
        run.done.abort();
        let ended = run.done.await;
        assert!(
            ended
                .as_ref()
                .is_err_and(tokio::task::JoinError::is_cancelled),
            "the poller was killed, not ended: {ended:?}"
        );
        KilledProcessor {
            clients: run.clients,
            app_stopped: run.app_stopped,
        }
    }

    /// Starts a processor on the queue again, with the app's settings, after `killed`.
    pub fn start_processor(&self, killed: KilledProcessor) {
        let queue_url = self.queue_url.clone().expect("a queue");
        let run = ProcessorRun::start(
            killed.clients,
            &self.settings,
            &queue_url,
            killed.app_stopped,
        );
        *self.processor.lock().unwrap() = Some(run);
    }

    /// Stops the processor and starts another on the same queue that makes `renditions`
    /// (`RENDITIONS`): a deployment whose processor's configuration changed.
    pub async fn restart_processor(&mut self, renditions: &str) {
        let old = self
            .processor
            .lock()
            .unwrap()
            .take()
            .expect("an app whose uploads are processed");
        old.stop.cancel();
        old.done.await.expect("the poller stops");
        let mut settings = self.settings.clone();
        settings.processing.renditions =
            image_upload::domain::Renditions::parse(renditions).expect("a valid RENDITIONS");
        let queue_url = self.queue_url.clone().expect("a queue");
        let run = ProcessorRun::start(old.clients, &settings, &queue_url, old.app_stopped);
        self.settings = settings;
        *self.processor.lock().unwrap() = Some(run);
    }

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

    /// The row's `status`, polled until it is no longer PENDING or `within` has passed.
    pub async fn settled_status(&self, image_id: &str, within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let status = self
                .item(image_id)
                .await
                .and_then(|item| item.get("status")?.as_s().ok().cloned())
                .unwrap_or_else(|| "MISSING".into());
            if status != "PENDING" || tokio::time::Instant::now() >= deadline {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the upload `image_id` (uploaded with extension `ext`) to settle, and checks that
    /// it was rejected for `reason`: in the row and through the API, with no URL, and with none of
    /// its objects (the upload, a verified original, a thumbnail) left in the bucket.
    pub async fn assert_rejected(&self, image_id: &str, ext: &str, reason: &str, within: Duration) {
        assert_eq!(self.settled_status(image_id, within).await, "REJECTED");
        let item = self.item(image_id).await.unwrap();
        assert_eq!(item["rejectionReason"].as_s().unwrap(), reason);
        for key in [
            format!("uploads/{image_id}.{ext}"),
            format!("originals/{image_id}.{ext}"),
            format!("thumbnails/{image_id}.jpg"),
        ] {
            assert!(!self.object_exists(&key).await, "{key} is left");
        }
        assert_eq!(self.renditions_stored(image_id).await, Vec::<String>::new());
        let (status, body) = self.get_json(&format!("/images/{image_id}")).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "REJECTED");
        assert_eq!(body["rejectionReason"], reason);
        assert!(body.get("url").is_none());
    }

    /// The keys under `renditions/{image_id}/`, sorted.
    pub async fn renditions_stored(&self, image_id: &str) -> Vec<String> {
        let listing = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("renditions/{image_id}/"))
            .send()
            .await
            .expect("ListObjectsV2");
        let mut keys: Vec<String> = listing
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        keys.sort();
        keys
    }

    /// Whether the bucket has an object at `key`.
    pub async fn object_exists(&self, key: &str) -> bool {
        match self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => false,
            Err(e) => panic!("HeadObject {key}: {e:?}"),
        }
    }

    /// The bytes of the object at `key`.
    pub async fn object(&self, key: &str) -> Vec<u8> {
        self.s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetObject {key}: {e:?}"))
            .body
            .collect()
            .await
            .unwrap()
            .to_vec()
    }

    /// Fetches an image's thumbnail through its `thumbnailUrl` (from `GET /images/{id}` or the
    /// list), asserting a 200 JPEG answer; its bytes.
    pub async fn thumbnail(&self, image: &Value) -> Vec<u8> {
        self.fetch_rendition(image["thumbnailUrl"].as_str().expect("a thumbnailUrl"))
            .await
    }

    /// The rendition `name` of `image` (an API view of a READY image), fetched through its URL
    /// and checked to be what the view says: a JPEG of its width and height, cacheable for ever.
    /// The bytes `image`'s original URL serves (asserting a 200).
    pub async fn original(&self, image: &Value) -> Vec<u8> {
        let url = image["url"].as_str().expect("an original URL");
        let response = self.http.get(url).send().await.expect("GET the original");
        assert_eq!(response.status(), 200, "GET {url}");
        response.bytes().await.unwrap().to_vec()
    }

    pub async fn rendition(&self, image: &Value, name: &str) -> image::RgbImage {
        let renditions = image["renditions"].as_array().expect("renditions");
        let view = renditions
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no rendition {name} in {image}"));
        assert_eq!(view["format"], "image/jpeg");
        let bytes = self
            .fetch_rendition(view["url"].as_str().expect("a url"))
            .await;
        assert_eq!(view["sizeBytes"].as_u64(), Some(bytes.len() as u64));
        let decoded = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
            .expect("a JPEG")
            .to_rgb8();
        assert_eq!(
            (
                Some(u64::from(decoded.width())),
                Some(u64::from(decoded.height()))
            ),
            (view["width"].as_u64(), view["height"].as_u64()),
            "{name}"
        );
        decoded
    }

    /// GETs a rendition's URL: 200, a JPEG, `Cache-Control` that lets any cache keep it.
    async fn fetch_rendition(&self, url: &str) -> Vec<u8> {
        let response = self.http.get(url).send().await.expect("GET a rendition");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/jpeg");
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        response.bytes().await.unwrap().to_vec()
    }

    /// `GET {path}` on the app; the status and the JSON body (`null` when empty).
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("GET");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `DELETE {path}` on the app; the status.
    pub async fn delete(&self, path: &str) -> u16 {
        self.http
            .delete(format!("{}{path}", self.address))
            .send()
            .await
            .expect("DELETE")
            .status()
            .as_u16()
    }

    /// Presigns an upload, PUTs `bytes` to it, and returns the image id.
    pub async fn upload(&self, file_name: &str, file_type: &str, bytes: &[u8]) -> String {
        let upload = self
            .presign(&serde_json::json!({"fileName": file_name, "fileType": file_type}))
            .await;
        let put = self.put_with_given_headers(&upload, bytes.to_vec()).await;
        assert_eq!(put.status(), 200, "PUT {file_name}");
        upload["imageId"].as_str().unwrap().to_owned()
    }

    /// Clients of the app's own settings and timeouts, as a function of the app would have
    /// (for a test to wrap in a `CallCheck` or a fault of its own).
    pub async fn clients(&self) -> AwsClients {
        clients_for(&self.settings).await
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
