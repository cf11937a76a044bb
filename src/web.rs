//! The upload page on the local server (`just dev`, `just dev-auth`): the files of `web/site/`,
//! the page's `/config.json` made from [`Settings`], and the API description at `/openapi.yaml`,
//! in front of the API [`App`], which gets every other request unchanged.
//!
//! The Lambda function serves none of this: a deployment hosts `web/site/` as static files with
//! a `config.json` written from the stack's outputs (`just web-site DIR`, docs/web.md).
//! The files are compiled in (`include_str!`), so the server needs no working directory and
//! serves exactly the page of its own commit; cargo rebuilds it when a file changes.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::api::App;
use crate::config::{AuthSettings, Settings, is_loopback_host, regional_cognito_endpoint};

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
pub fn site(api: App, config: &PageConfig, policy: &PagePolicy) -> Router {
    let config_json = serde_json::to_string_pretty(config).expect("the page config serializes");
    let html = index_html(policy);
    let header = HeaderValue::from_str(&policy.header())
        .expect("a policy of origins is a header value (origin_of admits nothing else)");
    let index = get(move || {
        let (html, header) = (html.clone(), header.clone());
        async move { index_response(html, header) }
    });
    // Other methods on these paths go to the API too, which answers them in its own error shape.
    let mut router = Router::new()
        .route("/", index.clone().fallback_service(api.clone()))
        .route(INDEX.path, index.fallback_service(api.clone()))
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
    for file in PAGE_FILES.iter().filter(|file| file.path != INDEX.path) {
        router = router.route(
            file.path,
            get(move || async move { page_file(file) }).fallback_service(api.clone()),
        );
    }
    router.fallback_service(api)
}

/// The page's Content Security Policy: the one in `web/site/index.html`'s `<meta>` (scripts, styles
/// and everything else from the page's own origin only, so a file name shown in the gallery cannot
/// run as code even if some rendering path forgot to escape it), with the origins of one server's
/// configuration added: where the page calls the API, uploads and signs in (`connect-src`), and
/// where images come from (`img-src`). No other host is reachable from the page.
///
/// The local server sends it as a header too, with `frame-ancestors 'none'` (which browsers
/// ignore in a `<meta>`); `just web-site` writes the `<meta>` of a deployment's page the same way
/// from the stack's outputs (`web/tools/site-config.mjs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagePolicy {
    /// Origins the page may `fetch` and upload to, besides its own.
    pub connect: Vec<String>,
    /// Origins the page may show images from, besides its own.
    pub images: Vec<String>,
}

impl PagePolicy {
    /// The origins the local server's page uses with `settings`: the storage endpoint (uploads and
    /// presigned image URLs), the CDN (image URLs) and the page's Cognito (sign-in).
    pub fn for_local_server(settings: &Settings, config: &PageConfig) -> Self {
        let storage = match &settings.endpoints.s3 {
            Some(endpoint) => origin_of(endpoint),
            None => Some(format!(
                "https://{}.s3.{}.amazonaws.com",
                settings.bucket_name, settings.region
            )),
        };
        let cdn = settings
            .cdn
            .as_ref()
            .and_then(|cdn| origin_of(cdn.origin.as_str()));
        let cognito = config
            .auth
            .as_ref()
            .and_then(|auth| origin_of(&auth.cognito_endpoint));
        let api = origin_of(&config.api_url);
        Self {
            connect: dedup([api, storage.clone(), cognito]),
            images: dedup([storage, cdn]),
        }
    }

    /// The policy for a `<meta http-equiv>`.
    pub fn meta(&self) -> String {
        let base = index_policy();
        let directives = base.split(';').map(str::trim).filter(|d| !d.is_empty());
        directives
            .map(|directive| {
                let extra: &[String] = match directive.split(' ').next() {
                    Some("connect-src") => &self.connect,
                    Some("img-src") => &self.images,
                    _ => &[],
                };
                std::iter::once(directive)
                    .chain(extra.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The policy as the local server's header: the `<meta>`'s and `frame-ancestors 'none'`.
    pub fn header(&self) -> String {
        format!("{}; frame-ancestors 'none'", self.meta())
    }
}

/// `scheme://host[:port]` of an `http(s)` URL, lower-cased; `None` for anything else, or for a
/// URL whose origin would not be one CSP source (so nothing but an origin reaches the policy).
fn origin_of(url: &str) -> Option<String> {
    let uri: axum::http::Uri = url.trim().parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?.as_str().to_ascii_lowercase();
    let plain = authority
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    (matches!(scheme.as_str(), "http" | "https") && plain)
        .then(|| format!("{scheme}://{authority}"))
}

fn dedup<const N: usize>(origins: [Option<String>; N]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for origin in origins.into_iter().flatten() {
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    out
}

/// The `<meta>` Content Security Policy of `web/site/index.html`, as committed.
fn index_policy() -> &'static str {
    let html = INDEX.contents;
    let start = html
        .find(CSP_META)
        .expect("web/site/index.html has a CSP <meta> (a test checks it)")
        + CSP_META.len();
    let len = html[start..].find('"').expect("the <meta>'s content ends");
    &html[start..start + len]
}

const CSP_META: &str = r#"<meta http-equiv="Content-Security-Policy" content=""#;

/// `web/site/index.html` with its `<meta>` policy widened to `policy`'s origins.
fn index_html(policy: &PagePolicy) -> String {
    let base = index_policy();
    INDEX.contents.replacen(
        &format!("{CSP_META}{base}\""),
        &format!("{CSP_META}{}\"", policy.meta()),
        1,
    )
}

fn page_file(file: &'static PageFile) -> Response {
    static_response(file.content_type, file.contents)
}

/// The page itself, with its policy in the `<meta>` and in the header.
fn index_response(html: String, policy: HeaderValue) -> Response {
    let mut response = static_response(INDEX.content_type, html);
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, policy);
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

/// The host names the local server answers to: loopback ones (`localhost`, `*.localhost`, any
/// loopback address), the address it listens on, and `ALLOWED_HOSTS`.
///
/// A browser sends the name it resolved in `Host`. A page on an attacker's name that resolves to
/// 127.0.0.1 (DNS rebinding) is same-origin with itself, so CORS does not stop it from reading
/// the answers; refusing its `Host` does.
#[derive(Debug, Clone)]
pub struct AllowedHosts(Arc<[String]>);

impl AllowedHosts {
    /// The names for `settings`' listening address and `ALLOWED_HOSTS`.
    pub fn for_local_server(settings: &Settings) -> Self {
        let ip = settings.listen_addr.ip();
        let own = (!ip.is_unspecified()).then(|| ip.to_string());
        Self(
            own.into_iter()
                .chain(settings.allowed_hosts.iter().cloned())
                .collect(),
        )
    }

    /// Whether a `Host` header's value names this server (any port).
    pub fn admits(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        // `[::1]:3000`, `[::1]`, `name:3000`, `name`.
        let name = match host.strip_prefix('[') {
            Some(rest) => rest.split_once(']').map_or("", |(ip, _)| ip),
            None => host.rsplit_once(':').map_or(host.as_str(), |(name, port)| {
                if port.bytes().all(|b| b.is_ascii_digit()) {
                    name
                } else {
                    ""
                }
            }),
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() {
            return false;
        }
        is_loopback_host(name) || self.0.iter().any(|allowed| allowed == name)
    }
}

/// Serves `site` on `listener` until `shutdown` completes (the local server). A request whose
/// `Host` is not among `hosts` gets 421 and reaches nothing.
///
/// # Errors
/// The listener's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    site: Router,
    hosts: AllowedHosts,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let site = site.layer(axum::middleware::from_fn(move |request, next| {
        let hosts = hosts.clone();
        only_allowed_hosts(hosts, request, next)
    }));
    axum::serve(listener, site)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn only_allowed_hosts(
    hosts: AllowedHosts,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    if host.is_some_and(|host| hosts.admits(host)) {
        return next.run(request).await;
    }
    let shown = crate::domain::excerpt(host.unwrap_or(""), 100).into_owned();
    tracing::warn!(host = %shown, "request refused: Host is not this server's");
    let body = serde_json::json!({ "error": {
        "code": "HOST_NOT_ALLOWED",
        "message": "this server answers to localhost, loopback addresses and ALLOWED_HOSTS only",
        "requestId": uuid::Uuid::new_v4().to_string(),
    }});
    (
        axum::http::StatusCode::MISDIRECTED_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
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
        let site = site(
            fake_api(),
            &config,
            &PagePolicy {
                connect: vec![],
                images: vec![],
            },
        );

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
    fn the_committed_policy_allows_only_the_pages_own_origin() {
        let html = INDEX.contents;
        let start = html.find(CSP_META).expect("index.html has a CSP <meta>");
        // Before the first script and stylesheet, or those would load unchecked.
        assert!(start < html.find("<script").unwrap() && start < html.find("<link").unwrap());
        assert_eq!(
            index_policy(),
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
             connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
        );
    }

    #[tokio::test]
    async fn the_served_page_lists_only_the_configured_origins() {
        let local = settings(&[
            ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4566/"),
            ("CDN_URL", "http://127.0.0.1:3000/cdn"),
            ("CDN_KEY_PAIR_ID", "K2JCJMDEHXQW5F"),
            ("CDN_PRIVATE_KEY_FILE", "/keys/cdn.pem"),
            (
                "AUTH_ISSUER",
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc",
            ),
            ("AUTH_AUDIENCE", "client"),
            (
                "AUTH_JWKS_URL",
                "http://127.0.0.1:4567/us-east-1_abc/.well-known/jwks.json",
            ),
        ]);
        let config = PageConfig::for_local_server(&local, Some("http://127.0.0.1:4567/"));
        let policy = PagePolicy::for_local_server(&local, &config);
        assert_eq!(
            policy,
            PagePolicy {
                connect: vec![
                    "http://127.0.0.1:4566".into(),
                    "http://127.0.0.1:4567".into()
                ],
                images: vec![
                    "http://127.0.0.1:4566".into(),
                    "http://127.0.0.1:3000".into()
                ],
            }
        );
        let router = site(fake_api(), &config, &policy);
        for path in ["/", "/index.html"] {
            let response = router
                .clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let header = response.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .to_owned();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let html = String::from_utf8(body.to_vec()).unwrap();
            let expected = "default-src 'self'; script-src 'self'; style-src 'self'; \
                 img-src 'self' blob: data: http://127.0.0.1:4566 http://127.0.0.1:3000; \
                 connect-src 'self' http://127.0.0.1:4566 http://127.0.0.1:4567; \
                 object-src 'none'; base-uri 'none'; form-action 'self'";
            assert_eq!(
                header,
                format!("{expected}; frame-ancestors 'none'"),
                "{path}"
            );
            assert!(
                html.contains(&format!("{CSP_META}{expected}\"")),
                "{path}: {html}"
            );
            assert!(
                !header.contains("http:;") && !header.contains(" https:"),
                "{header}"
            );
        }

        // Against AWS: the bucket's own regional host, nothing wider.
        let aws = PagePolicy::for_local_server(
            &settings(&[("BUCKET_NAME", "photos"), ("REGION", "eu-west-1")]),
            &PageConfig::for_local_server(&settings(&[]), None),
        );
        assert_eq!(aws.connect, ["https://photos.s3.eu-west-1.amazonaws.com"]);
        assert_eq!(aws.images, ["https://photos.s3.eu-west-1.amazonaws.com"]);
    }

    #[test]
    fn only_origins_reach_the_policy() {
        assert_eq!(
            origin_of("HTTP://Example.COM:8080/a?b").as_deref(),
            Some("http://example.com:8080")
        );
        assert_eq!(
            origin_of("https://[::1]:4566").as_deref(),
            Some("https://[::1]:4566")
        );
        for url in [
            "",
            "/relative",
            "javascript:alert(1)",
            "ftp://example.com",
            "https://a;b.example",
            "https://a'b.example",
        ] {
            assert_eq!(origin_of(url), None, "{url}");
        }
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

    #[test]
    fn only_loopback_names_the_own_address_and_allowed_hosts_are_admitted() {
        let hosts = AllowedHosts::for_local_server(&settings(&[
            ("LISTEN_ADDR", "192.168.1.20:3000"),
            ("ANONYMOUS_BEYOND_LOOPBACK", "true"),
            ("ALLOWED_HOSTS", "devbox.lan, Photos.Example."),
        ]));
        for host in [
            "localhost:3000",
            "LOCALHOST",
            "app.localhost:3000",
            "127.0.0.1:3000",
            "127.0.0.2",
            "[::1]:3000",
            "[::1]",
            "192.168.1.20:3000",
            "devbox.lan:3000",
            "photos.example",
            "localhost.:3000",
        ] {
            assert!(hosts.admits(host), "{host} refused");
        }
        for host in [
            "evil.example:3000",
            "localhost.evil.example",
            "evillocalhost",
            "127.0.0.1.nip.io:3000",
            "192.168.1.21:3000",
            "[::2]:3000",
            "devbox.lan:http",
            "",
            ":3000",
            "[::1",
        ] {
            assert!(!hosts.admits(host), "{host:?} admitted");
        }
        let everywhere = AllowedHosts::for_local_server(&settings(&[
            ("LISTEN_ADDR", "0.0.0.0:3000"),
            ("ANONYMOUS_BEYOND_LOOPBACK", "true"),
        ]));
        assert!(!everywhere.admits("0.0.0.0:3000"));
    }

    /// A raw HTTP/1.1 request to a served site; the status code of the answer.
    async fn status_for(host: Option<&str>) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let config = PageConfig::for_local_server(&settings(&[]), None);
        let hosts = AllowedHosts::for_local_server(&settings(&[]));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let policy = PagePolicy::for_local_server(&settings(&[]), &config);
        let server = tokio::spawn(serve(
            listener,
            site(fake_api(), &config, &policy),
            hosts,
            async {
                let _ = stopped.await;
            },
        ));
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let host_line = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
        let request = format!("GET /images HTTP/1.1\r\n{host_line}Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        let _ = stop.send(());
        server.await.unwrap().unwrap();
        answer.split(' ').nth(1).unwrap().parse().unwrap()
    }

    #[tokio::test]
    async fn a_rebound_name_gets_421_from_the_listening_server_and_reaches_nothing() {
        // The fake API answers 418: a 421 means the request never reached it.
        assert_eq!(status_for(Some("attacker.example:3000")).await, 421);
        assert_eq!(status_for(None).await, 421);
        assert_eq!(status_for(Some("127.0.0.1:3000")).await, 418);
        assert_eq!(status_for(Some("localhost:3000")).await, 418);
    }
}
