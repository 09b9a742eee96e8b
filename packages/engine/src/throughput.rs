//! A measured throughput figure, for the worker to declare and the benchmarks to print.

use std::time::{Duration, Instant};

use tavdun_core::{synthetic, Plan};

use crate::engine::LoadedModel;
use crate::error::EngineError;

/// Multiply-adds of one inference, counted as two floating-point operations each; pooling,
/// bias and requantisation are not counted.
pub fn flops_per_inference(plan: &Plan) -> u64 {
    plan.layers
        .iter()
        .filter(|lp| lp.leaves > 0)
        .map(|lp| 2 * u64::from(lp.fan_in) * lp.output.len() as u64)
        .sum()
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    pub batch: usize,
    pub passes: usize,
    pub seconds: f64,
    pub inferences_per_s: f64,
    pub gflops: f64,
}

impl LoadedModel {
    /// Runs full passes of `batch` seeded inputs (read-back and int8 conversion included)
    /// until `min_time` has passed, after one untimed pass.
    pub fn measure_throughput(
        &self,
        batch: usize,
        min_time: Duration,
    ) -> Result<Throughput, EngineError> {
        let jobs: Vec<Vec<i8>> = (0..batch)
            .map(|j| synthetic::input(self.input_len(), j as u64))
            .collect();
        self.run(&jobs)?;
        let started = Instant::now();
        let mut passes = 0;
        while passes < 3 || started.elapsed() < min_time {
            self.run(&jobs)?;
            passes += 1;
        }
        let seconds = started.elapsed().as_secs_f64();
        let inferences = (passes * batch) as f64;
        Ok(Throughput {
            batch,
            passes,
            seconds,
            inferences_per_s: inferences / seconds,
            gflops: inferences * self.flops_per_inference() as f64 / seconds / 1e9,
        })
    }
}
