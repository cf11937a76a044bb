//! Safe direct-to-S3 image uploads.
//!
//! - [`domain`]: the rules of an upload, as types that cannot hold invalid values.
//! - [`api`]: the HTTP API (one axum router, served by Lambda and by the local server).
//! - [`imaging`]: verifying uploaded bytes and making renditions (pure, no I/O).
//! - [`processor`]: verifies each upload and settles its metadata (the second Lambda function).
//! - [`auth`]: who is calling (API Gateway's authorizer claims, or verified Cognito ID tokens).
//! - [`aws`]: the adapters to S3, DynamoDB and SQS.
//! - [`delivery`]: CloudFront signed URLs for renditions and originals, and their checker.
//! - [`config`]: settings from the environment.
//! - [`provision`]: creating the bucket and table on a local stack (and for the tests).
//! - [`sweep`]: reconciling the bucket with the table (a scheduled function, and `just sweep`).
//! - [`reprocess`] and [`redrive`]: operators' tools (`just reprocess`, `just redrive`).
//! - [`telemetry`]: logging setup and CloudWatch metrics.
//! - [`smoke`]: the smoke client's flow (`just smoke API_URL`), against any deployment.
//! - [`web`]: the upload page, its configuration and the API description on the local server.
//!
//! `api`, `auth`, `processor`, `sweep`, `aws`, `delivery` and `telemetry` need the default `aws` feature; without it
//! the crate is the pure part (`domain`, `imaging`, `config`), which is what the fuzz targets
//! build. `provision`, `reprocess`, `redrive`, `smoke` and `web` (the page on the local server) need the default `local`
//! feature, which the Lambda functions are built without.

#[cfg(feature = "aws")]
pub mod api;
#[cfg(feature = "aws")]
pub mod auth;
#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
#[cfg(feature = "aws")]
pub mod delivery;
pub mod domain;
pub mod imaging;
#[cfg(feature = "aws")]
pub mod processor;
#[cfg(feature = "local")]
pub mod provision;
#[cfg(feature = "local")]
pub mod redrive;
#[cfg(feature = "local")]
pub mod reprocess;
#[cfg(feature = "local")]
pub mod smoke;
#[cfg(feature = "aws")]
pub mod sweep;
#[cfg(feature = "aws")]
pub mod telemetry;
#[cfg(feature = "local")]
pub mod web;

#[cfg(test)]
mod test_alloc;
