//! The upload processor: for every object created under `uploads/`, verify it, make its
//! thumbnail, and settle its metadata row (PENDING -> READY or REJECTED).
//!
//! - [`Processor::handle_batch`] is the Lambda handler (an SQS batch of S3 notifications), with
//!   failures reported per message.
//! - [`event`] reads the object keys out of a message.
//! - [`QueuePoller`] feeds the same handler from an SQS queue locally (`just dev`, the e2e tests).

pub mod event;
mod poller;

pub use poller::{QueuePoller, to_lambda_message};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::{StreamExt, stream};
use time::OffsetDateTime;
use tracing::Instrument;

use crate::aws::{AwsClients, AwsError, ImageObjects, MetadataTable, Transition};
use crate::config::Settings;
use crate::domain::{
    ImageMetadata, ImageState, ObjectKey, ProcessingPolicy, ReadyImage, Rejection, RejectionReason,
};
use crate::imaging;
use crate::telemetry::cause_chain;

/// What processing one object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Verified, thumbnailed, and the row is READY.
    Ready,
    /// Refused: the object was deleted and the row is REJECTED with this reason.
    Rejected(RejectionReason),
    /// The row was already settled (a redelivered or duplicate event): nothing was written.
    AlreadySettled,
    /// No row belongs to the object (never issued, or deleted by its owner): the object was deleted.
    Orphan,
    /// The object was gone before it could be processed; nothing to do.
    Gone,
}

/// Why a message failed and should be delivered again.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error(transparent)]
    Malformed(#[from] event::MalformedMessage),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("verifying the image did not finish")]
    Verifier(#[from] tokio::task::JoinError),
    #[error("the message has no body")]
    NoBody,
}

/// Everything processing needs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Processor {
    objects: ImageObjects,
    table: MetadataTable,
    policy: ProcessingPolicy,
    concurrency: usize,
}

impl Processor {
    /// The processor for the configured bucket, table and limits.
    pub fn new(clients: &AwsClients, settings: &Settings) -> Self {
        Self::from_parts(
            ImageObjects::new(clients.s3.clone(), &settings.bucket_name),
            MetadataTable::new(clients.dynamodb.clone(), &settings.table_name),
            settings.processing,
            settings.processor_concurrency,
        )
    }

    /// A processor from its parts (tests pass mocked clients this way).
    pub fn from_parts(
        objects: ImageObjects,
        table: MetadataTable,
        policy: ProcessingPolicy,
        concurrency: usize,
    ) -> Self {
        Self {
            objects,
            table,
            policy,
            concurrency: concurrency.max(1),
        }
    }

    /// Processes an SQS batch. Messages are independent: each one that fails is listed in the
    /// response (so SQS delivers only it again) and the others are done.
    pub async fn handle_batch(&self, batch: SqsEvent) -> SqsBatchResponse {
        let failures: Vec<BatchItemFailure> = stream::iter(batch.records)
            .map(|message| async move {
                let id = message.message_id.clone().unwrap_or_default();
                let span = tracing::info_span!("message", message_id = %id);
                match self.handle_message(&message).instrument(span.clone()).await {
                    Ok(_) => None,
                    Err(err) => {
                        span.in_scope(|| {
                            tracing::error!(error = %err, cause = %cause_chain(&err), "message failed; SQS will deliver it again");
                        });
                        let mut failure = BatchItemFailure::default();
                        failure.item_identifier = id;
                        Some(failure)
                    }
                }
            })
            .buffer_unordered(self.concurrency)
            .filter_map(std::future::ready)
            .collect()
            .await;
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failures;
        response
    }

    /// Processes every object one message announces.
    ///
    /// # Errors
    /// [`MessageError`] when the message is malformed or an object could not be processed for a
    /// reason worth retrying. Processing is idempotent, so a retry of a partly done message is safe.
    pub async fn handle_message(&self, message: &SqsMessage) -> Result<Vec<Outcome>, MessageError> {
        let body = message.body.as_deref().ok_or(MessageError::NoBody)?;
        let mut outcomes = Vec::new();
        for key in event::created_keys(body)? {
            outcomes.push(self.process_object(&key).await?);
        }
        Ok(outcomes)
    }

    /// Verifies one uploaded object and settles its row.
    ///
    /// # Errors
    /// [`MessageError`] when S3 or DynamoDB fail; a bad file is an [`Outcome::Rejected`], not an error.
    pub async fn process_object(&self, key: &str) -> Result<Outcome, MessageError> {
        let span = tracing::info_span!("object", key, image_id = tracing::field::Empty);
        async {
            let outcome = self.process(key).await?;
            tracing::info!(?outcome, "object processed");
            Ok(outcome)
        }
        .instrument(span)
        .await
    }

    async fn process(&self, key: &str) -> Result<Outcome, MessageError> {
        let Some((id, _)) = ObjectKey::parse_upload(key) else {
            tracing::warn!("an object this service did not issue a URL for; deleting it");
            self.objects.delete(key).await?;
            return Ok(Outcome::Orphan);
        };
        tracing::Span::current().record("image_id", tracing::field::display(id));
        let row = match self.table.get(id).await? {
            Some(row) if row.object_key.as_ref() == key => row,
            _ => {
                tracing::warn!("no metadata row for this object; deleting it");
                self.objects.delete(key).await?;
                return Ok(Outcome::Orphan);
            }
        };
        match row.state {
            ImageState::Pending => {}
            ImageState::Ready(_) => return Ok(Outcome::AlreadySettled),
            ImageState::Rejected(_) => {
                // A rejected upload has no object; one here was PUT again with the same URL.
                self.objects.delete(key).await?;
                return Ok(Outcome::AlreadySettled);
            }
        }
        let Some(verdict) = self.verify(&row).await? else {
            tracing::info!("the object was deleted before it could be processed");
            return Ok(Outcome::Gone);
        };
        match verdict {
            Ok(ready) => self.accept(&row, ready).await,
            Err(reason) => self.reject(&row, reason).await,
        }
    }

    /// `None` when the object is gone; otherwise what verifying it found.
    async fn verify(
        &self,
        row: &ImageMetadata,
    ) -> Result<Option<Result<(imaging::Inspected, u64), RejectionReason>>, MessageError> {
        let key = row.object_key.as_ref();
        let Some(head) = self.objects.head(key).await? else {
            return Ok(None);
        };
        if head.size > self.policy.max_bytes {
            return Ok(Some(Err(RejectionReason::TooLarge)));
        }
        if row
            .declared_size
            .is_some_and(|declared| declared.bytes() != head.size)
        {
            return Ok(Some(Err(RejectionReason::SizeMismatch)));
        }
        let Some(bytes) = self.objects.get(key, &head).await? else {
            return Ok(None);
        };
        let size = bytes.len() as u64;
        if size > self.policy.max_bytes {
            return Ok(Some(Err(RejectionReason::TooLarge)));
        }
        let (image_type, policy) = (row.image_type, self.policy);
        // Decoding is CPU-bound: keep it off the threads that drive I/O for other messages.
        let verdict =
            tokio::task::spawn_blocking(move || imaging::inspect(&bytes, image_type, &policy))
                .await?;
        Ok(Some(verdict.map(|inspected| (inspected, size))))
    }

    async fn accept(
        &self,
        row: &ImageMetadata,
        (inspected, size_bytes): (imaging::Inspected, u64),
    ) -> Result<Outcome, MessageError> {
        let id = row.image_id;
        let thumbnail_key = ObjectKey::for_thumbnail(id);
        self.objects
            .put_thumbnail(&thumbnail_key, inspected.thumbnail.jpeg)
            .await?;
        let state = ImageState::Ready(ReadyImage {
            width: inspected.width,
            height: inspected.height,
            size_bytes,
            thumbnail_key: thumbnail_key.clone(),
            processed_at: OffsetDateTime::now_utc(),
        });
        match self.table.settle(id, &state).await? {
            Transition::Applied => Ok(Outcome::Ready),
            Transition::NotPending => {
                // Settled by a concurrent duplicate (same object, same thumbnail), or deleted by
                // its owner meanwhile: then nothing may be left behind.
                if self.table.get(id).await?.is_none() {
                    tracing::info!("the image was deleted while it was processed; cleaning up");
                    self.objects.delete(thumbnail_key.as_ref()).await?;
                    self.objects.delete(row.object_key.as_ref()).await?;
                }
                Ok(Outcome::AlreadySettled)
            }
        }
    }

    async fn reject(
        &self,
        row: &ImageMetadata,
        reason: RejectionReason,
    ) -> Result<Outcome, MessageError> {
        let id = row.image_id;
        tracing::info!(reason = reason.code(), "upload refused: {reason}");
        let state = ImageState::Rejected(Rejection {
            reason,
            processed_at: OffsetDateTime::now_utc(),
        });
        // The row first: if deleting the object then fails, the retry finds a REJECTED row and
        // deletes the object again. The other order could leave a PENDING row with no object.
        let transition = self.table.settle(id, &state).await?;
        let settled_as_ready = transition == Transition::NotPending
            && matches!(
                self.table.get(id).await?.map(|r| r.state),
                Some(ImageState::Ready(_))
            );
        if settled_as_ready {
            return Ok(Outcome::AlreadySettled);
        }
        self.objects.delete(row.object_key.as_ref()).await?;
        Ok(match transition {
            Transition::Applied => Outcome::Rejected(reason),
            Transition::NotPending => Outcome::AlreadySettled,
        })
    }
}

#[cfg(test)]
mod tests;
