//! The Tavdun relayer: an HTTP gateway to the market for clients that do not speak Cosmos.
//!
//! - `/v1/blobs`: a content-addressed blob store (a local directory or an S3-compatible
//!   bucket, through `object_store`), where workers fetch model weights by hash;
//! - `/v1/jobs`: jobs submitted from the relayer's own funded account for API-key holders
//!   (with per-key quotas), any job's decoded output and verification state, and its state
//!   changes as server-sent events;
//! - `/v1/models`, `/healthz`, and `/openapi.json`, generated from the handlers.

mod app;
mod auth;
pub mod blobs;
pub mod config;
pub mod error;
mod events;
mod extract;
pub mod health;
pub mod jobs;
mod market;
pub mod models;
mod openapi;
mod store;

pub use app::{Relayer, StartError};
pub use config::Config;
