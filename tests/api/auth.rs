//! Token verification (the local server with AUTH_*): every check the Cognito authorizer makes,
//! against tokens minted with the TEST-ONLY keys of fixtures/auth and a key set served locally;
//! and what a refused request looks like over HTTP.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use image_upload::api::{WWW_AUTHENTICATE_BEARER, WWW_AUTHENTICATE_INVALID_TOKEN};
use image_upload::auth::{
    AuthError, AuthRejection, FETCH_TIMEOUT, JwksError, MAX_TOKEN_BYTES, TokenVerifier,
};
use image_upload::config::TokenSettings;
use serde_json::{Value, json};

use crate::helpers::{app, recording_put_item, send, settings};
use crate::test_tokens::{
    KEY_A, KEY_A_PUBLIC_PEM, KEY_B, KeyServer, id_claims, key_set, mint, mint_hs256, now, unsigned,
};

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool";
const CLIENT_ID: &str = "test-client-id";
const SUB: &str = "5b1c3c1e-0000-4000-8000-00000000000a";

fn token_settings(jwks_url: &str) -> TokenSettings {
    TokenSettings {
        issuer: ISSUER.into(),
        audience: CLIENT_ID.into(),
        jwks_url: jwks_url.into(),
    }
}

fn claims() -> Value {
    id_claims(ISSUER, CLIENT_ID, SUB)
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

fn rejection(result: Result<impl std::fmt::Debug, AuthError>) -> AuthRejection {
    match result {
        Err(AuthError::Rejected(rejection)) => rejection,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_id_token_names_its_owner() {
    let keys = KeyServer::start(key_set(&["test-key-a"])).await;
    let verifier = TokenVerifier::new(&token_settings(&keys.url)).unwrap();

    let owner = verifier
        .verify(&mint(KEY_A, Some("test-key-a"), &claims()))
        .await
        .unwrap();

    assert_eq!(owner.as_ref(), SUB);
    assert_eq!(keys.hits(), 1);
}

#[tokio::test]
async fn every_forged_or_unfit_token_is_refused_for_its_own_reason() {
    let keys = KeyServer::start(key_set(&["test-key-a"])).await;
    let verifier = TokenVerifier::new(&token_settings(&keys.url)).unwrap();
    let a = Some("test-key-a");
    let t = now();
    let cases: Vec<(&str, String, AuthRejection)> = vec![
        (
            "signed by another key under our kid",
            mint(KEY_B, a, &claims()),
            AuthRejection::BadSignature,
        ),
        (
            "HS256 with our public key as the HMAC secret (algorithm confusion)",
            mint_hs256(KEY_A_PUBLIC_PEM, a, &claims()),
            AuthRejection::WrongAlgorithm,
        ),
        (
            "alg none, no signature",
            unsigned("test-key-a", &claims()),
            AuthRejection::Malformed(String::new()),
        ),
        (
            "another user pool",
            mint(
                KEY_A,
                a,
                &with(claims(), json!({"iss": format!("{ISSUER}x")})),
            ),
            AuthRejection::WrongIssuer,
        ),
        (
            "no issuer",
            mint(KEY_A, a, &with(claims(), json!({"iss": null}))),
            AuthRejection::MissingClaim("iss".into()),
        ),
        (
            "another app client",
            mint(KEY_A, a, &with(claims(), json!({"aud": "other-client"}))),
            AuthRejection::WrongAudience,
        ),
        (
            "an access token as Cognito makes them (client_id, no aud)",
            mint(
                KEY_A,
                a,
                &with(
                    claims(),
                    json!({"aud": null, "client_id": CLIENT_ID, "token_use": "access"}),
                ),
            ),
            AuthRejection::MissingClaim("aud".into()),
        ),
        (
            "an access token that names our client as audience",
            mint(KEY_A, a, &with(claims(), json!({"token_use": "access"}))),
            AuthRejection::NotAnIdToken,
        ),
        (
            "no token_use",
            mint(KEY_A, a, &with(claims(), json!({"token_use": null}))),
            AuthRejection::NotAnIdToken,
        ),
        (
            "expired two minutes ago (beyond the 60 s leeway)",
            mint(
                KEY_A,
                a,
                &with(claims(), json!({"iat": t - 3720, "exp": t - 120})),
            ),
            AuthRejection::Expired,
        ),
        (
            "no expiry",
            mint(KEY_A, a, &with(claims(), json!({"exp": null}))),
            AuthRejection::MissingClaim("exp".into()),
        ),
        (
            "not valid for five minutes",
            mint(KEY_A, a, &with(claims(), json!({"nbf": t + 300}))),
            AuthRejection::NotYetValid,
        ),
        (
            "issued five minutes in the future",
            mint(KEY_A, a, &with(claims(), json!({"iat": t + 300}))),
            AuthRejection::IssuedInFuture,
        ),
        (
            "no iat",
            mint(KEY_A, a, &with(claims(), json!({"iat": null}))),
            AuthRejection::MissingClaim("iat".into()),
        ),
        (
            "no sub",
            mint(KEY_A, a, &with(claims(), json!({"sub": null}))),
            AuthRejection::MissingClaim("sub".into()),
        ),
        (
            "an empty sub",
            mint(KEY_A, a, &with(claims(), json!({"sub": ""}))),
            AuthRejection::MissingClaim("sub".into()),
        ),
        (
            "no kid",
            mint(KEY_A, None, &claims()),
            AuthRejection::Malformed(String::new()),
        ),
        (
            "not a JWT",
            "abc.def.ghi".into(),
            AuthRejection::Malformed(String::new()),
        ),
        (
            "a header that is not JSON",
            format!("{}.e30.AAAA", base64_url("{not json")),
            AuthRejection::Malformed(String::new()),
        ),
        (
            "one segment",
            "eyJhbGciOiJSUzI1NiJ9".into(),
            AuthRejection::Malformed(String::new()),
        ),
        (
            "longer than the bound",
            format!(
                "{}.{}",
                mint(KEY_A, a, &claims()),
                "A".repeat(MAX_TOKEN_BYTES)
            ),
            AuthRejection::TokenTooLong,
        ),
    ];
    for (what, token, expected) in cases {
        let got = rejection(verifier.verify(&token).await);
        match (&expected, &got) {
            // The decoder's own wording is not ours to pin.
            (AuthRejection::Malformed(_), AuthRejection::Malformed(_)) => {}
            _ => assert_eq!(got, expected, "{what}"),
        }
    }
    assert_eq!(
        keys.hits(),
        1,
        "all of these name a known kid or none: one fetch in all"
    );
}

#[tokio::test]
async fn expiry_is_forgiven_within_the_leeway_only() {
    let keys = KeyServer::start(key_set(&["test-key-a"])).await;
    let verifier = TokenVerifier::new(&token_settings(&keys.url)).unwrap();
    let t = now();
    let expired_30s = with(claims(), json!({"iat": t - 3630, "exp": t - 30}));
    let expired_90s = with(claims(), json!({"iat": t - 3690, "exp": t - 90}));
    let nbf_in_30s = with(claims(), json!({"nbf": t + 30, "iat": t + 30}));

    assert!(
        verifier
            .verify(&mint(KEY_A, Some("test-key-a"), &expired_30s))
            .await
            .is_ok()
    );
    assert!(
        verifier
            .verify(&mint(KEY_A, Some("test-key-a"), &nbf_in_30s))
            .await
            .is_ok(),
        "a clock 30 s behind the issuer's"
    );
    assert_eq!(
        rejection(
            verifier
                .verify(&mint(KEY_A, Some("test-key-a"), &expired_90s))
                .await
        ),
        AuthRejection::Expired
    );
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_key_set_once_per_interval() {
    // The pool rotates to key B after the verifier cached key A.
    let keys = KeyServer::start(key_set(&["test-key-a"])).await;
    let verifier = TokenVerifier::new(&token_settings(&keys.url)).unwrap();
    let known = mint(KEY_A, Some("test-key-a"), &claims());
    assert!(verifier.verify(&known).await.is_ok());
    assert_eq!(keys.hits(), 1);
    keys.serve(key_set(&["test-key-a", "test-key-b"]));

    let rotated = verifier
        .verify(&mint(KEY_B, Some("test-key-b"), &claims()))
        .await;
    assert_eq!(rotated.unwrap().as_ref(), SUB, "the new key is found");
    assert_eq!(keys.hits(), 2, "exactly one refetch for the new kid");

    // A flood of made-up kids within the interval: no request reaches the key server.
    for n in 0..50 {
        let kid = format!("made-up-{n}");
        let forged = mint(KEY_B, Some(&kid), &claims());
        assert_eq!(
            rejection(verifier.verify(&forged).await),
            AuthRejection::UnknownKey
        );
    }
    assert_eq!(keys.hits(), 2, "the refetch is rate-limited");
    assert_eq!(verifier.key_set_fetches(), 2);
    assert!(
        verifier.verify(&known).await.is_ok(),
        "cached keys still work"
    );
}

#[tokio::test]
async fn after_the_interval_an_unknown_kid_may_refetch_again() {
    let keys = KeyServer::start(key_set(&["test-key-a"])).await;
    let verifier =
        TokenVerifier::with_refetch_interval(&token_settings(&keys.url), Duration::ZERO).unwrap();
    let forged = mint(KEY_B, Some("made-up"), &claims());

    for _ in 0..3 {
        assert_eq!(
            rejection(verifier.verify(&forged).await),
            AuthRejection::UnknownKey
        );
    }

    assert_eq!(keys.hits(), 3, "an interval of zero refetches every time");
}

#[tokio::test]
async fn an_unreachable_key_set_is_unavailable_not_a_bad_token_and_is_not_hammered() {
    // A port nobody listens on: bind one, note it, close it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/jwks.json");
    let verifier = TokenVerifier::new(&token_settings(&url)).unwrap();
    let token = mint(KEY_A, Some("test-key-a"), &claims());

    let first = verifier.verify(&token).await;
    let second = verifier.verify(&token).await;

    assert!(
        matches!(
            first,
            Err(AuthError::KeysUnavailable(JwksError::Fetch { .. }))
        ),
        "{first:?}"
    );
    assert!(
        matches!(
            second,
            Err(AuthError::KeysUnavailable(JwksError::RecentlyFailed(_)))
        ),
        "{second:?}"
    );
    assert_eq!(verifier.key_set_fetches(), 1);
}

/// Paused time: the runtime jumps the clock while it waits on the silent server, so the bound is
/// checked without a real five-second wait (and without a timer in the assertion).
#[tokio::test(start_paused = true)]
async fn a_key_server_that_never_answers_is_cut_off_at_the_fetch_timeout() {
    // Connections complete (the kernel accepts them into the backlog) but nobody ever reads.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", silent.local_addr().unwrap());
    let verifier = TokenVerifier::new(&token_settings(&url)).unwrap();
    let started = tokio::time::Instant::now();

    let result = verifier
        .verify(&mint(KEY_A, Some("test-key-a"), &claims()))
        .await;

    assert!(
        matches!(
            result,
            Err(AuthError::KeysUnavailable(JwksError::TimedOut { .. }))
        ),
        "{result:?}"
    );
    assert_eq!(
        started.elapsed(),
        FETCH_TIMEOUT,
        "cut off at the bound, on the paused clock"
    );
}

#[tokio::test]
async fn a_key_set_that_is_too_large_or_not_one_is_refused() {
    let huge = json!({"keys": [], "padding": "x".repeat(100 * 1024)}).to_string();
    let cases = [
        (huge, "too large"),
        ("<html>nope</html>".to_owned(), "not JSON"),
        (json!({"keys": [{"kty": "EC", "kid": "test-key-a", "crv": "P-256", "x": "AA", "y": "AA"}]}).to_string(), "no RSA key"),
    ];
    for (body, what) in cases {
        let keys = KeyServer::start(body).await;
        let verifier = TokenVerifier::new(&token_settings(&keys.url)).unwrap();
        let result = verifier
            .verify(&mint(KEY_A, Some("test-key-a"), &claims()))
            .await;
        let matched = match what {
            "too large" => matches!(
                result,
                Err(AuthError::KeysUnavailable(JwksError::TooLarge { .. }))
            ),
            "not JSON" => matches!(
                result,
                Err(AuthError::KeysUnavailable(JwksError::NotAKeySet { .. }))
            ),
            _ => matches!(
                result,
                Err(AuthError::KeysUnavailable(JwksError::NoUsableKeys { .. }))
            ),
        };
        assert!(matched, "{what}: {result:?}");
    }
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

// Over HTTP: the router with AUTH_* set.

fn verifying(jwks_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AUTH_ISSUER", ISSUER.to_owned()),
        ("AUTH_AUDIENCE", CLIENT_ID.to_owned()),
        ("AUTH_JWKS_URL", jwks_url.to_owned()),
    ]
}

fn upload_request(authorization: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/upload").header("content-type", "application/json");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request
        .body(Body::from(
            json!({"fileName": "a.png", "fileType": "image/png"}).to_string(),
        ))
        .unwrap()
}

#[tokio::test]
async fn over_http_a_valid_token_uploads_as_its_subject() {
    let keys = KeyServer::start(key_set(&["test-key-a"])).await;
    let vars = verifying(&keys.url);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (put_item, written) = recording_put_item();
    let app = app(&settings(&vars), &[&put_item]);
    let token = mint(KEY_A, Some("test-key-a"), &claims());

    let reply = send(&app, upload_request(Some(&format!("Bearer {token}")))).await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(written.lock().unwrap()[0]["owner"].as_s().unwrap(), SUB);
}

#[tokio::test]
async fn over_http_refusals_are_401_with_a_bearer_challenge_and_our_error_shape() {
    let keys = KeyServer::start(key_set(&["test-key-a"])).await;
    let vars = verifying(&keys.url);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (put_item, written) = recording_put_item();
    let app = app(&settings(&vars), &[&put_item]);
    let expired = mint(
        KEY_A,
        Some("test-key-a"),
        &with(claims(), json!({"iat": now() - 4000, "exp": now() - 400})),
    );
    let forged = mint(KEY_B, Some("test-key-a"), &claims());
    let huge = format!("Bearer {}", "A".repeat(MAX_TOKEN_BYTES + 1));
    let cases: [(&str, Option<&str>, &str); 6] = [
        ("no header", None, WWW_AUTHENTICATE_BEARER),
        (
            "another scheme",
            Some("Basic dXNlcjpwYXNz"),
            WWW_AUTHENTICATE_BEARER,
        ),
        (
            "Bearer without a token",
            Some("Bearer "),
            WWW_AUTHENTICATE_BEARER,
        ),
        (
            "a forged token",
            Some(&format!("Bearer {forged}")),
            WWW_AUTHENTICATE_INVALID_TOKEN,
        ),
        (
            "an expired token",
            Some(&format!("Bearer {expired}")),
            WWW_AUTHENTICATE_INVALID_TOKEN,
        ),
        (
            "an oversize token",
            Some(&huge),
            WWW_AUTHENTICATE_INVALID_TOKEN,
        ),
    ];
    for (what, authorization, challenge) in cases {
        let reply = send(&app, upload_request(authorization)).await;

        assert_eq!(reply.status, 401, "{what}: {}", reply.body);
        assert_eq!(reply.headers["www-authenticate"], challenge, "{what}");
        assert_eq!(reply.error_code(), "UNAUTHORIZED", "{what}");
        assert!(reply.body["error"]["requestId"].is_string(), "{what}");
        assert_eq!(reply.headers["content-type"], "application/json", "{what}");
    }
    let expired_reply = send(&app, upload_request(Some(&format!("Bearer {expired}")))).await;
    assert!(
        expired_reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "the client may learn that it should sign in again"
    );
    assert!(written.lock().unwrap().is_empty());
}

#[tokio::test]
async fn over_http_a_key_set_outage_is_503_without_detail() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/secret-path/jwks.json");
    let vars = verifying(&url);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = app(&settings(&vars), &[]);
    let token = mint(KEY_A, Some("test-key-a"), &claims());

    let reply = send(&app, upload_request(Some(&format!("Bearer {token}")))).await;

    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.error_code(), "SERVICE_UNAVAILABLE");
    assert!(reply.headers.get("www-authenticate").is_none());
    let text = reply.body.to_string();
    assert!(
        !text.contains("secret-path") && !text.contains(&port.to_string()),
        "{text}"
    );
}

#[tokio::test]
async fn over_http_a_preflight_needs_no_token() {
    let keys = KeyServer::start(key_set(&["test-key-a"])).await;
    let vars = verifying(&keys.url);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = app(&settings(&vars), &[]);
    let preflight = Request::options("/upload")
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .body(Body::empty())
        .unwrap();

    let reply = send(&app, preflight).await;

    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.headers["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert!(
        reply.headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    assert_eq!(keys.hits(), 0, "no key was needed");
}
