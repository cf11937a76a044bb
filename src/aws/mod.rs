//! The adapters to AWS. Clients are built once per process and cloned (cheaply) into handlers.

mod dynamodb;
mod error;
pub mod permissions;
mod s3;
pub mod tls;
mod usage;

pub use dynamodb::{
    ITEM_TTL_ATTRIBUTE, MalformedRow, MetadataTable, OWNER_INDEX, OWNER_INDEX_KEY, Page, PageKey,
    ScanCursor, ScanPage, TABLE_KEY, Transition, format_time, parse_stored_time,
    to_item as dynamodb_item,
};
pub use error::AwsError;
pub use s3::{
    Completion, Copy, ImageObjects, Listed, ListedPage, ObjectHead, PresignedUpload,
    RENDITION_CACHE_CONTROL, ServedObject, UploadedPart,
};
pub use tls::Roots;
pub use usage::{Admission, USAGE_KEY_PREFIX};

use aws_config::{
    BehaviorVersion, ConfigLoader, Region, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig,
};

use crate::config::{AwsTimeouts, Settings};

/// The AWS clients the service uses.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// For the local queue poller; its calls may wait [`LONG_POLL`] for messages.
    pub sqs: aws_sdk_sqs::Client,
    /// Secrets Manager's configuration, made into a client only by the CDN's first signing with
    /// a key that is a secret (`CDN_PRIVATE_KEY_SECRET`): a function that never signs never
    /// builds it.
    pub secrets: aws_sdk_secretsmanager::Config,
}

/// The longest an SQS receive waits for messages (long polling).
pub const LONG_POLL: std::time::Duration = std::time::Duration::from_secs(10);

/// The shared AWS configuration: region, timeouts and retries from `settings`; credentials from the
/// default chain (Lambda's role, or the environment locally); TLS trusting `roots`. Returned
/// unloaded so that tests can add their own credentials provider.
pub fn config_loader(settings: &Settings, roots: Roots) -> ConfigLoader {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .timeout_config(timeout_config(&settings.aws_timeouts))
        .retry_config(retry_config(&settings.aws_timeouts));
    match roots.http_client() {
        Some(client) => loader.http_client(client),
        None => loader,
    }
}

/// The bounds every AWS call gets: connect, per attempt, and for the whole operation.
pub fn timeout_config(timeouts: &AwsTimeouts) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(timeouts.connect)
        .operation_attempt_timeout(timeouts.attempt)
        .operation_timeout(timeouts.operation)
        .build()
}

/// The SDK's standard retry policy with the configured number of attempts.
pub fn retry_config(timeouts: &AwsTimeouts) -> RetryConfig {
    RetryConfig::standard().with_max_attempts(timeouts.max_attempts)
}

impl AwsClients {
    /// Loads the shared configuration (see [`config_loader`]) and builds the clients.
    pub async fn from_settings(settings: &Settings, roots: Roots) -> Self {
        Self::new(&config_loader(settings, roots).load().await, settings)
    }

    /// Builds the clients from a loaded configuration. An endpoint override in `settings`
    /// (a local stack) also switches S3 to path-style addressing, which local emulators need.
    pub fn new(sdk: &SdkConfig, settings: &Settings) -> Self {
        // Presigned URLs carry no checksum parameters with the SDK's defaults (checked by
        // tests/api/upload.rs), so the defaults stay: they protect the server-side S3 calls.
        let mut s3 = aws_sdk_s3::config::Builder::from(sdk);
        if let Some(endpoint) = &settings.endpoints.s3 {
            s3 = s3.endpoint_url(endpoint).force_path_style(true);
        }
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(sdk);
        if let Some(endpoint) = &settings.endpoints.dynamodb {
            dynamodb = dynamodb.endpoint_url(endpoint);
        }
        // A long poll holds the connection open by design: its attempts get that much longer.
        let timeouts = settings.aws_timeouts;
        let long_poll = AwsTimeouts {
            attempt: LONG_POLL + timeouts.attempt,
            operation: LONG_POLL + timeouts.operation,
            ..timeouts
        };
        let mut sqs =
            aws_sdk_sqs::config::Builder::from(sdk).timeout_config(timeout_config(&long_poll));
        if let Some(endpoint) = &settings.endpoints.sqs {
            sqs = sqs.endpoint_url(endpoint);
        }
        let mut secrets = aws_sdk_secretsmanager::config::Builder::from(sdk);
        if let Some(endpoint) = &settings.endpoints.secrets_manager {
            secrets = secrets.endpoint_url(endpoint);
        }
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            secrets: secrets.build(),
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
        }
    }
}
