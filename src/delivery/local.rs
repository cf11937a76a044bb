//! The local CDN path (`just dev`): `{CDN_URL's path}/{key}` serves renditions and originals from
//! the local S3 to a URL the real distribution would serve, and refuses the others with 403 as
//! CloudFront does: no signature, an expired one, another key's, a policy for another image, or a
//! prefix the distribution does not serve (`uploads/` above all).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::OnceLock;
use time::OffsetDateTime;

use super::{Cdn, SignedUrlChecker};
use crate::aws::ImageObjects;
use crate::domain::ObjectKey;

/// The prefixes the distribution serves, and so the only ones the local path does.
pub const SERVED_PREFIXES: [&str; 2] = [ObjectKey::RENDITIONS_PREFIX, ObjectKey::ORIGINALS_PREFIX];

#[derive(Clone)]
struct LocalCdn {
    objects: ImageObjects,
    cdn: Arc<Cdn>,
    /// Trusts the public half of the signer's key, made at the first request.
    checker: Arc<OnceLock<SignedUrlChecker>>,
}

/// The local CDN path for `cdn`, backed by `objects`: a router that answers `GET
/// {path of CDN_URL}/{key}` only.
pub fn local_cdn(objects: ImageObjects, cdn: Arc<Cdn>) -> Router {
    let path = cdn
        .origin()
        .as_str()
        .splitn(4, '/')
        .nth(3)
        .map(|p| format!("/{p}"))
        .unwrap_or_default();
    let state = LocalCdn {
        objects,
        cdn,
        checker: Arc::new(OnceLock::new()),
    };
    Router::new()
        .route(&format!("{path}/{{*key}}"), get(serve_object))
        .with_state(state)
}

async fn serve_object(
    State(state): State<LocalCdn>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if !SERVED_PREFIXES.iter().any(|p| key.starts_with(p)) || key.contains("..") {
        return denied("the distribution serves renditions/ and originals/ only");
    }
    // The signer's key (read once, at the first signing or here), trusted under its id.
    let checker = match state.cdn.signer().await {
        Ok(signer) => state.checker.get_or_init(|| {
            SignedUrlChecker::default().trusting(state.cdn.key_pair_id(), signer.public_key())
        }),
        Err(e) => {
            tracing::error!(error = %e, "the local CDN cannot read its key");
            return (StatusCode::BAD_GATEWAY, "the CDN's key is unavailable").into_response();
        }
    };
    let url = format!("{}/{key}", state.cdn.origin().as_str());
    if let Err(refusal) = checker.check(
        &url,
        query.as_deref().unwrap_or(""),
        OffsetDateTime::now_utc(),
    ) {
        tracing::info!(%refusal, key, "local CDN refused a URL");
        return denied(&refusal.to_string());
    }
    match state.objects.get_served(&key).await {
        Ok(Some(object)) => {
            let mut response = object.bytes.into_response();
            let headers = response.headers_mut();
            for (name, value) in [
                (header::CONTENT_TYPE, object.content_type),
                (header::CACHE_CONTROL, object.cache_control),
            ] {
                if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                    headers.insert(name, value);
                }
            }
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            response
        }
        Ok(None) => (StatusCode::NOT_FOUND, "no such object").into_response(),
        Err(e) => {
            tracing::error!(error = %e, key, "the local CDN could not read the object");
            (StatusCode::BAD_GATEWAY, "the origin failed").into_response()
        }
    }
}

/// CloudFront's answer to a URL it will not serve.
fn denied(why: &str) -> Response {
    (StatusCode::FORBIDDEN, format!("AccessDenied: {why}")).into_response()
}
