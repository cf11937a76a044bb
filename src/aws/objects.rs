use std::time::Duration;

use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::primitives::ByteStream;
use time::OffsetDateTime;

use super::AwsError;
use crate::domain::ObjectKey;

/// The objects of one bucket: originals under `uploads/`, thumbnails under `thumbnails/`.
#[derive(Clone, Debug)]
pub struct ImageObjects {
    client: aws_sdk_s3::Client,
    bucket: String,
}

/// What HeadObject says about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: u64,
    /// Pins later reads to exactly this version of the object.
    pub etag: Option<String>,
}

impl ImageObjects {
    /// The objects of `bucket`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// The object's size and ETag, or `None` when there is no such object.
    ///
    /// # Errors
    /// [`AwsError`] for any failure but the object's absence.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectHead>, AwsError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => Ok(Some(ObjectHead {
                size: head
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                etag: head.e_tag().map(str::to_owned),
            })),
            Err(e) if matches!(e.as_service_error(), Some(HeadObjectError::NotFound(_))) => {
                Ok(None)
            }
            Err(e) => Err(AwsError::classify("reading the uploaded object's size", e)),
        }
    }

    /// The object's bytes, if it is still the version `head` described; `None` when it is gone.
    ///
    /// # Errors
    /// [`AwsError`] for any failure but the object's absence (a replaced object fails the
    /// `If-Match`, so the caller retries with a fresh `head`).
    pub async fn get(&self, key: &str, head: &ObjectHead) -> Result<Option<Vec<u8>>, AwsError> {
        let response = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_if_match(head.etag.clone())
            .send()
            .await
        {
            Ok(response) => response,
            Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None);
            }
            Err(e) => return Err(AwsError::classify("downloading the uploaded object", e)),
        };
        let bytes = response
            .body
            .collect()
            .await
            .map_err(|e| AwsError::Unavailable {
                context: "downloading the uploaded object",
                source: Box::new(e),
            })?;
        Ok(Some(bytes.to_vec()))
    }

    /// Writes a JPEG thumbnail (private, like everything in the bucket).
    ///
    /// # Errors
    /// [`AwsError`] when the write fails.
    pub async fn put_thumbnail(&self, key: &ObjectKey, jpeg: Vec<u8>) -> Result<(), AwsError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_ref())
            .content_type("image/jpeg")
            .cache_control("private, max-age=31536000, immutable")
            .body(ByteStream::from(jpeg))
            .send()
            .await
            .map_err(|e| AwsError::classify("writing the thumbnail", e))?;
        Ok(())
    }

    /// Deletes an object; deleting one that is already gone succeeds.
    ///
    /// # Errors
    /// [`AwsError`] when the delete fails.
    pub async fn delete(&self, key: &str) -> Result<(), AwsError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::classify("deleting an object", e))?;
        Ok(())
    }

    /// A GET URL for one object, valid for `expiry` from `now`. No I/O.
    ///
    /// # Errors
    /// [`AwsError`] when the expiry is out of SigV4's range or signing fails.
    pub async fn presign_get(
        &self,
        key: &ObjectKey,
        now: OffsetDateTime,
        expiry: Duration,
    ) -> Result<String, AwsError> {
        let config = super::s3::presigning(now, expiry, "configuring a download URL")?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_ref())
            .presigned(config)
            .await
            .map_err(|e| AwsError::classify("presigning a download URL", e))?;
        Ok(request.uri().to_owned())
    }
}
