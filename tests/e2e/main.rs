//! End to end against a local AWS stack: the API served over HTTP, S3 and SQS (LocalStack,
//! verifying presigned signatures), DynamoDB (DynamoDB Local) and Cognito (moto), as host
//! processes named in the environment or as containers the harness starts. See
//! helpers/stack.rs for how the stack is found and helpers/containers.rs for the containers.

mod auth;
mod cdn;
mod docker_api;
mod failures;
mod heif;
mod helpers;
mod images;
mod lifecycle;
mod load_test;
mod multipart;
mod one_shot;
mod quota;
mod races;
mod redrive;
mod reprocess;
mod smoke;
mod sweep;
#[path = "../support/test_tokens.rs"]
mod test_tokens;
mod upload;
