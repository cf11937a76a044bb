//! The API as a local HTTP server, with the upload page at `/`, and the upload processor polling
//! the local queue (`just dev`).

use image_upload::api::{self, AppState};
use image_upload::aws::{AwsClients, Roots};
use image_upload::config::{AuthSettings, Settings};
use image_upload::processor::{Processor, QueuePoller};
use image_upload::web::{self, PageConfig};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Anonymous unless told otherwise or AUTH_* are set: `just dev` needs no sign-in.
    let settings = Settings::from_env_for_local_server()?;
    image_upload::telemetry::init(settings.log_format);
    let clients = AwsClients::from_settings(&settings, Roots::System).await;
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
    match &settings.auth {
        AuthSettings::Authorizer {
            allow_anonymous: true,
            ..
        } => tracing::warn!("ALLOW_ANONYMOUS: every request is served as owner `anonymous`"),
        AuthSettings::Authorizer {
            allow_anonymous: false,
            ..
        } => tracing::warn!(
            "no AUTH_* and ALLOW_ANONYMOUS=false: only API Gateway events would be served; \
             set AUTH_ISSUER, AUTH_AUDIENCE and AUTH_JWKS_URL to verify tokens here"
        ),
        AuthSettings::VerifyTokens(tokens) => tracing::info!(
            issuer = %tokens.issuer,
            audience = %tokens.audience,
            jwks_url = %tokens.jwks_url,
            "verifying bearer ID tokens"
        ),
    }
    let state = AppState::new(&clients, &settings)?;
    let page = PageConfig::for_local_server(&settings, settings.endpoints.cognito.as_deref());
    tracing::info!(
        "serving http://{} (the upload page at /; bucket {}, table {}); Ctrl-C stops",
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
    let cdn = state
        .cdn
        .clone()
        .map(|cdn| image_upload::delivery::local_cdn(state.objects.clone(), cdn));
    if let Some(cdn) = &settings.cdn {
        tracing::info!(
            origin = cdn.origin.as_str(),
            "serving renditions and originals at the local CDN path"
        );
    }
    let policy = web::PagePolicy::for_local_server(&settings, &page);
    let mut site = web::site(api::app(state), &page, &policy);
    if let Some(cdn) = cdn {
        site = site.merge(cdn);
    }
    let hosts = web::AllowedHosts::for_local_server(&settings);
    web::serve(listener, site, hosts, shutdown).await?;
    stop.cancel();
    if let Some(poller) = poller {
        poller.await?;
    }
    Ok(())
}
