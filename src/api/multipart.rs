//! Multipart uploads: the API starts one, signs each part's PUT to its exact length, lists the
//! parts S3 holds, and completes it once the parts add up to the declared size. Abort is
//! `DELETE /images/{imageId}`.
//!
//! Each route answers JSON, or the document S3 itself would answer when the request accepts
//! `application/xml`, so that S3 clients such as Uppy can be pointed at them (`docs/uppy/`).

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::AppState;
use super::error::ApiError;
use super::request::{Caller, JsonBody};
use super::s3_xml;
use super::upload::{count_upload, give_back};
use crate::aws::{Completion, UploadedPart};
use crate::config::PENDING_TTL_MARGIN;
use crate::domain::{
    ImageId, ImageMetadata, MultipartRequest, MultipartUpload, NewMultipartUpload, Owner, StateName,
};

/// A multipart upload as the API describes it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MultipartView {
    pub image_id: String,
    pub upload_id: String,
    /// The object's key in the bucket.
    pub key: String,
    pub bucket: String,
    pub file_size: u64,
    /// The length of every part but the last, which holds the rest.
    pub part_size: u64,
    pub part_count: u32,
    /// The parts S3 holds (only in `GET /upload/multipart/{imageId}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<PartView>>,
}

/// A part S3 holds.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartView {
    pub part_number: u32,
    pub size: u64,
    pub etag: String,
}

/// The 200 body of `POST /upload/multipart/{imageId}/parts/{partNumber}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartUrl {
    pub part_number: u32,
    pub upload_url: String,
    /// Always `PUT`.
    pub method: &'static str,
    /// The exact length the body must have: signed into the URL.
    pub size: u64,
    /// The headers to send with the PUT, exactly as given.
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: String,
}

/// The 200 body of `POST /upload/multipart/{imageId}/complete`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Completed {
    pub image_id: String,
    pub key: String,
    pub bucket: String,
    pub etag: String,
    /// `PENDING`: the processor verifies the object as it does any upload.
    pub status: &'static str,
}

/// What a client may state about the upload it means; refused when it is not the row's.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadQuery {
    upload_id: Option<String>,
    key: Option<String>,
}

/// `POST /upload/multipart`: starts the S3 upload, then writes the PENDING row that records it.
/// If the write fails, the upload is aborted (and the bucket's lifecycle rule aborts it if that
/// fails too), so no upload a client can reach lacks its row.
///
/// # Errors
/// 4xx for requests the policy refuses; 5xx when S3 or DynamoDB fails.
pub async fn create(
    State(state): State<AppState>,
    Caller(owner): Caller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<MultipartRequest>,
) -> Result<Response, ApiError> {
    let NewMultipartUpload { upload, parts } = NewMultipartUpload::parse(&request, &state.policy)?;
    let image_id = ImageId::new_random();
    tracing::Span::current().record("image_id", tracing::field::display(image_id));
    let now = OffsetDateTime::now_utc();
    let mut record = ImageMetadata::pending(
        image_id,
        upload,
        state.objects.bucket(),
        owner,
        now,
        &state.policy,
    );
    // Parts may be signed until the row's expiry (less a margin): the slot lasts as long.
    let until = record
        .pending_expiry
        .unwrap_or(record.created_at + state.policy.pending_ttl);
    let slot = count_upload(&state, &mut record, until, now).await?;
    let upload_id = match state
        .objects
        .create_multipart(&record.object_key, record.image_type)
        .await
    {
        Ok(upload_id) => upload_id,
        Err(error) => {
            give_back(&state, &record.owner, &slot).await;
            return Err(error.into());
        }
    };
    let multipart = MultipartUpload { upload_id, parts };
    record.multipart = Some(multipart.clone());
    if let Err(error) = state.table.insert(&record).await {
        if let Err(abort) = state
            .objects
            .abort_multipart(&record.object_key, &multipart.upload_id)
            .await
        {
            tracing::warn!(error = %abort, "the upload of an unwritten row was not aborted; the lifecycle rule will");
        }
        give_back(&state, &record.owner, &slot).await;
        return Err(error.into());
    }
    state.metrics.upload_url_issued(image_id);
    tracing::info!(object_key = %record.object_key, owner = record.owner.as_ref(), parts = parts.count(), "multipart upload started");
    Ok(describe(&record, &multipart, &headers))
}

/// `POST /upload/multipart/{imageId}`: the upload, as `create` answered it. S3's
/// CreateMultipartUpload in XML for S3 clients, which the API already did.
///
/// # Errors
/// 404 when the caller has no such upload; 409 when the image is no longer PENDING.
pub async fn describe_upload(
    State(state): State<AppState>,
    Caller(owner): Caller,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<UploadQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (row, multipart) =
        pending_upload(&state, &owner, path.ok().map(|Path(id)| id), query).await?;
    Ok(describe(&row, &multipart, &headers))
}

/// `GET /upload/multipart/{imageId}`: the upload and the parts S3 holds (S3's ListParts in XML),
/// so a client can resume after the last acknowledged part.
///
/// # Errors
/// 404 when the caller has no such upload; 409 when it was completed or aborted.
pub async fn list_parts(
    State(state): State<AppState>,
    Caller(owner): Caller,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<UploadQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (row, multipart) =
        pending_upload(&state, &owner, path.ok().map(|Path(id)| id), query).await?;
    let parts = state
        .objects
        .list_parts(&row.object_key, &multipart.upload_id)
        .await?
        .ok_or(ApiError::UploadNotActive)?;
    if wants_xml(&headers) {
        return Ok(xml(s3_xml::list_parts_result(
            state.objects.bucket(),
            row.object_key.as_ref(),
            &multipart.upload_id,
            &parts,
        )));
    }
    let mut view = view(&row, &multipart);
    view.parts = Some(
        parts
            .into_iter()
            .map(|part| PartView {
                part_number: part.number,
                size: part.size,
                etag: part.etag,
            })
            .collect(),
    );
    Ok(json(view))
}

/// `POST /upload/multipart/{imageId}/parts/{partNumber}`: a URL that PUTs exactly that part's
/// length, as the declared size cuts it. No part beyond the last is signed.
///
/// # Errors
/// 400 for a part number the upload does not have; 404 when the caller has no such upload; 409
/// when the image is no longer PENDING; 5xx when presigning fails.
pub async fn sign_part(
    State(state): State<AppState>,
    Caller(owner): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<UploadQuery>, QueryRejection>,
) -> Result<Json<PartUrl>, ApiError> {
    let (raw_id, raw_number) = path.ok().map(|Path(pair)| pair).unzip();
    let (row, multipart) = pending_upload(&state, &owner, raw_id, query).await?;
    let count = multipart.parts.count();
    let (number, len) = raw_number
        .and_then(|raw| raw.parse::<u32>().ok())
        .and_then(|n| Some((n, multipart.parts.part_len(n)?)))
        .ok_or(ApiError::InvalidPartNumber { count })?;
    let now = OffsetDateTime::now_utc();
    let signed_at = now.replace_nanosecond(0).expect("0 ns is always valid");
    let presigned = state
        .objects
        .presign_part(
            &row.object_key,
            &multipart.upload_id,
            number,
            len,
            signed_at,
            state.policy.url_expiry,
        )
        .await?;
    Ok(Json(PartUrl {
        part_number: number,
        upload_url: presigned.url,
        method: "PUT",
        size: len,
        headers: presigned.headers.into_iter().collect(),
        expires_at: presigned
            .expires_at
            .format(&Rfc3339)
            .expect("a current time formats as RFC 3339"),
    }))
}

/// `POST /upload/multipart/{imageId}/complete`: completes the upload from the parts S3 holds,
/// once they are exactly the parts the declared size cuts (each number once, each its length);
/// the body a client may send (S3's part list) is not needed and not read. S3 completes it once
/// (`If-None-Match: *`), and checks the total size too.
///
/// # Errors
/// 404 when the caller has no such upload; 409 when parts are missing or of the wrong length,
/// or the upload was completed or aborted before; 5xx when S3 or DynamoDB fails.
pub async fn complete(
    State(state): State<AppState>,
    Caller(owner): Caller,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<UploadQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (row, multipart) =
        pending_upload(&state, &owner, path.ok().map(|Path(id)| id), query).await?;
    let parts = state
        .objects
        .list_parts(&row.object_key, &multipart.upload_id)
        .await?
        .ok_or(ApiError::UploadNotActive)?;
    check_parts(&multipart, &parts)?;
    let (etag, location) = match state
        .objects
        .complete_multipart(&row.object_key, &multipart.upload_id, &parts)
        .await?
    {
        Completion::Completed { etag, location } => (etag, location),
        Completion::NoSuchUpload | Completion::ObjectExists => {
            return Err(ApiError::UploadNotActive);
        }
        Completion::PartsChanged => {
            return Err(ApiError::UploadIncomplete(
                "a part was sent again while the upload was being completed; complete it again"
                    .into(),
            ));
        }
    };
    tracing::info!(object_key = %row.object_key, parts = parts.len(), "multipart upload completed");
    if wants_xml(&headers) {
        return Ok(xml(s3_xml::complete_result(
            &location,
            state.objects.bucket(),
            row.object_key.as_ref(),
            &etag,
        )));
    }
    Ok(json(Completed {
        image_id: row.image_id.to_string(),
        key: row.object_key.as_ref().to_owned(),
        bucket: row.bucket.clone(),
        etag,
        status: StateName::Pending.as_str(),
    }))
}

/// Refuses a completion unless S3 holds exactly the parts the plan cuts.
fn check_parts(multipart: &MultipartUpload, parts: &[UploadedPart]) -> Result<(), ApiError> {
    let plan = multipart.parts;
    let count = plan.count();
    // `parts` are in part-number order, each number once (S3 keeps one part per number).
    let held = |n: u32| parts.binary_search_by_key(&n, |part| part.number).is_ok();
    if let Some(first) = (1..=count).find(|&n| !held(n)) {
        let missing = (1..=count).filter(|&n| !held(n)).count();
        return Err(ApiError::UploadIncomplete(format!(
            "{missing} of {count} parts are missing, the first is part {first}"
        )));
    }
    if let Some(part) = parts
        .iter()
        .find(|part| plan.part_len(part.number) != Some(part.size))
    {
        return Err(ApiError::UploadIncomplete(format!(
            "part {} is {} bytes, not the {} the declared size gives it",
            part.number,
            part.size,
            plan.part_len(part.number).unwrap_or(0)
        )));
    }
    Ok(())
}

/// The caller's PENDING row named by `raw_id` (the path's id; `None` when the path did not
/// parse), and its multipart upload, which the query's `uploadId` and `key` must name when
/// given. Someone else's upload looks like a missing one.
async fn pending_upload(
    state: &AppState,
    owner: &Owner,
    raw_id: Option<String>,
    query: Result<Query<UploadQuery>, QueryRejection>,
) -> Result<(ImageMetadata, MultipartUpload), ApiError> {
    let Query(query) = query.map_err(|e| ApiError::InvalidQuery(e.body_text()))?;
    let id = raw_id
        .and_then(|raw| ImageId::parse(&raw))
        .ok_or(ApiError::UploadNotFound)?;
    tracing::Span::current().record("image_id", tracing::field::display(id));
    let (row, multipart) = state
        .table
        .get(id)
        .await?
        .filter(|row| &row.owner == owner)
        .and_then(|row| Some((row.multipart.clone()?, row)))
        .filter(|(multipart, row)| {
            query
                .upload_id
                .as_ref()
                .is_none_or(|u| u == &multipart.upload_id)
                && query
                    .key
                    .as_ref()
                    .is_none_or(|k| k == row.object_key.as_ref())
        })
        .map(|(multipart, row)| (row, multipart))
        .ok_or(ApiError::UploadNotFound)?;
    if row.status() != StateName::Pending {
        return Err(ApiError::UploadNotActive);
    }
    // The row must outlive every part URL by the margin a single PUT's URL has, and the
    // processor must find it after the completion: past that, the upload is over.
    let deadline = row
        .pending_expiry
        .map(|expiry| expiry - state.policy.url_expiry - PENDING_TTL_MARGIN);
    if deadline.is_some_and(|deadline| OffsetDateTime::now_utc() >= deadline) {
        return Err(ApiError::UploadNotActive);
    }
    Ok((row, multipart))
}

fn view(row: &ImageMetadata, multipart: &MultipartUpload) -> MultipartView {
    MultipartView {
        image_id: row.image_id.to_string(),
        upload_id: multipart.upload_id.clone(),
        key: row.object_key.as_ref().to_owned(),
        bucket: row.bucket.clone(),
        file_size: multipart.parts.size().bytes(),
        part_size: multipart.parts.part_size(),
        part_count: multipart.parts.count(),
        parts: None,
    }
}

/// The upload as JSON, or as S3's `InitiateMultipartUploadResult`.
fn describe(row: &ImageMetadata, multipart: &MultipartUpload, headers: &HeaderMap) -> Response {
    if wants_xml(headers) {
        return xml(s3_xml::initiate_result(
            &row.bucket,
            row.object_key.as_ref(),
            &multipart.upload_id,
        ));
    }
    json(view(row, multipart))
}

/// Whether the request accepts `application/xml` (and so speaks S3's protocol).
fn wants_xml(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let xml = parts
                .next()
                .is_some_and(|mime| mime.eq_ignore_ascii_case("application/xml"));
            // `q=0` means "not acceptable".
            let refused = parts.any(|param| {
                param
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            xml && !refused
        })
}

fn xml(document: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/xml"),
            (header::VARY, "Accept"),
        ],
        document,
    )
        .into_response()
}

/// JSON from a route that also answers XML: caches must tell the two apart.
fn json<T: Serialize>(body: T) -> Response {
    ([(header::VARY, "Accept")], Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;
    use crate::domain::{PartPlan, UploadSize};

    const MIB: u64 = 1024 * 1024;

    fn upload(size: u64) -> MultipartUpload {
        MultipartUpload {
            upload_id: "u".into(),
            parts: PartPlan::new(UploadSize::within(size, u64::MAX).unwrap(), 5 * MIB).unwrap(),
        }
    }

    fn part(number: u32, size: u64) -> UploadedPart {
        UploadedPart {
            number,
            size,
            etag: format!("\"{number}\""),
        }
    }

    #[test]
    fn completion_needs_exactly_the_planned_parts() {
        let multipart = upload(12 * MIB);
        let all = [part(1, 5 * MIB), part(2, 5 * MIB), part(3, 2 * MIB)];
        assert!(check_parts(&multipart, &all).is_ok());
        let refused = |parts: &[UploadedPart]| {
            matches!(
                check_parts(&multipart, parts),
                Err(ApiError::UploadIncomplete(_))
            )
        };
        assert!(refused(&all[..2]), "a missing last part");
        assert!(refused(&[part(1, 5 * MIB), part(3, 2 * MIB)]), "a gap");
        assert!(
            refused(&[part(1, 5 * MIB), part(2, 5 * MIB), part(3, 2 * MIB + 1)]),
            "a last part one byte long"
        );
        assert!(
            refused(&[part(1, 5 * MIB), part(2, 5 * MIB - 1), part(3, 2 * MIB)]),
            "a short middle part"
        );
        assert!(
            refused(&[
                part(1, 5 * MIB),
                part(2, 5 * MIB),
                part(3, 2 * MIB),
                part(4, 1)
            ]),
            "a part beyond the plan"
        );
    }

    #[test]
    fn xml_is_answered_only_when_accepted() {
        let with = |accept: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
            wants_xml(&headers)
        };
        assert!(!wants_xml(&HeaderMap::new()));
        assert!(!with("*/*"));
        assert!(!with("application/json"));
        assert!(with("application/xml"));
        assert!(with("text/html, Application/XML;q=0.9"));
        assert!(!with("application/xml-dtd"));
        assert!(!with("application/xml;q=0, application/json"));
        assert!(with("application/xml; q=0.5"));
    }
}
