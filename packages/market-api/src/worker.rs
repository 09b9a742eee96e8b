//! A worker as the market records it.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Timestamp, Uint128};

/// What an operator declares about its machine when it bonds. Not checked by anyone: it caps
/// the tier the stake can buy, so an operator cannot be handed jobs it says it cannot run.
#[cw_serde]
pub struct HardwareDeclaration {
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
    pub hardware: HardwareDeclaration,
    /// 0 means the worker cannot claim.
    pub tier: u8,
    pub unbonding: Vec<Unbonding>,
    pub jobs_done: u64,
    pub jobs_expired: u64,
    pub jobs_slashed: u64,
}

impl Worker {
    /// Stake not locked as collateral: what new claims and `Unbond` may use.
    pub fn free_stake(&self) -> Uint128 {
        self.stake.saturating_sub(self.locked)
    }
}
