//! A registered model.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Uint128};
use tavdun_core::{HexHash, ModelSpec};

#[cw_serde]
pub struct ModelInfo {
    /// Hex of `sha256(canonical spec || weights_root)`.
    pub model_id: String,
    /// The model's number in this market, in registration order (what jobs record).
    pub index: u32,
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
    /// The largest transaction a dispute of this model can take, in bytes (checked against
    /// `max_dispute_bytes` at registration).
    pub dispute_bytes: u64,
}
