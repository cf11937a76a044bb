//! End to end against a local AWS stack: the API served over HTTP, S3 (LocalStack, verifying
//! presigned signatures) and DynamoDB (DynamoDB Local) as real processes. See helpers/stack.rs
//! for how the stack is found.

mod failures;
mod helpers;
mod images;
mod lifecycle;
mod one_shot;
mod races;
mod smoke;
mod upload;
