//! The integer reference executor. Each layer kind has one function that computes one output
//! value; the forward pass and the on-chain one-step check ([`eval_unit`]) both call it, so the
//! two cannot disagree.

use alloc::vec::Vec;

use crate::commit::Leaf;
use crate::error::EvalError;
use crate::spec::{Layer, LayerPlan, ModelSpec, Plan, Shape};
use crate::weights::Model;

/// `clamp(floor((acc + 2^(shift-1)) / 2^shift), -128, 127)`, then ReLU if asked.
pub fn requantize(acc: i64, shift: u32, relu: bool) -> i8 {
    let rounded = if shift == 0 {
        acc
    } else {
        // An arithmetic shift is floor division by 2^shift, negative values included.
        (acc + (1i64 << (shift - 1))) >> shift
    };
    let y = rounded.clamp(-128, 127) as i8;
    if relu {
        y.max(0)
    } else {
        y
    }
}

/// A dense unit's exact accumulator `bias + sum_i row_i * x_i`, before requantisation.
pub(crate) fn dense_acc(row: &[i8], bias: i32, x: &[i8]) -> i64 {
    row.iter().zip(x).fold(i64::from(bias), |acc, (&w, &v)| {
        acc + i64::from(w) * i64::from(v)
    })
}

fn dense_value(row: &[i8], bias: i32, x: &[i8], shift: u32, relu: bool) -> i8 {
    requantize(dense_acc(row, bias, x), shift, relu)
}

/// Where one output value of a windowed layer reads from.
#[derive(Clone, Copy)]
struct Window {
    in_h: u32,
    in_w: u32,
    size: u32,
    stride: u32,
    padding: u32,
    oy: u32,
    ox: u32,
}

impl Window {
    /// Input coordinates `(y, x)` of window tap `(ky, kx)`, or `None` inside the zero padding.
    fn tap(&self, ky: u32, kx: u32) -> Option<(usize, usize)> {
        let y = (self.oy * self.stride + ky).checked_sub(self.padding)?;
        let x = (self.ox * self.stride + kx).checked_sub(self.padding)?;
        (y < self.in_h && x < self.in_w).then_some((y as usize, x as usize))
    }
}

/// One conv output value; `filter` is `[channels, k, k]` flattened.
fn conv_value(
    filter: &[i8],
    bias: i32,
    x: &[i8],
    channels: u32,
    win: Window,
    shift: u32,
    relu: bool,
) -> i8 {
    let (h, w, k) = (win.in_h as usize, win.in_w as usize, win.size as usize);
    let mut acc = i64::from(bias);
    for c in 0..channels as usize {
        for ky in 0..win.size {
            for kx in 0..win.size {
                if let Some((y, xx)) = win.tap(ky, kx) {
                    let wv = filter[(c * k + ky as usize) * k + kx as usize];
                    acc += i64::from(wv) * i64::from(x[(c * h + y) * w + xx]);
                }
            }
        }
    }
    requantize(acc, shift, relu)
}

fn pool_value(x: &[i8], channel: u32, win: Window) -> i8 {
    let (h, w) = (win.in_h as usize, win.in_w as usize);
    let mut best = i8::MIN;
    for ky in 0..win.size {
        for kx in 0..win.size {
            if let Some((y, xx)) = win.tap(ky, kx) {
                best = best.max(x[(channel as usize * h + y) * w + xx]);
            }
        }
    }
    best
}

/// Splits a flat output index of a `[c, h, w]` output into `(c, y, x)`.
fn unflatten(unit: u32, out: Shape) -> (u32, u32, u32) {
    match out {
        Shape::Chw { h, w, .. } => (unit / (h * w), (unit / w) % h, unit % w),
        Shape::Flat(_) => (unit, 0, 0),
    }
}

fn in_hw(shape: Shape) -> (u32, u32, u32) {
    match shape {
        Shape::Chw { c, h, w } => (c, h, w),
        Shape::Flat(n) => (n, 1, 1),
    }
}

/// Output value `unit` of one layer. `params` is the unit's weights and bias for weighted
/// layers; callers have checked every length against the plan.
fn unit_value(layer: &Layer, lp: &LayerPlan, x: &[i8], unit: u32, params: (&[i8], i32)) -> i8 {
    let (weights, bias) = params;
    let (in_c, in_h, in_w) = in_hw(lp.input);
    match *layer {
        Layer::Dense { shift, relu, .. } => dense_value(weights, bias, x, shift, relu),
        Layer::Conv2d {
            kernel,
            stride,
            padding,
            shift,
            relu,
            ..
        } => {
            let (_, oy, ox) = unflatten(unit, lp.output);
            let win = Window {
                in_h,
                in_w,
                size: kernel,
                stride,
                padding,
                oy,
                ox,
            };
            conv_value(weights, bias, x, in_c, win, shift, relu)
        }
        Layer::Maxpool2d { size, stride } => {
            let (c, oy, ox) = unflatten(unit, lp.output);
            let win = Window {
                in_h,
                in_w,
                size,
                stride,
                padding: 0,
                oy,
                ox,
            };
            pool_value(x, c, win)
        }
        Layer::Flatten => x[unit as usize],
    }
}

impl Plan {
    /// The leaf (within its layer) that output value `unit` of `layer` depends on:
    /// the unit itself for dense, its filter for conv2d, `None` for layers without weights.
    pub fn leaf_unit(&self, layer: usize, unit: u32) -> Option<u32> {
        let lp = self.layers.get(layer)?;
        if lp.leaves == 0 || unit as usize >= lp.output.len() {
            return None;
        }
        match lp.output {
            Shape::Flat(_) => Some(unit),
            Shape::Chw { .. } => Some(unflatten(unit, lp.output).0),
        }
    }

    /// Position of leaf (layer, leaf_unit) in the weights tree.
    pub fn leaf_index(&self, layer: usize, leaf_unit: u32) -> Option<u32> {
        let lp = self.layers.get(layer)?;
        (leaf_unit < lp.leaves).then(|| lp.leaf_offset + leaf_unit)
    }
}

/// Runs the model on one int8 input and returns every layer's output, in order.
pub fn forward(model: &Model, input: &[i8]) -> Result<Vec<Vec<i8>>, EvalError> {
    let expected = model.plan.input.len();
    if input.len() != expected {
        return Err(EvalError::InputLen {
            found: input.len(),
            expected,
        });
    }
    let mut acts: Vec<Vec<i8>> = Vec::with_capacity(model.plan.layers.len());
    for (i, (layer, lp)) in model.spec.layers.iter().zip(&model.plan.layers).enumerate() {
        let x = acts.last().map_or(input, Vec::as_slice);
        let fan_in = lp.fan_in as usize;
        let weights = model.weights[i].as_ref();
        let out = (0..lp.output.len() as u32)
            .map(|u| {
                let params = match (weights, model.plan.leaf_unit(i, u)) {
                    (Some(w), Some(leaf)) => (w.row(leaf as usize, fan_in), w.bias[leaf as usize]),
                    _ => (&[][..], 0),
                };
                unit_value(layer, lp, x, u, params)
            })
            .collect();
        acts.push(out);
    }
    Ok(acts)
}

/// The one-step check: output value `unit` of `layer`, from that layer's input and, for a
/// weighted layer, the Merkle leaf of the unit. O(fan-in); the layer is never built whole.
/// The caller verifies the leaf's Merkle proof against the model's weights root.
pub fn eval_unit(
    spec: &ModelSpec,
    plan: &Plan,
    layer: usize,
    input: &[i8],
    unit: u32,
    leaf: Option<&Leaf>,
) -> Result<i8, EvalError> {
    let (Some(kind), Some(lp)) = (spec.layers.get(layer), plan.layers.get(layer)) else {
        return Err(EvalError::NoSuchLayer {
            layer,
            layers: plan.layers.len(),
        });
    };
    if input.len() != lp.input.len() {
        return Err(EvalError::InputLen {
            found: input.len(),
            expected: lp.input.len(),
        });
    }
    let units = lp.output.len() as u32;
    if unit >= units {
        return Err(EvalError::NoSuchUnit { layer, unit, units });
    }
    let params = match (plan.leaf_unit(layer, unit), leaf) {
        (None, None) => (&[][..], 0),
        (None, Some(_)) => return Err(EvalError::LeafNotExpected { layer }),
        (Some(_), None) => return Err(EvalError::LeafRequired { layer }),
        (Some(want), Some(leaf)) => {
            if leaf.layer as usize != layer || leaf.unit != want {
                return Err(EvalError::WrongLeaf {
                    layer,
                    unit: want,
                    found_layer: leaf.layer,
                    found_unit: leaf.unit,
                });
            }
            if leaf.weights.len() != lp.fan_in as usize {
                return Err(EvalError::LeafLen {
                    layer,
                    found: leaf.weights.len(),
                    expected: lp.fan_in as usize,
                });
            }
            (leaf.weights.as_slice(), leaf.bias)
        }
    };
    Ok(unit_value(kind, lp, input, unit, params))
}
