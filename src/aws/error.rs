use aws_sdk_dynamodb::config::http::HttpResponse as Response;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::error::SdkError;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failed AWS call, with what the service was doing when it failed.
///
/// `Unavailable` is worth retrying later (throttling, a 5xx from AWS, a timeout, no connection);
/// `Failed` is not (access denied, a missing table, a failed condition, a malformed response).
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("{context}: AWS was unavailable or throttling")]
    Unavailable {
        context: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("{context}: AWS refused the request")]
    Failed {
        context: &'static str,
        #[source]
        source: BoxError,
    },
}

const THROTTLING_CODES: [&str; 6] = [
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "TransactionInProgressException",
];

impl AwsError {
    /// Sorts an SDK error into retry-later or not, keeping it as the source for the log.
    pub fn classify<E>(context: &'static str, err: SdkError<E, Response>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let unavailable = match &err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
            SdkError::ServiceError(service) => {
                service.raw().status().is_server_error()
                    || service
                        .err()
                        .code()
                        .is_some_and(|code| THROTTLING_CODES.contains(&code))
            }
            SdkError::ResponseError(response) => response.raw().status().is_server_error(),
            _ => false,
        };
        let source: BoxError = Box::new(err);
        if unavailable {
            Self::Unavailable { context, source }
        } else {
            Self::Failed { context, source }
        }
    }

    /// Unavailability that did not come from one SDK call (e.g. a race lost on every attempt).
    pub fn unavailable(context: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Unavailable {
            context,
            source: source.into(),
        }
    }

    /// A failure that did not come from an SDK call (e.g. building a request).
    pub fn failed(context: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Failed {
            context,
            source: source.into(),
        }
    }
}
