//! A version 1 model (a chain of layers) as burn operations on one device, built at run time
//! from the spec.
//!
//! Int8 values and int32 biases are held in f32. Validation guarantees every product, partial
//! sum, bias and rounding term of a layer stays below 2^24 in magnitude, so the accumulation is
//! exact in any order on any backend, and so are the power-of-two scaling, floor and clamp that
//! requantise it: the bytes equal those of `tavdun_core::forward`.

use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{DType, Device, Tensor, TensorData, Transaction};
use tavdun_core::{Model, Shape};

use crate::error::EngineError;
use crate::layers::{self, Part, Requant};

/// One layer's output for a whole batch: `[batch, n]` or `[batch, c, h, w]`.
#[derive(Clone)]
pub(crate) enum Activation {
    Flat(Tensor<2>),
    Image(Tensor<4>),
}

impl Activation {
    /// The activation as `[batch, n]`; an image flattens channel-major, as core's layout does.
    fn into_flat(self) -> Tensor<2> {
        match self {
            Activation::Flat(t) => t,
            Activation::Image(t) => {
                let [b, c, h, w] = t.dims();
                t.reshape([b, c * h * w])
            }
        }
    }

    fn into_image(self, shape: Shape) -> Tensor<4> {
        match self {
            Activation::Image(t) => t,
            Activation::Flat(t) => {
                let [b, _] = t.dims();
                let dims = shape.dims();
                let at = |i: usize| dims.get(i).map_or(1, |&d| d as usize);
                t.reshape([b, at(0), at(1), at(2)])
            }
        }
    }

    /// Adds this activation to a read-back transaction.
    pub(crate) fn register(self, transaction: Transaction) -> Transaction {
        match self {
            Activation::Flat(t) => transaction.register(t),
            Activation::Image(t) => transaction.register(t),
        }
    }

    /// A batch of int8 inputs, `batch` rows of `shape`, concatenated.
    pub(crate) fn input(values: &[i8], batch: usize, shape: Shape, device: &Device) -> Activation {
        let values = to_f32(values);
        match shape {
            Shape::Flat(n) => Activation::Flat(upload(values, [batch, n as usize], device)),
            Shape::Chw { c, h, w } => Activation::Image(upload(
                values,
                [batch, c as usize, h as usize, w as usize],
                device,
            )),
        }
    }
}

/// `requant` in f32: `floor(acc * 2^-shift)` clamped, the rounding term in the bias.
fn requantize<const D: usize>(requant: Requant, acc: Tensor<D>) -> Tensor<D> {
    let scaled = if requant.shift == 0 {
        // An integer accumulator needs no rounding.
        acc
    } else {
        // 2^-shift is exact in f32 for every shift validation allows (<= 24).
        acc.mul_scalar(1.0 / (1u32 << requant.shift) as f32).floor()
    };
    scaled.clamp(requant.lower() as f32, 127.0)
}

enum Step {
    /// `weight` is `[fan_in, units]` (transposed once at load), `bias` is `[1, units]`.
    Dense {
        weight: Tensor<2>,
        bias: Tensor<2>,
        requant: Requant,
    },
    Conv {
        weight: Tensor<4>,
        bias: Tensor<1>,
        options: ConvOptions<2>,
        requant: Requant,
    },
    Maxpool(MaxPoolOptions<2>),
    Flatten,
}

/// The model on a device, weights uploaded.
pub(crate) struct Chain {
    steps: Vec<Step>,
    /// Input shape of every layer, used to give a flat tensor its image shape.
    inputs: Vec<Shape>,
}

fn to_f32<T: Copy + Into<f64>>(values: &[T]) -> Vec<f32> {
    values.iter().map(|&v| v.into() as f32).collect()
}

fn upload<const D: usize>(values: Vec<f32>, dims: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, dims), (device, DType::F32))
}

impl Chain {
    /// Uploads the weights of a model. `Model::new` has checked every weight and bias length
    /// against the plan.
    pub(crate) fn build(model: &Model, device: &Device) -> Result<Chain, EngineError> {
        let layers = layers::steps(model)?;
        let inputs = layers.iter().map(|layer| layer.input).collect();
        let steps = layers
            .into_iter()
            .map(|layer| match layer.part {
                Part::Dense {
                    weights,
                    units,
                    fan_in,
                    requant,
                } => Step::Dense {
                    weight: upload(to_f32(&weights.weight), [units, fan_in], device).transpose(),
                    bias: upload(to_f32(&requant.biased(weights)), [1, units], device),
                    requant,
                },
                Part::Conv {
                    weights,
                    filters,
                    fan_in,
                    window,
                    requant,
                } => {
                    let (k, s, p) = (window.size, window.stride, window.padding);
                    let channels = fan_in / (k * k).max(1);
                    Step::Conv {
                        weight: upload(to_f32(&weights.weight), [filters, channels, k, k], device),
                        bias: upload(to_f32(&requant.biased(weights)), [filters], device),
                        options: ConvOptions::new([s, s], [p, p], [1, 1], 1),
                        requant,
                    }
                }
                Part::Maxpool(window) => Step::Maxpool(MaxPoolOptions {
                    kernel_size: [window.size; 2],
                    stride: [window.stride; 2],
                    padding: [(0, 0); 2],
                    dilation: [1, 1],
                    ceil_mode: false,
                }),
                Part::Flatten => Step::Flatten,
            })
            .collect();
        Ok(Chain { steps, inputs })
    }

    /// Whether layer `i` only reinterprets its input's bytes (its output need not be read).
    pub(crate) fn is_view(&self, i: usize) -> bool {
        matches!(self.steps.get(i), Some(Step::Flatten))
    }

    /// Runs a batch and returns every layer's output, in order.
    pub(crate) fn forward(&self, input: Activation) -> Vec<Activation> {
        let mut outputs: Vec<Activation> = Vec::with_capacity(self.steps.len());
        for (step, &shape) in self.steps.iter().zip(&self.inputs) {
            let x = outputs.last().cloned().unwrap_or_else(|| input.clone());
            let y = match step {
                Step::Dense {
                    weight,
                    bias,
                    requant,
                } => {
                    let acc = x.into_flat().matmul(weight.clone()).add(bias.clone());
                    Activation::Flat(requantize(*requant, acc))
                }
                Step::Conv {
                    weight,
                    bias,
                    options,
                    requant,
                } => {
                    let acc = conv2d(
                        x.into_image(shape),
                        weight.clone(),
                        Some(bias.clone()),
                        options.clone(),
                    );
                    Activation::Image(requantize(*requant, acc))
                }
                Step::Maxpool(options) => {
                    Activation::Image(max_pool2d(x.into_image(shape), options.clone()))
                }
                Step::Flatten => Activation::Flat(x.into_flat()),
            };
            outputs.push(y);
        }
        outputs
    }
}
