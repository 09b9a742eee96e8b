//! The HTTP handlers, one module per resource; each turns a request into calls on the shared
//! [`State`](crate::state::State) and answers with a [`views`](crate::views) type.

pub mod blobs;
pub mod embeddings;
pub mod events;
pub mod health;
pub mod jobs;
pub mod models;
