//! Embeddings on the market: graph models whose output is one L2-normalised row (an
//! `l2_norm` node, int16 in units of 2^-14), found by id or name, their jobs followed until
//! posted or finalised, their outputs read as `f32` vectors, and where each result stands in
//! verification. What the relayer's `/v1/embeddings` and `tavdun embed` share.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tavdun_core::graph::arith::L2_BITS;
use tavdun_core::graph::{decode_values, DType, Op};
use tavdun_market_api::{Dispute, DisputeOutcome, GraphModelInfo, Job, JobStatus};
use thiserror::Error;

use crate::error::{Result, SdkError};
use crate::market::MarketClient;

/// The real value of one unit of an `l2_norm` output: a unit vector has norm 2^14.
pub const EMBEDDING_UNIT: f32 = 1.0 / (1u32 << L2_BITS) as f32;

#[derive(Debug, Error)]
pub enum EmbeddingError {
    #[error("model {model_id} does not compute an embedding: {reason}")]
    NotAnEmbeddingModel { model_id: String, reason: String },
    #[error("job {job_id} has no result to read")]
    NoResult { job_id: u64 },
    #[error("job {job_id}'s output is not {expected} int16 values ({bytes} bytes)")]
    BadOutput {
        job_id: u64,
        expected: u32,
        bytes: usize,
    },
}

/// A registered graph model by id (64 hex digits) or by its spec's name; `None` when there
/// is none.
pub async fn find_graph_model(
    market: &MarketClient,
    name_or_id: &str,
) -> Result<Option<GraphModelInfo>> {
    let is_id = name_or_id.len() == 64 && name_or_id.bytes().all(|b| b.is_ascii_hexdigit());
    if is_id {
        return market.graph_model(&name_or_id.to_ascii_lowercase()).await;
    }
    Ok(market
        .graph_models()
        .await?
        .into_iter()
        .find(|m| m.spec.name == name_or_id))
}

/// Checks that `model` outputs one L2-normalised row; returns its dimension.
pub fn embedding_dims(model: &GraphModelInfo) -> std::result::Result<u32, EmbeddingError> {
    let refuse = |reason: &str| EmbeddingError::NotAnEmbeddingModel {
        model_id: model.model_id.clone(),
        reason: reason.to_string(),
    };
    let last = model.spec.nodes.last().map(|n| &n.op);
    if !matches!(last, Some(Op::L2Norm { .. })) {
        return Err(refuse("its output node is not an l2_norm"));
    }
    if model.output_dtype != DType::I16 || model.output_len != model.output_width {
        return Err(refuse("its output is not one row of int16 values"));
    }
    Ok(model.output_width)
}

/// The embedding a job's result holds, as real numbers (exact: every int16 divided by 2^14
/// is an `f32`).
pub fn decode_embedding(
    model: &GraphModelInfo,
    job: &Job,
) -> std::result::Result<Vec<f32>, EmbeddingError> {
    let result = job
        .result
        .as_ref()
        .ok_or(EmbeddingError::NoResult { job_id: job.id })?;
    let dims = embedding_dims(model)?;
    let bad = || EmbeddingError::BadOutput {
        job_id: job.id,
        expected: dims,
        bytes: result.output.len(),
    };
    let values = decode_values(DType::I16, &result.output).ok_or_else(bad)?;
    if values.len() != dims as usize {
        return Err(bad());
    }
    Ok(values.iter().map(|&v| v as f32 * EMBEDDING_UNIT).collect())
}

/// How far a result must get before it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WaitFor {
    /// A worker posted a result: fast, and challengeable until its window closes.
    #[default]
    Posted,
    /// The challenge window closed without a successful challenge: verified and paid.
    Finalized,
}

/// A step of a job on its way to [`WaitFor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    Posted,
    Finalized,
}

impl WaitFor {
    fn reached(self, job: &Job) -> bool {
        match self {
            WaitFor::Posted => job.result.is_some(),
            WaitFor::Finalized => job.status == JobStatus::Finalized,
        }
    }

    /// The status word [`SdkError::WrongStatus`] uses.
    fn key(self) -> &'static str {
        match self {
            WaitFor::Posted => JobStatus::Posted.key(),
            WaitFor::Finalized => JobStatus::Finalized.key(),
        }
    }
}

/// Polls `job_ids` every `poll` until each has reached `wait`; `on_milestone` hears each job
/// (by its index in `job_ids`) reach each milestone once, posted before finalised. A job that
/// ends without reaching `wait` (refunded, cancelled) fails with [`SdkError::WrongStatus`];
/// after `timeout`, [`SdkError::WaitTimeout`] names the first job still short of it.
pub async fn wait_for_jobs(
    market: &MarketClient,
    job_ids: &[u64],
    wait: WaitFor,
    timeout: Duration,
    poll: Duration,
    mut on_milestone: impl FnMut(usize, Milestone, &Job),
) -> Result<Vec<Job>> {
    let start = Instant::now();
    let mut seen: BTreeSet<(usize, u8)> = BTreeSet::new();
    loop {
        let mut jobs = Vec::with_capacity(job_ids.len());
        for &id in job_ids {
            jobs.push(market.require_job(id).await?);
        }
        for (i, job) in jobs.iter().enumerate() {
            // A slashed result goes back to the queue: "posted" is heard once, for the first.
            if job.result.is_some() && seen.insert((i, 0)) {
                on_milestone(i, Milestone::Posted, job);
            }
            if job.status == JobStatus::Finalized && seen.insert((i, 1)) {
                on_milestone(i, Milestone::Finalized, job);
            }
        }
        let pending = jobs.iter().find(|j| !wait.reached(j));
        let Some(pending) = pending else {
            return Ok(jobs);
        };
        if let Some(ended) = jobs
            .iter()
            .find(|j| j.status.is_terminal() && !wait.reached(j))
        {
            return Err(SdkError::WrongStatus {
                job_id: ended.id,
                status: ended.status.key(),
                expected: wait.key(),
            });
        }
        if start.elapsed() >= timeout {
            return Err(SdkError::WaitTimeout {
                job_id: pending.id,
                what: "reach the awaited status",
                seconds: timeout.as_secs(),
                status: pending.status.key(),
            });
        }
        tokio::time::sleep(poll).await;
    }
}

/// Where a job's result stands in the market's optimistic verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResultVerification {
    pub job_id: u64,
    /// The worker whose result this is (or who holds the job).
    pub worker: Option<String>,
    /// `posted`, `disputed` (a challenge is running), `finalized`, ...
    pub status: JobStatus,
    /// Unix seconds.
    pub posted_at: Option<u64>,
    /// Unix seconds at which the result's challenge window closes.
    pub window_ends: Option<u64>,
    /// The window closed without a successful challenge: verified, and the worker paid.
    pub finalized: bool,
    /// The job was challenged at least once.
    pub disputed: bool,
    /// A dispute of the job ended with its worker slashed (a wrong result, or a reveal
    /// withheld); the job then went back to the queue and this result is a later worker's.
    pub slashed: bool,
    /// The trace root the result commits to (hex): every node's output, in a Merkle tree of
    /// rows, under the job's input hash; what a challenge disputes.
    pub trace_root: Option<String>,
}

impl ResultVerification {
    pub fn new(job: &Job, disputes: &[Dispute]) -> ResultVerification {
        let result = job.result.as_ref();
        ResultVerification {
            job_id: job.id,
            worker: job.worker.as_ref().map(|w| w.to_string()),
            status: job.status,
            posted_at: result.map(|r| r.posted_at.seconds()),
            window_ends: result.map(|r| r.challenge_ends.seconds()),
            finalized: job.status == JobStatus::Finalized,
            disputed: !disputes.is_empty() || job.challenges > 0,
            slashed: disputes.iter().any(|d| {
                matches!(
                    d.outcome,
                    Some(DisputeOutcome::WorkerSlashed { .. } | DisputeOutcome::RevealWithheld)
                )
            }),
            trace_root: result.map(|r| hex::encode(r.commitment.0)),
        }
    }

    /// The job's verification read from chain now.
    pub async fn read(market: &MarketClient, job: &Job) -> Result<ResultVerification> {
        let disputes = market.disputes(job.id).await?;
        Ok(ResultVerification::new(job, &disputes))
    }
}

#[cfg(test)]
mod tests {
    use cosmwasm_std::{Addr, Uint128};
    use tavdun_core::graph::GraphModel;
    use tavdun_core::HexHash;

    use super::*;

    /// What the market keeps of `model` (its output's shape as the contract reads it).
    fn registered(model: &GraphModel) -> GraphModelInfo {
        let out = &model.plan.nodes[model.plan.output()];
        let (rows, width) = (out.rows.at(1), out.width.at(1));
        GraphModelInfo {
            model_id: hex::encode(model.id()),
            index: 0,
            spec: model.spec.clone(),
            weights_root: HexHash(model.weights_tree().root()),
            weights_uri: "file:///weights".into(),
            min_tier: 1,
            min_fee: Uint128::zero(),
            owner: Addr::unchecked("owner"),
            active: true,
            nodes: model.plan.nodes.len() as u32,
            max_tokens: model.plan.max_tokens,
            vocab: model.plan.vocab,
            output_len: rows * width,
            output_width: width,
            output_dtype: out.dtype,
            dispute_bytes: 0,
        }
    }

    #[test]
    fn only_one_l2_normalised_int16_row_is_an_embedding() {
        let model = tavdun_core::synthetic::random_encoder(1).unwrap();
        let info = registered(&model);
        assert_eq!(embedding_dims(&info).unwrap(), info.output_width);

        let mut rows = info.clone();
        rows.output_len = 2 * rows.output_width;
        let mut ints = info.clone();
        ints.output_dtype = DType::I8;
        let mut unnormalised = info.clone();
        unnormalised.spec.nodes.pop();
        for refused in [rows, ints, unnormalised] {
            assert!(matches!(
                embedding_dims(&refused),
                Err(EmbeddingError::NotAnEmbeddingModel { .. })
            ));
        }
    }
}
