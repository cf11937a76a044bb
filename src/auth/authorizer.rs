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
/// authorizer context at all (a route without an authorizer, or the local server). With
/// `client_id`, the claims must also be an ID token's (`token_use` = `id`) whose `aud` is that
/// app client: a Cognito authorizer accepts a token of any app client of its pool.
///
/// # Errors
/// [`AuthRejection`] when an authorizer context is present but names no usable `sub`, or is not
/// an ID token of `client_id`.
pub(super) fn subject(
    extensions: &Extensions,
    client_id: Option<&str>,
) -> Result<Option<Owner>, AuthRejection> {
    let claim = |claims: &dyn Fn(&str) -> Option<String>| -> Result<Option<Owner>, AuthRejection> {
        if let Some(client_id) = client_id {
            if claims("token_use").as_deref() != Some("id") {
                return Err(AuthRejection::NotAnIdToken);
            }
            if claims("aud").as_deref() != Some(client_id) {
                return Err(AuthRejection::WrongAudience);
            }
        }
        claims("sub")
            .as_deref()
            .and_then(Owner::from_subject)
            .map(Some)
            .ok_or(AuthRejection::ClaimsWithoutSubject)
    };
    match extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(ctx)) => {
            let fields = &ctx.authorizer.fields;
            if fields.is_empty() {
                return Ok(None);
            }
            // A Lambda authorizer's context holds only strings, numbers and booleans, so an
            // object under `claims` can only come from a Cognito authorizer.
            match fields.get("claims") {
                Some(Value::Object(claims)) => {
                    claim(&|name| claims.get(name).and_then(Value::as_str).map(str::to_owned))
                }
                Some(_) => Err(AuthRejection::ClaimsWithoutSubject),
                None => Err(AuthRejection::UnsupportedAuthorizer),
            }
        }
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            let Some(authorizer) = &ctx.authorizer else {
                return Ok(None);
            };
            match &authorizer.jwt {
                Some(jwt) => claim(&|name| jwt.claims.get(name).cloned()),
                None if authorizer.fields.is_empty() && authorizer.iam.is_none() => Ok(None),
                None => Err(AuthRejection::UnsupportedAuthorizer),
            }
        }
        _ => Ok(None),
    }
}
