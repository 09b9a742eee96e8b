//! Tavdun's SDK: the library every off-chain program (the `tavdun` CLI, the worker node, the
//! relayer, the demo, the end-to-end tests) is built on.
//!
//! - [`deployment`]: where the contracts are (the one file `tavdun deploy` writes);
//! - [`keys`]: who signs (a mnemonic, an environment variable, or a localnet test account);
//! - [`amount`]: TRN amounts as people write them;
//! - [`model_dir`]: a model directory (`spec.json` + `weights.safetensors`), core's;
//! - [`input`]: a job's input read from a file or values and quantised for its model;
//! - [`deploy`]: contracts stored, instantiated and models registered, with progress reported
//!   through a callback;
//! - [`market`]: [`MarketClient`], the market as typed calls;
//! - [`job_view`]: a job with its output decoded;
//! - [`embedding`]: embedding models (graph models ending in an L2 norm), their jobs waited
//!   for, their vectors decoded, their verification spelled out;
//! - [`text`] (feature `text`): text to token ids with a model's `tokenizer.json`;
//! - [`service`]: the command line the service binaries share.
//!
//! No terminal code and no command-line parsing: those belong to the programs.

pub mod amount;
pub mod deploy;
pub mod deployment;
pub mod embedding;
pub mod error;
pub mod input;
pub mod job_view;
pub mod keys;
pub mod market;
pub mod service;
#[cfg(feature = "text")]
pub mod text;

pub use deployment::Deployment;
pub use error::{Result, SdkError};
pub use keys::{KeySource, TestAccounts};
pub use market::MarketClient;
pub use tavdun_client as client;
pub use tavdun_core::model_dir;
pub use tavdun_market_api as api;
