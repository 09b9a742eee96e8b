//! Tavdun's inference engine: a model's spec and weights become a burn graph at run time, on
//! wgpu (any adapter, software ones included) or on burn's CPU backend, and batches of jobs
//! return every layer's int8 activations, bit-identical to `tavdun_core::forward`.
//!
//! - [`config`]: the one configuration struct, from code or the environment;
//! - [`device`]: opening a device and describing it ([`DeviceReport`]);
//! - [`engine`]: [`Engine`] and the models loaded on it ([`LoadedModel`], version 1;
//!   [`LoadedGraph`], version 2);
//! - [`graph`]: graph models (transformers) as burn operations;
//! - `host`: the CPU kernels of graph models (core's arithmetic, int8 products);
//! - [`memory`]: [`retain_freed_memory`], for the binaries that run passes.
//!
//! ```no_run
//! use tavdun_engine::{Engine, EngineConfig};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let model = tavdun_core::synthetic::mlp("bench-mlp", &[784, 512, 256, 10], 1)?;
//! let engine = Engine::new(EngineConfig::from_env()?)?;
//! println!("{}", engine.device_report());
//! let loaded = engine.load(&model)?;
//! let jobs = vec![vec![0i8; 784]; 64];
//! let activations = loaded.run(&jobs)?; // activations[job][layer] = that layer's bytes
//! # Ok(()) }
//! ```
//!
//! A graph model (version 2) returns core's [`tavdun_core::graph::Trace`] per job, whose node
//! roots and trace root are what a worker commits to:
//!
//! ```no_run
//! use tavdun_core::graph::trace_root;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let model = tavdun_core::synthetic::random_encoder(1)?;
//! let engine = tavdun_engine::Engine::new(tavdun_engine::EngineConfig::from_env()?)?;
//! let loaded = engine.load_graph(&model)?;
//! let jobs = vec![tavdun_core::synthetic::random_token_input(&model.plan, 7)];
//! for (job, trace) in jobs.iter().zip(loaded.run(&jobs)?) {
//!     let root = trace_root(job, &trace.node_roots());
//!     println!("output {:?}, trace root {root:02x?}", trace.output().values);
//! }
//! # Ok(()) }
//! ```

mod chain;
pub mod config;
pub mod device;
pub mod engine;
pub mod error;
pub mod graph;
mod host;
mod layers;
pub mod memory;

pub use config::{AdapterChoice, BackendChoice, EngineConfig, ProductChoice};
pub use device::{Backend, DeviceReport, DeviceType};
pub use engine::{Activations, Engine, LoadedModel};
pub use error::EngineError;
pub use graph::products::ProductStrategy;
pub use graph::LoadedGraph;
pub use memory::retain_freed_memory;
