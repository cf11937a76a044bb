//! The container path: LocalStack (S3, SQS), DynamoDB Local and moto (Cognito) started with
//! testcontainers, once per test binary and shared by its tests, then removed when the binary
//! exits, whether its tests passed, failed or panicked.
//!
//! - Network (`E2E_CONTAINER_NETWORK`): `bridge`, the default and any Docker user's setup (each
//!   service on its image's own port, mapped by Docker to a host port), or `host` (each service
//!   listens on a free 127.0.0.1 port chosen here: CI's engine runs without a bridge). The two
//!   differ only in how a port is chosen and found ([`Listen`]); images, settings, readiness
//!   checks, labels and clean-up are one code path.
//! - Every Docker call runs on one runtime of the harness's own ([`on_docker`]). Each
//!   `#[tokio::test]` has a runtime that ends with the test, and a connection that testcontainers'
//!   shared client opened there would die with it.
//! - Clean-up: testcontainers removes a container when its handle drops, but the shared
//!   containers live in a `static`, which is never dropped, and testcontainers-rs has no reaper
//!   (Ryuk, which could not be pulled offline anyway). So every container carries an owner label
//!   (`host/pid`); an `atexit` hook removes this process's containers, and so does a SIGINT or
//!   SIGTERM handler (those end a process without exit hooks); and each run first removes the
//!   containers of earlier runs on this host whose process is gone (SIGKILL, a crash).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Once};
use std::time::{Duration, Instant};

use testcontainers::bollard::models::ContainerSummaryStateEnum;
use testcontainers::bollard::query_parameters::{
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use testcontainers::core::IntoContainerPort;
use testcontainers::core::client::docker_client_instance;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ContainerRequest, GenericImage, ImageExt};

/// The label naming the process that started a container, as `host/pid`.
pub const OWNER_LABEL: &str = "dev.image-upload.e2e.owner";
/// The label naming the service a container runs (`localstack`, `dynamodb`, `moto`).
const SERVICE_LABEL: &str = "dev.image-upload.e2e.service";

/// Docker's part of a start: creating and starting the container (not pulling its image).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// From the container running to its service answering; LocalStack takes about 3 s on an idle
/// machine, much longer on a busy 2-core one.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the exit hook waits for Docker to remove this run's containers.
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// LocalStack's settings, the same as `localstack/stack.sh start` gives the host process: only S3
/// and SQS; presigned URLs verified as S3 does (LocalStack skips it by default); path-style queue
/// URLs; and, offline, no DNS server (on the host network it would claim port 53), no analytics,
/// no TLS certificate download at start.
const LOCALSTACK_SETTINGS: [(&str, &str); 6] = [
    ("SERVICES", "s3,sqs,secretsmanager,cloudformation"),
    ("S3_SKIP_SIGNATURE_VALIDATION", "0"),
    ("SQS_ENDPOINT_STRATEGY", "path"),
    ("DNS_ADDRESS", "0"),
    ("DISABLE_EVENTS", "1"),
    ("SKIP_SSL_CERT_DOWNLOAD", "1"),
];

/// How the tests reach the containers: `E2E_CONTAINER_NETWORK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Docker's default bridge, each service's port mapped to a host port Docker picks.
    Bridge,
    /// The host's network, each service listening on a free 127.0.0.1 port the harness picks.
    Host,
}

impl Network {
    /// The variable that chooses the network.
    pub const VARIABLE: &str = "E2E_CONTAINER_NETWORK";

    /// The network `E2E_CONTAINER_NETWORK` names; bridge when unset or empty.
    ///
    /// # Errors
    /// Any other value than `host` or `bridge`.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(Self::VARIABLE).unwrap_or_default().as_str() {
            "" | "bridge" => Ok(Self::Bridge),
            "host" => Ok(Self::Host),
            other => Err(format!(
                "{}={other:?}: expected `host` or `bridge`",
                Self::VARIABLE
            )),
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Bridge => "bridge",
            Self::Host => "host",
        })
    }
}

/// A service of the local AWS stack, and the image that runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    LocalStack,
    DynamoDb,
    Moto,
}

/// Where a service listens; the one thing the two networks do differently.
#[derive(Debug, Clone, Copy)]
enum Listen {
    /// On the host's network, on this 127.0.0.1 port.
    Host(u16),
    /// On its image's own port inside the container, which Docker maps to a host port.
    Mapped,
}

impl Listen {
    fn on(network: Network) -> Result<Self, String> {
        Ok(match network {
            Network::Host => Self::Host(free_port()?),
            Network::Bridge => Self::Mapped,
        })
    }
}

impl Service {
    /// The official image and tag. CI, which cannot pull, builds look-alikes under the same
    /// names from the host stack's pinned packages (`localstack/images/build.sh`).
    fn image(self) -> (&'static str, &'static str) {
        match self {
            Self::LocalStack => ("localstack/localstack", "4.9.2"),
            Self::DynamoDb => ("amazon/dynamodb-local", "3.3.0"),
            Self::Moto => ("motoserver/moto", "5.2.5"),
        }
    }

    /// The port the image listens on unless told otherwise.
    fn own_port(self) -> u16 {
        match self {
            Self::LocalStack => 4566,
            Self::DynamoDb => 8000,
            Self::Moto => 5000,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::LocalStack => "LocalStack",
            Self::DynamoDb => "DynamoDB Local",
            Self::Moto => "moto",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::LocalStack => "localstack",
            Self::DynamoDb => "dynamodb",
            Self::Moto => "moto",
        }
    }

    /// What to ask Docker for: the image, listening where `listen` says, labelled as ours.
    fn request(self, listen: Listen) -> ContainerRequest<GenericImage> {
        let (name, tag) = self.image();
        let image = GenericImage::new(name, tag);
        let request = match listen {
            Listen::Host(_) => image.with_network("host"),
            // Exposed explicitly, so the mapping does not depend on the image's EXPOSE.
            Listen::Mapped => {
                ContainerRequest::from(image.with_exposed_port(self.own_port().tcp()))
            }
        }
        .with_label(OWNER_LABEL, owner())
        .with_label(SERVICE_LABEL, self.label())
        .with_startup_timeout(START_TIMEOUT);
        let request = match self {
            Self::LocalStack => LOCALSTACK_SETTINGS
                .iter()
                .fold(request, |request, (name, value)| {
                    request.with_env_var(*name, *value)
                }),
            Self::DynamoDb | Self::Moto => request,
        };
        match (self, listen) {
            (Self::LocalStack, Listen::Host(port)) => request
                .with_env_var("GATEWAY_LISTEN", format!("127.0.0.1:{port}"))
                .with_env_var("LOCALSTACK_HOST", format!("127.0.0.1:{port}")),
            // LOCALSTACK_HOST only shapes the queue URLs LocalStack hands out; the SDK sends to
            // its configured endpoint whatever they say, so the mapped port, unknown before the
            // container starts, need not be in them.
            (Self::LocalStack, Listen::Mapped) => request,
            // The official image's entrypoint is `java` in the jar's directory; this is its
            // default command with telemetry off (as `stack.sh run-dynamodb`) and, on the host
            // network, the port. DynamoDB Local has no option for its address: it listens on all.
            (Self::DynamoDb, listen) => {
                let mut command = vec![
                    "-jar".to_owned(),
                    "DynamoDBLocal.jar".to_owned(),
                    "-inMemory".to_owned(),
                    "-disableTelemetry".to_owned(),
                ];
                if let Listen::Host(port) = listen {
                    command.extend(["-port".to_owned(), port.to_string()]);
                }
                request.with_cmd(command)
            }
            // The image's entrypoint is `moto_server -H 0.0.0.0`; argparse keeps the last `-H`.
            (Self::Moto, Listen::Host(port)) => request.with_cmd([
                "-H".to_owned(),
                "127.0.0.1".to_owned(),
                "-p".to_owned(),
                port.to_string(),
            ]),
            (Self::Moto, Listen::Mapped) => request,
        }
    }

    /// Whether the service at `endpoint` serves requests: the checks `localstack/stack.sh start`
    /// makes of the host processes.
    async fn ready(self, http: &reqwest::Client, endpoint: &str) -> bool {
        let quick = Duration::from_secs(3);
        match self {
            // "running", not just "available": LocalStack loads a service on its first request,
            // so each gets one (routed by its credential scope) before the tests' first request
            // would meet the load time.
            Self::LocalStack => {
                let scope = "Credential=test/20260101/us-east-1";
                let authorization = |service: &str| {
                    format!(
                        "AWS4-HMAC-SHA256 {scope}/{service}/aws4_request, SignedHeaders=host, Signature=0"
                    )
                };
                let _ = http
                    .get(format!("{endpoint}/"))
                    .header("Authorization", authorization("s3"))
                    .timeout(quick)
                    .send()
                    .await;
                let _ = http
                    .post(format!("{endpoint}/"))
                    .header("Authorization", authorization("sqs"))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body("Action=ListQueues")
                    .timeout(quick)
                    .send()
                    .await;
                let health = http
                    .get(format!("{endpoint}/_localstack/health"))
                    .timeout(quick)
                    .send()
                    .await;
                let Ok(health) = health else { return false };
                let Ok(health) = health.json::<serde_json::Value>().await else {
                    return false;
                };
                health["services"]["s3"] == "running" && health["services"]["sqs"] == "running"
            }
            // A DynamoDB answer, not just any HTTP answer: on the host network another process
            // may have taken the port between `free_port` and the JVM binding it.
            Self::DynamoDb => {
                let answer = http
                    .post(format!("{endpoint}/"))
                    .header("X-Amz-Target", "DynamoDB_20120810.ListTables")
                    .header("Content-Type", "application/x-amz-json-1.0")
                    .header(
                        "Authorization",
                        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, \
                         SignedHeaders=host, Signature=0",
                    )
                    .body("{}")
                    .timeout(quick)
                    .send()
                    .await;
                match answer {
                    Ok(answer) if answer.status().is_success() => answer
                        .json::<serde_json::Value>()
                        .await
                        .is_ok_and(|body| body["TableNames"].is_array()),
                    _ => false,
                }
            }
            // moto's own route.
            Self::Moto => http
                .get(format!("{endpoint}/moto-api/"))
                .timeout(quick)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
        }
    }
}

/// A service running in a container this process started.
struct Started {
    container: ContainerAsync<GenericImage>,
    endpoint: String,
    /// From asking Docker for the container to the service answering.
    ready_in: Duration,
}

/// Starts `service` on `network` and waits until it answers. Runs on the Docker runtime.
async fn start(service: Service, network: Network) -> Result<Started, String> {
    let began = Instant::now();
    let listen = Listen::on(network)?;
    let (name, tag) = service.image();
    let container = service.request(listen).start().await.map_err(|e| {
        format!(
            "starting {} ({name}:{tag}) on the {network} network: {e}. Where Docker Hub cannot \
             be reached, build the image first: localstack/images/build.sh",
            service.name()
        )
    })?;
    let endpoint = match listen {
        Listen::Host(port) => format!("http://127.0.0.1:{port}"),
        Listen::Mapped => {
            // An engine without a bridge (`dockerd --bridge=none`) starts the container with no
            // network at all, so no port is mapped.
            let failed = |e| {
                format!(
                    "the host port of {}: {e}. An engine without a bridge network maps no ports: \
                     run with {}=host",
                    service.name(),
                    Network::VARIABLE
                )
            };
            // The IPv4 mapping, so an IPv4 address: "localhost" may resolve to ::1 first, whose
            // mapping can be another port on recent engines.
            let host = match container.get_host().await.map_err(failed)?.to_string() {
                host if host == "localhost" => "127.0.0.1".to_owned(),
                host => host,
            };
            let port = container
                .get_host_port_ipv4(service.own_port())
                .await
                .map_err(failed)?;
            format!("http://{host}:{port}")
        }
    };
    wait_until_ready(service, &container, &endpoint).await?;
    Ok(Started {
        container,
        endpoint,
        ready_in: began.elapsed(),
    })
}

async fn wait_until_ready(
    service: Service,
    container: &ContainerAsync<GenericImage>,
    endpoint: &str,
) -> Result<(), String> {
    let http = super::http_client();
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let answered = service.ready(&http, endpoint).await;
        // An error asking is no reason to give up early: the deadline still holds.
        let running = container.is_running().await.unwrap_or(true);
        // Ready only if the answer came from this container, which must still be running.
        if answered && running {
            return Ok(());
        }
        if !running || Instant::now() >= deadline {
            let what = if running {
                format!("did not answer within {} s", READY_TIMEOUT.as_secs())
            } else {
                "exited before it answered".to_owned()
            };
            return Err(format!(
                "{} (container {}, {endpoint}) {what}; its last log lines:\n{}",
                service.name(),
                container.id(),
                last_log_lines(container).await
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn last_log_lines(container: &ContainerAsync<GenericImage>) -> String {
    let mut text = String::new();
    for logs in [
        container.stdout_to_vec().await,
        container.stderr_to_vec().await,
    ] {
        let logs = logs.unwrap_or_else(|e| format!("(logs unavailable: {e})").into_bytes());
        let logs = String::from_utf8_lossy(&logs);
        let lines: Vec<&str> = logs.lines().collect();
        for line in &lines[lines.len().saturating_sub(30)..] {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// A free port on 127.0.0.1 for a service on the host network. The listener closes before the
/// service binds the port; another process taking it in between makes the service exit, and the
/// error says so with its logs.
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| format!("finding a free port on 127.0.0.1: {e}"))
}

/// The shared stack's containers, running until the process exits.
pub struct SharedContainers {
    pub localstack: String,
    pub dynamodb: String,
    pub moto: String,
    /// Held, never dropped (dropping a handle removes its container): the exit hook removes them.
    _containers: Vec<ContainerAsync<GenericImage>>,
}

/// Starts LocalStack, DynamoDB Local and moto on `network`, side by side, and waits until all
/// three answer; first removes what earlier runs left behind.
///
/// # Errors
/// Docker refused a container or a service did not answer in time; the message says which, with
/// the service's last log lines. Containers already started are removed.
pub async fn start_shared(network: Network) -> Result<SharedContainers, String> {
    on_docker(async move {
        remove_containers_of_gone_runs().await;
        remove_own_containers_at_exit();
        let began = Instant::now();
        let (localstack, dynamodb, moto) = tokio::join!(
            start(Service::LocalStack, network),
            start(Service::DynamoDb, network),
            start(Service::Moto, network),
        );
        let (localstack, dynamodb, moto) = match (localstack, dynamodb, moto) {
            (Ok(localstack), Ok(dynamodb), Ok(moto)) => (localstack, dynamodb, moto),
            (localstack, dynamodb, moto) => {
                let errors: Vec<String> = [localstack.err(), dynamodb.err(), moto.err()]
                    .into_iter()
                    .flatten()
                    .collect();
                return Err(errors.join("\n\n"));
            }
        };
        say(&format!(
            "containers ready in {:.1} s on the {network} network (LocalStack {:.1} s, DynamoDB \
             Local {:.1} s, moto {:.1} s)",
            began.elapsed().as_secs_f64(),
            localstack.ready_in.as_secs_f64(),
            dynamodb.ready_in.as_secs_f64(),
            moto.ready_in.as_secs_f64(),
        ));
        Ok(SharedContainers {
            localstack: localstack.endpoint,
            dynamodb: dynamodb.endpoint,
            moto: moto.endpoint,
            _containers: vec![localstack.container, dynamodb.container, moto.container],
        })
    })
    .await
}

/// A container of one test's own (the sabotage test's DynamoDB Local), removed when dropped.
pub struct PrivateContainer {
    /// `Some` until dropped; shared with the Docker runtime's tasks that pause and unpause it.
    container: Option<Arc<ContainerAsync<GenericImage>>>,
    endpoint: String,
    paused: AtomicBool,
}

impl PrivateContainer {
    /// Starts `service` on `network`, as the shared stack's are started, and waits until it
    /// answers.
    ///
    /// # Errors
    /// As [`start_shared`].
    pub async fn start(service: Service, network: Network) -> Result<Self, String> {
        let started = on_docker(async move {
            remove_own_containers_at_exit();
            start(service, network).await
        })
        .await?;
        Ok(Self {
            container: Some(Arc::new(started.container)),
            endpoint: started.endpoint,
            paused: AtomicBool::new(false),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn container(&self) -> Arc<ContainerAsync<GenericImage>> {
        Arc::clone(self.container.as_ref().expect("held until dropped"))
    }

    /// Freezes every process in the container (`docker pause`): connections stay open and
    /// nothing answers.
    ///
    /// # Errors
    /// Docker refused.
    pub async fn pause(&self) -> Result<(), String> {
        let container = self.container();
        on_docker(async move { container.pause().await })
            .await
            .map_err(|e| format!("pausing {}: {e}", self.endpoint))?;
        self.paused.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Lets it run again.
    ///
    /// # Errors
    /// Docker refused.
    pub async fn unpause(&self) -> Result<(), String> {
        let container = self.container();
        on_docker(async move { container.unpause().await })
            .await
            .map_err(|e| format!("unpausing {}: {e}", self.endpoint))?;
        self.paused.store(false, Ordering::SeqCst);
        Ok(())
    }
}

impl Drop for PrivateContainer {
    fn drop(&mut self) {
        let Some(container) = self.container.take() else {
            return;
        };
        let paused = self.paused.load(Ordering::SeqCst);
        // Blocking, so the container is gone when the test ends (even by a panic). The work runs
        // on the Docker runtime, not this test's, so blocking here cannot stall it.
        let (done, wait) = std::sync::mpsc::channel();
        DOCKER.spawn(async move {
            if let Ok(container) = Arc::try_unwrap(container) {
                if paused {
                    let _ = container.unpause().await;
                }
                let id = container.id().to_owned();
                if let Err(e) = container.rm().await {
                    say(&format!(
                        "removing container {id}: {e} (the exit hook tries again)"
                    ));
                }
            }
            let _ = done.send(());
        });
        let _ = wait.recv_timeout(EXIT_TIMEOUT);
    }
}

/// The runtime every Docker call of the harness runs on. It lives as long as the process, so
/// testcontainers' shared client keeps live connections, and the exit hook can still use it.
static DOCKER: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("e2e-docker")
        .enable_all()
        .build()
        .expect("building the e2e harness's Docker runtime")
});

/// Runs `work` on the Docker runtime; a panic in it resumes in the caller.
pub async fn on_docker<F>(work: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match DOCKER.spawn(work).await {
        Ok(output) => output,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("a task on the Docker runtime did not finish: {e}"),
        },
    }
}

/// Registers, once, what removes this process's containers: an exit hook, and a handler of
/// SIGINT and SIGTERM (Ctrl-C, a CI timeout), which would otherwise end the process without
/// running exit hooks.
fn remove_own_containers_at_exit() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // SAFETY: atexit only stores the pointer of a function that takes nothing and returns
        // nothing, and the function never unwinds (see `remove_own_containers`).
        let status = unsafe { libc::atexit(remove_own_containers) };
        assert_eq!(status, 0, "registering the containers' exit hook");
        DOCKER.spawn(remove_own_containers_on_signal());
    });
}

/// Runs as the process exits, after the main thread's thread-locals are destroyed: so it only
/// hands the work to the Docker runtime's thread, whose thread-locals still stand, and polls a
/// flag. Nothing here can panic, which would abort the exit.
extern "C" fn remove_own_containers() {
    let done = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&done);
    DOCKER.spawn(async move {
        remove_this_runs_containers().await;
        flag.store(true, Ordering::SeqCst);
    });
    let deadline = Instant::now() + EXIT_TIMEOUT;
    while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn remove_this_runs_containers() {
    match remove_containers(|owner| owner == self::owner()).await {
        Ok(0) => {}
        Ok(removed) => say(&format!(
            "removed the {removed} containers this run started"
        )),
        Err(e) => say(&format!(
            "could not remove this run's containers: {e}. Remove them with: docker rm -f \
             $(docker ps -aq --filter label={OWNER_LABEL}={})",
            owner()
        )),
    }
}

/// How long a SIGINT or SIGTERM waits for this run's containers to be removed.
const SIGNAL_CLEANUP_TIMEOUT: Duration = Duration::from_secs(20);

/// On SIGINT or SIGTERM: removes this run's containers, then dies of the same signal, as it
/// would have without this handler (so without running the exit hook, which has nothing left
/// to do, and whose wait for this runtime's only worker thread could not end).
async fn remove_own_containers_on_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        say(
            "cannot watch SIGINT and SIGTERM: stopping the tests early leaves their containers to the next run",
        );
        return;
    };
    let (number, name) = tokio::select! {
        _ = interrupt.recv() => (libc::SIGINT, "SIGINT"),
        _ = terminate.recv() => (libc::SIGTERM, "SIGTERM"),
    };
    say(&format!("{name}: removing this run's containers first"));
    // Bounded, and a second signal ends the wait: an engine that no longer answers must not
    // leave the process deaf to Ctrl-C.
    tokio::select! {
        finished = tokio::time::timeout(SIGNAL_CLEANUP_TIMEOUT, remove_this_runs_containers()) => {
            if finished.is_err() {
                say("the engine did not remove the containers in time; leaving them to the next run");
            }
        }
        _ = interrupt.recv() => say("second signal: leaving the containers to the next run"),
        _ = terminate.recv() => say("second signal: leaving the containers to the next run"),
    }
    // SAFETY: restoring the default action of a signal and raising it are plain system calls;
    // nothing of this process is touched.
    unsafe {
        libc::signal(number, libc::SIG_DFL);
        libc::raise(number);
    }
}

/// Removes the containers of earlier runs on this host whose process is gone; reports failures
/// and carries on (leftovers cost disk and memory, not correctness: ports are chosen afresh).
async fn remove_containers_of_gone_runs() {
    let host = hostname();
    let gone = |owner: &str| {
        owner.rsplit_once('/').is_some_and(|(h, pid)| {
            h == host && pid.parse().is_ok_and(|pid| !process_is_alive(pid))
        })
    };
    match remove_containers(gone).await {
        Ok(0) => {}
        Ok(removed) => say(&format!(
            "removed {removed} containers left by earlier runs whose process is gone"
        )),
        Err(e) => say(&format!("could not remove earlier runs' containers: {e}")),
    }
}

/// Every container, running or not, that carries [`OWNER_LABEL`]: the listing clean-up works
/// from, and the one `docker_engine::engine_report` proves the engine answers.
pub(super) async fn labelled_containers(
    docker: &testcontainers::bollard::Docker,
) -> Result<
    Vec<testcontainers::bollard::models::ContainerSummary>,
    testcontainers::bollard::errors::Error,
> {
    let filters = HashMap::from([("label", vec![OWNER_LABEL])]);
    docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
}

/// Force-removes (with their anonymous volumes) the containers whose owner label `which` accepts.
async fn remove_containers(which: impl Fn(&str) -> bool) -> Result<usize, String> {
    let docker = docker_client_instance().await.map_err(|e| e.to_string())?;
    let listed = labelled_containers(&docker)
        .await
        .map_err(|e| format!("listing containers: {e}"))?;
    let mut removed = 0;
    let mut failures = Vec::new();
    for container in listed {
        let owner = container
            .labels
            .as_ref()
            .and_then(|labels| labels.get(OWNER_LABEL));
        let (Some(id), Some(owner)) = (container.id.as_deref(), owner) else {
            continue;
        };
        if !which(owner) {
            continue;
        }
        // Older engines refuse to kill a paused container, even when forced.
        if container.state == Some(ContainerSummaryStateEnum::PAUSED) {
            let _ = docker.unpause_container(id).await;
        }
        match docker
            .remove_container(
                id,
                Some(
                    RemoveContainerOptionsBuilder::new()
                        .force(true)
                        .v(true)
                        .build(),
                ),
            )
            .await
        {
            Ok(()) => removed += 1,
            // Already gone (or going: another removal of it is under way): nothing to do.
            Err(testcontainers::bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => {}
            // One failure must not keep the others: carry on, and report all at the end.
            Err(e) => failures.push(format!("removing container {id}: {e}")),
        }
    }
    if failures.is_empty() {
        Ok(removed)
    } else {
        Err(failures.join("; "))
    }
}

/// `host/pid` of this process: the pid tells whether the run is over, the host keeps a run from
/// judging the pids of another machine (or container) sharing the engine.
fn owner() -> &'static str {
    static OWNER: LazyLock<String> =
        LazyLock::new(|| format!("{}/{}", hostname(), std::process::id()));
    &OWNER
}

fn hostname() -> String {
    let mut name = [0u8; 256];
    // SAFETY: gethostname writes at most `name.len()` bytes into `name`, which lives across the call.
    let status = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) };
    if status != 0 {
        return "unknown-host".to_owned();
    }
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    String::from_utf8_lossy(&name[..end]).into_owned()
}

fn process_is_alive(pid: libc::pid_t) -> bool {
    if pid <= 0 {
        // 0 and negative numbers name process groups, not a run.
        return false;
    }
    // SAFETY: signal 0 sends nothing; kill only checks that the process exists.
    let status = unsafe { libc::kill(pid, 0) };
    status == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// One line on stderr, outside libtest's capture (which would show it only with a failing test,
/// or lose it: the Docker runtime's thread inherited the capture of whichever test started it).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "e2e: {line}");
}
