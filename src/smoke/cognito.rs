//! Signing in to a Cognito user pool with `USER_PASSWORD_AUTH`: one unsigned JSON call,
//! `InitiateAuth`, so the smoke client needs no AWS credentials and no Cognito SDK.

use serde::Deserialize;
use serde_json::json;

use super::SmokeError;

const STEP: &str = "sign in";

/// A user of a Cognito app client that allows `USER_PASSWORD_AUTH` and has no client secret.
#[derive(Clone)]
pub struct CognitoUser {
    /// The Cognito endpoint: `https://cognito-idp.<region>.amazonaws.com/`, or an emulator's.
    pub endpoint: String,
    pub client_id: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for CognitoUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CognitoUser")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InitiateAuthOutput {
    authentication_result: Option<AuthenticationResult>,
    challenge_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AuthenticationResult {
    id_token: Option<String>,
}

impl CognitoUser {
    /// The endpoint of Cognito user pools in `region`.
    pub fn regional_endpoint(region: &str) -> String {
        format!("https://cognito-idp.{region}.amazonaws.com/")
    }

    /// Signs in and returns the user's ID token: what the API's Cognito authorizer (and the local
    /// server's verifier) take, since its `aud` is the app client.
    ///
    /// # Errors
    /// [`SmokeError`] when Cognito cannot be reached, refuses the sign-in, or asks for a
    /// challenge (a new password, MFA) this client cannot answer.
    pub async fn id_token(&self, http: &reqwest::Client) -> Result<String, SmokeError> {
        let response = http
            .post(&self.endpoint)
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "X-Amz-Target",
                "AWSCognitoIdentityProviderService.InitiateAuth",
            )
            .body(
                json!({
                    "AuthFlow": "USER_PASSWORD_AUTH",
                    "ClientId": self.client_id,
                    "AuthParameters": {"USERNAME": self.username, "PASSWORD": self.password},
                })
                .to_string(),
            )
            .send()
            .await
            .map_err(|source| SmokeError::Http { step: STEP, source })?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|source| SmokeError::Http { step: STEP, source })?;
        if !status.is_success() {
            return Err(SmokeError::Unexpected {
                step: STEP,
                status: status.as_u16(),
                body,
            });
        }
        let output: InitiateAuthOutput =
            serde_json::from_str(&body).map_err(|e| SmokeError::Check {
                step: STEP,
                message: format!("InitiateAuth answered {e}: {body}"),
            })?;
        if let Some(challenge) = output.challenge_name {
            return Err(SmokeError::Check {
                step: STEP,
                message: format!(
                    "Cognito asks for the {challenge} challenge, which this client does not \
                     answer; give the user a permanent password (aws cognito-idp \
                     admin-set-user-password --permanent) or pass TOKEN"
                ),
            });
        }
        output
            .authentication_result
            .and_then(|result| result.id_token)
            .ok_or_else(|| SmokeError::Check {
                step: STEP,
                message: format!("InitiateAuth returned no IdToken: {body}"),
            })
    }
}
