use tavdun_sdk::SdkError;
use thiserror::Error;

/// What stops the worker, or one step of its loop.
#[derive(Debug, Error)]
pub enum WorkerError {
    #[error("invalid configuration: {field}: {reason}")]
    Config { field: &'static str, reason: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sdk(#[from] SdkError),
    #[error(transparent)]
    Engine(#[from] tavdun_engine::EngineError),
    #[error("fetching {uri}: {reason}")]
    Fetch { uri: String, reason: String },
    #[error("model {model_id}: weights from {uri} do not match the registered weights root")]
    WeightsMismatch { model_id: String, uri: String },
    #[error("model {model_id}: {reason}")]
    Model { model_id: String, reason: String },
    #[error("job {job_id}: input from {uri} does not hash to the job's input hash")]
    InputMismatch { job_id: u64, uri: String },
    #[error("job {job_id}: {reason}")]
    Job { job_id: u64, reason: String },
}

impl From<tavdun_sdk::client::ClientError> for WorkerError {
    fn from(e: tavdun_sdk::client::ClientError) -> WorkerError {
        WorkerError::Sdk(e.into())
    }
}

pub type Result<T> = std::result::Result<T, WorkerError>;

impl WorkerError {
    /// A short, stable label for the `reason` of the tx-failure metric.
    pub fn reason_label(&self) -> &'static str {
        use tavdun_sdk::client::ClientError as C;
        match self {
            WorkerError::Sdk(SdkError::Chain(C::Contract { .. })) => "contract",
            WorkerError::Sdk(SdkError::Chain(C::SequenceMismatch { .. })) => "sequence",
            WorkerError::Sdk(SdkError::Chain(C::InclusionTimeout { .. })) => "inclusion_timeout",
            WorkerError::Sdk(SdkError::Chain(
                C::Unavailable { .. } | C::Connect { .. } | C::Grpc(_),
            )) => "chain_unavailable",
            WorkerError::Sdk(SdkError::Chain(C::TxFailed { .. })) => "tx_failed",
            _ => "other",
        }
    }
}
