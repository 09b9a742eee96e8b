//! Tavdun's market: escrow, jobs, workers, models and the dispute game whose last step
//! recomputes one output value on chain with `tavdun_core::eval_unit`.
//!
//! `contract.rs` dispatches each message to the module of its concern.

pub mod admin;
pub mod compact;
pub mod contract;
pub mod disputes;
pub mod error;
pub mod graph_disputes;
pub mod jobs;
pub mod ledger;
pub mod models;
pub mod queries;
pub mod state;
pub mod workers;

pub use error::ContractError;
