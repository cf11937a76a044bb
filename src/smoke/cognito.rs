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

#[cfg(test)]
mod tests {
    //! The wire format of `InitiateAuth`, against a stand-in that answers as Cognito does. Signing
    //! in to a real emulator (moto) is the authenticated smoke run's business, with the local
    //! Cognito.

    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use serde_json::Value;

    use super::*;

    /// Serves `answer` for a well-formed InitiateAuth from `client`, 400 otherwise.
    async fn stand_in(answer: &'static str) -> String {
        let app = axum::Router::new().route(
            "/",
            post(move |headers: HeaderMap, body: String| async move {
                let request: Value = serde_json::from_str(&body).unwrap_or_default();
                let well_formed = headers["x-amz-target"]
                    == "AWSCognitoIdentityProviderService.InitiateAuth"
                    && headers["content-type"] == "application/x-amz-json-1.1"
                    && request["AuthFlow"] == "USER_PASSWORD_AUTH"
                    && request["ClientId"] == "client-1"
                    && request["AuthParameters"]["USERNAME"] == "demo@example.com"
                    && request["AuthParameters"]["PASSWORD"] == "Demo-Passw0rd!";
                if well_formed {
                    (StatusCode::OK, answer)
                } else {
                    (
                        StatusCode::BAD_REQUEST,
                        r#"{"__type":"NotAuthorizedException","message":"Incorrect username or password."}"#,
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        address
    }

    fn user(endpoint: String, password: &str) -> CognitoUser {
        CognitoUser {
            endpoint,
            client_id: "client-1".into(),
            username: "demo@example.com".into(),
            password: password.into(),
        }
    }

    #[tokio::test]
    async fn a_signed_in_user_gets_the_id_token_not_the_access_token() {
        let endpoint = stand_in(
            r#"{"AuthenticationResult":{"AccessToken":"access.jwt","IdToken":"id.jwt","ExpiresIn":3600,"TokenType":"Bearer"},"ChallengeParameters":{}}"#,
        )
        .await;
        let http = crate::smoke::http_client().unwrap();

        let token = user(endpoint, "Demo-Passw0rd!").id_token(&http).await;

        assert_eq!(token.unwrap(), "id.jwt");
    }

    #[tokio::test]
    async fn a_refusal_or_a_challenge_fails_the_sign_in_step() {
        let endpoint = stand_in(
            r#"{"ChallengeName":"NEW_PASSWORD_REQUIRED","Session":"s","ChallengeParameters":{}}"#,
        )
        .await;
        let http = crate::smoke::http_client().unwrap();

        let refused = user(endpoint.clone(), "wrong").id_token(&http).await;
        let challenged = user(endpoint, "Demo-Passw0rd!").id_token(&http).await;

        let refused = refused.unwrap_err();
        assert!(
            matches!(&refused, SmokeError::Unexpected { step: "sign in", status: 400, body } if body.contains("NotAuthorizedException")),
            "{refused}"
        );
        let challenged = challenged.unwrap_err().to_string();
        assert!(
            challenged.starts_with("sign in: ") && challenged.contains("NEW_PASSWORD_REQUIRED"),
            "{challenged}"
        );
    }
}
