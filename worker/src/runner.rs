//! Jobs on the engine: their inputs read (inline or fetched and checked against the job's
//! input hash; token ids for graph models), batched per model, every layer's (every node's)
//! output returned. Executor, verifier and
//! defender all run jobs through here, so they compute the same bytes the same way.

use std::sync::Arc;
use std::time::Instant;

use tavdun_core::activation_hash;
use tavdun_core::bytes::to_i8;
use tavdun_core::graph::{TokenInput, Trace};
use tavdun_engine::Activations;
use tavdun_sdk::api::{Job, JobInput};
use tavdun_sdk::MarketClient;
use tracing::warn;

use crate::error::{Result, WorkerError};
use crate::models::{ModelStore, ServedGraph, ServedModel};
use crate::telemetry::Metrics;

pub struct Runner {
    models: ModelStore,
    metrics: Arc<Metrics>,
}

/// Jobs run together, their inputs and their activations, in the same order.
#[derive(Default)]
pub struct Batch {
    pub jobs: Vec<Job>,
    pub inputs: Vec<Vec<i8>>,
    pub activations: Vec<Activations>,
}

/// Graph model jobs run together, their inputs and their traces, in the same order.
pub struct GraphBatch {
    pub model: Arc<ServedGraph>,
    pub jobs: Vec<Job>,
    pub inputs: Vec<TokenInput>,
    pub traces: Vec<Trace>,
}

impl Runner {
    pub fn new(models: ModelStore, metrics: Arc<Metrics>) -> Runner {
        Runner { models, metrics }
    }

    pub fn models(&mut self) -> &mut ModelStore {
        &mut self.models
    }

    /// Runs one model's jobs as one batch; a job whose input cannot be read is left out.
    pub async fn run(
        &mut self,
        market: &MarketClient,
        model_id: &str,
        jobs: Vec<Job>,
    ) -> Result<Batch> {
        let served = self.models.chain(market, model_id).await?;
        let mut batch = Batch::default();
        for job in jobs {
            let input = self.input(&job).await;
            admit(&mut batch.jobs, &mut batch.inputs, job, input);
        }
        if batch.jobs.is_empty() {
            return Ok(batch);
        }
        let started = Instant::now();
        batch.activations = served.run(&batch.inputs)?;
        self.observe(batch.jobs.len(), started);
        Ok(batch)
    }

    /// Runs one graph model's jobs as one batch (the engine pads them into passes); a job
    /// whose input is not token ids the model takes is left out.
    pub async fn run_graph(
        &mut self,
        market: &MarketClient,
        model_id: &str,
        jobs: Vec<Job>,
    ) -> Result<GraphBatch> {
        let model = self.models.graph(market, model_id).await?;
        let mut batch = GraphBatch {
            model,
            jobs: Vec::with_capacity(jobs.len()),
            inputs: Vec::with_capacity(jobs.len()),
            traces: Vec::new(),
        };
        for job in jobs {
            let input = token_input(&job, &batch.model);
            admit(&mut batch.jobs, &mut batch.inputs, job, input);
        }
        if batch.jobs.is_empty() {
            return Ok(batch);
        }
        let started = Instant::now();
        batch.traces = batch.model.run(&batch.inputs)?;
        self.observe(batch.jobs.len(), started);
        Ok(batch)
    }

    /// Runs one graph model job again (for a reveal or a resolve): its model, input and trace.
    pub async fn rerun_graph(
        &mut self,
        market: &MarketClient,
        job: &Job,
    ) -> Result<(Arc<ServedGraph>, TokenInput, Trace)> {
        let mut batch = self
            .run_graph(market, &job.model_id, vec![job.clone()])
            .await?;
        let (Some(input), Some(trace)) = (batch.inputs.pop(), batch.traces.pop()) else {
            return Err(WorkerError::Job {
                job_id: job.id,
                reason: "its input is not one the model takes".into(),
            });
        };
        Ok((batch.model, input, trace))
    }

    fn observe(&self, jobs: usize, started: Instant) {
        let secs = started.elapsed().as_secs_f64();
        self.metrics.batch_size.observe(jobs as f64);
        for _ in 0..jobs {
            self.metrics.inference_seconds.observe(secs);
        }
    }

    /// Runs one job again (for a reveal or a resolve): its model and every layer's output.
    pub async fn rerun(
        &mut self,
        market: &MarketClient,
        job_id: u64,
    ) -> Result<(Arc<ServedModel>, Activations)> {
        let job = market.require_job(job_id).await?;
        let served = self.models.chain(market, &job.model_id).await?;
        let input = self.input(&job).await?;
        let acts = served.run(&[input])?.pop().ok_or(WorkerError::Job {
            job_id,
            reason: "the engine returned no activations".into(),
        })?;
        Ok((served, acts))
    }

    /// The job's int8 input: inline, or fetched and checked against the job's input hash.
    pub async fn input(&self, job: &Job) -> Result<Vec<i8>> {
        match &job.input {
            JobInput::Inline { data } => Ok(to_i8(data)),
            JobInput::Blob { hash, uri } => {
                let values = to_i8(&self.models.fetcher().get(uri).await?);
                if activation_hash(0, &values) != hash.0 {
                    return Err(WorkerError::InputMismatch {
                        job_id: job.id,
                        uri: uri.clone(),
                    });
                }
                Ok(values)
            }
            // The market refuses token inputs for version 1 models.
            JobInput::Tokens { .. } => Err(WorkerError::Job {
                job_id: job.id,
                reason: "a token input is not the input of a version 1 model".into(),
            }),
        }
    }
}

/// Adds a job whose input was read to a batch; one whose input could not be read is left out
/// with a warning (if it was claimed, the claim expires and the job is served again).
fn admit<I>(jobs: &mut Vec<Job>, inputs: &mut Vec<I>, job: Job, input: Result<I>) {
    match input {
        Ok(input) => {
            inputs.push(input);
            jobs.push(job);
        }
        Err(e) => warn!(job_id = job.id, error = %e, "cannot read the job's input"),
    }
}

/// A graph model job's token ids and mask, checked against the model (the market checks
/// them too; a job that slipped through is not worth failing the whole batch for).
fn token_input(job: &Job, model: &ServedGraph) -> Result<TokenInput> {
    let fail = |reason: String| WorkerError::Job {
        job_id: job.id,
        reason,
    };
    let input = job
        .input
        .token_input()
        .ok_or_else(|| fail("a graph model job without token ids".into()))?;
    input
        .tokens(&model.model.plan)
        .map_err(|e| fail(e.to_string()))?;
    Ok(input)
}
