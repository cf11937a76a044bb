//! `POST /upload`: admit the request, write the PENDING row, hand out a presigned PUT.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::AppState;
use super::error::ApiError;
use super::request::{Caller, JsonBody};
use crate::domain::{ImageId, ImageMetadata, NewUpload, UploadRequest};

/// The 200 body of `POST /upload`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadResponse {
    pub upload_url: String,
    pub file_url: String,
    pub image_id: String,
    /// The object's key in the bucket, `uploads/{imageId}.{ext}`.
    pub key: String,
    /// Always `PUT`.
    pub method: &'static str,
    /// The headers to send with the PUT, exactly as given.
    pub headers: BTreeMap<String, String>,
    /// When `upload_url` stops working (RFC 3339).
    pub expires_at: String,
}

/// Presigns an upload. The metadata row is written before the URL is returned, so every URL a
/// client holds has a row; if the write fails, no URL leaves the service.
///
/// # Errors
/// 4xx [`ApiError`]s for requests the policy refuses; 5xx when S3 presigning or DynamoDB fails.
pub async fn create_upload(
    State(state): State<AppState>,
    Caller(owner): Caller,
    JsonBody(request): JsonBody<UploadRequest>,
) -> Result<Json<UploadResponse>, ApiError> {
    let upload = NewUpload::parse(&request, &state.policy)?;
    let image_id = ImageId::new_random();
    tracing::Span::current().record("image_id", tracing::field::display(image_id));
    let now = OffsetDateTime::now_utc();
    // SigV4 dates have whole seconds; signing from one makes `expiresAt` exact. `createdAt` keeps
    // its milliseconds: the gallery sorts by it.
    let signed_at = now.replace_nanosecond(0).expect("0 ns is always valid");
    let record = ImageMetadata::pending(
        image_id,
        upload,
        state.objects.bucket(),
        owner,
        now,
        &state.policy,
    );
    let presigned = state
        .objects
        .presign_upload(
            &record.object_key,
            record.image_type,
            record.declared_size,
            signed_at,
            state.policy.url_expiry,
        )
        .await?;
    state.table.insert(&record).await?;
    state.metrics.upload_url_issued(image_id);
    tracing::info!(object_key = %record.object_key, owner = record.owner.as_ref(), "upload URL issued");
    Ok(Json(UploadResponse {
        upload_url: presigned.url,
        file_url: presigned.file_url,
        image_id: image_id.to_string(),
        key: record.object_key.as_ref().to_owned(),
        method: "PUT",
        headers: presigned.headers.into_iter().collect(),
        expires_at: presigned
            .expires_at
            .format(&Rfc3339)
            .expect("a current time formats as RFC 3339"),
    }))
}
