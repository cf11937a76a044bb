//! The API through its router, with the real SDK clients and DynamoDB's responses mocked
//! (`aws-smithy-mocks`): the contract, its failure paths, properties over arbitrary bodies,
//! and API Gateway events through `lambda_http`.

mod auth;
mod helpers;
mod images;
mod lambda_entry;
mod multipart;
mod openapi;
mod permissions;
mod properties;
mod quota;
#[path = "../support/test_tokens.rs"]
mod test_tokens;
mod upload;
