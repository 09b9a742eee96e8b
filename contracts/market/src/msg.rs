use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Binary, Timestamp, Uint128};
use cw20::Cw20ReceiveMsg;
use tavdun_core::{HexHash, Leaf, ModelSpec, Proof};

use crate::state::{
    Config, EndReason, Hardware, Job, JobInput, JobStatus, ModelInfo, Totals, Worker,
};

#[cw_serde]
pub struct InstantiateMsg {
    /// The TRN CW20 contract: the only token the market accepts or pays out.
    pub token: String,
    /// Defaults to the instantiating address.
    pub admin: Option<String>,
    /// Where `WithdrawTreasury` sends protocol fees and slashed collateral.
    pub treasury: String,
    pub params: Params,
}

/// Every tunable of the market; `UpdateConfig` takes the same fields, each bounded.
#[cw_serde]
pub struct Params {
    /// Protocol fee on each finalized job, in basis points (at most 2,000).
    pub protocol_fee_bps: u16,
    /// Seconds after a result is posted during which it can be challenged.
    pub challenge_window: u64,
    /// Seconds a worker has to post the result of a job it claimed.
    pub claim_timeout: u64,
    /// Seconds a challenged worker has to reveal its activation.
    pub reveal_timeout: u64,
    /// Seconds after a reveal during which anyone can show a mismatch.
    pub resolve_timeout: u64,
    /// Exact TRN amount a challenger sends with `Challenge`.
    pub challenge_bond: Uint128,
    /// Stake locked per claimed job and slashed if the result is proven wrong.
    pub collateral_per_job: Uint128,
    /// Stake a worker loses when a claim expires unposted (at most `collateral_per_job`).
    pub liveness_penalty: Uint128,
    /// Share of slashed collateral paid to the winning challenger, in basis points.
    pub challenger_reward_bps: u16,
    /// Seconds between `Unbond` and the stake becoming withdrawable.
    pub unbonding_period: u64,
    /// Stake needed for tier 1, 2, ... (strictly increasing, at most 8 tiers).
    pub tier_stakes: Vec<Uint128>,
    /// Largest inline job input, in bytes.
    pub max_input_bytes: u32,
    /// Deepest model that may be registered.
    pub max_layers: u32,
    /// Most items any batched message may carry (claims, results, finalizations...).
    pub max_batch: u32,
}

#[cw_serde]
pub enum ExecuteMsg {
    /// TRN arrives here through CW20 `Send`; the inner message is a [`ReceiveMsg`].
    Receive(Cw20ReceiveMsg),

    // Models
    RegisterModel {
        spec: ModelSpec,
        weights_root: HexHash,
        weights_uri: String,
        min_tier: u8,
        min_fee: Uint128,
    },
    /// Model owner or admin: new jobs are refused while a model is inactive.
    UpdateModel {
        model_id: String,
        active: Option<bool>,
        min_fee: Option<Uint128>,
        min_tier: Option<u8>,
        weights_uri: Option<String>,
    },

    // Workers
    DeclareHardware {
        hardware: Hardware,
    },
    /// Starts the unbonding period of `amount` of the caller's free stake.
    Unbond {
        amount: Uint128,
    },

    // Jobs
    /// Worker: takes up to `max` of the best-paying open jobs of a model its free stake covers.
    ClaimJobs {
        model_id: String,
        max: u32,
    },
    /// Worker: the results of jobs it claimed.
    PostResults {
        results: Vec<JobResultMsg>,
    },
    /// Anyone, once the challenge window of each job is over: pays the workers.
    Finalize {
        job_ids: Vec<u64>,
    },
    /// Anyone: returns jobs whose claim timed out to the queue and penalises their workers.
    ExpireClaims {
        job_ids: Vec<u64>,
    },
    /// Client: withdraws open (unclaimed) jobs and gets their fees back.
    CancelJobs {
        job_ids: Vec<u64>,
    },
    /// Anyone: refunds open jobs whose deadline passed before any worker claimed them.
    RefundExpired {
        job_ids: Vec<u64>,
    },

    // Disputes
    /// Challenged worker: its activation of the divergent layer.
    Reveal {
        job_id: u64,
        activation: Binary,
    },
    /// Anyone: one output value of the divergent layer that the worker got wrong.
    Resolve {
        job_id: u64,
        unit: u32,
        leaf: Option<Leaf>,
        proof: Option<Proof>,
    },
    /// Anyone, after a dispute deadline: the silent side loses.
    ClaimTimeout {
        job_id: u64,
    },

    // Money out
    /// Pays the caller's claimable balance (matured unbonding included); `None` takes all.
    Withdraw {
        amount: Option<Uint128>,
    },
    /// Admin: sends treasury funds to the treasury address.
    WithdrawTreasury {
        amount: Option<Uint128>,
    },

    // Admin
    UpdateConfig {
        params: Params,
        treasury: Option<String>,
    },
    /// Stops new jobs (never claims, results, disputes or withdrawals).
    Pause {},
    Unpause {},
    ProposeAdmin {
        admin: String,
    },
    AcceptAdmin {},
}

/// What a CW20 `Send` to the market pays for.
#[cw_serde]
pub enum ReceiveMsg {
    /// Adds the sent amount to the sender's stake; hardware is required on the first bond.
    Bond { hardware: Option<Hardware> },
    /// One job whose fee is the sent amount.
    SubmitJob {
        model_id: String,
        input: JobInput,
        deadline: Timestamp,
    },
    /// Several jobs; their fees must add up to the sent amount.
    SubmitJobs { jobs: Vec<JobRequest> },
    /// Disputes a posted result; the sent amount must equal the challenge bond.
    Challenge {
        job_id: u64,
        /// The challenger's `[h_1 .. h_n]`.
        hashes: Vec<HexHash>,
        /// Activation `L-1` (the job input when `L = 1`), `L` being the first layer whose
        /// hash differs from the worker's.
        activation: Binary,
    },
}

#[cw_serde]
pub struct JobRequest {
    pub model_id: String,
    pub input: JobInput,
    pub fee: Uint128,
    pub deadline: Timestamp,
}

#[cw_serde]
pub struct JobResultMsg {
    pub job_id: u64,
    /// The model's output (int8 bytes).
    pub output: Binary,
    /// `[h_1 .. h_n]`; `h_n` must hash `output`.
    pub hashes: Vec<HexHash>,
}

#[cw_serde]
pub struct MigrateMsg {}

#[cw_serde]
pub enum JobFilter {
    Status(JobStatus),
    Model(String),
    Client(String),
    Worker(String),
}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ConfigResponse)]
    Config {},
    #[returns(ModelInfo)]
    Model { model_id: String },
    #[returns(ModelsResponse)]
    Models {
        start_after: Option<String>,
        limit: Option<u32>,
    },
    #[returns(Job)]
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
    #[returns(crate::state::Dispute)]
    Dispute { job_id: u64 },
    #[returns(ClaimableResponse)]
    Claimable { address: String },
    #[returns(StatsResponse)]
    Stats {},
    /// Why an open job is (not) being served.
    #[returns(DiagnosticResponse)]
    JobDiagnostic { job_id: u64 },
}

#[cw_serde]
pub struct QueueCursor {
    pub fee: Uint128,
    pub job_id: u64,
}

#[cw_serde]
pub struct ConfigResponse {
    pub config: Config,
    pub pending_admin: Option<String>,
}

#[cw_serde]
pub struct ModelsResponse {
    pub models: Vec<ModelInfo>,
}

#[cw_serde]
pub struct JobsResponse {
    pub jobs: Vec<Job>,
}

#[cw_serde]
pub struct WorkerResponse {
    pub address: String,
    pub worker: Worker,
    /// Stake not locked as collateral.
    pub free_stake: Uint128,
}

#[cw_serde]
pub struct WorkersResponse {
    pub workers: Vec<WorkerResponse>,
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
