//! Every node of a version 2 graph as burn operations over a padded batch, with its weights
//! uploaded once. Tensors are `[batch, rows, width]` int32 in the padded layout
//! ([`super::padded`]); the integer semantics are core's ([`super::ints`]).

use burn::tensor::{Bool, DType as BurnDType, Device, Tensor, TensorData};
use tavdun_core::graph::{DType, EmbeddingIndex, GraphModel, Mult, NodeWeights, Op, Requant};

use super::ints::{self, Ints, Multiplier};
use super::products::{product, slice_for, BurnProducts, Operand};
use crate::error::EngineError;

/// One node, ready to run: its op's parameters, the indices of the nodes it reads and its
/// weights on the device.
#[expect(
    clippy::large_enum_variant,
    reason = "one per node, built at load and only borrowed afterwards: boxing the tensors \
              would add an indirection and save nothing worth having"
)]
pub(crate) enum Step {
    Embedding {
        table: Ints<2>,
        index: EmbeddingIndex,
    },
    Add {
        a: usize,
        b: usize,
        a_mult: Multiplier<3>,
        b_mult: Multiplier<3>,
        shift: u32,
        out: DType,
    },
    Dense {
        input: usize,
        /// `[fan_in, units]`: the weight matrix transposed once at load.
        weight: Operand<2>,
        bias: Ints<2>,
        mult: Multiplier<2>,
        shift: u32,
        out: DType,
    },
    Requantize {
        input: usize,
        mult: u32,
        shift: u32,
        out: DType,
    },
    LayerNorm {
        input: usize,
        gamma: Ints<3>,
        beta: Ints<3>,
        shift: u32,
        out: DType,
        /// Largest `|x - mean|` of the input's type.
        peak_bound: u64,
    },
    Scores {
        q: usize,
        k: usize,
        heads: usize,
        mult: u32,
        shift: u32,
    },
    Softmax {
        input: usize,
    },
    Transpose {
        input: usize,
    },
    Context {
        probs: usize,
        values_t: usize,
        heads: usize,
        mult: u32,
        shift: u32,
        out: DType,
    },
    Gelu {
        input: usize,
        mult: Multiplier<3>,
        shift: u32,
        out: DType,
    },
    MeanPool {
        input: usize,
    },
    L2Norm {
        input: usize,
        peak_bound: u64,
    },
}

/// Products of int8 values: |x| <= 128, |w| <= 127 (weights) or 128 (keys).
const DENSE_SLICE_TERM: u64 = 128 * 127;
const SCORES_SLICE_TERM: u64 = 128 * 128;
/// Probabilities are split into 7-bit halves for the f32 strategy (tf32 holds both exactly).
const PROB_HALF_BITS: u32 = 7;

/// A job batch's inputs on the device, padded to `tokens`.
pub(crate) struct BatchInput {
    pub batch: usize,
    pub tokens: usize,
    /// `[batch * tokens]` token ids, 0 in padding.
    pub ids: Ints<1>,
    /// `[batch, 1, tokens]`: 1 where the job's mask keeps a token, 0 elsewhere and in padding.
    pub mask: Ints<3>,
}

impl BatchInput {
    fn kept(&self) -> Tensor<3, Bool> {
        self.mask.clone().equal_elem(1)
    }
}

/// An int32 tensor of `values` on the device.
pub(crate) fn upload<const D: usize>(
    values: Vec<i32>,
    dims: [usize; D],
    device: &Device,
) -> Ints<D> {
    Tensor::from_data(TensorData::new(values, dims), (device, BurnDType::I32))
}

fn widen<T: Copy + Into<i32>>(values: &[T]) -> Vec<i32> {
    values.iter().map(|&v| v.into()).collect()
}

/// `[1, 1, n]`, to broadcast per-column parameters over `[batch, rows, n]`.
fn per_column(values: &[i32], device: &Device) -> Ints<3> {
    upload(values.to_vec(), [1, 1, values.len()], device)
}

fn per_tensor(requant: &Requant) -> u32 {
    match requant.mult {
        Mult::PerTensor(m) => m,
        // Validation allows per-unit multipliers on dense and gelu nodes only, which read
        // them from their weights.
        Mult::PerUnit => 1,
    }
}

impl Step {
    /// Uploads node `i`'s weights. [`GraphModel::new`] has checked them against the plan.
    pub(crate) fn build(
        model: &GraphModel,
        i: usize,
        device: &Device,
        strategy: BurnProducts,
    ) -> Result<Step, EngineError> {
        let node = &model.spec.nodes[i];
        let np = &model.plan.nodes[i];
        let input = |k: usize| np.inputs[k];
        let weights = &model.weights[i];
        let mismatch = || EngineError::GraphWeights {
            node: node.name.clone(),
        };
        let step = match (&node.op, weights) {
            (Op::Embedding { index, .. }, NodeWeights::Table { width, table }) => {
                let rows = table.len() / (*width).max(1);
                Step::Embedding {
                    table: upload(widen(table), [rows, *width], device),
                    index: *index,
                }
            }
            (
                Op::Add {
                    a_mult,
                    b_mult,
                    per_column: pc,
                    shift,
                    out,
                    ..
                },
                w,
            ) => {
                let (a_mult, b_mult) = match (pc, w) {
                    (true, NodeWeights::AddMults { a, b }) => (
                        Multiplier::PerUnit(per_column(a, device)),
                        Multiplier::PerUnit(per_column(b, device)),
                    ),
                    (false, NodeWeights::None) => {
                        (Multiplier::Scalar(*a_mult), Multiplier::Scalar(*b_mult))
                    }
                    _ => return Err(mismatch()),
                };
                Step::Add {
                    a: input(0),
                    b: input(1),
                    a_mult,
                    b_mult,
                    shift: *shift,
                    out: *out,
                }
            }
            (
                Op::Dense { units, requant, .. },
                NodeWeights::Dense {
                    fan_in,
                    weight,
                    bias,
                    mult,
                },
            ) => {
                let units = *units as usize;
                let weight = upload(widen(weight), [units, *fan_in], device).transpose();
                let mult = match (requant.mult, mult) {
                    (Mult::PerUnit, Some(m)) => {
                        Multiplier::PerUnit(upload(m.clone(), [1, units], device))
                    }
                    (Mult::PerTensor(m), None) => Multiplier::Scalar(m),
                    _ => return Err(mismatch()),
                };
                Step::Dense {
                    input: input(0),
                    weight: Operand::new(weight, strategy),
                    bias: upload(bias.clone(), [1, units], device),
                    mult,
                    shift: requant.shift,
                    out: requant.out,
                }
            }
            (Op::Requantize { requant, .. }, _) => Step::Requantize {
                input: input(0),
                mult: per_tensor(requant),
                shift: requant.shift,
                out: requant.out,
            },
            (Op::LayerNorm { shift, out, .. }, NodeWeights::Norm { gamma, beta }) => {
                let dtype = model.plan.nodes[input(0)].dtype;
                Step::LayerNorm {
                    input: input(0),
                    gamma: per_column(gamma, device),
                    beta: per_column(beta, device),
                    shift: *shift,
                    out: *out,
                    peak_bound: 2 * dtype.abs_max(),
                }
            }
            (Op::Scores { heads, requant, .. }, _) => Step::Scores {
                q: input(0),
                k: input(1),
                heads: *heads as usize,
                mult: per_tensor(requant),
                shift: requant.shift,
            },
            (Op::Softmax { .. }, _) => Step::Softmax { input: input(0) },
            (Op::Transpose { .. }, _) => Step::Transpose { input: input(0) },
            (Op::Context { heads, requant, .. }, _) => Step::Context {
                probs: input(0),
                values_t: input(1),
                heads: *heads as usize,
                mult: per_tensor(requant),
                shift: requant.shift,
                out: requant.out,
            },
            (Op::Gelu { requant, .. }, w) => {
                let mult = match (requant.mult, w) {
                    (Mult::PerUnit, NodeWeights::Mults { mult }) => {
                        Multiplier::PerUnit(per_column(mult, device))
                    }
                    (Mult::PerTensor(m), NodeWeights::None) => Multiplier::Scalar(m),
                    _ => return Err(mismatch()),
                };
                Step::Gelu {
                    input: input(0),
                    mult,
                    shift: requant.shift,
                    out: requant.out,
                }
            }
            (Op::MeanPool { .. }, _) => Step::MeanPool { input: input(0) },
            (Op::L2Norm { .. }, _) => Step::L2Norm {
                input: input(0),
                peak_bound: model.plan.nodes[input(0)].dtype.abs_max(),
            },
            _ => return Err(mismatch()),
        };
        Ok(step)
    }

    /// This node's output for the batch, from the outputs of the nodes before it.
    pub(crate) fn forward(
        &self,
        done: &[Ints<3>],
        input: &BatchInput,
        strategy: BurnProducts,
    ) -> Ints<3> {
        let (b, n) = (input.batch, input.tokens);
        let at = |i: usize| done[i].clone();
        match self {
            Step::Embedding { table, index } => {
                let width = table.dims()[1];
                match index {
                    EmbeddingIndex::Token => table
                        .clone()
                        .select(0, input.ids.clone())
                        .reshape([b, n, width]),
                    EmbeddingIndex::Position => table
                        .clone()
                        .narrow(0, 0, n)
                        .unsqueeze_dim::<3>(0)
                        .repeat_dim(0, b),
                }
            }
            Step::Add {
                a,
                b: other,
                a_mult,
                b_mult,
                shift,
                out,
            } => ints::add(at(*a), at(*other), a_mult, b_mult, *shift, *out),
            Step::Dense {
                input: x,
                weight,
                bias,
                mult,
                shift,
                out,
            } => {
                let [batch, rows, fan_in] = done[*x].dims();
                let units = bias.dims()[1];
                let x = at(*x).reshape([batch * rows, fan_in]);
                let acc = product(x, weight.clone(), slice_for(DENSE_SLICE_TERM), strategy)
                    .add(bias.clone());
                ints::requant(acc, mult, *shift, *out).reshape([batch, rows, units])
            }
            Step::Requantize {
                input: x,
                mult,
                shift,
                out,
            } => ints::requant(at(*x), &Multiplier::Scalar(*mult), *shift, *out),
            Step::LayerNorm {
                input: x,
                gamma,
                beta,
                shift,
                out,
                peak_bound,
            } => ints::layer_norm(at(*x), gamma, beta, *shift, *out, *peak_bound),
            Step::Scores {
                q,
                k,
                heads,
                mult,
                shift,
            } => {
                let width = done[*q].dims()[2];
                let hd = width / heads;
                let q = at(*q).reshape([b, n, *heads, hd]).swap_dims(1, 2);
                let k = at(*k).reshape([b, n, *heads, hd]).permute([0, 2, 3, 1]);
                let acc = product(q, Operand::Int(k), slice_for(SCORES_SLICE_TERM), strategy);
                ints::requant(acc, &Multiplier::Scalar(*mult), *shift, DType::I16).reshape([
                    b,
                    heads * n,
                    n,
                ])
            }
            Step::Softmax { input: x } => {
                let logits = at(*x);
                let kept = input.kept().expand(logits.shape());
                ints::softmax(logits, kept)
            }
            Step::Transpose { input: x } => at(*x).swap_dims(1, 2),
            Step::Context {
                probs,
                values_t,
                heads,
                mult,
                shift,
                out,
            } => {
                let features = done[*values_t].dims()[1];
                let hd = features / heads;
                let p = at(*probs).reshape([b, *heads, n, n]);
                let v = Operand::Int(at(*values_t).reshape([b, *heads, hd, n]).swap_dims(2, 3));
                let acc = context_product(p, v, strategy);
                let acc = acc.swap_dims(1, 2).reshape([b, n, features]);
                ints::requant(acc, &Multiplier::Scalar(*mult), *shift, *out)
            }
            Step::Gelu {
                input: x,
                mult,
                shift,
                out,
            } => ints::requant(ints::gelu_product(at(*x)), mult, *shift, *out),
            Step::MeanPool { input: x } => {
                ints::masked_mean(at(*x), input.mask.clone()).swap_dims(1, 2)
            }
            Step::L2Norm {
                input: x,
                peak_bound,
            } => ints::l2_norm(at(*x), *peak_bound),
        }
    }
}

/// `probs @ values`: the probabilities of a row sum to at most 2^14 and values are int8, so
/// every partial sum is below 2^21 and f32 needs no slicing; for tf32 the probabilities
/// (up to 2^14) are multiplied as two 7-bit halves.
fn context_product(probs: Ints<4>, values: Operand<4>, strategy: BurnProducts) -> Ints<4> {
    match strategy {
        BurnProducts::Int => product(probs, values, usize::MAX, strategy),
        BurnProducts::FloatSlices => {
            let high = probs
                .clone()
                .bitwise_right_shift_scalar(PROB_HALF_BITS as i32);
            let low = probs.bitwise_and_scalar((1 << PROB_HALF_BITS) - 1);
            product(high, values.clone(), usize::MAX, strategy)
                .mul_scalar(1 << PROB_HALF_BITS)
                .add(product(low, values, usize::MAX, strategy))
        }
    }
}
