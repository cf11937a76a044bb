//! Serving renditions and originals through a CDN: CloudFront signed URLs.
//!
//! - [`signer`]: signs, for one image, a custom policy that covers every object of that image (its
//!   renditions and its original) until an expiry rounded to a window, so that the same image
//!   gets the same URLs for a while and browsers and the CDN can cache them.
//! - [`checker`]: verifies a signed URL as CloudFront does (policy, expiry, key pair id,
//!   signature against the public key): the local CDN path of the local server, and the tests.
//! - [`key`]: the key pair (ECDSA P-256 or RSA), read from PEM.
//! - [`Cdn`]: the API's CDN settings, and its signer once the key has been read.
//! - [`local_cdn`]: the local server's CDN path, which serves what the distribution would.
//!
//! The policy, its encoding and the URL's parameters are CloudFront's
//! (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-creating-signed-url-custom-policy.html>):
//! ECDSA P-256 or RSA PKCS #1 v1.5, over SHA-256 (`Hash-Algorithm=SHA256`), base64 with `+`,
//! `=`, `/` replaced by `-`, `_`, `~`.

mod cdn;
pub mod checker;
pub mod key;
mod local;
pub mod signer;

pub use crate::domain::CdnOrigin;
pub use cdn::{Cdn, CdnKeyError};
pub use checker::{Refusal, SignedUrlChecker};
pub use key::{KeyError, KeyKind, PrivateKey, PublicKey};
pub use local::{SERVED_PREFIXES, local_cdn};
pub use signer::{SignedImage, UrlSigner};

/// CloudFront's URL-safe base64: standard base64 with `+`, `=` and `/` replaced by `-`, `_`, `~`.
pub fn cloudfront_base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            other => other,
        })
        .collect()
}

/// The bytes of CloudFront's URL-safe base64 `text`, or `None` if it is not that.
pub fn cloudfront_base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let standard: String = text
        .chars()
        .map(|c| match c {
            '-' => Some('+'),
            '_' => Some('='),
            '~' => Some('/'),
            '+' | '=' | '/' => None,
            other => Some(other),
        })
        .collect::<Option<String>>()?;
    base64::engine::general_purpose::STANDARD
        .decode(standard)
        .ok()
}

#[cfg(test)]
mod tests;
