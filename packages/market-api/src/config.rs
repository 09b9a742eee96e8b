//! The market's configuration and the books it keeps.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Timestamp, Uint128};

/// Every tunable of the market. Each has a hard cap (the contract refuses a value above it),
/// and `UpdateConfig` only takes effect `config_delay` seconds later, so that a worker who
/// disagrees can unbond first; a job's fee terms are fixed when it is claimed.
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
    /// Exact TRN amount a challenger sends with `CommitChallenge`.
    pub challenge_bond: Uint128,
    /// Collateral a claim locks, in basis points of the job's fee (at most 100,000: 10x).
    pub collateral_bps: u32,
    /// The least collateral a claim locks, whatever the fee.
    pub min_collateral: Uint128,
    /// Stake a worker loses when a claim expires unposted (at most `min_collateral`).
    pub liveness_penalty: Uint128,
    /// Share of slashed collateral paid to the winning challenger, in basis points.
    pub challenger_reward_bps: u16,
    /// Share of a failed challenger's bond paid to the worker it accused, in basis points;
    /// the rest goes to the treasury, so that challenging a result one knows is right costs
    /// money even to a challenger in league with the worker.
    pub failed_bond_to_worker_bps: u16,
    /// Seconds between `Unbond` and the stake becoming withdrawable.
    pub unbonding_period: u64,
    /// Seconds between `UpdateConfig` and its parameters taking effect.
    pub config_delay: u64,
    /// Stake needed for tier 1, 2, ... (strictly increasing, at most 8 tiers).
    pub tier_stakes: Vec<Uint128>,
    /// Largest inline job input, in bytes.
    pub max_input_bytes: u32,
    /// Deepest model that may be registered.
    pub max_layers: u32,
    /// Most items any batched message may carry (claims, results, finalizations...).
    pub max_batch: u32,
    /// Latest deadline a job may have, in seconds after its submission.
    pub max_deadline: u64,
    /// Claims that may end without an accepted result (expired, slashed, released) before
    /// the job is refunded instead of queued again.
    pub max_attempts: u32,
    /// What a client pays (to the treasury) each time a worker releases its job because the
    /// job's off-chain input could not be fetched.
    pub release_fee: Uint128,
    /// Largest dispute transaction, in bytes: a model whose dispute data could exceed it is
    /// refused at registration (CometBFT's default `max_tx_bytes` is 1 MiB).
    pub max_dispute_bytes: u32,
    /// Most challenges (commitments) one posted result may receive.
    pub max_disputes: u32,
}

impl Params {
    /// The collateral a claim of a job paying `fee` locks: a share of the fee, with a floor,
    /// so that lying on a high-fee job costs more than it could earn.
    pub fn collateral_for(&self, fee: Uint128) -> Uint128 {
        fee.multiply_ratio(self.collateral_bps, 10_000u128)
            .max(self.min_collateral)
    }
}

/// Parameters waiting out `config_delay`.
#[cw_serde]
pub struct PendingParams {
    pub params: Params,
    /// When `ApplyConfig` may install them.
    pub effective_at: Timestamp,
}

#[cw_serde]
pub struct Config {
    pub token: Addr,
    pub admin: Addr,
    pub treasury: Addr,
    pub params: Params,
    pub pending: Option<PendingParams>,
    pub paused: bool,
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
    /// Bonds of open challenges.
    pub bonds: Uint128,
    pub claimable: Uint128,
    pub treasury: Uint128,
}
