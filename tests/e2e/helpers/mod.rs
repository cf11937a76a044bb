mod app;
mod private_dynamodb;
mod stack;

pub use app::{spawn_app, spawn_app_with};
pub use private_dynamodb::PrivateDynamoDb;
