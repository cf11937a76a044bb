use std::time::{Duration, SystemTime};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use time::OffsetDateTime;

use super::AwsError;
use crate::domain::{ImageType, ObjectKey, RenditionFormat, UploadSize};

/// The `Cache-Control` of every rendition.
pub const RENDITION_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// The one private bucket: presigned uploads of originals to `uploads/`, verified originals under
/// `originals/`, renditions under `renditions/`, and the reads, deletes and download URLs of them.
#[derive(Clone, Debug)]
pub struct ImageObjects {
    client: aws_sdk_s3::Client,
    bucket: String,
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    /// To the second; `None` when S3 did not say (a sweep then treats the object as new).
    pub last_modified: Option<OffsetDateTime>,
}

/// One page of a listing, and the token of the next (`None` on the last).
#[derive(Debug, Clone, Default)]
pub struct ListedPage {
    pub objects: Vec<Listed>,
    pub next: Option<String>,
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

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Signs a PUT of `key` with its `Content-Type` (and `Content-Length` when the size was declared),
    /// valid for `expiry` from `now`. No I/O beyond resolving cached credentials.
    ///
    /// `If-None-Match: *` is signed in too (S3 conditional writes): the URL can create its object
    /// once, a second PUT gets 412, and a client cannot drop the header without breaking the
    /// signature (403).
    ///
    /// # Errors
    /// [`AwsError`] when the expiry is out of SigV4's range or signing fails.
    pub async fn presign_upload(
        &self,
        key: &ObjectKey,
        image_type: ImageType,
        size: Option<UploadSize>,
        now: OffsetDateTime,
        expiry: Duration,
    ) -> Result<PresignedUpload, AwsError> {
        let config = presigning(now, expiry, "configuring the upload URL")?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_ref())
            .content_type(image_type.mime())
            .if_none_match("*")
            .set_content_length(size.map(|s| s.bytes() as i64))
            .presigned(config)
            .await
            .map_err(|e| AwsError::classify("presigning the upload URL", e))?;
        Ok(PresignedUpload::from_request(&request, now + expiry))
    }

    /// Starts a multipart upload of `key` with its `Content-Type`; answers S3's upload id.
    ///
    /// # Errors
    /// [`AwsError`] when S3 refuses or fails.
    pub async fn create_multipart(
        &self,
        key: &ObjectKey,
        image_type: ImageType,
    ) -> Result<String, AwsError> {
        let output = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_ref())
            .content_type(image_type.mime())
            .send()
            .await
            .map_err(|e| AwsError::classify("starting a multipart upload", e))?;
        output
            .upload_id()
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| AwsError::failed("starting a multipart upload", "S3 gave no upload id"))
    }

    /// Signs a PUT of part `number` of `upload_id`, exactly `len` bytes long (`Content-Length`
    /// is signed in: S3 refuses a body of any other length), valid for `expiry` from `now`.
    ///
    /// # Errors
    /// [`AwsError`] when the expiry is out of SigV4's range or signing fails.
    pub async fn presign_part(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        number: u32,
        len: u64,
        now: OffsetDateTime,
        expiry: Duration,
    ) -> Result<PresignedUpload, AwsError> {
        let config = presigning(now, expiry, "configuring a part's upload URL")?;
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key.as_ref())
            .upload_id(upload_id)
            .part_number(i32::try_from(number).unwrap_or(i32::MAX))
            .content_length(i64::try_from(len).unwrap_or(i64::MAX))
            .presigned(config)
            .await
            .map_err(|e| AwsError::classify("presigning a part's upload URL", e))?;
        Ok(PresignedUpload::from_request(&request, now + expiry))
    }

    /// The parts S3 holds for `upload_id`, in part-number order; `None` when there is no such
    /// upload (completed, aborted, or never started).
    ///
    /// # Errors
    /// [`AwsError`] for any other failure.
    pub async fn list_parts(
        &self,
        key: &ObjectKey,
        upload_id: &str,
    ) -> Result<Option<Vec<UploadedPart>>, AwsError> {
        let mut parts = Vec::new();
        let mut marker = None;
        let mut last: Option<String> = None;
        loop {
            let result = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key.as_ref())
                .upload_id(upload_id)
                .set_part_number_marker(marker.take())
                .send()
                .await;
            let page = match result {
                Ok(page) => page,
                Err(e) if e.code() == Some("NoSuchUpload") => return Ok(None),
                Err(e) => return Err(AwsError::classify("listing an upload's parts", e)),
            };
            for part in page.parts() {
                let (Some(number), Some(size), Some(etag)) =
                    (part.part_number(), part.size(), part.e_tag())
                else {
                    return Err(AwsError::failed(
                        "listing an upload's parts",
                        "S3 listed a part without its number, size or ETag",
                    ));
                };
                parts.push(UploadedPart {
                    number: u32::try_from(number).unwrap_or(0),
                    size: u64::try_from(size).unwrap_or(0),
                    etag: etag.to_owned(),
                });
            }
            match page.next_part_number_marker() {
                // A marker that does not move on would list the same page for ever.
                Some(next)
                    if page.is_truncated() == Some(true) && Some(next) != last.as_deref() =>
                {
                    last = Some(next.to_owned());
                    marker = Some(next.to_owned());
                }
                _ => break,
            }
        }
        parts.sort_by_key(|part| part.number);
        Ok(Some(parts))
    }

    /// Completes `upload_id` from `parts`, once: `If-None-Match: *` makes S3 refuse it when the
    /// object already exists, and the total size is stated (`x-amz-mp-object-size`) for S3 to
    /// check as well.
    ///
    /// # Errors
    /// [`AwsError`] for any failure but those [`Completion`] names.
    pub async fn complete_multipart(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<Completion, AwsError> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let total: u64 = parts.iter().map(|part| part.size).sum();
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|part| {
                        CompletedPart::builder()
                            .part_number(i32::try_from(part.number).unwrap_or(i32::MAX))
                            .e_tag(&part.etag)
                            .build()
                    })
                    .collect(),
            ))
            .build();
        let result = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_ref())
            .upload_id(upload_id)
            .multipart_upload(completed)
            .if_none_match("*")
            .mpu_object_size(i64::try_from(total).unwrap_or(i64::MAX))
            .send()
            .await;
        match result {
            Ok(output) => Ok(Completion::Completed {
                etag: output.e_tag().unwrap_or_default().to_owned(),
                location: output.location().unwrap_or_default().to_owned(),
            }),
            Err(e) if matches!(e.code(), Some("NoSuchUpload")) => Ok(Completion::NoSuchUpload),
            // Another completion of the same upload is under way.
            Err(e)
                if matches!(
                    e.code(),
                    Some("PreconditionFailed" | "ConditionalRequestConflict")
                ) =>
            {
                Ok(Completion::ObjectExists)
            }
            Err(e) if matches!(e.code(), Some("InvalidPart" | "InvalidPartOrder")) => {
                Ok(Completion::PartsChanged)
            }
            Err(e) => Err(AwsError::classify("completing a multipart upload", e)),
        }
    }

    /// Aborts `upload_id`, freeing its parts. An upload that is already gone is not an error.
    ///
    /// # Errors
    /// [`AwsError`] for any other failure.
    pub async fn abort_multipart(&self, key: &ObjectKey, upload_id: &str) -> Result<(), AwsError> {
        let result = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_ref())
            .upload_id(upload_id)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.code(), Some("NoSuchUpload")) => Ok(()),
            Err(e) => Err(AwsError::classify("aborting a multipart upload", e)),
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
        let object = self
            .fetch(key, head.etag.clone(), "downloading the uploaded object")
            .await?;
        Ok(object.map(|o| o.bytes))
    }

    /// GetObject of `key` (if its ETag is still `if_match`, when given), read whole into one
    /// buffer with the headers S3 stored; `None` when there is no such object.
    async fn fetch(
        &self,
        key: &str,
        if_match: Option<String>,
        context: &'static str,
    ) -> Result<Option<ServedObject>, AwsError> {
        let response = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_if_match(if_match)
            .send()
            .await
        {
            Ok(response) => response,
            Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None);
            }
            Err(e) => return Err(AwsError::classify(context, e)),
        };
        let content_type = response.content_type().map(str::to_owned);
        let cache_control = response.cache_control().map(str::to_owned);
        let bytes = response
            .body
            .collect()
            .await
            .map_err(|e| AwsError::Unavailable {
                context,
                source: Box::new(e),
            })?;
        Ok(Some(ServedObject {
            // One contiguous buffer, not a second copy of it: an upload counts against the budget.
            bytes: bytes.into_bytes().into(),
            content_type,
            cache_control,
        }))
    }

    /// Copies the object at `from` to `to` inside the bucket, only if `from` is still the version
    /// `head` described (`x-amz-copy-source-if-match`), so what lands at `to` is exactly the bytes
    /// that were read and verified. Server-side: the bytes do not pass through the caller.
    ///
    /// # Errors
    /// [`AwsError`] for any failure but the source having been deleted or replaced, which is
    /// [`Copy::SourceChanged`].
    pub async fn copy_verified(
        &self,
        from: &ObjectKey,
        head: &ObjectHead,
        to: &ObjectKey,
    ) -> Result<Copy, AwsError> {
        let result = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            // Keys are built from a UUID and an extension: nothing in them needs escaping.
            .copy_source(format!("{}/{from}", self.bucket))
            .set_copy_source_if_match(head.etag.clone())
            .key(to.as_ref())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Copy::Copied),
            Err(e) if matches!(e.code(), Some("PreconditionFailed" | "NoSuchKey")) => {
                Ok(Copy::SourceChanged)
            }
            Err(e) => Err(AwsError::classify("copying the verified original", e)),
        }
    }

    /// Writes a rendition under its content-addressed key, cacheable for ever by browsers and
    /// CDNs (`public, max-age=31536000, immutable`: what is under one key never changes). The
    /// bucket stays private; `public` lets a shared cache keep what a signed URL fetched.
    ///
    /// # Errors
    /// [`AwsError`] when the write fails.
    pub async fn put_rendition(
        &self,
        key: &ObjectKey,
        format: RenditionFormat,
        bytes: Vec<u8>,
    ) -> Result<(), AwsError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_ref())
            .content_type(format.mime())
            .cache_control(RENDITION_CACHE_CONTROL)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| AwsError::classify("writing a rendition", e))?;
        Ok(())
    }

    /// Deletes every object under `folder` (an image's `renditions/{imageId}/`): a few objects,
    /// listed a page of up to 1,000 at a time.
    ///
    /// # Errors
    /// [`AwsError`] when listing or a delete fails.
    pub async fn delete_folder(&self, folder: &str) -> Result<(), AwsError> {
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(folder)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| AwsError::classify("listing an image's renditions", e))?;
            let keys: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
            futures_util::future::try_join_all(keys.into_iter().map(|key| self.delete(key)))
                .await?;
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(()),
            }
        }
    }

    /// One page (up to 1,000) of the objects whose keys start with `prefix`, in key order, from
    /// `token` (the previous page's `next`).
    ///
    /// # Errors
    /// [`AwsError`] when the listing fails.
    pub async fn list(&self, prefix: &str, token: Option<String>) -> Result<ListedPage, AwsError> {
        let page = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| AwsError::classify("listing the bucket", e))?;
        let objects = page
            .contents()
            .iter()
            .filter_map(|object| {
                Some(Listed {
                    key: object.key()?.to_owned(),
                    last_modified: object
                        .last_modified()
                        .and_then(|t| OffsetDateTime::from_unix_timestamp(t.secs()).ok()),
                })
            })
            .collect();
        let next = match page.next_continuation_token() {
            Some(next) if page.is_truncated() == Some(true) => Some(next.to_owned()),
            _ => None,
        };
        Ok(ListedPage { objects, next })
    }

    /// An object to serve through the local CDN path, with the headers S3 stored for it; `None`
    /// when there is no such object.
    ///
    /// # Errors
    /// [`AwsError`] for any failure but the object's absence.
    pub async fn get_served(&self, key: &str) -> Result<Option<ServedObject>, AwsError> {
        self.fetch(key, None, "reading an object to serve").await
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
        let config = presigning(now, expiry, "configuring a download URL")?;
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

/// An object as the local CDN path serves it.
#[derive(Debug, Clone)]
pub struct ServedObject {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
}

/// What [`ImageObjects::copy_verified`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copy {
    /// The verified version now also stands at the destination.
    Copied,
    /// The source was deleted or replaced since it was read: nothing was copied.
    SourceChanged,
}

/// A presigned PUT, and what a client needs to use it.
#[derive(Debug, Clone)]
pub struct PresignedUpload {
    /// The URL to PUT the bytes to.
    pub url: String,
    /// The object's canonical URL (the upload URL without its signature). The bucket is private:
    /// this names the object, it does not grant access.
    pub file_url: String,
    /// The headers the client must send with exactly these values. `Content-Length`, when signed,
    /// is not listed: every HTTP client sets it from the body, and browsers refuse to set it by hand.
    pub headers: Vec<(String, String)>,
    pub expires_at: OffsetDateTime,
}

impl PresignedUpload {
    fn from_request(
        request: &aws_sdk_s3::presigning::PresignedRequest,
        expires_at: OffsetDateTime,
    ) -> Self {
        // The headers the signature covers (host aside) are the ones the client must send; take
        // them from the signer rather than restating them, so the two cannot drift apart.
        let headers = request
            .headers()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
            .map(|(name, value)| (header_case(name), value.to_owned()))
            .collect();
        let url = request.uri().to_owned();
        let file_url = url
            .split_once('?')
            .map_or(url.as_str(), |(base, _)| base)
            .to_owned();
        Self {
            url,
            file_url,
            headers,
            expires_at,
        }
    }
}

/// A part S3 holds for a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    pub number: u32,
    pub size: u64,
    /// As S3 gives it, quotes included.
    pub etag: String,
}

/// What [`ImageObjects::complete_multipart`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The object now exists, assembled from the parts; `location` is its URL.
    Completed { etag: String, location: String },
    /// S3 has no such upload: it was completed or aborted before.
    NoSuchUpload,
    /// The object already exists (`If-None-Match: *` failed), or another completion of the
    /// upload is under way: nothing was written.
    ObjectExists,
    /// A part is no longer the one listed (sent again since): nothing was written.
    PartsChanged,
}

/// A SigV4 presigning window of `expiry` from `now`.
fn presigning(
    now: OffsetDateTime,
    expiry: Duration,
    context: &'static str,
) -> Result<PresigningConfig, AwsError> {
    PresigningConfig::builder()
        .start_time(SystemTime::from(now))
        .expires_in(expiry)
        .build()
        .map_err(|e| AwsError::failed(context, e))
}

/// `content-type` -> `Content-Type`, as clients expect to see header names.
fn header_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::header_case;

    #[test]
    fn header_names_are_shown_in_their_usual_case() {
        assert_eq!(header_case("content-type"), "Content-Type");
        assert_eq!(
            header_case("x-amz-server-side-encryption"),
            "X-Amz-Server-Side-Encryption"
        );
    }
}
