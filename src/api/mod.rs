//! The HTTP API: one router, served by the Lambda function and by the local server alike.

mod error;
mod images;
mod multipart;
mod request;
mod s3_xml;
mod upload;
mod usage;

pub use error::{ApiError, WWW_AUTHENTICATE_BEARER, WWW_AUTHENTICATE_INVALID_TOKEN};
pub use images::{DEFAULT_LIMIT, ImageList, ImageView, MAX_LIMIT};
pub use multipart::{Completed, MultipartView, PartUrl, PartView};
pub use request::{Caller, JsonBody, MAX_BODY_BYTES, StripStage};
pub use upload::UploadResponse;
pub use usage::{UsageLimits, UsageView};

use std::sync::Arc;

use axum::extract::FromRef;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{get, post};
use axum::{Router, middleware};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::{Authentication, VerifierSetupError};
use crate::aws::{AwsClients, ImageObjects, MetadataTable};
use crate::config::Settings;
use crate::delivery::Cdn;
use crate::domain::{QuotaPolicy, UploadPolicy};
use crate::telemetry::{Function, Metrics};

/// What the handlers share. Cheap to clone: the SDK clients are reference-counted.
#[derive(Clone, Debug)]
pub struct AppState {
    pub objects: ImageObjects,
    pub table: MetadataTable,
    /// How long the download URLs of READY images stay valid.
    pub view_url_expiry: std::time::Duration,
    pub policy: Arc<UploadPolicy>,
    /// What one owner may hold and start.
    pub quota: QuotaPolicy,
    pub allowed_origins: Arc<[String]>,
    /// Where the API's CloudWatch metrics go (tests swap in [`Metrics::in_memory`]).
    pub metrics: Metrics,
    /// How callers are identified (API Gateway's authorizer, or tokens verified here).
    pub auth: Authentication,
    /// The CDN whose signed URLs serve renditions and originals; `None`: presigned S3 URLs.
    pub cdn: Option<Arc<Cdn>>,
}

impl FromRef<AppState> for Authentication {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl AppState {
    /// The state for the configured bucket, table, policy and authentication.
    ///
    /// # Errors
    /// [`VerifierSetupError`] when token verification is configured and its HTTP client cannot
    /// be built.
    pub fn new(clients: &AwsClients, settings: &Settings) -> Result<Self, VerifierSetupError> {
        Ok(Self {
            objects: ImageObjects::new(clients.s3.clone(), &settings.bucket_name),
            view_url_expiry: settings.view_url_expiry,
            table: MetadataTable::new(clients.dynamodb.clone(), &settings.table_name),
            policy: Arc::new(settings.upload.clone()),
            quota: settings.quota,
            allowed_origins: settings.allowed_origins.iter().cloned().collect(),
            metrics: Metrics::from_settings(&settings.metrics, Function::Api),
            auth: Authentication::from_settings(&settings.auth)?,
            cdn: settings
                .cdn
                .clone()
                .map(|cdn| Arc::new(Cdn::new(cdn, clients.secrets.clone()))),
        })
    }
}

/// The whole service: routes, error shape, CORS, request ids, and stage-prefixed paths.
pub type App = StripStage<Router>;

/// Builds the service around `state`. Routes are plain paths; the handlers learn who calls
/// through [`Caller`], which applies `state.auth`. CORS preflights are answered by the CORS layer
/// before any route, so they need no credentials (browsers send none).
pub fn app(state: AppState) -> App {
    let cors = cors_layer(&state.allowed_origins);
    let router = Router::new()
        .route("/upload", post(upload::create_upload))
        .route("/upload/multipart", post(multipart::create))
        .route(
            "/upload/multipart/{image_id}",
            get(multipart::list_parts).post(multipart::describe_upload),
        )
        .route(
            "/upload/multipart/{image_id}/parts/{part_number}",
            post(multipart::sign_part),
        )
        .route(
            "/upload/multipart/{image_id}/complete",
            post(multipart::complete),
        )
        .route("/usage", get(usage::get_usage))
        .route("/images", get(images::list_images))
        .route(
            "/images/{image_id}",
            get(images::get_image).delete(images::delete_image),
        )
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
        .layer(middleware::from_fn(request::track_request))
        .layer(cors);
    StripStage(router)
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            header::WWW_AUTHENTICATE,
            header::RETRY_AFTER,
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// Serves `app` on `listener` until `shutdown` completes (the local server and the e2e tests).
///
/// # Errors
/// The listener's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::ServiceExt;
    axum::serve(
        listener,
        ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
