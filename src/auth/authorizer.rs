//! The caller as API Gateway's authorizer describes it. REST APIs with a Cognito user pool
//! authorizer put the ID token's claims in `requestContext.authorizer.claims`; HTTP APIs with a
//! JWT authorizer in `requestContext.authorizer.jwt.claims`. Anything else (a Lambda authorizer's
//! context, IAM) names no Cognito user, so it cannot own images.

use axum::http::Extensions;
use lambda_http::request::RequestContext;
use serde_json::Value;

use super::AuthRejection;
use crate::domain::Owner;

/// The owner named by the authorizer's `sub` claim; `Ok(None)` when the request carries no
/// authorizer context at all (a route without an authorizer, or the local server).
///
/// # Errors
/// [`AuthRejection`] when an authorizer context is present but names no usable `sub`.
pub(super) fn subject(extensions: &Extensions) -> Result<Option<Owner>, AuthRejection> {
    let sub: Option<&str> = match extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(ctx)) => {
            let fields = &ctx.authorizer.fields;
            if fields.is_empty() {
                return Ok(None);
            }
            // A Lambda authorizer's context holds only strings, numbers and booleans, so an
            // object under `claims` can only come from a Cognito authorizer.
            match fields.get("claims") {
                Some(Value::Object(claims)) => claims.get("sub").and_then(Value::as_str),
                Some(_) => return Err(AuthRejection::ClaimsWithoutSubject),
                None => return Err(AuthRejection::UnsupportedAuthorizer),
            }
        }
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            let Some(authorizer) = &ctx.authorizer else {
                return Ok(None);
            };
            match &authorizer.jwt {
                Some(jwt) => jwt.claims.get("sub").map(String::as_str),
                None if authorizer.fields.is_empty() && authorizer.iam.is_none() => {
                    return Ok(None);
                }
                None => return Err(AuthRejection::UnsupportedAuthorizer),
            }
        }
        _ => return Ok(None),
    };
    sub.and_then(Owner::from_subject)
        .map(Some)
        .ok_or(AuthRejection::ClaimsWithoutSubject)
}
