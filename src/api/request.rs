//! What every request goes through: stage stripping, a request id and span, the caller's identity,
//! and the JSON body reader.

use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::{self, HeaderValue, request::Parts};
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::request::RequestContext;

use crate::auth::Authentication;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::error::{ApiError, ErrorBody};
use crate::domain::Owner;

/// The largest request body read, in bytes; larger ones are refused before they are read whole.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The id of one request: API Gateway's request id under Lambda (the `x-amzn-RequestId` the
/// client saw), else the Lambda invocation id, else a fresh UUID (local server).
fn request_id_of(extensions: &http::Extensions) -> String {
    let from_gateway = match extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.request_id.clone(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    };
    from_gateway
        .or_else(|| {
            extensions
                .get::<lambda_http::Context>()
                .map(|ctx| ctx.request_id.clone())
        })
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Gives the request an id and a span (every log line of the request carries `request_id`, and
/// `image_id` once known), logs its outcome, and writes error bodies as
/// `{"error": {"code", "message", "requestId"}}`.
pub async fn track_request(req: Request, next: Next) -> Response {
    let id = request_id_of(req.extensions());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %crate::domain::excerpt(req.uri().path(), 200),
        image_id = tracing::field::Empty,
    );
    async move {
        let started = std::time::Instant::now();
        let mut response = next.run(req).await;
        if let Some(error) = response.extensions_mut().remove::<ErrorBody>() {
            let body = serde_json::json!({
                "error": { "code": error.code, "message": error.message, "requestId": id }
            });
            *response.body_mut() = Body::from(body.to_string());
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert("x-request-id", value);
        }
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "request finished"
        );
        response
    }
    .instrument(span)
    .await
}

/// The caller, identified as [`AppState::auth`](super::AppState) says: from API Gateway's
/// authorizer claims, or from a bearer token the service verifies itself. A handler that takes a
/// `Caller` runs only for an identified caller (or an anonymous one where that is allowed); the
/// rest get 401 with `WWW-Authenticate: Bearer`.
#[derive(Debug, Clone)]
pub struct Caller(pub Owner);

impl<S: Send + Sync> FromRequestParts<S> for Caller
where
    Authentication: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Authentication::from_ref(state);
        Ok(Self(auth.identify(parts).await?))
    }
}

/// A JSON request body, read up to [`MAX_BODY_BYTES`], with our error shape for every failure.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let declared = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        if declared.is_some_and(|len: usize| len > MAX_BODY_BYTES) {
            return Err(ApiError::BodyTooLarge(MAX_BODY_BYTES));
        }
        if !declares_json(req.headers()) {
            return Err(ApiError::NotJson);
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|err| {
                let over_limit = std::error::Error::source(&err)
                    .is_some_and(|cause| cause.is::<http_body_util::LengthLimitError>());
                if over_limit {
                    ApiError::BodyTooLarge(MAX_BODY_BYTES)
                } else {
                    ApiError::MalformedBody("the request body could not be read".into())
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::MalformedBody(
                "the request body is empty; send a JSON object".into(),
            ));
        }
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|err| {
            ApiError::MalformedBody(format!(
                "the request body is not a valid upload request: {err}"
            ))
        })
    }
}

/// Whether the request says its body is JSON (`application/json`, with or without parameters).
/// Required, not assumed: a web page may send `text/plain`, form and multipart bodies to any
/// origin without a CORS preflight, and `application/json` is none of those, so a page that is
/// not an allowed origin cannot get a JSON body past the browser to this server.
fn declares_json(headers: &http::HeaderMap) -> bool {
    let mut values = headers.get_all(http::header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    value.to_str().is_ok_and(|value| {
        let essence = value.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case("application/json")
    })
}

/// Routes API Gateway paths with or without the stage: a REST API invoked at `/prod/upload`
/// reaches the `/upload` route. Only the stage API Gateway reports is stripped, so no other
/// first segment is mistaken for one.
#[derive(Clone, Debug)]
pub struct StripStage<S>(pub S);

impl<S, B> tower::Service<http::Request<B>> for StripStage<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        strip_stage(&mut req);
        self.0.call(req)
    }
}

fn strip_stage<B>(req: &mut http::Request<B>) {
    let stage = match req.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.stage.clone(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") else {
        return;
    };
    let uri = req.uri();
    let Some(rest) = uri
        .path()
        .strip_prefix('/')
        .and_then(|p| p.strip_prefix(stage.as_str()))
    else {
        return;
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return;
    }
    let path = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(stripped) = http::Uri::from_parts(parts) {
            *req.uri_mut() = stripped;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;

    fn with_stage(path: &str, stage: &str) -> http::Request<()> {
        let mut ctx = ApiGatewayProxyRequestContext::default();
        ctx.stage = Some(stage.into());
        let mut req = http::Request::builder().uri(path).body(()).unwrap();
        req.extensions_mut()
            .insert(RequestContext::ApiGatewayV1(ctx));
        req
    }

    #[test]
    fn strips_only_the_reported_stage() {
        let cases = [
            ("/prod/upload", "prod", "/upload"),
            ("/prod/upload?x=1", "prod", "/upload?x=1"),
            ("/upload", "prod", "/upload"),
            ("/production/upload", "prod", "/production/upload"),
            ("/prod", "prod", "/"),
            ("/dev/upload", "prod", "/dev/upload"),
        ];
        for (path, stage, expected) in cases {
            let mut req = with_stage(path, stage);
            strip_stage(&mut req);
            assert_eq!(req.uri().to_string(), expected, "{path} with stage {stage}");
        }
    }

    #[test]
    fn leaves_requests_without_a_gateway_alone() {
        let mut req = http::Request::builder()
            .uri("/prod/upload")
            .body(())
            .unwrap();
        strip_stage(&mut req);
        assert_eq!(req.uri().path(), "/prod/upload");
    }
}
