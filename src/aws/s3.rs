use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;
use time::OffsetDateTime;

use super::AwsError;
use crate::domain::{ImageType, ObjectKey, UploadSize};

/// Presigns uploads into one private bucket.
#[derive(Clone, Debug)]
pub struct UploadUrls {
    client: aws_sdk_s3::Client,
    bucket: String,
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

impl UploadUrls {
    /// Presigns uploads into `bucket`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// The bucket uploads go to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Signs a PUT of `key` with its `Content-Type` (and `Content-Length` when the size was declared),
    /// valid for `expiry` from `now`. No I/O beyond resolving cached credentials.
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
            .set_content_length(size.map(|s| s.bytes() as i64))
            .presigned(config)
            .await
            .map_err(|e| AwsError::classify("presigning the upload URL", e))?;
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
        Ok(PresignedUpload {
            url,
            file_url,
            headers,
            expires_at: now + expiry,
        })
    }
}

/// A SigV4 presigning window of `expiry` from `now`.
pub(super) fn presigning(
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
