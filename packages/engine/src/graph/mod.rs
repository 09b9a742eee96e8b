//! Version 2 graph models (transformers) on the engine: the spec and weights become
//! operations at run time, either burn operations on the device ([`steps`]; wgpu, or flex on
//! the CPU), where jobs run in padded batches ([`padded`]), or the engine's CPU kernels
//! ([`crate::host`]). Every node's output comes back per job as core's [`Trace`],
//! bit-identical to `tavdun_core::graph::forward`.
//!
//! - [`ints`]: core's integer primitives as int32 tensor operations;
//! - [`products`]: exact integer matrix products (int32 matmul, or f32 over short slices);
//! - [`steps`]: one node's op and weights as burn operations;
//! - [`padded`]: the padded batch layout and how a job's tensors are cut out of it.

pub(crate) mod ints;
pub(crate) mod padded;
pub mod products;
pub(crate) mod steps;

use std::time::{Duration, Instant};

use burn::tensor::{Device, Transaction};
use tavdun_core::graph::{GraphModel, GraphPlan, TokenInput, Trace};

use crate::device::Backend;
use crate::error::EngineError;
use crate::host::HostGraph;
use padded::PaddedNode;
use products::{BurnProducts, ProductStrategy};
use steps::{upload, BatchInput, Step};

/// Burn operations on a device, and the device.
struct BurnGraph {
    steps: Vec<Step>,
    device: Device,
    backend: Backend,
    products: BurnProducts,
}

enum Kernels {
    Burn(BurnGraph),
    Cpu(HostGraph),
}

/// A graph model resident on the engine's device.
pub struct LoadedGraph {
    kernels: Kernels,
    plan: GraphPlan,
    strategy: ProductStrategy,
    max_batch: usize,
    pass_elements: u64,
    load_time: Duration,
}

impl LoadedGraph {
    /// Uploads (or packs) every node's weights; warm-up is the engine's
    /// ([`crate::Engine::load_graph`]).
    pub(crate) fn build(
        model: &GraphModel,
        device: &Device,
        backend: Backend,
        strategy: ProductStrategy,
        max_batch: usize,
        pass_elements: u64,
    ) -> Result<LoadedGraph, EngineError> {
        let kernels = match strategy.burn() {
            Some(products) => Kernels::Burn(BurnGraph {
                steps: (0..model.spec.nodes.len())
                    .map(|i| Step::build(model, i, device, products))
                    .collect::<Result<Vec<_>, _>>()?,
                device: device.clone(),
                backend,
                products,
            }),
            None => Kernels::Cpu(HostGraph::build(model)?),
        };
        Ok(LoadedGraph {
            kernels,
            plan: model.plan.clone(),
            strategy,
            max_batch: max_batch.max(1),
            pass_elements: pass_elements.max(1),
            load_time: Duration::ZERO,
        })
    }

    pub(crate) fn set_load_time(&mut self, load_time: Duration) {
        self.load_time = load_time;
    }

    /// Runs every job and returns each job's trace (every node's output), in job order.
    ///
    /// Jobs are checked against the model first (a bad one fails the call with its index,
    /// before anything runs). They then run in passes: sorted by length, so that a pass pads
    /// little, each pass at most `max_batch` jobs and at most `pass_elements` padded values in
    /// its largest node. A job's bytes do not depend on the pass it runs in.
    pub fn run(&self, jobs: &[TokenInput]) -> Result<Vec<Trace>, EngineError> {
        let lengths = self.check(jobs)?;
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by_key(|&j| lengths[j]);
        let mut traces: Vec<Option<Trace>> = vec![None; jobs.len()];
        let mut start = 0;
        while start < order.len() {
            let end = self.pass_end(&order, &lengths, start);
            let pass: Vec<&TokenInput> = order[start..end].iter().map(|&j| &jobs[j]).collect();
            let traces_of_pass = match &self.kernels {
                Kernels::Burn(burn) => burn.run_pass(&self.plan, &pass)?,
                Kernels::Cpu(host) => host.run(self.plan.nodes.len(), &pass),
            };
            for (&j, trace) in order[start..end].iter().zip(traces_of_pass) {
                traces[j] = Some(trace);
            }
            start = end;
        }
        // Every index was in exactly one pass.
        Ok(traces.into_iter().flatten().collect())
    }

    /// Every job's token count; the first job that does not fit the model is an error.
    fn check(&self, jobs: &[TokenInput]) -> Result<Vec<usize>, EngineError> {
        jobs.iter()
            .enumerate()
            .map(|(job, input)| {
                input
                    .tokens(&self.plan)
                    .map(|n| n as usize)
                    .map_err(|source| EngineError::GraphInput { job, source })
            })
            .collect()
    }

    /// The end of the pass that starts at `order[start]`: as many jobs as `max_batch` and the
    /// element budget allow (lengths grow along `order`, so the last job sets the padding),
    /// and at least one.
    fn pass_end(&self, order: &[usize], lengths: &[usize], start: usize) -> usize {
        let mut end = start + 1;
        while end < order.len() && end - start < self.max_batch {
            let tokens = lengths[order[end]] as u32;
            let jobs = (end - start + 1) as u64;
            if jobs * self.largest_node(tokens) > self.pass_elements {
                break;
            }
            end += 1;
        }
        end
    }

    /// Elements of the largest node of one job at `tokens` tokens.
    fn largest_node(&self, tokens: u32) -> u64 {
        self.plan
            .nodes
            .iter()
            .map(|np| u64::from(np.rows.at(tokens)) * u64::from(np.width.at(tokens)))
            .max()
            .unwrap_or(0)
    }

    /// Where the time of one pass over `jobs` (checked, then run as one batch) goes: each
    /// node's wall time, the device synchronised after every node. Synchronising costs time
    /// of its own (on wgpu), so the sum exceeds a [`LoadedGraph::run`] of the same jobs, and
    /// nothing is read back.
    pub fn profile(&self, jobs: &[TokenInput]) -> Result<Vec<Duration>, EngineError> {
        self.check(jobs)?;
        let pass: Vec<&TokenInput> = jobs.iter().collect();
        match &self.kernels {
            Kernels::Burn(burn) => burn.profile(&pass),
            Kernels::Cpu(host) => Ok(host.profile(&pass)),
        }
    }

    /// Weight upload plus warm-up: what a first job would otherwise wait for.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// How this graph's integer products are accumulated.
    pub fn product_strategy(&self) -> ProductStrategy {
        self.strategy
    }

    pub fn max_tokens(&self) -> u32 {
        self.plan.max_tokens
    }

    /// Times one warm-up pass of `batch` jobs of `tokens` tokens (every token kept).
    pub(crate) fn warm_up(&self, batch: usize, tokens: u32) -> Result<Duration, EngineError> {
        let started = Instant::now();
        let job = TokenInput {
            ids: vec![0; tokens as usize],
            mask: vec![1; tokens as usize],
        };
        self.run(&vec![job; batch])?;
        Ok(started.elapsed())
    }
}

impl BurnGraph {
    fn backend_error(&self, message: String) -> EngineError {
        EngineError::Backend {
            backend: self.backend.name(),
            message,
        }
    }

    /// The padded inputs of one pass over jobs already checked.
    fn batch_input(&self, jobs: &[&TokenInput]) -> BatchInput {
        let tokens = jobs.iter().map(|j| j.ids.len()).max().unwrap_or(1);
        let batch = jobs.len();
        let mut ids = vec![0i32; batch * tokens];
        let mut mask = vec![0i32; batch * tokens];
        for (j, job) in jobs.iter().enumerate() {
            for (t, (&id, &m)) in job.ids.iter().zip(&job.mask).enumerate() {
                // Ids are below the vocabulary (at most 2^20) and masks 0 or 1: checked.
                ids[j * tokens + t] = id as i32;
                mask[j * tokens + t] = i32::from(m);
            }
        }
        BatchInput {
            batch,
            tokens,
            ids: upload(ids, [batch * tokens], &self.device),
            mask: upload(mask, [batch, 1, tokens], &self.device),
        }
    }

    /// One forward pass over jobs already checked, padded to the longest.
    fn run_pass(&self, plan: &GraphPlan, jobs: &[&TokenInput]) -> Result<Vec<Trace>, EngineError> {
        let lengths: Vec<usize> = jobs.iter().map(|j| j.ids.len()).collect();
        let input = self.batch_input(jobs);
        let tokens = input.tokens;
        let mut outputs = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let out = step.forward(&outputs, &input, self.products);
            outputs.push(out);
        }
        // One read-back for every node: one synchronisation with the device per pass.
        let transaction = outputs
            .into_iter()
            .fold(Transaction::default(), |tx, out| tx.register(out));
        let backend_error = |message: String| self.backend_error(message);
        let read = transaction
            .try_execute()
            .map_err(|e| backend_error(format!("{e:?}")))?;
        if read.len() != plan.nodes.len() {
            return Err(backend_error(format!(
                "read back {} nodes of {}",
                read.len(),
                plan.nodes.len()
            )));
        }
        let mut traces: Vec<Trace> = lengths
            .iter()
            .map(|&n| Trace {
                tokens: n as u32,
                nodes: Vec::with_capacity(plan.nodes.len()),
            })
            .collect();
        for (node, (data, np)) in read.iter().zip(&plan.nodes).enumerate() {
            let values = data
                .as_slice::<i32>()
                .map_err(|e| backend_error(format!("node {node}: {e:?}")))?;
            let padded = PaddedNode {
                node,
                values,
                rows: np.rows,
                width: np.width,
                dtype: np.dtype,
                padded: tokens,
            };
            for (job, trace) in traces.iter_mut().enumerate() {
                trace.nodes.push(padded.job_tensor(job, lengths[job])?);
            }
        }
        Ok(traces)
    }

    fn profile(&self, jobs: &[&TokenInput]) -> Result<Vec<Duration>, EngineError> {
        let input = self.batch_input(jobs);
        let sync = || {
            self.device
                .sync()
                .map_err(|e| self.backend_error(format!("{e:?}")))
        };
        sync()?;
        let mut outputs = Vec::with_capacity(self.steps.len());
        let mut times = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let started = Instant::now();
            outputs.push(step.forward(&outputs, &input, self.products));
            sync()?;
            times.push(started.elapsed());
        }
        Ok(times)
    }
}
