use super::*;
use crate::domain::Renditions;
use std::collections::HashMap;

fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|name| vars.get(name).cloned())
}

#[test]
fn defaults_suit_the_local_stack() {
    let s = settings(&[]).unwrap();
    assert_eq!(s.bucket_name, "image-upload-local");
    assert_eq!(s.table_name, "ImageMetadata");
    assert_eq!(s.region, "us-east-1");
    assert_eq!(s.upload.max_bytes, 10 * 1024 * 1024);
    assert_eq!(s.upload.url_expiry, Duration::from_secs(300));
    assert_eq!(s.listen_addr.to_string(), "127.0.0.1:3000");
    assert_eq!(
        s.allowed_origins,
        ["http://localhost:3000", "http://127.0.0.1:3000"]
    );
    assert_eq!(s.log_format, LogFormat::Text);
    assert_eq!(s.processing, ProcessingPolicy::default());
    assert_eq!(s.queue_url, None);
    assert_eq!(
        s.auth,
        AuthSettings::Authorizer {
            allow_anonymous: false,
            client_id: None,
        },
        "a deployment refuses callers the authorizer did not identify"
    );
}

const AUTH: [(&str, &str); 3] = [
    (
        "AUTH_ISSUER",
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc",
    ),
    ("AUTH_AUDIENCE", "client123"),
    (
        "AUTH_JWKS_URL",
        "http://127.0.0.1:4567/us-east-1_abc/.well-known/jwks.json",
    ),
];

fn local_settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup_for_local_server(|name| vars.get(name).cloned())
}

#[test]
fn all_three_auth_variables_turn_on_token_verification() {
    let s = settings(&AUTH).unwrap();
    assert_eq!(
        s.auth,
        AuthSettings::VerifyTokens(TokenSettings {
            issuer: AUTH[0].1.into(),
            audience: AUTH[1].1.into(),
            jwks_url: AUTH[2].1.into(),
        })
    );
    assert_eq!(local_settings(&AUTH).unwrap().auth, s.auth);
}

#[test]
fn key_sets_come_over_tls_or_from_this_machine() {
    for url in [
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json",
        "http://127.0.0.1:4567/pool/.well-known/jwks.json",
        "http://localhost:4567/pool/.well-known/jwks.json",
        "http://[::1]:4567/pool/.well-known/jwks.json",
        "http://127.0.0.1/jwks",
    ] {
        let s = settings(&[AUTH[0], AUTH[1], ("AUTH_JWKS_URL", url)]);
        assert!(s.is_ok(), "{url}: {s:?}");
    }
}

#[test]
fn the_authorizer_can_be_held_to_one_app_client() {
    let s = settings(&[("AUTHORIZER_CLIENT_ID", "web-client")]).unwrap();
    assert_eq!(
        s.auth,
        AuthSettings::Authorizer {
            allow_anonymous: false,
            client_id: Some("web-client".into()),
        }
    );
}

#[test]
fn the_local_server_is_anonymous_unless_told_otherwise() {
    let cases: [(&[(&str, &str)], bool); 4] = [
        (&[], true),
        (&[("ALLOW_ANONYMOUS", "false")], false),
        (&[("ALLOW_ANONYMOUS", "")], true),
        (&[("ALLOW_ANONYMOUS", "true")], true),
    ];
    for (vars, anonymous) in cases {
        assert_eq!(
            local_settings(vars).unwrap().auth,
            AuthSettings::Authorizer {
                allow_anonymous: anonymous,
                client_id: None,
            },
            "{vars:?}"
        );
    }
    assert_eq!(
        settings(&[("ALLOW_ANONYMOUS", "true")]).unwrap().auth,
        AuthSettings::Authorizer {
            allow_anonymous: true,
            client_id: None,
        }
    );
}

#[test]
fn an_anonymous_local_server_listens_beyond_loopback_only_when_told_to() {
    let network = ("LISTEN_ADDR", "0.0.0.0:3000");
    let err = local_settings(&[network]).unwrap_err().to_string();
    assert!(
        err.contains("LISTEN_ADDR") && err.contains("ANONYMOUS_BEYOND_LOOPBACK"),
        "{err}"
    );
    assert!(local_settings(&[network, ("ALLOW_ANONYMOUS", "true")]).is_err());
    assert!(local_settings(&[("LISTEN_ADDR", "192.168.1.20:3000")]).is_err());
    assert!(local_settings(&[network, ("ANONYMOUS_BEYOND_LOOPBACK", "false")]).is_err());
    assert!(local_settings(&[network, ("ANONYMOUS_BEYOND_LOOPBACK", "true")]).is_ok());
    assert!(local_settings(&[("LISTEN_ADDR", "[::1]:3000")]).is_ok());
    // Verifying tokens, nobody is anonymous: any address will do.
    let verifying = [network, AUTH[0], AUTH[1], AUTH[2]];
    assert!(local_settings(&verifying).is_ok());
    // Without a sign-in, a deployment's reading (API Gateway) is not anonymous either.
    assert!(local_settings(&[network, ("ALLOW_ANONYMOUS", "false")]).is_ok());
}

#[test]
fn the_tools_read_no_authentication_settings() {
    // What a deployment's or a shell's environment may hold, even what `from_env` refuses.
    let cases: [&[(&str, &str)]; 4] = [
        &[],
        &[("ALLOW_ANONYMOUS", "false")],
        &[
            ("ALLOW_ANONYMOUS", "maybe"),
            ("AUTHORIZER_CLIENT_ID", "abc"),
        ],
        &[("AUTH_ISSUER", "not a url"), ("ALLOW_ANONYMOUS", "true")],
    ];
    for vars in cases {
        let map: HashMap<String, String> = vars
            .iter()
            .chain(&[("TABLE_NAME", "images-of-a-tool")])
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let tools = Settings::from_lookup_for_tools(|name| map.get(name).cloned()).unwrap();
        assert_eq!(tools.table_name, "images-of-a-tool", "{vars:?}");
    }
    assert!(settings(&[("ALLOW_ANONYMOUS", "maybe")]).is_err());
}

#[test]
fn auth_settings_that_do_not_fit_together_are_refused() {
    let cases: [(&[(&str, &str)], &str); 9] = [
        (
            &[
                AUTH[0],
                AUTH[1],
                ("AUTH_JWKS_URL", "http://keys.example.com/jwks.json"),
            ],
            "AUTH_JWKS_URL",
        ),
        (
            &[
                AUTH[0],
                AUTH[1],
                ("AUTH_JWKS_URL", "http://127.0.0.1@evil.example/jwks.json"),
            ],
            "AUTH_JWKS_URL",
        ),
        (
            &[
                AUTH[0],
                AUTH[1],
                ("AUTH_JWKS_URL", "http://127.0.0.1.evil.example/k"),
            ],
            "AUTH_JWKS_URL",
        ),
        (
            &[
                AUTH[0],
                AUTH[1],
                AUTH[2],
                ("AUTHORIZER_CLIENT_ID", "client123"),
            ],
            "AUTHORIZER_CLIENT_ID",
        ),
        (&AUTH[..1], "AUTH_ISSUER"),
        (&AUTH[1..], "AUTH_AUDIENCE"),
        (&[AUTH[0], AUTH[2]], "AUTH_ISSUER"),
        (
            &[AUTH[0], AUTH[1], ("AUTH_JWKS_URL", "file:///etc/keys")],
            "AUTH_JWKS_URL",
        ),
        (
            &[AUTH[0], AUTH[1], AUTH[2], ("ALLOW_ANONYMOUS", "true")],
            "ALLOW_ANONYMOUS",
        ),
    ];
    for (vars, named) in cases {
        let err = settings(vars).unwrap_err().to_string();
        assert!(err.contains(named), "{vars:?}: {err}");
        let err = local_settings(vars).unwrap_err().to_string();
        assert!(err.contains(named), "local server, {vars:?}: {err}");
    }
}

#[test]
fn processing_limits_come_from_the_environment() {
    let s = settings(&[
        ("MAX_UPLOAD_BYTES", "1000"),
        ("MAX_IMAGE_WIDTH", "800"),
        ("MAX_IMAGE_HEIGHT", "600"),
        ("MAX_IMAGE_PIXELS", "400000"),
        ("RENDITIONS", "thumbnail:128,display:1024"),
    ])
    .unwrap();
    assert_eq!(
        s.processing,
        ProcessingPolicy {
            max_bytes: 1000,
            max_width: 800,
            max_height: 600,
            max_pixels: 400_000,
            renditions: Renditions::parse("display:1024,thumbnail:128").unwrap(),
        }
    );
}

#[test]
fn original_design_names_and_lambda_are_honoured() {
    let s = settings(&[
        ("BUCKET_NAME", "b"),
        ("TABLE_NAME", "T"),
        ("REGION", "eu-west-1"),
        ("AWS_REGION", "us-west-2"),
        ("AWS_LAMBDA_FUNCTION_NAME", "ImageUploadHandler"),
    ])
    .unwrap();
    assert_eq!(
        (
            s.bucket_name.as_str(),
            s.table_name.as_str(),
            s.region.as_str()
        ),
        ("b", "T", "eu-west-1")
    );
    assert_eq!(s.log_format, LogFormat::Json);
}

#[test]
fn refuses_each_unusable_value_naming_the_variable() {
    let cases = [
        ("UPLOAD_URL_EXPIRY_SECONDS", "3601"),
        ("UPLOAD_URL_EXPIRY_SECONDS", "0"),
        ("MAX_UPLOAD_BYTES", "-1"),
        ("ALLOWED_FILE_TYPES", "image/svg+xml"),
        ("ALLOWED_ORIGINS", "*"),
        ("ALLOWED_ORIGINS", "https://a.example/"),
        ("REQUIRE_FILE_SIZE", "yes"),
        ("LISTEN_ADDR", "localhost"),
        ("AWS_MAX_ATTEMPTS", "0"),
        ("MAX_IMAGE_WIDTH", "0"),
        ("MAX_IMAGE_PIXELS", "many"),
        ("THUMBNAIL_SIZE", "256"),
        ("RENDITIONS", "display:1600"),
        ("RENDITIONS", "thumbnail:256,display:8000"),
        ("PROCESSOR_CONCURRENCY", "0"),
        ("VIEW_URL_EXPIRY_SECONDS", "7200"),
        ("MAX_UPLOAD_BYTES", "33554433"),
        ("PENDING_TTL_SECONDS", "1199"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "64"),
        ("EMF_METRICS", "yes"),
        ("METRICS_NAMESPACE", "AWS/Lambda"),
        ("METRICS_NAMESPACE", "Image Upload"),
        ("METRICS_NAMESPACE", "Bildérs"),
        ("ALLOW_ANONYMOUS", "yes"),
        ("ALLOWED_HOSTS", "*.example"),
        ("ALLOWED_HOSTS", "devbox.lan:3000"),
        ("ALLOWED_HOSTS", "http://devbox.lan"),
    ];
    for (name, value) in cases {
        let err = settings(&[(name, value)]).unwrap_err();
        assert!(err.to_string().contains(name), "{name}={value}: {err}");
    }
}

#[test]
fn metrics_are_written_in_lambda_unless_turned_off_and_elsewhere_when_asked() {
    let lambda = ("AWS_LAMBDA_FUNCTION_NAME", "ImageUploadApi");
    let cases: [(&[(&str, &str)], bool); 5] = [
        (&[], false),
        (&[lambda], true),
        (&[lambda, ("EMF_METRICS", "false")], false),
        (&[("EMF_METRICS", "true")], true),
        (&[("EMF_METRICS", "1")], true),
    ];
    for (vars, enabled) in cases {
        assert_eq!(settings(vars).unwrap().metrics.enabled, enabled, "{vars:?}");
    }
    assert_eq!(
        settings(&[]).unwrap().metrics.namespace.as_ref(),
        "ImageUpload"
    );
    let custom = settings(&[("METRICS_NAMESPACE", "Team/Image-Upload_2#prod:eu")]).unwrap();
    assert_eq!(
        custom.metrics.namespace.as_ref(),
        "Team/Image-Upload_2#prod:eu"
    );
    let too_long = "N".repeat(MetricsNamespace::MAX_LEN + 1);
    assert!(settings(&[("METRICS_NAMESPACE", too_long.as_str())]).is_err());
}

#[test]
fn a_pending_row_must_outlive_its_upload_url() {
    let longest_url = ("UPLOAD_URL_EXPIRY_SECONDS", "3600");
    let err = settings(&[longest_url, ("PENDING_TTL_SECONDS", "3600")]).unwrap_err();
    assert!(
        err.to_string().contains("PENDING_TTL_SECONDS") && err.to_string().contains("3600"),
        "{err}"
    );
    assert!(settings(&[longest_url, ("PENDING_TTL_SECONDS", "4500")]).is_ok());
    assert!(settings(&[longest_url]).is_ok(), "the default TTL is a day");
    assert!(settings(&[("PENDING_TTL_SECONDS", "1200")]).is_ok());
}

#[test]
fn the_largest_upload_fits_the_processors_budget() {
    let limit = MAX_UPLOAD_BYTES_LIMIT.to_string();
    assert_eq!(
        settings(&[("MAX_UPLOAD_BYTES", limit.as_str())])
            .unwrap()
            .upload
            .max_bytes,
        32 * 1024 * 1024
    );
}

#[test]
fn a_processor_with_too_little_memory_for_its_limits_is_refused() {
    // Defaults: 2 x (4 B x 50,000,000 + 64 MiB) + 64 MiB = 601,326,592 B, 574 MB.
    let needed = settings(&[]).unwrap().processor_memory_needed();
    assert_eq!(needed, 601_326_592);
    for (memory, ok) in [
        ("1024", true),
        ("574", true),
        ("573", false),
        ("512", false),
    ] {
        let s = settings(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory)]).unwrap();
        assert_eq!(s.check_processor_memory().is_ok(), ok, "{memory} MB");
    }
    let err = settings(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")])
        .unwrap()
        .check_processor_memory()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("574 MB") && err.contains("PROCESSOR_CONCURRENCY=2"),
        "{err}"
    );
    let smaller = settings(&[
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("PROCESSOR_CONCURRENCY", "1"),
    ])
    .unwrap();
    assert!(
        smaller.check_processor_memory().is_ok(),
        "1 x 255 MiB + 64 MiB"
    );
    assert!(
        settings(&[]).unwrap().check_processor_memory().is_ok(),
        "outside Lambda there is nothing to check"
    );
}

#[test]
fn the_cdn_is_its_url_key_pair_id_and_one_key_source_or_nothing() {
    assert_eq!(settings(&[]).unwrap().cdn, None);
    let all = [
        ("CDN_URL", "https://d111111abcdef8.cloudfront.net/"),
        ("CDN_KEY_PAIR_ID", "K2JCJMDEHXQW5F"),
        ("CDN_PRIVATE_KEY_FILE", "/keys/cdn.pem"),
    ];
    let cdn = settings(&all).unwrap().cdn.unwrap();
    assert_eq!(cdn.origin.as_str(), "https://d111111abcdef8.cloudfront.net");
    assert_eq!(cdn.window, CDN_URL_WINDOW_DEFAULT);
    assert_eq!(cdn.private_key, CdnKeySource::File("/keys/cdn.pem".into()));
    let mut from_secret = all[..2].to_vec();
    from_secret.push(("CDN_PRIVATE_KEY_SECRET", "images/cdn/private-key-A"));
    assert_eq!(
        settings(&from_secret).unwrap().cdn.unwrap().private_key,
        CdnKeySource::Secret("images/cdn/private-key-A".into())
    );
    let arn =
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:images/cdn/private-key-B-AbCdEf";
    from_secret[2].1 = arn;
    assert_eq!(
        settings(&from_secret).unwrap().cdn.unwrap().private_key,
        CdnKeySource::Secret(arn.into())
    );
    from_secret[2].1 = "images cdn key";
    let err = settings(&from_secret).unwrap_err().to_string();
    assert!(err.contains("CDN_PRIVATE_KEY_SECRET"), "{err}");
    let mut both = all.to_vec();
    both.push(("CDN_PRIVATE_KEY_SECRET", "images/cdn/private-key-A"));
    let err = settings(&both).unwrap_err().to_string();
    assert!(err.contains("both set"), "one key, from one place: {err}");
    for left_out in 0..3 {
        let some: Vec<_> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != left_out)
            .map(|(_, v)| *v)
            .collect();
        let err = settings(&some).unwrap_err().to_string();
        assert!(err.contains(all[left_out].0), "{err}");
    }
    for (name, value) in [
        ("CDN_URL", "http://cdn.example.com"),
        ("CDN_KEY_PAIR_ID", "K2JC JMD"),
        ("CDN_URL_WINDOW_SECONDS", "59"),
    ] {
        let mut vars = all.to_vec();
        vars.retain(|(n, _)| *n != name);
        vars.push((name, value));
        let err = settings(&vars).unwrap_err().to_string();
        assert!(err.contains(name), "{name}={value}: {err}");
    }
}

#[test]
fn only_urls_of_this_machine_are_loopback() {
    for url in [
        "http://127.0.0.1:5000",
        "http://127.0.0.1:5000/",
        "https://localhost:4566/path?q=1",
        "http://LOCALHOST",
        "http://[::1]:5000",
        "http://127.1.2.3",
    ] {
        assert!(is_loopback_url(url), "{url}");
    }
    for url in [
        "https://cognito-idp.us-east-1.amazonaws.com",
        "https://cognito-idp.us-east-1.amazonaws.com/127.0.0.1",
        "http://127.0.0.1.nip.io:5000",
        "http://localhost.evil.example",
        "http://moto.localhost:5000",
        "http://127.0.0.1@evil.example",
        "http://evil.example#@127.0.0.1",
        "http://[::2]:5000",
        "http://[::1]x:5000",
        "ftp://127.0.0.1",
        "127.0.0.1:5000",
        "http://",
        "http://192.168.1.20:5000",
    ] {
        assert!(!is_loopback_url(url), "{url}");
    }
}
