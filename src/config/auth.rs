//! Who may call the API: API Gateway's authorizer, or ID tokens the service verifies itself
//! (`ALLOW_ANONYMOUS`, `AUTHORIZER_CLIENT_ID`, `AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_JWKS_URL`).

use super::env::{ConfigError, Env, listed, parse_bool};
use super::http::is_loopback_url;

/// The variables that turn on local token verification; all three or none.
pub const AUTH_VARIABLES: [&str; 3] = ["AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_JWKS_URL"];

/// `ALLOW_ANONYMOUS` outside the local server: a deployment refuses callers the authorizer did
/// not identify.
pub const ALLOW_ANONYMOUS_DEFAULT: bool = false;

/// The hosts a JWKS URL may name over plain `http://`: this machine (an emulator).
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

/// How the API learns who calls it. One setting, so no combination of flags can leave a
/// request both unverified and attributed to someone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSettings {
    /// API Gateway's authorizer verified the caller and passes its claims; a request without an
    /// authorizer context is refused unless `allow_anonymous` (`ALLOW_ANONYMOUS=true`), when its
    /// owner is `anonymous`. With `client_id` (`AUTHORIZER_CLIENT_ID`), the claims must be those
    /// of an ID token issued to that app client: a Cognito authorizer checks the pool, the
    /// signature and the expiry, but not which of the pool's app clients the token was issued to.
    Authorizer {
        allow_anonymous: bool,
        client_id: Option<String>,
    },
    /// The service verifies `Authorization: Bearer` ID tokens itself, as the authorizer would
    /// (`AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_JWKS_URL`); nobody is anonymous.
    VerifyTokens(TokenSettings),
}

/// What a Cognito ID token must match. The issuer and the JWKS URL are separate because an
/// emulator's `iss` claim names AWS, not the emulator's own address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    /// The exact `iss` claim, e.g. `https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC`.
    pub issuer: String,
    /// The exact `aud` claim: the app client id.
    pub audience: String,
    /// Where the signing keys are: an `http(s)://` URL of a JSON Web Key Set.
    pub jwks_url: String,
}

impl AuthSettings {
    /// Reads the auth variables; they must fit together.
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        let allow_anonymous = env.parse("ALLOW_ANONYMOUS", ALLOW_ANONYMOUS_DEFAULT, parse_bool)?;
        let client_id = env.get("AUTHORIZER_CLIENT_ID").map(|v| v.trim().to_owned());
        let [issuer, audience, jwks_url] = AUTH_VARIABLES.map(|name| env.get(name));
        let (issuer, audience, jwks_url) = match (issuer, audience, jwks_url) {
            (None, None, None) => {
                return Ok(Self::Authorizer {
                    allow_anonymous,
                    client_id,
                });
            }
            (Some(issuer), Some(audience), Some(jwks_url)) => (issuer, audience, jwks_url),
            (issuer, audience, jwks_url) => {
                let (name, value) = [issuer, audience, jwks_url]
                    .into_iter()
                    .zip(AUTH_VARIABLES)
                    .find_map(|(value, name)| value.map(|v| (name, v)))
                    .expect("one of them is set");
                return Err(ConfigError::invalid(
                    name,
                    value,
                    format!(
                        "{} go together: set all three to verify tokens, or none",
                        listed(&AUTH_VARIABLES, "and")
                    ),
                ));
            }
        };
        if allow_anonymous {
            return Err(ConfigError::invalid(
                "ALLOW_ANONYMOUS",
                "true".into(),
                "with AUTH_* set every request must carry a valid token; unset it",
            ));
        }
        if let Some(client_id) = client_id {
            return Err(ConfigError::invalid(
                "AUTHORIZER_CLIENT_ID",
                client_id,
                "it applies to API Gateway's authorizer claims; with AUTH_* the token's \
                 audience is AUTH_AUDIENCE",
            ));
        }
        let jwks_url = jwks_url.trim().to_owned();
        if !jwks_url_is_safe(&jwks_url) {
            return Err(ConfigError::invalid(
                "AUTH_JWKS_URL",
                jwks_url,
                format!(
                    "an https:// URL of a JSON Web Key Set (http:// only on this machine: {}, \
                     since whoever serves the keys can forge any token)",
                    listed(&LOOPBACK_HOSTS.map(in_url), "or")
                ),
            ));
        }
        Ok(Self::VerifyTokens(TokenSettings {
            issuer: issuer.trim().to_owned(),
            audience: audience.trim().to_owned(),
            jwks_url,
        }))
    }
}

/// A host as a URL writes it: an IPv6 address in brackets.
fn in_url(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// An `https://` URL, or `http://` to `localhost` or a loopback address (an emulator on this
/// machine, [`is_loopback_url`]): keys fetched in the clear from anywhere else could be swapped
/// on the way.
fn jwks_url_is_safe(url: &str) -> bool {
    if url.is_empty() || url.contains(char::is_whitespace) {
        return false;
    }
    if url
        .strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty())
    {
        return true;
    }
    url.starts_with("http://") && is_loopback_url(url)
}
