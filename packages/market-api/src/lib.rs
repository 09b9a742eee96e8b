//! The interface of Tavdun's contracts, shared by the contracts and every off-chain program:
//! what can be sent to the market (messages, CW20 hook messages, queries), what it answers,
//! and the value types those carry. No storage code: the contracts keep their own maps.
//!
//! A not-found answer is data (`Option` in a response), never an error to match on.

pub mod config;
pub mod dispute;
pub mod job;
pub mod model;
pub mod msg;
pub mod query;
pub mod token;
pub mod worker;

pub use config::{Config, Params, PendingParams, Totals};
/// The chain's primitive types the interface is written in.
pub use cosmwasm_std::{Addr, Binary, Timestamp, Uint128};
pub use dispute::{Dispute, DisputeOutcome};
pub use job::{EndReason, Job, JobInput, JobResult, JobStatus, JobTerms};
pub use model::{GraphModelInfo, ModelInfo};
pub use msg::{
    node_claim_hashes, reveal_row, ChallengeClaim, ExecuteMsg, GraphResultMsg, InstantiateMsg,
    JobRequest, JobResultMsg, MigrateMsg, NodeChallengeClaim, ReceiveMsg, RevealedRun, RunMismatch,
};
pub use query::*;
pub use worker::{HardwareDeclaration, Unbonding, Worker};
