//! Requests to a test's app through the Lambda entry, as API Gateway would send them: a REST API
//! event (stage `prod`) with a Cognito authorizer's claims, the path a deployed request takes.
//! Tests of ownership rules use it to act as several owners without a user pool; tests/e2e/auth.rs
//! signs in real users of the local Cognito instead.

use image_upload::api;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use serde_json::Value;

use super::TestApp;

impl TestApp {
    /// `method path` as the user whose Cognito `sub` is `owner`; the status and the JSON body.
    pub async fn as_owner(
        &self,
        owner: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut event: Value = serde_json::from_str(include_str!(
            "../../../fixtures/apigw/rest-upload-cognito.json"
        ))
        .unwrap();
        let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
        event["httpMethod"] = method.into();
        event["path"] = path_only.into();
        event["resource"] = path_only.into();
        event["requestContext"]["httpMethod"] = method.into();
        event["requestContext"]["path"] = format!("/prod{path_only}").into();
        event["requestContext"]["requestId"] = uuid::Uuid::new_v4().to_string().into();
        event["requestContext"]["authorizer"]["claims"]["sub"] = owner.into();
        let params: serde_json::Map<String, Value> = url_pairs(query)
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let multi: serde_json::Map<String, Value> = params
            .iter()
            .map(|(k, v)| (k.clone(), Value::Array(vec![v.clone()])))
            .collect();
        event["queryStringParameters"] = if params.is_empty() {
            Value::Null
        } else {
            params.into()
        };
        event["multiValueQueryStringParameters"] = if multi.is_empty() {
            Value::Null
        } else {
            multi.into()
        };
        event["body"] = body.map_or(Value::Null, |b| b.to_string().into());
        let request: LambdaRequest = serde_json::from_value(event).expect("an API Gateway event");
        let mut adapter = Adapter::from(api::app(self.state.clone()));
        let response = adapter
            .call(LambdaEvent::new(request, Context::default()))
            .await
            .expect("the Lambda entry answers");
        let response = serde_json::to_value(&response).unwrap();
        let status = response["statusCode"].as_u64().unwrap() as u16;
        let body = response["body"]
            .as_str()
            .filter(|b| !b.is_empty())
            .map_or(Value::Null, |b| serde_json::from_str(b).unwrap());
        (status, body)
    }
}

fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k.to_owned(), v.to_owned())
    })
}
