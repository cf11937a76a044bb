//! The smoke client (`just smoke API_URL`): the whole flow a user goes through, against any
//! deployment, each step printed with its timing. Sign in, ask for an upload URL, PUT a real JPEG
//! to S3 with exactly the headers the API lists, wait for READY, find it in the list, see it
//! counted in the caller's usage (one more than before), fetch its thumbnail and original, delete
//! it, and see it gone. Any unexpected answer stops the run with
//! the step, the status and the body.

mod cognito;

pub use cognito::CognitoUser;

use std::io::Write;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::config::{CognitoSignIn, ConfigError, SmokeSignIn};

/// The image the smoke run uploads: a real 64x48 JPEG, built into the binary so it runs from
/// anywhere.
pub const FIXTURE_JPEG: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.jpg");
const FIXTURE_NAME: &str = "smoke-sunset-64x48.jpg";

/// How long the processor may take to settle an upload before the run fails.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Who the smoke run is (from [`SmokeSignIn`], its settings). `Debug` shows neither the token
/// nor the password.
#[derive(Clone)]
pub enum SignIn {
    /// A ready ID token (`TOKEN`).
    Token(String),
    /// A Cognito user signed in with `USER_PASSWORD_AUTH`.
    Cognito(CognitoUser),
    /// No `Authorization` header: only a local server that allows anonymous callers answers.
    Anonymous,
}

impl From<SmokeSignIn> for SignIn {
    fn from(settings: SmokeSignIn) -> Self {
        match settings {
            SmokeSignIn::Token(token) => Self::Token(token),
            SmokeSignIn::Cognito(CognitoSignIn {
                endpoint,
                client_id,
                username,
                password,
            }) => Self::Cognito(CognitoUser {
                endpoint,
                client_id,
                username,
                password,
            }),
            SmokeSignIn::Anonymous => Self::Anonymous,
        }
    }
}

impl SignIn {
    fn describe(&self) -> String {
        match self {
            Self::Token(_) => "the ID token in TOKEN".into(),
            Self::Cognito(user) => format!("Cognito user {}", user.username),
            Self::Anonymous => "anonymous (no token)".into(),
        }
    }
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token(_) => f.write_str("Token(..)"),
            Self::Cognito(user) => f.debug_tuple("Cognito").field(user).finish(),
            Self::Anonymous => f.write_str("Anonymous"),
        }
    }
}

/// Why a smoke run failed: always names the step.
#[derive(Debug, thiserror::Error)]
pub enum SmokeError {
    #[error("{step}: unexpected answer {status}: {body}")]
    Unexpected {
        step: &'static str,
        status: u16,
        body: String,
    },
    #[error("{step}: {source}")]
    Http {
        step: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{step}: {message}")]
    Check { step: &'static str, message: String },
    #[error("configuration: {0}")]
    Config(String),
}

impl From<ConfigError> for SmokeError {
    fn from(err: ConfigError) -> Self {
        Self::Config(err.to_string())
    }
}

/// What a passed run did.
#[derive(Debug, Clone)]
pub struct SmokeReport {
    pub image_id: String,
    /// Each step's name and how long it took, in order.
    pub steps: Vec<(&'static str, Duration)>,
}

/// The HTTP client for smoke runs, over rustls with aws-lc-rs (the provider the AWS SDK uses)
/// and the system's root certificates.
///
/// # Errors
/// [`SmokeError::Config`] when the client cannot be built (no usable root certificates).
pub fn http_client() -> Result<reqwest::Client, SmokeError> {
    // reqwest is built without a provider of its own, so that the binary carries one TLS
    // implementation; installing fails harmlessly when one is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| SmokeError::Config(format!("building the HTTP client: {e}")))
}

/// One smoke run's settings.
#[derive(Debug, Clone)]
pub struct Smoke {
    /// The API's base URL, stage included (`https://…/prod`), without a trailing `/`.
    api_url: String,
    sign_in: SignIn,
    ready_timeout: Duration,
}

impl Smoke {
    /// A run against `api_url` as `sign_in`.
    pub fn new(api_url: &str, sign_in: SignIn) -> Self {
        Self {
            api_url: api_url.trim_end_matches('/').to_owned(),
            sign_in,
            ready_timeout: DEFAULT_READY_TIMEOUT,
        }
    }

    /// The same run, waiting at most `timeout` for READY.
    #[must_use]
    pub fn ready_timeout(self, timeout: Duration) -> Self {
        Self {
            ready_timeout: timeout,
            ..self
        }
    }

    /// Runs the whole flow with `http`, printing each step to `out`.
    ///
    /// # Errors
    /// [`SmokeError`] for the first step that did not answer as expected. The image is left
    /// behind when a step after the upload fails: the run stops where it found a fault, so what
    /// it made can be looked at.
    pub async fn run(
        &self,
        http: &reqwest::Client,
        out: &mut dyn Write,
    ) -> Result<SmokeReport, SmokeError> {
        let started = Instant::now();
        let mut run = Run {
            http,
            out,
            api: &self.api_url,
            token: None,
            steps: Vec::new(),
        };
        run.say(&format!(
            "smoke: {} as {}",
            self.api_url,
            self.sign_in.describe()
        ));

        let step = Instant::now();
        match &self.sign_in {
            SignIn::Anonymous => {}
            SignIn::Token(token) => run.token = Some(token.clone()),
            SignIn::Cognito(user) => {
                run.token = Some(user.id_token(http).await?);
                run.done(
                    "sign in",
                    step,
                    &format!("USER_PASSWORD_AUTH at {}: ID token", user.endpoint),
                );
            }
        }

        let step = Instant::now();
        let images_before = usage_images(&mut run, "GET /usage").await?;
        run.done(
            "GET /usage",
            step,
            &format!("{images_before} images counted"),
        );

        let step = Instant::now();
        let upload = run
            .api_json(
                "POST /upload",
                reqwest::Method::POST,
                "/upload",
                Some(json!({
                    "fileName": FIXTURE_NAME,
                    "fileType": "image/jpeg",
                    "fileSize": FIXTURE_JPEG.len(),
                })),
                StatusCode::OK,
            )
            .await?;
        let image_id = str_field(&upload, "imageId", "POST /upload")?.to_owned();
        let upload_url = str_field(&upload, "uploadUrl", "POST /upload")?.to_owned();
        let headers = upload["headers"]
            .as_object()
            .ok_or_else(|| check("POST /upload", format!("no headers object: {upload}")))?;
        let header_names: Vec<&str> = headers.keys().map(String::as_str).collect();
        run.done(
            "POST /upload",
            step,
            &format!(
                "image {image_id}; the PUT must send {}",
                header_names.join(", ")
            ),
        );

        let step = Instant::now();
        let mut put = http.put(&upload_url).body(FIXTURE_JPEG);
        for (name, value) in headers {
            let value = value
                .as_str()
                .ok_or_else(|| check("POST /upload", format!("header {name} is not a string")))?;
            put = put.header(name.as_str(), value);
        }
        let (status, body) = send("PUT upload URL", put).await?;
        expect("PUT upload URL", status, StatusCode::OK, &body)?;
        run.done(
            "PUT upload URL",
            step,
            &format!("{} bytes of JPEG to S3", FIXTURE_JPEG.len()),
        );

        let step = Instant::now();
        let image_path = format!("/images/{image_id}");
        let mut polls = 0;
        let image = loop {
            polls += 1;
            let image = run
                .api_json(
                    "wait for READY",
                    reqwest::Method::GET,
                    &image_path,
                    None,
                    StatusCode::OK,
                )
                .await?;
            match image["status"].as_str() {
                Some("READY") => break image,
                Some("PENDING") if step.elapsed() < self.ready_timeout => {
                    tokio::time::sleep(poll_interval(polls)).await;
                }
                Some("PENDING") => {
                    return Err(check(
                        "wait for READY",
                        format!(
                            "still PENDING after {} s: is the processor running and the \
                             bucket notifying its queue?",
                            self.ready_timeout.as_secs()
                        ),
                    ));
                }
                _ => {
                    return Err(check(
                        "wait for READY",
                        format!("the upload was not accepted: {image}"),
                    ));
                }
            }
        };
        run.done(
            "wait for READY",
            step,
            &format!(
                "READY ({}x{}) after {polls} polls of GET {image_path}",
                image["width"], image["height"]
            ),
        );

        let step = Instant::now();
        let list = run
            .api_json(
                "GET /images",
                reqwest::Method::GET,
                "/images?limit=100",
                None,
                StatusCode::OK,
            )
            .await?;
        let listed = list["images"]
            .as_array()
            .is_some_and(|images| images.iter().any(|i| i["imageId"] == image_id.as_str()));
        if !listed {
            return Err(check(
                "GET /images",
                format!("image {image_id} is not on the first page: {list}"),
            ));
        }
        run.done("GET /images", step, "lists it");

        let step = Instant::now();
        let images = usage_images(&mut run, "GET /usage again").await?;
        if images != images_before + 1 {
            return Err(check(
                "GET /usage again",
                format!("{images} images counted, not the {images_before} before and this one"),
            ));
        }
        run.done(
            "GET /usage again",
            step,
            &format!("{images} images counted: this one too"),
        );

        let step = Instant::now();
        let thumbnail_url = str_field(&image, "thumbnailUrl", "wait for READY")?;
        let thumbnail = fetch_bytes(http, "GET thumbnail", thumbnail_url).await?;
        if !thumbnail.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Err(check(
                "GET thumbnail",
                format!("{} bytes that do not start like a JPEG", thumbnail.len()),
            ));
        }
        run.done(
            "GET thumbnail",
            step,
            &format!("{} bytes of JPEG", thumbnail.len()),
        );

        let step = Instant::now();
        let original_url = str_field(&image, "url", "wait for READY")?;
        let original = fetch_bytes(http, "GET original", original_url).await?;
        if original != FIXTURE_JPEG {
            return Err(check(
                "GET original",
                format!(
                    "{} bytes, not the {} uploaded",
                    original.len(),
                    FIXTURE_JPEG.len()
                ),
            ));
        }
        run.done("GET original", step, "the bytes uploaded");

        let step = Instant::now();
        let (status, body) = send(
            "DELETE image",
            run.api_request(reqwest::Method::DELETE, &image_path),
        )
        .await?;
        expect("DELETE image", status, StatusCode::NO_CONTENT, &body)?;
        run.done("DELETE image", step, &format!("DELETE {image_path}: 204"));

        let step = Instant::now();
        let (status, body) = send(
            "GET deleted image",
            run.api_request(reqwest::Method::GET, &image_path),
        )
        .await?;
        expect("GET deleted image", status, StatusCode::NOT_FOUND, &body)?;
        run.done("GET deleted image", step, &format!("GET {image_path}: 404"));

        run.say(&format!(
            "smoke: passed in {} ms",
            started.elapsed().as_millis()
        ));
        Ok(SmokeReport {
            image_id,
            steps: run.steps,
        })
    }
}

/// How many images `GET /usage` counts for the caller.
async fn usage_images(run: &mut Run<'_>, step: &'static str) -> Result<u64, SmokeError> {
    let usage = run
        .api_json(step, reqwest::Method::GET, "/usage", None, StatusCode::OK)
        .await?;
    usage["images"]
        .as_u64()
        .ok_or_else(|| check(step, format!("no count of images: {usage}")))
}

/// The state of one run: the client, where it prints, the token, the steps done.
struct Run<'a> {
    http: &'a reqwest::Client,
    out: &'a mut dyn Write,
    api: &'a str,
    token: Option<String>,
    steps: Vec<(&'static str, Duration)>,
}

impl Run<'_> {
    fn say(&mut self, line: &str) {
        // The report is for a person watching; a closed stdout must not fail the run.
        let _ = writeln!(self.out, "{line}");
    }

    fn done(&mut self, step: &'static str, started: Instant, detail: &str) {
        let elapsed = started.elapsed();
        self.steps.push((step, elapsed));
        self.say(&format!("{:>7} ms  {step}: {detail}", elapsed.as_millis()));
    }

    fn api_request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.api));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn api_json(
        &self,
        step: &'static str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        expected: StatusCode,
    ) -> Result<Value, SmokeError> {
        let mut request = self.api_request(method, path);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let (status, text) = send(step, request).await?;
        expect(step, status, expected, &text)?;
        serde_json::from_str(&text).map_err(|e| check(step, format!("not JSON ({e}): {text}")))
    }
}

/// Sends `request` and reads the whole body as text.
async fn send(
    step: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<(StatusCode, String), SmokeError> {
    let response = request
        .send()
        .await
        .map_err(|source| SmokeError::Http { step, source })?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|source| SmokeError::Http { step, source })?;
    Ok((status, body))
}

async fn fetch_bytes(
    http: &reqwest::Client,
    step: &'static str,
    url: &str,
) -> Result<Vec<u8>, SmokeError> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|source| SmokeError::Http { step, source })?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|source| SmokeError::Http { step, source })?;
    expect(
        step,
        status,
        StatusCode::OK,
        &String::from_utf8_lossy(&bytes),
    )?;
    Ok(bytes.to_vec())
}

fn expect(
    step: &'static str,
    status: StatusCode,
    expected: StatusCode,
    body: &str,
) -> Result<(), SmokeError> {
    if status == expected {
        return Ok(());
    }
    Err(SmokeError::Unexpected {
        step,
        status: status.as_u16(),
        body: body.to_owned(),
    })
}

fn str_field<'v>(value: &'v Value, name: &str, step: &'static str) -> Result<&'v str, SmokeError> {
    value[name]
        .as_str()
        .ok_or_else(|| check(step, format!("no {name} in {value}")))
}

fn check(step: &'static str, message: String) -> SmokeError {
    SmokeError::Check { step, message }
}

/// Quick polls first (a local processor settles in well under a second), then every second.
fn poll_interval(polls: u32) -> Duration {
    if polls < 10 {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(1)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn sign_in(vars: &[(&str, &str)]) -> Result<SignIn, SmokeError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(SmokeSignIn::from_lookup(|name| vars.get(name).cloned())?.into())
    }

    const USER: [(&str, &str); 3] = [
        ("COGNITO_CLIENT_ID", "client"),
        ("COGNITO_USERNAME", "demo@example.com"),
        ("COGNITO_PASSWORD", "Secret-123"),
    ];

    #[test]
    fn a_token_wins_then_cognito_then_anonymous() {
        let with_token = [
            USER.as_slice(),
            &[("TOKEN", "t"), ("AWS_REGION", "eu-west-1")],
        ]
        .concat();
        assert!(matches!(sign_in(&with_token), Ok(SignIn::Token(t)) if t == "t"));
        let regional = [USER.as_slice(), &[("AWS_REGION", "eu-west-1")]].concat();
        let Ok(SignIn::Cognito(user)) = sign_in(&regional) else {
            panic!("Cognito expected");
        };
        assert_eq!(
            user.endpoint,
            "https://cognito-idp.eu-west-1.amazonaws.com/"
        );
        assert_eq!(user.username, "demo@example.com");
        let emulated = [
            USER.as_slice(),
            &[
                ("AWS_REGION", "eu-west-1"),
                (
                    "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
                    "http://127.0.0.1:4567",
                ),
            ],
        ]
        .concat();
        let Ok(SignIn::Cognito(user)) = sign_in(&emulated) else {
            panic!("Cognito expected");
        };
        assert_eq!(user.endpoint, "http://127.0.0.1:4567");
        assert!(matches!(sign_in(&[]), Ok(SignIn::Anonymous)));
        assert!(matches!(sign_in(&[("TOKEN", " ")]), Ok(SignIn::Anonymous)));
    }

    #[test]
    fn half_a_cognito_user_or_no_region_is_a_configuration_error() {
        let cases: [(&[(&str, &str)], &str); 2] =
            [(&USER[..2], "COGNITO_PASSWORD"), (&USER, "AWS_REGION")];
        for (vars, named) in cases {
            let err = sign_in(vars).unwrap_err().to_string();
            assert!(err.contains(named), "{vars:?}: {err}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let regional = [USER.as_slice(), &[("AWS_REGION", "eu-west-1")]].concat();
        let shown = format!("{:?}", sign_in(&regional).unwrap());
        assert!(!shown.contains("Secret-123"), "{shown}");
        assert!(shown.contains("demo@example.com"), "{shown}");
        let shown = format!("{:?}", sign_in(&[("TOKEN", "eyJ.secret.sig")]).unwrap());
        assert_eq!(shown, "Token(..)");
    }
}
