use std::path::PathBuf;

use thiserror::Error;

/// Why a command could not do its work; each message says what to do next.
#[derive(Debug, Error)]
pub enum CliError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("config: {field}: {reason}")]
    Config { field: &'static str, reason: String },
    #[error("no signing key: pass --from <test account> or set TAVDUN_MNEMONIC")]
    NoKey,
    #[error("no deployment at {0}: run `tavdun deploy` first")]
    NoDeployment(PathBuf),
    #[error("invalid input: {0}")]
    Input(String),
    #[error("model: {0}")]
    Model(#[from] tavdun_core::ModelError),
    #[error(transparent)]
    Chain(#[from] tavdun_client::ClientError),
    #[error("job {job_id} did not finish within {seconds} s (last status {status})")]
    WaitTimeout {
        job_id: u64,
        seconds: u64,
        status: String,
    },
}

pub type Result<T> = std::result::Result<T, CliError>;

pub fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })
}
