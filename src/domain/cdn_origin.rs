//! Where a CDN serves the bucket's renditions and originals.

use super::ObjectKey;

/// Where the CDN serves the bucket's objects: `https://` and a host (with a port and a path
/// prefix if any), or `http://` to a loopback address (the local CDN path). No trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdnOrigin(String);

impl CdnOrigin {
    /// `raw` as an origin.
    ///
    /// # Errors
    /// A sentence for the configuration error: not `https://` (nor `http://` to loopback), a
    /// query, a fragment, or characters a URL cannot carry as they are.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim_end_matches('/');
        let rest = if let Some(rest) = trimmed.strip_prefix("https://") {
            rest
        } else if let Some(rest) = trimmed.strip_prefix("http://") {
            let authority = rest.split('/').next().unwrap_or_default();
            let loopback = ["127.0.0.1", "localhost", "[::1]"].iter().any(|host| {
                authority == *host
                    || authority
                        .strip_prefix(host)
                        .and_then(|r| r.strip_prefix(':'))
                        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            });
            if !loopback {
                return Err("http:// only to 127.0.0.1, [::1] or localhost".into());
            }
            rest
        } else {
            return Err("an https:// URL, e.g. https://d111111abcdef8.cloudfront.net".into());
        };
        let host = rest.split('/').next().unwrap_or_default();
        let valid = !host.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~/:[]".contains(&b));
        if !valid {
            return Err("a host and an optional path, without a query or a fragment".into());
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL of `key` under this origin, without a signature.
    pub fn object_url(&self, key: &ObjectKey) -> String {
        format!("{}/{key}", self.0)
    }
}
