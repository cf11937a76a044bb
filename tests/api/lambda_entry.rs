//! API Gateway events (fixtures/apigw) through `lambda_http`'s adapter, the code path
//! `lambda_http::run` takes for each invocation, into the router and back to an API Gateway response.

use image_upload::api::App;
use image_upload::api::{WWW_AUTHENTICATE_BEARER, WWW_AUTHENTICATE_INVALID_TOKEN};
use image_upload::config::AuthSettings;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use serde_json::Value;

use crate::helpers::{anonymous_settings, app, recording_put_item, settings};

/// The API Gateway response JSON for one event, with its body parsed.
async fn invoke(app: App, event: &str) -> (u16, Value, Value) {
    let request: LambdaRequest =
        serde_json::from_str(event).expect("fixture is an API Gateway event");
    let mut adapter = Adapter::from(app);
    let response = adapter
        .call(LambdaEvent::new(request, Context::default()))
        .await
        .unwrap();
    let response = serde_json::to_value(&response).unwrap();
    let status = response["statusCode"].as_u64().unwrap() as u16;
    let body = match response["body"].as_str() {
        Some(text) if !text.is_empty() => serde_json::from_str(text).unwrap(),
        _ => Value::Null,
    };
    // REST APIs take `multiValueHeaders`, HTTP APIs `headers`: read whichever was written.
    let mut headers = response["headers"].as_object().cloned().unwrap_or_default();
    if let Some(multi) = response["multiValueHeaders"].as_object() {
        for (name, values) in multi {
            headers.insert(name.clone(), values[0].clone());
        }
    }
    (status, Value::Object(headers), body)
}

#[tokio::test]
async fn a_rest_api_event_with_its_stage_in_the_path_uploads() {
    let (put_item, written) = recording_put_item();

    let (status, headers, body) = invoke(
        app(&anonymous_settings(&[]), &[&put_item]),
        include_str!("../../fixtures/apigw/rest-upload.json"),
    )
    .await;

    assert_eq!(status, 200, "{body}");
    assert!(
        body["uploadUrl"]
            .as_str()
            .unwrap()
            .contains("X-Amz-Signature=")
    );
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(
        headers["x-request-id"], "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "API Gateway's request id"
    );
    let written = written.lock().unwrap();
    assert_eq!(written[0]["owner"].as_s().unwrap(), "anonymous");
    assert_eq!(written[0]["fileSize"].as_n().unwrap(), "2048");
}

#[tokio::test]
async fn a_cognito_authorizer_subject_becomes_the_owner() {
    let (put_item, written) = recording_put_item();

    let (status, _, body) = invoke(
        app(&settings(&[]), &[&put_item]),
        include_str!("../../fixtures/apigw/rest-upload-cognito.json"),
    )
    .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(
        written.lock().unwrap()[0]["owner"].as_s().unwrap(),
        "7d8e9f00-1111-4222-8333-444455556666"
    );
}

#[tokio::test]
async fn with_a_client_id_only_that_clients_id_tokens_are_served() {
    const REST: &str = include_str!("../../fixtures/apigw/rest-upload-cognito.json");
    let with_claim = |name: &str, value: &str| {
        let mut event: Value = serde_json::from_str(REST).unwrap();
        event["requestContext"]["authorizer"]["claims"][name] = Value::from(value);
        event.to_string()
    };
    let client = [("AUTHORIZER_CLIENT_ID", "4s1n7mwebclient0example")];

    let (put_item, written) = recording_put_item();
    let (status, _, body) = invoke(app(&settings(&client), &[&put_item]), REST).await;
    assert_eq!(
        status, 200,
        "the fixture's ID token is of that client: {body}"
    );
    assert_eq!(written.lock().unwrap().len(), 1);

    // A Cognito authorizer admits a token of any app client of the pool, and access tokens.
    let refused = [
        (
            "another app client",
            with_claim("aud", "0therclient0of0thepool"),
        ),
        ("an access token", with_claim("token_use", "access")),
    ];
    for (what, event) in refused {
        let (put_item, written) = recording_put_item();
        let (status, headers, body) = invoke(app(&settings(&client), &[&put_item]), &event).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(
            headers["www-authenticate"], WWW_AUTHENTICATE_INVALID_TOKEN,
            "{what}"
        );
        assert!(
            written.lock().unwrap().is_empty(),
            "{what}: nothing written"
        );
    }
}

#[tokio::test]
async fn an_http_api_jwt_subject_becomes_the_owner() {
    let (put_item, written) = recording_put_item();

    let (status, _, body) = invoke(
        app(&settings(&[]), &[&put_item]),
        include_str!("../../fixtures/apigw/http-api-upload-jwt.json"),
    )
    .await;

    assert_eq!(status, 200, "{body}");
    let written = written.lock().unwrap();
    assert_eq!(
        written[0]["owner"].as_s().unwrap(),
        "0f1e2d3c-aaaa-4bbb-8ccc-ddddeeeeffff"
    );
    assert!(body["fileUrl"].as_str().unwrap().ends_with(".gif"));
}

#[tokio::test]
async fn a_base64_body_with_a_unicode_name_round_trips() {
    let (put_item, written) = recording_put_item();

    let (status, _, body) = invoke(
        app(&anonymous_settings(&[]), &[&put_item]),
        include_str!("../../fixtures/apigw/rest-upload-base64.json"),
    )
    .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(
        written.lock().unwrap()[0]["fileName"].as_s().unwrap(),
        "Ünïcode 写真.webp"
    );
}

#[tokio::test]
async fn an_svg_event_is_refused_with_415_in_the_error_shape() {
    let (put_item, written) = recording_put_item();

    let (status, headers, body) = invoke(
        app(&anonymous_settings(&[]), &[&put_item]),
        include_str!("../../fixtures/apigw/rest-upload-svg.json"),
    )
    .await;

    assert_eq!(status, 415);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body["error"]["code"], "UNSUPPORTED_FILE_TYPE");
    assert_eq!(
        body["error"]["requestId"],
        "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    );
    assert!(written.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_preflight_event_is_answered_for_an_allowed_origin() {
    let (status, headers, _) = invoke(
        app(&settings(&[]), &[]),
        include_str!("../../fixtures/apigw/rest-preflight.json"),
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert!(
        headers["access-control-allow-methods"]
            .as_str()
            .unwrap()
            .contains("POST")
    );
}

#[tokio::test]
async fn an_unknown_route_event_gets_a_json_404() {
    let (status, _, body) = invoke(
        app(&settings(&[]), &[]),
        include_str!("../../fixtures/apigw/rest-unknown-route.json"),
    )
    .await;

    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "NOT_FOUND");
}

/// Events that reach the function without a usable `sub`, and the challenge each gets.
const UNIDENTIFIED: [(&str, &str, &str); 5] = [
    (
        "a REST API route without an authorizer",
        include_str!("../../fixtures/apigw/rest-upload.json"),
        WWW_AUTHENTICATE_BEARER,
    ),
    (
        "Cognito authorizer claims without sub",
        include_str!("../../fixtures/apigw/rest-upload-claims-without-sub.json"),
        WWW_AUTHENTICATE_INVALID_TOKEN,
    ),
    (
        "a REST API Lambda authorizer's context (even with a `sub` key)",
        include_str!("../../fixtures/apigw/rest-upload-lambda-authorizer.json"),
        WWW_AUTHENTICATE_BEARER,
    ),
    (
        "an HTTP API JWT authorizer without sub",
        include_str!("../../fixtures/apigw/http-api-upload-jwt-without-sub.json"),
        WWW_AUTHENTICATE_INVALID_TOKEN,
    ),
    (
        "an HTTP API Lambda authorizer",
        include_str!("../../fixtures/apigw/http-api-upload-lambda-authorizer.json"),
        WWW_AUTHENTICATE_BEARER,
    ),
];

#[tokio::test]
async fn an_event_without_a_usable_subject_is_refused_with_401_and_a_bearer_challenge() {
    for (what, event, challenge) in UNIDENTIFIED {
        let (put_item, written) = recording_put_item();

        let (status, headers, body) = invoke(app(&settings(&[]), &[&put_item]), event).await;

        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(headers["www-authenticate"], challenge, "{what}");
        assert_eq!(headers["content-type"], "application/json", "{what}");
        assert_eq!(body["error"]["code"], "UNAUTHORIZED", "{what}");
        assert!(body["error"]["requestId"].is_string(), "{what}: {body}");
        assert!(
            headers["access-control-allow-origin"].is_string(),
            "{what}: a browser must be able to read the 401"
        );
        assert!(
            written.lock().unwrap().is_empty(),
            "{what}: nothing written"
        );
    }
}

#[tokio::test]
async fn allow_anonymous_admits_only_events_without_any_authorizer() {
    let (put_item, written) = recording_put_item();
    let (status, _, body) = invoke(
        app(&anonymous_settings(&[]), &[&put_item]),
        include_str!("../../fixtures/apigw/rest-upload.json"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        written.lock().unwrap()[0]["owner"].as_s().unwrap(),
        "anonymous"
    );

    // An authorizer that ran but names nobody is not "no authorizer": still refused.
    for (what, event, _) in &UNIDENTIFIED[1..] {
        let (status, _, body) = invoke(app(&anonymous_settings(&[]), &[]), event).await;
        assert_eq!(status, 401, "{what}: {body}");
    }
}

#[tokio::test]
async fn a_preflight_event_needs_no_authorizer_even_when_anonymous_is_off() {
    let settings = settings(&[]);
    assert!(matches!(
        settings.auth,
        AuthSettings::Authorizer {
            allow_anonymous: false,
            ..
        }
    ));

    let (status, headers, _) = invoke(
        app(&settings, &[]),
        include_str!("../../fixtures/apigw/rest-preflight.json"),
    )
    .await;

    assert_eq!(status, 200);
    assert!(headers.get("www-authenticate").is_none());
}
