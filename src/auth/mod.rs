//! Who is calling: API Gateway's authorizer claims (deployed), or a Cognito ID token the service
//! verifies itself (the local server with `AUTH_*`). The handlers see only the result, an
//! [`Owner`], through [`crate::api::Caller`].

mod authorizer;
mod jwks;
mod verifier;

pub use jwks::{FETCH_TIMEOUT, JwksError, MAX_JWKS_BYTES};
pub use verifier::{LEEWAY, MAX_TOKEN_BYTES, TokenVerifier, VerifierSetupError};

use std::sync::Arc;

use axum::http::{HeaderMap, request::Parts};

use crate::config::AuthSettings;
use crate::domain::Owner;

/// How requests are authenticated: exactly one mode per process, chosen from [`AuthSettings`].
#[derive(Clone, Debug)]
pub enum Authentication {
    /// Trust API Gateway's authorizer context (it verified the token before invoking us). A
    /// request that reaches us with no authorizer context at all is anonymous when
    /// `allow_anonymous`, and refused otherwise. With `client_id`, the claims must be those of an
    /// ID token of that app client (the authorizer does not check which client a token is for).
    Authorizer {
        allow_anonymous: bool,
        client_id: Option<Arc<str>>,
    },
    /// Verify the `Authorization: Bearer` ID token here; nobody is anonymous.
    VerifyTokens(Arc<TokenVerifier>),
}

impl Authentication {
    /// The mode `settings` asks for.
    ///
    /// # Errors
    /// [`VerifierSetupError`] when the TLS configuration for fetching the key set cannot be built.
    pub fn from_settings(settings: &AuthSettings) -> Result<Self, VerifierSetupError> {
        Ok(match settings {
            AuthSettings::Authorizer {
                allow_anonymous,
                client_id,
            } => Self::Authorizer {
                allow_anonymous: *allow_anonymous,
                client_id: client_id.as_deref().map(Arc::from),
            },
            AuthSettings::VerifyTokens(tokens) => {
                Self::VerifyTokens(Arc::new(TokenVerifier::new(tokens)?))
            }
        })
    }

    /// The owner of the request described by `parts`.
    ///
    /// # Errors
    /// [`AuthError::Rejected`] when the request does not identify a caller (401);
    /// [`AuthError::KeysUnavailable`] when the signing keys cannot be fetched (503).
    pub async fn identify(&self, parts: &Parts) -> Result<Owner, AuthError> {
        match self {
            Self::Authorizer {
                allow_anonymous,
                client_id,
            } => match authorizer::subject(&parts.extensions, client_id.as_deref())? {
                Some(owner) => Ok(owner),
                None if *allow_anonymous => Ok(Owner::anonymous()),
                None => Err(AuthRejection::NoAuthorizer.into()),
            },
            Self::VerifyTokens(verifier) => {
                let token = bearer_token(&parts.headers)?;
                verifier.verify(token).await
            }
        }
    }
}

/// Why a request was not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Rejected(#[from] AuthRejection),
    /// Not the caller's fault: the key set could not be fetched, so no token can be checked.
    #[error("the signing keys are unavailable")]
    KeysUnavailable(#[source] JwksError),
}

/// A request refused with 401. The variants are for the log; the client learns only whether a
/// token was missing, expired or otherwise invalid (see [`AuthRejection::presented_token`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthRejection {
    #[error("no authorizer context: the route is not behind the Cognito authorizer")]
    NoAuthorizer,
    #[error("the authorizer's claims have no usable `sub`")]
    ClaimsWithoutSubject,
    #[error("the authorizer is not a Cognito/JWT authorizer; it names no `sub`")]
    UnsupportedAuthorizer,
    #[error("no Authorization header")]
    MissingToken,
    #[error("the Authorization header is not one `Bearer <token>`")]
    NotBearer,
    #[error("the token is longer than {MAX_TOKEN_BYTES} bytes")]
    TokenTooLong,
    #[error("the token is not a well-formed JWT: {0}")]
    Malformed(String),
    #[error("the token is not signed with RS256")]
    WrongAlgorithm,
    #[error("no key in the key set has the token's `kid`")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued in the future")]
    IssuedInFuture,
    #[error("the token's issuer is not the expected user pool")]
    WrongIssuer,
    #[error("the token's audience is not this app client")]
    WrongAudience,
    #[error("the token lacks a usable `{0}` claim")]
    MissingClaim(String),
    #[error("the token is not an ID token (token_use is not `id`)")]
    NotAnIdToken,
}

impl AuthRejection {
    /// Whether the client sent a bearer token (or the authorizer passed claims) that we then
    /// refused: RFC 6750 answers that with `error="invalid_token"`, and a request with no token,
    /// or credentials of another scheme, without an error code (section 3.1).
    pub fn presented_token(&self) -> bool {
        !matches!(
            self,
            Self::NoAuthorizer | Self::UnsupportedAuthorizer | Self::MissingToken | Self::NotBearer
        )
    }

    /// What the client is told: enough to act on (sign in again, send a token), nothing about
    /// which check failed.
    pub fn public_message(&self) -> &'static str {
        match self {
            Self::NoAuthorizer
            | Self::UnsupportedAuthorizer
            | Self::MissingToken
            | Self::NotBearer => {
                "this request needs a Cognito ID token: send `Authorization: Bearer <token>`"
            }
            Self::Expired => "the token has expired; sign in again",
            _ => "the token is not valid for this service",
        }
    }
}

/// The token of the one `Authorization: Bearer <token>` header. The scheme is case-insensitive
/// (RFC 7235); a second Authorization header is ambiguous and refused.
fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthRejection> {
    let mut values = headers.get_all(axum::http::header::AUTHORIZATION).iter();
    let value = values.next().ok_or(AuthRejection::MissingToken)?;
    if values.next().is_some() {
        return Err(AuthRejection::NotBearer);
    }
    // Checked before anything else looks at it: the header could be anything up to hyper's limit.
    if value.len() > MAX_TOKEN_BYTES + "Bearer ".len() {
        return Err(AuthRejection::TokenTooLong);
    }
    let value = value.to_str().map_err(|_| AuthRejection::NotBearer)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthRejection::NotBearer)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthRejection::NotBearer);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use axum::http::header::AUTHORIZATION;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn the_bearer_token_is_read_from_exactly_one_header() {
        assert_eq!(
            bearer_token(&headers(&["Bearer abc.def.ghi"])),
            Ok("abc.def.ghi")
        );
        assert_eq!(
            bearer_token(&headers(&["bearer abc"])),
            Ok("abc"),
            "RFC 7235: any case"
        );
        let refused = [
            (&[][..], AuthRejection::MissingToken),
            (&["Basic dXNlcjpwYXNz"][..], AuthRejection::NotBearer),
            (&["Bearer"][..], AuthRejection::NotBearer),
            (&["Bearer   "][..], AuthRejection::NotBearer),
            (&["abc.def.ghi"][..], AuthRejection::NotBearer),
            (&["Bearer a", "Bearer b"][..], AuthRejection::NotBearer),
        ];
        for (values, expected) in refused {
            assert_eq!(bearer_token(&headers(values)), Err(expected), "{values:?}");
        }
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert_eq!(
            bearer_token(&headers(&[&long])),
            Err(AuthRejection::TokenTooLong)
        );
    }
}
