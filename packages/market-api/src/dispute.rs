//! The state of a dispute over one posted result.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Binary, Timestamp, Uint128};
use tavdun_core::HexHash;

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
