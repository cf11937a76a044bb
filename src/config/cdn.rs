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

/// The variables that turn the CDN on: all of them or none.
pub const CDN_VARIABLES: [&str; 3] = ["CDN_URL", "CDN_KEY_PAIR_ID", "CDN_PRIVATE_KEY_FILE"];

/// Where the API's signed URLs point and what signs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdnSettings {
    /// `CDN_URL`: the distribution's URL (the local server's CDN path locally).
    pub origin: CdnOrigin,
    /// `CDN_KEY_PAIR_ID`: the id of the public key in the distribution's trusted key group.
    pub key_pair_id: String,
    /// `CDN_PRIVATE_KEY_FILE`: the PEM file of its private key, read at the first signing.
    pub private_key_file: PathBuf,
    /// `CDN_URL_WINDOW_SECONDS`: what URL expiries are rounded to.
    pub window: Duration,
}

impl CdnSettings {
    /// The CDN settings, or `None` when no `CDN_*` variable is set.
    pub(super) fn read(env: &Env) -> Result<Option<Self>, ConfigError> {
        let set: Vec<&str> = CDN_VARIABLES
            .into_iter()
            .filter(|name| env.is_set(name))
            .collect();
        if set.is_empty() {
            return Ok(None);
        }
        if let Some(missing) = CDN_VARIABLES.into_iter().find(|name| !env.is_set(name)) {
            return Err(ConfigError::incomplete(format!(
                "{missing} is required with {}: the CDN needs all of {}",
                set.join(" and "),
                CDN_VARIABLES.join(", ")
            )));
        }
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
            private_key_file: PathBuf::from(env.get("CDN_PRIVATE_KEY_FILE").unwrap_or_default()),
            window: env.parse("CDN_URL_WINDOW_SECONDS", CDN_URL_WINDOW_DEFAULT, |v| {
                seconds_within(v, CDN_URL_WINDOW_RANGE)
            })?,
        }))
    }
}
