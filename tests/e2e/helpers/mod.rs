mod app;
mod cognito;
mod containers;
mod docker_engine;
mod gate;
mod lambda;
mod private_dynamodb;
mod slow_proxy;
mod stack;
mod usage;

pub use app::{
    QUEUE_VISIBILITY, TestApp, Uploads, create_secret, secrets_client, spawn, spawn_app,
    spawn_app_with, spawn_processing_app, spawn_verifying, spawn_verifying_app,
};
pub use cognito::local_cognito;
pub use docker_engine::{ADVICE, ApiVersion, engine_answers, engine_report};
pub use gate::{Gate, GateControl, gate_before};
pub use private_dynamodb::PrivateDynamoDb;
pub use slow_proxy::SlowProxy;
pub use stack::{StackKind, endpoints, stack_kind};
pub use usage::{audit_usage, held_by, number, slots};

/// The HTTP client for tests: the smoke client's, which installs the TLS crypto provider that
/// reqwest, built without one of its own, needs before any client exists (`reqwest::Client::new()`
/// or `reqwest::get` without it panics with "No provider set").
pub fn http_client() -> reqwest::Client {
    image_upload::smoke::http_client().expect("building the HTTP client")
}
