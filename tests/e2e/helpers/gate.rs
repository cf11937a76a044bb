//! Forcing one interleaving of two actors that share S3 and DynamoDB: a [`Gate`] installed on one
//! actor's SDK clients stops it just before a chosen call, until the test lets it go.
//!
//! The gated actor must run on a thread of its own (its own runtime), because the gate blocks that
//! thread while it waits; the test goes on with the other actor in the meantime.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// How long either side waits for the other before the test fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(30);

/// Stops the first call of `operation` (e.g. `"UpdateItem"`) made through the clients it is
/// installed on, until [`GateControl::release`].
#[derive(Debug, Clone)]
pub struct Gate {
    operation: &'static str,
    calls: Arc<AtomicUsize>,
    reached: Sender<()>,
    release: Arc<Mutex<Receiver<()>>>,
}

/// The test's side of a [`Gate`].
pub struct GateControl {
    operation: &'static str,
    reached: Arc<Mutex<Receiver<()>>>,
    release: Sender<()>,
}

/// A gate before the first call of `operation`, and its control.
pub fn gate_before(operation: &'static str) -> (Gate, GateControl) {
    let (reached_tx, reached_rx) = channel();
    let (release_tx, release_rx) = channel();
    (
        Gate {
            operation,
            calls: Arc::new(AtomicUsize::new(0)),
            reached: reached_tx,
            release: Arc::new(Mutex::new(release_rx)),
        },
        GateControl {
            operation,
            reached: Arc::new(Mutex::new(reached_rx)),
            release: release_tx,
        },
    )
}

impl Gate {
    /// `s3` with this gate installed (its own copy; the original is unchanged).
    pub fn on_s3(&self, s3: &aws_sdk_s3::Client) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(s3.config().to_builder().interceptor(self.clone()).build())
    }

    /// `dynamodb` with this gate installed.
    pub fn on_dynamodb(&self, dynamodb: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            dynamodb
                .config()
                .to_builder()
                .interceptor(self.clone())
                .build(),
        )
    }
}

impl Intercept for Gate {
    fn name(&self) -> &'static str {
        "Gate"
    }

    // Not `read_before_execution`: a client's interceptors run that before the operation's
    // configuration (which names the operation) is in the bag.
    fn read_before_serialization(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map(Metadata::name);
        if operation == Some(self.operation) && self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            let _ = self.reached.send(());
            match self.release.lock().unwrap().recv_timeout(PATIENCE) {
                Ok(()) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(
                        format!("the gate before {} was never released", self.operation).into(),
                    );
                }
                // The test is gone; let the call go on.
                Err(RecvTimeoutError::Disconnected) => {}
            }
        }
        Ok(())
    }
}

impl GateControl {
    /// Waits until the gated actor stands at the gate. Panics if it finished without reaching it
    /// (the interleaving the test meant was not forced) or takes too long.
    pub async fn reached(&self) {
        let reached = self.reached.clone();
        let operation = self.operation;
        tokio::task::spawn_blocking(move || reached.lock().unwrap().recv_timeout(PATIENCE))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("the actor never reached the gate before {operation}: {e}"));
    }

    /// Lets the gated call go on.
    pub fn release(&self) {
        let _ = self.release.send(());
    }
}
