//! The wiring of a BERT-style encoder (post-LayerNorm, as BERT and MiniLM) as a version 2
//! graph: node names, ops and inputs. The caller supplies each node's integer parameters, so
//! the MiniLM importer and the seeded test models share one layout.
//!
//! Per layer `l{i}`: `q`, `k`, `v` (dense to int8), `scores`, `probs` (softmax), `v_t`
//! (transpose), `context`, `attn_out` (dense), `attn_sum` (residual add), `attn_norm`
//! (int16), `attn_norm8` (int8 for the next dense: its own LayerNorm of `attn_sum`, or a
//! requantisation of `attn_norm`, as the caller's parameters say), `ffn_in` (dense to int16 in GELU's
//! input unit, 2^-8), `gelu`, `ffn_out` (dense), `ffn_sum`, `out_norm` (int16) and, except in the
//! last layer, `out_norm8`. Before: `emb.token`, `emb.position`, `emb.sum`, `emb.norm`,
//! `emb.norm8`; after: `pool.t`, `pool.mean` (masked mean over tokens), `pool.l2`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::spec::{
    DType, EmbeddingIndex, GraphSpec, Node, Op, Requant, TokenInputSpec, GRAPH_VERSION,
};

/// The sizes of an encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderShape {
    pub vocab: u32,
    pub max_tokens: u32,
    /// Rows of the position table (at least `max_tokens`).
    pub positions: u32,
    pub width: u32,
    pub heads: u32,
    pub ffn: u32,
    pub layers: u32,
}

/// A node's integer parameters, as the caller chose them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeQuant {
    Requant(Requant),
    Add {
        a_mult: u32,
        b_mult: u32,
        per_column: bool,
        shift: u32,
    },
    Norm {
        shift: u32,
    },
}

/// Builds the spec; `quant(name)` gives the parameters of every node that has some (dense,
/// requantize, scores, context, gelu: `Requant`; add: `Add`; layer_norm: `Norm`). A missing
/// or mismatched answer yields an invalid parameter that validation refuses.
pub fn encoder_spec(
    name: &str,
    shape: &EncoderShape,
    quant: &dyn Fn(&str) -> Option<NodeQuant>,
) -> GraphSpec {
    let mut b = Builder {
        nodes: Vec::new(),
        quant,
    };
    b.push(
        "emb.token",
        Op::Embedding {
            index: EmbeddingIndex::Token,
            rows: shape.vocab,
            width: shape.width,
        },
    );
    b.push(
        "emb.position",
        Op::Embedding {
            index: EmbeddingIndex::Position,
            rows: shape.positions,
            width: shape.width,
        },
    );
    b.add("emb.sum", "emb.token", "emb.position");
    b.norm("emb.norm", "emb.sum");
    b.int8_norm("emb.norm8", "emb.norm", "emb.sum");
    let (mut residual, mut residual8) = (String::from("emb.norm"), String::from("emb.norm8"));
    for layer in 0..shape.layers {
        let n = |s: &str| format!("l{layer}.{s}");
        for part in ["q", "k", "v"] {
            b.dense(&n(part), &residual8, shape.width);
        }
        b.push(
            &n("scores"),
            Op::Scores {
                q: n("q"),
                k: n("k"),
                heads: shape.heads,
                requant: b.requant(&n("scores")),
            },
        );
        b.push(&n("probs"), Op::Softmax { input: n("scores") });
        b.push(&n("v_t"), Op::Transpose { input: n("v") });
        b.push(
            &n("context"),
            Op::Context {
                probs: n("probs"),
                values_t: n("v_t"),
                heads: shape.heads,
                requant: b.requant(&n("context")),
            },
        );
        b.dense(&n("attn_out"), &n("context"), shape.width);
        b.add(&n("attn_sum"), &residual, &n("attn_out"));
        b.norm(&n("attn_norm"), &n("attn_sum"));
        b.int8_norm(&n("attn_norm8"), &n("attn_norm"), &n("attn_sum"));
        b.dense(&n("ffn_in"), &n("attn_norm8"), shape.ffn);
        b.push(
            &n("gelu"),
            Op::Gelu {
                input: n("ffn_in"),
                requant: b.requant(&n("gelu")),
            },
        );
        b.dense(&n("ffn_out"), &n("gelu"), shape.width);
        b.add(&n("ffn_sum"), &n("attn_norm"), &n("ffn_out"));
        b.norm(&n("out_norm"), &n("ffn_sum"));
        residual = n("out_norm");
        if layer + 1 < shape.layers {
            b.int8_norm(&n("out_norm8"), &n("out_norm"), &n("ffn_sum"));
            residual8 = n("out_norm8");
        }
    }
    b.push(
        "pool.t",
        Op::Transpose {
            input: residual.clone(),
        },
    );
    b.push(
        "pool.mean",
        Op::MeanPool {
            input: "pool.t".to_string(),
        },
    );
    b.push(
        "pool.l2",
        Op::L2Norm {
            input: "pool.mean".to_string(),
        },
    );
    GraphSpec {
        version: GRAPH_VERSION,
        name: name.to_string(),
        input: TokenInputSpec {
            max_tokens: shape.max_tokens,
            vocab: shape.vocab,
        },
        nodes: b.nodes,
    }
}

struct Builder<'a> {
    nodes: Vec<Node>,
    quant: &'a dyn Fn(&str) -> Option<NodeQuant>,
}

/// What a missing parameter becomes: multiplier 0, which validation refuses by name.
const INVALID: Requant = Requant {
    mult: super::spec::Mult::PerTensor(0),
    shift: 0,
    out: DType::I8,
};

impl Builder<'_> {
    fn push(&mut self, name: &str, op: Op) {
        self.nodes.push(Node {
            name: name.to_string(),
            op,
        });
    }

    fn requant(&self, name: &str) -> Requant {
        match (self.quant)(name) {
            Some(NodeQuant::Requant(rq)) => rq,
            _ => INVALID,
        }
    }

    fn dense(&mut self, name: &str, input: &str, units: u32) {
        let requant = self.requant(name);
        self.push(
            name,
            Op::Dense {
                input: input.to_string(),
                units,
                requant,
            },
        );
    }

    /// The int8 copy of a normalised row for the next dense layer: its own LayerNorm of the
    /// sum (`NodeQuant::Norm`: gamma and beta of its own, so per-channel smoothing factors
    /// fold into them) or a requantisation of the int16 norm (`NodeQuant::Requant`).
    fn int8_norm(&mut self, name: &str, norm16: &str, sum: &str) {
        let op = match (self.quant)(name) {
            Some(NodeQuant::Norm { shift }) => Op::LayerNorm {
                input: sum.to_string(),
                shift,
                out: DType::I8,
            },
            _ => Op::Requantize {
                input: norm16.to_string(),
                requant: self.requant(name),
            },
        };
        self.push(name, op);
    }

    fn add(&mut self, name: &str, a: &str, b: &str) {
        let (a_mult, b_mult, per_column, shift) = match (self.quant)(name) {
            Some(NodeQuant::Add {
                a_mult,
                b_mult,
                per_column,
                shift,
            }) => (a_mult, b_mult, per_column, shift),
            _ => (0, 0, false, 0),
        };
        self.push(
            name,
            Op::Add {
                a: a.to_string(),
                b: b.to_string(),
                a_mult,
                b_mult,
                per_column,
                shift,
                out: DType::I16,
            },
        );
    }

    fn norm(&mut self, name: &str, input: &str) {
        let shift = match (self.quant)(name) {
            Some(NodeQuant::Norm { shift }) => shift,
            // Past the limit: validation refuses it by name.
            _ => u32::MAX,
        };
        self.push(
            name,
            Op::LayerNorm {
                input: input.to_string(),
                shift,
                out: DType::I16,
            },
        );
    }
}
