//! Verifying a Cognito ID token as API Gateway's Cognito authorizer would: RS256 signature by a
//! key of the pool's key set, the pool as issuer, this app client as audience, `token_use` = `id`,
//! and the time claims, with a small leeway for clock skew.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::jwks::KeySet;
use super::{AuthError, AuthRejection};
use crate::config::TokenSettings;
use crate::domain::Owner;

/// The largest token considered, in bytes. Cognito ID tokens are 1-2 KiB (more with many groups);
/// anything this long is refused before it is decoded.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Clock skew forgiven on `exp`, `nbf` and `iat`.
pub const LEEWAY: Duration = Duration::from_secs(60);

/// How often at most the key set is fetched again for a `kid` we do not know.
pub const DEFAULT_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// How long connecting to the key server may take (the whole fetch is bounded by
/// [`FETCH_TIMEOUT`](super::jwks::FETCH_TIMEOUT)).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The verifier could not be built.
#[derive(Debug, thiserror::Error)]
#[error("building the TLS configuration for fetching the token signing keys")]
pub struct VerifierSetupError(#[source] rustls::Error);

/// Checks Cognito ID tokens against one user pool and app client.
#[derive(Debug)]
pub struct TokenVerifier {
    keys: KeySet,
    validation: Validation,
}

/// The claims read after the signature and the registered claims have been checked.
#[derive(Deserialize)]
struct IdTokenClaims {
    // Optional here so that a missing claim is reported as missing, not as undecodable JSON.
    sub: Option<String>,
    token_use: Option<String>,
    iat: Option<u64>,
}

impl TokenVerifier {
    /// A verifier for `settings`, refetching the key set at most every
    /// [`DEFAULT_REFETCH_INTERVAL`].
    ///
    /// # Errors
    /// [`VerifierSetupError`] when the TLS configuration cannot be built.
    pub fn new(settings: &TokenSettings) -> Result<Self, VerifierSetupError> {
        Self::with_refetch_interval(settings, DEFAULT_REFETCH_INTERVAL)
    }

    /// A verifier for `settings` that fetches the key set again for an unknown `kid` at most once
    /// per `refetch_interval`.
    ///
    /// # Errors
    /// [`VerifierSetupError`] when the TLS configuration cannot be built.
    pub fn with_refetch_interval(
        settings: &TokenSettings,
        refetch_interval: Duration,
    ) -> Result<Self, VerifierSetupError> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config().map_err(VerifierSetupError)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let http = Client::builder(TokioExecutor::new()).build(https);
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        // jsonwebtoken checks `aud` and `iss` only when they are present unless required.
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(Self {
            keys: KeySet::new(&settings.jwks_url, http, refetch_interval),
            validation,
        })
    }

    /// How many times the key set was fetched (each start and each refetch for a new `kid`).
    pub fn key_set_fetches(&self) -> u64 {
        self.keys.fetches()
    }

    /// The owner named by `token`'s `sub`, if `token` is a valid ID token for this app client.
    ///
    /// # Errors
    /// [`AuthError::Rejected`] naming the failed check; [`AuthError::KeysUnavailable`] when the
    /// key set is needed and cannot be fetched.
    pub async fn verify(&self, token: &str) -> Result<Owner, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthRejection::TokenTooLong.into());
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|err| AuthRejection::Malformed(err.to_string()))?;
        // Refused before any key is looked up: an HS256 token "signed" with our public key, or
        // one that claims no algorithm, never reaches a verifier.
        if header.alg != Algorithm::RS256 {
            return Err(AuthRejection::WrongAlgorithm.into());
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthRejection::Malformed("the header names no `kid`".into()))?;
        let key = self
            .keys
            .key(&kid)
            .await
            .map_err(AuthError::KeysUnavailable)?
            .ok_or(AuthRejection::UnknownKey)?;
        let claims = jsonwebtoken::decode::<IdTokenClaims>(token, &key, &self.validation)
            .map_err(|err| rejection(err.kind()))?
            .claims;
        if claims.token_use.as_deref() != Some("id") {
            return Err(AuthRejection::NotAnIdToken.into());
        }
        let iat = claims
            .iat
            .ok_or_else(|| AuthRejection::MissingClaim("iat".into()))?;
        if iat > unix_now().saturating_add(LEEWAY.as_secs()) {
            return Err(AuthRejection::IssuedInFuture.into());
        }
        claims
            .sub
            .as_deref()
            .and_then(Owner::from_subject)
            .ok_or_else(|| AuthRejection::MissingClaim("sub".into()).into())
    }
}

fn rejection(kind: &ErrorKind) -> AuthRejection {
    match kind {
        ErrorKind::InvalidSignature => AuthRejection::BadSignature,
        ErrorKind::ExpiredSignature => AuthRejection::Expired,
        ErrorKind::ImmatureSignature => AuthRejection::NotYetValid,
        ErrorKind::InvalidIssuer => AuthRejection::WrongIssuer,
        ErrorKind::InvalidAudience => AuthRejection::WrongAudience,
        ErrorKind::InvalidAlgorithm => AuthRejection::WrongAlgorithm,
        ErrorKind::MissingRequiredClaim(claim) => AuthRejection::MissingClaim(claim.clone()),
        other => AuthRejection::Malformed(format!("{other:?}")),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// rustls with the aws-lc-rs provider (the one the AWS SDK uses) and the system's roots.
/// Named explicitly rather than taken from rustls' process default, which is ambiguous when
/// another crate in the build enables the `ring` provider too.
fn tls_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        tracing::warn!(errors = ?native.errors, "no system root certificates: https key sets will not verify");
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth())
}
