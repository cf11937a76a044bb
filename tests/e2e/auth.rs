//! Authentication end to end: the app verifies ID tokens of real users signed in to the local
//! Cognito (moto), as `just dev-auth` runs it. Only the expired token is minted by hand (moto's
//! tokens live an hour), with the TEST-ONLY key of fixtures/auth.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use image_upload::config::TokenSettings;
use serde_json::{Value, json};

use crate::helpers::{TestApp, local_cognito, spawn_verifying_app};
use crate::test_tokens::{KEY_A, KeyServer, id_claims, key_set, mint, now};

const JPEG: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.jpg");

/// `method path` with `token` as bearer (none when `None`); the status, the challenge, the body.
async fn call(
    app: &TestApp,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let mut request = app.http.request(method, format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("a request to the app");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    (
        status,
        challenge,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// Presigns an upload as the holder of `token`, PUTs the JPEG fixture, returns the image id.
async fn upload_as(app: &TestApp, token: &str, file_name: &str) -> String {
    let (status, _, upload) = call(
        app,
        Some(token),
        reqwest::Method::POST,
        "/upload",
        Some(json!({"fileName": file_name, "fileType": "image/jpeg"})),
    )
    .await;
    assert_eq!(status, 200, "POST /upload: {upload}");
    let put = app.put_with_given_headers(&upload, JPEG.to_vec()).await;
    assert_eq!(put.status(), 200, "PUT {file_name}");
    upload["imageId"].as_str().unwrap().to_owned()
}

async fn listed(app: &TestApp, token: &str) -> Vec<String> {
    let (status, _, page) = call(app, Some(token), reqwest::Method::GET, "/images", None).await;
    assert_eq!(status, 200, "{page}");
    page["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|image| image["imageId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn two_users_each_see_fetch_and_delete_only_their_own_images() {
    let pool = local_cognito().await.pool().await;
    let app = spawn_verifying_app(&pool.tokens).await;
    let (ana, ben) = (pool.user("ana").await, pool.user("ben").await);
    let ana_token = pool.sign_in(&pool.client_id, &ana).await.id;
    let ben_token = pool.sign_in(&pool.client_id, &ben).await.id;

    let anas = upload_as(&app, &ana_token, "ana.jpg").await;
    let bens = upload_as(&app, &ben_token, "ben.jpg").await;

    let owner = |item: Option<HashMap<String, AttributeValue>>| {
        item.expect("a row")["owner"].as_s().unwrap().clone()
    };
    assert_eq!(
        owner(app.item(&anas).await),
        ana.sub,
        "the owner is the token's sub"
    );
    assert_eq!(owner(app.item(&bens).await), ben.sub);
    assert_eq!(listed(&app, &ana_token).await, vec![anas.clone()]);
    assert_eq!(listed(&app, &ben_token).await, vec![bens.clone()]);

    let (status, _, own) = call(
        &app,
        Some(&ana_token),
        reqwest::Method::GET,
        &format!("/images/{anas}"),
        None,
    )
    .await;
    assert_eq!(
        (status, own["imageId"].as_str()),
        (200, Some(anas.as_str()))
    );
    let (status, _, other) = call(
        &app,
        Some(&ana_token),
        reqwest::Method::GET,
        &format!("/images/{bens}"),
        None,
    )
    .await;
    assert_eq!(status, 404, "someone else's image looks missing: {other}");
    assert_eq!(other["error"]["code"], "IMAGE_NOT_FOUND");

    let (status, _, _) = call(
        &app,
        Some(&ana_token),
        reqwest::Method::DELETE,
        &format!("/images/{bens}"),
        None,
    )
    .await;
    assert_eq!(status, 204, "answered as for a missing image");
    assert!(
        app.item(&bens).await.is_some(),
        "ben's image is not deleted by ana"
    );
    assert!(app.object_exists(&format!("uploads/{bens}.jpg")).await);

    for (token, id) in [(&ana_token, &anas), (&ben_token, &bens)] {
        let (status, _, _) = call(
            &app,
            Some(token),
            reqwest::Method::DELETE,
            &format!("/images/{id}"),
            None,
        )
        .await;
        assert_eq!(status, 204);
        assert!(app.item(id).await.is_none(), "the owner deleted {id}");
        assert!(listed(&app, token).await.is_empty());
    }
}

/// A real token with one claim changed and the signature kept: what a forger can make.
fn tampered(token: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = "someone-else".into();
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    parts[1] = &payload;
    parts.join(".")
}

#[tokio::test]
async fn requests_without_a_valid_id_token_are_refused_with_a_bearer_challenge() {
    let pool = local_cognito().await.pool().await;
    let app = spawn_verifying_app(&pool.tokens).await;
    let user = pool.user("cat").await;
    let tokens = pool.sign_in(&pool.client_id, &user).await;
    let other_client = pool.other_client().await;
    let other_audience = pool.sign_in(&other_client, &user).await.id;
    assert_ne!(other_client, pool.client_id);

    let cases: [(&str, Option<String>, &str); 4] = [
        ("no token", None, r#"Bearer realm="image-upload""#),
        (
            "a real token with a changed claim (bad signature)",
            Some(tampered(&tokens.id)),
            r#"Bearer realm="image-upload", error="invalid_token""#,
        ),
        (
            "another app client's ID token",
            Some(other_audience),
            r#"Bearer realm="image-upload", error="invalid_token""#,
        ),
        (
            "an access token where an ID token is expected",
            Some(tokens.access.clone()),
            r#"Bearer realm="image-upload", error="invalid_token""#,
        ),
    ];
    for (what, token, challenge) in &cases {
        for (method, path, body) in [
            (reqwest::Method::GET, "/images", None),
            (
                reqwest::Method::POST,
                "/upload",
                Some(json!({"fileName": "x.jpg", "fileType": "image/jpeg"})),
            ),
        ] {
            let (status, got_challenge, reply) =
                call(&app, token.as_deref(), method.clone(), path, body).await;
            assert_eq!(status, 401, "{what}, {method} {path}: {reply}");
            assert_eq!(got_challenge.as_deref(), Some(*challenge), "{what}");
            assert_eq!(reply["error"]["code"], "UNAUTHORIZED", "{what}");
        }
    }
    assert!(
        app.all_items().await.is_empty(),
        "no refused request wrote a row"
    );

    // Control: the same user's real ID token is accepted, so the refusals above are about the tokens.
    let (status, _, page) = call(
        &app,
        Some(&tokens.id),
        reqwest::Method::GET,
        "/images",
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    // moto's tokens live an hour; an expired one is minted with the TEST-ONLY key, for this pool's
    // issuer and app client, and the app is pointed at a key set holding that key.
    let pool = local_cognito().await.pool().await;
    let user = pool.user("dan").await;
    let keys = KeyServer::start(key_set(&["test-key-a"])).await;
    let app = spawn_verifying_app(&TokenSettings {
        jwks_url: keys.url.clone(),
        ..pool.tokens.clone()
    })
    .await;
    let claims = id_claims(&pool.tokens.issuer, &pool.client_id, &user.sub);
    let mut expired = claims.clone();
    expired["iat"] = (now() - 3600 - 600).into();
    expired["exp"] = (now() - 600).into();

    let (fresh_status, _, fresh) = call(
        &app,
        Some(&mint(KEY_A, Some("test-key-a"), &claims)),
        reqwest::Method::GET,
        "/images",
        None,
    )
    .await;
    let (status, challenge, reply) = call(
        &app,
        Some(&mint(KEY_A, Some("test-key-a"), &expired)),
        reqwest::Method::GET,
        "/images",
        None,
    )
    .await;

    assert_eq!(
        fresh_status, 200,
        "control, the same token unexpired: {fresh}"
    );
    assert_eq!(status, 401, "{reply}");
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer realm="image-upload", error="invalid_token""#)
    );
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{reply}"
    );
}
