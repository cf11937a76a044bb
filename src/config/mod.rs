//! Settings from environment variables. Every variable the programs read is read here, by the
//! constructors each program's `main` calls once, and handed on as typed settings. The defaults
//! suit the local stack; a deployment sets `BUCKET_NAME` and the rest as it needs.
//! `docs/configuration.md` lists every variable (`tests/configuration_docs.rs` holds that list to
//! the code).
//!
//! - this file: [`Settings`], what the service (the API, the processor, the local server) reads,
//!   put together from the parts below;
//! - `env`: reading a variable ([`ConfigError`], a blank value counts as unset) and the parsers;
//! - `limits`: the upload policy, the decoding limits, the processor's concurrency and memory;
//! - `auth`: who may call ([`AuthSettings`]);
//! - `http`: CORS origins and the local server's address;
//! - `sdk`: the AWS region, a local stack's [`Endpoints`], the bounds on AWS calls;
//! - `telemetry`: the log format and CloudWatch metrics;
//! - `local`: what only the local programs read (the local server's anonymous default,
//!   `provision-local`'s [`DemoUser`], the smoke client's [`SmokeSignIn`]).
//!
//! Every default and range is a named constant, and the messages are made from them.

mod auth;
mod cdn;
mod env;
mod http;
mod limits;
mod local;
mod sdk;
mod telemetry;

use std::net::SocketAddr;
use std::time::Duration;

use crate::domain::{ProcessingPolicy, QuotaPolicy, UploadPolicy};
use env::{Env, process_env};

pub use auth::{ALLOW_ANONYMOUS_DEFAULT, AUTH_VARIABLES, AuthSettings, TokenSettings};
pub use cdn::{
    CDN_KEY_VARIABLES, CDN_URL_WINDOW_DEFAULT, CDN_URL_WINDOW_RANGE, CDN_VARIABLES, CdnKeySource,
    CdnSettings,
};
pub use env::ConfigError;
pub use http::{ALLOWED_ORIGINS_DEFAULT, LISTEN_ADDR_DEFAULT, is_loopback_host, is_loopback_url};
pub use limits::{
    FUNCTION_MEMORY_MB_RANGE, IMAGE_SIDE_RANGE, MAX_IMAGE_PIXELS_RANGE, MAX_UPLOAD_BYTES_LIMIT,
    MAX_UPLOAD_BYTES_RANGE, PENDING_TTL_MARGIN, PENDING_TTL_RANGE, PROCESSOR_BASELINE_BYTES,
    PROCESSOR_CONCURRENCY_DEFAULT, PROCESSOR_CONCURRENCY_RANGE, SUPERSEDED_KEPT_DEFAULT,
    SUPERSEDED_KEPT_RANGE, UPLOAD_URL_EXPIRY_RANGE, VIEW_URL_EXPIRY_DEFAULT, VIEW_URL_EXPIRY_RANGE,
};
pub use local::{
    CognitoSignIn, DEMO_PASSWORD_DEFAULT, DEMO_USERNAME_DEFAULT, DemoUser, SMOKE_COGNITO_VARIABLES,
    SmokeSignIn,
};
pub use sdk::{
    AWS_ATTEMPT_TIMEOUT_DEFAULT, AWS_CONNECT_TIMEOUT_DEFAULT, AWS_MAX_ATTEMPTS_DEFAULT,
    AWS_MAX_ATTEMPTS_RANGE, AWS_OPERATION_TIMEOUT_DEFAULT, AwsTimeouts, COGNITO_ENDPOINT_VARIABLE,
    Endpoints, REGION_DEFAULT, regional_cognito_endpoint,
};
pub use telemetry::{LogFormat, METRICS_NAMESPACE_DEFAULT, MetricsNamespace, MetricsSettings};

/// `BUCKET_NAME` when unset: the local stack's bucket.
pub const BUCKET_NAME_DEFAULT: &str = "image-upload-local";

/// `TABLE_NAME` when unset: the local stack's table.
pub const TABLE_NAME_DEFAULT: &str = "ImageMetadata";

/// Set by Lambda in every function's environment: its presence means "running in Lambda".
const LAMBDA_MARKER: &str = "AWS_LAMBDA_FUNCTION_NAME";

/// Everything the service reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bucket_name: String,
    pub table_name: String,
    pub region: String,
    pub upload: UploadPolicy,
    /// What one owner may hold and start.
    pub quota: QuotaPolicy,
    /// Limits for verifying uploads and making thumbnails.
    pub processing: ProcessingPolicy,
    /// How many messages of a batch the processor works on at once.
    pub processor_concurrency: usize,
    /// How long a rendition that reprocessing replaced is kept (the URLs handed out for it stay
    /// valid), before a later reprocessing request deletes it.
    pub superseded_kept: Duration,
    /// How long the download URLs in `GET /images` answers stay valid.
    pub view_url_expiry: Duration,
    /// The queue of upload notifications the local poller reads (`just dev`); unused in Lambda,
    /// where the event source mapping reads it.
    pub queue_url: Option<String>,
    /// The upload queue's dead-letter queue, which `redrive` empties back into `queue_url`.
    pub dead_letter_queue_url: Option<String>,
    /// Origins allowed by CORS; never `*`.
    pub allowed_origins: Vec<String>,
    /// Where the local server listens.
    pub listen_addr: SocketAddr,
    /// The host names the local server answers to besides loopback ones and its own address
    /// (`ALLOWED_HOSTS`): a page on any other name is refused, even one resolved to this machine.
    pub allowed_hosts: Vec<String>,
    pub log_format: LogFormat,
    pub aws_timeouts: AwsTimeouts,
    pub endpoints: Endpoints,
    /// The memory of the Lambda function this runs in (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, MB);
    /// `None` outside Lambda.
    pub function_memory_mb: Option<u64>,
    /// Where CloudWatch metrics go, and whether they are written at all.
    pub metrics: MetricsSettings,
    /// How callers are identified.
    pub auth: AuthSettings,
    /// The CDN that serves renditions and originals; `None`: presigned S3 URLs instead.
    pub cdn: Option<CdnSettings>,
}

impl Settings {
    /// Reads the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is set to something unusable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    /// Reads settings through `lookup` (the environment, or a table in tests).
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is set to something unusable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(&lookup);
        let in_lambda = env.is_set(LAMBDA_MARKER);
        let upload = limits::upload_policy(&env)?;
        // Read in the order written: when several variables are unusable, the first is named.
        Ok(Self {
            processing: limits::processing_policy(&env, upload.max_bytes)?,
            processor_concurrency: limits::processor_concurrency(&env)?,
            superseded_kept: limits::superseded_kept(&env)?,
            view_url_expiry: limits::view_url_expiry(&env)?,
            queue_url: env.get("QUEUE_URL"),
            dead_letter_queue_url: env.get("DEAD_LETTER_QUEUE_URL"),
            bucket_name: env
                .get("BUCKET_NAME")
                .unwrap_or_else(|| BUCKET_NAME_DEFAULT.into()),
            table_name: env
                .get("TABLE_NAME")
                .unwrap_or_else(|| TABLE_NAME_DEFAULT.into()),
            region: sdk::region(&env),
            upload,
            quota: limits::quota_policy(&env)?,
            allowed_origins: http::allowed_origins(&env)?,
            listen_addr: http::listen_addr(&env)?,
            allowed_hosts: http::allowed_hosts(&env)?,
            log_format: LogFormat::read(&env, in_lambda)?,
            aws_timeouts: AwsTimeouts::read(&env)?,
            function_memory_mb: limits::function_memory_mb(&env)?,
            metrics: MetricsSettings::read(&env, in_lambda)?,
            auth: AuthSettings::read(&env)?,
            cdn: CdnSettings::read(&env)?,
            endpoints: Endpoints::read(&env),
        })
    }
}

#[cfg(test)]
mod tests;
