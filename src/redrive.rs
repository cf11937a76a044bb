//! Moving the dead-letter queue's messages back to the upload queue (`just redrive`), once the
//! fault that parked them is fixed: an operator's tool, run with the operator's credentials
//! against the local stack or a deployment.
//!
//! Each message is sent to the upload queue with its body and attributes, and deleted from the
//! dead-letter queue only once it was sent: a run that stops halfway leaves each message in one
//! queue or (at worst) in both, never in neither. A message in both is processed twice, which
//! the processor already takes (a redelivered event settles nothing twice). Portable to any SQS
//! (LocalStack's included), unlike SQS's own move task.

use std::time::Duration;

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, QueueAttributeName, SendMessageBatchRequestEntry,
};

use crate::aws::AwsError;

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Redriven {
    /// Messages now in the upload queue and gone from the dead-letter queue.
    pub moved: usize,
    /// Messages sent but not deleted from the dead-letter queue (they come back there, and are
    /// moved again by the next run; the processor takes the duplicate).
    pub left_behind: usize,
    /// Messages the upload queue refused: still in the dead-letter queue (back in view after a
    /// minute), for the next run.
    pub refused: usize,
}

impl Redriven {
    /// Whether every message read was moved.
    pub fn complete(&self) -> bool {
        self.left_behind == 0 && self.refused == 0
    }
}

/// Moves up to `limit` messages (all, when `None`) from `dead_letters` to `queue`, ten at a
/// time, until a receive finds none or as many as the dead-letter queue held at the start were
/// read: a message that fails again and comes back while the run goes on is not moved twice.
///
/// # Errors
/// [`AwsError`] when a receive or a send fails outright; what was moved before stays moved.
pub async fn redrive(
    sqs: &aws_sdk_sqs::Client,
    dead_letters: &str,
    queue: &str,
    limit: Option<usize>,
) -> Result<Redriven, AwsError> {
    let held = sqs
        .get_queue_attributes()
        .queue_url(dead_letters)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .map_err(|e| AwsError::classify("reading the dead-letter queue's size", e))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let limit = limit.map_or(held, |limit| limit.min(held));
    let mut done = Redriven::default();
    let mut read = 0;
    loop {
        let room = limit.saturating_sub(read).min(10);
        if room == 0 {
            return Ok(done);
        }
        let received = sqs
            .receive_message()
            .queue_url(dead_letters)
            .max_number_of_messages(i32::try_from(room).unwrap_or(10))
            .message_attribute_names("All")
            // Long enough to send and delete the batch; a message not deleted comes back.
            .visibility_timeout(60)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| AwsError::classify("receiving from the dead-letter queue", e))?;
        let messages = received.messages();
        if messages.is_empty() {
            return Ok(done);
        }
        read += messages.len();
        let entries: Vec<SendMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .map(|(n, message)| {
                SendMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .message_body(message.body().unwrap_or_default())
                    .set_message_attributes(message.message_attributes().cloned())
                    .build()
                    .map_err(|e| AwsError::failed("moving a dead letter", e))
            })
            .collect::<Result<_, _>>()?;
        let sent = sqs
            .send_message_batch()
            .queue_url(queue)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| AwsError::classify("sending dead letters to the upload queue", e))?;
        let deletes: Vec<DeleteMessageBatchRequestEntry> = sent
            .successful()
            .iter()
            .filter_map(|ok| {
                let message = &messages[ok.id().parse::<usize>().ok()?];
                DeleteMessageBatchRequestEntry::builder()
                    .id(ok.id())
                    .receipt_handle(message.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        done.refused += sent.failed().len();
        if deletes.is_empty() {
            // Nothing went through this time: the messages come back after their timeout.
            return Err(AwsError::unavailable(
                "sending dead letters to the upload queue",
                format!("{} of {} refused", sent.failed().len(), messages.len()),
            ));
        }
        let deleted = sqs
            .delete_message_batch()
            .queue_url(dead_letters)
            .set_entries(Some(deletes))
            .send()
            .await
            .map_err(|e| AwsError::classify("deleting moved dead letters", e))?;
        done.moved += deleted.successful().len();
        done.left_behind += deleted.failed().len();
        // A short pause keeps an empty-looking receive from ending a run while SQS settles.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
