//! The Lambda function that consumes the upload queue (S3 notifications through SQS). Its event
//! source mapping must report batch item failures (`ReportBatchItemFailures`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use image_upload::aws::{AwsClients, Roots};
use image_upload::config::Settings;
use image_upload::processor::Processor;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let settings = Settings::from_env()?;
    // A function too small for its limits would be killed mid-batch, taking innocent messages
    // with it: better not to start at all, with a message that says why.
    settings.check_processor_memory()?;
    image_upload::telemetry::init(settings.log_format);
    let clients = AwsClients::from_settings(&settings, Roots::AmazonTrustServices).await;
    let processor = Processor::new(&clients, &settings);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let processor = processor.clone();
        async move {
            Ok::<SqsBatchResponse, std::convert::Infallible>(
                processor.handle_batch(event.payload).await,
            )
        }
    }))
    .await
}
