//! The market's storage. The interface types live in `tavdun_market_api`; this module holds
//! the maps, and the compact records behind them, shaped for gas: a job is stored once as a
//! small binary record (the model as an index, no input and no result inside), its input and
//! its result are written once each beside it, and the only indexes are those a claim or a
//! query needs. What every job or every transaction rewrites is stored in postcard
//! ([`crate::compact`]); the rest stays JSON.

use cosmwasm_std::{Addr, Binary, StdResult, Storage, Uint128};
use cw_storage_plus::{Item, Map};
use serde::{Deserialize, Serialize};
use tavdun_core::{Hash, HexHash};
use tavdun_market_api::{
    Config, Dispute, EndReason, GraphModelInfo, JobInput, JobStatus, JobTerms, ModelInfo, Totals,
    Worker,
};

use crate::compact::{BinItem, BinMap};

/// Read by every transaction.
pub const CONFIG: BinItem<Config> = BinItem::new("config");
pub const PENDING_ADMIN: Item<Addr> = Item::new("pending_admin");
/// Rewritten by most transactions.
pub const TOTALS: BinItem<Totals> = BinItem::new("totals");
pub const NEXT_JOB_ID: Item<u64> = Item::new("next_job_id");
pub const MODEL_COUNT: Item<u32> = Item::new("model_count");
/// Workers able to claim, per tier (index 0 is tier 1), for the job diagnostic.
pub const TIER_COUNTS: Item<Vec<u32>> = Item::new("tier_counts");

pub const MODELS: Map<&str, ModelInfo> = Map::new("models");
/// Graph models (spec version 2), by id; they share `MODEL_IDS` and its count with `MODELS`.
pub const GRAPH_MODELS: Map<&str, GraphModelInfo> = Map::new("graph_models");
/// Model index -> model id: jobs and the queue name a model by its index (4 bytes, not 64).
pub const MODEL_IDS: Map<u32, String> = Map::new("model_ids");
/// Rewritten by every claim and finalisation.
pub const WORKERS: BinMap<&Addr, Worker> = BinMap::new("workers");
pub const CLAIMABLE: Map<&Addr, Uint128> = Map::new("claimable");

/// Job id -> its record, rewritten on every transition.
pub const JOBS: BinMap<u64, JobRecord> = BinMap::new("j");
/// Job id -> its input, written once at submission.
pub const INPUTS: BinMap<u64, StoredInput> = BinMap::new("i");
/// Job id -> its current posted result, written once per post.
pub const RESULTS: BinMap<u64, PostedResult> = BinMap::new("r");
/// Open jobs: (model index, u128::MAX - fee, job id), so an ascending range is highest fee
/// first, then oldest. What claims take from.
pub const QUEUE: Map<(u32, u128, u64), ()> = Map::new("q");
/// Jobs by status, for the statuses nodes list (claimed, posted, disputed). Open jobs are
/// listed by `QUEUE`, per model in claim order; a status query for them scans the jobs.
pub const BY_STATUS: Map<(u8, u64), ()> = Map::new("s");
/// (worker, job) for the jobs a worker holds now: what a restarted node reads back.
pub const HELD: Map<(&Addr, u64), ()> = Map::new("h");
/// (client, job) for every job a client submitted, written once.
pub const BY_CLIENT: Map<(&Addr, u64), ()> = Map::new("c");
/// (job, seq) -> challenge of the job's results, in commitment order.
pub const DISPUTES: Map<(u64, u32), Dispute> = Map::new("d");

/// A job as stored, in postcard: it is rewritten on every transition, and every byte written
/// costs gas.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct JobRecord {
    pub client: Addr,
    /// The model's index (see `MODEL_IDS`).
    pub model: u32,
    pub fee: Uint128,
    /// Unix seconds.
    pub deadline: u64,
    pub created_at: u64,
    pub status: JobStatus,
    pub worker: Option<Addr>,
    pub collateral: Uint128,
    /// Unix seconds at which the current claim expires.
    pub claim_expires: Option<u64>,
    pub terms: Option<JobTerms>,
    /// Claims that ended without an accepted result.
    pub attempts: u32,
    /// Challenges committed against the current result (the next dispute's `seq` is the
    /// number of all of the job's challenges, kept in `dispute_seq`).
    pub challenges: u32,
    pub open_disputes: u32,
    pub dispute_seq: u32,
    pub end_reason: Option<EndReason>,
}

/// A posted result, in postcard.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PostedResult {
    pub output: Vec<u8>,
    pub commitment: Hash,
    /// Unix seconds.
    pub posted_at: u64,
    pub challenge_ends: u64,
    /// The first dispute of this result: earlier ones belong to earlier results.
    pub first_dispute: u32,
}

/// A job's input as stored: the interface's [`JobInput`] with raw bytes where JSON has
/// base64, hex or decimal text.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum StoredInput {
    Inline(Vec<u8>),
    Blob { hash: Hash, uri: String },
    Tokens { ids: Vec<u32>, mask: Vec<u8> },
}

impl From<&JobInput> for StoredInput {
    fn from(input: &JobInput) -> Self {
        match input {
            JobInput::Inline { data } => StoredInput::Inline(data.to_vec()),
            JobInput::Blob { hash, uri } => StoredInput::Blob {
                hash: hash.0,
                uri: uri.clone(),
            },
            JobInput::Tokens { ids, mask } => StoredInput::Tokens {
                ids: ids.clone(),
                mask: mask.to_vec(),
            },
        }
    }
}

impl From<StoredInput> for JobInput {
    fn from(input: StoredInput) -> Self {
        match input {
            StoredInput::Inline(data) => JobInput::Inline {
                data: Binary::from(data),
            },
            StoredInput::Blob { hash, uri } => JobInput::Blob {
                hash: HexHash(hash),
                uri,
            },
            StoredInput::Tokens { ids, mask } => JobInput::Tokens {
                ids,
                mask: Binary::from(mask),
            },
        }
    }
}

/// A job's input as the interface shows it.
pub fn load_input(store: &dyn Storage, job_id: u64) -> StdResult<JobInput> {
    Ok(INPUTS.load(store, job_id)?.into())
}

pub fn queue_key(fee: Uint128) -> u128 {
    u128::MAX - fee.u128()
}

/// The index key of a status (open and terminal statuses have none: no node lists them, and
/// every job passes through open, so its entry would cost a write and a delete per job).
pub fn status_key(status: JobStatus) -> Option<u8> {
    match status {
        JobStatus::Claimed => Some(1),
        JobStatus::Posted => Some(2),
        JobStatus::Disputed => Some(3),
        JobStatus::Open | JobStatus::Finalized | JobStatus::Cancelled | JobStatus::Refunded => None,
    }
}
