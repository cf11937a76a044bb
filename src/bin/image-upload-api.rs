//! The Lambda function behind API Gateway.

use image_upload::api::{self, AppState};
use image_upload::aws::AwsClients;
use image_upload::config::Settings;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let settings = Settings::from_env()?;
    image_upload::telemetry::init(settings.log_format);
    let clients = AwsClients::from_settings(&settings).await;
    lambda_http::run(api::app(AppState::new(&clients, &settings)?)).await
}
