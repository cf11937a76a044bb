use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use image_upload::api::{self, App, AppState};
use image_upload::aws::permissions::{API, CallCheck};
use image_upload::aws::{AwsClients, retry_config, timeout_config};
use image_upload::config::Settings;
use image_upload::telemetry::{Function, Metrics};
use tower::ServiceExt;

// The EMF rules the library's own tests use, so both hold metric lines to the same checker.
#[path = "../../src/telemetry/emf_spec.rs"]
#[allow(dead_code)] // the API tests use part of the checker
mod emf_spec;

use emf_spec::{EmfLine, validate};

pub type Item = HashMap<String, AttributeValue>;

/// The settings a fresh deployment has, with `overrides` applied (as environment variables).
/// Requests without an authorizer context are refused with these.
pub fn settings(overrides: &[(&str, &str)]) -> Settings {
    let vars: HashMap<String, String> = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|name| vars.get(name).cloned()).expect("test settings are valid")
}

/// [`settings`] with `ALLOW_ANONYMOUS=true`: for tests of the upload and image contracts,
/// which send requests straight to the router, with no authorizer, as the local server gets them.
pub fn anonymous_settings(overrides: &[(&str, &str)]) -> Settings {
    let mut vars = vec![("ALLOW_ANONYMOUS", "true")];
    vars.extend_from_slice(overrides);
    settings(&vars)
}

/// The shared AWS configuration the service would load, with fixed test credentials.
pub fn sdk_config(settings: &Settings) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST",
            "test-secret",
            None,
            None,
            "tests",
        )))
        .timeout_config(timeout_config(&settings.aws_timeouts))
        .retry_config(retry_config(&settings.aws_timeouts))
        .sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep().expect("tokio sleep"))
        .build()
}

/// The service's own clients, with DynamoDB answered by `rules` instead of the network.
/// Presigning never touches the network, so S3 stays real. Both run through a `CallCheck`: an
/// operation the API's role is not granted (`aws::permissions::API`) panics.
pub fn clients_with_dynamodb(settings: &Settings, rules: &[&Rule]) -> AwsClients {
    let check = CallCheck::new(&API);
    let mut clients = AwsClients::new(&sdk_config(settings), settings);
    clients.s3 = check.on_s3(&clients.s3);
    // After the test's own rules: every upload is admitted by its owner's usage item, unless a
    // test's rule answers the usage update otherwise.
    let admitted = admit_every_upload();
    let interceptor = rules.iter().chain([&&admitted]).fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, rule| i.with_rule(rule),
    );
    let config = clients
        .dynamodb
        .config()
        .to_builder()
        .interceptor(interceptor)
        .http_client(create_mock_http_client());
    clients.dynamodb = check.on_dynamodb(&aws_sdk_dynamodb::Client::from_conf(config.build()));
    clients
}

/// Whether a DynamoDB key is an owner's usage item.
pub fn is_usage_key(key: &HashMap<String, AttributeValue>) -> bool {
    key.get("imageId")
        .and_then(|k| k.as_s().ok())
        .is_some_and(|k| k.starts_with(image_upload::aws::USAGE_KEY_PREFIX))
}

/// An UpdateItem rule for owners' usage items that succeeds: the upload is counted.
pub fn admit_every_upload() -> Rule {
    mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|req| req.key().is_some_and(is_usage_key))
        .then_output(|| UpdateItemOutput::builder().build())
}

/// The app over mocked DynamoDB.
pub fn app(settings: &Settings, rules: &[&Rule]) -> App {
    api::app(
        AppState::new(&clients_with_dynamodb(settings, rules), settings)
            .expect("the app state builds"),
    )
}

/// The app over mocked DynamoDB, writing its metrics to memory.
pub fn app_with_metrics(settings: &Settings, rules: &[&Rule]) -> (App, Metrics) {
    let metrics = Metrics::in_memory(settings.metrics.namespace.clone(), Function::Api);
    let mut state = AppState::new(&clients_with_dynamodb(settings, rules), settings)
        .expect("the app state builds");
    state.metrics = metrics.clone();
    (api::app(state), metrics)
}

/// Every metric line written, each checked against the EMF specification.
pub fn metric_lines(metrics: &Metrics) -> Vec<EmfLine> {
    metrics
        .lines()
        .iter()
        .map(|line| validate(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// A PutItem rule that succeeds and records every item written.
pub fn recording_put_item() -> (Rule, Arc<Mutex<Vec<Item>>>) {
    let written = Arc::new(Mutex::new(Vec::new()));
    let sink = written.clone();
    let rule = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(move |req| {
            sink.lock()
                .unwrap()
                .push(req.item().cloned().unwrap_or_default());
            true
        })
        .then_output(|| PutItemOutput::builder().build());
    (rule, written)
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

impl Reply {
    /// The `error.code` of an error body.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {}", self.body))
    }
}

pub async fn send(app: &App, request: Request<Body>) -> Reply {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    Reply {
        status,
        headers,
        body,
    }
}

pub fn post_upload(body: impl Into<Body>) -> Request<Body> {
    Request::post("/upload")
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

pub async fn post_json(app: &App, json: serde_json::Value) -> Reply {
    send(app, post_upload(json.to_string())).await
}

/// The query parameters of a URL.
pub fn query_of(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let value = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
            (k.to_owned(), value.into_owned())
        })
        .collect()
}
