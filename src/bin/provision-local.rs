//! Creates the configured bucket, table and upload queue on the local stack, and connects the
//! bucket's upload notifications to the queue (`just dev` runs it). Prints `export QUEUE_URL=…`
//! for the shell to evaluate; everything else goes to stderr.

use std::time::Duration;

use image_upload::aws::AwsClients;
use image_upload::config::Settings;
use image_upload::provision::{
    ensure_bucket, ensure_queue, ensure_table, ensure_upload_notifications,
};

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
    let queue_name = format!("{}-uploads", settings.bucket_name);
    let queue = ensure_queue(&clients.sqs, &queue_name, Duration::from_secs(30), 5).await?;
    ensure_upload_notifications(&clients.s3, &settings.bucket_name, &queue.arn).await?;
    eprintln!(
        "provisioned bucket {}, table {}, queue {} (dead letters: {})",
        settings.bucket_name, settings.table_name, queue.url, queue.dead_letter_url
    );
    println!("export QUEUE_URL={}", queue.url);
    Ok(())
}
