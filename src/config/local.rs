//! What only the programs for a developer's or an operator's machine read: the local server's
//! anonymous default (`image-upload-local`), the tools' settings without authentication
//! (`provision-local`, `reprocess`), the demo user of `provision-local --auth`, and whom the smoke
//! client (`image-upload-smoke`) signs in as.

use super::auth::AUTH_VARIABLES;
use super::env::{ConfigError, Env, parse_bool, process_env};
use super::sdk::{COGNITO_ENDPOINT_VARIABLE, regional_cognito_endpoint};
use super::{AuthSettings, Settings};

impl Settings {
    /// Reads the process environment as the local server (`image-upload-local`) does: like
    /// [`Settings::from_env`], except that an unset `ALLOW_ANONYMOUS` means `true` when no
    /// `AUTH_*` variable is set, so `just dev` works without signing in.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is set to something unusable.
    pub fn from_env_for_local_server() -> Result<Self, ConfigError> {
        Self::from_lookup_for_local_server(process_env)
    }

    /// [`Settings::from_env_for_local_server`] through `lookup`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is set to something unusable.
    pub fn from_lookup_for_local_server(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let env = Env::new(&lookup);
        let verifying = AUTH_VARIABLES.iter().any(|name| env.is_set(name));
        let anonymous_unless_set = !verifying && !env.is_set("ALLOW_ANONYMOUS");
        let settings = Self::from_lookup(|name| {
            if name == "ALLOW_ANONYMOUS" && anonymous_unless_set {
                Some("true".into())
            } else {
                lookup(name)
            }
        })?;
        // Anonymous, every caller is the one owner `anonymous`: whoever reaches the port may list
        // and delete every image. Beyond loopback that is the whole network, so only when asked.
        let anonymous = matches!(
            settings.auth,
            AuthSettings::Authorizer {
                allow_anonymous: true,
                ..
            }
        );
        let beyond_loopback = !settings.listen_addr.ip().is_loopback();
        if anonymous
            && beyond_loopback
            && !env.parse("ANONYMOUS_BEYOND_LOOPBACK", false, parse_bool)?
        {
            return Err(ConfigError::invalid(
                "LISTEN_ADDR",
                settings.listen_addr.to_string(),
                "the server is anonymous (anyone who reaches it may list and delete every \
                 image), so it listens on loopback only; set AUTH_* to verify tokens, or \
                 ANONYMOUS_BEYOND_LOOPBACK=true to serve anonymous callers on the network",
            ));
        }
        Ok(settings)
    }
}

impl Settings {
    /// Reads the process environment as the tools that serve no request do (`provision-local`,
    /// `reprocess`): like [`Settings::from_env`], except that the authentication of callers does
    /// not apply, so `ALLOW_ANONYMOUS`, `AUTHORIZER_CLIENT_ID` and `AUTH_*` are not read.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is set to something unusable.
    pub fn from_env_for_tools() -> Result<Self, ConfigError> {
        Self::from_lookup_for_tools(process_env)
    }

    /// [`Settings::from_env_for_tools`] through `lookup`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is set to something unusable.
    pub fn from_lookup_for_tools(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| match name {
            // Anonymous is the one authentication setting that needs no other.
            "ALLOW_ANONYMOUS" => Some("true".into()),
            "AUTHORIZER_CLIENT_ID" => None,
            name if AUTH_VARIABLES.contains(&name) => None,
            name => lookup(name),
        })
    }
}

/// `COGNITO_USERNAME` for `provision-local --auth` when unset.
pub const DEMO_USERNAME_DEFAULT: &str = "demo@example.com";

/// `COGNITO_PASSWORD` for `provision-local --auth` when unset: published, so the user it makes
/// belongs on an emulator only (`provision-local` refuses anything else).
pub const DEMO_PASSWORD_DEFAULT: &str = "Local-demo-2026";

/// The user `provision-local --auth` makes on the local Cognito (`COGNITO_USERNAME`,
/// `COGNITO_PASSWORD`). `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DemoUser {
    pub username: String,
    pub password: String,
}

impl DemoUser {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(process_env)
    }

    /// Reads `COGNITO_USERNAME` and `COGNITO_PASSWORD` through `lookup`; each defaults on its own.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let env = Env::new(&lookup);
        Self {
            username: env
                .get("COGNITO_USERNAME")
                .unwrap_or_else(|| DEMO_USERNAME_DEFAULT.into()),
            password: env
                .get("COGNITO_PASSWORD")
                .unwrap_or_else(|| DEMO_PASSWORD_DEFAULT.into()),
        }
    }
}

impl std::fmt::Debug for DemoUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoUser")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The variables of a Cognito user the smoke client signs in as; all three or none.
pub const SMOKE_COGNITO_VARIABLES: [&str; 3] =
    ["COGNITO_CLIENT_ID", "COGNITO_USERNAME", "COGNITO_PASSWORD"];

/// Whom the smoke client signs in as. `Debug` shows neither the token nor the password.
#[derive(Clone, PartialEq, Eq)]
pub enum SmokeSignIn {
    /// A ready ID token (`TOKEN`).
    Token(String),
    /// A Cognito user, signed in with `USER_PASSWORD_AUTH`.
    Cognito(CognitoSignIn),
    /// Nobody: no `Authorization` header.
    Anonymous,
}

/// A Cognito user of an app client without a secret (`COGNITO_CLIENT_ID`, `COGNITO_USERNAME`,
/// `COGNITO_PASSWORD`), and where Cognito answers.
#[derive(Clone, PartialEq, Eq)]
pub struct CognitoSignIn {
    /// `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` (an emulator), else `AWS_REGION`'s Cognito.
    pub endpoint: String,
    pub client_id: String,
    pub username: String,
    pub password: String,
}

impl SmokeSignIn {
    /// Reads the process environment.
    ///
    /// # Errors
    /// As [`SmokeSignIn::from_lookup`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    /// Through `lookup`: `TOKEN`; else `COGNITO_CLIENT_ID`, `COGNITO_USERNAME` and
    /// `COGNITO_PASSWORD` with `AWS_REGION` (or `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` for
    /// an emulator); else anonymous.
    ///
    /// # Errors
    /// [`ConfigError`] when only some of the Cognito variables are set, or no region.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(&lookup);
        if let Some(token) = env.get("TOKEN") {
            return Ok(Self::Token(token));
        }
        let [client_id, username, password] = SMOKE_COGNITO_VARIABLES.map(|name| env.get(name));
        let (Some(client_id), Some(username), Some(password)) = (client_id, username, password)
        else {
            let set: Vec<&str> = SMOKE_COGNITO_VARIABLES
                .into_iter()
                .filter(|name| env.is_set(name))
                .collect();
            return if set.is_empty() {
                Ok(Self::Anonymous)
            } else {
                Err(ConfigError::incomplete(format!(
                    "{} set, but signing in needs all of {}",
                    set.join(", "),
                    SMOKE_COGNITO_VARIABLES.join(", ")
                )))
            };
        };
        let endpoint = match (env.get(COGNITO_ENDPOINT_VARIABLE), env.get("AWS_REGION")) {
            (Some(endpoint), _) => endpoint,
            (None, Some(region)) => regional_cognito_endpoint(&region),
            (None, None) => {
                return Err(ConfigError::incomplete(
                    "AWS_REGION is needed to find Cognito (the stack's Region output)".into(),
                ));
            }
        };
        Ok(Self::Cognito(CognitoSignIn {
            endpoint,
            client_id,
            username,
            password,
        }))
    }
}

impl std::fmt::Debug for SmokeSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token(_) => f.write_str("Token(..)"),
            Self::Cognito(user) => f.debug_tuple("Cognito").field(user).finish(),
            Self::Anonymous => f.write_str("Anonymous"),
        }
    }
}

impl std::fmt::Debug for CognitoSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CognitoSignIn")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env::lookup_in as table;

    #[test]
    fn the_demo_user_defaults_each_part_on_its_own() {
        assert_eq!(
            DemoUser::from_lookup(table(&[])),
            DemoUser {
                username: DEMO_USERNAME_DEFAULT.into(),
                password: DEMO_PASSWORD_DEFAULT.into(),
            }
        );
        let user = DemoUser::from_lookup(table(&[
            ("COGNITO_USERNAME", "me@example.com"),
            ("COGNITO_PASSWORD", " "),
        ]));
        assert_eq!(
            (user.username.as_str(), user.password.as_str()),
            ("me@example.com", DEMO_PASSWORD_DEFAULT),
            "a blank variable counts as unset"
        );
        assert!(!format!("{user:?}").contains(DEMO_PASSWORD_DEFAULT));
    }

    #[test]
    fn a_partial_cognito_user_names_variables_never_values() {
        let err = SmokeSignIn::from_lookup(table(&[("COGNITO_PASSWORD", "Secret-123")]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "COGNITO_PASSWORD set, but signing in needs all of COGNITO_CLIENT_ID, \
             COGNITO_USERNAME, COGNITO_PASSWORD"
        );
    }
}
