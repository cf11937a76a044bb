use time::OffsetDateTime;

use super::{
    Counted, FileName, ImageId, ImageObjectKeys, ImageState, ImageType, NewUpload, ObjectKey,
    Owner, PartPlan, StateName, UploadPolicy, UploadSize,
};

/// The metadata row of one image (the `ImageMetadata` table, keyed by `image_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageMetadata {
    pub image_id: ImageId,
    pub file_name: FileName,
    pub image_type: ImageType,
    pub declared_size: Option<UploadSize>,
    pub object_key: ObjectKey,
    pub bucket: String,
    pub owner: Owner,
    pub state: ImageState,
    /// Whole milliseconds, UTC.
    pub created_at: OffsetDateTime,
    /// When the row may be dropped (DynamoDB TTL): set on PENDING rows (an abandoned upload) and
    /// kept on REJECTED ones; removed when the image becomes READY.
    pub pending_expiry: Option<OffsetDateTime>,
    /// The S3 multipart upload the image's bytes arrive by; `None` for a single PUT.
    pub multipart: Option<MultipartUpload>,
    /// What the image counts in its owner's usage (`None`: a row written before quotas, or a
    /// REJECTED one, which counts nothing).
    pub counted: Option<Counted>,
}

/// The multipart upload of an image: S3's id for it, and how its declared size is cut into parts.
/// Kept on the row once the upload is completed or aborted, as the record of how it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartUpload {
    pub upload_id: String,
    pub parts: PartPlan,
}

impl ImageMetadata {
    /// The stored status.
    pub fn status(&self) -> StateName {
        self.state.status()
    }

    /// Every object this image can have in the bucket, whatever its state.
    pub fn object_keys(&self) -> ImageObjectKeys {
        ImageObjectKeys::new(self.image_id, self.image_type)
    }

    /// The PENDING row written before an upload URL is returned.
    pub fn pending(
        image_id: ImageId,
        upload: NewUpload,
        bucket: &str,
        owner: Owner,
        now: OffsetDateTime,
        policy: &UploadPolicy,
    ) -> Self {
        // Millisecond precision keeps `createdAt` strings the same length, so they sort as times.
        let created_at = now
            .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
            .unwrap_or(now);
        Self {
            image_id,
            object_key: ObjectKey::for_upload(image_id, upload.image_type),
            file_name: upload.file_name,
            image_type: upload.image_type,
            declared_size: upload.declared_size,
            bucket: bucket.to_owned(),
            owner,
            state: ImageState::Pending,
            created_at,
            // DynamoDB TTL is in whole seconds.
            pending_expiry: (created_at + policy.pending_ttl)
                .replace_millisecond(0)
                .ok(),
            multipart: None,
            counted: None,
        }
    }
}
