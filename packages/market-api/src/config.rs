//! The market's configuration and the books it keeps.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Uint128};

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
pub struct Config {
    pub token: Addr,
    pub admin: Addr,
    pub treasury: Addr,
    pub params: Params,
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
    /// Bonds of open disputes.
    pub bonds: Uint128,
    pub claimable: Uint128,
    pub treasury: Uint128,
}
