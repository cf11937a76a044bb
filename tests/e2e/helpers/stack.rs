//! Where the local AWS stack is, in this order:
//! 1. `AWS_ENDPOINT_URL_S3` and `AWS_ENDPOINT_URL_DYNAMODB` (or `AWS_ENDPOINT_URL`) in the
//!    environment: a stack someone started (`just test-e2e` starts host processes and sets these);
//! 2. a Docker engine that answers: LocalStack and DynamoDB Local containers via testcontainers;
//! 3. neither: the tests fail, saying how to start one.

use testcontainers_modules::dynamodb_local::DynamoDb;
use testcontainers_modules::localstack::LocalStack;
use testcontainers_modules::testcontainers::{ImageExt, runners::AsyncRunner};
use tokio::sync::OnceCell;

/// The endpoints of the shared local stack, and how it runs.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub s3: String,
    /// LocalStack serves SQS on the same port as S3 unless the environment says otherwise.
    pub sqs: String,
    pub dynamodb: String,
    pub kind: StackKind,
}

/// How the stack runs; a test that needs a private piece of it starts that piece the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackKind {
    /// Started by someone else and named in the environment (`localstack/stack.sh` on our machines).
    FromEnvironment,
    /// Containers this test process started.
    Containers,
}

static STACK: OnceCell<Endpoints> = OnceCell::const_new();

/// The shared stack, started on first use when it has to be.
pub async fn endpoints() -> &'static Endpoints {
    STACK.get_or_init(find_or_start).await
}

async fn find_or_start() -> Endpoints {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let s3 = var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL"));
    let dynamodb = var("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| var("AWS_ENDPOINT_URL"));
    if let (Some(s3), Some(dynamodb)) = (s3, dynamodb) {
        return Endpoints {
            sqs: var("AWS_ENDPOINT_URL_SQS").unwrap_or_else(|| s3.clone()),
            s3,
            dynamodb,
            kind: StackKind::FromEnvironment,
        };
    }
    if docker_engine_answers() {
        return start_containers().await;
    }
    panic!(
        "no local AWS stack: run `just test-e2e` (starts LocalStack and DynamoDB Local as host processes), \
         or start them with `./localstack/stack.sh start && eval \"$(./localstack/stack.sh env)\"`, \
         or run where a Docker engine answers (testcontainers)"
    );
}

fn docker_engine_answers() -> bool {
    std::process::Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

async fn start_containers() -> Endpoints {
    let localstack = LocalStack::default()
        .with_tag("4.9.2")
        .with_env_var("SERVICES", "s3,sqs")
        .with_env_var("S3_SKIP_SIGNATURE_VALIDATION", "0")
        .with_env_var("SQS_ENDPOINT_STRATEGY", "path")
        .start()
        .await
        .expect("starting the LocalStack container");
    let dynamodb = DynamoDb::default()
        .start()
        .await
        .expect("starting the DynamoDB Local container");
    let localstack_url = format!(
        "http://127.0.0.1:{}",
        localstack
            .get_host_port_ipv4(4566)
            .await
            .expect("LocalStack port")
    );
    let endpoints = Endpoints {
        s3: localstack_url.clone(),
        sqs: localstack_url,
        dynamodb: format!(
            "http://127.0.0.1:{}",
            dynamodb
                .get_host_port_ipv4(8000)
                .await
                .expect("DynamoDB port")
        ),
        kind: StackKind::Containers,
    };
    // The containers live as long as the test process; testcontainers' reaper removes them after.
    std::mem::forget(localstack);
    std::mem::forget(dynamodb);
    endpoints
}
