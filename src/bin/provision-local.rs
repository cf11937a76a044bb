//! Creates the configured bucket, table and upload queue on the local stack, and connects the
//! bucket's upload notifications to the queue (`just dev` runs it). With `--auth`, also a Cognito
//! user pool, app client and demo user on the local Cognito (`just dev-auth`). Prints `export`
//! lines for the shell to evaluate; everything else goes to stderr.

use std::time::Duration;

use anyhow::Context;
use image_upload::aws::{AwsClients, Roots, config_loader};
use image_upload::config::{COGNITO_ENDPOINT_VARIABLE, DemoUser, Settings, is_loopback_url};
use image_upload::provision::{
    cognito_issuer, ensure_app_client, ensure_bucket, ensure_queue, ensure_table,
    ensure_upload_notifications, ensure_user, ensure_user_pool, jwks_url,
};

const USER_POOL: &str = "image-upload-local";
const APP_CLIENT: &str = "image-upload-local-web";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let with_auth = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--auth") => true,
        Some(other) => anyhow::bail!("unknown argument {other:?}; usage: provision-local [--auth]"),
    };
    let settings = Settings::from_env_for_tools()?;
    let demo_user = DemoUser::from_env();
    let clients = AwsClients::from_settings(&settings, Roots::System).await;
    ensure_bucket(
        &clients.s3,
        &settings.bucket_name,
        &settings.allowed_origins,
    )
    .await?;
    ensure_table(&clients.dynamodb, &settings.table_name).await?;
    let queue_name = format!("{}-uploads", settings.bucket_name);
    let queue = ensure_queue(&clients.sqs, &queue_name, Duration::from_secs(30), 5).await?;
    ensure_upload_notifications(&clients.s3, &settings.bucket_name, &queue.arn).await?;
    eprintln!(
        "provisioned bucket {}, table {}, queue {} (dead letters: {})",
        settings.bucket_name, settings.table_name, queue.url, queue.dead_letter_url
    );
    println!("export QUEUE_URL={}", queue.url);
    println!("export DEAD_LETTER_QUEUE_URL={}", queue.dead_letter_url);
    if with_auth {
        provision_cognito(&settings, demo_user).await?;
    }
    Ok(())
}

/// The user pool, app client and demo user, and the variables that point the service at them.
async fn provision_cognito(settings: &Settings, demo_user: DemoUser) -> anyhow::Result<()> {
    // A demo user with a published password belongs on an emulator, never in an AWS account.
    let endpoint = settings.endpoints.cognito.as_deref().with_context(|| {
        format!(
            "--auth provisions the local Cognito only: set {COGNITO_ENDPOINT_VARIABLE} \
             (eval \"$(./localstack/stack.sh env)\")"
        )
    })?;
    // An endpoint variable can name any host, the real Cognito's included.
    anyhow::ensure!(
        is_loopback_url(endpoint),
        "--auth provisions a Cognito emulator on this machine only, and {COGNITO_ENDPOINT_VARIABLE} \
         is {endpoint:?}, not a loopback URL (http://127.0.0.1:PORT or http://localhost:PORT): \
         its demo user's password is published"
    );
    let sdk = config_loader(settings, Roots::System).load().await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::from_conf(
        aws_sdk_cognitoidentityprovider::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .build(),
    );
    let DemoUser { username, password } = demo_user;
    let pool_id = ensure_user_pool(&cognito, USER_POOL).await?;
    let client_id = ensure_app_client(&cognito, &pool_id, APP_CLIENT).await?;
    let sub = ensure_user(&cognito, &pool_id, &username, &password).await?;
    eprintln!(
        "provisioned user pool {pool_id}, app client {client_id}, user {username} (sub {sub}) \
         on {endpoint}"
    );
    for (name, value) in [
        ("COGNITO_USER_POOL_ID", pool_id.clone()),
        ("COGNITO_CLIENT_ID", client_id.clone()),
        ("COGNITO_USERNAME", username),
        ("COGNITO_PASSWORD", password),
        ("AUTH_ISSUER", cognito_issuer(&settings.region, &pool_id)),
        ("AUTH_AUDIENCE", client_id),
        ("AUTH_JWKS_URL", jwks_url(endpoint, &pool_id)),
    ] {
        println!("export {name}={}", shell_quote(&value));
    }
    Ok(())
}

/// `value` as one shell word (the password may hold characters the shell would read).
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}
