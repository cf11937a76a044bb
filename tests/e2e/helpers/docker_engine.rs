//! The Docker engine: whether one answers (asked of `localstack/engine.sh`, as the recipes ask
//! it), and, through the client testcontainers uses (bollard, pinned by Cargo.lock), what the two
//! say to each other.
//!
//! bollard 0.20 declares Docker API 1.52, yet Debian's engine (20.10) speaks 1.41 and refuses
//! clients that ask for a newer one. It works because bollard's request paths carry no version
//! prefix (it joins an absolute path onto `/v1.52/`, which drops the prefix), so the engine reads
//! each request as one of its own version. [`engine_report`] records what actually goes over the
//! wire, for tests/e2e/docker_api.rs to hold both sides to it.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use testcontainers::bollard::API_DEFAULT_VERSION;
use testcontainers::core::client::docker_client_instance;

use super::containers::{labelled_containers, on_docker};

/// A Docker API version, `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    major: u32,
    minor: u32,
}

impl ApiVersion {
    /// The oldest engine API the e2e suite has run against: Debian bookworm's docker.io 20.10.
    pub const OLDEST_RUN: Self = Self {
        major: 1,
        minor: 41,
    };
}

impl FromStr for ApiVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (major, minor) = text
            .split_once('.')
            .ok_or_else(|| format!("{text:?} is not a Docker API version"))?;
        let number = |part: &str| {
            part.parse()
                .map_err(|_| format!("{text:?} is not a Docker API version"))
        };
        Ok(Self {
            major: number(major)?,
            minor: number(minor)?,
        })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What the engine and the client said to each other.
#[derive(Debug)]
pub struct EngineReport {
    /// The engine's release, e.g. `20.10.24+dfsg1`.
    pub engine: String,
    /// The API version the engine speaks, and the oldest it still accepts from a client.
    pub engine_api: ApiVersion,
    pub engine_min_api: ApiVersion,
    /// The newest API the client's request and response models describe.
    pub client_api: ApiVersion,
    /// The paths of the client's requests, exactly as sent (`/version`, or `/v1.52/version`).
    pub paths: Vec<String>,
    /// bollard's and testcontainers' versions in Cargo.lock.
    pub bollard: String,
    pub testcontainers: String,
}

impl EngineReport {
    /// The version prefix the client's requests carry, if any (`/v1.52/…` → 1.52).
    ///
    /// # Errors
    /// A prefix that is not a version.
    pub fn request_prefix(&self) -> Result<Option<ApiVersion>, String> {
        let Some(path) = self.paths.first() else {
            return Ok(None);
        };
        let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
        match first.strip_prefix('v') {
            Some(version) if version.contains('.') => version.parse().map(Some),
            _ => Ok(None),
        }
    }

    /// The facts and what to do, for a failure message.
    pub fn explain(&self, problem: &str) -> String {
        format!(
            "{problem}\n\nengine: Docker {} speaking API {} (oldest accepted {}); client: bollard \
             {} (under testcontainers {}, both pinned in Cargo.lock) declaring API {}, requests \
             sent as {:?}.\n{ADVICE}",
            self.engine,
            self.engine_api,
            self.engine_min_api,
            self.bollard,
            self.testcontainers,
            self.client_api,
            self.paths,
        )
    }
}

/// What to do when the engine and the client part ways.
pub const ADVICE: &str = "What to do: if Cargo.lock changed (`cargo update`), restore it (`git \
     checkout Cargo.lock`, or `cargo update -p bollard --precise 0.20.2`): bollard 0.20.2 sends \
     unversioned requests, which any engine reads as its own version. If you mean to upgrade \
     testcontainers or bollard, or your engine is newer than the client declares, run the e2e \
     suite on containers (`just test-e2e-containers`) against the engines we use (Debian's 20.10, \
     API 1.41; Docker's current release), then update ApiVersion::OLDEST_RUN or the pin \
     (tests/e2e/helpers/docker_engine.rs) and commit Cargo.lock.";

/// Whether a Docker engine answers where testcontainers looks for one (`DOCKER_HOST`, else the
/// usual sockets), within 5 s: `localstack/engine.sh check`, the one check the recipes ask too.
///
/// # Errors
/// Why not: no socket, no permission, no answer.
pub async fn engine_answers() -> Result<(), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("localstack/engine.sh");
    let output = tokio::process::Command::new(&script)
        .arg("check")
        .output()
        .await
        .map_err(|e| format!("could not run {}: {e}", script.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        let why = String::from_utf8_lossy(&output.stdout);
        let why = why.trim();
        Err(if why.is_empty() {
            format!(
                "{} check failed ({}): {}",
                script.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )
        } else {
            why.to_owned()
        })
    }
}

/// Asks the engine its version, and lists the harness's containers by label (what the clean-up
/// does), through testcontainers' own client, recording the request paths it sends.
///
/// # Errors
/// A request failed: the engine refused the client, or the client could not read the answer. The
/// message carries the advice.
pub async fn engine_report() -> Result<EngineReport, String> {
    on_docker(async {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&sent);
        let docker = docker_client_instance()
            .await
            .map_err(|e| format!("no Docker client: {e}"))?
            .with_request_modifier(move |request| {
                record.lock().unwrap().push(request.uri().path().to_owned());
                request
            });
        let paths = || sent.lock().unwrap().clone();
        let version = docker.version().await.map_err(|e| {
            format!(
                "The Docker engine refused testcontainers' client: GET {:?}: {e}\n{ADVICE}",
                paths()
            )
        })?;
        labelled_containers(&docker).await.map_err(|e| {
            format!(
                "The Docker engine answered /version but not a container listing by label: \
                     {e} (requests {:?})\n{ADVICE}",
                paths()
            )
        })?;
        let api = |field: Option<String>, name: &str| {
            field
                .ok_or_else(|| format!("the engine's /version has no {name}"))?
                .parse::<ApiVersion>()
        };
        Ok(EngineReport {
            engine: version.version.unwrap_or_else(|| "(unknown)".to_owned()),
            engine_api: api(version.api_version, "ApiVersion")?,
            engine_min_api: api(version.min_api_version, "MinAPIVersion")?,
            client_api: ApiVersion {
                major: u32::try_from(API_DEFAULT_VERSION.major_version).unwrap_or(u32::MAX),
                minor: u32::try_from(API_DEFAULT_VERSION.minor_version).unwrap_or(u32::MAX),
            },
            paths: paths(),
            bollard: locked_version("bollard"),
            testcontainers: locked_version("testcontainers"),
        })
    })
    .await
}

/// The version of `package` that Cargo.lock pins.
fn locked_version(package: &str) -> String {
    let lock = include_str!("../../../Cargo.lock");
    let entry = format!("name = \"{package}\"\nversion = \"");
    lock.split_once(&entry)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or_else(|| "(not in Cargo.lock)".to_owned(), |(v, _)| v.to_owned())
}
