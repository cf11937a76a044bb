//! Creates the configured bucket and table on the local stack (`just dev` runs it).

use image_upload::aws::AwsClients;
use image_upload::config::Settings;
use image_upload::provision::{ensure_bucket, ensure_table};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let clients = AwsClients::from_settings(&settings).await;
    ensure_bucket(
        &clients.s3,
        &settings.bucket_name,
        &settings.allowed_origins,
    )
    .await?;
    ensure_table(&clients.dynamodb, &settings.table_name).await?;
    println!(
        "provisioned bucket {} and table {}",
        settings.bucket_name, settings.table_name
    );
    Ok(())
}
