//! The version 2 spec: a model is a list of named nodes in topological order, each an op over
//! earlier nodes (or over the job's token input), with integer tensors `[rows, width]` whose
//! extents may grow with the job's token count `n`.
//!
//! The canonical form is the compact JSON with fields in declaration order
//! ([`GraphSpec::canonical_json`]); `model_id` hashes it, as in version 1.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The spec format of graph models.
pub const GRAPH_VERSION: u32 = 2;

/// Hard limits of version 2. They bound every loop, every tensor and every one-step check.
pub mod limits {
    pub const MAX_NODES: usize = 256;
    /// Tokens of one job. Softmax sums `n` exponentials below 2^22 each: `n <= 512` keeps
    /// the sum below 2^31.
    pub const MAX_TOKENS: u32 = 512;
    /// Widest row of any tensor at `max_tokens`: a one-step check reads a few such rows.
    pub const MAX_ROW: u64 = 4096;
    /// Elements of any tensor at `max_tokens`.
    pub const MAX_TENSOR: u64 = 1 << 22;
    /// Rows of an embedding table (the vocabulary).
    pub const MAX_TABLE_ROWS: u32 = 1 << 20;
    pub const MAX_HEADS: u32 = 64;
    pub const MAX_NAME_LEN: usize = 64;
    /// Requantisation multipliers are in `[1, 2^15)`.
    pub const MAX_MULT: u32 = (1 << 15) - 1;
    pub const MAX_SHIFT: u32 = 46;
    /// A dense bias is in `[-2^24, 2^24]`.
    pub const MAX_DENSE_BIAS: u32 = 1 << 24;
    /// LayerNorm's gamma is in `[-(2^15 - 1), 2^15 - 1]` and its beta in `[-2^29, 2^29]`.
    pub const MAX_NORM_GAMMA: u32 = (1 << 15) - 1;
    pub const MAX_NORM_BETA: u32 = 1 << 29;
    pub const MAX_NORM_SHIFT: u32 = 29;
    /// Every intermediate of every op stays below this in magnitude: 32-bit signed integers
    /// hold it.
    pub const I32_LIMIT: u64 = 1 << 31;
}

/// A graph model's spec (`spec.json`, `"version": 2`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GraphSpec {
    pub version: u32,
    /// A short human-readable name (`[a-z0-9._-]`, at most 64 bytes).
    pub name: String,
    pub input: TokenInputSpec,
    /// In topological order: every input a node names is an earlier node. The last node is
    /// the model's output.
    pub nodes: Vec<Node>,
}

/// A job's input: `n` token ids below `vocab` and an attention mask of `n` zeros and ones,
/// `1 <= n <= max_tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TokenInputSpec {
    pub max_tokens: u32,
    pub vocab: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Unique within the spec (`[a-z0-9._-]`, at most 64 bytes); weights are stored under it.
    pub name: String,
    pub op: Op,
}

/// The integer type of a tensor's elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DType {
    I8,
    I16,
}

impl DType {
    #[inline]
    pub fn min(self) -> i32 {
        match self {
            DType::I8 => i8::MIN.into(),
            DType::I16 => i16::MIN.into(),
        }
    }

    #[inline]
    pub fn max(self) -> i32 {
        match self {
            DType::I8 => i8::MAX.into(),
            DType::I16 => i16::MAX.into(),
        }
    }

    /// Largest |value|.
    pub fn abs_max(self) -> u64 {
        self.min().unsigned_abs().into()
    }

    pub fn bytes(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::I16 => 2,
        }
    }
}

/// Which index an embedding row is looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EmbeddingIndex {
    /// Row `ids[t]` for token `t`.
    Token,
    /// Row `t` for token `t`.
    Position,
}

/// Where a requantisation's multiplier comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Mult {
    /// One multiplier for the whole tensor, in the spec.
    PerTensor(u32),
    /// One multiplier per output unit (dense) or column (gelu), in that unit's weights leaf:
    /// per-channel scales.
    PerUnit,
}

/// `y = clamp(floor((acc * mult + 2^(shift-1)) / 2^shift), out.min, out.max)` (no rounding
/// term when `shift` is 0), with `1 <= mult < 2^15`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Requant {
    pub mult: Mult,
    pub shift: u32,
    pub out: DType,
}

/// One op. Every op's exact integer definition and its range bounds are in the crate README.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// `[n, width]` int8: row `t` is table row `ids[t]` (token) or `t` (position).
    Embedding {
        index: EmbeddingIndex,
        rows: u32,
        width: u32,
    },
    /// Elementwise `clamp((a * a_mult + b * b_mult + 2^(shift-1)) >> shift)`: two tensors
    /// of different scales added exactly (the residual connection). With `per_column`, each
    /// column's multipliers come from its weights leaf, at most `a_mult` and `b_mult`
    /// (tables quantised per column add this way).
    Add {
        a: String,
        b: String,
        a_mult: u32,
        b_mult: u32,
        per_column: bool,
        shift: u32,
        out: DType,
    },
    /// `[rows, units]`: `requant(bias_j + sum_i W_ji * x_i)` over an int8 input row.
    Dense {
        input: String,
        units: u32,
        requant: Requant,
    },
    /// Elementwise `requant(x)` (per-tensor multiplier): changes a tensor's scale or type.
    Requantize { input: String, requant: Requant },
    /// Integer LayerNorm over each row (integer square root), then per-column gamma and beta
    /// from the weights: `clamp(floor((q_i * gamma_i + beta_i + 2^(shift-1)) / 2^shift))`.
    LayerNorm {
        input: String,
        shift: u32,
        out: DType,
    },
    /// Attention logits `[heads * n, n]`: row `h * n + t`, column `u` is
    /// `requant(sum_d q[t, h*hd + d] * k[u, h*hd + d])` to int16 in units of 2^-10.
    Scores {
        q: String,
        k: String,
        heads: u32,
        requant: Requant,
    },
    /// Integer softmax of each row of a `scores` node over the keys the job's mask keeps
    /// (I-BERT's polynomial exp): int16 probabilities in units of 2^-14.
    Softmax { input: String },
    /// `[w, r]` from `[r, w]`: lets an op that would read a column read a row instead.
    Transpose { input: String },
    /// Attention's weighted sum of values, `[n, heads * hd]`: element `(t, h*hd + d)` is
    /// `requant(sum_u p[h*n + t, u] * vt[h*hd + d, u])`, with `vt` the transposed values.
    Context {
        probs: String,
        values_t: String,
        heads: u32,
        requant: Requant,
    },
    /// Integer GELU (I-BERT's polynomial erf) of an int16 input in units of 2^-8, then
    /// `requant` of `x * (1024 + erf)` (GELU in units of 2^-19).
    Gelu { input: String, requant: Requant },
    /// Mean over the tokens the mask keeps, of a transposed `[width, n]` input: `[1, width]`,
    /// rounded half away from zero, same type as the input.
    MeanPool { input: String },
    /// Each row divided by its L2 norm (integer square root): int16 in units of 2^-14.
    L2Norm { input: String },
}

impl Op {
    /// The names of the nodes this op reads, in the order its one-step check takes their rows.
    pub fn inputs(&self) -> Vec<&str> {
        match self {
            Op::Embedding { .. } => Vec::new(),
            Op::Add { a, b, .. } => alloc::vec![a.as_str(), b.as_str()],
            Op::Scores { q, k, .. } => alloc::vec![q.as_str(), k.as_str()],
            Op::Context {
                probs, values_t, ..
            } => alloc::vec![probs.as_str(), values_t.as_str()],
            Op::Dense { input, .. }
            | Op::Requantize { input, .. }
            | Op::LayerNorm { input, .. }
            | Op::Softmax { input }
            | Op::Transpose { input }
            | Op::Gelu { input, .. }
            | Op::MeanPool { input }
            | Op::L2Norm { input } => alloc::vec![input.as_str()],
        }
    }

    /// The op's kind as written in JSON, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Embedding { .. } => "embedding",
            Op::Add { .. } => "add",
            Op::Dense { .. } => "dense",
            Op::Requantize { .. } => "requantize",
            Op::LayerNorm { .. } => "layer_norm",
            Op::Scores { .. } => "scores",
            Op::Softmax { .. } => "softmax",
            Op::Transpose { .. } => "transpose",
            Op::Context { .. } => "context",
            Op::Gelu { .. } => "gelu",
            Op::MeanPool { .. } => "mean_pool",
            Op::L2Norm { .. } => "l2_norm",
        }
    }
}

impl GraphSpec {
    /// The canonical bytes that `model_id` hashes.
    pub fn canonical_json(&self) -> Vec<u8> {
        // Serialising a struct of strings, integers and vectors cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The index of the node named `name`.
    pub fn node_index(&self, name: &str) -> Option<u32> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .map(|i| i as u32)
    }
}
