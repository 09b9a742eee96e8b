//! A version 1 model's layers, each with its weights and shapes, as both executors (burn's
//! [`crate::chain`] and the CPU kernels' [`crate::host::HostChain`]) build from them.

use tavdun_core::{Layer, LayerWeights, Model, Shape};

use crate::error::EngineError;

/// `y = clamp(floor((acc + 2^(shift-1)) / 2^shift), lower, 127)`, `lower` 0 with ReLU.
#[derive(Clone, Copy)]
pub(crate) struct Requant {
    pub(crate) shift: u32,
    pub(crate) relu: bool,
}

impl Requant {
    /// The rounding term `2^(shift-1)` (0 for shift 0), which executors fold into the bias.
    pub(crate) fn rounding(self) -> i32 {
        if self.shift == 0 {
            0
        } else {
            1 << (self.shift - 1)
        }
    }

    /// The biases with the rounding term added (exact: validation keeps both below 2^24).
    pub(crate) fn biased(self, weights: &LayerWeights) -> Vec<i32> {
        weights.bias.iter().map(|&b| b + self.rounding()).collect()
    }

    pub(crate) fn lower(self) -> i32 {
        if self.relu {
            0
        } else {
            -128
        }
    }
}

/// A square window of an image layer: `size` taps a side, `stride` apart, `padding` zeros
/// around the input.
#[derive(Clone, Copy)]
pub(crate) struct Window {
    pub(crate) size: usize,
    pub(crate) stride: usize,
    pub(crate) padding: usize,
}

/// One layer: what it computes and with which weights; `input` and `output` are its shapes.
pub(crate) enum Part<'a> {
    Dense {
        weights: &'a LayerWeights,
        units: usize,
        fan_in: usize,
        requant: Requant,
    },
    /// Filters `[filters][channels][kernel][kernel]`.
    Conv {
        weights: &'a LayerWeights,
        filters: usize,
        fan_in: usize,
        window: Window,
        requant: Requant,
    },
    Maxpool(Window),
    Flatten,
}

/// A layer and its input and output shapes.
pub(crate) struct Step<'a> {
    pub(crate) part: Part<'a>,
    pub(crate) input: Shape,
    pub(crate) output: Shape,
}

/// Every layer of `model`, in order. `Model::new` has checked every weight and bias length
/// against the plan; a weighted layer without weights is an error.
pub(crate) fn steps(model: &Model) -> Result<Vec<Step<'_>>, EngineError> {
    let layers = model.spec.layers.iter().zip(&model.plan.layers);
    layers
        .zip(&model.weights)
        .enumerate()
        .map(|(i, ((layer, lp), weights))| {
            let fan_in = lp.fan_in as usize;
            let part = match (layer, weights) {
                (&Layer::Dense { units, shift, relu }, Some(weights)) => Part::Dense {
                    weights,
                    units: units as usize,
                    fan_in,
                    requant: Requant { shift, relu },
                },
                (
                    &Layer::Conv2d {
                        filters,
                        kernel,
                        stride,
                        padding,
                        shift,
                        relu,
                    },
                    Some(weights),
                ) => Part::Conv {
                    weights,
                    filters: filters as usize,
                    fan_in,
                    window: Window {
                        size: kernel as usize,
                        stride: stride as usize,
                        padding: padding as usize,
                    },
                    requant: Requant { shift, relu },
                },
                (&Layer::Maxpool2d { size, stride }, _) => Part::Maxpool(Window {
                    size: size as usize,
                    stride: stride as usize,
                    padding: 0,
                }),
                (Layer::Flatten, _) => Part::Flatten,
                (Layer::Dense { .. } | Layer::Conv2d { .. }, None) => {
                    return Err(EngineError::MissingWeights { layer: i })
                }
            };
            Ok(Step {
                part,
                input: lp.input,
                output: lp.output,
            })
        })
        .collect()
}
