//! Tavdun's inference engine: a model's spec and weights become a burn graph at run time, on
//! wgpu (any adapter, software ones included) or on burn's CPU backend, and batches of jobs
//! return every layer's int8 activations, bit-identical to `tavdun_core::forward`.
//!
//! - [`config`]: the one configuration struct, from code or the environment;
//! - [`device`]: opening a device and describing it ([`DeviceReport`]);
//! - [`engine`]: [`Engine`] and the models loaded on it ([`LoadedModel`]);
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

pub mod config;
pub mod device;
pub mod engine;
pub mod error;
mod graph;

pub use config::{AdapterChoice, BackendChoice, EngineConfig};
pub use device::{Backend, DeviceReport, DeviceType};
pub use engine::{Activations, Engine, LoadedModel};
pub use error::EngineError;
