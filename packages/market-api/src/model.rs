//! A registered model: version 1 (a chain of layers) or version 2 (a graph).

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Uint128};
use tavdun_core::graph::{DType, GraphSpec};
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

/// A registered graph model (spec version 2): a transformer over token ids, whose results
/// commit to a trace of row trees and whose disputes end on one element of one node.
#[cw_serde]
pub struct GraphModelInfo {
    /// Hex of `sha256(canonical spec || weights_root)`.
    pub model_id: String,
    /// The model's number in this market; version 1 and version 2 models share the count.
    pub index: u32,
    pub spec: GraphSpec,
    pub weights_root: HexHash,
    pub weights_uri: String,
    pub min_tier: u8,
    pub min_fee: Uint128,
    pub owner: Addr,
    pub active: bool,
    /// Node count, token limit and vocabulary, kept so job checks need not re-plan the spec.
    pub nodes: u32,
    pub max_tokens: u32,
    pub vocab: u32,
    /// Values of the output (the last node, whose shape does not depend on the token
    /// count), and their type: what a result posts.
    pub output_len: u32,
    /// Values per row of the output (the output has `output_len / output_width` rows).
    pub output_width: u32,
    pub output_dtype: DType,
    /// The largest transaction a dispute of this model can take, in bytes.
    pub dispute_bytes: u64,
}
