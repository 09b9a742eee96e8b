//! What the market answers. A lookup by key answers `None` for what does not exist, so a
//! caller branches on data rather than on an error's text.

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::Uint128;

use crate::config::{Config, Totals};
use crate::dispute::Dispute;
use crate::job::{EndReason, Job, JobStatus};
use crate::model::{GraphModelInfo, ModelInfo};
use crate::worker::Worker;

#[cw_serde]
pub enum JobFilter {
    Status(JobStatus),
    Model(String),
    Client(String),
    /// The jobs a worker holds now: claimed, posted or disputed.
    Worker(String),
}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ConfigResponse)]
    Config {},
    #[returns(ModelResponse)]
    Model { model_id: String },
    #[returns(ModelsResponse)]
    Models {
        start_after: Option<String>,
        limit: Option<u32>,
    },
    /// A graph model (spec version 2); version 1 models answer `Model`.
    #[returns(GraphModelResponse)]
    GraphModel { model_id: String },
    #[returns(GraphModelsResponse)]
    GraphModels {
        start_after: Option<String>,
        limit: Option<u32>,
    },
    #[returns(JobResponse)]
    Job { job_id: u64 },
    #[returns(JobsResponse)]
    Jobs {
        filter: Option<JobFilter>,
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    /// Open jobs of a model in the order workers get them: highest fee first, then oldest.
    #[returns(JobsResponse)]
    Queue {
        model_id: String,
        start_after: Option<QueueCursor>,
        limit: Option<u32>,
    },
    #[returns(WorkerResponse)]
    Worker { address: String },
    #[returns(WorkersResponse)]
    Workers {
        start_after: Option<String>,
        limit: Option<u32>,
    },
    /// One challenge of the job's current or an earlier result.
    #[returns(DisputeResponse)]
    Dispute { job_id: u64, seq: u32 },
    /// Every challenge of the job, in the order they were committed (at most `max_disputes`
    /// per result, so one page holds them).
    #[returns(DisputesResponse)]
    Disputes { job_id: u64 },
    #[returns(ClaimableResponse)]
    Claimable { address: String },
    #[returns(StatsResponse)]
    Stats {},
    /// Why an open job is (not) being served.
    #[returns(DiagnosticResponse)]
    JobDiagnostic { job_id: u64 },
}

/// The most items one page of a list query returns; a larger `limit` is cut to it.
pub const MAX_PAGE: u32 = 50;

/// Where a page of [`QueryMsg::Queue`] starts: after this job.
#[cw_serde]
pub struct QueueCursor {
    pub fee: Uint128,
    pub job_id: u64,
}

impl QueueCursor {
    pub fn after(job: &Job) -> QueueCursor {
        QueueCursor {
            fee: job.fee,
            job_id: job.id,
        }
    }
}

#[cw_serde]
pub struct ConfigResponse {
    pub config: Config,
    pub pending_admin: Option<String>,
}

#[cw_serde]
pub struct ModelResponse {
    /// `None` when no model has this id.
    pub model: Option<ModelInfo>,
}

#[cw_serde]
pub struct ModelsResponse {
    pub models: Vec<ModelInfo>,
}

#[cw_serde]
pub struct GraphModelResponse {
    /// `None` when no graph model has this id.
    pub model: Option<GraphModelInfo>,
}

#[cw_serde]
pub struct GraphModelsResponse {
    pub models: Vec<GraphModelInfo>,
}

#[cw_serde]
pub struct JobResponse {
    /// `None` when no job has this id.
    pub job: Option<Job>,
}

#[cw_serde]
pub struct JobsResponse {
    pub jobs: Vec<Job>,
    /// Where the next page starts when the scan stopped before `limit` matches (a filter
    /// without an index examines a bounded number of jobs per page); `None` at the end.
    pub next_start_after: Option<u64>,
}

/// A bonded worker and the stake it has free for new claims.
#[cw_serde]
pub struct WorkerInfo {
    pub address: String,
    pub worker: Worker,
    /// Stake not locked as collateral.
    pub free_stake: Uint128,
}

impl WorkerInfo {
    pub fn new(address: String, worker: Worker) -> WorkerInfo {
        WorkerInfo {
            address,
            free_stake: worker.free_stake(),
            worker,
        }
    }
}

#[cw_serde]
pub struct WorkerResponse {
    /// `None` when the address never bonded.
    pub worker: Option<WorkerInfo>,
}

#[cw_serde]
pub struct WorkersResponse {
    pub workers: Vec<WorkerInfo>,
}

#[cw_serde]
pub struct DisputeResponse {
    /// `None` when the job has no such challenge.
    pub dispute: Option<Dispute>,
}

#[cw_serde]
pub struct DisputesResponse {
    pub disputes: Vec<Dispute>,
}

#[cw_serde]
pub struct ClaimableResponse {
    pub address: String,
    pub amount: Uint128,
}

#[cw_serde]
pub struct StatsResponse {
    pub totals: Totals,
    /// What the market must hold: the sum of `totals`. Equal to its TRN balance.
    pub held: Uint128,
    pub jobs: u64,
    pub models: u64,
    /// Workers able to claim at each tier (index 0 is tier 1).
    pub workers_per_tier: Vec<u32>,
    pub paused: bool,
}

#[cw_serde]
pub struct DiagnosticResponse {
    pub job_id: u64,
    pub status: JobStatus,
    pub end_reason: Option<EndReason>,
    /// True when a worker could claim the job now (it may still have jobs ahead of it).
    pub claimable_now: bool,
    pub reasons: Vec<NotServedReason>,
    /// Open jobs of the same model ahead of this one (counted up to `max_batch * 10`).
    pub jobs_ahead: u32,
}

#[cw_serde]
pub enum NotServedReason {
    /// The job is not open: it was claimed or reached a terminal state.
    NotOpen,
    /// The deadline passed; `RefundExpired` returns the fee.
    DeadlinePassed,
    /// Claims of the model are refused until its owner reactivates it.
    ModelInactive,
    /// The model's minimum fee was raised after submission; workers may pass the job by.
    FeeBelowMinimum { fee: Uint128, min_fee: Uint128 },
    /// No bonded worker has the model's tier.
    NoWorkerOfTier { min_tier: u8 },
    /// Higher-paying or older jobs of the model come first.
    QueuedBehindOthers { ahead: u32 },
}
