use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Binary, Timestamp, Uint128};
use cw_storage_plus::{Index, IndexList, IndexedMap, Item, Map, MultiIndex};
use tavdun_core::{HexHash, ModelSpec};

use crate::msg::Params;

#[cw_serde]
pub struct Config {
    pub token: Addr,
    pub admin: Addr,
    pub treasury: Addr,
    pub params: Params,
    pub paused: bool,
}

#[cw_serde]
pub struct ModelInfo {
    /// Hex of `sha256(canonical spec || weights_root)`.
    pub model_id: String,
    pub spec: ModelSpec,
    pub weights_root: HexHash,
    pub weights_uri: String,
    pub min_tier: u8,
    pub min_fee: Uint128,
    pub owner: Addr,
    pub active: bool,
    /// Layer count, input and output sizes, kept so job checks need not re-plan the spec.
    pub layers: u32,
    pub input_len: u32,
    pub output_len: u32,
}

#[cw_serde]
pub struct Hardware {
    /// Free text such as "1x RTX 4090, 24 GiB" (at most 128 bytes).
    pub description: String,
    /// The highest tier this hardware can serve; the stake decides up to it.
    pub max_tier: u8,
}

#[cw_serde]
pub struct Unbonding {
    pub amount: Uint128,
    pub release_at: Timestamp,
}

#[cw_serde]
pub struct Worker {
    /// Bonded stake, locked collateral included.
    pub stake: Uint128,
    /// Stake backing claimed, posted or disputed jobs.
    pub locked: Uint128,
    pub hardware: Hardware,
    /// 0 means the worker cannot claim.
    pub tier: u8,
    pub unbonding: Vec<Unbonding>,
    pub jobs_done: u64,
    pub jobs_expired: u64,
    pub jobs_slashed: u64,
}

#[cw_serde]
pub enum JobInput {
    /// The int8 input itself.
    Inline { data: Binary },
    /// An input stored off chain: `hash` is its `activation_hash(0, bytes)`.
    Blob { hash: HexHash, uri: String },
}

#[cw_serde]
#[derive(Copy, Eq, Hash)]
pub enum JobStatus {
    Open,
    Claimed,
    Posted,
    Disputed,
    Finalized,
    Cancelled,
    Refunded,
}

impl JobStatus {
    pub fn key(&self) -> &'static str {
        match self {
            JobStatus::Open => "open",
            JobStatus::Claimed => "claimed",
            JobStatus::Posted => "posted",
            JobStatus::Disputed => "disputed",
            JobStatus::Finalized => "finalized",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Refunded => "refunded",
        }
    }
}

/// Why a job reached its terminal state.
#[cw_serde]
#[derive(Copy)]
pub enum EndReason {
    /// The window closed without a challenge, or every challenge failed.
    ResultAccepted,
    CancelledByClient,
    /// Nobody claimed the job before its deadline.
    DeadlineUnclaimed,
    /// A claim expired unposted after the deadline had passed.
    ClaimExpiredAfterDeadline,
    /// The worker was slashed after the deadline had passed.
    WorkerSlashedAfterDeadline,
}

#[cw_serde]
pub struct JobResult {
    pub output: Binary,
    pub hashes: Vec<HexHash>,
    pub posted_at: Timestamp,
    pub challenge_ends: Timestamp,
}

#[cw_serde]
pub struct Job {
    pub id: u64,
    pub client: Addr,
    pub model_id: String,
    pub input: JobInput,
    /// `activation_hash(0, input)`: `h_0` of the dispute game.
    pub input_hash: HexHash,
    pub fee: Uint128,
    pub deadline: Timestamp,
    pub created_at: Timestamp,
    pub status: JobStatus,
    pub worker: Option<Addr>,
    /// Collateral locked by the current worker.
    pub collateral: Uint128,
    pub claim_expires: Option<Timestamp>,
    pub result: Option<JobResult>,
    /// Claims that ended without an accepted result (expired or slashed).
    pub failed_attempts: u32,
    pub end_reason: Option<EndReason>,
}

#[cw_serde]
pub enum DisputeOutcome {
    /// The worker's revealed value at `unit` differs from the verified computation.
    WorkerSlashed { unit: u32 },
    /// The worker did not reveal in time.
    RevealWithheld,
    /// Nobody showed a mismatch before the resolve deadline.
    ChallengeFailed,
}

#[cw_serde]
pub struct Dispute {
    pub job_id: u64,
    pub worker: Addr,
    pub challenger: Addr,
    pub bond: Uint128,
    /// First divergent layer, 1-based (core layer `layer - 1`).
    pub layer: u32,
    /// Activation `layer - 1`, checked against the agreed hash.
    pub input: Binary,
    pub challenger_hash: HexHash,
    pub worker_hash: HexHash,
    pub revealed: Option<Binary>,
    pub reveal_deadline: Timestamp,
    pub resolve_deadline: Option<Timestamp>,
    pub outcome: Option<DisputeOutcome>,
}

/// Everything the market owes, by kind; its TRN balance equals their sum after every message.
#[cw_serde]
#[derive(Default)]
pub struct Totals {
    /// Bonded stake of all workers (locked collateral included).
    pub stakes: Uint128,
    /// Stake in its unbonding period.
    pub unbonding: Uint128,
    /// Fees of jobs not yet finalized, cancelled or refunded.
    pub job_fees: Uint128,
    /// Bonds of open disputes.
    pub bonds: Uint128,
    pub claimable: Uint128,
    pub treasury: Uint128,
}

pub const CONFIG: Item<Config> = Item::new("config");
pub const PENDING_ADMIN: Item<Addr> = Item::new("pending_admin");
pub const TOTALS: Item<Totals> = Item::new("totals");
pub const NEXT_JOB_ID: Item<u64> = Item::new("next_job_id");
pub const MODEL_COUNT: Item<u64> = Item::new("model_count");
/// Workers able to claim, per tier (index 0 is tier 1).
pub const TIER_COUNTS: Item<Vec<u32>> = Item::new("tier_counts");

pub const MODELS: Map<&str, ModelInfo> = Map::new("models");
pub const WORKERS: Map<&Addr, Worker> = Map::new("workers");
pub const CLAIMABLE: Map<&Addr, Uint128> = Map::new("claimable");
pub const DISPUTES: Map<u64, Dispute> = Map::new("disputes");
/// Open jobs: (model, u128::MAX - fee, job id), so an ascending range is highest fee first,
/// then oldest.
pub const QUEUE: Map<(&str, u128, u64), ()> = Map::new("queue");

pub struct JobIndexes<'a> {
    pub status: MultiIndex<'a, String, Job, u64>,
    pub model: MultiIndex<'a, String, Job, u64>,
    pub client: MultiIndex<'a, Addr, Job, u64>,
    pub worker: MultiIndex<'a, Addr, Job, u64>,
}

impl IndexList<Job> for JobIndexes<'_> {
    fn get_indexes(&'_ self) -> Box<dyn Iterator<Item = &'_ dyn Index<Job>> + '_> {
        let v: Vec<&dyn Index<Job>> = vec![&self.status, &self.model, &self.client, &self.worker];
        Box::new(v.into_iter())
    }
}

pub fn jobs<'a>() -> IndexedMap<u64, Job, JobIndexes<'a>> {
    let indexes = JobIndexes {
        status: MultiIndex::new(
            |_, j: &Job| j.status.key().to_string(),
            "jobs",
            "jobs__status",
        ),
        model: MultiIndex::new(|_, j: &Job| j.model_id.clone(), "jobs", "jobs__model"),
        client: MultiIndex::new(|_, j: &Job| j.client.clone(), "jobs", "jobs__client"),
        // Jobs never claimed index under the empty address, which no query asks for.
        worker: MultiIndex::new(
            |_, j: &Job| j.worker.clone().unwrap_or_else(|| Addr::unchecked("")),
            "jobs",
            "jobs__worker",
        ),
    };
    IndexedMap::new("jobs", indexes)
}

pub fn queue_key(fee: Uint128) -> u128 {
    u128::MAX - fee.u128()
}
