//! The model spec (`spec.json`): what a model computes, as data.
//!
//! The canonical form of a spec is its compact JSON with fields in the order declared here
//! (what [`ModelSpec::canonical_json`] writes). `model_id` hashes that form, so two specs
//! that differ only in whitespace or key order name the same model.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::{Loc, SpecError};

/// The spec format this build reads and writes.
pub const SPEC_VERSION: u32 = 1;

/// Hard limits of the format: they keep every model cheap enough to check on chain and keep
/// every tensor and every loop bounded.
pub mod limits {
    pub const MAX_LAYERS: usize = 32;
    /// Output units of a dense layer, filters of a conv layer, channels of an input.
    pub const MAX_WIDTH: u32 = 4096;
    /// Elements of any activation tensor, the input included.
    pub const MAX_TENSOR: u64 = 1 << 20;
    pub const MAX_KERNEL: u32 = 15;
    pub const MAX_STRIDE: u32 = 8;
    pub const MAX_SHIFT: u32 = 24;
    pub const MAX_NAME_LEN: usize = 64;
    /// Every integer product and partial sum must stay below this for f32 to hold it exactly.
    pub const EXACT_LIMIT: u64 = 1 << 24;
    /// Largest |weight * activation|: weights are symmetric int8 (|w| <= 127), activations
    /// are int8 (|x| <= 128).
    pub const MAX_PRODUCT: u64 = 127 * 128;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub version: u32,
    /// A short human-readable name (`[a-z0-9._-]`, at most 64 bytes).
    pub name: String,
    pub input: InputSpec,
    pub layers: Vec<Layer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// `[n]` for a vector, `[channels, height, width]` for an image.
    pub shape: Vec<u32>,
    pub quant: InputQuant,
}

/// How a client turns real-valued input into int8: `q = clamp(round(x / scale) + zero_point)`.
/// Only clients use it; nothing on the verification path does, so `scale` is kept as a
/// decimal string and the chain never sees a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct InputQuant {
    /// A positive decimal such as `"0.125"`.
    pub scale: String,
    pub zero_point: i8,
}

/// One layer. `shift` and `relu` apply after the integer accumulation:
/// `y = clamp(floor((acc + 2^(shift-1)) / 2^shift), -128, 127)`, then `max(y, 0)` if `relu`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Layer {
    /// Fully connected: needs a vector input.
    Dense { units: u32, shift: u32, relu: bool },
    /// Square-kernel 2-D convolution with zero padding: needs a `[c, h, w]` input.
    Conv2d {
        filters: u32,
        kernel: u32,
        stride: u32,
        padding: u32,
        shift: u32,
        relu: bool,
    },
    /// Square-window max pooling without padding. It only selects values, so it has no shift.
    Maxpool2d { size: u32, stride: u32 },
    /// `[c, h, w]` to `[c * h * w]`, channel-major: the bytes do not change.
    Flatten,
}

/// The shape of one activation tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Flat(u32),
    Chw { c: u32, h: u32, w: u32 },
}

impl Shape {
    pub fn len(&self) -> usize {
        match *self {
            Shape::Flat(n) => n as usize,
            Shape::Chw { c, h, w } => c as usize * h as usize * w as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dims(&self) -> Vec<u32> {
        match *self {
            Shape::Flat(n) => vec![n],
            Shape::Chw { c, h, w } => vec![c, h, w],
        }
    }
}

/// What validation learned about one layer: its shapes and its share of the weights tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerPlan {
    pub input: Shape,
    pub output: Shape,
    /// Weights per output unit (0 for layers without weights).
    pub fan_in: u32,
    /// Merkle leaves of this layer: dense units or conv filters (0 for layers without weights).
    pub leaves: u32,
    /// Index of this layer's first leaf in the weights tree.
    pub leaf_offset: u32,
    /// Largest |bias| that keeps this layer's accumulator exact.
    pub max_bias: u64,
}

/// A validated spec's shapes, one entry per layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub input: Shape,
    pub layers: Vec<LayerPlan>,
    pub total_leaves: u32,
}

impl Plan {
    pub fn output(&self) -> Shape {
        self.layers.last().map_or(self.input, |l| l.output)
    }

    /// Multiply-adds of one inference, counted as two operations each (the usual FLOP
    /// convention, so figures compare with float peers); pooling, bias and requantisation
    /// are not counted.
    pub fn flops(&self) -> u64 {
        self.layers
            .iter()
            .filter(|lp| lp.leaves > 0)
            .map(|lp| 2 * u64::from(lp.fan_in) * lp.output.len() as u64)
            .sum()
    }
}

impl ModelSpec {
    /// Parses and validates `spec.json`.
    pub fn from_json(bytes: &[u8]) -> Result<(ModelSpec, Plan), SpecError> {
        let spec: ModelSpec =
            serde_json::from_slice(bytes).map_err(|e| SpecError::Json(alloc::format!("{e}")))?;
        let plan = spec.validate()?;
        Ok((spec, plan))
    }

    /// The canonical bytes that `model_id` hashes.
    pub fn canonical_json(&self) -> Vec<u8> {
        // Serialising a struct of strings, integers, booleans and vectors cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Checks every rule of the format and returns the shapes of every layer.
    pub fn validate(&self) -> Result<Plan, SpecError> {
        use limits::*;
        if self.version != SPEC_VERSION {
            return Err(SpecError::UnsupportedVersion {
                found: self.version,
                supported: SPEC_VERSION,
            });
        }
        validate_name(&self.name)?;
        validate_scale(&self.input.quant.scale)?;
        let input = input_shape(&self.input.shape)?;
        if self.layers.is_empty() {
            return Err(SpecError::NoLayers);
        }
        if self.layers.len() > MAX_LAYERS {
            return Err(SpecError::TooManyLayers {
                count: self.layers.len(),
                max: MAX_LAYERS,
            });
        }
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut shape = input;
        let mut leaf_offset: u32 = 0;
        for (i, layer) in self.layers.iter().enumerate() {
            let plan = plan_layer(Loc::Layer(i), layer, shape, leaf_offset)?;
            // Bounded by MAX_LAYERS * MAX_WIDTH, far below u32::MAX.
            leaf_offset += plan.leaves;
            shape = plan.output;
            layers.push(plan);
        }
        if leaf_offset == 0 {
            return Err(SpecError::NoWeightedLayer);
        }
        Ok(Plan {
            input,
            layers,
            total_leaves: leaf_offset,
        })
    }
}

pub(crate) fn validate_name(name: &str) -> Result<(), SpecError> {
    if name.is_empty() {
        return Err(SpecError::Name {
            reason: "must not be empty",
        });
    }
    if name.len() > limits::MAX_NAME_LEN {
        return Err(SpecError::Name {
            reason: "must be at most 64 bytes",
        });
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    if !name.chars().all(allowed) {
        return Err(SpecError::Name {
            reason: "may hold only a-z, 0-9, '.', '_' and '-'",
        });
    }
    Ok(())
}

fn validate_scale(scale: &str) -> Result<(), SpecError> {
    let (int, frac) = scale.split_once('.').unwrap_or((scale, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (scale.contains('.') && frac.is_empty()) {
        return Err(SpecError::Scale {
            reason: "must be a decimal such as \"0.125\"",
        });
    }
    if scale.len() > 32 {
        return Err(SpecError::Scale {
            reason: "must be at most 32 characters",
        });
    }
    if scale.bytes().all(|b| b == b'0' || b == b'.') {
        return Err(SpecError::Scale {
            reason: "must be greater than zero",
        });
    }
    Ok(())
}

fn input_shape(dims: &[u32]) -> Result<Shape, SpecError> {
    let shape = match *dims {
        [n] => Shape::Flat(n),
        [c, h, w] => Shape::Chw { c, h, w },
        _ => {
            return Err(SpecError::Shape {
                at: Loc::Input,
                field: "shape",
                reason: "must be [n] or [channels, height, width]",
            })
        }
    };
    if dims.contains(&0) {
        return Err(SpecError::Zero {
            at: Loc::Input,
            field: "shape",
        });
    }
    if let Shape::Chw { c, .. } = shape {
        check_max(Loc::Input, "shape", c, limits::MAX_WIDTH)?;
    }
    check_tensor(Loc::Input, "shape", dims)?;
    Ok(shape)
}

fn check_max(at: Loc, field: &'static str, value: u32, max: u32) -> Result<(), SpecError> {
    if value == 0 {
        return Err(SpecError::Zero { at, field });
    }
    if value > max {
        return Err(SpecError::TooLarge {
            at,
            field,
            value: value.into(),
            max: max.into(),
        });
    }
    Ok(())
}

fn check_tensor(at: Loc, field: &'static str, dims: &[u32]) -> Result<(), SpecError> {
    let elements = dims
        .iter()
        .fold(1u64, |acc, &d| acc.saturating_mul(d.into()));
    if elements > limits::MAX_TENSOR {
        return Err(SpecError::TooLarge {
            at,
            field,
            value: elements,
            max: limits::MAX_TENSOR,
        });
    }
    Ok(())
}

fn chw(at: Loc, shape: Shape) -> Result<(u32, u32, u32), SpecError> {
    match shape {
        Shape::Chw { c, h, w } => Ok((c, h, w)),
        Shape::Flat(_) => Err(SpecError::InputRank {
            at,
            expected: "[c, h, w]",
            found: shape.dims(),
        }),
    }
}

/// Output extent of a window sliding over `extent` (already padded) with `stride`.
fn window_out(
    at: Loc,
    field: &'static str,
    extent: u32,
    window: u32,
    stride: u32,
) -> Result<u32, SpecError> {
    if window > extent {
        return Err(SpecError::WindowTooLarge {
            at,
            field,
            window,
            extent,
        });
    }
    Ok((extent - window) / stride + 1)
}

/// Worst-case |accumulator| plus rounding term for a fan-in and shift, before the bias.
fn worst_case(fan_in: u32, shift: u32) -> u64 {
    let rounding = if shift == 0 { 0 } else { 1u64 << (shift - 1) };
    u64::from(fan_in) * limits::MAX_PRODUCT + rounding
}

fn check_exact(at: Loc, fan_in: u32, shift: u32) -> Result<u64, SpecError> {
    check_shift(at, shift)?;
    let worst = worst_case(fan_in, shift);
    if worst >= limits::EXACT_LIMIT {
        return Err(SpecError::ExactnessBound {
            at,
            worst_case: worst,
            limit: limits::EXACT_LIMIT,
        });
    }
    Ok(limits::EXACT_LIMIT - 1 - worst)
}

fn check_shift(at: Loc, shift: u32) -> Result<(), SpecError> {
    if shift > limits::MAX_SHIFT {
        return Err(SpecError::TooLarge {
            at,
            field: "shift",
            value: shift.into(),
            max: limits::MAX_SHIFT.into(),
        });
    }
    Ok(())
}

fn plan_layer(
    at: Loc,
    layer: &Layer,
    input: Shape,
    leaf_offset: u32,
) -> Result<LayerPlan, SpecError> {
    use limits::*;
    let unweighted = |output: Shape| LayerPlan {
        input,
        output,
        fan_in: 0,
        leaves: 0,
        leaf_offset,
        max_bias: 0,
    };
    match *layer {
        Layer::Dense { units, shift, .. } => {
            let fan_in = match input {
                Shape::Flat(n) => n,
                Shape::Chw { .. } => {
                    return Err(SpecError::InputRank {
                        at,
                        expected: "[n] (add a flatten layer first)",
                        found: input.dims(),
                    })
                }
            };
            check_max(at, "units", units, MAX_WIDTH)?;
            let max_bias = check_exact(at, fan_in, shift)?;
            Ok(LayerPlan {
                input,
                output: Shape::Flat(units),
                fan_in,
                leaves: units,
                leaf_offset,
                max_bias,
            })
        }
        Layer::Conv2d {
            filters,
            kernel,
            stride,
            padding,
            shift,
            ..
        } => {
            let (c, h, w) = chw(at, input)?;
            check_max(at, "filters", filters, MAX_WIDTH)?;
            check_max(at, "kernel", kernel, MAX_KERNEL)?;
            check_max(at, "stride", stride, MAX_STRIDE)?;
            if padding >= kernel {
                return Err(SpecError::TooLarge {
                    at,
                    field: "padding",
                    value: padding.into(),
                    max: (kernel - 1).into(),
                });
            }
            let oh = window_out(at, "kernel", h + 2 * padding, kernel, stride)?;
            let ow = window_out(at, "kernel", w + 2 * padding, kernel, stride)?;
            check_tensor(at, "filters", &[filters, oh, ow])?;
            let fan_in = c * kernel * kernel;
            let max_bias = check_exact(at, fan_in, shift)?;
            Ok(LayerPlan {
                input,
                output: Shape::Chw {
                    c: filters,
                    h: oh,
                    w: ow,
                },
                fan_in,
                leaves: filters,
                leaf_offset,
                max_bias,
            })
        }
        Layer::Maxpool2d { size, stride } => {
            let (c, h, w) = chw(at, input)?;
            check_max(at, "size", size, MAX_KERNEL)?;
            check_max(at, "stride", stride, MAX_STRIDE)?;
            let oh = window_out(at, "size", h, size, stride)?;
            let ow = window_out(at, "size", w, size, stride)?;
            Ok(unweighted(Shape::Chw { c, h: oh, w: ow }))
        }
        Layer::Flatten => {
            chw(at, input)?;
            // Bounded by MAX_TENSOR, checked when the input shape was made.
            Ok(unweighted(Shape::Flat(input.len() as u32)))
        }
    }
}
