//! Challenges of a posted result. A result may have several (each challenger its own, up to
//! `max_disputes`), so that no challenger can keep the others out, and each goes through
//! the same steps: committed (the bond paid, the challenger's hashes hidden), opened (the
//! hashes shown, checked against the commitment), revealed (the worker's hashes and its
//! activation of the first divergent layer), resolved or timed out.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Binary, Timestamp, Uint128};
use tavdun_core::HexHash;

#[cw_serde]
pub enum DisputeOutcome {
    /// The worker's revealed value at `unit` differs from the verified computation.
    WorkerSlashed { unit: u32 },
    /// The worker did not reveal in time.
    RevealWithheld,
    /// Nobody showed a mismatch before the resolve deadline: the bond is lost.
    ChallengeFailed,
    /// Committed but never opened before the window closed: the bond is lost.
    NeverOpened,
    /// Another dispute proved the result wrong first; the bond came back.
    Moot,
}

#[cw_serde]
pub struct Dispute {
    pub job_id: u64,
    /// The challenge's number among the result's, from 0 in the order they were committed.
    pub seq: u32,
    pub worker: Addr,
    pub challenger: Addr,
    pub bond: Uint128,
    /// `tavdun_core::challenge_commitment` of the challenger, job, hashes and salt.
    pub commitment: HexHash,
    /// The block of the commitment: the challenge opens in a later one.
    pub committed_height: u64,
    /// The challenger's `[h_1 .. h_n]`, once opened; for a graph model,
    /// `node_claim_hashes(node, root of its row leaves)`.
    pub challenger_hashes: Vec<HexHash>,
    pub opened_at: Option<Timestamp>,
    pub reveal_deadline: Option<Timestamp>,
    /// First divergent layer, 1-based (core layer `layer - 1`), known once the worker has
    /// revealed its hashes.
    pub layer: Option<u32>,
    /// The hash both sides agree on for activation `layer - 1` (the job input's for layer 1):
    /// what `Resolve`'s input must hash to.
    pub agreed_hash: Option<HexHash>,
    /// The worker's activation of `layer`, checked against its hash.
    pub revealed: Option<Binary>,
    /// Graph models: the disputed node, once the challenge is opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<u32>,
    /// Graph models: the run of rows of that node the worker revealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<u32>,
    /// Graph models: the root of the revealed run (its rows' values stay in the `RevealRow`
    /// transaction, where a resolver reads them; storing them would cost more gas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revealed_run: Option<HexHash>,
    /// Graph models: the worker's roots of the nodes the disputed node reads, in the order
    /// of its op's inputs: what a resolve's rows are proven against.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_roots: Vec<HexHash>,
    pub resolve_deadline: Option<Timestamp>,
    pub outcome: Option<DisputeOutcome>,
}

impl Dispute {
    pub fn is_open(&self) -> bool {
        self.outcome.is_none()
    }
}
