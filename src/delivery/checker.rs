//! Checking a signed URL as CloudFront does: the local CDN path serves an object only to a URL
//! this would let through on the real distribution.
//!
//! A URL carries either a canned policy (`Expires`) or a custom one (`Policy`, CloudFront's
//! URL-safe base64 of its JSON), a `Signature` over the policy, and the `Key-Pair-Id` of a key of
//! the trusted key group; `Hash-Algorithm=SHA256` says the signature hashes with SHA-256 (the only
//! hash this checker verifies: the service signs with it). The policy's resource must match the
//! URL requested (`*` any run of characters, `?` any one), and its `DateLessThan` be in the future.
//! An ECDSA signature `(r, s)` has a twin `(r, n - s)` that verifies too, here as on CloudFront
//! (the service's signer writes either): it signs the same policy, so it opens nothing more.

use std::collections::HashMap;

use serde::Deserialize;
use time::OffsetDateTime;

use super::{PublicKey, cloudfront_base64_decode};

/// Why a URL was refused. CloudFront answers each with 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the URL is not signed (Signature, Key-Pair-Id and Expires or Policy are required)")]
    Unsigned,
    #[error("the signing parameters are malformed")]
    Malformed,
    #[error("the key pair id is not one of the trusted keys")]
    UnknownKey,
    #[error("the signature hashes with an algorithm other than SHA-256")]
    UnsupportedHash,
    #[error("the signature does not match the policy")]
    BadSignature,
    #[error("the policy's resource does not cover the URL")]
    OtherResource,
    #[error("the URL has expired (or is not valid yet)")]
    Expired,
}

/// The trusted keys, by key pair id.
#[derive(Debug, Clone, Default)]
pub struct SignedUrlChecker {
    keys: HashMap<String, PublicKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Policy {
    #[serde(rename = "Statement")]
    statement: Vec<Statement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Statement {
    #[serde(rename = "Resource")]
    resource: String,
    #[serde(rename = "Condition")]
    condition: Condition,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Condition {
    #[serde(rename = "DateLessThan")]
    date_less_than: EpochTime,
    #[serde(rename = "DateGreaterThan")]
    date_greater_than: Option<EpochTime>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EpochTime {
    #[serde(rename = "AWS:EpochTime")]
    epoch_time: i64,
}

impl SignedUrlChecker {
    /// A checker that trusts `key` under `key_pair_id` (and the keys added before).
    #[must_use]
    pub fn trusting(mut self, key_pair_id: impl Into<String>, key: PublicKey) -> Self {
        self.keys.insert(key_pair_id.into(), key);
        self
    }

    /// Checks a request for `url` (scheme, host and path, as the client asked for it) whose query
    /// string is `query`, at `now`.
    ///
    /// # Errors
    /// The [`Refusal`] that stops it.
    pub fn check(&self, url: &str, query: &str, now: OffsetDateTime) -> Result<(), Refusal> {
        let mut params = HashMap::new();
        let mut others = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "Expires" | "Policy" | "Signature" | "Key-Pair-Id" | "Hash-Algorithm" => {
                    if params.insert(name, value).is_some() {
                        return Err(Refusal::Malformed);
                    }
                }
                _ => others.push(pair),
            }
        }
        // The resource a policy names is the URL with the query the client sent, less the
        // signing parameters.
        let resource_url = if others.is_empty() {
            url.to_owned()
        } else {
            format!("{url}?{}", others.join("&"))
        };
        let (Some(signature), Some(key_pair_id)) =
            (params.get("Signature"), params.get("Key-Pair-Id"))
        else {
            return Err(Refusal::Unsigned);
        };
        let (policy, resource, not_after, not_before) = match (
            params.get("Expires"),
            params.get("Policy"),
        ) {
            (Some(expires), None) => {
                let expires: i64 = expires.parse().map_err(|_| Refusal::Malformed)?;
                let canned = format!(
                    "{{\"Statement\":[{{\"Resource\":\"{resource_url}\",\"Condition\":{{\"DateLessThan\":{{\"AWS:EpochTime\":{expires}}}}}}}]}}"
                );
                (canned, resource_url.clone(), expires, None)
            }
            (None, Some(encoded)) => {
                let bytes = cloudfront_base64_decode(encoded).ok_or(Refusal::Malformed)?;
                let text = String::from_utf8(bytes).map_err(|_| Refusal::Malformed)?;
                let parsed: Policy = serde_json::from_str(&text).map_err(|_| Refusal::Malformed)?;
                let [statement] =
                    <[Statement; 1]>::try_from(parsed.statement).map_err(|_| Refusal::Malformed)?;
                let condition = statement.condition;
                (
                    text,
                    statement.resource,
                    condition.date_less_than.epoch_time,
                    condition.date_greater_than.map(|t| t.epoch_time),
                )
            }
            (None, None) => return Err(Refusal::Unsigned),
            (Some(_), Some(_)) => return Err(Refusal::Malformed),
        };
        if params.get("Hash-Algorithm") != Some(&"SHA256") {
            return Err(Refusal::UnsupportedHash);
        }
        let key = self.keys.get(*key_pair_id).ok_or(Refusal::UnknownKey)?;
        let signature = cloudfront_base64_decode(signature).ok_or(Refusal::Malformed)?;
        if !key.verifies(policy.as_bytes(), &signature) {
            return Err(Refusal::BadSignature);
        }
        if !wildcard_match(&resource, &resource_url) {
            return Err(Refusal::OtherResource);
        }
        let now = now.unix_timestamp();
        if now >= not_after || not_before.is_some_and(|t| now <= t) {
            return Err(Refusal::Expired);
        }
        Ok(())
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters (none included)
/// and `?` for any one. Iterative, with one backtrack point: time in proportion to the lengths'
/// product at worst, and no recursion.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_p, star_t)) = star {
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}
