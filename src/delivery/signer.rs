//! CloudFront signed URLs for one image's objects.
//!
//! One signature per image: a custom policy whose resource, `{origin}/*/{imageId}*`, covers the
//! image's renditions (`renditions/{imageId}/…`) and its original (`originals/{imageId}.…`), and
//! nothing of any other image (ids are random UUIDs). Its expiry is rounded up to a window
//! boundary, a window ahead: from `now` it is valid for at least one window and at most two, and
//! every request within one window gets the same URLs, which browsers and the CDN can cache. The
//! signatures of the current window are kept, so a listing signs only images it has not signed in
//! that window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

use super::{PrivateKey, PublicKey, cloudfront_base64};
use crate::domain::{CdnOrigin, ImageId, ObjectKey};

/// The most signatures kept for one window; past it the cache starts again.
const MAX_CACHED: usize = 10_000;

/// The signed query of one image's URLs, and when they stop working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedImage {
    /// `Policy=…&Signature=…&Key-Pair-Id=…&Hash-Algorithm=SHA256`.
    pub query: String,
    pub expires_at: OffsetDateTime,
}

/// Signs image URLs with one key pair of the distribution's trusted key group.
#[derive(Debug)]
pub struct UrlSigner {
    origin: CdnOrigin,
    key_pair_id: String,
    key: PrivateKey,
    window: Duration,
    /// The signatures of the window that ends at the expiry held.
    cache: Mutex<(i64, HashMap<ImageId, String>)>,
}

impl UrlSigner {
    /// A signer for `origin` with the key `key_pair_id` names, its URLs valid for one to two
    /// `window`s (at least a second).
    pub fn new(origin: CdnOrigin, key_pair_id: String, key: PrivateKey, window: Duration) -> Self {
        Self {
            origin,
            key_pair_id,
            key,
            window: window.max(Duration::from_secs(1)),
            cache: Mutex::new((0, HashMap::new())),
        }
    }

    pub fn origin(&self) -> &CdnOrigin {
        &self.origin
    }

    /// The public half of the signing key: what the distribution's key group holds.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// The expiry of URLs signed at `now` (epoch seconds): the end of the window after the one
    /// `now` is in.
    pub fn expiry(&self, now: OffsetDateTime) -> i64 {
        let window = i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX / 4);
        (now.unix_timestamp().div_euclid(window) + 2) * window
    }

    /// The custom policy for image `id` until `expires` (epoch seconds), as CloudFront reads it:
    /// compact JSON, `Resource` before `Condition`.
    pub fn policy(&self, id: ImageId, expires: i64) -> String {
        format!(
            "{{\"Statement\":[{{\"Resource\":\"{}/*/{id}*\",\"Condition\":{{\"DateLessThan\":{{\"AWS:EpochTime\":{expires}}}}}}}]}}",
            self.origin.as_str()
        )
    }

    /// The signed query for image `id`'s URLs at `now`: signed once per image and window.
    pub fn sign_image(&self, id: ImageId, now: OffsetDateTime) -> SignedImage {
        let expires = self.expiry(now);
        let expires_at = OffsetDateTime::from_unix_timestamp(expires).unwrap_or(now);
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.0 != expires || cache.1.len() >= MAX_CACHED {
            *cache = (expires, HashMap::new());
        }
        let query = cache
            .1
            .entry(id)
            .or_insert_with(|| {
                let policy = self.policy(id, expires);
                let signature = self.key.sign(policy.as_bytes());
                format!(
                    "Policy={}&Signature={}&Key-Pair-Id={}&Hash-Algorithm=SHA256",
                    cloudfront_base64(policy.as_bytes()),
                    cloudfront_base64(&signature),
                    self.key_pair_id
                )
            })
            .clone();
        SignedImage { query, expires_at }
    }

    /// The signed URL of `key` (one of image `signed`'s objects).
    pub fn url(&self, key: &ObjectKey, signed: &SignedImage) -> String {
        format!("{}?{}", self.origin.object_url(key), signed.query)
    }
}
