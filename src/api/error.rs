use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::{AuthError, AuthRejection, JwksError};
use crate::aws::AwsError;
use crate::delivery::CdnKeyError;
use crate::domain::{QuotaRefusal, UploadRejection, excerpt};
use crate::telemetry::cause_chain;

/// The longest 4xx message, in bytes: longer ones (which quote the request) end in `…`.
pub const MAX_MESSAGE_BYTES: usize = 300;

/// The challenge of a 401 when no token came (RFC 6750 section 3: no error code then).
pub const WWW_AUTHENTICATE_BEARER: &str = r#"Bearer realm="image-upload""#;
/// The challenge of a 401 for a token that was sent and refused.
pub const WWW_AUTHENTICATE_INVALID_TOKEN: &str =
    r#"Bearer realm="image-upload", error="invalid_token""#;

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Rejected(rejection) => Self::Unauthenticated(rejection),
            AuthError::KeysUnavailable(cause) => Self::AuthUnavailable(cause),
        }
    }
}

/// Everything a request can fail with. The one `match` from an error to an HTTP status is here.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Rejected(#[from] UploadRejection),
    #[error("{0}")]
    MalformedBody(String),
    #[error("the request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("send the request body as JSON, with Content-Type: application/json")]
    NotJson,
    #[error("not authenticated: {0}")]
    Unauthenticated(#[from] AuthRejection),
    #[error("the token signing keys are unavailable")]
    AuthUnavailable(#[source] JwksError),
    #[error("{0}")]
    InvalidQuery(String),
    #[error("no such image")]
    ImageNotFound,
    #[error("no such multipart upload")]
    UploadNotFound,
    #[error(
        "the multipart upload was completed, aborted or ran out of time, or its image is no longer PENDING"
    )]
    UploadNotActive,
    #[error("the upload cannot be completed: {0}")]
    UploadIncomplete(String),
    #[error("partNumber must be a whole number from 1 to {count}")]
    InvalidPartNumber { count: u32 },
    #[error("no such route")]
    NotFound,
    #[error("this route does not take that method")]
    MethodNotAllowed,
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("the CDN's signing key is unavailable")]
    CdnUnavailable(#[source] CdnKeyError),
    #[error(transparent)]
    Quota(QuotaRefusal),
}

/// The `code` and `message` of an error response. The request-tracking middleware adds the
/// `requestId` and writes the JSON body, so every error (including 404 and 405) has one shape.
#[derive(Debug, Clone)]
pub(crate) struct ErrorBody {
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// The code the answer carries (`error.code`).
    pub(crate) fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        use UploadRejection as R;
        match self {
            Self::Rejected(R::InvalidFileName(_)) => (StatusCode::BAD_REQUEST, "INVALID_FILE_NAME"),
            Self::Rejected(R::UnsupportedType { .. }) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_FILE_TYPE")
            }
            Self::Rejected(R::ExtensionMismatch { .. }) => {
                (StatusCode::BAD_REQUEST, "EXTENSION_MISMATCH")
            }
            Self::Rejected(R::InvalidFileSize) => (StatusCode::BAD_REQUEST, "INVALID_FILE_SIZE"),
            Self::Rejected(R::FileSizeRequired) => (StatusCode::BAD_REQUEST, "FILE_SIZE_REQUIRED"),
            Self::Rejected(R::InvalidPartSize) => (StatusCode::BAD_REQUEST, "INVALID_PART_SIZE"),
            Self::Rejected(R::FileTooLarge { .. }) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "FILE_TOO_LARGE")
            }
            Self::MalformedBody(_) => (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            Self::BodyTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE"),
            Self::NotJson => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "BODY_NOT_JSON"),
            Self::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            Self::AuthUnavailable(_) | Self::CdnUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE")
            }
            Self::InvalidQuery(_) => (StatusCode::BAD_REQUEST, "INVALID_QUERY"),
            Self::ImageNotFound => (StatusCode::NOT_FOUND, "IMAGE_NOT_FOUND"),
            Self::UploadNotFound => (StatusCode::NOT_FOUND, "UPLOAD_NOT_FOUND"),
            Self::UploadNotActive => (StatusCode::CONFLICT, "UPLOAD_NOT_ACTIVE"),
            Self::UploadIncomplete(_) => (StatusCode::CONFLICT, "UPLOAD_INCOMPLETE"),
            Self::InvalidPartNumber { .. } => (StatusCode::BAD_REQUEST, "INVALID_PART_NUMBER"),
            Self::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            Self::Quota(QuotaRefusal::Images { .. } | QuotaRefusal::Bytes { .. }) => {
                (StatusCode::FORBIDDEN, "QUOTA_EXCEEDED")
            }
            Self::Quota(QuotaRefusal::InFlight { .. }) => {
                (StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_UPLOADS_IN_FLIGHT")
            }
            Self::Quota(QuotaRefusal::Hourly { .. }) => {
                (StatusCode::TOO_MANY_REQUESTS, "HOURLY_UPLOAD_LIMIT")
            }
            Self::Aws(AwsError::Unavailable { .. }) => {
                (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE")
            }
            Self::Aws(AwsError::Failed { .. }) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() {
            tracing::error!(error = %self, cause = %cause_chain(&self), code, "request failed");
            match status {
                StatusCode::SERVICE_UNAVAILABLE => {
                    "the service is temporarily unavailable; try again shortly".into()
                }
                _ => "internal error".into(),
            }
        } else if let Self::Unauthenticated(rejection) = &self {
            tracing::info!(code, reason = %rejection, "request refused");
            rejection.public_message().into()
        } else {
            // Messages may quote the request (a JSON error quotes the offending value): cut short.
            let message = excerpt(&self.to_string(), MAX_MESSAGE_BYTES).into_owned();
            tracing::info!(code, reason = %message, "request refused");
            message
        };
        let mut response = status.into_response();
        if let Some(wait) = match &self {
            Self::Quota(refusal) => refusal.retry_after(),
            _ => None,
        } {
            // Whole seconds, rounded up: a client that waits as told is not refused again.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Self::Unauthenticated(rejection) = &self {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(if rejection.presented_token() {
                    WWW_AUTHENTICATE_INVALID_TOKEN
                } else {
                    WWW_AUTHENTICATE_BEARER
                }),
            );
        }
        response
            .extensions_mut()
            .insert(ErrorBody { code, message });
        response
    }
}
