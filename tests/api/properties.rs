//! Properties over generated requests: whatever arrives, the API answers 200 or a 4xx in our error
//! shape, and every accepted request yields a key of the one allowed form.

use axum::http::StatusCode;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{anonymous_settings, app, post_upload, recording_put_item, send};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "\\PC{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Requests shaped like uploads, with each field drawn from good values, near misses and wrong types.
fn upload_like() -> impl Strategy<Value = Value> {
    let name = prop_oneof![
        "[a-zA-Z0-9 _.-]{1,40}\\.(jpg|jpeg|png|gif|webp|JPG|svg|txt)".prop_map(Value::String),
        "\\PC{0,300}".prop_map(Value::String),
        any_json(),
    ];
    let mime = prop_oneof![
        prop::sample::select(vec![
            "image/jpeg",
            "image/png",
            "image/gif",
            "image/webp",
            "IMAGE/PNG",
            "image/svg+xml",
            "image/jpeg; q=1",
            ""
        ])
        .prop_map(|s| Value::String(s.into())),
        any_json(),
    ];
    let size = prop_oneof![
        Just(None),
        (-5i64..=20 * 1024 * 1024).prop_map(|n| Some(json!(n))),
        any_json().prop_map(Some),
    ];
    (name, mime, size).prop_map(|(name, mime, size)| {
        let mut body = json!({"fileName": name, "fileType": mime});
        if let Some(size) = size {
            body["fileSize"] = size;
        }
        body
    })
}

fn check_reply(body: Vec<u8>) -> Result<(), TestCaseError> {
    let (put_item, written) = recording_put_item();
    let app = app(&anonymous_settings(&[]), &[&put_item]);
    let reply = runtime().block_on(send(&app, post_upload(body)));
    let key_form = regex_lite::Regex::new(r"^uploads/[0-9a-f-]{36}\.(jpg|png|gif|webp)$").unwrap();
    if reply.status == StatusCode::OK {
        let written = written.lock().unwrap();
        prop_assert_eq!(written.len(), 1);
        let key = written[0]["objectKey"].as_s().unwrap();
        prop_assert!(key_form.is_match(key), "key {key}");
        prop_assert!(
            reply.body["fileUrl"]
                .as_str()
                .unwrap()
                .ends_with(key.as_str())
        );
    } else {
        prop_assert!(
            reply.status.is_client_error(),
            "status {} for {}",
            reply.status,
            reply.body
        );
        prop_assert!(reply.body["error"]["code"].is_string());
        prop_assert!(
            written.lock().unwrap().is_empty(),
            "a refused request wrote a row"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_json_gets_200_or_a_4xx(body in any_json()) {
        check_reply(body.to_string().into_bytes())?;
    }

    #[test]
    fn upload_like_requests_get_200_with_a_safe_key_or_a_4xx(body in upload_like()) {
        check_reply(body.to_string().into_bytes())?;
    }

    #[test]
    fn arbitrary_bytes_get_a_4xx(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        prop_assume!(serde_json::from_slice::<Value>(&bytes).is_err());
        check_reply(bytes)?;
    }
}
