//! The market's storage. The interface types live in `tavdun_market_api`; this module holds
//! the maps, and the compact records behind them, shaped for gas: a job is stored once as a
//! small record (short keys, the model as an index, no input and no result inside), its
//! input and its result are written once each beside it, and the only indexes are those a
//! claim or a query needs.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Binary, Uint128};
use cw_storage_plus::{Item, Map};
use tavdun_core::HexHash;
use tavdun_market_api::{
    Config, Dispute, EndReason, GraphModelInfo, JobInput, JobStatus, JobTerms, ModelInfo, Totals,
    Worker,
};

pub const CONFIG: Item<Config> = Item::new("config");
pub const PENDING_ADMIN: Item<Addr> = Item::new("pending_admin");
pub const TOTALS: Item<Totals> = Item::new("totals");
pub const NEXT_JOB_ID: Item<u64> = Item::new("next_job_id");
pub const MODEL_COUNT: Item<u32> = Item::new("model_count");
/// Workers able to claim, per tier (index 0 is tier 1), for the job diagnostic.
pub const TIER_COUNTS: Item<Vec<u32>> = Item::new("tier_counts");

pub const MODELS: Map<&str, ModelInfo> = Map::new("models");
/// Graph models (spec version 2), by id; they share `MODEL_IDS` and its count with `MODELS`.
pub const GRAPH_MODELS: Map<&str, GraphModelInfo> = Map::new("graph_models");
/// Model index -> model id: jobs and the queue name a model by its index (4 bytes, not 64).
pub const MODEL_IDS: Map<u32, String> = Map::new("model_ids");
pub const WORKERS: Map<&Addr, Worker> = Map::new("workers");
pub const CLAIMABLE: Map<&Addr, Uint128> = Map::new("claimable");

/// Job id -> its record, rewritten on every transition.
pub const JOBS: Map<u64, JobRecord> = Map::new("j");
/// Job id -> its input, written once at submission.
pub const INPUTS: Map<u64, JobInput> = Map::new("i");
/// Job id -> its current posted result, written once per post.
pub const RESULTS: Map<u64, PostedResult> = Map::new("r");
/// Open jobs: (model index, u128::MAX - fee, job id), so an ascending range is highest fee
/// first, then oldest. What claims take from.
pub const QUEUE: Map<(u32, u128, u64), ()> = Map::new("q");
/// Jobs by status, for the statuses a job leaves again (open, claimed, posted, disputed):
/// what workers and verifiers list.
pub const BY_STATUS: Map<(u8, u64), ()> = Map::new("s");
/// (worker, job) for the jobs a worker holds now: what a restarted node reads back.
pub const HELD: Map<(&Addr, u64), ()> = Map::new("h");
/// (client, job) for every job a client submitted, written once.
pub const BY_CLIENT: Map<(&Addr, u64), ()> = Map::new("c");
/// (job, seq) -> challenge of the job's results, in commitment order.
pub const DISPUTES: Map<(u64, u32), Dispute> = Map::new("d");

/// A job as stored. Field names are one letter: every byte written costs gas, and a job is
/// written on every transition.
#[cw_serde]
pub struct JobRecord {
    #[serde(rename = "c")]
    pub client: Addr,
    /// The model's index (see `MODEL_IDS`).
    #[serde(rename = "m")]
    pub model: u32,
    #[serde(rename = "f")]
    pub fee: Uint128,
    /// Unix seconds.
    #[serde(rename = "d")]
    pub deadline: u64,
    #[serde(rename = "t")]
    pub created_at: u64,
    #[serde(rename = "s")]
    pub status: JobStatus,
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<Addr>,
    #[serde(rename = "k", default, skip_serializing_if = "Uint128::is_zero")]
    pub collateral: Uint128,
    /// Unix seconds at which the current claim expires.
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub claim_expires: Option<u64>,
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<JobTerms>,
    /// Claims that ended without an accepted result.
    #[serde(rename = "a", default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// Challenges committed against the current result (the next dispute's `seq` is the
    /// number of all of the job's challenges, kept in `dispute_seq`).
    #[serde(rename = "n", default, skip_serializing_if = "is_zero")]
    pub challenges: u32,
    #[serde(rename = "o", default, skip_serializing_if = "is_zero")]
    pub open_disputes: u32,
    #[serde(rename = "q", default, skip_serializing_if = "is_zero")]
    pub dispute_seq: u32,
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<EndReason>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A posted result.
#[cw_serde]
pub struct PostedResult {
    #[serde(rename = "o")]
    pub output: Binary,
    #[serde(rename = "c")]
    pub commitment: HexHash,
    /// Unix seconds.
    #[serde(rename = "p")]
    pub posted_at: u64,
    #[serde(rename = "e")]
    pub challenge_ends: u64,
    /// The first dispute of this result: earlier ones belong to earlier results.
    #[serde(rename = "f", default)]
    pub first_dispute: u32,
}

pub fn queue_key(fee: Uint128) -> u128 {
    u128::MAX - fee.u128()
}

/// The index key of a status (terminal statuses have none).
pub fn status_key(status: JobStatus) -> Option<u8> {
    match status {
        JobStatus::Open => Some(0),
        JobStatus::Claimed => Some(1),
        JobStatus::Posted => Some(2),
        JobStatus::Disputed => Some(3),
        JobStatus::Finalized | JobStatus::Cancelled | JobStatus::Refunded => None,
    }
}
