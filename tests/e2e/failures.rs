//! Breaking a dependency on purpose: the API must answer quickly and honestly, then recover.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{PrivateDynamoDb, spawn_app_with};

#[tokio::test]
async fn a_stopped_dynamodb_gives_503_within_seconds_and_the_api_recovers() {
    let dynamodb = PrivateDynamoDb::start().await;
    let app = spawn_app_with(&[("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.endpoint())]).await;
    let body = json!({"fileName": "a.png", "fileType": "image/png"});
    assert_eq!(
        app.post_upload(&body).await.status(),
        200,
        "healthy before the sabotage"
    );

    dynamodb.freeze().await;
    let started = Instant::now();
    let during = app.post_upload(&body).await;
    let elapsed = started.elapsed();
    let status = during.status();
    let reply: serde_json::Value = during.json().await.unwrap();

    assert_eq!(status, 503, "{reply}");
    assert_eq!(reply["error"]["code"], "SERVICE_UNAVAILABLE");
    assert!(reply.get("uploadUrl").is_none(), "no URL without a row");
    assert!(
        elapsed < Duration::from_secs(6),
        "took {elapsed:?}; the AWS timeouts should bound it"
    );

    dynamodb.thaw().await;
    let after = app.post_upload(&body).await;
    assert_eq!(after.status(), 200, "recovered once DynamoDB is back");
}
