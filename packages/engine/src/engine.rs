//! The engine: one device, models loaded onto it once, batches of jobs run in one pass.

use std::time::{Duration, Instant};

use burn::tensor::{Device, Transaction};
use tavdun_core::graph::GraphModel;
use tavdun_core::{Model, Shape};

use crate::chain::{Activation, Chain};
use crate::config::EngineConfig;
use crate::device::{self, Backend, DeviceReport};
use crate::error::EngineError;
use crate::graph::products::ProductStrategy;
use crate::graph::LoadedGraph;
use crate::host::HostChain;

/// Every layer's output bytes for one job, in layer order: what `tavdun_core::forward`
/// returns and what the worker hashes.
pub type Activations = Vec<Vec<i8>>;

/// An open device and the configuration it was opened with.
pub struct Engine {
    device: Device,
    report: DeviceReport,
    config: EngineConfig,
}

impl Engine {
    /// Opens the device the configuration names; with `backend = auto`, falls back to the CPU
    /// when no hardware GPU adapter opens (the reason is in [`DeviceReport::fallback_reason`]).
    pub fn new(config: EngineConfig) -> Result<Engine, EngineError> {
        let (device, report) = device::open(&config)?;
        Ok(Engine {
            device,
            report,
            config,
        })
    }

    /// What the engine runs on.
    pub fn device_report(&self) -> &DeviceReport {
        &self.report
    }

    /// Uploads the model's weights (or packs them for the CPU kernels, where the products
    /// strategy is theirs) and runs the configured warm-up batches, so that kernel
    /// compilation and first allocations are paid here rather than by the first jobs.
    pub fn load(&self, model: &Model) -> Result<LoadedModel, EngineError> {
        let started = Instant::now();
        let layers = match self.report.graph_products {
            ProductStrategy::CpuInt8 => Layers::Cpu(HostChain::build(model)?),
            _ => Layers::Burn(Chain::build(model, &self.device)?),
        };
        let mut loaded = LoadedModel {
            layers,
            device: self.device.clone(),
            backend: self.report.backend,
            input: model.plan.input,
            output_lens: model.plan.layers.iter().map(|lp| lp.output.len()).collect(),
            max_batch: self.config.max_batch.max(1),
            load_time: Duration::ZERO,
        };
        for &batch in &self.config.warmup_batches {
            let zeros = vec![0i8; batch * loaded.input.len()];
            loaded.run_pass(&zeros, batch)?;
        }
        loaded.load_time = started.elapsed();
        Ok(loaded)
    }

    /// Uploads a graph model's (version 2) weights and runs the configured warm-up batches,
    /// each at the model's longest input and at one token: kernels are compiled per shape
    /// class (a 128-token batch vectorises where a 7-token one cannot), so both are paid here
    /// rather than by the first jobs.
    pub fn load_graph(&self, model: &GraphModel) -> Result<LoadedGraph, EngineError> {
        let started = Instant::now();
        let mut loaded = LoadedGraph::build(
            model,
            &self.device,
            self.report.backend,
            self.report.graph_products,
            self.config.max_batch,
            self.config.pass_elements,
        )?;
        for &batch in &self.config.warmup_batches {
            for tokens in [model.plan.max_tokens, 1] {
                loaded.warm_up(batch.max(1), tokens)?;
            }
        }
        loaded.set_load_time(started.elapsed());
        Ok(loaded)
    }
}

/// Where a version 1 model runs: burn operations on the device, or the CPU kernels.
enum Layers {
    Burn(Chain),
    Cpu(HostChain),
}

/// A model resident on the engine's device.
pub struct LoadedModel {
    layers: Layers,
    device: Device,
    backend: Backend,
    input: Shape,
    output_lens: Vec<usize>,
    max_batch: usize,
    load_time: Duration,
}

impl LoadedModel {
    /// Runs every job and returns each job's activations, in job order. Jobs are run in passes
    /// of at most `max_batch`; an empty job list costs nothing.
    pub fn run<J: AsRef<[i8]>>(&self, jobs: &[J]) -> Result<Vec<Activations>, EngineError> {
        let expected = self.input.len();
        if let Some((job, found)) = jobs
            .iter()
            .map(|j| j.as_ref().len())
            .enumerate()
            .find(|&(_, len)| len != expected)
        {
            return Err(EngineError::InputLen {
                job,
                found,
                expected,
            });
        }
        let mut results = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks(self.max_batch) {
            let inputs: Vec<i8> = chunk.iter().flat_map(|j| j.as_ref()).copied().collect();
            results.extend(self.run_pass(&inputs, chunk.len())?);
        }
        Ok(results)
    }

    /// One forward pass over `batch` concatenated inputs.
    fn run_pass(&self, inputs: &[i8], batch: usize) -> Result<Vec<Activations>, EngineError> {
        match &self.layers {
            Layers::Burn(chain) => self.burn_pass(chain, inputs, batch),
            Layers::Cpu(host) => Ok(host.run(inputs, batch)),
        }
    }

    /// [`LoadedModel::run_pass`] on burn: every layer's output read back from the device.
    fn burn_pass(
        &self,
        chain: &Chain,
        inputs: &[i8],
        batch: usize,
    ) -> Result<Vec<Activations>, EngineError> {
        let input = Activation::input(inputs, batch, self.input, &self.device);
        // One read-back for all layers: one synchronisation with the device per pass.
        let transaction = chain
            .forward(input)
            .into_iter()
            .enumerate()
            .filter(|&(i, _)| !chain.is_view(i))
            .fold(Transaction::default(), |tx, (_, out)| out.register(tx));
        let backend_error = |message: String| EngineError::Backend {
            backend: self.backend.name(),
            message,
        };
        let mut read = transaction
            .try_execute()
            .map_err(|e| backend_error(format!("{e:?}")))?
            .into_iter();
        let in_len = self.input.len();
        let mut results: Vec<Activations> = (0..batch)
            .map(|_| Vec::with_capacity(self.output_lens.len()))
            .collect();
        for (layer, &len) in self.output_lens.iter().enumerate() {
            if chain.is_view(layer) {
                for (j, acts) in results.iter_mut().enumerate() {
                    let previous = match acts.last() {
                        Some(previous) => previous.clone(),
                        None => inputs[j * in_len..(j + 1) * in_len].to_vec(),
                    };
                    acts.push(previous);
                }
                continue;
            }
            let data = read
                .next()
                .ok_or_else(|| backend_error(format!("layer {layer} was not read back")))?;
            let values = data
                .as_slice::<f32>()
                .map_err(|e| backend_error(format!("layer {layer}: {e:?}")))?;
            if values.len() != batch * len {
                return Err(backend_error(format!(
                    "layer {layer}: read {} values, expected {}",
                    values.len(),
                    batch * len
                )));
            }
            for (acts, row) in results.iter_mut().zip(values.chunks_exact(len)) {
                acts.push(to_int8(layer, row)?);
            }
        }
        Ok(results)
    }

    /// Weight upload plus warm-up: what a first job would otherwise wait for.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    pub fn input_len(&self) -> usize {
        self.input.len()
    }

    /// What runs the model's layers: the CPU kernels (named as in the device report) or
    /// burn's f32 operations on the device.
    pub fn kernels(&self) -> &'static str {
        match &self.layers {
            Layers::Burn(_) => "burn f32 operations",
            Layers::Cpu(_) => crate::host::gemm::kernel_name(),
        }
    }

    pub fn max_batch(&self) -> usize {
        self.max_batch
    }
}

/// The exact int8 value of each element; anything else means the backend broke exactness.
fn to_int8(layer: usize, row: &[f32]) -> Result<Vec<i8>, EngineError> {
    row.iter()
        .map(|&v| {
            let int = v as i8;
            if f32::from(int) == v {
                Ok(int)
            } else {
                Err(EngineError::NotInt8 { layer, value: v })
            }
        })
        .collect()
}
