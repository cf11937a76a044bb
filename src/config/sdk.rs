//! How the AWS SDK is pointed and bounded: the region (`REGION`, `AWS_REGION`), the endpoints of a
//! local stack (`AWS_ENDPOINT_URL*`) and the bounds on every call (`AWS_*_TIMEOUT_MS`,
//! `AWS_MAX_ATTEMPTS`).

use std::ops::RangeInclusive;
use std::time::Duration;

use super::env::{ConfigError, Env, millis, number_within};

/// The region when neither `REGION` nor `AWS_REGION` is set.
pub const REGION_DEFAULT: &str = "us-east-1";

/// `AWS_CONNECT_TIMEOUT_MS`.
pub const AWS_CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_millis(1000);

/// `AWS_ATTEMPT_TIMEOUT_MS`.
pub const AWS_ATTEMPT_TIMEOUT_DEFAULT: Duration = Duration::from_millis(1500);

/// `AWS_OPERATION_TIMEOUT_MS`.
pub const AWS_OPERATION_TIMEOUT_DEFAULT: Duration = Duration::from_millis(4000);

/// `AWS_MAX_ATTEMPTS`: the SDK's standard retry policy, first attempt included.
pub const AWS_MAX_ATTEMPTS_DEFAULT: u32 = 3;

/// `AWS_MAX_ATTEMPTS`.
pub const AWS_MAX_ATTEMPTS_RANGE: RangeInclusive<u32> = 1..=10;

/// `REGION`, else `AWS_REGION` (which Lambda sets), else [`REGION_DEFAULT`].
pub(super) fn region(env: &Env) -> String {
    env.get("REGION")
        .or_else(|| env.get("AWS_REGION"))
        .unwrap_or_else(|| REGION_DEFAULT.into())
}

/// The endpoint of Cognito user pools in `region`, when no endpoint is set.
pub fn regional_cognito_endpoint(region: &str) -> String {
    format!("https://cognito-idp.{region}.amazonaws.com/")
}

/// Bounds on every AWS call, so a slow or absent service becomes a quick 503, not a hung request.
#[derive(Debug, Clone, Copy)]
pub struct AwsTimeouts {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
    pub max_attempts: u32,
}

impl AwsTimeouts {
    /// `AWS_CONNECT_TIMEOUT_MS`, `AWS_ATTEMPT_TIMEOUT_MS`, `AWS_OPERATION_TIMEOUT_MS` and
    /// `AWS_MAX_ATTEMPTS`.
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            connect: env.parse(
                "AWS_CONNECT_TIMEOUT_MS",
                AWS_CONNECT_TIMEOUT_DEFAULT,
                millis,
            )?,
            attempt: env.parse(
                "AWS_ATTEMPT_TIMEOUT_MS",
                AWS_ATTEMPT_TIMEOUT_DEFAULT,
                millis,
            )?,
            operation: env.parse(
                "AWS_OPERATION_TIMEOUT_MS",
                AWS_OPERATION_TIMEOUT_DEFAULT,
                millis,
            )?,
            max_attempts: env.parse("AWS_MAX_ATTEMPTS", AWS_MAX_ATTEMPTS_DEFAULT, |v| {
                number_within(v, AWS_MAX_ATTEMPTS_RANGE)
            })?,
        })
    }
}

/// Where the AWS services answer when they are not AWS's own: a local stack. The variables are
/// the ones the AWS SDKs read (`AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`), except
/// that Cognito has only its own: LocalStack community, which `AWS_ENDPOINT_URL` usually names,
/// has no Cognito.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub s3: Option<String>,
    pub dynamodb: Option<String>,
    pub sqs: Option<String>,
    /// Where the API reads the CDN's private key (`CDN_PRIVATE_KEY_SECRET`).
    pub secrets_manager: Option<String>,
    /// The local Cognito (moto): the local server's page signs in there, `provision-local --auth`
    /// makes its user pool there. The service itself never calls Cognito.
    pub cognito: Option<String>,
}

impl Endpoints {
    /// Every variable that names an endpoint.
    pub const VARIABLES: [&str; 6] = [
        ANY_SERVICE,
        S3_VARIABLE,
        SQS_VARIABLE,
        DYNAMODB_VARIABLE,
        SECRETS_MANAGER_VARIABLE,
        COGNITO_ENDPOINT_VARIABLE,
    ];

    /// Reads the endpoint variables through `lookup`; a blank one counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::read(&Env::new(&lookup))
    }

    pub(super) fn read(env: &Env) -> Self {
        let service = |name: &str| env.get(name).or_else(|| env.get(ANY_SERVICE));
        Self {
            s3: service(S3_VARIABLE),
            dynamodb: service(DYNAMODB_VARIABLE),
            sqs: service(SQS_VARIABLE),
            secrets_manager: service(SECRETS_MANAGER_VARIABLE),
            cognito: env.get(COGNITO_ENDPOINT_VARIABLE),
        }
    }

    /// Each endpoint that is set, with the variable of its own service that names it: the
    /// environment that gives a program these endpoints.
    pub fn variables(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            (S3_VARIABLE, &self.s3),
            (DYNAMODB_VARIABLE, &self.dynamodb),
            (SQS_VARIABLE, &self.sqs),
            (SECRETS_MANAGER_VARIABLE, &self.secrets_manager),
            (COGNITO_ENDPOINT_VARIABLE, &self.cognito),
        ]
        .into_iter()
        .filter_map(|(name, endpoint)| endpoint.as_deref().map(|endpoint| (name, endpoint)))
    }
}

/// The endpoint of every service without a variable of its own.
const ANY_SERVICE: &str = "AWS_ENDPOINT_URL";
const S3_VARIABLE: &str = "AWS_ENDPOINT_URL_S3";
const SQS_VARIABLE: &str = "AWS_ENDPOINT_URL_SQS";
const DYNAMODB_VARIABLE: &str = "AWS_ENDPOINT_URL_DYNAMODB";
const SECRETS_MANAGER_VARIABLE: &str = "AWS_ENDPOINT_URL_SECRETS_MANAGER";

/// The variable that names the local Cognito ([`Endpoints::cognito`]).
pub const COGNITO_ENDPOINT_VARIABLE: &str = "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env::lookup_in;

    #[test]
    fn each_service_has_its_own_endpoint_else_the_common_one_but_cognito_only_its_own() {
        let vars = [
            (ANY_SERVICE, "http://127.0.0.1:4566"),
            (DYNAMODB_VARIABLE, "http://127.0.0.1:8000"),
            (SQS_VARIABLE, " "),
        ];
        let endpoints = Endpoints::from_lookup(lookup_in(&vars));
        assert_eq!(
            endpoints,
            Endpoints {
                s3: Some("http://127.0.0.1:4566".into()),
                dynamodb: Some("http://127.0.0.1:8000".into()),
                sqs: Some("http://127.0.0.1:4566".into()),
                secrets_manager: Some("http://127.0.0.1:4566".into()),
                cognito: None,
            },
            "a blank variable counts as unset; LocalStack community, which AWS_ENDPOINT_URL \
             names, has no Cognito"
        );
        assert_eq!(Endpoints::from_lookup(|_| None), Endpoints::default());
    }

    #[test]
    fn the_variables_of_endpoints_give_the_same_endpoints() {
        let endpoints = Endpoints {
            s3: Some("http://127.0.0.1:4566".into()),
            dynamodb: Some("http://127.0.0.1:8000".into()),
            sqs: None,
            secrets_manager: Some("http://127.0.0.1:4566".into()),
            cognito: Some("http://127.0.0.1:4567".into()),
        };
        let vars: Vec<(&str, &str)> = endpoints.variables().collect();
        assert_eq!(
            vars.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
            [
                S3_VARIABLE,
                DYNAMODB_VARIABLE,
                SECRETS_MANAGER_VARIABLE,
                COGNITO_ENDPOINT_VARIABLE
            ]
        );
        assert_eq!(Endpoints::from_lookup(lookup_in(&vars)), endpoints);
    }
}
