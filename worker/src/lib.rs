//! The Tavdun worker node: polls the market over gRPC each block, claims jobs its stake
//! covers, runs them on the burn engine, posts results with per-layer commitments, and keeps
//! the others honest by re-executing their results and driving disputes to the one-step check.
//!
//! A library so that tests (and the relayer's) can run a real node in-process; the
//! `tavdun-worker` binary is a thin shell around [`run`].

pub mod config;
mod disputes;
pub mod error;
mod executor;
mod faults;
mod fetch;
mod http;
mod market;
pub mod metrics;
mod models;
mod node;
mod verifier;

pub use config::{Role, WorkerConfig};
pub use error::WorkerError;
pub use node::run;
pub use tokio_util::sync::CancellationToken;
