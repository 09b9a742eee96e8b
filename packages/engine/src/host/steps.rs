//! One node of a graph on the CPU kernels: its parameters, packed weights, and its output for
//! every job, computed by core's arithmetic (row by row, in parallel) and the int8 products
//! of [`super::gemm`].

use rayon::prelude::*;
use tavdun_core::graph::arith::{
    gelu_product, masked_mean, requant, round_shift, softmax_row, NormRow, Normalised, L2_BITS,
};
use tavdun_core::graph::{
    DType, EmbeddingIndex, Extent, GraphModel, Mult, NodeWeights, Op, Tensor, TokenInput,
};

use super::gemm::{padded_k, Packed};
use crate::error::EngineError;

/// A requantisation multiplier: one for the tensor or one per output unit (column).
enum Mults {
    Scalar(u32),
    PerUnit(Vec<u32>),
}

impl Mults {
    fn of(requant_mult: Mult, per_unit: Option<&[i32]>) -> Option<Mults> {
        match (requant_mult, per_unit) {
            (Mult::PerTensor(m), None) => Some(Mults::Scalar(m)),
            // Leaves are range-checked (1 <= mult < 2^15) at load.
            (Mult::PerUnit, Some(m)) => Some(Mults::PerUnit(m.iter().map(|&v| v as u32).collect())),
            _ => None,
        }
    }

    fn at(&self, unit: usize) -> u32 {
        match self {
            Mults::Scalar(m) => *m,
            Mults::PerUnit(m) => m[unit],
        }
    }
}

enum HostOp {
    Embedding {
        table: Vec<i8>,
        width: usize,
        index: EmbeddingIndex,
    },
    Add {
        a: usize,
        b: usize,
        /// `(a_mult, b_mult)` of every column, or one pair for all.
        mults: Vec<(i64, i64)>,
        shift: u32,
    },
    Dense {
        input: usize,
        weights: Packed,
        /// `bias - 128 * sum of the unit's weights`: the products take the int8 input plus
        /// 128 (unsigned bytes), and this undoes it.
        offsets: Vec<i64>,
        mults: Mults,
        shift: u32,
    },
    Requantize {
        input: usize,
        mult: u32,
        shift: u32,
    },
    LayerNorm {
        input: usize,
        gamma: Vec<i32>,
        beta: Vec<i32>,
        shift: u32,
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
    },
    Gelu {
        input: usize,
        mults: Mults,
        shift: u32,
    },
    MeanPool {
        input: usize,
    },
    L2Norm {
        input: usize,
    },
}

/// A node: its op and the shape and type of its output.
pub(crate) struct HostStep {
    op: HostOp,
    rows: Extent,
    width: Extent,
    dtype: DType,
}

fn per_tensor(mult: Mult) -> u32 {
    match mult {
        Mult::PerTensor(m) => m,
        // Only dense and gelu nodes take per-unit multipliers (validation).
        Mult::PerUnit => 1,
    }
}

/// The int8 values of `rows` as unsigned bytes (plus 128), each row padded to the products'
/// `padded_k`.
fn offset_bytes(rows: &[&[i32]], k: usize) -> Vec<u8> {
    let kp = padded_k(k);
    let mut out = vec![0u8; rows.len() * kp];
    out.par_chunks_mut(kp.max(1))
        .zip(rows.par_iter())
        .for_each(|(dst, row)| {
            for (d, &v) in dst.iter_mut().zip(row.iter()) {
                // int8 values by the node's type: v + 128 is in 0..=255.
                *d = (v + 128) as u8;
            }
        });
    out
}

/// Every row of a job's tensor.
fn rows_of(t: &Tensor) -> impl Iterator<Item = &[i32]> {
    t.values.chunks_exact(t.width.max(1) as usize)
}

impl HostStep {
    pub(crate) fn build(model: &GraphModel, i: usize) -> Result<HostStep, EngineError> {
        let node = &model.spec.nodes[i];
        let np = &model.plan.nodes[i];
        let input = |k: usize| np.inputs[k];
        let mismatch = || EngineError::GraphWeights {
            node: node.name.clone(),
        };
        let op = match (&node.op, &model.weights[i]) {
            (Op::Embedding { index, .. }, NodeWeights::Table { width, table }) => {
                HostOp::Embedding {
                    table: table.clone(),
                    width: *width,
                    index: *index,
                }
            }
            (
                Op::Add {
                    a_mult,
                    b_mult,
                    per_column,
                    shift,
                    ..
                },
                w,
            ) => {
                let mults = match (per_column, w) {
                    (true, NodeWeights::AddMults { a, b }) => a
                        .iter()
                        .zip(b)
                        .map(|(&a, &b)| (i64::from(a), i64::from(b)))
                        .collect(),
                    (false, NodeWeights::None) => vec![(i64::from(*a_mult), i64::from(*b_mult))],
                    _ => return Err(mismatch()),
                };
                HostOp::Add {
                    a: input(0),
                    b: input(1),
                    mults,
                    shift: *shift,
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
                let weights = Packed::new(weight, *units as usize, *fan_in);
                let offsets = bias
                    .iter()
                    .zip(weights.column_sums())
                    .map(|(&b, &s)| i64::from(b) - 128 * i64::from(s))
                    .collect();
                HostOp::Dense {
                    input: input(0),
                    weights,
                    offsets,
                    mults: Mults::of(requant.mult, mult.as_deref()).ok_or_else(mismatch)?,
                    shift: requant.shift,
                }
            }
            (Op::Requantize { requant, .. }, _) => HostOp::Requantize {
                input: input(0),
                mult: per_tensor(requant.mult),
                shift: requant.shift,
            },
            (Op::LayerNorm { shift, .. }, NodeWeights::Norm { gamma, beta }) => HostOp::LayerNorm {
                input: input(0),
                gamma: gamma.clone(),
                beta: beta.clone(),
                shift: *shift,
            },
            (Op::Scores { heads, requant, .. }, _) => HostOp::Scores {
                q: input(0),
                k: input(1),
                heads: *heads as usize,
                mult: per_tensor(requant.mult),
                shift: requant.shift,
            },
            (Op::Softmax { .. }, _) => HostOp::Softmax { input: input(0) },
            (Op::Transpose { .. }, _) => HostOp::Transpose { input: input(0) },
            (Op::Context { heads, requant, .. }, _) => HostOp::Context {
                probs: input(0),
                values_t: input(1),
                heads: *heads as usize,
                mult: per_tensor(requant.mult),
                shift: requant.shift,
            },
            (Op::Gelu { requant, .. }, w) => {
                let per_unit = match w {
                    NodeWeights::Mults { mult } => Some(mult.as_slice()),
                    _ => None,
                };
                HostOp::Gelu {
                    input: input(0),
                    mults: Mults::of(requant.mult, per_unit).ok_or_else(mismatch)?,
                    shift: requant.shift,
                }
            }
            (Op::MeanPool { .. }, _) => HostOp::MeanPool { input: input(0) },
            (Op::L2Norm { .. }, _) => HostOp::L2Norm { input: input(0) },
            _ => return Err(mismatch()),
        };
        Ok(HostStep {
            op,
            rows: np.rows,
            width: np.width,
            dtype: np.dtype,
        })
    }

    /// This node's tensor for every job, from the tensors of the nodes before it
    /// (`done[node][job]`).
    pub(crate) fn forward(&self, done: &[Vec<Tensor>], jobs: &[&TokenInput]) -> Vec<Tensor> {
        let out = self.dtype;
        let values: Vec<Vec<i32>> = match &self.op {
            HostOp::Embedding {
                table,
                width,
                index,
            } => jobs
                .par_iter()
                .map(|job| {
                    (0..job.ids.len())
                        .flat_map(|t| {
                            let row = match index {
                                EmbeddingIndex::Token => job.ids[t] as usize,
                                EmbeddingIndex::Position => t,
                            };
                            table[row * width..(row + 1) * width]
                                .iter()
                                .map(|&v| i32::from(v))
                        })
                        .collect()
                })
                .collect(),
            HostOp::Add { a, b, mults, shift } => done[*a]
                .par_iter()
                .zip(&done[*b])
                .map(|(a, b)| {
                    let width = a.width.max(1) as usize;
                    a.values
                        .iter()
                        .zip(&b.values)
                        .enumerate()
                        .map(|(i, (&x, &y))| {
                            let (am, bm) = mults[if mults.len() == 1 { 0 } else { i % width }];
                            let v = i64::from(x) * am + i64::from(y) * bm;
                            round_shift(v, *shift).clamp(out.min().into(), out.max().into()) as i32
                        })
                        .collect()
                })
                .collect(),
            HostOp::Dense {
                input,
                weights,
                offsets,
                mults,
                shift,
            } => dense(&done[*input], weights, offsets, mults, *shift, out),
            HostOp::Requantize { input, mult, shift } => done[*input]
                .par_iter()
                .map(|x| {
                    x.values
                        .iter()
                        .map(|&v| requant(v.into(), *mult, *shift, out))
                        .collect()
                })
                .collect(),
            HostOp::LayerNorm {
                input,
                gamma,
                beta,
                shift,
            } => by_rows(&done[*input], |row, dst| {
                let norm = NormRow::of(row);
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = norm.output(i, gamma[i], beta[i], *shift, out);
                }
            }),
            HostOp::Scores {
                q,
                k,
                heads,
                mult,
                shift,
            } => done[*q]
                .iter()
                .zip(&done[*k])
                .map(|(q, k)| scores(q, k, *heads, *mult, *shift))
                .collect(),
            HostOp::Softmax { input } => done[*input]
                .iter()
                .zip(jobs)
                .map(|(logits, job)| {
                    let width = logits.width.max(1) as usize;
                    let mut values = vec![0; logits.values.len()];
                    values
                        .par_chunks_mut(width)
                        .zip(logits.values.par_chunks(width))
                        .for_each(|(dst, row)| dst.copy_from_slice(&softmax_row(row, &job.mask)));
                    values
                })
                .collect(),
            HostOp::Transpose { input } => done[*input]
                .par_iter()
                .map(|x| {
                    let (rows, width) = (x.rows as usize, x.width as usize);
                    (0..width)
                        .flat_map(|c| (0..rows).map(move |r| x.values[r * width + c]))
                        .collect()
                })
                .collect(),
            HostOp::Context {
                probs,
                values_t,
                heads,
                mult,
                shift,
            } => done[*probs]
                .iter()
                .zip(&done[*values_t])
                .map(|(p, vt)| context(p, vt, *heads, *mult, *shift, out))
                .collect(),
            HostOp::Gelu {
                input,
                mults,
                shift,
            } => done[*input]
                .par_iter()
                .map(|x| {
                    let width = x.width.max(1) as usize;
                    x.values
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| requant(gelu_product(v), mults.at(i % width), *shift, out))
                        .collect()
                })
                .collect(),
            HostOp::MeanPool { input } => done[*input]
                .par_iter()
                .zip(jobs.par_iter())
                .map(|(x, job)| rows_of(x).map(|row| masked_mean(row, &job.mask)).collect())
                .collect(),
            HostOp::L2Norm { input } => by_rows(&done[*input], |row, dst| {
                let norm = Normalised::of(row);
                for (d, &v) in dst.iter_mut().zip(row) {
                    *d = norm.scaled(v, L2_BITS);
                }
            }),
        };
        values
            .into_iter()
            .zip(jobs)
            .map(|(values, job)| {
                let n = job.ids.len() as u32;
                Tensor {
                    rows: self.rows.at(n),
                    width: self.width.at(n),
                    dtype: out,
                    values,
                }
            })
            .collect()
    }
}

/// A row-wise op over every row of every job, rows in parallel; the output has the input's
/// shape.
fn by_rows(inputs: &[Tensor], op: impl Fn(&[i32], &mut [i32]) + Sync) -> Vec<Vec<i32>> {
    inputs
        .iter()
        .map(|x| {
            let width = x.width.max(1) as usize;
            let mut values = vec![0; x.values.len()];
            values
                .par_chunks_mut(width)
                .zip(x.values.par_chunks(width))
                .for_each(|(dst, row)| op(row, dst));
            values
        })
        .collect()
}

/// Dense over the rows of every job at once: one product of all rows with the packed weights.
fn dense(
    inputs: &[Tensor],
    weights: &Packed,
    offsets: &[i64],
    mults: &Mults,
    shift: u32,
    out: DType,
) -> Vec<Vec<i32>> {
    let fan_in = inputs.first().map_or(0, |x| x.width as usize);
    let rows: Vec<&[i32]> = inputs.iter().flat_map(rows_of).collect();
    let units = weights.columns();
    let mut acc = vec![0i32; rows.len() * units];
    weights.product(&offset_bytes(&rows, fan_in), rows.len(), &mut acc);
    let mut values = Vec::with_capacity(inputs.len());
    let mut start = 0;
    for x in inputs {
        let len = x.rows as usize * units;
        let mut job = vec![0i32; len];
        job.par_chunks_mut(units.max(1))
            .zip(acc[start..start + len].par_chunks(units.max(1)))
            .for_each(|(dst, raw)| {
                for (u, (d, &r)) in dst.iter_mut().zip(raw).enumerate() {
                    *d = requant(i64::from(r) + offsets[u], mults.at(u), shift, out);
                }
            });
        values.push(job);
        start += len;
    }
    values
}

/// The rows `t` of one head's slice `[h*hd, (h+1)*hd)` of a `[n, heads*hd]` tensor.
fn head_rows(x: &Tensor, head: usize, hd: usize) -> Vec<&[i32]> {
    rows_of(x)
        .map(|row| &row[head * hd..(head + 1) * hd])
        .collect()
}

/// One job's attention logits `[heads * n, n]`: per head, the queries' int8 rows (plus 128)
/// times the packed keys.
fn scores(q: &Tensor, k: &Tensor, heads: usize, mult: u32, shift: u32) -> Vec<i32> {
    let n = q.rows as usize;
    let hd = q.width as usize / heads.max(1);
    let per_head: Vec<Vec<i32>> = (0..heads)
        .into_par_iter()
        .map(|h| {
            let keys: Vec<i32> = head_rows(k, h, hd).concat();
            let packed = Packed::new(&keys, n, hd);
            let mut acc = vec![0i32; n * n];
            packed.product(&offset_bytes(&head_rows(q, h, hd), hd), n, &mut acc);
            acc.iter()
                .enumerate()
                .map(|(i, &r)| {
                    let sum = i64::from(packed.column_sums()[i % n]);
                    requant(i64::from(r) - 128 * sum, mult, shift, DType::I16)
                })
                .collect()
        })
        .collect();
    per_head.concat()
}

/// One job's attention context `[n, heads * hd]`: per head, the probabilities (at most 2^14,
/// as two unsigned bytes `256 * high + low`) times the packed transposed values.
fn context(p: &Tensor, vt: &Tensor, heads: usize, mult: u32, shift: u32, out: DType) -> Vec<i32> {
    let n = p.width as usize;
    let features = vt.rows as usize;
    let hd = features / heads.max(1);
    let kp = padded_k(n);
    let per_head: Vec<Vec<i32>> = (0..heads)
        .into_par_iter()
        .map(|h| {
            let values = &vt.values[h * hd * n..(h + 1) * hd * n];
            let packed = Packed::new(values, hd, n);
            let probs = &p.values[h * n * n..(h + 1) * n * n];
            let (mut high, mut low) = (vec![0u8; n * kp], vec![0u8; n * kp]);
            for (t, row) in probs.chunks_exact(n.max(1)).enumerate() {
                for (u, &v) in row.iter().enumerate() {
                    // 0 <= v <= 2^14: both bytes fit.
                    high[t * kp + u] = (v >> 8) as u8;
                    low[t * kp + u] = (v & 0xff) as u8;
                }
            }
            let (mut acc_high, mut acc_low) = (vec![0i32; n * hd], vec![0i32; n * hd]);
            packed.product(&high, n, &mut acc_high);
            packed.product(&low, n, &mut acc_low);
            acc_high
                .iter()
                .zip(&acc_low)
                .map(|(&hi, &lo)| i64::from(hi) * 256 + i64::from(lo))
                .collect::<Vec<i64>>()
        })
        .map(|acc| acc.iter().map(|&a| requant(a, mult, shift, out)).collect())
        .collect();
    // per_head[h][t * hd + d] -> row t, column h * hd + d.
    let mut values = vec![0; n * features];
    for (h, head) in per_head.iter().enumerate() {
        for (t, row) in head.chunks_exact(hd.max(1)).enumerate() {
            values[t * features + h * hd..t * features + (h + 1) * hd].copy_from_slice(row);
        }
    }
    values
}
