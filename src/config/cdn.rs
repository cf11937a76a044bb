//! The CDN that serves renditions and originals (`CDN_*`): where it is, the key pair that signs
//! its URLs, and the window their expiry is rounded to. Unset, the API answers with presigned S3
//! URLs instead.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use super::env::{ConfigError, Env, seconds_within};
use crate::domain::CdnOrigin;

/// `CDN_URL_WINDOW_SECONDS` when unset: URLs stay the same for an hour and valid for one to two.
pub const CDN_URL_WINDOW_DEFAULT: Duration = Duration::from_secs(3600);

/// `CDN_URL_WINDOW_SECONDS`, in seconds: a minute to a day.
pub const CDN_URL_WINDOW_RANGE: RangeInclusive<u64> = 60..=86_400;

/// The variables that turn the CDN on: all of them or none, with one of [`CDN_KEY_VARIABLES`].
pub const CDN_VARIABLES: [&str; 2] = ["CDN_URL", "CDN_KEY_PAIR_ID"];

/// Where the private key is: exactly one of them with the CDN.
pub const CDN_KEY_VARIABLES: [&str; 2] = ["CDN_PRIVATE_KEY_FILE", "CDN_PRIVATE_KEY_SECRET"];

/// Where the API reads the CDN's private key from, at its first signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CdnKeySource {
    /// `CDN_PRIVATE_KEY_FILE`: a PEM file (the local server).
    File(PathBuf),
    /// `CDN_PRIVATE_KEY_SECRET`: the name or ARN of a Secrets Manager secret whose string is the
    /// PEM (a deployment: `just deploy` stores it there).
    Secret(String),
}

impl std::fmt::Display for CdnKeySource {
    /// Where the key is, never what it is.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "file {}", path.display()),
            Self::Secret(id) => write!(f, "secret {id}"),
        }
    }
}

/// Where the API's signed URLs point and what signs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdnSettings {
    /// `CDN_URL`: the distribution's URL (the local server's CDN path locally).
    pub origin: CdnOrigin,
    /// `CDN_KEY_PAIR_ID`: the id of the public key in the distribution's trusted key group.
    pub key_pair_id: String,
    /// Where its private key is, read at the first signing.
    pub private_key: CdnKeySource,
    /// `CDN_URL_WINDOW_SECONDS`: what URL expiries are rounded to.
    pub window: Duration,
}

impl CdnSettings {
    /// The CDN settings, or `None` when no `CDN_*` variable is set.
    pub(super) fn read(env: &Env) -> Result<Option<Self>, ConfigError> {
        let every = || CDN_VARIABLES.into_iter().chain(CDN_KEY_VARIABLES);
        let set: Vec<&str> = every().filter(|name| env.is_set(name)).collect();
        if set.is_empty() {
            return Ok(None);
        }
        let needed = format!(
            "the CDN needs {} and one of {}",
            CDN_VARIABLES.join(", "),
            CDN_KEY_VARIABLES.join(", ")
        );
        if let Some(missing) = CDN_VARIABLES.into_iter().find(|name| !env.is_set(name)) {
            return Err(ConfigError::incomplete(format!(
                "{missing} is required with {}: {needed}",
                set.join(" and "),
            )));
        }
        let private_key = match (
            env.get("CDN_PRIVATE_KEY_FILE"),
            env.get("CDN_PRIVATE_KEY_SECRET"),
        ) {
            (Some(file), None) => CdnKeySource::File(PathBuf::from(file)),
            (None, Some(_)) => CdnKeySource::Secret(env.parse(
                "CDN_PRIVATE_KEY_SECRET",
                String::new(),
                secret_id,
            )?),
            (Some(_), Some(_)) => {
                return Err(ConfigError::incomplete(format!(
                    "CDN_PRIVATE_KEY_FILE and CDN_PRIVATE_KEY_SECRET are both set: {needed}"
                )));
            }
            (None, None) => {
                return Err(ConfigError::incomplete(format!(
                    "CDN_PRIVATE_KEY_FILE or CDN_PRIVATE_KEY_SECRET is required with {}: {needed}",
                    set.join(" and "),
                )));
            }
        };
        let origin = env.parse("CDN_URL", None, |v| CdnOrigin::parse(v).map(Some))?;
        let key_pair_id = env.parse("CDN_KEY_PAIR_ID", String::new(), |v| {
            if !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Ok(v.to_owned())
            } else {
                Err("a public key id such as K2JCJMDEHXQW5F (letters and digits)")
            }
        })?;
        Ok(Some(Self {
            origin: origin.expect("CDN_URL is set"),
            key_pair_id,
            private_key,
            window: env.parse("CDN_URL_WINDOW_SECONDS", CDN_URL_WINDOW_DEFAULT, |v| {
                seconds_within(v, CDN_URL_WINDOW_RANGE)
            })?,
        }))
    }
}

/// A Secrets Manager secret id: a name (letters, digits and `/_+=.@-`, up to 512) or an ARN.
fn secret_id(value: &str) -> Result<String, &'static str> {
    let name = value
        .strip_prefix("arn:")
        .map_or(value, |arn| arn.rsplit(':').next().unwrap_or(""));
    let valid = !name.is_empty()
        && value.len() <= 2048
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b));
    if valid {
        Ok(value.to_owned())
    } else {
        Err("a Secrets Manager secret name (letters, digits, /_+=.@-) or ARN")
    }
}
