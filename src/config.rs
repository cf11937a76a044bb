//! Settings from environment variables. Every variable has a default that suits the local stack;
//! a deployment sets `BUCKET_NAME` and the rest as it needs (see README, "Configuration").

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::{net::SocketAddr, time::Duration};

use crate::domain::{AllowedTypes, BUDGET_FIXED_BYTES, ProcessingPolicy, UploadPolicy};

/// The largest `MAX_UPLOAD_BYTES`: the processor holds a whole upload in memory while it verifies
/// it, inside the fixed part of its per-image budget, so an upload may take half of that part.
pub const MAX_UPLOAD_BYTES_LIMIT: u64 = BUDGET_FIXED_BYTES / 2;

/// How much longer than its upload URL a PENDING row must live: an upload that arrives as its URL
/// expires must still find its row when the processor gets to it, retries included.
pub const PENDING_TTL_MARGIN: Duration = Duration::from_secs(15 * 60);

/// What the processor's process needs besides the images it works on: the runtime, the SDK
/// clients, the batch in flight.
pub const PROCESSOR_BASELINE_BYTES: u64 = 64 * 1024 * 1024;

/// Everything the service reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bucket_name: String,
    pub table_name: String,
    pub region: String,
    pub upload: UploadPolicy,
    /// Limits for verifying uploads and making thumbnails.
    pub processing: ProcessingPolicy,
    /// How many messages of a batch the processor works on at once.
    pub processor_concurrency: usize,
    /// How long the download URLs in `GET /images` answers stay valid.
    pub view_url_expiry: Duration,
    /// The queue of upload notifications the local poller reads (`just dev`); unused in Lambda,
    /// where the event source mapping reads it.
    pub queue_url: Option<String>,
    /// Origins allowed by CORS; never `*`.
    pub allowed_origins: Vec<String>,
    /// Where the local server listens.
    pub listen_addr: SocketAddr,
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
}

/// CloudWatch metrics (embedded metric format lines on stdout, see `telemetry::metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `METRICS_NAMESPACE`, default `ImageUpload`.
    pub namespace: MetricsNamespace,
    /// `EMF_METRICS`; by default on in Lambda (where CloudWatch Logs extracts the metrics from
    /// stdout) and off elsewhere (where the lines would only clutter a terminal).
    pub enabled: bool,
}

/// A CloudWatch namespace a custom metric may use: 1 to 255 characters from letters, digits and
/// `. - _ / # :` (what the AWS embedded-metric libraries accept), not starting with `AWS/`
/// (reserved for AWS services). CloudWatch drops the metrics of a line whose namespace breaks
/// these rules, silently, so they are checked at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsNamespace(String);

impl MetricsNamespace {
    /// The longest namespace CloudWatch accepts.
    pub const MAX_LEN: usize = 255;

    /// Parses a namespace.
    ///
    /// # Errors
    /// A message saying which rule `value` breaks.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#:".contains(c);
        if value.is_empty() || value.len() > Self::MAX_LEN || !value.chars().all(allowed) {
            return Err("1 to 255 characters from letters, digits and . - _ / # :");
        }
        if value.starts_with("AWS/") {
            return Err("a namespace of your own: AWS/ is reserved for AWS services");
        }
        Ok(Self(value.to_owned()))
    }
}

impl Default for MetricsNamespace {
    fn default() -> Self {
        Self("ImageUpload".into())
    }
}

impl AsRef<str> for MetricsNamespace {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The variables that turn on local token verification; all three or none.
pub const AUTH_VARIABLES: [&str; 3] = ["AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_JWKS_URL"];

/// How the API learns who calls it. One setting, so no combination of flags can leave a
/// request both unverified and attributed to someone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSettings {
    /// API Gateway's authorizer verified the caller and passes its claims; a request without an
    /// authorizer context is refused unless `allow_anonymous` (`ALLOW_ANONYMOUS=true`), when its
    /// owner is `anonymous`. With `client_id` (`AUTHORIZER_CLIENT_ID`), the claims must be those
    /// of an ID token issued to that app client: a Cognito authorizer checks the pool, the
    /// signature and the expiry, but not which of the pool's app clients the token was issued to.
    Authorizer {
        allow_anonymous: bool,
        client_id: Option<String>,
    },
    /// The service verifies `Authorization: Bearer` ID tokens itself, as the authorizer would
    /// (`AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_JWKS_URL`); nobody is anonymous.
    VerifyTokens(TokenSettings),
}

/// What a Cognito ID token must match. The issuer and the JWKS URL are separate because an
/// emulator's `iss` claim names AWS, not the emulator's own address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    /// The exact `iss` claim, e.g. `https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC`.
    pub issuer: String,
    /// The exact `aud` claim: the app client id.
    pub audience: String,
    /// Where the signing keys are: an `http(s)://` URL of a JSON Web Key Set.
    pub jwks_url: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object a line, for CloudWatch.
    Json,
    /// Readable lines, for a terminal.
    Text,
}

/// Bounds on every AWS call, so a slow or absent service becomes a quick 503, not a hung request.
#[derive(Debug, Clone, Copy)]
pub struct AwsTimeouts {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
    pub max_attempts: u32,
}

/// Endpoint overrides, for a local stack. Same variables the AWS SDKs read.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    pub s3: Option<String>,
    pub dynamodb: Option<String>,
    pub sqs: Option<String>,
}

/// A setting that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name}={value:?}: {reason}")]
pub struct ConfigError {
    name: &'static str,
    value: String,
    reason: String,
}

impl Settings {
    /// Reads the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is set to something unusable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a table in tests).
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is set to something unusable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let in_lambda = env.get("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let defaults = UploadPolicy::default();
        let upload = UploadPolicy {
            allowed_types: env.parse(
                "ALLOWED_FILE_TYPES",
                defaults.allowed_types,
                AllowedTypes::parse_list,
            )?,
            max_bytes: env.parse("MAX_UPLOAD_BYTES", defaults.max_bytes, |v| {
                number_within(v, 1..=MAX_UPLOAD_BYTES_LIMIT).map_err(|range| {
                    format!(
                        "{range} (bytes): the processor holds a whole upload in memory, in half \
                         of the fixed part of its per-image budget"
                    )
                })
            })?,
            require_size: env.parse("REQUIRE_FILE_SIZE", defaults.require_size, parse_bool)?,
            url_expiry: env.parse("UPLOAD_URL_EXPIRY_SECONDS", defaults.url_expiry, |v| {
                seconds_within(v, 1, 3600)
            })?,
            pending_ttl: env.parse("PENDING_TTL_SECONDS", defaults.pending_ttl, |v| {
                seconds_within(v, 60, 30 * 24 * 3600)
            })?,
        };
        if upload.pending_ttl < upload.url_expiry + PENDING_TTL_MARGIN {
            return Err(ConfigError {
                name: "PENDING_TTL_SECONDS",
                value: upload.pending_ttl.as_secs().to_string(),
                reason: format!(
                    "a PENDING row must outlive its upload URL (UPLOAD_URL_EXPIRY_SECONDS={}) by \
                     at least {} s, or an upload could arrive after its row expired",
                    upload.url_expiry.as_secs(),
                    PENDING_TTL_MARGIN.as_secs()
                ),
            });
        }
        let processing_defaults = ProcessingPolicy::default();
        let pixels = |v: &str| number_within(v, 1..=65_535);
        let processing = ProcessingPolicy {
            max_bytes: upload.max_bytes,
            max_width: env.parse("MAX_IMAGE_WIDTH", processing_defaults.max_width, pixels)?,
            max_height: env.parse("MAX_IMAGE_HEIGHT", processing_defaults.max_height, pixels)?,
            max_pixels: env.parse("MAX_IMAGE_PIXELS", processing_defaults.max_pixels, |v| {
                number_within(v, 1..=1_000_000_000)
            })?,
            thumbnail_size: env.parse(
                "THUMBNAIL_SIZE",
                processing_defaults.thumbnail_size,
                |v| number_within(v, 16..=2048),
            )?,
        };
        Ok(Self {
            processing,
            processor_concurrency: env
                .parse("PROCESSOR_CONCURRENCY", 2, |v| number_within(v, 1..=10))?,
            view_url_expiry: env.parse(
                "VIEW_URL_EXPIRY_SECONDS",
                Duration::from_secs(300),
                |v| seconds_within(v, 1, 3600),
            )?,
            queue_url: env.get("QUEUE_URL"),
            bucket_name: env
                .get("BUCKET_NAME")
                .unwrap_or_else(|| "image-upload-local".into()),
            table_name: env
                .get("TABLE_NAME")
                .unwrap_or_else(|| "ImageMetadata".into()),
            region: env
                .get("REGION")
                .or_else(|| env.get("AWS_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            upload,
            allowed_origins: env.parse(
                "ALLOWED_ORIGINS",
                vec![
                    "http://localhost:3000".into(),
                    "http://127.0.0.1:3000".into(),
                ],
                parse_origins,
            )?,
            listen_addr: env.parse(
                "LISTEN_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 3000)),
                |v| v.parse().map_err(|_| "an address such as 127.0.0.1:3000"),
            )?,
            log_format: env.parse(
                "LOG_FORMAT",
                if in_lambda {
                    LogFormat::Json
                } else {
                    LogFormat::Text
                },
                |v| match v {
                    "json" => Ok(LogFormat::Json),
                    "text" => Ok(LogFormat::Text),
                    _ => Err("json or text"),
                },
            )?,
            aws_timeouts: AwsTimeouts {
                connect: env.parse(
                    "AWS_CONNECT_TIMEOUT_MS",
                    Duration::from_millis(1000),
                    millis,
                )?,
                attempt: env.parse(
                    "AWS_ATTEMPT_TIMEOUT_MS",
                    Duration::from_millis(1500),
                    millis,
                )?,
                operation: env.parse(
                    "AWS_OPERATION_TIMEOUT_MS",
                    Duration::from_millis(4000),
                    millis,
                )?,
                max_attempts: env.parse("AWS_MAX_ATTEMPTS", 3, |v| number_within(v, 1..=10))?,
            },
            function_memory_mb: env.parse("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", None, |v| {
                number_within(v, 128..=10_240).map(Some)
            })?,
            metrics: MetricsSettings {
                namespace: env.parse(
                    "METRICS_NAMESPACE",
                    MetricsNamespace::default(),
                    MetricsNamespace::parse,
                )?,
                enabled: env.parse("EMF_METRICS", in_lambda, parse_bool)?,
            },
            auth: auth_settings(&env)?,
            endpoints: Endpoints {
                s3: env
                    .get("AWS_ENDPOINT_URL_S3")
                    .or_else(|| env.get("AWS_ENDPOINT_URL")),
                dynamodb: env
                    .get("AWS_ENDPOINT_URL_DYNAMODB")
                    .or_else(|| env.get("AWS_ENDPOINT_URL")),
                sqs: env
                    .get("AWS_ENDPOINT_URL_SQS")
                    .or_else(|| env.get("AWS_ENDPOINT_URL")),
            },
        })
    }
}

impl Settings {
    /// Reads the process environment as the local server (`image-upload-local`) does: like
    /// [`Settings::from_env`], except that an unset `ALLOW_ANONYMOUS` means `true` when no
    /// `AUTH_*` variable is set, so `just dev` works without signing in.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is set to something unusable.
    pub fn from_env_for_local_server() -> Result<Self, ConfigError> {
        Self::from_lookup_for_local_server(|name| std::env::var(name).ok())
    }

    /// [`Settings::from_env_for_local_server`] through `lookup`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is set to something unusable.
    pub fn from_lookup_for_local_server(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let set = |name: &str| lookup(name).is_some_and(|v| !v.trim().is_empty());
        let verifying = AUTH_VARIABLES.iter().any(|name| set(name));
        Self::from_lookup(|name| {
            if name == "ALLOW_ANONYMOUS" && !verifying && !set(name) {
                Some("true".into())
            } else {
                lookup(name)
            }
        })
    }

    /// The memory the processor needs to hold its budget for every message it works on at once:
    /// `PROCESSOR_CONCURRENCY` x the budget of the largest image allowed, plus its baseline.
    pub fn processor_memory_needed(&self) -> u64 {
        (self.processor_concurrency as u64)
            .saturating_mul(self.processing.max_memory_per_image())
            .saturating_add(PROCESSOR_BASELINE_BYTES)
    }

    /// Refuses a processor whose Lambda function has less memory than
    /// [`Settings::processor_memory_needed`]. Outside Lambda there is nothing to check.
    ///
    /// # Errors
    /// [`ConfigError`] naming the function's memory and what the limits need.
    pub fn check_processor_memory(&self) -> Result<(), ConfigError> {
        let Some(memory_mb) = self.function_memory_mb else {
            return Ok(());
        };
        let needed_mb = self.processor_memory_needed().div_ceil(1024 * 1024);
        if memory_mb >= needed_mb {
            return Ok(());
        }
        Err(ConfigError {
            name: "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            value: memory_mb.to_string(),
            reason: format!(
                "the processor needs at least {needed_mb} MB: PROCESSOR_CONCURRENCY={} x (4 B x \
                 MAX_IMAGE_PIXELS={} + 64 MiB) + 64 MiB; give the function more memory or lower \
                 those settings",
                self.processor_concurrency, self.processing.max_pixels
            ),
        })
    }
}

struct Env<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    /// A variable's value; set-but-empty counts as unset.
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn parse<T, E: ToString>(
        &self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => parse(value.trim()).map_err(|reason| ConfigError {
                name,
                reason: reason.to_string(),
                value,
            }),
        }
    }
}

/// An `https://` URL, or `http://` to a loopback host (an emulator on this machine): keys
/// fetched in the clear from anywhere else could be swapped on the way.
fn jwks_url_is_safe(url: &str) -> bool {
    if url.is_empty() || url.contains(char::is_whitespace) {
        return false;
    }
    if url
        .strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty())
    {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    matches!(host, "127.0.0.1" | "::1" | "localhost")
}

fn auth_settings<F: Fn(&str) -> Option<String>>(
    env: &Env<'_, F>,
) -> Result<AuthSettings, ConfigError> {
    let allow_anonymous = env.parse("ALLOW_ANONYMOUS", false, parse_bool)?;
    let client_id = env.get("AUTHORIZER_CLIENT_ID").map(|v| v.trim().to_owned());
    let [issuer, audience, jwks_url] = AUTH_VARIABLES.map(|name| env.get(name));
    let (issuer, audience, jwks_url) = match (issuer, audience, jwks_url) {
        (None, None, None) => {
            return Ok(AuthSettings::Authorizer {
                allow_anonymous,
                client_id,
            });
        }
        (Some(issuer), Some(audience), Some(jwks_url)) => (issuer, audience, jwks_url),
        (issuer, audience, jwks_url) => {
            let (name, value) = [issuer, audience, jwks_url]
                .into_iter()
                .zip(AUTH_VARIABLES)
                .find_map(|(value, name)| value.map(|v| (name, v)))
                .expect("one of them is set");
            return Err(ConfigError {
                name,
                value,
                reason: "AUTH_ISSUER, AUTH_AUDIENCE and AUTH_JWKS_URL go together: set all \
                         three to verify tokens, or none"
                    .into(),
            });
        }
    };
    if allow_anonymous {
        return Err(ConfigError {
            name: "ALLOW_ANONYMOUS",
            value: "true".into(),
            reason: "with AUTH_* set every request must carry a valid token; unset it".into(),
        });
    }
    if let Some(client_id) = client_id {
        return Err(ConfigError {
            name: "AUTHORIZER_CLIENT_ID",
            value: client_id,
            reason: "it applies to API Gateway's authorizer claims; with AUTH_* the token's \
                     audience is AUTH_AUDIENCE"
                .into(),
        });
    }
    let jwks_url = jwks_url.trim().to_owned();
    if !jwks_url_is_safe(&jwks_url) {
        return Err(ConfigError {
            name: "AUTH_JWKS_URL",
            value: jwks_url,
            reason: "an https:// URL of a JSON Web Key Set (http:// only on this machine: \
                     127.0.0.1, [::1] or localhost, since whoever serves the keys can forge any \
                     token)"
                .into(),
        });
    }
    Ok(AuthSettings::VerifyTokens(TokenSettings {
        issuer: issuer.trim().to_owned(),
        audience: audience.trim().to_owned(),
        jwks_url,
    }))
}

fn parse_bool(v: &str) -> Result<bool, &'static str> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err("true or false"),
    }
}

/// A whole number in `range`, with a message naming the range otherwise.
fn number_within<T>(v: &str, range: RangeInclusive<T>) -> Result<T, String>
where
    T: FromStr + PartialOrd + Display,
{
    v.parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| format!("a whole number from {} to {}", range.start(), range.end()))
}

fn seconds_within(v: &str, min: u64, max: u64) -> Result<Duration, String> {
    number_within(v, min..=max)
        .map(Duration::from_secs)
        .map_err(|range| format!("{range} (seconds)"))
}

fn millis(v: &str) -> Result<Duration, &'static str> {
    v.parse()
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .ok_or("a positive number of milliseconds")
}

fn parse_origins(v: &str) -> Result<Vec<String>, String> {
    let origins: Vec<String> = v
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(String::from)
        .collect();
    for origin in &origins {
        let scheme_ok = origin.starts_with("https://") || origin.starts_with("http://");
        if origin.contains('*') || !scheme_ok || origin.ends_with('/') {
            return Err(format!(
                "`{origin}` is not an origin like https://app.example.com (no `*`, no path)"
            ));
        }
    }
    if origins.is_empty() {
        return Err("no origins given".into());
    }
    Ok(origins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_suit_the_local_stack() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.bucket_name, "image-upload-local");
        assert_eq!(s.table_name, "ImageMetadata");
        assert_eq!(s.region, "us-east-1");
        assert_eq!(s.upload.max_bytes, 10 * 1024 * 1024);
        assert_eq!(s.upload.url_expiry, Duration::from_secs(300));
        assert_eq!(s.listen_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(
            s.allowed_origins,
            ["http://localhost:3000", "http://127.0.0.1:3000"]
        );
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.processing, ProcessingPolicy::default());
        assert_eq!(s.queue_url, None);
        assert_eq!(
            s.auth,
            AuthSettings::Authorizer {
                allow_anonymous: false,
                client_id: None,
            },
            "a deployment refuses callers the authorizer did not identify"
        );
    }

    const AUTH: [(&str, &str); 3] = [
        (
            "AUTH_ISSUER",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc",
        ),
        ("AUTH_AUDIENCE", "client123"),
        (
            "AUTH_JWKS_URL",
            "http://127.0.0.1:4567/us-east-1_abc/.well-known/jwks.json",
        ),
    ];

    fn local_settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup_for_local_server(|name| vars.get(name).cloned())
    }

    #[test]
    fn all_three_auth_variables_turn_on_token_verification() {
        let s = settings(&AUTH).unwrap();
        assert_eq!(
            s.auth,
            AuthSettings::VerifyTokens(TokenSettings {
                issuer: AUTH[0].1.into(),
                audience: AUTH[1].1.into(),
                jwks_url: AUTH[2].1.into(),
            })
        );
        assert_eq!(local_settings(&AUTH).unwrap().auth, s.auth);
    }

    #[test]
    fn key_sets_come_over_tls_or_from_this_machine() {
        for url in [
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json",
            "http://127.0.0.1:4567/pool/.well-known/jwks.json",
            "http://localhost:4567/pool/.well-known/jwks.json",
            "http://[::1]:4567/pool/.well-known/jwks.json",
            "http://127.0.0.1/jwks",
        ] {
            let s = settings(&[AUTH[0], AUTH[1], ("AUTH_JWKS_URL", url)]);
            assert!(s.is_ok(), "{url}: {s:?}");
        }
    }

    #[test]
    fn the_authorizer_can_be_held_to_one_app_client() {
        let s = settings(&[("AUTHORIZER_CLIENT_ID", "web-client")]).unwrap();
        assert_eq!(
            s.auth,
            AuthSettings::Authorizer {
                allow_anonymous: false,
                client_id: Some("web-client".into()),
            }
        );
    }

    #[test]
    fn the_local_server_is_anonymous_unless_told_otherwise() {
        let cases: [(&[(&str, &str)], bool); 4] = [
            (&[], true),
            (&[("ALLOW_ANONYMOUS", "false")], false),
            (&[("ALLOW_ANONYMOUS", "")], true),
            (&[("ALLOW_ANONYMOUS", "true")], true),
        ];
        for (vars, anonymous) in cases {
            assert_eq!(
                local_settings(vars).unwrap().auth,
                AuthSettings::Authorizer {
                    allow_anonymous: anonymous,
                    client_id: None,
                },
                "{vars:?}"
            );
        }
        assert_eq!(
            settings(&[("ALLOW_ANONYMOUS", "true")]).unwrap().auth,
            AuthSettings::Authorizer {
                allow_anonymous: true,
                client_id: None,
            }
        );
    }

    #[test]
    fn auth_settings_that_do_not_fit_together_are_refused() {
        let cases: [(&[(&str, &str)], &str); 9] = [
            (
                &[
                    AUTH[0],
                    AUTH[1],
                    ("AUTH_JWKS_URL", "http://keys.example.com/jwks.json"),
                ],
                "AUTH_JWKS_URL",
            ),
            (
                &[
                    AUTH[0],
                    AUTH[1],
                    ("AUTH_JWKS_URL", "http://127.0.0.1@evil.example/jwks.json"),
                ],
                "AUTH_JWKS_URL",
            ),
            (
                &[
                    AUTH[0],
                    AUTH[1],
                    ("AUTH_JWKS_URL", "http://127.0.0.1.evil.example/k"),
                ],
                "AUTH_JWKS_URL",
            ),
            (
                &[
                    AUTH[0],
                    AUTH[1],
                    AUTH[2],
                    ("AUTHORIZER_CLIENT_ID", "client123"),
                ],
                "AUTHORIZER_CLIENT_ID",
            ),
            (&AUTH[..1], "AUTH_ISSUER"),
            (&AUTH[1..], "AUTH_AUDIENCE"),
            (&[AUTH[0], AUTH[2]], "AUTH_ISSUER"),
            (
                &[AUTH[0], AUTH[1], ("AUTH_JWKS_URL", "file:///etc/keys")],
                "AUTH_JWKS_URL",
            ),
            (
                &[AUTH[0], AUTH[1], AUTH[2], ("ALLOW_ANONYMOUS", "true")],
                "ALLOW_ANONYMOUS",
            ),
        ];
        for (vars, named) in cases {
            let err = settings(vars).unwrap_err().to_string();
            assert!(err.contains(named), "{vars:?}: {err}");
            let err = local_settings(vars).unwrap_err().to_string();
            assert!(err.contains(named), "local server, {vars:?}: {err}");
        }
    }

    #[test]
    fn processing_limits_come_from_the_environment() {
        let s = settings(&[
            ("MAX_UPLOAD_BYTES", "1000"),
            ("MAX_IMAGE_WIDTH", "800"),
            ("MAX_IMAGE_HEIGHT", "600"),
            ("MAX_IMAGE_PIXELS", "400000"),
            ("THUMBNAIL_SIZE", "128"),
        ])
        .unwrap();
        assert_eq!(
            s.processing,
            ProcessingPolicy {
                max_bytes: 1000,
                max_width: 800,
                max_height: 600,
                max_pixels: 400_000,
                thumbnail_size: 128,
            }
        );
    }

    #[test]
    fn original_design_names_and_lambda_are_honoured() {
        let s = settings(&[
            ("BUCKET_NAME", "b"),
            ("TABLE_NAME", "T"),
            ("REGION", "eu-west-1"),
            ("AWS_REGION", "us-west-2"),
            ("AWS_LAMBDA_FUNCTION_NAME", "ImageUploadHandler"),
        ])
        .unwrap();
        assert_eq!(
            (
                s.bucket_name.as_str(),
                s.table_name.as_str(),
                s.region.as_str()
            ),
            ("b", "T", "eu-west-1")
        );
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn refuses_each_unusable_value_naming_the_variable() {
        let cases = [
            ("UPLOAD_URL_EXPIRY_SECONDS", "3601"),
            ("UPLOAD_URL_EXPIRY_SECONDS", "0"),
            ("MAX_UPLOAD_BYTES", "-1"),
            ("ALLOWED_FILE_TYPES", "image/svg+xml"),
            ("ALLOWED_ORIGINS", "*"),
            ("ALLOWED_ORIGINS", "https://a.example/"),
            ("REQUIRE_FILE_SIZE", "yes"),
            ("LISTEN_ADDR", "localhost"),
            ("AWS_MAX_ATTEMPTS", "0"),
            ("MAX_IMAGE_WIDTH", "0"),
            ("MAX_IMAGE_PIXELS", "many"),
            ("THUMBNAIL_SIZE", "4096"),
            ("PROCESSOR_CONCURRENCY", "0"),
            ("VIEW_URL_EXPIRY_SECONDS", "7200"),
            ("MAX_UPLOAD_BYTES", "33554433"),
            ("PENDING_TTL_SECONDS", "1199"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "64"),
            ("EMF_METRICS", "yes"),
            ("METRICS_NAMESPACE", "AWS/Lambda"),
            ("METRICS_NAMESPACE", "Image Upload"),
            ("METRICS_NAMESPACE", "Bildérs"),
            ("ALLOW_ANONYMOUS", "yes"),
        ];
        for (name, value) in cases {
            let err = settings(&[(name, value)]).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn metrics_are_written_in_lambda_unless_turned_off_and_elsewhere_when_asked() {
        let lambda = ("AWS_LAMBDA_FUNCTION_NAME", "ImageUploadApi");
        let cases: [(&[(&str, &str)], bool); 5] = [
            (&[], false),
            (&[lambda], true),
            (&[lambda, ("EMF_METRICS", "false")], false),
            (&[("EMF_METRICS", "true")], true),
            (&[("EMF_METRICS", "1")], true),
        ];
        for (vars, enabled) in cases {
            assert_eq!(settings(vars).unwrap().metrics.enabled, enabled, "{vars:?}");
        }
        assert_eq!(
            settings(&[]).unwrap().metrics.namespace.as_ref(),
            "ImageUpload"
        );
        let custom = settings(&[("METRICS_NAMESPACE", "Team/Image-Upload_2#prod:eu")]).unwrap();
        assert_eq!(
            custom.metrics.namespace.as_ref(),
            "Team/Image-Upload_2#prod:eu"
        );
        let too_long = "N".repeat(MetricsNamespace::MAX_LEN + 1);
        assert!(settings(&[("METRICS_NAMESPACE", too_long.as_str())]).is_err());
    }

    #[test]
    fn a_pending_row_must_outlive_its_upload_url() {
        let longest_url = ("UPLOAD_URL_EXPIRY_SECONDS", "3600");
        let err = settings(&[longest_url, ("PENDING_TTL_SECONDS", "3600")]).unwrap_err();
        assert!(
            err.to_string().contains("PENDING_TTL_SECONDS") && err.to_string().contains("3600"),
            "{err}"
        );
        assert!(settings(&[longest_url, ("PENDING_TTL_SECONDS", "4500")]).is_ok());
        assert!(settings(&[longest_url]).is_ok(), "the default TTL is a day");
        assert!(settings(&[("PENDING_TTL_SECONDS", "1200")]).is_ok());
    }

    #[test]
    fn the_largest_upload_fits_the_processors_budget() {
        let limit = MAX_UPLOAD_BYTES_LIMIT.to_string();
        assert_eq!(
            settings(&[("MAX_UPLOAD_BYTES", limit.as_str())])
                .unwrap()
                .upload
                .max_bytes,
            32 * 1024 * 1024
        );
    }

    #[test]
    fn a_processor_with_too_little_memory_for_its_limits_is_refused() {
        // Defaults: 2 x (4 B x 50,000,000 + 64 MiB) + 64 MiB = 601,326,592 B, 574 MB.
        let needed = settings(&[]).unwrap().processor_memory_needed();
        assert_eq!(needed, 601_326_592);
        for (memory, ok) in [
            ("1024", true),
            ("574", true),
            ("573", false),
            ("512", false),
        ] {
            let s = settings(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory)]).unwrap();
            assert_eq!(s.check_processor_memory().is_ok(), ok, "{memory} MB");
        }
        let err = settings(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")])
            .unwrap()
            .check_processor_memory()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("574 MB") && err.contains("PROCESSOR_CONCURRENCY=2"),
            "{err}"
        );
        let smaller = settings(&[
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
            ("PROCESSOR_CONCURRENCY", "1"),
        ])
        .unwrap();
        assert!(
            smaller.check_processor_memory().is_ok(),
            "1 x 255 MiB + 64 MiB"
        );
        assert!(
            settings(&[]).unwrap().check_processor_memory().is_ok(),
            "outside Lambda there is nothing to check"
        );
    }
}
