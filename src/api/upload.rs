//! `POST /upload`: admit the request, write the PENDING row, hand out a presigned PUT.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::AppState;
use super::error::ApiError;
use super::request::{Caller, JsonBody};
use crate::aws::Admission;
use crate::config::PENDING_TTL_MARGIN;
use crate::domain::{Counted, ImageId, ImageMetadata, InFlight, NewUpload, Owner, UploadRequest};
use crate::telemetry::cause_chain;

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
    let mut record = ImageMetadata::pending(
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
    // The slot lapses once no PUT can still arrive and be settled: the URL's life and the margin
    // a PENDING row has for the processor.
    let until = signed_at + state.policy.url_expiry + PENDING_TTL_MARGIN;
    let slot = count_upload(&state, &mut record, until, now).await?;
    if let Err(error) = state.table.insert(&record).await {
        give_back(&state, &record.owner, &slot).await;
        return Err(error.into());
    }
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

/// Counts a new upload in its owner's usage, its slot lapsing at `until`, and records the count
/// on its row; refused when a limit would be broken.
///
/// # Errors
/// [`ApiError::Quota`] for a limit; 5xx when DynamoDB fails.
pub(super) async fn count_upload(
    state: &AppState,
    record: &mut ImageMetadata,
    until: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<InFlight, ApiError> {
    // Without a declared size the URL takes up to the largest upload: that is what it holds.
    let bytes = record
        .declared_size
        .map_or(state.policy.max_bytes, |size| size.bytes());
    let slot = InFlight::new(record.image_id, bytes, until);
    let admission = match state
        .table
        .charge(&record.owner, &slot, &state.quota, now)
        .await
    {
        Ok(admission) => admission,
        Err(error) => {
            // A write that timed out may have landed: the slot is given back if it is there. In
            // the background, so that the answer is not held up by a second wait on a DynamoDB
            // that is failing; if that fails too, the slot lapses at its time.
            let (state, owner, slot) = (state.clone(), record.owner.clone(), slot.clone());
            tokio::spawn(async move { give_back(&state, &owner, &slot).await });
            return Err(error.into());
        }
    };
    match admission {
        Admission::Admitted => {
            record.counted = Some(Counted::InFlight(slot.clone()));
            Ok(slot)
        }
        Admission::Refused(refusal) => {
            let refused = ApiError::Quota(refusal);
            state
                .metrics
                .upload_refused_by_limit(record.image_id, refused.code());
            tracing::info!(
                code = refused.code(),
                owner = record.owner.as_ref(),
                "upload refused by a per-user limit"
            );
            Err(refused)
        }
    }
}

/// Gives back the count of an upload whose row was not written. If that fails too, the slot
/// lapses at its time and the owner's next upload gives it back.
pub(super) async fn give_back(state: &AppState, owner: &Owner, slot: &InFlight) {
    if let Err(error) = state.table.release_slot(owner, slot).await {
        tracing::warn!(error = %error, cause = %cause_chain(&error), "an unwritten upload's count was not given back; it lapses at its time");
    }
}
