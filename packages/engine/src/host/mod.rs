//! The engine's CPU kernels: every matrix product by the exact int8 products of [`gemm`], work
//! spread over rayon's pool (the threads flex uses).
//!
//! - Graph models (version 2, [`steps`]): every job's tensors in host memory in core's own
//!   layout (no padding: each job keeps its length), every row op by core's integer
//!   arithmetic ([`tavdun_core::graph::arith`]), called or restated in [`lanes`] where it
//!   must be to vectorise.
//! - Version 1 chains ([`chain`]): dense layers and convolutions on the products, core's
//!   requantisation restated in i32, pooling by comparison.
//!
//! Why not burn's flex ops for these: flex's int32 matmul is a dot product per output (no
//! blocking, no int8 instructions) and each int32 elementwise op widens to i64 and allocates
//! a tensor, so softmax's and LayerNorm's integer recipes cost many passes over memory
//! (BENCHMARKS.md measures both paths); version 1 on flex's f32 ops ran at half PyTorch's
//! speed. Every restatement of core's arithmetic is tested against core.

mod chain;
pub(crate) mod gemm;
mod lanes;
mod steps;

use tavdun_core::graph::{GraphModel, TokenInput, Trace};

use crate::error::EngineError;
use steps::HostStep;

pub(crate) use chain::HostChain;

/// A graph model prepared for the CPU kernels: weights packed once.
pub(crate) struct HostGraph {
    steps: Vec<HostStep>,
}

impl HostGraph {
    pub(crate) fn build(model: &GraphModel) -> Result<HostGraph, EngineError> {
        let steps = (0..model.spec.nodes.len())
            .map(|i| HostStep::build(model, i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HostGraph { steps })
    }

    /// Every job's trace; the jobs are checked against the model already.
    pub(crate) fn run(&self, model_nodes: usize, jobs: &[&TokenInput]) -> Vec<Trace> {
        // outputs[node][job]
        let mut outputs: Vec<Vec<tavdun_core::graph::Tensor>> = Vec::with_capacity(model_nodes);
        for step in &self.steps {
            let out = step.forward(&outputs, jobs);
            outputs.push(out);
        }
        let mut traces: Vec<Trace> = jobs
            .iter()
            .map(|j| Trace {
                tokens: j.ids.len() as u32,
                nodes: Vec::with_capacity(outputs.len()),
            })
            .collect();
        for node in outputs {
            for (trace, tensor) in traces.iter_mut().zip(node) {
                trace.nodes.push(tensor);
            }
        }
        traces
    }

    /// [`HostGraph::run`], timing each node.
    pub(crate) fn profile(&self, jobs: &[&TokenInput]) -> Vec<std::time::Duration> {
        let mut outputs = Vec::with_capacity(self.steps.len());
        let mut times = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let started = std::time::Instant::now();
            outputs.push(step.forward(&outputs, jobs));
            times.push(started.elapsed());
        }
        times
    }
}
