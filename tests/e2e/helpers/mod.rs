mod app;
mod cognito;
mod gate;
mod lambda;
mod private_dynamodb;
mod stack;

pub use app::{
    TestApp, Uploads, spawn, spawn_app, spawn_app_with, spawn_processing_app, spawn_verifying_app,
};
pub use cognito::local_cognito;
pub use gate::{Gate, gate_before};
pub use private_dynamodb::PrivateDynamoDb;
