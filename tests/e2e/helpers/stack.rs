//! Where the local AWS stack is, in this order:
//! 1. endpoints in the environment: `AWS_ENDPOINT_URL_S3` and `AWS_ENDPOINT_URL_DYNAMODB` (or
//!    `AWS_ENDPOINT_URL` for both), with `AWS_ENDPOINT_URL_SQS` (else S3's) and
//!    `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` for the auth tests: a stack someone started
//!    (`just test-e2e` starts host processes and sets these);
//! 2. a Docker engine that answers: LocalStack, DynamoDB Local and moto containers, started with
//!    testcontainers once for the whole test binary (helpers/containers.rs);
//! 3. neither: every test fails, saying how to get either.
//!
//! The stack is shared; each test makes its own bucket, table, queue and user pool (random names).

use image_upload::config::Endpoints;
use tokio::sync::OnceCell;

use super::containers::{Network, SharedContainers, start_shared};
use super::docker_engine::engine_answers;

/// How the stack runs; a test that needs a private piece of it starts that piece the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackKind {
    /// Started by someone else and named in the environment (`localstack/stack.sh` on our machines).
    FromEnvironment,
    /// Containers this test process started, on this network.
    Containers(Network),
}

struct Stack {
    /// Where the services answer: S3, DynamoDB and SQS always (LocalStack serves SQS on the same
    /// port as S3 unless the environment says otherwise); Cognito (moto) unless the environment
    /// names a stack without one.
    endpoints: Endpoints,
    kind: StackKind,
    /// The containers, when this process started them; held for as long as the process runs.
    _containers: Option<SharedContainers>,
}

/// The first attempt's outcome, failure included: a stack that could not start fails every
/// test at once with the same reason, rather than each test trying again for minutes.
static STACK: OnceCell<Result<Stack, String>> = OnceCell::const_new();

/// The shared stack's endpoints, the stack found or started on first use: S3, DynamoDB and SQS
/// are always set.
///
/// # Panics
/// When there is no stack, or it could not start: the message says why and how to get one.
pub async fn endpoints() -> &'static Endpoints {
    &stack().await.endpoints
}

/// How the shared stack runs, found or started on first use.
///
/// # Panics
/// As [`endpoints`].
pub async fn stack_kind() -> StackKind {
    stack().await.kind
}

async fn stack() -> &'static Stack {
    match STACK.get_or_init(find_or_start).await {
        Ok(stack) => stack,
        Err(why) => panic!("{why}"),
    }
}

async fn find_or_start() -> Result<Stack, String> {
    if let Some(endpoints) = from_environment()? {
        return Ok(Stack {
            endpoints,
            kind: StackKind::FromEnvironment,
            _containers: None,
        });
    }
    let network = Network::from_env()?;
    if let Err(why) = engine_answers().await {
        return Err(format!(
            "no local AWS stack. Either:\n\
             - without Docker: `just test-e2e` (starts LocalStack, DynamoDB Local and moto as host \
             processes and runs the tests), or `./localstack/stack.sh start && eval \"$(./localstack/stack.sh env)\"` \
             before `cargo test --test e2e`;\n\
             - with Docker: start the engine, and the tests start containers themselves \
             (`just test-e2e-containers`).\n\
             No AWS_ENDPOINT_URL_* is set, and no Docker engine answers: {why}"
        ));
    }
    let containers = start_shared(network).await?;
    Ok(Stack {
        endpoints: Endpoints {
            s3: Some(containers.localstack.clone()),
            sqs: Some(containers.localstack.clone()),
            secrets_manager: Some(containers.localstack.clone()),
            dynamodb: Some(containers.dynamodb.clone()),
            cognito: Some(containers.moto.clone()),
        },
        kind: StackKind::Containers(network),
        _containers: Some(containers),
    })
}

/// The stack the environment names, if any of [`Endpoints::VARIABLES`] is set: the endpoints as
/// the service reads them ([`Endpoints::from_lookup`]), with the harness's own rule for SQS and
/// Secrets Manager: without a variable of their own, S3's endpoint, since LocalStack serves both on one port.
///
/// # Errors
/// It names only part of one (no S3 or no DynamoDB): a leftover variable, most likely; using
/// containers instead would hide it.
fn from_environment() -> Result<Option<Endpoints>, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if Endpoints::VARIABLES.iter().all(|name| var(name).is_none()) {
        return Ok(None);
    }
    let named = Endpoints::from_lookup(var);
    let (Some(s3), Some(_)) = (&named.s3, &named.dynamodb) else {
        let set: Vec<&str> = Endpoints::VARIABLES
            .into_iter()
            .filter(|name| var(name).is_some())
            .collect();
        return Err(format!(
            "the environment names part of a local AWS stack ({}) but not both S3 and DynamoDB: \
             set AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL_DYNAMODB (`eval \"$(./localstack/stack.sh env)\"`), \
             or unset them all to let the tests start containers",
            set.join(", ")
        ));
    };
    Ok(Some(Endpoints {
        sqs: var("AWS_ENDPOINT_URL_SQS").or_else(|| Some(s3.clone())),
        secrets_manager: var("AWS_ENDPOINT_URL_SECRETS_MANAGER").or_else(|| Some(s3.clone())),
        ..named
    }))
}
