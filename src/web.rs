//! The upload page on the local server (`just dev`, `just dev-auth`): the files of `web/site/`,
//! the page's `/config.json` made from [`Settings`], and the API description at `/openapi.yaml`,
//! in front of the API [`App`], which gets every other request unchanged.
//!
//! The Lambda function serves none of this: a deployment hosts `web/site/` as static files with
//! a `config.json` written from the stack's outputs (`just web-site DIR`, docs/web.md).
//! The files are compiled in (`include_str!`), so the server needs no working directory and
//! serves exactly the page of its own commit; cargo rebuilds it when a file changes.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::api::App;
use crate::config::{AuthSettings, Settings, regional_cognito_endpoint};

/// The API description, exactly as committed at the repository's root.
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");

/// One file of the page: its URL path, content type and contents.
struct PageFile {
    path: &'static str,
    content_type: &'static str,
    contents: &'static str,
}

/// A file of `web/site/` by name, compiled in.
macro_rules! page_file {
    ($name:literal, $content_type:literal) => {
        PageFile {
            path: concat!("/", $name),
            content_type: $content_type,
            contents: include_str!(concat!("../web/site/", $name)),
        }
    };
}

/// Every file of `web/site/`, and nothing else of `web/` (tests, `package.json` and
/// `node_modules` stay private). A test checks that this list and the folder agree.
const PAGE_FILES: [PageFile; 8] = [
    INDEX,
    page_file!("style.css", "text/css; charset=utf-8"),
    page_file!("app.js", "text/javascript; charset=utf-8"),
    page_file!("api.js", "text/javascript; charset=utf-8"),
    page_file!("auth.js", "text/javascript; charset=utf-8"),
    page_file!("messages.js", "text/javascript; charset=utf-8"),
    page_file!("multipart.js", "text/javascript; charset=utf-8"),
    page_file!("config.example.json", "application/json"),
];

/// The page itself, served at `/` as well as at its own path.
const INDEX: PageFile = page_file!("index.html", "text/html; charset=utf-8");

/// What the page reads from `config.json`: where the API is, how to sign in, and the upload
/// limits it checks before asking the API (which stays the authority).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageConfig {
    /// The API's base URL (a deployment's `ApiUrl`, stage included); empty for the page's own
    /// origin, as on the local server.
    pub api_url: String,
    /// `None` (JSON `null`) when the API serves anonymous callers: the page shows no sign-in.
    pub auth: Option<PageAuth>,
    pub limits: PageLimits,
}

/// The Cognito app client the page signs in with (`USER_PASSWORD_AUTH`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageAuth {
    pub region: String,
    pub user_pool_client_id: String,
    /// Where the Cognito JSON API answers: the emulator locally, else
    /// `https://cognito-idp.<region>.amazonaws.com/`.
    pub cognito_endpoint: String,
}

/// The upload rules the page checks in the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageLimits {
    pub max_upload_bytes: u64,
    /// MIME types, e.g. `image/jpeg`.
    pub allowed_types: Vec<&'static str>,
}

impl PageConfig {
    /// The configuration of the page served by the local server with `settings`.
    /// `cognito_endpoint` is the local Cognito's, when there is one
    /// ([`Endpoints::cognito`](crate::config::Endpoints::cognito)).
    ///
    /// Sign-in is offered only when the server verifies tokens itself: that is the only mode in
    /// which the local server can tell who calls (API Gateway's authorizer is not there).
    pub fn for_local_server(settings: &Settings, cognito_endpoint: Option<&str>) -> Self {
        let auth = match &settings.auth {
            AuthSettings::VerifyTokens(tokens) => Some(PageAuth {
                region: settings.region.clone(),
                user_pool_client_id: tokens.audience.clone(),
                cognito_endpoint: cognito_endpoint
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map_or_else(
                        || regional_cognito_endpoint(&settings.region),
                        str::to_owned,
                    ),
            }),
            AuthSettings::Authorizer { .. } => None,
        };
        Self {
            api_url: String::new(),
            auth,
            limits: PageLimits {
                max_upload_bytes: settings.upload.max_bytes,
                allowed_types: settings
                    .upload
                    .allowed_types
                    .iter()
                    .map(|t| t.mime())
                    .collect(),
            },
        }
    }
}

/// The page, its configuration and the API description in front of `api`, which answers every
/// other request (the API routes, its JSON 404 and 405, CORS, request ids) as it would alone.
pub fn site(api: App, config: &PageConfig) -> Router {
    let config_json = serde_json::to_string_pretty(config).expect("the page config serializes");
    // Other methods on these paths go to the API too, which answers them in its own error shape.
    let mut router = Router::new()
        .route(
            "/",
            get(|| async { page_file(&INDEX) }).fallback_service(api.clone()),
        )
        .route(
            "/config.json",
            get(move || {
                let body = config_json.clone();
                async move { static_response("application/json", body) }
            })
            .fallback_service(api.clone()),
        )
        .route(
            "/openapi.yaml",
            get(|| async { static_response("application/yaml", OPENAPI_YAML) })
                .fallback_service(api.clone()),
        );
    for file in &PAGE_FILES {
        router = router.route(
            file.path,
            get(move || async move { page_file(file) }).fallback_service(api.clone()),
        );
    }
    router.fallback_service(api)
}

/// The page's Content Security Policy as the local server sends it. Scripts only from the page's
/// own files: a file name shown in the gallery cannot run as code even if some rendering path
/// forgot to escape it. Images and uploads go to the bucket's host and sign-in to Cognito's, which
/// differ per deployment, so those stay open.
///
/// This header protects the page only where this server serves it (`just dev`, `just dev-auth`).
/// A deployment's static host sends no such header, so `web/site/index.html` carries the same
/// policy in a `<meta http-equiv>` (a test keeps the two equal), minus `frame-ancestors`, which
/// browsers ignore in a `<meta>`: framing protection there is the host's header to send.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' http: https: blob: data:; connect-src 'self' http: https:; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

fn page_file(file: &'static PageFile) -> Response {
    let mut response = static_response(file.content_type, file.contents);
    if file.content_type.starts_with("text/html") {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    response
}

fn static_response(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // Always revalidated: an edited page shows on the next load in `just dev`.
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body.into(),
    )
        .into_response()
}

/// Serves `site` on `listener` until `shutdown` completes (the local server).
///
/// # Errors
/// The listener's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    site: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, site)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::StripStage;
    use crate::config::TokenSettings;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn settings(vars: &[(&str, &str)]) -> Settings {
        Settings::from_lookup_for_local_server(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
    }

    /// A stand-in API that names itself, so a test can tell which side answered.
    fn fake_api() -> App {
        StripStage(Router::new().fallback(|| async { (StatusCode::IM_A_TEAPOT, "api") }))
    }

    async fn get(router: &Router, path: &str) -> (StatusCode, Option<String>, String) {
        let response = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[test]
    fn anonymous_servers_offer_no_sign_in() {
        let config = PageConfig::for_local_server(&settings(&[]), Some("http://127.0.0.1:4567"));
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "apiUrl": "",
                "auth": null,
                "limits": {
                    "maxUploadBytes": 10 * 1024 * 1024,
                    "allowedTypes": [
                        "image/jpeg",
                        "image/png",
                        "image/gif",
                        "image/webp",
                        "image/heic",
                        "image/heif",
                        "image/avif",
                    ],
                },
            })
        );
    }

    #[test]
    fn verifying_servers_offer_sign_in_with_their_app_client() {
        let vars = [
            (
                "AUTH_ISSUER",
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X",
            ),
            ("AUTH_AUDIENCE", "client123"),
            (
                "AUTH_JWKS_URL",
                "http://127.0.0.1:4567/eu-west-1_X/.well-known/jwks.json",
            ),
            ("AWS_REGION", "eu-west-1"),
            ("MAX_UPLOAD_BYTES", "1000"),
            ("ALLOWED_FILE_TYPES", "image/png"),
        ];
        let settings = settings(&vars);
        assert!(matches!(
            settings.auth,
            AuthSettings::VerifyTokens(TokenSettings { .. })
        ));
        let local = PageConfig::for_local_server(&settings, Some("http://127.0.0.1:4567"));
        assert_eq!(
            local.auth,
            Some(PageAuth {
                region: "eu-west-1".into(),
                user_pool_client_id: "client123".into(),
                cognito_endpoint: "http://127.0.0.1:4567".into(),
            })
        );
        assert_eq!(local.limits.max_upload_bytes, 1000);
        assert_eq!(local.limits.allowed_types, ["image/png"]);
        for unset in [None, Some(""), Some("  ")] {
            let aws = PageConfig::for_local_server(&settings, unset);
            assert_eq!(
                aws.auth.unwrap().cognito_endpoint,
                "https://cognito-idp.eu-west-1.amazonaws.com/",
                "endpoint {unset:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_page_its_config_and_the_description_are_served_and_the_rest_goes_to_the_api() {
        let config = PageConfig::for_local_server(&settings(&[]), None);
        let site = site(fake_api(), &config);

        let (status, content_type, body) = get(&site, "/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
        assert_eq!(body, INDEX.contents);

        let (status, content_type, body) = get(&site, "/config.json").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some("application/json"));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            serde_json::to_value(&config).unwrap()
        );

        let (status, content_type, body) = get(&site, "/openapi.yaml").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some("application/yaml"));
        assert_eq!(body, OPENAPI_YAML);

        for file in &PAGE_FILES {
            let (status, content_type, body) = get(&site, file.path).await;
            assert_eq!(status, StatusCode::OK, "{}", file.path);
            assert_eq!(content_type.as_deref(), Some(file.content_type));
            assert_eq!(body, file.contents, "{}", file.path);
        }

        // Other methods on the page's paths are the API's to answer.
        for path in ["/", "/config.json", "/openapi.yaml", "/app.js"] {
            let response = site
                .clone()
                .oneshot(Request::post(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::IM_A_TEAPOT, "POST {path}");
        }

        // The test tooling beside the page is never served, nor anything outside the list.
        for path in [
            "/images",
            "/upload",
            "/package.json",
            "/node_modules/playwright-core/package.json",
            "/tests/browser.test.mjs",
            "/site/index.html",
            "/../Cargo.toml",
        ] {
            let (status, _, body) = get(&site, path).await;
            assert_eq!(
                (status, body.as_str()),
                (StatusCode::IM_A_TEAPOT, "api"),
                "{path}"
            );
        }
    }

    #[test]
    fn the_page_carries_the_servers_policy_for_static_hosts() {
        let directives = |policy: &str| -> Vec<String> {
            policy
                .split(';')
                .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|d| !d.is_empty())
                .collect()
        };
        let html = INDEX.contents;
        let start = html
            .find(r#"<meta http-equiv="Content-Security-Policy" content=""#)
            .expect("index.html has a CSP <meta>");
        let rest = &html[start..];
        let content = rest.split('"').nth(3).expect("the <meta>'s content");
        let expected: Vec<String> = directives(CONTENT_SECURITY_POLICY)
            .into_iter()
            .filter(|d| !d.starts_with("frame-ancestors"))
            .collect();
        assert_eq!(directives(content), expected);
        // Before the first script and stylesheet, or those would load unchecked.
        assert!(start < html.find("<script").unwrap() && start < html.find("<link").unwrap());
    }

    #[test]
    fn every_file_of_the_site_folder_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/site");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| format!("/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        on_disk.sort();
        let mut served: Vec<String> = PAGE_FILES.iter().map(|f| f.path.to_owned()).collect();
        served.sort();
        assert_eq!(served, on_disk, "PAGE_FILES and web/site/ disagree");
    }
}
