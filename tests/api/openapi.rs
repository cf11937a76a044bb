//! openapi.yaml against the router: the description parses as OpenAPI 3.1, every operation it
//! documents is a route the router answers, and every other method on those paths is a 405 with
//! `Allow` naming exactly the documented ones. `just test-api-description` then checks the
//! answers themselves against the running server (schemathesis).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_smithy_mocks::mock;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde::Deserialize;

use image_upload::api::App;

use crate::helpers::{Reply, anonymous_settings, app, is_usage_key, send};

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
fn the_description_is_openapi_3_1_with_every_operation() {
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
        ("/upload/multipart", &["POST"][..]),
        ("/upload/multipart/{imageId}", &["GET", "POST"][..]),
        (
            "/upload/multipart/{imageId}/parts/{partNumber}",
            &["POST"][..],
        ),
        ("/upload/multipart/{imageId}/complete", &["POST"][..]),
        ("/images", &["GET"][..]),
        ("/images/{imageId}", &["DELETE", "GET"][..]),
        ("/usage", &["GET"][..]),
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
    // The caller's usage item is the one read a probe needs: `GET /usage` refuses nothing, so it
    // answers 200 (no item: nothing used); every other route refuses the probe before any read.
    let no_usage = mock!(aws_sdk_dynamodb::Client::get_item)
        .match_requests(|r| r.key().is_some_and(is_usage_key))
        .then_output(|| GetItemOutput::builder().build());
    let app = app(&anonymous_settings(&[]), &[&no_usage]);
    for (template, methods) in documented_operations() {
        for method in methods {
            let (uri, reply) = probe(&app, &method, &template).await;
            assert_ne!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri}: documented but the router does not take the method"
            );
            if template == "/usage" {
                assert_eq!(
                    reply.status,
                    StatusCode::OK,
                    "{method} {uri}: {}",
                    reply.body
                );
                continue;
            }
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
                    "FORBIDDEN" => 403,
                    "NOT_FOUND" => 404,
                    "CONFLICT" => 409,
                    "METHOD_NOT_ALLOWED" => 405,
                    "PAYLOAD_TOO_LARGE" => 413,
                    "UNSUPPORTED_MEDIA_TYPE" => 415,
                    "TOO_MANY_REQUESTS" => 429,
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
    // `code` is open (API Gateway's own answers carry its response types), naming the known ones.
    let code = &doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"];
    let known: Vec<&str> = code["anyOf"]
        .as_sequence()
        .expect("Error.error.code is an anyOf")
        .iter()
        .filter_map(|alternative| alternative["$ref"].as_str())
        .collect();
    assert_eq!(
        known,
        [
            "#/components/schemas/ServiceErrorCode",
            "#/components/schemas/GatewayErrorCode"
        ]
    );
    let from_code: BTreeSet<String> = pairs.iter().map(|(_, code)| code.clone()).collect();
    assert_eq!(
        enum_of(&doc["components"]["schemas"]["ServiceErrorCode"]),
        from_code,
        "the ServiceErrorCode schema's codes"
    );

    // (status, code) as the operations describe them for the service (not in `Gateway*` schemas).
    let described: BTreeSet<(u16, String)> = described_codes(&doc)
        .into_iter()
        .filter(|d| !d.gateway)
        .map(|d| (d.status, d.code))
        .collect();
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

// ---------------------------------------------------------------------- API Gateway's own answers

/// The repository's SAM template: its `GatewayResponses` say what API Gateway answers itself.
const TEMPLATE_YAML: &str = include_str!("../../template.yaml");

/// API Gateway's (REST API) gateway response types with their default status codes, as AWS
/// documents them:
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html>.
/// `DEFAULT_4XX` and `DEFAULT_5XX` are not here: they stand for every type of their class that
/// has no response of its own.
const GATEWAY_RESPONSE_TYPES: [(&str, u16); 19] = [
    ("ACCESS_DENIED", 403),
    ("API_CONFIGURATION_ERROR", 500),
    ("AUTHORIZER_CONFIGURATION_ERROR", 500),
    ("AUTHORIZER_FAILURE", 500),
    ("BAD_REQUEST_PARAMETERS", 400),
    ("BAD_REQUEST_BODY", 400),
    ("EXPIRED_TOKEN", 403),
    ("INTEGRATION_FAILURE", 504),
    ("INTEGRATION_TIMEOUT", 504),
    ("INVALID_API_KEY", 403),
    ("INVALID_SIGNATURE", 403),
    ("MISSING_AUTHENTICATION_TOKEN", 403),
    ("QUOTA_EXCEEDED", 429),
    ("REQUEST_TOO_LARGE", 413),
    ("RESOURCE_NOT_FOUND", 404),
    ("THROTTLED", 429),
    ("UNAUTHORIZED", 401),
    ("UNSUPPORTED_MEDIA_TYPE", 415),
    ("WAF_FILTERED", 403),
];

/// One answer API Gateway can give itself: its status, the body's `code`, and whether the
/// template gives it an `x-request-id` header.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct GatewayAnswer {
    status: u16,
    code: String,
    has_request_id: bool,
}

/// Every answer the template's `GatewayResponses` can produce: a typed response for its type;
/// `DEFAULT_4XX`/`DEFAULT_5XX` for every type of their class without one. The code is the
/// template's literal, or the type where the template writes `$context.error.responseType`.
fn gateway_answers(template: &serde_norway::Value) -> BTreeSet<GatewayAnswer> {
    let apis: Vec<&serde_norway::Value> = template["Resources"]
        .as_mapping()
        .expect("template.yaml has Resources")
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Api")
        .collect();
    assert_eq!(apis.len(), 1, "template.yaml has one AWS::Serverless::Api");
    let responses = apis[0]["Properties"]["GatewayResponses"]
        .as_mapping()
        .expect("the API has GatewayResponses");
    let configured: BTreeSet<&str> = responses.keys().filter_map(|k| k.as_str()).collect();
    let code_field = regex_lite::Regex::new(r#""code"\s*:\s*"([^"]*)""#).unwrap();
    let mut answers = BTreeSet::new();
    for (kind, response) in responses {
        let kind = kind.as_str().expect("a gateway response type");
        let types: Vec<(&str, u16)> = match kind {
            "DEFAULT_4XX" | "DEFAULT_5XX" => {
                let class = if kind == "DEFAULT_4XX" { 4 } else { 5 };
                GATEWAY_RESPONSE_TYPES
                    .into_iter()
                    .filter(|(t, status)| *status / 100 == class && !configured.contains(t))
                    .collect()
            }
            _ => vec![
                GATEWAY_RESPONSE_TYPES
                    .into_iter()
                    .find(|(t, _)| *t == kind)
                    .unwrap_or_else(|| panic!("{kind} is no gateway response type AWS documents")),
            ],
        };
        let body = response["ResponseTemplates"]["application/json"]
            .as_str()
            .unwrap_or_else(|| panic!("{kind}: no application/json template"));
        let code = &code_field
            .captures(body)
            .unwrap_or_else(|| panic!("{kind}: its template writes no error code: {body}"))[1];
        let has_request_id = response["ResponseParameters"]["Headers"]
            .as_mapping()
            .into_iter()
            .flatten()
            .any(|(name, _)| {
                name.as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case("x-request-id"))
            });
        let status: Option<u16> = match &response["StatusCode"] {
            serde_norway::Value::Null => None,
            value => Some(
                value
                    .as_u64()
                    .map(|n| n.to_string())
                    .or_else(|| value.as_str().map(str::to_owned))
                    .unwrap_or_default()
                    .parse()
                    .unwrap_or_else(|e| panic!("{kind}: StatusCode {value:?}: {e}")),
            ),
        };
        for (t, default_status) in types {
            answers.insert(GatewayAnswer {
                status: status.unwrap_or(default_status),
                code: match code {
                    "$context.error.responseType" => t.to_owned(),
                    literal => literal.to_owned(),
                },
                has_request_id,
            });
        }
    }
    answers
}

/// A `$ref` to `components/<section>` resolved; anything else as it is.
fn resolve<'d>(
    doc: &'d serde_norway::Value,
    section: &str,
    value: &'d serde_norway::Value,
) -> &'d serde_norway::Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            &doc["components"][section][name]
        }
        None => value,
    }
}

/// The values of a schema's `enum`.
fn enum_of(schema: &serde_norway::Value) -> BTreeSet<String> {
    schema["enum"]
        .as_sequence()
        .expect("an enum")
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

/// One error code an operation describes under a status, and whether it is described as API
/// Gateway's own (inside a `Gateway*` schema).
#[derive(Debug)]
struct Described {
    path: String,
    method: String,
    status: u16,
    code: String,
    gateway: bool,
    /// The response's `x-request-id` header is `required: true`.
    request_id_required: bool,
}

/// Every (operation, status, code) openapi.yaml describes, through component responses and
/// schemas and their `allOf`/`anyOf`/`oneOf` parts.
fn described_codes(doc: &serde_norway::Value) -> Vec<Described> {
    fn codes_in(
        doc: &serde_norway::Value,
        schema: &serde_norway::Value,
        gateway: bool,
        out: &mut Vec<(String, bool)>,
    ) {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.rsplit('/').next().unwrap();
            let gateway = gateway || name.starts_with("Gateway");
            return codes_in(doc, &doc["components"]["schemas"][name], gateway, out);
        }
        let code = &schema["properties"]["error"]["properties"]["code"];
        out.extend(code["const"].as_str().map(|c| (c.to_owned(), gateway)));
        for c in code["enum"].as_sequence().into_iter().flatten() {
            out.push((c.as_str().unwrap().to_owned(), gateway));
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            for part in schema[key].as_sequence().into_iter().flatten() {
                codes_in(doc, part, gateway, out);
            }
        }
    }

    let mut described = Vec::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, operation) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap_or("");
            if !OPERATION_METHODS.contains(&method) {
                continue;
            }
            for (status, response) in operation["responses"].as_mapping().unwrap() {
                let status: u16 = status.as_str().unwrap().parse().unwrap();
                let response = resolve(doc, "responses", response);
                let request_id = resolve(doc, "headers", &response["headers"]["x-request-id"]);
                let mut codes = Vec::new();
                let schema = &response["content"]["application/json"]["schema"];
                codes_in(doc, schema, false, &mut codes);
                for (code, gateway) in codes {
                    described.push(Described {
                        path: path.as_str().unwrap().to_owned(),
                        method: method.to_uppercase(),
                        status,
                        code,
                        gateway,
                        request_id_required: request_id["required"].as_bool() == Some(true),
                    });
                }
            }
        }
    }
    described
}

/// What openapi.yaml gets wrong about API Gateway's own answers, one sentence each: each must be
/// described, as the gateway's, under its status on every operation (the gateway answers before
/// or instead of any of them), without requiring an `x-request-id` the template does not set;
/// `GatewayErrorCode` lists exactly their codes, and no other code is described as the gateway's.
fn gateway_problems(doc: &serde_norway::Value, template: &serde_norway::Value) -> Vec<String> {
    let answers = gateway_answers(template);
    let described = described_codes(doc);
    let mut problems = Vec::new();
    let operations = documented_operations();
    for answer in &answers {
        for (path, methods) in &operations {
            for method in methods {
                let here: Vec<&Described> = described
                    .iter()
                    .filter(|d| {
                        d.gateway
                            && &d.path == path
                            && &d.method == method
                            && d.status == answer.status
                            && d.code == answer.code
                    })
                    .collect();
                if here.is_empty() {
                    problems.push(format!(
                        "{method} {path}: API Gateway can answer {} {}, not described as its own",
                        answer.status, answer.code
                    ));
                }
                if !answer.has_request_id && here.iter().any(|d| d.request_id_required) {
                    problems.push(format!(
                        "{method} {path}: {} requires x-request-id, which API Gateway's own {} \
                         answer does not carry",
                        answer.status, answer.code
                    ));
                }
            }
        }
    }
    let produced: BTreeSet<(u16, &str)> = answers
        .iter()
        .map(|a| (a.status, a.code.as_str()))
        .collect();
    for d in described.iter().filter(|d| d.gateway) {
        if !produced.contains(&(d.status, d.code.as_str())) {
            problems.push(format!(
                "{} {}: {} {} is described as API Gateway's, which template.yaml cannot answer",
                d.method, d.path, d.status, d.code
            ));
        }
    }
    let listed = enum_of(&doc["components"]["schemas"]["GatewayErrorCode"]);
    let codes: BTreeSet<String> = answers.iter().map(|a| a.code.clone()).collect();
    if listed != codes {
        problems.push(format!(
            "GatewayErrorCode lists {listed:?}; template.yaml's gateway responses answer {codes:?}"
        ));
    }
    problems
}

fn template() -> serde_norway::Value {
    serde_norway::from_str(TEMPLATE_YAML).expect("template.yaml is YAML")
}

fn openapi() -> serde_norway::Value {
    serde_norway::from_str(OPENAPI_YAML).expect("openapi.yaml is YAML")
}

#[test]
fn every_answer_api_gateway_gives_itself_is_described() {
    let answers = gateway_answers(&template());
    // The template as it is: an explicit 401 and both defaults, whose codes are the types.
    assert!(answers.contains(&GatewayAnswer {
        status: 401,
        code: "UNAUTHORIZED".into(),
        has_request_id: false
    }));
    assert!(
        answers
            .iter()
            .any(|a| a.status == 429 && a.code == "THROTTLED")
    );
    assert!(
        answers
            .iter()
            .any(|a| a.status == 504 && a.code == "INTEGRATION_TIMEOUT")
    );
    let problems = gateway_problems(&openapi(), &template());
    assert!(
        problems.is_empty(),
        "openapi.yaml against template.yaml's gateway responses:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn a_gateway_answer_openapi_yaml_does_not_describe_is_caught() {
    // A gateway response with a code of its own.
    let mut template = template();
    let api = template["Resources"]
        .as_mapping_mut()
        .unwrap()
        .values_mut()
        .find(|r| r["Type"] == "AWS::Serverless::Api")
        .unwrap();
    api["Properties"]["GatewayResponses"]["THROTTLED"] = serde_norway::from_str(
        r#"{ResponseTemplates: {application/json: '{"error":{"code":"SLOW_DOWN"}}'}}"#,
    )
    .unwrap();
    let problems = gateway_problems(&openapi(), &template);
    assert!(
        problems
            .iter()
            .any(|p| p
                == "POST /upload: API Gateway can answer 429 SLOW_DOWN, not described as its own"),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("GatewayErrorCode lists")),
        "{problems:#?}"
    );

    // x-request-id required where the gateway answers without one.
    let mut doc = openapi();
    doc["components"]["headers"]["RequestIdUnlessGateway"]["required"] = true.into();
    let problems = gateway_problems(&doc, &self::template());
    assert!(
        problems.iter().any(|p| p
            == "GET /images: 401 requires x-request-id, which API Gateway's own UNAUTHORIZED answer does not carry"),
        "{problems:#?}"
    );
}
