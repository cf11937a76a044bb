//! The binary of two Lambda functions. As the processor it consumes the upload queue (S3
//! notifications through SQS; its event source mapping must report batch item failures,
//! `ReportBatchItemFailures`). As the sweep, EventBridge invokes it on a schedule to reconcile
//! the bucket with the table. One binary: the two share nearly all their code, and each function
//! keeps its own role, memory and timeout (docs/decisions/0028-reconciliation-sweep.md).

use image_upload::aws::{AwsClients, Roots};
use image_upload::config::Settings;
use image_upload::processor::Processor;
use image_upload::processor::event::Invocation;
use image_upload::sweep::{self, Sweeper};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let settings = Settings::from_env()?;
    // A function too small for its limits would be killed mid-batch, taking innocent messages
    // with it: better not to start at all, with a message that says why.
    settings.check_processor_memory()?;
    image_upload::telemetry::init(settings.log_format);
    let clients = AwsClients::from_settings(&settings, Roots::AmazonTrustServices).await;
    let processor = Processor::new(&clients, &settings);
    let sweeper = Sweeper::new(&clients, &settings);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (processor, sweeper) = (processor.clone(), sweeper.clone());
        async move {
            match Invocation::read(event.payload)? {
                Invocation::Batch(batch) => Ok::<Value, lambda_runtime::Error>(
                    serde_json::to_value(processor.handle_batch(batch).await)?,
                ),
                Invocation::Schedule => {
                    let report = sweeper
                        .run(sweep::Options::SCHEDULED, time::OffsetDateTime::now_utc())
                        .await?;
                    // A repair that failed fails the run, so that SweepErrorsAlarm says so (its
                    // log line says which); the next run finds it again.
                    match report.failed() {
                        0 => Ok(report.summary()),
                        failed => {
                            Err(format!("{failed} repairs failed: {}", report.summary()).into())
                        }
                    }
                }
            }
        }
    }))
    .await
}
