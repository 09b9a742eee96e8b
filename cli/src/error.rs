use std::path::PathBuf;

use tavdun_sdk::SdkError;
use thiserror::Error;

/// Why a command could not do its work; each message says what to do next.
#[derive(Debug, Error)]
pub enum CliError {
    #[error(transparent)]
    Sdk(#[from] SdkError),
    #[error("cannot read {path}: {reason}")]
    Settings { path: PathBuf, reason: String },
    #[error("no signing key: pass --from <test account> or set TAVDUN_MNEMONIC")]
    NoKey,
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Embedding(#[from] tavdun_sdk::embedding::EmbeddingError),
    #[error(transparent)]
    Text(#[from] tavdun_sdk::text::TextError),
}

impl From<tavdun_sdk::client::ClientError> for CliError {
    fn from(e: tavdun_sdk::client::ClientError) -> CliError {
        CliError::Sdk(e.into())
    }
}

impl From<tavdun_sdk::model_dir::ModelDirError> for CliError {
    fn from(e: tavdun_sdk::model_dir::ModelDirError) -> CliError {
        CliError::Sdk(e.into())
    }
}

impl CliError {
    /// A short, stable word for `--json` error output.
    pub fn code(&self) -> &'static str {
        use tavdun_sdk::client::ClientError;
        match self {
            CliError::Sdk(SdkError::Chain(ClientError::Contract { .. })) => "contract",
            CliError::Sdk(SdkError::Chain(_)) => "chain",
            CliError::Sdk(SdkError::Input(_) | SdkError::Amount(_))
            | CliError::Usage(_)
            | CliError::Embedding(_)
            | CliError::Text(_) => "input",
            CliError::Sdk(SdkError::WaitTimeout { .. }) => "timeout",
            CliError::Sdk(SdkError::NotFound { .. }) => "not_found",
            _ => "error",
        }
    }
}

pub type Result<T> = std::result::Result<T, CliError>;
