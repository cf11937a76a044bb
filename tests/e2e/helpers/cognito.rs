//! The local Cognito (moto) of the shared stack: named by
//! `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` when the stack comes from the environment
//! (`stack.sh env` sets it), else the moto container the harness started. Without one the auth
//! tests fail, saying so: they never pass by testing nothing. Each test gets its own user pool
//! and app client (random names), made by the same provisioning code as `just dev-auth`.

use aws_credential_types::Credentials;
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use image_upload::aws::{Roots, config_loader};
use image_upload::config::{Settings, TokenSettings};
use image_upload::provision::{
    cognito_issuer, ensure_app_client, ensure_user, ensure_user_pool, jwks_url,
};

use super::stack::endpoints;

/// A client of the local Cognito.
pub struct LocalCognito {
    endpoint: String,
    region: String,
    client: aws_sdk_cognitoidentityprovider::Client,
}

/// The shared stack's local Cognito.
///
/// # Panics
/// When the environment names a stack without one: the test must fail, not pass.
pub async fn local_cognito() -> LocalCognito {
    let endpoint = endpoints().await.cognito.clone().unwrap_or_else(|| {
        panic!(
            "no local Cognito: the environment names a stack without \
             AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER. The auth tests need moto: run \
             `just test-e2e`, or `./localstack/stack.sh start && eval \"$(./localstack/stack.sh env)\"`, \
             or unset every AWS_ENDPOINT_URL_* to let the tests start containers"
        )
    });
    let settings = Settings::from_lookup(|_| None).expect("default settings");
    let sdk = config_loader(&settings, Roots::System)
        .credentials_provider(Credentials::new("test", "test", None, None, "e2e"))
        .load()
        .await;
    let client = aws_sdk_cognitoidentityprovider::Client::from_conf(
        aws_sdk_cognitoidentityprovider::config::Builder::from(&sdk)
            .endpoint_url(&endpoint)
            .build(),
    );
    LocalCognito {
        endpoint,
        region: settings.region,
        client,
    }
}

/// A user pool of one test, with its app client.
pub struct TestPool {
    cognito: aws_sdk_cognitoidentityprovider::Client,
    pub pool_id: String,
    pub client_id: String,
    /// What the app must check its tokens against: this pool's issuer, this client, moto's JWKS.
    pub tokens: TokenSettings,
}

/// A user of a [`TestPool`].
pub struct TestUser {
    pub email: String,
    pub password: String,
    pub sub: String,
}

/// The tokens of one sign-in.
pub struct Tokens {
    pub id: String,
    pub access: String,
}

impl LocalCognito {
    /// A fresh pool and app client.
    pub async fn pool(&self) -> TestPool {
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
        let pool_id = ensure_user_pool(&self.client, &format!("e2e-{suffix}"))
            .await
            .expect("creating a user pool");
        let client_id = ensure_app_client(&self.client, &pool_id, "e2e-web")
            .await
            .expect("creating an app client");
        TestPool {
            cognito: self.client.clone(),
            tokens: TokenSettings {
                issuer: cognito_issuer(&self.region, &pool_id),
                audience: client_id.clone(),
                jwks_url: jwks_url(&self.endpoint, &pool_id),
            },
            pool_id,
            client_id,
        }
    }
}

impl TestPool {
    /// Another app client of the same pool: its ID tokens are for another audience.
    pub async fn other_client(&self) -> String {
        ensure_app_client(&self.cognito, &self.pool_id, "e2e-other-app")
            .await
            .expect("creating a second app client")
    }

    /// A user `name@example.com` with a permanent password.
    pub async fn user(&self, name: &str) -> TestUser {
        let email = format!("{name}@example.com");
        let password = format!("Test-{name}-Passw0rd");
        let sub = ensure_user(&self.cognito, &self.pool_id, &email, &password)
            .await
            .expect("creating a user");
        TestUser {
            email,
            password,
            sub,
        }
    }

    /// Signs `user` in through `client_id` with USER_PASSWORD_AUTH, as a CLI or `just smoke` does.
    pub async fn sign_in(&self, client_id: &str, user: &TestUser) -> Tokens {
        let result = self
            .cognito
            .initiate_auth()
            .client_id(client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", &user.email)
            .auth_parameters("PASSWORD", &user.password)
            .send()
            .await
            .expect("InitiateAuth")
            .authentication_result
            .expect("tokens, not a challenge");
        Tokens {
            id: result.id_token.expect("an ID token"),
            access: result.access_token.expect("an access token"),
        }
    }
}
