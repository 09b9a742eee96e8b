//! Validation of a version 2 spec into a [`GraphPlan`]: every node's shape, type, weights share
//! and the worst case of every intermediate it computes, each checked against 32 bits.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::error::GraphError;
use super::spec::{limits::*, DType, EmbeddingIndex, GraphSpec, Mult, Op, Requant, GRAPH_VERSION};
use crate::spec::validate_name;

/// A tensor extent that may grow with the job's token count `n`: `per_token * n + fixed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub per_token: u32,
    pub fixed: u32,
}

impl Extent {
    pub const TOKENS: Extent = Extent {
        per_token: 1,
        fixed: 0,
    };

    pub const fn fixed(n: u32) -> Extent {
        Extent {
            per_token: 0,
            fixed: n,
        }
    }

    /// The extent for `tokens` tokens. Validation bounded it at `max_tokens` by
    /// [`MAX_TENSOR`], so it fits a `u32` for every admissible token count.
    pub fn at(self, tokens: u32) -> u32 {
        self.per_token * tokens + self.fixed
    }

    fn at_wide(self, tokens: u32) -> u64 {
        u64::from(self.per_token) * u64::from(tokens) + u64::from(self.fixed)
    }

    /// The fixed size, when it does not depend on `n`.
    pub fn constant(self) -> Option<u32> {
        (self.per_token == 0).then_some(self.fixed)
    }
}

/// What validation learned about one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePlan {
    pub rows: Extent,
    pub width: Extent,
    pub dtype: DType,
    /// Indices of the nodes the op reads, in [`Op::inputs`] order.
    pub inputs: Vec<usize>,
    /// Weights leaves of this node: table rows, dense units or LayerNorm columns (0 for ops
    /// without weights).
    pub leaves: u32,
    /// Index of this node's first leaf in the weights tree.
    pub leaf_offset: u32,
    /// Worst-case magnitude of the op's widest intermediate (its accumulator), proven below
    /// 2^31 at validation.
    pub acc_bound: u64,
}

impl NodePlan {
    /// The rows a dispute of this node shows together for `tokens` tokens
    /// ([`super::trace::run_len`]).
    pub fn run_len(&self, tokens: u32) -> u32 {
        super::trace::run_len(
            self.rows.at(tokens),
            self.width.at(tokens) * self.dtype.bytes() as u32,
        )
    }
}

/// A validated graph spec: one [`NodePlan`] per node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphPlan {
    pub max_tokens: u32,
    pub vocab: u32,
    pub nodes: Vec<NodePlan>,
    pub total_leaves: u32,
}

impl GraphPlan {
    /// The output node (the last one).
    pub fn output(&self) -> usize {
        self.nodes.len() - 1
    }

    /// Node `node`'s plan, or the error that names the model's node count.
    pub fn node(&self, node: u32) -> Result<&NodePlan, super::GraphEvalError> {
        self.nodes
            .get(node as usize)
            .ok_or(super::GraphEvalError::NoSuchNode {
                node,
                nodes: self.nodes.len(),
            })
    }

    /// Multiply-adds of one inference on `tokens` tokens, counted as two operations each:
    /// dense, scores and context products; other ops are linear in their rows and not counted.
    pub fn flops(&self, spec: &GraphSpec, tokens: u32) -> u64 {
        spec.nodes
            .iter()
            .zip(&self.nodes)
            .map(|(node, np)| {
                let out = u64::from(np.rows.at(tokens)) * u64::from(np.width.at(tokens));
                let depth = match &node.op {
                    Op::Dense { .. } | Op::Scores { .. } | Op::Context { .. } => {
                        let first = &self.nodes[np.inputs[0]];
                        match &node.op {
                            Op::Dense { .. } => first.width.at(tokens),
                            Op::Scores { heads, .. } => first.width.at(tokens) / heads,
                            _ => first.width.at(tokens),
                        }
                    }
                    _ => 0,
                };
                2 * out * u64::from(depth)
            })
            .sum()
    }
}

/// `2^(shift-1)`, the rounding term of a shift (0 for no shift).
pub fn half(shift: u32) -> u64 {
    if shift == 0 {
        0
    } else {
        1u64 << (shift - 1)
    }
}

/// Whether `mult` and `shift` requantise an accumulator of magnitude up to `acc_bound` within
/// 32 bits: the rule validation applies (`1 <= mult < 2^15`, `shift <= 46`, `|acc| < 2^31`,
/// and below shift 16, where the product cannot be split, `|acc| * mult + 2^(shift-1) < 2^31`).
pub fn requant_admissible(acc_bound: u64, mult: u32, shift: u32) -> bool {
    (1..=MAX_MULT).contains(&mult)
        && shift <= MAX_SHIFT
        && acc_bound < I32_LIMIT
        && (shift >= 16 || acc_bound * u64::from(mult) + half(shift) < I32_LIMIT)
}

/// The largest |x| for which [`super::arith::normalise`] needs no pre-shift: rows of width
/// `w` keep `w * (2^b)^2 <= 2^31`.
#[inline]
pub fn norm_bits(width: u32) -> u32 {
    let log = u32::BITS - width.saturating_sub(1).leading_zeros();
    (31 - log.min(31)) / 2
}

impl GraphSpec {
    /// Parses and validates a version 2 `spec.json`.
    pub fn from_json(bytes: &[u8]) -> Result<(GraphSpec, GraphPlan), GraphError> {
        let spec: GraphSpec =
            serde_json::from_slice(bytes).map_err(|e| GraphError::Json(alloc::format!("{e}")))?;
        let plan = spec.validate()?;
        Ok((spec, plan))
    }

    /// Checks every rule of the format and every range bound, and returns the plan.
    pub fn validate(&self) -> Result<GraphPlan, GraphError> {
        if self.version != GRAPH_VERSION {
            return Err(GraphError::UnsupportedVersion {
                found: self.version,
                supported: GRAPH_VERSION,
            });
        }
        validate_name(&self.name).map_err(|e| match e {
            crate::SpecError::Name { reason } => GraphError::Name { reason },
            _ => GraphError::Name { reason: "invalid" },
        })?;
        let at = "input";
        check_range(at, "max_tokens", self.input.max_tokens, MAX_TOKENS)?;
        check_range(at, "vocab", self.input.vocab, MAX_TABLE_ROWS)?;
        if self.nodes.is_empty() {
            return Err(GraphError::NoNodes);
        }
        if self.nodes.len() > MAX_NODES {
            return Err(GraphError::TooManyNodes {
                count: self.nodes.len(),
                max: MAX_NODES,
            });
        }
        let mut names: BTreeMap<&str, usize> = BTreeMap::new();
        let mut nodes: Vec<NodePlan> = Vec::with_capacity(self.nodes.len());
        let mut leaf_offset: u32 = 0;
        for (index, node) in self.nodes.iter().enumerate() {
            validate_name(&node.name).map_err(|e| GraphError::NodeName {
                index,
                name: node.name.clone(),
                reason: match e {
                    crate::SpecError::Name { reason } => reason,
                    _ => "invalid",
                },
            })?;
            let inputs = node
                .op
                .inputs()
                .into_iter()
                .map(|input| {
                    names
                        .get(input)
                        .copied()
                        .ok_or_else(|| GraphError::UnknownInput {
                            node: node.name.clone(),
                            input: input.to_string(),
                        })
                })
                .collect::<Result<Vec<usize>, _>>()?;
            let ctx = Ctx {
                spec: self,
                nodes: &nodes,
                name: &node.name,
                inputs: &inputs,
            };
            let shape = plan_op(&ctx, &node.op)?;
            check_extents(&node.name, &shape, self.input.max_tokens)?;
            if names.insert(&node.name, index).is_some() {
                return Err(GraphError::DuplicateName {
                    name: node.name.clone(),
                });
            }
            nodes.push(NodePlan {
                rows: shape.rows,
                width: shape.width,
                dtype: shape.dtype,
                inputs,
                leaves: shape.leaves,
                leaf_offset,
                acc_bound: shape.acc_bound,
            });
            // Bounded by MAX_NODES * MAX_TABLE_ROWS = 2^28. The first node reads nothing,
            // so it is an embedding: every valid graph has weights.
            leaf_offset += shape.leaves;
        }
        Ok(GraphPlan {
            max_tokens: self.input.max_tokens,
            vocab: self.input.vocab,
            nodes,
            total_leaves: leaf_offset,
        })
    }
}

struct Ctx<'a> {
    spec: &'a GraphSpec,
    nodes: &'a [NodePlan],
    name: &'a str,
    inputs: &'a [usize],
}

impl Ctx<'_> {
    fn input(&self, i: usize) -> &NodePlan {
        &self.nodes[self.inputs[i]]
    }

    fn input_name(&self, i: usize) -> String {
        self.spec.nodes[self.inputs[i]].name.clone()
    }

    fn input_op(&self, i: usize) -> &Op {
        &self.spec.nodes[self.inputs[i]].op
    }

    fn shape_err(&self, reason: &'static str) -> GraphError {
        GraphError::Shape {
            node: self.name.to_string(),
            reason,
        }
    }

    fn kind_err(&self, i: usize, expected: &'static str, found: &'static str) -> GraphError {
        GraphError::InputKind {
            node: self.name.to_string(),
            input: self.input_name(i),
            expected,
            found,
        }
    }

    fn require_dtype(&self, i: usize, dtype: DType) -> Result<(), GraphError> {
        let found = self.input(i).dtype;
        if found != dtype {
            return Err(self.kind_err(i, dtype_name(dtype), dtype_name(found)));
        }
        Ok(())
    }

    /// The input's width, which must not depend on the token count.
    fn fixed_width(&self, i: usize) -> Result<u32, GraphError> {
        self.input(i)
            .width
            .constant()
            .ok_or_else(|| self.shape_err("this op needs an input whose width is fixed"))
    }

    fn bound(&self, what: &'static str, worst_case: u64, limit: u64) -> Result<u64, GraphError> {
        if worst_case >= limit {
            return Err(GraphError::Bound {
                node: self.name.to_string(),
                what,
                worst_case,
                limit,
            });
        }
        Ok(worst_case)
    }

    /// The requantisation rule: `1 <= mult < 2^15`, `shift <= 46`, `|acc| < 2^31`, and for
    /// shifts below 16, where a 32-bit implementation cannot split the product (README),
    /// `|acc| * mult + 2^(shift-1) < 2^31` outright.
    fn requant(&self, rq: &Requant, acc: u64, per_unit_allowed: bool) -> Result<u64, GraphError> {
        let mult = match rq.mult {
            Mult::PerTensor(m) => {
                if m == 0 || m > MAX_MULT {
                    return Err(GraphError::Mult {
                        node: self.name.to_string(),
                        reason: "a multiplier must be in [1, 32767]",
                    });
                }
                m
            }
            Mult::PerUnit if per_unit_allowed => MAX_MULT,
            Mult::PerUnit => {
                return Err(GraphError::Mult {
                    node: self.name.to_string(),
                    reason: "only dense and gelu nodes take per-unit multipliers",
                })
            }
        };
        check_max(self.name, "requant.shift", rq.shift, MAX_SHIFT)?;
        self.bound("accumulator", acc, I32_LIMIT)?;
        if rq.shift < 16 {
            self.bound(
                "accumulator * multiplier + rounding",
                acc * u64::from(mult) + half(rq.shift),
                I32_LIMIT,
            )?;
        }
        Ok(acc)
    }
}

fn dtype_name(d: DType) -> &'static str {
    match d {
        DType::I8 => "an int8 tensor",
        DType::I16 => "an int16 tensor",
    }
}

/// Shape, type, weights share and accumulator bound of one op.
struct OpShape {
    rows: Extent,
    width: Extent,
    dtype: DType,
    leaves: u32,
    acc_bound: u64,
}

fn check_range(at: &str, field: &'static str, value: u32, max: u32) -> Result<(), GraphError> {
    if value == 0 {
        return Err(GraphError::Zero {
            node: at.to_string(),
            field,
        });
    }
    check_max(at, field, value, max)
}

fn check_max(at: &str, field: &'static str, value: u32, max: u32) -> Result<(), GraphError> {
    if value > max {
        return Err(GraphError::TooLarge {
            node: at.to_string(),
            field,
            value: value.into(),
            max: max.into(),
        });
    }
    Ok(())
}

fn check_extents(name: &str, shape: &OpShape, max_tokens: u32) -> Result<(), GraphError> {
    let width = shape.width.at_wide(max_tokens);
    let rows = shape.rows.at_wide(max_tokens);
    let too_large = |field, value, max| GraphError::TooLarge {
        node: name.to_string(),
        field,
        value,
        max,
    };
    if width > MAX_ROW {
        return Err(too_large("width at max_tokens", width, MAX_ROW));
    }
    if rows * width > MAX_TENSOR {
        return Err(too_large(
            "elements at max_tokens",
            rows * width,
            MAX_TENSOR,
        ));
    }
    Ok(())
}

fn plan_op(ctx: &Ctx, op: &Op) -> Result<OpShape, GraphError> {
    let name = ctx.name;
    let tokens_by = |width: u32, dtype, leaves, acc_bound| OpShape {
        rows: Extent::TOKENS,
        width: Extent::fixed(width),
        dtype,
        leaves,
        acc_bound,
    };
    match op {
        Op::Embedding { index, rows, width } => {
            check_range(name, "rows", *rows, MAX_TABLE_ROWS)?;
            check_range(name, "width", *width, MAX_ROW as u32)?;
            let (needed, why) = match index {
                EmbeddingIndex::Token => (ctx.spec.input.vocab, "a token table has `vocab` rows"),
                EmbeddingIndex::Position => (
                    ctx.spec.input.max_tokens,
                    "a position table has at least `max_tokens` rows",
                ),
            };
            let fits = match index {
                EmbeddingIndex::Token => *rows == needed,
                EmbeddingIndex::Position => *rows >= needed,
            };
            if !fits {
                return Err(ctx.shape_err(why));
            }
            Ok(tokens_by(*width, DType::I8, *rows, 128))
        }
        Op::Add {
            a_mult,
            b_mult,
            per_column,
            shift,
            out,
            ..
        } => {
            let (a, b) = (ctx.input(0), ctx.input(1));
            if a.rows != b.rows || a.width != b.width {
                return Err(ctx.shape_err("`a` and `b` must have the same shape"));
            }
            for (field, m) in [("a_mult", *a_mult), ("b_mult", *b_mult)] {
                check_range(name, field, m, MAX_MULT)?;
            }
            check_max(name, "shift", *shift, 30)?;
            let worst = a.dtype.abs_max() * u64::from(*a_mult)
                + b.dtype.abs_max() * u64::from(*b_mult)
                + half(*shift);
            let acc = ctx.bound("a * a_mult + b * b_mult + rounding", worst, I32_LIMIT)?;
            let leaves = if *per_column { ctx.fixed_width(0)? } else { 0 };
            Ok(OpShape {
                rows: a.rows,
                width: a.width,
                dtype: *out,
                leaves,
                acc_bound: acc,
            })
        }
        Op::Dense { units, requant, .. } => {
            ctx.require_dtype(0, DType::I8)?;
            let fan_in = ctx.fixed_width(0)?;
            check_range(name, "units", *units, MAX_ROW as u32)?;
            let acc = u64::from(fan_in) * 127 * 128 + u64::from(MAX_DENSE_BIAS);
            let acc = ctx.requant(requant, acc, true)?;
            Ok(OpShape {
                rows: ctx.input(0).rows,
                width: Extent::fixed(*units),
                dtype: requant.out,
                leaves: *units,
                acc_bound: acc,
            })
        }
        Op::Requantize { requant, .. } => {
            let x = ctx.input(0);
            let acc = ctx.requant(requant, x.dtype.abs_max(), false)?;
            Ok(OpShape {
                rows: x.rows,
                width: x.width,
                dtype: requant.out,
                leaves: 0,
                acc_bound: acc,
            })
        }
        Op::LayerNorm { shift, out, .. } => {
            let width = ctx.fixed_width(0)?;
            check_max(name, "shift", *shift, MAX_NORM_SHIFT)?;
            // |q| <= 2^15 + 2^7 (arith::Normalised: sigma is at least the rounded peak).
            let worst = ((1u64 << 15) + (1 << 7)) * u64::from(MAX_NORM_GAMMA)
                + u64::from(MAX_NORM_BETA)
                + half(*shift);
            let acc = ctx.bound("q * gamma + beta + rounding", worst, I32_LIMIT)?;
            Ok(OpShape {
                rows: ctx.input(0).rows,
                width: Extent::fixed(width),
                dtype: *out,
                leaves: width,
                acc_bound: acc,
            })
        }
        Op::Scores { heads, requant, .. } => {
            ctx.require_dtype(0, DType::I8)?;
            ctx.require_dtype(1, DType::I8)?;
            check_range(name, "heads", *heads, MAX_HEADS)?;
            let (q, k) = (ctx.input(0), ctx.input(1));
            if q.rows != Extent::TOKENS || k.rows != Extent::TOKENS {
                return Err(ctx.shape_err("`q` and `k` must have one row per token"));
            }
            let width = ctx.fixed_width(0)?;
            if k.width != q.width || width % heads != 0 {
                return Err(
                    ctx.shape_err("`q` and `k` must have the same width, a multiple of `heads`")
                );
            }
            if requant.out != DType::I16 {
                return Err(ctx.shape_err("scores are int16 logits (`requant.out` = \"i16\")"));
            }
            let acc = ctx.requant(requant, u64::from(width / heads) * 128 * 128, false)?;
            Ok(OpShape {
                rows: Extent {
                    per_token: *heads,
                    fixed: 0,
                },
                width: Extent::TOKENS,
                dtype: DType::I16,
                leaves: 0,
                acc_bound: acc,
            })
        }
        Op::Softmax { .. } => {
            if !matches!(ctx.input_op(0), Op::Scores { .. }) {
                return Err(ctx.kind_err(0, "a scores node", ctx.input_op(0).kind()));
            }
            let s = ctx.input(0);
            // n exponentials, each below 2^22 (README), at most MAX_TOKENS of them.
            let acc = ctx.bound(
                "sum of exponentials",
                u64::from(ctx.spec.input.max_tokens) << 22,
                I32_LIMIT + 1,
            )?;
            Ok(OpShape {
                rows: s.rows,
                width: s.width,
                dtype: DType::I16,
                leaves: 0,
                acc_bound: acc,
            })
        }
        Op::Transpose { .. } => {
            let x = ctx.input(0);
            Ok(OpShape {
                rows: x.width,
                width: x.rows,
                dtype: x.dtype,
                leaves: 0,
                acc_bound: x.dtype.abs_max(),
            })
        }
        Op::Context { heads, requant, .. } => {
            let Op::Softmax { input: scores } = ctx.input_op(0) else {
                return Err(ctx.kind_err(0, "a softmax node", ctx.input_op(0).kind()));
            };
            let scores_heads = ctx
                .spec
                .nodes
                .iter()
                .find(|n| &n.name == scores)
                .and_then(|n| match n.op {
                    Op::Scores { heads, .. } => Some(heads),
                    _ => None,
                });
            if scores_heads != Some(*heads) {
                return Err(ctx.shape_err("`heads` must equal the heads of the scores it reads"));
            }
            ctx.require_dtype(1, DType::I8)?;
            let vt = ctx.input(1);
            let Some(features) = vt.rows.constant() else {
                return Err(ctx.shape_err("`values_t` must be transposed values [heads * hd, n]"));
            };
            if vt.width != Extent::TOKENS || features % heads != 0 {
                return Err(ctx.shape_err("`values_t` must be transposed values [heads * hd, n]"));
            }
            // Probabilities are non-negative and sum to at most 2^14, values are int8.
            let acc = ctx.requant(requant, (1 << 14) * 128, false)?;
            Ok(tokens_by(features, requant.out, 0, acc))
        }
        Op::Gelu { requant, .. } => {
            ctx.require_dtype(0, DType::I16)?;
            let x = ctx.input(0);
            // |x| <= 2^15 and 1024 + erf is in [0, 2048].
            let acc = ctx.requant(requant, (1 << 15) * 2048, true)?;
            // Per-unit multipliers are per column, one leaf each.
            let leaves = match requant.mult {
                Mult::PerUnit => ctx.fixed_width(0)?,
                Mult::PerTensor(_) => 0,
            };
            Ok(OpShape {
                rows: x.rows,
                width: x.width,
                dtype: requant.out,
                leaves,
                acc_bound: acc,
            })
        }
        Op::MeanPool { .. } => {
            let x = ctx.input(0);
            let Some(features) = x.rows.constant() else {
                return Err(ctx.shape_err("mean_pool reads a transposed [width, n] input"));
            };
            if x.width != Extent::TOKENS {
                return Err(ctx.shape_err("mean_pool reads a transposed [width, n] input"));
            }
            let tokens = u64::from(ctx.spec.input.max_tokens);
            let acc = ctx.bound(
                "2 * sum + count",
                2 * x.dtype.abs_max() * tokens + tokens,
                I32_LIMIT,
            )?;
            Ok(OpShape {
                rows: Extent::fixed(1),
                width: Extent::fixed(features),
                dtype: x.dtype,
                leaves: 0,
                acc_bound: acc,
            })
        }
        Op::L2Norm { .. } => {
            let width = ctx.fixed_width(0)?;
            let x = ctx.input(0);
            Ok(OpShape {
                rows: x.rows,
                width: Extent::fixed(width),
                dtype: DType::I16,
                leaves: 0,
                acc_bound: u64::from(width) * ((1u64 << norm_bits(width)) - 1).pow(2),
            })
        }
    }
}
