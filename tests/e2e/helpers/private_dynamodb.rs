//! A DynamoDB Local of one test's own, so that test can stop it without disturbing the others.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::containers::{Network, PrivateContainer, Service};
use super::stack::{StackKind, stack_kind};

pub enum PrivateDynamoDb {
    /// A process started with `localstack/stack.sh run-dynamodb`, the command the shared stack uses.
    Process { child: Child, endpoint: String },
    /// A container started as the shared stack's are (image, command, network, labels); removed
    /// when dropped.
    Container(PrivateContainer),
}

impl PrivateDynamoDb {
    /// Starts one the way the shared stack runs: a container beside containers, else a process.
    pub async fn start() -> Self {
        match stack_kind().await {
            StackKind::FromEnvironment => Self::start_process().await,
            StackKind::Containers(network) => Self::start_container(network).await,
        }
    }

    async fn start_container(network: Network) -> Self {
        let container = PrivateContainer::start(Service::DynamoDb, network)
            .await
            .unwrap_or_else(|e| {
                panic!("starting a DynamoDB Local container of the test's own: {e}")
            });
        Self::Container(container)
    }

    async fn start_process() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("localstack/stack.sh");
        let child = Command::new(&script)
            .args(["run-dynamodb", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        let http = super::http_client();
        while http.get(&endpoint).send().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "DynamoDB Local on port {port} did not answer within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self::Process { child, endpoint }
    }

    pub fn endpoint(&self) -> &str {
        match self {
            Self::Process { endpoint, .. } => endpoint,
            Self::Container(container) => container.endpoint(),
        }
    }

    /// Stops the database dead (SIGSTOP / docker pause): connections open, nothing answers.
    pub async fn freeze(&self) {
        match self {
            Self::Process { child, .. } => signal(child.id(), "-STOP"),
            Self::Container(container) => container
                .pause()
                .await
                .unwrap_or_else(|e| panic!("freezing DynamoDB: {e}")),
        }
    }

    /// Lets it run again.
    pub async fn thaw(&self) {
        match self {
            Self::Process { child, .. } => signal(child.id(), "-CONT"),
            Self::Container(container) => container
                .unpause()
                .await
                .unwrap_or_else(|e| panic!("thawing DynamoDB: {e}")),
        }
    }
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("running kill");
    assert!(status.success(), "kill {signal} {pid} failed");
}

impl Drop for PrivateDynamoDb {
    fn drop(&mut self) {
        if let Self::Process { child, .. } = self {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
