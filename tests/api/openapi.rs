//! openapi.yaml against the router: the description parses as OpenAPI 3.1, every operation it
//! documents is a route the router answers, and every other method on those paths is a 405 with
//! `Allow` naming exactly the documented ones. `just test-api-description` then checks the
//! answers themselves against the running server (schemathesis).

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde::Deserialize;

use image_upload::api::App;

use crate::helpers::{Reply, anonymous_settings, app, send};

/// The description the repository ships (and the local server serves at `/openapi.yaml`).
const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// The methods an OpenAPI path item can hold, as HTTP methods.
const OPERATION_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[derive(Debug, Deserialize)]
struct Description {
    openapi: String,
    info: Info,
    paths: BTreeMap<String, BTreeMap<String, serde_norway::Value>>,
}

#[derive(Debug, Deserialize)]
struct Info {
    version: String,
}

fn description() -> Description {
    serde_norway::from_str(OPENAPI_YAML).expect("openapi.yaml is YAML of an OpenAPI document")
}

/// Each documented path with the methods of its operations, upper-case.
fn documented_operations() -> BTreeMap<String, BTreeSet<String>> {
    description()
        .paths
        .into_iter()
        .map(|(path, item)| {
            let methods = item
                .keys()
                .filter(|key| OPERATION_METHODS.contains(&key.as_str()))
                .map(|key| key.to_uppercase())
                .collect();
            (path, methods)
        })
        .collect()
}

/// A concrete request path for a template: every `{param}` becomes a value no handler can find
/// anything for, so the handlers answer before reaching DynamoDB (whose mock has no rules here).
fn concrete(template: &str) -> String {
    let path = regex_lite::Regex::new(r"\{[^}/]+\}")
        .unwrap()
        .replace_all(template, "not-an-id");
    // `limit=0` is refused by GET /images before any read; other routes ignore the query.
    format!("{path}?limit=0")
}

/// `method` on the concrete path of `template` (an empty body), with that path for messages.
async fn probe(app: &App, method: &str, template: &str) -> (String, Reply) {
    let uri = concrete(template);
    let request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("an HTTP method"))
        .uri(&uri)
        .body(Body::empty())
        .unwrap();
    (uri, send(app, request).await)
}

#[test]
fn the_description_is_openapi_3_1_with_the_four_operations() {
    let description = description();
    assert!(
        description.openapi.starts_with("3.1."),
        "openapi: {}",
        description.openapi
    );
    assert_eq!(
        description.info.version,
        env!("CARGO_PKG_VERSION"),
        "info.version is the crate's"
    );
    let expected: BTreeMap<String, BTreeSet<String>> = [
        ("/upload", &["POST"][..]),
        ("/images", &["GET"][..]),
        ("/images/{imageId}", &["DELETE", "GET"][..]),
    ]
    .into_iter()
    .map(|(path, methods)| {
        (
            path.to_owned(),
            methods.iter().map(|m| (*m).to_owned()).collect(),
        )
    })
    .collect();
    // The routes `api::app` declares (src/api/mod.rs). A route added there and not here, or
    // described here and not routed, fails this test or the request checks below.
    assert_eq!(documented_operations(), expected);
}

#[tokio::test]
async fn every_documented_operation_is_a_route() {
    let app = app(&anonymous_settings(&[]), &[]);
    for (template, methods) in documented_operations() {
        for method in methods {
            let (uri, reply) = probe(&app, &method, &template).await;
            assert_ne!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri}: documented but the router does not take the method"
            );
            assert!(
                reply.status.is_client_error(),
                "{method} {uri}: expected the handler's own 4xx, got {}",
                reply.status
            );
            assert_ne!(
                reply.error_code(),
                "NOT_FOUND",
                "{method} {uri}: documented but no route"
            );
        }
    }
}

#[tokio::test]
async fn every_other_method_on_a_documented_path_is_405_with_allow() {
    let app = app(&anonymous_settings(&[]), &[]);
    // OPTIONS is the CORS layer's on every path (described in openapi.yaml's introduction).
    let probed = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE"];
    for (template, documented) in documented_operations() {
        // HEAD is answered wherever GET is, as the description says.
        let mut allowed = documented.clone();
        if allowed.contains("GET") {
            allowed.insert("HEAD".to_owned());
        }
        for method in probed.iter().filter(|m| !allowed.contains(**m)) {
            let (uri, reply) = probe(&app, method, &template).await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri}: undocumented, so it must not be routed"
            );
            // A HEAD answer has no body (axum drops it), only the status and headers.
            if *method != "HEAD" {
                assert_eq!(reply.error_code(), "METHOD_NOT_ALLOWED", "{method} {uri}");
            }
            let allow: BTreeSet<String> = reply
                .headers
                .get("allow")
                .unwrap_or_else(|| panic!("{method} {uri}: 405 without Allow"))
                .to_str()
                .unwrap()
                .split(',')
                .map(|m| m.trim().to_owned())
                .collect();
            assert_eq!(allow, allowed, "{method} {uri}: Allow");
        }
    }
}

#[tokio::test]
async fn paths_beside_the_documented_ones_are_not_routes() {
    let app = app(&anonymous_settings(&[]), &[]);
    for uri in [
        "/",
        "/upload/x",
        "/images/",
        "/images/x/y",
        "/image",
        // The local server's page wrapper serves it; the API itself (and so Lambda) does not.
        "/openapi.yaml",
    ] {
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let request = Request::builder()
                .method(method.clone())
                .uri(uri)
                .body(Body::empty())
                .unwrap();
            let reply = send(&app, request).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {uri}");
            assert_eq!(reply.error_code(), "NOT_FOUND", "{method} {uri}");
        }
    }
}

#[test]
fn every_error_code_is_described_under_its_status() {
    // The one `match` from an error to its status and code (src/api/error.rs), read as text: a
    // variant added there and not described here fails.
    let source = include_str!("../../src/api/error.rs");
    let pairs: BTreeSet<(u16, String)> =
        regex_lite::Regex::new(r#"StatusCode::([A-Z_]+),\s*"([A-Z_]+)""#)
            .unwrap()
            .captures_iter(source)
            .map(|c| {
                let status = match &c[1] {
                    "BAD_REQUEST" => 400,
                    "UNAUTHORIZED" => 401,
                    "NOT_FOUND" => 404,
                    "METHOD_NOT_ALLOWED" => 405,
                    "PAYLOAD_TOO_LARGE" => 413,
                    "UNSUPPORTED_MEDIA_TYPE" => 415,
                    "INTERNAL_SERVER_ERROR" => 500,
                    "SERVICE_UNAVAILABLE" => 503,
                    other => panic!("a status this test does not know: {other}"),
                };
                (status, c[2].to_owned())
            })
            .collect();
    assert!(
        pairs.len() >= 15,
        "read {} codes from error.rs",
        pairs.len()
    );

    let doc: serde_norway::Value = serde_norway::from_str(OPENAPI_YAML).unwrap();
    let all_codes: BTreeSet<String> = doc["components"]["schemas"]["Error"]["properties"]["error"]
        ["properties"]["code"]["enum"]
        .as_sequence()
        .expect("Error.error.code has an enum")
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let from_code: BTreeSet<String> = pairs.iter().map(|(_, code)| code.clone()).collect();
    assert_eq!(all_codes, from_code, "the Error schema's codes");

    // (status, code) as the operations describe them, through their component responses.
    let mut described = BTreeSet::new();
    for item in doc["paths"].as_mapping().unwrap().values() {
        for (method, operation) in item.as_mapping().unwrap() {
            if !OPERATION_METHODS.contains(&method.as_str().unwrap_or("")) {
                continue;
            }
            for (status, response) in operation["responses"].as_mapping().unwrap() {
                let status: u16 = status.as_str().unwrap().parse().unwrap();
                let response = match response["$ref"].as_str() {
                    Some(reference) => {
                        let name = reference.rsplit('/').next().unwrap();
                        &doc["components"]["responses"][name]
                    }
                    None => response,
                };
                let schema = &response["content"]["application/json"]["schema"];
                let Some(parts) = schema["allOf"].as_sequence() else {
                    continue;
                };
                let code = &parts[1]["properties"]["error"]["properties"]["code"];
                let codes: Vec<&str> = match code["const"].as_str() {
                    Some(one) => vec![one],
                    None => code["enum"]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_str().unwrap())
                        .collect(),
                };
                described.extend(codes.into_iter().map(|c| (status, c.to_owned())));
            }
        }
    }
    for pair in &pairs {
        // 405 is the answer to methods no operation has: the introduction describes it, and
        // every_other_method_on_a_documented_path_is_405_with_allow checks it.
        if pair.0 == 405 {
            continue;
        }
        assert!(
            described.contains(pair),
            "{} {} is not described by any operation",
            pair.0,
            pair.1
        );
    }
    assert!(
        described.is_subset(&pairs),
        "described but never answered: {:?}",
        described.difference(&pairs).collect::<Vec<_>>()
    );
}
