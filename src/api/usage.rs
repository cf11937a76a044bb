//! `GET /usage`: where the caller stands against the per-user limits.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use time::OffsetDateTime;

use super::AppState;
use super::error::ApiError;
use super::request::Caller;

/// The 200 body of `GET /usage`: what the caller holds and has in flight now, and the limits.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageView {
    /// Images held: `READY` ones and uploads in flight.
    pub images: u64,
    /// Bytes held: each `READY` image's size, each upload in flight's declared size.
    pub bytes: u64,
    pub uploads_in_flight: u32,
    /// Uploads started in the current UTC hour.
    pub uploads_this_hour: u32,
    pub limits: UsageLimits,
}

/// The per-user limits of the deployment.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageLimits {
    pub max_images: u64,
    pub max_bytes: u64,
    pub max_uploads_in_flight: u32,
    pub max_uploads_per_hour: u32,
}

/// The caller's usage as it stands (uploads whose slot has lapsed no longer count).
///
/// # Errors
/// 5xx when DynamoDB fails.
pub async fn get_usage(
    State(state): State<AppState>,
    Caller(owner): Caller,
) -> Result<Json<UsageView>, ApiError> {
    let now = state
        .table
        .usage(&owner)
        .await?
        .at(OffsetDateTime::now_utc());
    Ok(Json(UsageView {
        images: now.images,
        bytes: now.bytes,
        uploads_in_flight: now.in_flight,
        uploads_this_hour: now.started_this_hour,
        limits: UsageLimits {
            max_images: state.quota.max_images,
            max_bytes: state.quota.max_bytes,
            max_uploads_in_flight: state.quota.max_in_flight,
            max_uploads_per_hour: state.quota.max_per_hour,
        },
    }))
}
