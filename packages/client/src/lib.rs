//! Tavdun's chain client: gRPC queries, key derivation, gas simulation, signing,
//! broadcasting with inclusion wait and sequence tracking, and CosmWasm helpers.
//!
//! It knows nothing of jobs or models: callers pass the contracts' own message types.

mod chain;
mod config;
mod error;
mod governance;
mod retry;
mod signer;
mod tx_result;
mod wallet;
mod wasm;

pub use chain::{AccountInfo, BlockInfo, ChainClient};
pub use config::{ChainConfig, GasPrice, RetryPolicy};
pub use cosmrs::Any;
pub use error::{ClientError, Result};
pub use signer::{Signer, HD_PATH};
pub use tx_result::{Event, TxResult};
pub use wallet::Wallet;
