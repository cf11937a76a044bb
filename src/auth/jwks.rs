//! The user pool's signing keys: fetched from its JWKS URL on first use, cached, and fetched again
//! when a token names a key we do not hold (Cognito rotates keys). Refetches happen at most once
//! per refetch interval, and after a failed fetch nothing is fetched for an interval either, so
//! tokens with made-up `kid`s cannot turn us into a load generator against the key server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use jsonwebtoken::DecodingKey;
use serde::Deserialize;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The HTTP(S) client that fetches key sets.
pub(super) type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The largest key set read, in bytes. Cognito's holds two RSA keys (under 1 KiB each); a larger
/// answer is not a key set we want to parse.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// The longest a fetch of the key set may take, connection included: a hung key server must not
/// hang the requests waiting for it.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the key set could not be had. Each is a 503 to the caller, with the detail in the log.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("the key set URL {url} is not a valid URL")]
    BadUrl { url: String },
    #[error("fetching the key set from {url}")]
    Fetch {
        url: String,
        #[source]
        source: BoxError,
    },
    #[error(
        "fetching the key set from {url} took longer than {0:?}",
        FETCH_TIMEOUT
    )]
    TimedOut { url: String },
    #[error("the key set URL {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("the key set at {url} is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge { url: String },
    #[error("the answer from {url} is not a JSON Web Key Set")]
    NotAKeySet {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the key set at {url} holds no RS256 signing key")]
    NoUsableKeys { url: String },
    #[error("the last fetch of the key set failed less than {0:?} ago; not retrying yet")]
    RecentlyFailed(Duration),
}

/// The cached keys of one JWKS URL. Shared by all requests; cheap to read.
#[derive(Debug)]
pub(super) struct KeySet {
    url: String,
    http: HttpClient,
    refetch_interval: Duration,
    keys: RwLock<Arc<HashMap<String, DecodingKey>>>,
    /// Held across a fetch, so concurrent misses make one request.
    fetching: tokio::sync::Mutex<FetchHistory>,
    fetches: AtomicU64,
}

#[derive(Debug, Default)]
struct FetchHistory {
    /// The last fetch made because a token named a `kid` the cached keys lack.
    last_refetch: Option<Instant>,
    /// The last fetch that failed.
    last_failure: Option<Instant>,
}

impl KeySet {
    pub(super) fn new(url: &str, http: HttpClient, refetch_interval: Duration) -> Self {
        Self {
            url: url.to_owned(),
            http,
            refetch_interval,
            keys: RwLock::new(Arc::default()),
            fetching: tokio::sync::Mutex::default(),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many times the key set was requested from its URL.
    pub(super) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn cached(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().expect("key cache lock").get(kid).cloned()
    }

    /// The key named `kid`: from the cache, or from a fresh fetch when the cache lacks it (the
    /// first fetch, or a refetch if none happened within the refetch interval). `Ok(None)`: no
    /// such key.
    ///
    /// # Errors
    /// [`JwksError`] when the key set is needed and cannot be fetched, or its last fetch failed
    /// within the refetch interval.
    pub(super) async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, JwksError> {
        if let Some(key) = self.cached(kid) {
            return Ok(Some(key));
        }
        let mut history = self.fetching.lock().await;
        // Another request may have fetched while this one waited for the lock.
        if let Some(key) = self.cached(kid) {
            return Ok(Some(key));
        }
        let recent =
            |at: Option<Instant>| at.is_some_and(|at| at.elapsed() < self.refetch_interval);
        if recent(history.last_failure) {
            return Err(JwksError::RecentlyFailed(self.refetch_interval));
        }
        let refetch = !self.keys.read().expect("key cache lock").is_empty();
        if refetch {
            if recent(history.last_refetch) {
                return Ok(None);
            }
            history.last_refetch = Some(Instant::now());
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let keys = match self.fetch().await {
            Ok(keys) => Arc::new(keys),
            Err(err) => {
                history.last_failure = Some(Instant::now());
                return Err(err);
            }
        };
        tracing::info!(url = %self.url, keys = keys.len(), refetch, "fetched the token signing keys");
        *self.keys.write().expect("key cache lock") = keys.clone();
        Ok(keys.get(kid).cloned())
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, JwksError> {
        let url = || self.url.clone();
        let body = tokio::time::timeout(FETCH_TIMEOUT, self.fetch_body())
            .await
            .map_err(|_| JwksError::TimedOut { url: url() })??;
        let keys =
            parse_key_set(&body).map_err(|source| JwksError::NotAKeySet { url: url(), source })?;
        if keys.is_empty() {
            return Err(JwksError::NoUsableKeys { url: url() });
        }
        Ok(keys)
    }

    /// The body at the URL, read up to [`MAX_JWKS_BYTES`]. Redirects are not followed: the key
    /// set is at the URL configured, not wherever that URL points.
    async fn fetch_body(&self) -> Result<Bytes, JwksError> {
        let url = || self.url.clone();
        let request = axum::http::Request::get(self.url.as_str())
            .header(axum::http::header::ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|_| JwksError::BadUrl { url: url() })?;
        let response = self
            .http
            .request(request)
            .await
            .map_err(|source| JwksError::Fetch {
                url: url(),
                source: source.into(),
            })?;
        if !response.status().is_success() {
            return Err(JwksError::Status {
                url: url(),
                status: response.status().as_u16(),
            });
        }
        match Limited::new(response.into_body(), MAX_JWKS_BYTES)
            .collect()
            .await
        {
            Ok(body) => Ok(body.to_bytes()),
            Err(err) if err.is::<LengthLimitError>() => Err(JwksError::TooLarge { url: url() }),
            Err(source) => Err(JwksError::Fetch { url: url(), source }),
        }
    }
}

#[derive(Deserialize)]
struct KeySetDocument {
    keys: Vec<serde_json::Value>,
}

/// One entry of `keys`, with the fields an RSA signing key has. Entries of other shapes are
/// skipped, not fatal: a key set may hold keys for other algorithms.
#[derive(Deserialize)]
struct RsaJwk {
    kid: String,
    kty: String,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    n: String,
    e: String,
}

/// The RS256 signing keys of a JWKS document, by `kid`.
fn parse_key_set(body: &[u8]) -> Result<HashMap<String, DecodingKey>, serde_json::Error> {
    let document: KeySetDocument = serde_json::from_slice(body)?;
    Ok(document
        .keys
        .into_iter()
        .filter_map(|entry| serde_json::from_value::<RsaJwk>(entry).ok())
        .filter(|jwk| {
            jwk.kty == "RSA"
                && jwk.alg.as_deref().is_none_or(|alg| alg == "RS256")
                && jwk.usage.as_deref().is_none_or(|usage| usage == "sig")
        })
        .filter_map(|jwk| {
            let key = DecodingKey::from_rsa_components(&jwk.n, &jwk.e).ok()?;
            Some((jwk.kid, key))
        })
        .collect())
}
