//! Every way a request can fail, as one typed error with a stable code. Bad input is always a
//! 4xx that says what to fix; a 5xx means the relayer, its storage or the chain failed.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tavdun_sdk::client::ClientError;
use tavdun_sdk::SdkError;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{message}")]
    QuotaExceeded {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    FeeAboveLimit(String),
    #[error("{0}")]
    NotFound(String),
    #[error("this path does not take the {0} method")]
    MethodNotAllowed(String),
    #[error("{0}")]
    UnknownModel(String),
    #[error("no job {0} on chain")]
    UnknownJob(u64),
    #[error("no blob {0}; upload it with PUT /v1/blobs")]
    UnknownBlob(String),
    #[error("{0}")]
    ModelInactive(String),
    #[error("the body is not the JSON this endpoint takes: {0}")]
    InvalidJson(String),
    #[error("send the body as Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("the body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("could not read the request body: {0}")]
    BodyUnreadable(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("`{0}` is not a sha256: give 64 hexadecimal digits")]
    InvalidHash(String),
    #[error("the body hashes to {actual}, not the expected {expected}")]
    HashMismatch { expected: String, actual: String },
    #[error("`{0}` is not a job id: give a non-negative integer")]
    InvalidJobId(String),
    #[error("input.base64 is not valid base64 (standard alphabet, padded): {0}")]
    BadBase64(String),
    #[error("{0}")]
    WrongInputLength(String),
    #[error("{0}")]
    InvalidFee(String),
    #[error("{0}")]
    FeeBelowMinimum(String),
    #[error("{0}")]
    InvalidDeadline(String),
    #[error("{0}")]
    EmptyInput(String),
    #[error("{0}")]
    TooManyInputs(String),
    #[error("{0}")]
    NotAnEmbeddingModel(String),
    #[error("{0}")]
    NoTokenizer(String),
    #[error("jobs {job_ids:?} were submitted and paid, but not all were {awaited} within {seconds} s; follow them at /v1/jobs/{{id}}")]
    WaitTimeout {
        job_ids: Vec<u64>,
        awaited: &'static str,
        seconds: u64,
    },
    #[error("{message}; the request's jobs are {job_ids:?}")]
    JobFailed { job_ids: Vec<u64>, message: String },
    #[error("the range is outside the blob's {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    #[error("the chain refused the job: {0}")]
    ChainRejected(String),
    #[error("the chain node is unreachable: {0}")]
    ChainUnavailable(String),
    #[error("chain call failed: {0}")]
    Chain(String),
    #[error("the stored copy of blob {0} is corrupt and was not served; upload it again")]
    BlobCorrupted(String),
    #[error("blob storage failed: {0}")]
    Storage(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The stable, machine-readable name of an error; clients match on it, never on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthorized,
    QuotaExceeded,
    FeeAboveLimit,
    NotFound,
    MethodNotAllowed,
    UnknownModel,
    UnknownJob,
    UnknownBlob,
    ModelInactive,
    InvalidJson,
    UnsupportedMediaType,
    BodyTooLarge,
    BodyUnreadable,
    InvalidParameter,
    InvalidHash,
    HashMismatch,
    InvalidJobId,
    BadBase64,
    WrongInputLength,
    InvalidFee,
    FeeBelowMinimum,
    InvalidDeadline,
    EmptyInput,
    TooManyInputs,
    NotAnEmbeddingModel,
    NoTokenizer,
    WaitTimeout,
    JobFailed,
    RangeNotSatisfiable,
    ChainRejected,
    ChainUnavailable,
    ChainError,
    BlobCorrupted,
    StorageUnavailable,
    Internal,
}

/// The body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// What went wrong and what to do about it, for people.
    pub message: String,
    /// The jobs a request submitted and paid for, when it failed after submitting them
    /// (`wait_timeout`, `job_failed`): they stay on chain, readable at `/v1/jobs/{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_ids: Option<Vec<u64>>,
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        use ApiError as E;
        match self {
            E::Unauthorized(_) => ErrorCode::Unauthorized,
            E::QuotaExceeded { .. } => ErrorCode::QuotaExceeded,
            E::FeeAboveLimit(_) => ErrorCode::FeeAboveLimit,
            E::NotFound(_) => ErrorCode::NotFound,
            E::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            E::UnknownModel(_) => ErrorCode::UnknownModel,
            E::UnknownJob(_) => ErrorCode::UnknownJob,
            E::UnknownBlob(_) => ErrorCode::UnknownBlob,
            E::ModelInactive(_) => ErrorCode::ModelInactive,
            E::InvalidJson(_) => ErrorCode::InvalidJson,
            E::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            E::BodyTooLarge { .. } => ErrorCode::BodyTooLarge,
            E::BodyUnreadable(_) => ErrorCode::BodyUnreadable,
            E::InvalidParameter(_) => ErrorCode::InvalidParameter,
            E::InvalidHash(_) => ErrorCode::InvalidHash,
            E::HashMismatch { .. } => ErrorCode::HashMismatch,
            E::InvalidJobId(_) => ErrorCode::InvalidJobId,
            E::BadBase64(_) => ErrorCode::BadBase64,
            E::WrongInputLength(_) => ErrorCode::WrongInputLength,
            E::InvalidFee(_) => ErrorCode::InvalidFee,
            E::FeeBelowMinimum(_) => ErrorCode::FeeBelowMinimum,
            E::InvalidDeadline(_) => ErrorCode::InvalidDeadline,
            E::EmptyInput(_) => ErrorCode::EmptyInput,
            E::TooManyInputs(_) => ErrorCode::TooManyInputs,
            E::NotAnEmbeddingModel(_) => ErrorCode::NotAnEmbeddingModel,
            E::NoTokenizer(_) => ErrorCode::NoTokenizer,
            E::WaitTimeout { .. } => ErrorCode::WaitTimeout,
            E::JobFailed { .. } => ErrorCode::JobFailed,
            E::RangeNotSatisfiable { .. } => ErrorCode::RangeNotSatisfiable,
            E::ChainRejected(_) => ErrorCode::ChainRejected,
            E::ChainUnavailable(_) => ErrorCode::ChainUnavailable,
            E::Chain(_) => ErrorCode::ChainError,
            E::BlobCorrupted(_) => ErrorCode::BlobCorrupted,
            E::Storage(_) => ErrorCode::StorageUnavailable,
            E::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
                job_ids: match self {
                    ApiError::WaitTimeout { job_ids, .. } | ApiError::JobFailed { job_ids, .. } => {
                        Some(job_ids.clone())
                    }
                    _ => None,
                },
            },
        }
    }

    pub fn status(&self) -> StatusCode {
        use ApiError as E;
        match self {
            E::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            E::QuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            E::FeeAboveLimit(_) => StatusCode::FORBIDDEN,
            E::NotFound(_) | E::UnknownModel(_) | E::UnknownJob(_) | E::UnknownBlob(_) => {
                StatusCode::NOT_FOUND
            }
            E::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            E::ModelInactive(_) => StatusCode::CONFLICT,
            E::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            E::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            E::InvalidJson(_)
            | E::BodyUnreadable(_)
            | E::InvalidParameter(_)
            | E::InvalidHash(_)
            | E::HashMismatch { .. }
            | E::InvalidJobId(_)
            | E::BadBase64(_)
            | E::WrongInputLength(_)
            | E::InvalidFee(_)
            | E::FeeBelowMinimum(_)
            | E::InvalidDeadline(_)
            | E::EmptyInput(_)
            | E::TooManyInputs(_)
            | E::NotAnEmbeddingModel(_)
            | E::NoTokenizer(_) => StatusCode::BAD_REQUEST,
            E::WaitTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            E::JobFailed { .. } => StatusCode::BAD_GATEWAY,
            E::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            E::ChainRejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            E::ChainUnavailable(_) | E::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            E::Chain(_) => StatusCode::BAD_GATEWAY,
            E::BlobCorrupted(_) | E::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = ?self.code(), "{self}");
        } else {
            tracing::debug!(code = ?self.code(), "{self}");
        }
        let mut response = (status, Json(self.body())).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::QuotaExceeded {
                retry_after_secs, ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::RangeNotSatisfiable { size } => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    headers.insert(header::CONTENT_RANGE, v);
                }
            }
            _ => {}
        }
        response
    }
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> ApiError {
        match e {
            ClientError::Contract { message, .. } => ApiError::ChainRejected(message),
            ClientError::Unavailable { .. }
            | ClientError::Connect { .. }
            | ClientError::InclusionTimeout { .. } => ApiError::ChainUnavailable(e.to_string()),
            e => ApiError::Chain(e.to_string()),
        }
    }
}

impl From<SdkError> for ApiError {
    fn from(e: SdkError) -> ApiError {
        match e {
            SdkError::Chain(e) => e.into(),
            SdkError::Input(e) => ApiError::WrongInputLength(e.to_string()),
            SdkError::NotFound { what, id } => ApiError::NotFound(format!("no {what} {id}")),
            e => ApiError::Internal(e.to_string()),
        }
    }
}
