//! End to end against a local AWS stack: the API served over HTTP, S3 (LocalStack, verifying
//! presigned signatures), DynamoDB (DynamoDB Local) and Cognito (moto) as real processes. See
//! helpers/stack.rs and helpers/cognito.rs for how the stack is found.

mod auth;
mod failures;
mod helpers;
mod images;
mod lifecycle;
mod one_shot;
mod races;
mod smoke;
#[path = "../support/test_tokens.rs"]
mod test_tokens;
mod upload;
