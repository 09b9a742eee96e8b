//! The integer reference executor of version 2 and the one-element evaluation behind the
//! one-step check. Both go through [`element`]: the forward pass calls it for every element of
//! every node, the check for one, so the two cannot disagree.

use alloc::vec::Vec;

use super::arith::{
    dot, dot_i8, gelu_product, masked_mean, requant, round_shift, softmax_row, NormRow, Normalised,
    L2_BITS,
};
use super::error::GraphEvalError;
use super::plan::GraphPlan;
use super::spec::{DType, EmbeddingIndex, GraphSpec, Mult, Op};
use super::weights::{check_leaf, GraphModel, NodeWeights, WeightLeaf};

/// A job's input: token ids and the attention mask (1 = attend, 0 = padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInput {
    pub ids: Vec<u32>,
    pub mask: Vec<u8>,
}

impl TokenInput {
    /// Checks the input against the model and returns its token count `n`.
    pub fn tokens(&self, plan: &GraphPlan) -> Result<u32, GraphEvalError> {
        if self.ids.len() != self.mask.len() {
            return Err(GraphEvalError::InputLen {
                ids: self.ids.len(),
                mask: self.mask.len(),
            });
        }
        let n = self.ids.len();
        if n == 0 || n > plan.max_tokens as usize {
            return Err(GraphEvalError::TokenCount {
                found: n,
                max: plan.max_tokens,
            });
        }
        if let Some((index, &id)) = self
            .ids
            .iter()
            .enumerate()
            .find(|(_, &id)| id >= plan.vocab)
        {
            return Err(GraphEvalError::TokenId {
                index,
                id,
                vocab: plan.vocab,
            });
        }
        if let Some((index, &value)) = self.mask.iter().enumerate().find(|(_, &m)| m > 1) {
            return Err(GraphEvalError::Mask { index, value });
        }
        Ok(n as u32)
    }
}

/// One node's output, row-major; values are within `dtype`'s range. They are held as `i16`,
/// which every node type fits: a trace holds every node of every job (about 1 GB for 32
/// MiniLM jobs of 128 tokens as `i32`), and the engine's row ops are bound by the memory
/// traffic of reading and writing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tensor {
    pub rows: u32,
    pub width: u32,
    pub dtype: DType,
    pub values: Vec<i16>,
}

impl Tensor {
    /// A tensor of values computed wider; each must be within `dtype`'s range (the caller's
    /// arithmetic clamps to it), which makes the narrowing exact.
    pub fn narrowed(rows: u32, width: u32, dtype: DType, values: &[i32]) -> Tensor {
        debug_assert!(values
            .iter()
            .all(|&v| (dtype.min()..=dtype.max()).contains(&v)));
        Tensor {
            rows,
            width,
            dtype,
            values: values.iter().map(|&v| v as i16).collect(),
        }
    }

    pub fn row(&self, r: u32) -> Option<&[i16]> {
        let w = self.width as usize;
        self.values.get(r as usize * w..(r as usize + 1) * w)
    }

    /// The rows a dispute of this node shows together ([`super::trace::run_len`]).
    pub fn run_len(&self) -> u32 {
        super::trace::run_len(self.rows, self.width * self.dtype.bytes() as u32)
    }

    /// The values of run `run` (fewer rows for the last run of a node); `None` out of range.
    pub fn run(&self, run: u32) -> Option<&[i16]> {
        let w = self.width as usize;
        let len = self.run_len() as usize;
        let first = (run as usize).checked_mul(len)?;
        let end = (first + len).min(self.rows as usize);
        (first < end).then(|| &self.values[first * w..end * w])
    }
}

/// Every node's output for one job, in node order; the last is the model's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub tokens: u32,
    pub nodes: Vec<Tensor>,
}

impl Trace {
    pub fn output(&self) -> &Tensor {
        // A valid model has at least one node, so a trace has at least one tensor.
        &self.nodes[self.nodes.len() - 1]
    }
}

/// The rows and the weights leaf that element `(row, col)` of a node reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    /// `(node, row)` pairs, in the order the check takes them.
    pub rows: Vec<(u32, u32)>,
    /// The unit of this node's weights leaf, for ops with weights.
    pub leaf: Option<u32>,
}

/// What element `(row, col)` of `node` reads, for an input of `tokens` tokens (`ids` for
/// token embeddings). The caller has checked that the element exists.
pub fn element_needs(
    spec: &GraphSpec,
    plan: &GraphPlan,
    input: &TokenInput,
    node: usize,
    row: u32,
    col: u32,
) -> Needs {
    let np = &plan.nodes[node];
    let n = input.ids.len() as u32;
    let at = |i: usize, r: u32| (np.inputs[i] as u32, r);
    let (rows, leaf) = match &spec.nodes[node].op {
        Op::Embedding { index, .. } => {
            let unit = match index {
                EmbeddingIndex::Token => input.ids[row as usize],
                EmbeddingIndex::Position => row,
            };
            (Vec::new(), Some(unit))
        }
        Op::Add { .. } => (
            alloc::vec![at(0, row), at(1, row)],
            (np.leaves > 0).then_some(col),
        ),
        Op::Dense { .. } | Op::LayerNorm { .. } => (alloc::vec![at(0, row)], Some(col)),
        Op::Requantize { .. } | Op::Softmax { .. } | Op::L2Norm { .. } => {
            (alloc::vec![at(0, row)], None)
        }
        Op::Gelu { .. } => (alloc::vec![at(0, row)], (np.leaves > 0).then_some(col)),
        // Row h*n + t, column u: query row t, key row u.
        Op::Scores { .. } => (alloc::vec![at(0, row % n), at(1, col)], None),
        Op::Transpose { .. } | Op::MeanPool { .. } => (alloc::vec![at(0, col)], None),
        // Row t, column h*hd + d: probabilities row h*n + t, transposed values row h*hd + d.
        Op::Context { heads, .. } => {
            let hd = np.width.fixed / heads;
            (alloc::vec![at(0, (col / hd) * n + row), at(1, col)], None)
        }
    };
    Needs { rows, leaf }
}

/// A weights leaf's content as the op reads it.
#[derive(Debug, Clone, Copy)]
struct Unit<'a> {
    weights: &'a [i8],
    /// The leaf's first `count` params (dense: `[bias]` or `[bias, mult]`; layer_norm:
    /// `[gamma, beta]`; gelu: `[mult]`): a per-unit multiplier is always the last.
    params: [i32; 2],
    count: usize,
}

const NO_UNIT: Unit<'static> = Unit {
    weights: &[],
    params: [0, 0],
    count: 0,
};

impl<'a> Unit<'a> {
    fn new(weights: &'a [i8], params: &[i32]) -> Unit<'a> {
        let mut p = [0; 2];
        let count = params.len().min(2);
        p[..count].copy_from_slice(&params[..count]);
        Unit {
            weights,
            params: p,
            count,
        }
    }
}

/// Work shared by every element of one row (the same input row feeds them all).
enum RowState {
    None,
    Int8(Vec<i8>),
    Norm(NormRow),
    L2(Normalised),
    Probs(Vec<i32>),
}

/// The row work of ops whose elements all read the same single input row.
fn prepare(op: &Op, rows: &[&[i32]], mask: &[u8]) -> RowState {
    match (op, rows) {
        (Op::Dense { .. }, [x]) => RowState::Int8(x.iter().map(|&v| v as i8).collect()),
        (Op::LayerNorm { .. }, [x]) => RowState::Norm(NormRow::of(x)),
        (Op::L2Norm { .. }, [x]) => RowState::L2(Normalised::of(x)),
        (Op::Softmax { .. }, [x]) => RowState::Probs(softmax_row(x, mask)),
        _ => RowState::None,
    }
}

fn has_row_state(op: &Op) -> bool {
    matches!(
        op,
        Op::Dense { .. } | Op::LayerNorm { .. } | Op::L2Norm { .. } | Op::Softmax { .. }
    )
}

fn mult_of(mult: Mult, unit: &Unit) -> u32 {
    match mult {
        Mult::PerTensor(m) => m,
        // Leaves are range-checked (1 <= mult < 2^15) before use.
        Mult::PerUnit => unit.params[unit.count.saturating_sub(1)] as u32,
    }
}

/// Element `(row, col)` of a node: every op's definition, in one place.
#[allow(clippy::too_many_arguments)]
fn element(
    op: &Op,
    state: &RowState,
    mask: &[u8],
    tokens: u32,
    row: u32,
    col: u32,
    rows: &[&[i32]],
    unit: &Unit,
) -> i32 {
    let c = col as usize;
    match (op, state, rows) {
        (Op::Embedding { .. }, _, _) => unit.weights[c].into(),
        (
            Op::Add {
                a_mult,
                b_mult,
                per_column,
                shift,
                out,
                ..
            },
            _,
            [a, b],
        ) => {
            // Per-column leaves are range-checked (1 <= mult <= the spec's) before use.
            let (am, bm) = if *per_column {
                (i64::from(unit.params[0]), i64::from(unit.params[1]))
            } else {
                (i64::from(*a_mult), i64::from(*b_mult))
            };
            let v = i64::from(a[c]) * am + i64::from(b[c]) * bm;
            round_shift(v, *shift).clamp(out.min().into(), out.max().into()) as i32
        }
        (Op::Dense { requant: rq, .. }, RowState::Int8(x), _) => {
            let acc = dot_i8(unit.weights, x) + unit.params[0];
            requant(acc.into(), mult_of(rq.mult, unit), rq.shift, rq.out)
        }
        (Op::Requantize { requant: rq, .. }, _, [x]) => {
            requant(x[c].into(), mult_of(rq.mult, unit), rq.shift, rq.out)
        }
        (Op::LayerNorm { shift, out, .. }, RowState::Norm(norm), _) => {
            norm.output(c, unit.params[0], unit.params[1], *shift, *out)
        }
        (
            Op::Scores {
                heads, requant: rq, ..
            },
            _,
            [q, k],
        ) => {
            let hd = q.len() / *heads as usize;
            // Rows are head-major, h*n + t; `rows` already holds query row t.
            let h = (row / tokens) as usize;
            let span = h * hd..(h + 1) * hd;
            requant(
                dot(&q[span.clone()], &k[span]),
                mult_of(rq.mult, unit),
                rq.shift,
                rq.out,
            )
        }
        (Op::Softmax { .. }, RowState::Probs(p), _) => p[c],
        (Op::Transpose { .. }, _, [x]) => x[row as usize],
        (Op::Context { requant: rq, .. }, _, [p, vt]) => {
            requant(dot(p, vt), mult_of(rq.mult, unit), rq.shift, rq.out)
        }
        (Op::Gelu { requant: rq, .. }, _, [x]) => {
            requant(gelu_product(x[c]), mult_of(rq.mult, unit), rq.shift, rq.out)
        }
        (Op::MeanPool { .. }, _, [x]) => masked_mean(x, mask),
        (Op::L2Norm { .. }, RowState::L2(norm), [x]) => norm.scaled(x[c], L2_BITS),
        // Unreachable for a validated plan: `element_needs` gives each op its rows.
        _ => 0,
    }
}

impl GraphModel {
    /// The weights leaf content of `(node, unit)`, without copying.
    fn unit(&self, node: usize, unit: u32) -> Unit<'_> {
        let u = unit as usize;
        let weights = self.unit_weights(node, u);
        match &self.weights[node] {
            NodeWeights::Dense { bias, mult, .. } => match mult {
                Some(m) => Unit::new(weights, &[bias[u], m[u]]),
                None => Unit::new(weights, &[bias[u]]),
            },
            NodeWeights::Norm { gamma, beta } => Unit::new(weights, &[gamma[u], beta[u]]),
            NodeWeights::Mults { mult } => Unit::new(weights, &[mult[u]]),
            NodeWeights::AddMults { a, b } => Unit::new(weights, &[a[u], b[u]]),
            _ => Unit::new(weights, &[]),
        }
    }
}

/// Runs the model on one job input and returns every node's output.
pub fn forward(model: &GraphModel, input: &TokenInput) -> Result<Trace, GraphEvalError> {
    let n = input.tokens(&model.plan)?;
    // Every node's values as `i32`, the width the element evaluation reads.
    let mut wide: Vec<Vec<i32>> = Vec::with_capacity(model.plan.nodes.len());
    let mut nodes: Vec<Tensor> = Vec::with_capacity(model.plan.nodes.len());
    for (i, (node, np)) in model.spec.nodes.iter().zip(&model.plan.nodes).enumerate() {
        let (rows, width) = (np.rows.at(n), np.width.at(n));
        let mut values = Vec::with_capacity(rows as usize * width as usize);
        let fetch = |needs: &Needs| -> Vec<&[i32]> {
            needs
                .rows
                .iter()
                // Needs name earlier nodes and rows in range: both come from the plan.
                .filter_map(|&(j, r)| {
                    let w = nodes[j as usize].width as usize;
                    wide[j as usize].get(r as usize * w..(r as usize + 1) * w)
                })
                .collect()
        };
        for r in 0..rows {
            let first = element_needs(&model.spec, &model.plan, input, i, r, 0);
            let first_rows = fetch(&first);
            let state = prepare(&node.op, &first_rows, &input.mask);
            let shared = has_row_state(&node.op);
            for c in 0..width {
                let own;
                let (in_rows, leaf) = if shared {
                    (first_rows.as_slice(), first.leaf.map(|_| c))
                } else {
                    let needs = element_needs(&model.spec, &model.plan, input, i, r, c);
                    own = fetch(&needs);
                    (own.as_slice(), needs.leaf)
                };
                let unit = leaf.map_or(NO_UNIT, |u| model.unit(i, u));
                values.push(element(
                    &node.op,
                    &state,
                    &input.mask,
                    n,
                    r,
                    c,
                    in_rows,
                    &unit,
                ));
            }
        }
        // Every op's value is clamped to its node's type.
        nodes.push(Tensor::narrowed(rows, width, np.dtype, &values));
        wide.push(values);
    }
    Ok(Trace { tokens: n, nodes })
}

/// The one-element evaluation: element `(row, col)` of `node`, from the input rows
/// [`element_needs`] names (in that order) and, for ops with weights, the weights leaf it
/// names. O(widest row); nothing else of the model or the trace is read. The caller checks
/// the rows' and the leaf's Merkle proofs ([`super::step`] does both).
#[allow(clippy::too_many_arguments)]
pub fn eval_element(
    spec: &GraphSpec,
    plan: &GraphPlan,
    input: &TokenInput,
    node: u32,
    row: u32,
    col: u32,
    rows: &[&[i32]],
    leaf: Option<&WeightLeaf>,
) -> Result<i32, GraphEvalError> {
    let n = check_element(plan, input, node, row, col)?;
    let i = node as usize;
    let needs = element_needs(spec, plan, input, i, row, col);
    if rows.len() != needs.rows.len() {
        return Err(GraphEvalError::RowCount {
            node,
            expected: needs.rows.len(),
            found: rows.len(),
        });
    }
    for (&(j, r), values) in needs.rows.iter().zip(rows) {
        check_row(plan, n, j, r, values)?;
    }
    let unit = match (needs.leaf, leaf) {
        (None, None) => NO_UNIT,
        (None, Some(_)) => return Err(GraphEvalError::LeafNotExpected { node }),
        (Some(unit), None) => return Err(GraphEvalError::LeafRequired { node, unit }),
        (Some(unit), Some(leaf)) => {
            check_leaf(spec, plan, node, unit, leaf)?;
            Unit::new(&leaf.weights, &leaf.params)
        }
    };
    let op = &spec.nodes[i].op;
    let state = prepare(op, rows, &input.mask);
    Ok(element(op, &state, &input.mask, n, row, col, rows, &unit))
}

/// Checks the input and that `(row, col)` is an element of `node`; returns the token count.
pub(crate) fn check_element(
    plan: &GraphPlan,
    input: &TokenInput,
    node: u32,
    row: u32,
    col: u32,
) -> Result<u32, GraphEvalError> {
    let n = input.tokens(plan)?;
    let np = plan.node(node)?;
    let (rows, width) = (np.rows.at(n), np.width.at(n));
    if row >= rows || col >= width {
        return Err(GraphEvalError::NoSuchElement {
            node,
            row,
            col,
            rows,
            width,
        });
    }
    Ok(n)
}

/// A row given to a check has its node's width and only values of its node's type.
pub(crate) fn check_row(
    plan: &GraphPlan,
    tokens: u32,
    node: u32,
    row: u32,
    values: &[i32],
) -> Result<(), GraphEvalError> {
    let np = &plan.nodes[node as usize];
    let expected = np.width.at(tokens) as usize;
    if values.len() != expected {
        return Err(GraphEvalError::RowLen {
            node,
            row,
            found: values.len(),
            expected,
        });
    }
    if let Some(&value) = values
        .iter()
        .find(|&&v| v < np.dtype.min() || v > np.dtype.max())
    {
        return Err(GraphEvalError::RowValue { node, row, value });
    }
    Ok(())
}
