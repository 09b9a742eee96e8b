//! A version 1 model (a chain of dense, convolution and pooling layers) on the engine's CPU
//! kernels: dense layers and convolutions (as products over each output position's window)
//! by the exact int8 products of [`super::gemm`], pooling by comparison, rows in parallel.
//!
//! Validation keeps every accumulator, with its bias and rounding term, below 2^24 in
//! magnitude and every shift at most 24, so core's i64 requantisation
//! ([`tavdun_core::requantize`]) is the same in i32: `(acc + 2^(shift-1)) >> shift` (an
//! arithmetic shift floors, as core's does), clamped to the int8 range and by ReLU at 0.

use rayon::prelude::*;
use tavdun_core::{LayerWeights, Model, Shape};

use super::gemm::{padded_k, widened_rows, Left, Packed};
use super::steps::{with_raw, TASK_ROWS};
use crate::engine::Activations;
use crate::error::EngineError;
use crate::layers::{self, Part, Requant, Window};

/// `clamp((acc + rounding) >> shift, lower, 127)`, the rounding term folded into the bias.
#[inline(always)]
fn requantize(acc: i32, shift: u32, lower: i32) -> i8 {
    (acc >> shift).clamp(lower, 127) as i8
}

/// A window over a job's `[c, h, w]` image, producing `oh x ow` positions.
#[derive(Clone, Copy)]
struct Geometry {
    channels: usize,
    h: usize,
    w: usize,
    size: usize,
    stride: usize,
    padding: usize,
    oh: usize,
    ow: usize,
}

impl Geometry {
    fn of(window: Window, input: Shape, output: Shape) -> Geometry {
        let chw = |s: Shape| match s {
            Shape::Chw { c, h, w } => (c as usize, h as usize, w as usize),
            Shape::Flat(n) => (n as usize, 1, 1),
        };
        let ((channels, h, w), (_, oh, ow)) = (chw(input), chw(output));
        Geometry {
            channels,
            h,
            w,
            size: window.size,
            stride: window.stride,
            padding: window.padding,
            oh,
            ow,
        }
    }

    /// The input position of tap `(ky, kx)` at output `(oy, ox)`, if it is not padding.
    #[inline(always)]
    fn tap(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        let y = (oy * self.stride + ky).checked_sub(self.padding)?;
        let x = (ox * self.stride + kx).checked_sub(self.padding)?;
        (y < self.h && x < self.w).then_some((y, x))
    }
}

/// A dense layer's or a convolution's packed weights (`[units or filters][fan_in]`), its
/// biases with the rounding term, and its requantisation.
struct Weighted {
    weights: Packed,
    bias: Vec<i32>,
    shift: u32,
    lower: i32,
}

impl Weighted {
    fn new(weights: &LayerWeights, units: usize, fan_in: usize, requant: Requant) -> Weighted {
        Weighted {
            weights: Packed::new(&weights.weight, units, fan_in),
            bias: requant.biased(weights),
            shift: requant.shift,
            lower: requant.lower(),
        }
    }

    #[inline(always)]
    fn output(&self, acc: i32, unit: usize) -> i8 {
        requantize(acc + self.bias[unit], self.shift, self.lower)
    }
}

enum HostLayer {
    Dense(Weighted),
    /// Filters `[filters][c * k * k]`, packed like a dense layer's units.
    Conv(Weighted, Geometry),
    Maxpool(Geometry),
    Flatten,
}

/// A version 1 model prepared for the CPU kernels: weights packed once.
pub(crate) struct HostChain {
    layers: Vec<HostLayer>,
}

impl HostChain {
    pub(crate) fn build(model: &Model) -> Result<HostChain, EngineError> {
        let layers = layers::steps(model)?
            .into_iter()
            .map(|layer| match layer.part {
                Part::Dense {
                    weights,
                    units,
                    fan_in,
                    requant,
                } => HostLayer::Dense(Weighted::new(weights, units, fan_in, requant)),
                Part::Conv {
                    weights,
                    filters,
                    fan_in,
                    window,
                    requant,
                } => HostLayer::Conv(
                    Weighted::new(weights, filters, fan_in, requant),
                    Geometry::of(window, layer.input, layer.output),
                ),
                Part::Maxpool(window) => {
                    HostLayer::Maxpool(Geometry::of(window, layer.input, layer.output))
                }
                Part::Flatten => HostLayer::Flatten,
            })
            .collect();
        Ok(HostChain { layers })
    }

    /// Every job's activations for `batch` concatenated inputs (lengths checked by the
    /// caller), in job order.
    pub(crate) fn run(&self, inputs: &[i8], batch: usize) -> Vec<Activations> {
        // outputs[layer]: the whole batch's values, job after job.
        let mut outputs: Vec<Vec<i8>> = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let x = outputs.last().map_or(inputs, Vec::as_slice);
            let y = match layer {
                HostLayer::Dense(layer) => dense(x, batch, layer),
                HostLayer::Conv(layer, geometry) => conv(x, batch, layer, geometry),
                HostLayer::Maxpool(geometry) => maxpool(x, batch, geometry),
                // Channel-major already: the bytes do not change.
                HostLayer::Flatten => x.to_vec(),
            };
            outputs.push(y);
        }
        (0..batch)
            .map(|job| {
                outputs
                    .iter()
                    .map(|layer| {
                        let len = layer.len() / batch.max(1);
                        layer[job * len..(job + 1) * len].to_vec()
                    })
                    .collect()
            })
            .collect()
    }
}

/// A dense layer over every job: [`TASK_ROWS`] jobs a task.
fn dense(x: &[i8], batch: usize, layer: &Weighted) -> Vec<i8> {
    let units = layer.weights.columns();
    let fan_in = x.len() / batch.max(1);
    let mut out = vec![0i8; batch * units];
    out.par_chunks_mut(TASK_ROWS * units.max(1))
        .zip(x.par_chunks(TASK_ROWS * fan_in.max(1)))
        .for_each(|(dst, rows)| {
            let left = widened_rows(rows, fan_in);
            let count = dst.len() / units.max(1);
            with_raw(dst.len(), |raw| {
                layer.weights.product(Left::Int8(&left), count, raw);
                for (dst, raw) in dst.chunks_exact_mut(units).zip(raw.chunks_exact(units)) {
                    for (unit, (d, &acc)) in dst.iter_mut().zip(raw).enumerate() {
                        *d = layer.output(acc, unit);
                    }
                }
            })
        });
    out
}

/// Output positions per convolution task: a task's windows (`POSITIONS * c * k * k` values)
/// stay bounded whatever the image's size, and one large image spreads over the threads.
const POSITIONS: usize = 256;

/// A convolution over every job, [`POSITIONS`] output positions a task: each position's
/// window (`c * k * k` values in the filters' order, zeros for padding) is a row of the
/// product with the filters. The output is channel-major, `[filters, oh, ow]`.
fn conv(x: &[i8], batch: usize, layer: &Weighted, win: &Geometry) -> Vec<i8> {
    let filters = layer.weights.columns();
    let (in_len, positions) = (win.channels * win.h * win.w, win.oh * win.ow);
    let kp = padded_k(win.channels * win.size * win.size);
    let per_job = positions.div_ceil(POSITIONS);
    let tiles: Vec<(usize, usize)> = (0..batch)
        .flat_map(|job| (0..per_job).map(move |t| (job, t * POSITIONS)))
        .collect();
    // Each tile's outputs, position-major: `[its positions][filters]`.
    let done: Vec<Vec<i8>> = tiles
        .par_iter()
        .map(|&(job, first)| {
            let image = &x[job * in_len..(job + 1) * in_len];
            let count = POSITIONS.min(positions - first);
            let mut windows = vec![0i16; count * kp];
            for (i, row) in windows.chunks_exact_mut(kp.max(1)).enumerate() {
                let (oy, ox) = ((first + i) / win.ow, (first + i) % win.ow);
                for c in 0..win.channels {
                    for ky in 0..win.size {
                        for kx in 0..win.size {
                            if let Some((y, xx)) = win.tap(oy, ox, ky, kx) {
                                let at = (c * win.size + ky) * win.size + kx;
                                row[at] = image[(c * win.h + y) * win.w + xx].into();
                            }
                        }
                    }
                }
            }
            let mut tile = vec![0i8; count * filters];
            with_raw(count * filters, |raw| {
                layer.weights.product(Left::Int8(&windows), count, raw);
                for (dst, raw) in tile
                    .chunks_exact_mut(filters)
                    .zip(raw.chunks_exact(filters))
                {
                    for (f, (d, &acc)) in dst.iter_mut().zip(raw).enumerate() {
                        *d = layer.output(acc, f);
                    }
                }
            });
            tile
        })
        .collect();
    let mut out = vec![0i8; batch * filters * positions];
    out.par_chunks_mut((filters * positions).max(1))
        .zip(done.par_chunks(per_job.max(1)))
        .for_each(|(dst, tiles)| {
            for (t, tile) in tiles.iter().enumerate() {
                for (i, values) in tile.chunks_exact(filters).enumerate() {
                    for (f, &v) in values.iter().enumerate() {
                        dst[f * positions + t * POSITIONS + i] = v;
                    }
                }
            }
        });
    out
}

/// Max pooling over every job, one task per job (windows without padding, as validation
/// allows).
fn maxpool(x: &[i8], batch: usize, win: &Geometry) -> Vec<i8> {
    let (in_len, positions) = (win.channels * win.h * win.w, win.oh * win.ow);
    let mut out = vec![0i8; batch * win.channels * positions];
    out.par_chunks_mut((win.channels * positions).max(1))
        .zip(x.par_chunks(in_len.max(1)))
        .for_each(|(dst, image)| {
            for (i, d) in dst.iter_mut().enumerate() {
                let (c, p) = (i / positions, i % positions);
                let (oy, ox) = (p / win.ow, p % win.ow);
                let mut best = i8::MIN;
                for ky in 0..win.size {
                    for kx in 0..win.size {
                        if let Some((y, xx)) = win.tap(oy, ox, ky, kx) {
                            best = best.max(image[(c * win.h + y) * win.w + xx]);
                        }
                    }
                }
                *d = best;
            }
        });
    out
}
