//! The `tavdun` command's logic, as a library so the end-to-end tests drive the same code.

pub mod amount;
pub mod config;
pub mod deploy;
pub mod deployment;
pub mod error;
pub mod jobs;
pub mod progress;
