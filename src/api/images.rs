//! `GET /images`, `GET /images/{imageId}`, `DELETE /images/{imageId}`: the caller's own images.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::AppState;
use super::error::ApiError;
use super::request::Caller;
use crate::aws::{AwsError, PageKey, Transition, format_time, parse_stored_time};
use crate::delivery::Cdn;
use crate::domain::{ImageId, ImageMetadata, ImageState, ObjectKey, Owner, ReadyImage, StateName};

/// The page size when `limit` is not given, and the largest allowed.
pub const DEFAULT_LIMIT: u16 = 20;
pub const MAX_LIMIT: u16 = 100;

/// One image as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageView {
    pub image_id: String,
    pub file_name: String,
    pub file_type: &'static str,
    /// `PENDING`, `READY` or `REJECTED`.
    pub status: &'static str,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processed_at: Option<String>,
    /// Why a REJECTED upload was refused (`TOO_LARGE`, `SIZE_MISMATCH`, `TYPE_MISMATCH`,
    /// `UNDECODABLE`, `TOO_MANY_PIXELS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<&'static str>,
    /// READY only: a GET URL of the thumbnail (the CDN's, signed, when one is configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// READY only: a GET URL of the verified original (the CDN's, signed, when one is
    /// configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// READY only: when the URLs stop working (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urls_expire_at: Option<String>,
    /// READY only: every rendition, largest first (empty for an image made before renditions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renditions: Option<Vec<RenditionView>>,
}

/// One rendition of a READY image as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenditionView {
    pub name: String,
    /// The MIME type (`image/jpeg`).
    pub format: &'static str,
    pub width: u32,
    pub height: u32,
    pub size_bytes: u64,
    /// A GET URL valid until `urlsExpireAt`.
    pub url: String,
}

/// The body of `GET /images`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageList {
    pub images: Vec<ImageView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The query of `GET /images`, as sent; parsed by [`list_images`] for its own error messages.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

/// The caller's images, newest first, a page at a time.
///
/// # Errors
/// 400 for a bad `limit` or `cursor`; 5xx when DynamoDB or presigning fails.
pub async fn list_images(
    State(state): State<AppState>,
    Caller(owner): Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ImageList>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::InvalidQuery(e.body_text()))?;
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::InvalidQuery(format!(
                    "limit must be a whole number from 1 to {MAX_LIMIT}"
                ))
            })?,
    };
    let start = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let page = state
        .table
        .list_by_owner(&owner, limit, start.as_ref())
        .await?;
    let now = now_whole_seconds();
    let mut images = Vec::with_capacity(page.images.len());
    for image in &page.images {
        images.push(view(&state, image, now).await?);
    }
    Ok(Json(ImageList {
        images,
        next_cursor: page.next.as_ref().map(encode_cursor),
    }))
}

/// One of the caller's images.
///
/// # Errors
/// 404 when there is no such image or it is someone else's; 5xx when DynamoDB or presigning fails.
pub async fn get_image(
    State(state): State<AppState>,
    Caller(owner): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ImageView>, ApiError> {
    let Ok(Path(raw_id)) = path else {
        return Err(ApiError::ImageNotFound);
    };
    let image = owned_image(&state, &owner, &raw_id)
        .await?
        .ok_or(ApiError::ImageNotFound)?;
    Ok(Json(view(&state, &image, now_whole_seconds()).await?))
}

/// Deletes one of the caller's images: every object it can have (the upload, the verified
/// original, every rendition), then the row. Deleting an image that is already gone succeeds, so a
/// retried DELETE is safe.
///
/// The row is deleted only if its status is still the one read before the objects were removed.
/// If the processor settled it in between (and so may have written the original and thumbnail
/// after they were removed), the objects are removed again and the row deleted in its new status.
/// A row settles once, so this repeats at most once; and a processor that finds the row gone when
/// it settles removes what it wrote. No interleaving leaves an object without a row.
///
/// Someone else's image answers 204 like a missing one (and nothing of it is deleted), so ids
/// cannot be probed.
///
/// # Errors
/// 404 for a malformed id; 5xx when S3 or DynamoDB fails (the row is only deleted after every
/// object, so a retry finishes the job).
pub async fn delete_image(
    State(state): State<AppState>,
    Caller(owner): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    // A path that is not even an id (bad percent-encoding included) names nothing anyone owns.
    let Some(id) = path.ok().and_then(|Path(raw)| ImageId::parse(&raw)) else {
        return Err(ApiError::ImageNotFound);
    };
    tracing::Span::current().record("image_id", tracing::field::display(id));
    // A row changes under a delete when the processor settles it (PENDING -> READY or REJECTED)
    // or reprocesses it (a READY row's renditions): each round removes what the row then allows,
    // and deletes it only if it is still as read.
    for _ in 0..DELETE_ROUNDS {
        let Some(image) = state.table.get(id).await? else {
            return Ok(StatusCode::NO_CONTENT);
        };
        if image.owner != owner {
            // Exactly what a missing image answers, after the same one read: that an id is
            // someone else's cannot be told from outside.
            tracing::info!("not the caller's image; nothing deleted");
            return Ok(StatusCode::NO_CONTENT);
        }
        let keys = image.object_keys();
        // A multipart upload still open is aborted (its parts go) before the objects are
        // deleted, so no completion can land after them; a finished one is gone already.
        if let Some(multipart) = image.multipart.as_ref()
            && image.status() == StateName::Pending
        {
            state
                .objects
                .abort_multipart(&image.object_key, &multipart.upload_id)
                .await?;
        }
        futures_util::try_join!(
            state.objects.delete(keys.upload.as_ref()),
            state.objects.delete(keys.original.as_ref()),
            state.objects.delete(keys.legacy_thumbnail.as_ref()),
            state.objects.delete_folder(&keys.renditions_folder),
        )?;
        match state.table.delete(&image).await? {
            Transition::Applied => {
                tracing::info!("image deleted");
                return Ok(StatusCode::NO_CONTENT);
            }
            Transition::Changed => {
                tracing::info!(
                    "the image was settled or reprocessed while it was deleted; deleting again"
                );
            }
        }
    }
    Err(ApiError::Aws(AwsError::failed(
        "deleting image metadata",
        "the row changed on every round of one delete",
    )))
}

/// How many times a delete reads the row, removes its objects and tries to delete it, while the
/// processor keeps changing it.
const DELETE_ROUNDS: usize = 4;

/// The image with this id if `owner` owns it. Someone else's image and a malformed id look the
/// same as a missing one, so ids cannot be probed.
async fn owned_image(
    state: &AppState,
    owner: &Owner,
    raw_id: &str,
) -> Result<Option<ImageMetadata>, ApiError> {
    let Some(id) = ImageId::parse(raw_id) else {
        return Ok(None);
    };
    tracing::Span::current().record("image_id", tracing::field::display(id));
    Ok(state.table.get(id).await?.filter(|i| &i.owner == owner))
}

async fn view(
    state: &AppState,
    image: &ImageMetadata,
    now: OffsetDateTime,
) -> Result<ImageView, ApiError> {
    let mut view = ImageView {
        image_id: image.image_id.to_string(),
        file_name: image.file_name.as_ref().to_owned(),
        file_type: image.image_type.mime(),
        status: image.status().as_str(),
        created_at: format_time(image.created_at),
        file_size: image.declared_size.map(|s| s.bytes()),
        width: None,
        height: None,
        size_bytes: None,
        processed_at: None,
        rejection_reason: None,
        thumbnail_url: None,
        url: None,
        urls_expire_at: None,
        renditions: None,
    };
    match &image.state {
        ImageState::Pending => {}
        ImageState::Ready(ready) => {
            let urls = match &state.cdn {
                Some(cdn) => cdn_urls(state, cdn, image.image_id, ready, now).await?,
                None => presigned_urls(state, ready, now).await?,
            };
            view.width = Some(ready.width);
            view.height = Some(ready.height);
            view.size_bytes = Some(ready.size_bytes);
            view.processed_at = Some(format_time(ready.processed_at));
            view.thumbnail_url = Some(urls.thumbnail);
            view.url = Some(urls.original);
            view.urls_expire_at = urls.expire_at.format(&Rfc3339).ok();
            view.renditions = Some(
                ready
                    .renditions
                    .iter()
                    .zip(urls.renditions)
                    .map(|(r, url)| RenditionView {
                        name: r.name.to_string(),
                        format: r.format.mime(),
                        width: r.width,
                        height: r.height,
                        size_bytes: r.bytes,
                        url,
                    })
                    .collect(),
            );
        }
        ImageState::Rejected(rejection) => {
            view.processed_at = Some(format_time(rejection.processed_at));
            view.rejection_reason = Some(rejection.reason.code());
        }
    }
    Ok(view)
}

/// A READY image's URLs, and when the first of them stops working.
struct ImageUrls {
    thumbnail: String,
    original: String,
    /// One per rendition, in the row's order.
    renditions: Vec<String>,
    expire_at: OffsetDateTime,
}

/// Presigned S3 GETs, valid for `VIEW_URL_EXPIRY_SECONDS` from `now`.
async fn presigned_urls(
    state: &AppState,
    ready: &ReadyImage,
    now: OffsetDateTime,
) -> Result<ImageUrls, ApiError> {
    let expiry = state.view_url_expiry;
    let (thumbnail, original, renditions) = futures_util::try_join!(
        state.objects.presign_get(&ready.thumbnail_key, now, expiry),
        state.objects.presign_get(&ready.original_key, now, expiry),
        futures_util::future::try_join_all(
            ready
                .renditions
                .iter()
                .map(|r| state.objects.presign_get(&r.key, now, expiry))
        ),
    )?;
    Ok(ImageUrls {
        thumbnail,
        original,
        renditions,
        expire_at: now + expiry,
    })
}

/// The CDN's signed URLs, one signature for the image's objects, the same for every request in
/// the CDN's window. A thumbnail made before renditions (`thumbnails/`, which the CDN does not
/// serve) gets a presigned S3 GET, and the answer the earlier expiry of the two.
async fn cdn_urls(
    state: &AppState,
    cdn: &Cdn,
    id: ImageId,
    ready: &ReadyImage,
    now: OffsetDateTime,
) -> Result<ImageUrls, ApiError> {
    let signer = cdn.signer().await.map_err(ApiError::CdnUnavailable)?;
    let signed = signer.sign_image(id, now);
    let mut expire_at = signed.expires_at;
    let thumbnail = if ready
        .thumbnail_key
        .as_ref()
        .starts_with(ObjectKey::RENDITIONS_PREFIX)
    {
        signer.url(&ready.thumbnail_key, &signed)
    } else {
        expire_at = expire_at.min(now + state.view_url_expiry);
        state
            .objects
            .presign_get(&ready.thumbnail_key, now, state.view_url_expiry)
            .await?
    };
    Ok(ImageUrls {
        thumbnail,
        original: signer.url(&ready.original_key, &signed),
        renditions: ready
            .renditions
            .iter()
            .map(|r| signer.url(&r.key, &signed))
            .collect(),
        expire_at,
    })
}

/// SigV4 dates have whole seconds; starting on one makes `urlsExpireAt` exact.
fn now_whole_seconds() -> OffsetDateTime {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 ns is always valid")
}

/// The cursor is opaque to clients: base64url of `createdAt|imageId` of the page's last image.
/// It names a position only; the query is always limited to the caller's own images.
fn encode_cursor(key: &PageKey) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", format_time(key.created_at), key.image_id))
}

fn decode_cursor(raw: &str) -> Result<PageKey, ApiError> {
    let invalid = || ApiError::InvalidQuery("cursor is not one this API returned".into());
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
    let (created_at, image_id) = text.split_once('|').ok_or_else(invalid)?;
    Ok(PageKey {
        // Only the exact form `encode_cursor` writes: an RFC 3339 time with an offset could name
        // a UTC time beyond what can be stored (and formatting it again would fail).
        created_at: parse_stored_time(created_at).ok_or_else(invalid)?,
        image_id: ImageId::parse(image_id).ok_or_else(invalid)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_cursor_round_trips() {
        let key = PageKey {
            created_at: datetime!(2026-11-24 10:00:00.120 UTC),
            image_id: ImageId::new_random(),
        };
        assert_eq!(decode_cursor(&encode_cursor(&key)).unwrap(), key);
    }

    #[test]
    fn a_forged_cursor_is_refused() {
        let id = ImageId::new_random();
        for text in [
            "not base64 !".to_owned(),
            URL_SAFE_NO_PAD.encode("no separator"),
            URL_SAFE_NO_PAD.encode(format!("yesterday|{id}")),
            URL_SAFE_NO_PAD.encode("2026-11-24T10:00:00.000Z|not-an-id"),
            // Valid RFC 3339, but past year 9999 in UTC: used to panic when formatted again.
            URL_SAFE_NO_PAD.encode(format!("9999-12-31T23:59:59.999-23:59|{id}")),
            URL_SAFE_NO_PAD.encode(format!("2026-11-24T10:00:00.000+01:00|{id}")),
            URL_SAFE_NO_PAD.encode(format!("2026-11-24T10:00:00Z|{id}")),
        ] {
            assert!(
                matches!(decode_cursor(&text), Err(ApiError::InvalidQuery(_))),
                "{text}"
            );
        }
    }
}
