//! One node of a graph on the CPU kernels: its parameters, packed weights, and its output for
//! every job, computed by the row ops of [`super::lanes`] (core's arithmetic, restated where
//! it must be to vectorise) and the int8 products of [`super::gemm`], row by row in parallel.

use std::cell::RefCell;

use rayon::prelude::*;
use tavdun_core::graph::arith::{masked_mean, Normalised, L2_BITS};
use tavdun_core::graph::{
    widened, DType, EmbeddingIndex, Extent, GraphModel, Mult, NodeWeights, Op, Tensor, TokenInput,
};

use super::gemm::{padded_k, padded_rows, Left, Packed};
use super::lanes::{self, unwritten, vectorised, written, Dst};
use crate::error::EngineError;

/// Rows per parallel task of the row ops and of dense's products: enough work to amortise a
/// task, few enough that a batch-1 job still spreads over the threads.
pub(super) const TASK_ROWS: usize = 32;

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

    /// The requantisation scale ([`lanes::Requant::scale`]) of each of `units` units.
    fn scales(&self, units: usize, shift: u32) -> Vec<f64> {
        match self {
            Mults::Scalar(m) => vec![lanes::Requant::scale(*m, shift); units],
            Mults::PerUnit(m) => m.iter().map(|&m| lanes::Requant::scale(m, shift)).collect(),
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
        /// The bias, in f64 for the requantisation (exact: integers below 2^31).
        bias: Vec<f64>,
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

/// Every row of a job's tensor.
fn rows_of(t: &Tensor) -> impl Iterator<Item = &[i16]> {
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
            ) => HostOp::Dense {
                input: input(0),
                weights: Packed::new(weight, *units as usize, *fan_in),
                bias: bias.iter().map(|&b| f64::from(b)).collect(),
                mults: Mults::of(requant.mult, mult.as_deref()).ok_or_else(mismatch)?,
                shift: requant.shift,
            },
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
        let values: Vec<Vec<i16>> = match &self.op {
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
                                .map(|&v| i16::from(v))
                        })
                        .collect()
                })
                .collect(),
            HostOp::Add { a, b, mults, shift } => by_rows(
                &done[*a],
                #[inline(always)]
                |job, r, row, dst| {
                    let width = row.len();
                    let other = &done[*b][job].values[r * width..(r + 1) * width];
                    lanes::add_row(row, other, mults, *shift, out, dst)
                },
            ),
            HostOp::Dense {
                input,
                weights,
                bias,
                mults,
                shift,
            } => dense(&done[*input], weights, bias, mults, *shift, out),
            HostOp::Requantize { input, mult, shift } => {
                let scale = lanes::Requant::scale(*mult, *shift);
                by_rows(
                    &done[*input],
                    #[inline(always)]
                    |_, _, row, dst| lanes::requant_values(row, scale, out, dst),
                )
            }
            HostOp::LayerNorm {
                input,
                gamma,
                beta,
                shift,
            } => by_rows(
                &done[*input],
                #[inline(always)]
                |_, _, row, dst| lanes::layer_norm_row(row, gamma, beta, *shift, out, dst),
            ),
            HostOp::Scores {
                q,
                k,
                heads,
                mult,
                shift,
            } => scores(&done[*q], &done[*k], *heads, *mult, *shift),
            HostOp::Softmax { input } => by_rows(
                &done[*input],
                #[inline(always)]
                |job, _, row, dst| lanes::softmax_row(row, &jobs[job].mask, dst),
            ),
            HostOp::Transpose { input } => done[*input].par_iter().map(transposed).collect(),
            HostOp::Context {
                probs,
                values_t,
                heads,
                mult,
                shift,
            } => context(&done[*probs], &done[*values_t], *heads, *mult, *shift, out),
            HostOp::Gelu {
                input,
                mults,
                shift,
            } => {
                let width = done[*input].first().map_or(0, |x| x.width as usize);
                let scales = mults.scales(width, *shift);
                by_rows(
                    &done[*input],
                    #[inline(always)]
                    |_, _, row, dst| lanes::gelu_row(row, &scales, out, dst),
                )
            }
            // One row per feature, or one per job: core's functions on rows widened to `i32`,
            // the mean of a row within its input's type and the normalised values within
            // `i16` (core's bounds).
            HostOp::MeanPool { input } => done[*input]
                .par_iter()
                .zip(jobs.par_iter())
                .map(|(x, job)| {
                    rows_of(x)
                        .map(|row| masked_mean(&widened(row), &job.mask) as i16)
                        .collect()
                })
                .collect(),
            HostOp::L2Norm { input } => by_rows(&done[*input], |_, _, row, dst| {
                let row = widened(row);
                let norm = Normalised::of(&row);
                let scaled: Vec<i16> = row
                    .iter()
                    .map(|&v| norm.scaled(v, L2_BITS) as i16)
                    .collect();
                lanes::copy_row(&scaled, dst);
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

/// A row-wise op over every row of every job, [`TASK_ROWS`] rows a task, vectorised; the
/// output has the input's shape. `op(job, row index, row, output row)` writes all of its
/// output row (the row ops of [`lanes`] assert their lengths).
fn by_rows(inputs: &[Tensor], op: impl Fn(usize, usize, &[i16], &mut Dst) + Sync) -> Vec<Vec<i16>> {
    let mut values: Vec<_> = inputs.iter().map(|x| unwritten(x.values.len())).collect();
    let mut tasks = Vec::new();
    for (job, (x, dst)) in inputs.iter().zip(values.iter_mut()).enumerate() {
        let width = x.width.max(1) as usize;
        let chunks = x.values.chunks(width * TASK_ROWS);
        for (i, (src, dst)) in chunks.zip(dst.chunks_mut(width * TASK_ROWS)).enumerate() {
            tasks.push((job, i * TASK_ROWS, width, src, dst));
        }
    }
    tasks
        .into_par_iter()
        .for_each(|(job, first, width, src, dst)| {
            vectorised(
                #[inline(always)]
                || {
                    let rows = src.chunks_exact(width).zip(dst.chunks_exact_mut(width));
                    for (r, (row, dst)) in rows.enumerate() {
                        op(job, first + r, row, dst);
                    }
                },
            )
        });
    // SAFETY: the chunks cover every value (input and output have the same length and
    // width), and `op` writes all of each output row.
    values.into_iter().map(|v| unsafe { written(v) }).collect()
}

/// A job's tensor transposed, in tiles of 32 x 32 values so that both the rows read and the
/// rows written stay in the cache (a column at a time strides a whole row per value).
fn transposed(x: &Tensor) -> Vec<i16> {
    const TILE: usize = 32;
    let (rows, width) = (x.rows as usize, x.width as usize);
    let mut values = unwritten(rows * width);
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..width).step_by(TILE) {
            for c in c0..(c0 + TILE).min(width) {
                for r in r0..(r0 + TILE).min(rows) {
                    values[c * rows + r].write(x.values[r * width + c]);
                }
            }
        }
    }
    // SAFETY: the tiles cover every (row, column) of the input, each written once.
    unsafe { written(values) }
}

thread_local! {
    /// Each pool thread's raw products of its current task, kept from task to task: a fresh
    /// zeroed buffer per task meant zeroing (or faulting in) about 570 MB per batch-32
    /// MiniLM pass (dense 340, scores 150, context 75). It keeps its largest size for the
    /// thread's life: at most `TASK_ROWS` rows of a dense layer, one head's scores (1 MiB
    /// at 512 tokens), or a version 1 convolution's tile of positions.
    static RAW: RefCell<Vec<i32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's [`RAW`] buffer of `len` values, which hold what an earlier task
/// left: `f` must write before it reads (the products write all of their output).
pub(super) fn with_raw<R>(len: usize, f: impl FnOnce(&mut [i32]) -> R) -> R {
    RAW.with_borrow_mut(|raw| {
        if raw.len() < len {
            raw.resize(len, 0);
        }
        f(&mut raw[..len])
    })
}

/// Dense over the rows of every job: [`TASK_ROWS`] rows a task, each task's products
/// requantised while they are in its cache.
fn dense(
    inputs: &[Tensor],
    weights: &Packed,
    bias: &[f64],
    mults: &Mults,
    shift: u32,
    out: DType,
) -> Vec<Vec<i16>> {
    let fan_in = inputs.first().map_or(0, |x| x.width as usize);
    let units = weights.columns();
    let scales = mults.scales(units, shift);
    let lefts: Vec<_> = inputs
        .iter()
        .map(|x| padded_rows(&x.values, x.rows as usize, fan_in))
        .collect();
    let mut values: Vec<_> = inputs
        .iter()
        .map(|x| unwritten(x.rows as usize * units))
        .collect();
    let mut tasks = Vec::new();
    for (left, job) in lefts.iter().zip(values.iter_mut()) {
        let rows = left.chunks(TASK_ROWS * padded_k(fan_in).max(1));
        tasks.extend(rows.zip(job.chunks_mut(TASK_ROWS * units.max(1))));
    }
    tasks.into_par_iter().for_each(|(a, dst)| {
        with_raw(dst.len(), |raw| {
            weights.product(Left::Int8(a), dst.len() / units, raw);
            vectorised(
                #[inline(always)]
                || lanes::requant_rows(raw, bias, &scales, out, dst),
            );
        })
    });
    // SAFETY: the tasks cover every row of every job, and `requant_rows` writes all of them.
    values.into_iter().map(|v| unsafe { written(v) }).collect()
}

/// The rows `t` of one head's slice `[h*hd, (h+1)*hd)` of a `[n, heads*hd]` tensor.
fn head_rows(x: &Tensor, head: usize, hd: usize) -> Vec<&[i16]> {
    rows_of(x)
        .map(|row| &row[head * hd..(head + 1) * hd])
        .collect()
}

/// Every job's attention logits `[heads * n, n]`: per job and head (one task each), the
/// queries' int8 rows times the packed keys.
fn scores(qs: &[Tensor], ks: &[Tensor], heads: usize, mult: u32, shift: u32) -> Vec<Vec<i16>> {
    let mut values: Vec<_> = qs
        .iter()
        .map(|q| unwritten(heads * (q.rows as usize).pow(2)))
        .collect();
    let mut tasks = Vec::new();
    for ((q, k), job) in qs.iter().zip(ks).zip(values.iter_mut()) {
        let n = q.rows as usize;
        for (h, dst) in job.chunks_mut((n * n).max(1)).enumerate() {
            tasks.push((q, k, h, dst));
        }
    }
    tasks.into_par_iter().for_each(|(q, k, h, dst)| {
        let n = q.rows as usize;
        let hd = q.width as usize / heads.max(1);
        let keys: Vec<i16> = head_rows(k, h, hd).concat();
        let packed = Packed::new(&keys, n, hd);
        let queries: Vec<i16> = head_rows(q, h, hd).concat();
        let (offsets, scales) = (vec![0.0; n], vec![lanes::Requant::scale(mult, shift); n]);
        with_raw(n * n, |raw| {
            packed.product(Left::Int8(&padded_rows(&queries, n, hd)), n, raw);
            vectorised(
                #[inline(always)]
                || lanes::requant_rows(raw, &offsets, &scales, DType::I16, dst),
            );
        });
    });
    // SAFETY: one task per head of every job covers each job's values, and `requant_rows`
    // writes all of its head.
    values.into_iter().map(|v| unsafe { written(v) }).collect()
}

/// Every job's attention context `[n, heads * hd]`: per job and head (one task each), the
/// probabilities (at most 2^14) times the packed transposed values.
fn context(
    ps: &[Tensor],
    vts: &[Tensor],
    heads: usize,
    mult: u32,
    shift: u32,
    out: DType,
) -> Vec<Vec<i16>> {
    let tasks: Vec<(usize, usize)> = (0..ps.len())
        .flat_map(|job| (0..heads).map(move |h| (job, h)))
        .collect();
    let scale = lanes::Requant::scale(mult, shift);
    let per_head: Vec<Vec<i16>> = tasks
        .into_par_iter()
        .map(|(job, h)| {
            let (p, vt) = (&ps[job], &vts[job]);
            let n = p.width as usize;
            let hd = vt.rows as usize / heads.max(1);
            let packed = Packed::new(&vt.values[h * hd * n..(h + 1) * hd * n], hd, n);
            let probs = padded_rows(&p.values[h * n * n..(h + 1) * n * n], n, n);
            let (offsets, scales) = (vec![0.0; hd], vec![scale; hd]);
            let mut head = unwritten(n * hd);
            with_raw(n * hd, |raw| {
                packed.product(Left::Probs(&probs), n, raw);
                vectorised(
                    #[inline(always)]
                    || lanes::requant_rows(raw, &offsets, &scales, out, &mut head),
                );
            });
            // SAFETY: `requant_rows` wrote the head's `n * hd` values.
            unsafe { written(head) }
        })
        .collect();
    // per_head[job * heads + h][t * hd + d] -> row t, column h * hd + d of the job's output.
    ps.par_iter()
        .zip(vts)
        .zip(per_head.par_chunks(heads.max(1)))
        .map(|((p, vt), job)| {
            let (n, features) = (p.width as usize, vt.rows as usize);
            let hd = features / heads.max(1);
            let mut values = unwritten(n * features);
            for (h, head) in job.iter().enumerate() {
                for (t, row) in head.chunks_exact(hd.max(1)).enumerate() {
                    let dst = &mut values[t * features + h * hd..t * features + (h + 1) * hd];
                    lanes::copy_row(row, dst);
                }
            }
            // SAFETY: the heads' `hd` columns of each of the `n` rows cover all of it.
            unsafe { written(values) }
        })
        .collect()
}
