//! Feeds [`Processor::handle_batch`] from an SQS queue, as Lambda's event source mapping does in
//! AWS: receive a batch, process it, delete the messages that did not fail. Used by `just dev`
//! and the e2e tests against the local stack.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageSystemAttributeName;

use super::Processor;
use crate::aws::AwsError;

/// A local stand-in for Lambda's SQS event source mapping.
#[derive(Clone, Debug)]
pub struct QueuePoller {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    processor: Processor,
}

impl QueuePoller {
    /// Polls `queue_url` for `processor`.
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: impl Into<String>,
        processor: Processor,
    ) -> Self {
        Self {
            sqs,
            queue_url: queue_url.into(),
            processor,
        }
    }

    /// Receives one batch (waiting up to `wait` for it), processes it and deletes the messages
    /// that succeeded; failed ones become visible again after the queue's visibility timeout.
    /// Returns how many messages were received.
    ///
    /// # Errors
    /// [`AwsError`] when receiving or deleting fails.
    pub async fn poll_once(&self, wait: Duration) -> Result<usize, AwsError> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(i32::try_from(wait.as_secs()).unwrap_or(20).min(20))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| AwsError::classify("receiving from the upload queue", e))?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(0);
        }
        let count = messages.len();
        let mut batch = SqsEvent::default();
        batch.records = messages.into_iter().map(to_lambda_message).collect();
        let receipts: Vec<(String, String)> = batch
            .records
            .iter()
            .filter_map(|m| Some((m.message_id.clone()?, m.receipt_handle.clone()?)))
            .collect();
        let response = self.processor.handle_batch(batch).await;
        for (id, receipt) in receipts {
            if response
                .batch_item_failures
                .iter()
                .any(|f| f.item_identifier == id)
            {
                continue;
            }
            self.sqs
                .delete_message()
                .queue_url(&self.queue_url)
                .receipt_handle(receipt)
                .send()
                .await
                .map_err(|e| AwsError::classify("deleting a processed message", e))?;
        }
        Ok(count)
    }

    /// Polls until `shutdown` completes. Errors are logged and polling goes on after a pause.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                polled = self.poll_once(crate::aws::LONG_POLL) => {
                    if let Err(err) = polled {
                        tracing::error!(error = %err, cause = %crate::telemetry::cause_chain(&err), "polling the upload queue failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }
    }
}

/// An SQS API message as Lambda would hand it to the function.
pub fn to_lambda_message(message: aws_sdk_sqs::types::Message) -> SqsMessage {
    let mut lambda = SqsMessage::default();
    lambda.message_id = message.message_id;
    lambda.receipt_handle = message.receipt_handle;
    lambda.md5_of_body = message.md5_of_body;
    lambda.body = message.body;
    lambda.attributes = message
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name.as_str().to_owned(), value))
        .collect();
    lambda.event_source = Some("aws:sqs".into());
    lambda
}
