//! The Lambda function behind API Gateway.

use image_upload::api::{self, AppState};
use image_upload::aws::{AwsClients, Roots};
use image_upload::config::Settings;

// One thread: Lambda hands the function one request at a time, and its calls to AWS are I/O. Worker
// threads would only add their start-up to the cold start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let settings = Settings::from_env()?;
    image_upload::telemetry::init(settings.log_format);
    let clients = AwsClients::from_settings(&settings, Roots::AmazonTrustServices).await;
    lambda_http::run(api::app(AppState::new(&clients, &settings)?)).await
}
