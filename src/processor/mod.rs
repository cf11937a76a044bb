//! The upload processor: for every object created under `uploads/`, verify it, make its
//! renditions, and settle its metadata row (PENDING -> READY or REJECTED); and for a READY image
//! whose renditions are not the configured set, make them again from its verified original
//! (`reprocess`).
//!
//! - [`Processor::handle_batch`] is the Lambda handler (an SQS batch of S3 notifications and
//!   reprocessing requests), with failures reported per message.
//! - [`event`] reads what a message asks for.
//! - [`QueuePoller`] feeds the same handler from an SQS queue locally (`just dev`, the e2e tests).

pub mod event;
mod poller;

pub use poller::{QueuePoller, to_lambda_message};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::{StreamExt, stream};
use time::OffsetDateTime;
use tracing::Instrument;

use crate::aws::{AwsClients, AwsError, Copy, ImageObjects, MetadataTable, ObjectHead, Transition};
use crate::config::{SUPERSEDED_KEPT_DEFAULT, Settings};
use crate::domain::{
    ImageId, ImageMetadata, ImageObjectKeys, ImageState, ObjectKey, ProcessingPolicy, ReadyImage,
    Rejection, RejectionReason, RenditionName, StoredRendition, Superseded,
};
use crate::imaging;
use crate::telemetry::{Function, Metrics, cause_chain};

/// What processing one object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Verified, every rendition written, and the row is READY.
    Ready,
    /// Refused: the object was deleted and the row is REJECTED with this reason.
    Rejected(RejectionReason),
    /// The row was already settled (a redelivered or duplicate event): nothing was written.
    AlreadySettled,
    /// No row belongs to the object (never issued, or deleted by its owner): the object was deleted.
    Orphan,
    /// The object was gone (or replaced) before it could be processed; nothing to do.
    Gone,
    /// Not in the upload inbox: logged and left alone, never deleted.
    Ignored,
    /// Reprocessed: the row now names the configured renditions; the ones it named before stay,
    /// as superseded, until the URLs handed out for them have expired.
    Reprocessed,
    /// Reprocessing found the renditions already the configured set, and no superseded one whose
    /// time is up: nothing was written.
    UpToDate,
    /// Reprocessing deleted superseded renditions whose time was up (the row first).
    Pruned,
    /// Reprocessing found no READY row (deleted, or never settled) or no verified original:
    /// nothing was written.
    NotReprocessed,
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
    metrics: Metrics,
    /// How long a rendition reprocessing replaced stays (`SUPERSEDED_RENDITIONS_KEPT_SECONDS`).
    superseded_kept: time::Duration,
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
        .with_metrics(Metrics::from_settings(
            &settings.metrics,
            Function::Processor,
        ))
        .keeping_superseded(settings.superseded_kept)
    }

    /// A processor from its parts (tests pass mocked clients this way), writing no metrics.
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
            metrics: Metrics::off(),
            superseded_kept: time::Duration::try_from(SUPERSEDED_KEPT_DEFAULT)
                .unwrap_or(time::Duration::ZERO),
        }
    }

    /// The same processor, keeping the renditions reprocessing replaces for `kept`.
    #[must_use]
    pub fn keeping_superseded(self, kept: std::time::Duration) -> Self {
        Self {
            superseded_kept: time::Duration::try_from(kept).unwrap_or(time::Duration::MAX),
            ..self
        }
    }

    /// The same processor, writing its metrics to `metrics`.
    #[must_use]
    pub fn with_metrics(self, metrics: Metrics) -> Self {
        Self { metrics, ..self }
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

    /// Processes every object one message announces, and records how long that took
    /// (`ProcessingTime`, whatever the outcome).
    ///
    /// # Errors
    /// [`MessageError`] when the message is malformed or an object could not be processed for a
    /// reason worth retrying. Processing is idempotent, so a retry of a partly done message is safe.
    pub async fn handle_message(&self, message: &SqsMessage) -> Result<Vec<Outcome>, MessageError> {
        let started = std::time::Instant::now();
        let outcomes = self.process_message(message).await;
        self.metrics.message_processed(started.elapsed());
        outcomes
    }

    async fn process_message(&self, message: &SqsMessage) -> Result<Vec<Outcome>, MessageError> {
        let body = message.body.as_deref().ok_or(MessageError::NoBody)?;
        match event::read(body)? {
            event::Work::Created(keys) => {
                let mut outcomes = Vec::new();
                for key in keys {
                    outcomes.push(self.process_object(&key).await?);
                }
                Ok(outcomes)
            }
            event::Work::Reprocess(id) => Ok(vec![self.reprocess(id).await?]),
        }
    }

    /// Makes a READY image's renditions again if they are not the configured set: from its
    /// verified original, written under their own keys, then the row is pointed at them (only if
    /// nothing changed it meanwhile), the renditions it named before kept as superseded until the
    /// URLs handed out for them have expired. With the set already made, deletes the superseded
    /// renditions whose time is up (the row first). Idempotent: a second request finds nothing
    /// to do and writes nothing.
    ///
    /// # Errors
    /// [`MessageError`] when S3 or DynamoDB fail.
    pub async fn reprocess(&self, id: ImageId) -> Result<Outcome, MessageError> {
        let span = tracing::info_span!("reprocess", image_id = %id);
        async {
            let outcome = self.remake(id, Remake::IfChanged).await?;
            tracing::info!(?outcome, "reprocessing request handled");
            Ok(outcome)
        }
        .instrument(span)
        .await
    }

    /// Makes a READY image's renditions again from its verified original, whatever the row
    /// names: for a row some of whose renditions are missing from the bucket (the reconciliation
    /// sweep finds them). The keys follow from the content, so the same renditions land under the
    /// keys the row names; a different configured set is made and recorded as reprocessing does.
    ///
    /// # Errors
    /// [`MessageError`] when S3 or DynamoDB fail.
    pub async fn restore(&self, id: ImageId) -> Result<Outcome, MessageError> {
        let span = tracing::info_span!("restore", image_id = %id);
        async {
            let outcome = self.remake(id, Remake::Always).await?;
            tracing::info!(?outcome, "renditions made again");
            Ok(outcome)
        }
        .instrument(span)
        .await
    }

    async fn remake(&self, id: ImageId, when: Remake) -> Result<Outcome, MessageError> {
        let Some(row) = self.table.get(id).await? else {
            return Ok(Outcome::NotReprocessed);
        };
        let ImageState::Ready(ready) = &row.state else {
            tracing::info!("the image is not READY; nothing to reprocess");
            return Ok(Outcome::NotReprocessed);
        };
        let now = OffsetDateTime::now_utc();
        if when == Remake::IfChanged && ready.has_renditions(&self.policy.renditions) {
            if ready.has_expired_superseded(now) {
                return self.prune(id, ready, now).await;
            }
            return Ok(Outcome::UpToDate);
        }
        let key = ready.original_key.as_ref();
        let Some(head) = self.objects.head(key).await? else {
            tracing::warn!(
                key,
                "a READY image without its verified original; not reprocessed"
            );
            return Ok(Outcome::NotReprocessed);
        };
        let Some(bytes) = self.objects.get(key, &head).await? else {
            return Ok(Outcome::NotReprocessed);
        };
        let (image_type, policy) = (row.image_type, self.policy);
        let inspected =
            tokio::task::spawn_blocking(move || imaging::inspect(&bytes, image_type, &policy))
                .await?;
        let inspected = match inspected {
            Ok(inspected) => inspected,
            Err(reason) => {
                // Verified under the limits of its day; today's refuse it. It stays as it is.
                tracing::warn!(
                    reason = reason.code(),
                    "the original is refused under the current limits; its renditions are kept"
                );
                return Ok(Outcome::NotReprocessed);
            }
        };
        let stored = self.write_renditions(id, inspected).await?;
        let objects = ImageObjectKeys::new(id, row.image_type);
        let kept: Vec<ObjectKey> = stored.iter().map(|r| r.key.clone()).collect();
        let serving = |key: &ObjectKey| kept.contains(key);
        // What the row named and no longer does stays until the URLs handed out for it have
        // expired; superseded renditions whose time is up go (unless made again, the same).
        let until = now + self.superseded_kept;
        let mut old: Vec<ObjectKey> = ready.renditions.iter().map(|r| r.key.clone()).collect();
        if ready.thumbnail_key == objects.legacy_thumbnail {
            old.push(objects.legacy_thumbnail.clone());
        }
        let mut superseded: Vec<Superseded> = ready
            .superseded
            .iter()
            .filter(|s| s.until > now && !serving(&s.key))
            .cloned()
            .collect();
        superseded.extend(
            old.into_iter()
                .filter(|key| !serving(key) && !superseded.iter().any(|s| &s.key == key))
                .map(|key| Superseded { key, until })
                .collect::<Vec<_>>(),
        );
        let expired: Vec<ObjectKey> = ready
            .superseded
            .iter()
            .filter(|s| s.until <= now && !serving(&s.key))
            .map(|s| s.key.clone())
            .collect();
        let remade = ReadyImage {
            thumbnail_key: thumbnail_key(&stored).unwrap_or_else(|| ready.thumbnail_key.clone()),
            renditions: stored,
            superseded,
            processed_at: now,
            ..ready.clone()
        };
        match self
            .table
            .replace_renditions(id, ready.processed_at, &remade)
            .await?
        {
            Transition::Applied => {
                // Only now that the row no longer names them do expired renditions go.
                self.delete_keys(&expired).await?;
                Ok(Outcome::Reprocessed)
            }
            Transition::Changed => {
                // Deleted meanwhile (its folder may hold what was just written), or reprocessed
                // by another message: keep what the row now names, nothing else.
                match self.table.get(id).await? {
                    Some(ImageMetadata {
                        state: ImageState::Ready(current),
                        ..
                    }) => {
                        let named = |key: &ObjectKey| {
                            current.renditions.iter().any(|r| &r.key == key)
                                || current.superseded.iter().any(|s| &s.key == key)
                        };
                        let written: Vec<ObjectKey> =
                            kept.iter().filter(|key| !named(key)).cloned().collect();
                        self.delete_keys(&written).await?;
                    }
                    _ => self.tidy(&objects, None).await?,
                }
                Ok(Outcome::NotReprocessed)
            }
        }
    }

    /// Deletes the superseded renditions of a READY image whose time is up: the row first (so
    /// that it never names a deleted object), only if nothing changed it since it was read.
    async fn prune(
        &self,
        id: ImageId,
        ready: &ReadyImage,
        now: OffsetDateTime,
    ) -> Result<Outcome, MessageError> {
        let (expired, kept): (Vec<Superseded>, Vec<Superseded>) = ready
            .superseded
            .iter()
            .cloned()
            .partition(|s| s.until <= now);
        match self
            .table
            .keep_superseded(id, ready.processed_at, &kept)
            .await?
        {
            Transition::Applied => {
                let serving = |key: &ObjectKey| ready.renditions.iter().any(|r| &r.key == key);
                let gone: Vec<ObjectKey> = expired
                    .into_iter()
                    .map(|s| s.key)
                    .filter(|key| !serving(key))
                    .collect();
                self.delete_keys(&gone).await?;
                Ok(Outcome::Pruned)
            }
            // Deleted or reprocessed meanwhile: a later request looks again.
            Transition::Changed => Ok(Outcome::NotReprocessed),
        }
    }

    async fn delete_keys(&self, keys: &[ObjectKey]) -> Result<(), MessageError> {
        futures_util::future::try_join_all(keys.iter().map(|k| self.objects.delete(k.as_ref())))
            .await?;
        Ok(())
    }

    /// Writes each rendition under its content's key; what the row should record of them.
    async fn write_renditions(
        &self,
        id: ImageId,
        inspected: imaging::Inspected,
    ) -> Result<Vec<StoredRendition>, MessageError> {
        let stored: Vec<StoredRendition> = inspected
            .renditions
            .iter()
            .map(|r| StoredRendition {
                name: r.name,
                max_side: r.max_side,
                format: r.format,
                width: r.width,
                height: r.height,
                bytes: r.bytes.len() as u64,
                key: ObjectKey::for_rendition(id, r.name, r.format, &r.bytes),
            })
            .collect();
        futures_util::future::try_join_all(inspected.renditions.into_iter().zip(&stored).map(
            |(rendition, stored)| {
                self.objects
                    .put_rendition(&stored.key, rendition.format, rendition.bytes)
            },
        ))
        .await?;
        Ok(stored)
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
        if !key.starts_with(ObjectKey::UPLOADS_PREFIX) {
            // Only the upload inbox is ours to judge: whatever else a misconfigured notification
            // announces (originals, thumbnails, other applications' objects) is never deleted.
            tracing::warn!("an object outside the upload inbox; leaving it alone");
            return Ok(Outcome::Ignored);
        }
        let Some((id, image_type)) = ObjectKey::parse_upload(key) else {
            tracing::warn!("an object this service did not issue a URL for; deleting it");
            self.objects.delete(key).await?;
            return Ok(Outcome::Orphan);
        };
        tracing::Span::current().record("image_id", tracing::field::display(id));
        let objects = ImageObjectKeys::new(id, image_type);
        let row = match self.table.get(id).await? {
            Some(row) if row.object_key.as_ref() == key => row,
            Some(_) => {
                // The row is for another type: this key was never issued for it.
                tracing::warn!("an object of another type than its row's; deleting it");
                self.objects.delete(key).await?;
                return Ok(Outcome::Orphan);
            }
            None => {
                tracing::warn!("no metadata row for this object; deleting it");
                self.tidy(&objects, None).await?;
                return Ok(Outcome::Orphan);
            }
        };
        if row.state != ImageState::Pending {
            // A redelivery, or an object PUT again after the row was settled: either way the
            // inbox may not keep it, and it is never verified or served.
            self.tidy(&objects, Some(&row.state)).await?;
            return Ok(Outcome::AlreadySettled);
        }
        match self.verify(&row).await? {
            Verdict::Gone => {
                tracing::info!("the object was deleted or replaced before it could be processed");
                Ok(Outcome::Gone)
            }
            Verdict::Accepted {
                inspected,
                head,
                size_bytes,
                thumbnail_time,
            } => {
                let outcome = self
                    .accept(&row, &objects, inspected, &head, size_bytes)
                    .await?;
                if outcome == Outcome::Ready {
                    self.metrics.upload_ready(id, thumbnail_time);
                }
                Ok(outcome)
            }
            Verdict::Refused(reason) => {
                let outcome = self.reject(&row, &objects, reason).await?;
                if outcome == Outcome::Rejected(reason) {
                    self.metrics.upload_rejected(id, reason);
                }
                Ok(outcome)
            }
        }
    }

    async fn verify(&self, row: &ImageMetadata) -> Result<Verdict, MessageError> {
        let key = row.object_key.as_ref();
        let Some(head) = self.objects.head(key).await? else {
            return Ok(Verdict::Gone);
        };
        if head.size > self.policy.max_bytes {
            return Ok(Verdict::Refused(RejectionReason::TooLarge));
        }
        if row
            .declared_size
            .is_some_and(|declared| declared.bytes() != head.size)
        {
            return Ok(Verdict::Refused(RejectionReason::SizeMismatch));
        }
        let Some(bytes) = self.objects.get(key, &head).await? else {
            return Ok(Verdict::Gone);
        };
        let size_bytes = bytes.len() as u64;
        if size_bytes > self.policy.max_bytes {
            return Ok(Verdict::Refused(RejectionReason::TooLarge));
        }
        let (image_type, policy) = (row.image_type, self.policy);
        // Decoding is CPU-bound: keep it off the threads that drive I/O for other messages. It is
        // timed on the blocking thread, so a wait for a free one does not count.
        let (inspected, thumbnail_time) = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let inspected = imaging::inspect(&bytes, image_type, &policy);
            (inspected, started.elapsed())
        })
        .await?;
        Ok(match inspected {
            Ok(inspected) => Verdict::Accepted {
                inspected,
                head,
                size_bytes,
                thumbnail_time,
            },
            Err(reason) => Verdict::Refused(reason),
        })
    }

    /// Keeps the verified version (copied out of the inbox to where no URL can write), writes
    /// every rendition, and settles the row READY (so READY means every rendition exists). The upload itself stays in the inbox, where it makes
    /// S3 refuse any second PUT to its key until the bucket's lifecycle rule removes it.
    async fn accept(
        &self,
        row: &ImageMetadata,
        objects: &ImageObjectKeys,
        inspected: imaging::Inspected,
        head: &ObjectHead,
        size_bytes: u64,
    ) -> Result<Outcome, MessageError> {
        let id = row.image_id;
        match self
            .objects
            .copy_verified(&objects.upload, head, &objects.original)
            .await?
        {
            Copy::Copied => {}
            Copy::SourceChanged => {
                // Replaced: the new version has an event of its own. Deleted: nothing to keep.
                tracing::info!("the object changed after it was verified; not keeping it");
                return Ok(Outcome::Gone);
            }
        }
        let (width, height) = (inspected.width, inspected.height);
        let stored = self.write_renditions(id, inspected).await?;
        let thumbnail_key =
            thumbnail_key(&stored).unwrap_or_else(|| objects.legacy_thumbnail.clone());
        let state = ImageState::Ready(ReadyImage {
            width,
            height,
            size_bytes,
            original_key: objects.original.clone(),
            upload_etag: head.etag.clone().unwrap_or_default(),
            thumbnail_key,
            renditions: stored,
            superseded: Vec::new(),
            processed_at: OffsetDateTime::now_utc(),
        });
        let transition = self.table.settle(row, &state).await?;
        self.settled(objects, transition, &state).await?;
        Ok(match transition {
            Transition::Applied => Outcome::Ready,
            Transition::Changed => Outcome::AlreadySettled,
        })
    }

    /// Settles the row REJECTED, then removes the object. The row first: if a delete fails, the
    /// retry finds a REJECTED row and deletes again; the other order could leave a PENDING row
    /// with no object.
    async fn reject(
        &self,
        row: &ImageMetadata,
        objects: &ImageObjectKeys,
        reason: RejectionReason,
    ) -> Result<Outcome, MessageError> {
        tracing::info!(reason = reason.code(), "upload refused: {reason}");
        let state = ImageState::Rejected(Rejection {
            reason,
            processed_at: OffsetDateTime::now_utc(),
        });
        let transition = self.table.settle(row, &state).await?;
        self.settled(objects, transition, &state).await?;
        Ok(match transition {
            Transition::Applied => Outcome::Rejected(reason),
            Transition::Changed => Outcome::AlreadySettled,
        })
    }

    /// After a settle: removes what the row, as it now stands, does not allow. When the settle did
    /// not apply, the row was settled by a concurrent duplicate or deleted by its owner meanwhile,
    /// so it is read again: whatever this attempt wrote that the row does not allow goes.
    async fn settled(
        &self,
        objects: &ImageObjectKeys,
        transition: Transition,
        written: &ImageState,
    ) -> Result<(), MessageError> {
        match transition {
            // The verified upload stays: it is what makes S3 refuse a second PUT to its URL.
            Transition::Applied if matches!(written, ImageState::Ready(_)) => Ok(()),
            Transition::Applied => self.tidy(objects, Some(written)).await,
            Transition::Changed => {
                let now = self.table.get(objects.image_id).await?;
                if now.is_none() {
                    tracing::info!("the image was deleted while it was processed; cleaning up");
                }
                self.tidy(objects, now.as_ref().map(|row| &row.state)).await
            }
        }
    }

    /// Deletes the objects of an image that a row in `state` (`None`: no row) does not allow: a
    /// READY image keeps its verified original, its renditions, and in the inbox only the
    /// version that was verified; a REJECTED or deleted one keeps nothing; a PENDING one is left
    /// as it is.
    async fn tidy(
        &self,
        objects: &ImageObjectKeys,
        state: Option<&ImageState>,
    ) -> Result<(), MessageError> {
        match state {
            Some(ImageState::Pending) => {}
            Some(ImageState::Ready(ready)) => {
                let key = objects.upload.as_ref();
                let replaced =
                    self.objects.head(key).await?.is_some_and(|head| {
                        head.etag.as_deref() != Some(ready.upload_etag.as_str())
                    });
                if replaced {
                    tracing::warn!(
                        "the upload was replaced after it was verified (the store ignored \
                         If-None-Match); deleting the new object unverified"
                    );
                    self.objects.delete(key).await?;
                }
            }
            Some(ImageState::Rejected(_)) | None => {
                futures_util::try_join!(
                    self.objects.delete(objects.upload.as_ref()),
                    self.objects.delete(objects.original.as_ref()),
                    self.objects.delete(objects.legacy_thumbnail.as_ref()),
                    self.objects.delete_folder(&objects.renditions_folder),
                )?;
            }
        }
        Ok(())
    }
}

/// When [`Processor::remake`] makes a READY image's renditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Remake {
    /// Only if the row's are not the configured set (reprocessing).
    IfChanged,
    /// Always (restoring renditions missing from the bucket).
    Always,
}

/// The key of the thumbnail among `stored` (every configured set has one).
fn thumbnail_key(stored: &[StoredRendition]) -> Option<ObjectKey> {
    stored
        .iter()
        .find(|s| s.name.as_str() == RenditionName::THUMBNAIL)
        .map(|s| s.key.clone())
}

/// What verifying an uploaded object found.
#[derive(Debug)]
enum Verdict {
    /// The object was deleted (or replaced) before it could be read.
    Gone,
    /// A valid image of the declared type within the limits; `head` is the version that was read.
    Accepted {
        inspected: imaging::Inspected,
        head: ObjectHead,
        size_bytes: u64,
        /// Decoding, reducing and encoding every rendition: `imaging::inspect`, one pass.
        thumbnail_time: std::time::Duration,
    },
    /// Not acceptable, for this reason.
    Refused(RejectionReason),
}

#[cfg(test)]
mod tests;
