//! TEST-ONLY tokens: ID tokens minted with the committed test keys (fixtures/auth, made by
//! `make-test-keys.sh`), and a local server for their key set. Shared by the `api` and `e2e` test
//! binaries (`#[path]`), so each kind of forged token is made in one place.
#![allow(dead_code)] // each binary uses part of it

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// Private keys of the test key set; `kid` is the file name.
pub const KEY_A: &[u8] = include_bytes!("../../fixtures/auth/test-key-a.pem");
pub const KEY_B: &[u8] = include_bytes!("../../fixtures/auth/test-key-b.pem");
/// The public half of key A, as PEM: what an attacker who knows our key set holds.
pub const KEY_A_PUBLIC_PEM: &[u8] = include_bytes!("../../fixtures/auth/test-key-a.pub.pem");
const KEY_SET: &str = include_str!("../../fixtures/auth/jwks.json");

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The claims of a fresh Cognito ID token for `sub` from `issuer` to the app client `audience`.
pub fn id_claims(issuer: &str, audience: &str, sub: &str) -> Value {
    let now = now();
    json!({
        "sub": sub,
        "iss": issuer,
        "aud": audience,
        "token_use": "id",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "cognito:username": "test-user",
        "email": "test@example.com",
    })
}

/// An RS256 token signed with the PEM private key `pem`, naming `kid` in its header.
pub fn mint(pem: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_rsa_pem(pem).expect("a test key");
    jsonwebtoken::encode(&header, claims, &key).expect("minting a test token")
}

/// An HS256 token whose HMAC secret is `secret`: with the RSA public key as the secret, the
/// classic algorithm-confusion forgery.
pub fn mint_hs256(secret: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// A token with `"alg": "none"` and no signature.
pub fn unsigned(kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A key set with the public keys named `kids` (from fixtures/auth/jwks.json).
pub fn key_set(kids: &[&str]) -> String {
    let all: Value = serde_json::from_str(KEY_SET).unwrap();
    let keys: Vec<Value> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| kids.contains(&k["kid"].as_str().unwrap()))
        .cloned()
        .collect();
    json!({ "keys": keys }).to_string()
}

/// A local HTTP server answering every GET with the current body, counting requests.
pub struct KeyServer {
    /// `http://127.0.0.1:{port}/.well-known/jwks.json`
    pub url: String,
    hits: Arc<AtomicUsize>,
    body: Arc<Mutex<String>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl KeyServer {
    /// Serves `body` until dropped.
    pub async fn start(body: String) -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let body = Arc::new(Mutex::new(body));
        let (counter, current) = (hits.clone(), body.clone());
        let router = axum::Router::new().fallback(move || {
            let (counter, current) = (counter.clone(), current.clone());
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = current.lock().unwrap().clone();
                ([("content-type", "application/json")], body)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            url,
            hits,
            body,
            _stop: stop,
        }
    }

    /// How many requests the server has answered.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Serves `body` from now on (a key rotation).
    pub fn serve(&self, body: String) {
        *self.body.lock().unwrap() = body;
    }
}
