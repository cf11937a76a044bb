//! The same API as a local HTTP server (`just dev`).

use image_upload::api::{self, AppState};
use image_upload::aws::AwsClients;
use image_upload::config::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    image_upload::telemetry::init(settings.log_format);
    let clients = AwsClients::from_settings(&settings).await;
    let listener = tokio::net::TcpListener::bind(settings.listen_addr).await?;
    tracing::info!(
        "serving http://{} (bucket {}, table {}); Ctrl-C stops",
        listener.local_addr()?,
        settings.bucket_name,
        settings.table_name
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    api::serve(
        listener,
        api::app(AppState::new(&clients, &settings)),
        shutdown,
    )
    .await?;
    Ok(())
}
