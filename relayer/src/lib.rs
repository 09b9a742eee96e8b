//! The Tavdun relayer: an HTTP gateway to the market for clients that do not speak Cosmos.
//!
//! - `/v1/blobs`: a content-addressed blob store (a local directory or an S3-compatible
//!   bucket, through `object_store`), where workers fetch model weights by hash;
//! - `/v1/jobs`: jobs submitted from the relayer's own funded account for API-key holders
//!   (with per-key quotas), any job's decoded output and verification state, and its state
//!   changes as server-sent events;
//! - `/v1/embeddings`: OpenAI's embeddings API, one job per text, answered with the vectors
//!   and where each stands in verification;
//! - `/v1/models`, `/healthz`, and `/openapi.json`, generated from the handlers.
//!
//! `app` builds the router over `state` (what handlers share); `api/*` are the handlers,
//! `views` what they answer, `extract` what they read from a request (the caller's API key
//! among it), `keys` the API keys and their quotas, `catalog` the models by name, `tokenizers` the embedding
//! models' tokenizers, `store` the blobs.

pub mod api;
mod app;
mod catalog;
pub mod config;
pub mod error;
mod extract;
mod keys;
mod openapi;
mod state;
mod store;
mod tokenizers;
pub mod views;

pub use app::{Relayer, StartError};
pub use config::Config;
