//! How the programs report: the log format (`LOG_FORMAT`) and CloudWatch metrics (`EMF_METRICS`,
//! `METRICS_NAMESPACE`). Both default to what suits where the program runs: Lambda or a terminal.

use super::env::{ConfigError, Env, parse_bool};

/// `METRICS_NAMESPACE` when unset.
pub const METRICS_NAMESPACE_DEFAULT: &str = "ImageUpload";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object a line, for CloudWatch.
    Json,
    /// Readable lines, for a terminal.
    Text,
}

impl LogFormat {
    /// `LOG_FORMAT`: JSON in Lambda (`in_lambda`), text elsewhere, unless set.
    pub(super) fn read(env: &Env, in_lambda: bool) -> Result<Self, ConfigError> {
        let default = if in_lambda { Self::Json } else { Self::Text };
        env.parse("LOG_FORMAT", default, |v| match v {
            "json" => Ok(Self::Json),
            "text" => Ok(Self::Text),
            _ => Err("json or text"),
        })
    }
}

/// CloudWatch metrics (embedded metric format lines on stdout, see `telemetry::metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `METRICS_NAMESPACE`, default [`METRICS_NAMESPACE_DEFAULT`].
    pub namespace: MetricsNamespace,
    /// `EMF_METRICS`; by default on in Lambda (where CloudWatch Logs extracts the metrics from
    /// stdout) and off elsewhere (where the lines would only clutter a terminal).
    pub enabled: bool,
}

impl MetricsSettings {
    /// `METRICS_NAMESPACE` and `EMF_METRICS` (on by default in Lambda, `in_lambda`).
    pub(super) fn read(env: &Env, in_lambda: bool) -> Result<Self, ConfigError> {
        Ok(Self {
            namespace: env.parse(
                "METRICS_NAMESPACE",
                MetricsNamespace::default(),
                MetricsNamespace::parse,
            )?,
            enabled: env.parse("EMF_METRICS", in_lambda, parse_bool)?,
        })
    }
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

    /// The characters a namespace may use besides ASCII letters and digits.
    const PUNCTUATION: &str = ".-_/#:";

    /// The prefix reserved for AWS services' own namespaces.
    const RESERVED_PREFIX: &str = "AWS/";

    /// Parses a namespace.
    ///
    /// # Errors
    /// A message saying which rule `value` breaks.
    pub fn parse(value: &str) -> Result<Self, String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || Self::PUNCTUATION.contains(c);
        if value.is_empty() || value.len() > Self::MAX_LEN || !value.chars().all(allowed) {
            let punctuation: Vec<String> = Self::PUNCTUATION.chars().map(String::from).collect();
            return Err(format!(
                "1 to {} characters from letters, digits and {}",
                Self::MAX_LEN,
                punctuation.join(" ")
            ));
        }
        if value.starts_with(Self::RESERVED_PREFIX) {
            return Err(format!(
                "a namespace of your own: {} is reserved for AWS services",
                Self::RESERVED_PREFIX
            ));
        }
        Ok(Self(value.to_owned()))
    }
}

impl Default for MetricsNamespace {
    fn default() -> Self {
        Self(METRICS_NAMESPACE_DEFAULT.into())
    }
}

impl AsRef<str> for MetricsNamespace {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
