use std::path::PathBuf;

use thiserror::Error;

use crate::input::InputError;

/// Why an SDK call failed. Callers branch on the variant, never on a message's text.
#[derive(Debug, Error)]
pub enum SdkError {
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("{address} is not a bonded worker; bond TRN first (`tavdun worker bond`)")]
    NotBonded { address: String },
    #[error("job {job_id} is {status}; this needs it {expected}")]
    WrongStatus {
        job_id: u64,
        status: &'static str,
        expected: &'static str,
    },
    #[error("invalid input: {0}")]
    Input(#[from] InputError),
    #[error("invalid amount: {0}")]
    Amount(String),
    #[error(transparent)]
    Chain(#[from] tavdun_client::ClientError),
    #[error(transparent)]
    ModelDir(#[from] tavdun_core::model_dir::ModelDirError),
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
    #[error("no deployment at {0}: run `tavdun deploy` first")]
    NoDeployment(PathBuf),
    #[error("key: {0}")]
    Key(String),
    #[error("this needs a signing key; the client was made read-only")]
    NoWallet,
    #[error("transaction {txhash} did not report {what}")]
    MissingInTx { txhash: String, what: &'static str },
    #[error("job {job_id} did not {what} within {seconds} s (last status {status})")]
    WaitTimeout {
        job_id: u64,
        what: &'static str,
        seconds: u64,
        status: &'static str,
    },
}

pub type Result<T> = std::result::Result<T, SdkError>;

pub(crate) fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| SdkError::Read {
        path: path.to_path_buf(),
        source,
    })
}
