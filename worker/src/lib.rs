//! The Tavdun worker node: polls the market over gRPC each block, claims jobs its stake
//! covers, runs them on the burn engine, posts results with per-layer commitments, and keeps
//! the others honest by re-executing their results and driving disputes to the one-step check.
//!
//! The node's loop ([`node`]) drives three roles, each owning its state: the [`executor`]
//! (claims, posts, finalizations), the [`defender`] (answers to challenges of its results)
//! and the [`verifier`] (checks of others' results and the disputes it opens). They share
//! [`services::Services`]: the market, the job runner, telemetry.
//!
//! A library so that tests (and the relayer's) can run a real node in-process; the
//! `tavdun-worker` binary is a thin shell around [`run`].

pub mod config;
mod defender;
pub mod error;
mod executor;
mod faults;
mod fetch;
mod models;
mod node;
mod runner;
mod services;
mod telemetry;
mod verifier;

pub use config::{Role, WorkerConfig};
pub use error::WorkerError;
pub use node::run;
pub use tokio_util::sync::CancellationToken;
