//! The API as a local HTTP server, and the upload processor polling the local queue (`just dev`).

use image_upload::api::{self, AppState};
use image_upload::aws::AwsClients;
use image_upload::config::Settings;
use image_upload::processor::{Processor, QueuePoller};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    image_upload::telemetry::init(settings.log_format);
    let clients = AwsClients::from_settings(&settings).await;
    let listener = tokio::net::TcpListener::bind(settings.listen_addr).await?;
    let stop = CancellationToken::new();
    let poller = match &settings.queue_url {
        Some(queue_url) => {
            let poller = QueuePoller::new(
                clients.sqs.clone(),
                queue_url,
                Processor::new(&clients, &settings),
            );
            tracing::info!(queue_url, "processing uploads from the queue");
            Some(tokio::spawn(poller.run(stop.clone().cancelled_owned())))
        }
        None => {
            tracing::warn!("QUEUE_URL is not set: uploads will stay PENDING");
            None
        }
    };
    tracing::info!(
        "serving http://{} (bucket {}, table {}); Ctrl-C stops",
        listener.local_addr()?,
        settings.bucket_name,
        settings.table_name
    );
    let shutdown = {
        let stop = stop.clone();
        async move {
            let _ = tokio::signal::ctrl_c().await;
            stop.cancel();
        }
    };
    api::serve(
        listener,
        api::app(AppState::new(&clients, &settings)),
        shutdown,
    )
    .await?;
    stop.cancel();
    if let Some(poller) = poller {
        poller.await?;
    }
    Ok(())
}
