use thiserror::Error;

/// What went wrong talking to the chain. Contract refusals carry the contract's own message.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error("invalid configuration: {field}: {reason}")]
    Config { field: &'static str, reason: String },
    #[error("invalid mnemonic: {0}")]
    Mnemonic(String),
    #[error("key derivation failed: {0}")]
    Key(String),
    #[error("cannot reach the chain node at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("chain node unavailable after {attempts} attempts: {status}")]
    Unavailable {
        attempts: u32,
        status: Box<tonic::Status>,
    },
    #[error("gRPC call failed: {0}")]
    Grpc(Box<tonic::Status>),
    #[error("account {address} does not exist on chain yet (fund it first)")]
    AccountNotFound { address: String },
    #[error("the contract refused the message: {message}")]
    Contract { message: String, raw_log: String },
    #[error("transaction {txhash} failed with code {code} ({codespace}): {raw_log}")]
    TxFailed {
        txhash: String,
        code: u32,
        codespace: String,
        raw_log: String,
    },
    #[error("account sequence mismatch persisted after {attempts} attempts: {raw_log}")]
    SequenceMismatch { attempts: u32, raw_log: String },
    #[error("transaction {txhash} was not included within {seconds} s")]
    InclusionTimeout { txhash: String, seconds: u64 },
    #[error("transaction {txhash} carries no `{event}.{attribute}` event attribute")]
    MissingEvent {
        txhash: String,
        event: &'static str,
        attribute: &'static str,
    },
    #[error("could not encode or decode a message: {0}")]
    Codec(String),
}

pub type Result<T> = std::result::Result<T, ClientError>;

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> Self {
        ClientError::Grpc(Box::new(status))
    }
}

impl ClientError {
    /// Reads a failed transaction's log: a contract refusal becomes [`ClientError::Contract`]
    /// with the contract's message alone, anything else [`ClientError::TxFailed`].
    pub fn from_log(txhash: String, code: u32, codespace: String, raw_log: String) -> ClientError {
        match contract_message(&raw_log) {
            Some(message) => ClientError::Contract { message, raw_log },
            None => ClientError::TxFailed {
                txhash,
                code,
                codespace,
                raw_log,
            },
        }
    }

    /// The contract's own error text, when the chain refused a message because of it.
    pub fn contract_message(&self) -> Option<&str> {
        match self {
            ClientError::Contract { message, .. } => Some(message),
            _ => None,
        }
    }
}

/// wasmd wraps a contract error as
/// `failed to execute message; message index: N: <contract error>: execute wasm contract failed [...]`
/// (the same text arrives in a failed simulation's gRPC status).
pub(crate) fn contract_message(log: &str) -> Option<String> {
    const SUFFIX: &str = ": execute wasm contract failed";
    let end = log.find(SUFFIX)?;
    let head = &log[..end];
    const INDEX: &str = "message index: ";
    let start = head
        .find(INDEX)
        .map(|i| i + INDEX.len())
        .and_then(|i| head[i..].find(": ").map(|j| i + j + 2))
        .unwrap_or(0);
    Some(head[start..].trim().to_string())
}

/// `account sequence mismatch, expected 7, got 6: incorrect account sequence` -> 7.
pub(crate) fn expected_sequence(log: &str) -> Option<u64> {
    let rest = &log[log.find("account sequence mismatch, expected ")? + 36..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// A failed smart query's status reads `<contract error>: query wasm contract failed: unknown
/// request` (wasmd v0.61); older nodes put the contract error after the marker instead.
pub(crate) fn contract_query_message(status: &str) -> Option<String> {
    let marker = "query wasm contract failed";
    let at = status.find(marker)?;
    let before = status[..at].trim().trim_end_matches(':').trim();
    let after = status[at + marker.len()..].trim_start_matches(':').trim();
    let after = after.strip_suffix("unknown request").unwrap_or(after);
    let after = after.trim().trim_end_matches(':').trim();
    Some(if before.is_empty() { after } else { before }.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_errors_are_unwrapped() {
        let log = "failed to execute message; message index: 0: Fee 5 is below the model's minimum fee 10: execute wasm contract failed";
        assert_eq!(
            contract_message(log).as_deref(),
            Some("Fee 5 is below the model's minimum fee 10")
        );
        let sim = "rpc error: code = Unknown desc = failed to execute message; message index: 2: Unauthorized: execute wasm contract failed [CosmWasm/wasmd/x/wasm/keeper/keeper.go:427] With gas wanted: '0' and gas used: '1234' : unknown request";
        assert_eq!(contract_message(sim).as_deref(), Some("Unauthorized"));
        assert_eq!(contract_message("insufficient fees; got: 1stake"), None);
    }

    #[test]
    fn query_errors_are_unwrapped() {
        let v061 = "wasm1xyz is not a bonded worker; bond TRN through a CW20 Send first: query wasm contract failed: unknown request";
        assert_eq!(
            contract_query_message(v061).as_deref(),
            Some("wasm1xyz is not a bonded worker; bond TRN through a CW20 Send first")
        );
        let older = "query wasm contract failed: no job 7: unknown request";
        assert_eq!(contract_query_message(older).as_deref(), Some("no job 7"));
        assert_eq!(contract_query_message("connection refused"), None);
    }

    #[test]
    fn sequence_mismatch_is_parsed() {
        let log = "account sequence mismatch, expected 7, got 6: incorrect account sequence";
        assert_eq!(expected_sequence(log), Some(7));
        assert_eq!(expected_sequence("out of gas"), None);
    }
}
