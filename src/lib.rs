//! Safe direct-to-S3 image uploads.
//!
//! - [`domain`]: the rules of an upload, as types that cannot hold invalid values.
//! - [`api`]: the HTTP API (one axum router, served by Lambda and by the local server).
//! - [`aws`]: the adapters to S3 and DynamoDB.
//! - [`config`]: settings from the environment.
//! - [`provision`]: creating the bucket and table on a local stack (and for the tests).
//! - [`telemetry`]: logging setup.

pub mod api;
pub mod aws;
pub mod config;
pub mod domain;
pub mod provision;
pub mod telemetry;
