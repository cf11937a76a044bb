//! What an upload may be and what the processor may spend on it: the upload policy, the decoding
//! limits, the processor's concurrency and the memory they add up to.
//!
//! The defaults of the upload policy and of the decoding limits are the domain's
//! ([`UploadPolicy::default`], [`ProcessingPolicy::default`]); the ranges a deployment may
//! choose from are here.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::Settings;
use super::env::{ConfigError, Env, MIB, number_within, parse_bool, seconds_within, show_bytes};
use crate::domain::{
    AllowedTypes, BUDGET_BYTES_PER_PIXEL, BUDGET_FIXED_BYTES, ProcessingPolicy, QuotaPolicy,
    Renditions, UploadPolicy,
};

/// The largest `MAX_UPLOAD_BYTES`: the processor holds a whole upload in memory while it verifies
/// it, inside the fixed part of its per-image budget, so an upload may take half of that part.
pub const MAX_UPLOAD_BYTES_LIMIT: u64 = BUDGET_FIXED_BYTES / 2;

/// `MAX_UPLOAD_BYTES`, in bytes.
pub const MAX_UPLOAD_BYTES_RANGE: RangeInclusive<u64> = 1..=MAX_UPLOAD_BYTES_LIMIT;

/// `UPLOAD_URL_EXPIRY_SECONDS`, in seconds: up to an hour.
pub const UPLOAD_URL_EXPIRY_RANGE: RangeInclusive<u64> = 1..=3600;

/// `PENDING_TTL_SECONDS`, in seconds: a minute to 30 days. Its lower end in practice is
/// `UPLOAD_URL_EXPIRY_SECONDS` + [`PENDING_TTL_MARGIN`].
pub const PENDING_TTL_RANGE: RangeInclusive<u64> = 60..=30 * 24 * 3600;

/// How much longer than its upload URL a PENDING row must live: an upload that arrives as its URL
/// expires must still find its row when the processor gets to it, retries included.
pub const PENDING_TTL_MARGIN: Duration = Duration::from_secs(15 * 60);

/// `MAX_IMAGE_WIDTH` and `MAX_IMAGE_HEIGHT`, in pixels.
pub const IMAGE_SIDE_RANGE: RangeInclusive<u32> = 1..=65_535;

/// `MAX_IMAGE_PIXELS`.
pub const MAX_IMAGE_PIXELS_RANGE: RangeInclusive<u64> = 1..=1_000_000_000;

/// `PROCESSOR_CONCURRENCY`: how many messages of a batch the processor works on at once.
pub const PROCESSOR_CONCURRENCY_DEFAULT: usize = 2;

/// `PROCESSOR_CONCURRENCY`.
pub const PROCESSOR_CONCURRENCY_RANGE: RangeInclusive<usize> = 1..=10;

/// `VIEW_URL_EXPIRY_SECONDS`: how long the download URLs of `GET /images` answers stay valid.
pub const VIEW_URL_EXPIRY_DEFAULT: Duration = Duration::from_secs(300);

/// `VIEW_URL_EXPIRY_SECONDS`, in seconds: up to an hour.
pub const VIEW_URL_EXPIRY_RANGE: RangeInclusive<u64> = 1..=3600;

/// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB: what Lambda offers.
pub const FUNCTION_MEMORY_MB_RANGE: RangeInclusive<u64> = 128..=10_240;

/// What the processor's process needs besides the images it works on: the runtime, the SDK
/// clients, the batch in flight.
pub const PROCESSOR_BASELINE_BYTES: u64 = 64 * MIB;

/// `MAX_IMAGES_PER_USER`, `MAX_BYTES_PER_USER`, `MAX_UPLOADS_IN_FLIGHT` and `MAX_UPLOADS_PER_HOUR`:
/// each at least 1.
pub(super) fn quota_policy(env: &Env) -> Result<QuotaPolicy, ConfigError> {
    let defaults = QuotaPolicy::default();
    Ok(QuotaPolicy {
        max_images: env.parse("MAX_IMAGES_PER_USER", defaults.max_images, |v| {
            number_within(v, 1..=u64::from(u32::MAX))
        })?,
        max_bytes: env.parse("MAX_BYTES_PER_USER", defaults.max_bytes, |v| {
            number_within(v, 1..=u64::MAX / 2)
        })?,
        max_in_flight: env.parse("MAX_UPLOADS_IN_FLIGHT", defaults.max_in_flight, |v| {
            number_within(v, 1..=1000)
        })?,
        max_per_hour: env.parse("MAX_UPLOADS_PER_HOUR", defaults.max_per_hour, |v| {
            number_within(v, 1..=1_000_000)
        })?,
    })
}

/// The upload policy: `ALLOWED_FILE_TYPES`, `MAX_UPLOAD_BYTES`, `REQUIRE_FILE_SIZE`,
/// `UPLOAD_URL_EXPIRY_SECONDS` and `PENDING_TTL_SECONDS`.
pub(super) fn upload_policy(env: &Env) -> Result<UploadPolicy, ConfigError> {
    let defaults = UploadPolicy::default();
    let upload = UploadPolicy {
        allowed_types: env.parse(
            "ALLOWED_FILE_TYPES",
            defaults.allowed_types,
            AllowedTypes::parse_list,
        )?,
        max_bytes: env.parse("MAX_UPLOAD_BYTES", defaults.max_bytes, |v| {
            number_within(v, MAX_UPLOAD_BYTES_RANGE).map_err(|range| {
                format!(
                    "{range} (bytes): the processor holds a whole upload in memory, in half \
                     of the fixed part of its per-image budget"
                )
            })
        })?,
        require_size: env.parse("REQUIRE_FILE_SIZE", defaults.require_size, parse_bool)?,
        url_expiry: env.parse("UPLOAD_URL_EXPIRY_SECONDS", defaults.url_expiry, |v| {
            seconds_within(v, UPLOAD_URL_EXPIRY_RANGE)
        })?,
        pending_ttl: env.parse("PENDING_TTL_SECONDS", defaults.pending_ttl, |v| {
            seconds_within(v, PENDING_TTL_RANGE)
        })?,
    };
    if upload.pending_ttl < upload.url_expiry + PENDING_TTL_MARGIN {
        return Err(ConfigError::invalid(
            "PENDING_TTL_SECONDS",
            upload.pending_ttl.as_secs().to_string(),
            format!(
                "a PENDING row must outlive its upload URL (UPLOAD_URL_EXPIRY_SECONDS={}) by \
                 at least {} s, or an upload could arrive after its row expired",
                upload.url_expiry.as_secs(),
                PENDING_TTL_MARGIN.as_secs()
            ),
        ));
    }
    Ok(upload)
}

/// The decoding limits: `MAX_IMAGE_WIDTH`, `MAX_IMAGE_HEIGHT`, `MAX_IMAGE_PIXELS` and
/// `RENDITIONS`; the largest upload is the upload policy's `max_bytes`. `THUMBNAIL_SIZE`, which
/// `RENDITIONS` holds now, is refused rather than ignored.
pub(super) fn processing_policy(
    env: &Env,
    max_bytes: u64,
) -> Result<ProcessingPolicy, ConfigError> {
    let defaults = ProcessingPolicy::default();
    let side = |v: &str| number_within(v, IMAGE_SIDE_RANGE);
    Ok(ProcessingPolicy {
        max_bytes,
        max_width: env.parse("MAX_IMAGE_WIDTH", defaults.max_width, side)?,
        max_height: env.parse("MAX_IMAGE_HEIGHT", defaults.max_height, side)?,
        max_pixels: env.parse("MAX_IMAGE_PIXELS", defaults.max_pixels, |v| {
            number_within(v, MAX_IMAGE_PIXELS_RANGE)
        })?,
        renditions: {
            env.parse("THUMBNAIL_SIZE", (), |v| {
                Err(format!(
                    "the thumbnail's side is set in RENDITIONS (as in RENDITIONS=thumbnail:{v},display:1600)"
                ))
            })?;
            env.parse("RENDITIONS", defaults.renditions, Renditions::parse)?
        },
    })
}

/// `PROCESSOR_CONCURRENCY`.
pub(super) fn processor_concurrency(env: &Env) -> Result<usize, ConfigError> {
    env.parse(
        "PROCESSOR_CONCURRENCY",
        PROCESSOR_CONCURRENCY_DEFAULT,
        |v| number_within(v, PROCESSOR_CONCURRENCY_RANGE),
    )
}

/// `SUPERSEDED_RENDITIONS_KEPT_SECONDS` when unset: two days, twice the longest CDN window
/// (`CDN_URL_WINDOW_RANGE`), so no URL the API handed out outlives the rendition it names.
pub const SUPERSEDED_KEPT_DEFAULT: Duration = Duration::from_secs(2 * 86_400);

/// `SUPERSEDED_RENDITIONS_KEPT_SECONDS`, in seconds: none to a week.
pub const SUPERSEDED_KEPT_RANGE: RangeInclusive<u64> = 0..=7 * 86_400;

/// `SUPERSEDED_RENDITIONS_KEPT_SECONDS`.
pub(super) fn superseded_kept(env: &Env) -> Result<Duration, ConfigError> {
    env.parse(
        "SUPERSEDED_RENDITIONS_KEPT_SECONDS",
        SUPERSEDED_KEPT_DEFAULT,
        |v| seconds_within(v, SUPERSEDED_KEPT_RANGE),
    )
}

/// `VIEW_URL_EXPIRY_SECONDS`.
pub(super) fn view_url_expiry(env: &Env) -> Result<Duration, ConfigError> {
    env.parse("VIEW_URL_EXPIRY_SECONDS", VIEW_URL_EXPIRY_DEFAULT, |v| {
        seconds_within(v, VIEW_URL_EXPIRY_RANGE)
    })
}

/// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, which Lambda sets; `None` outside Lambda.
pub(super) fn function_memory_mb(env: &Env) -> Result<Option<u64>, ConfigError> {
    env.parse("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", None, |v| {
        number_within(v, FUNCTION_MEMORY_MB_RANGE).map(Some)
    })
}

impl Settings {
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
        let needed_mb = self.processor_memory_needed().div_ceil(MIB);
        if memory_mb >= needed_mb {
            return Ok(());
        }
        Err(ConfigError::invalid(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            memory_mb.to_string(),
            format!(
                "the processor needs at least {needed_mb} MB: PROCESSOR_CONCURRENCY={} x \
                 ({} x MAX_IMAGE_PIXELS={} + {}) + {}; give the function more memory or lower \
                 those settings",
                self.processor_concurrency,
                show_bytes(BUDGET_BYTES_PER_PIXEL),
                self.processing.max_pixels,
                show_bytes(BUDGET_FIXED_BYTES),
                show_bytes(PROCESSOR_BASELINE_BYTES),
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;
    use crate::config::env::lookup_in;

    #[test]
    fn the_memory_message_spells_out_the_budget() {
        let err = Settings::from_lookup(lookup_in(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")]))
            .unwrap()
            .check_processor_memory()
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid setting AWS_LAMBDA_FUNCTION_MEMORY_SIZE=\"512\": the processor needs at \
             least 574 MB: PROCESSOR_CONCURRENCY=2 x (4 B x MAX_IMAGE_PIXELS=50000000 + 64 MiB) \
             + 64 MiB; give the function more memory or lower those settings"
        );
    }
}
