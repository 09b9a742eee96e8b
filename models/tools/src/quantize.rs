//! Post-training quantisation of a float network to the Tavdun spec.
//!
//! The spec gives each layer one power-of-two shift, so every tensor gets a power-of-two
//! scale: activations `a = q_a * 2^-e_a`, weights `w = q_w * 2^-e_w`. A layer's accumulator
//! is then in units of `2^-(e_a + e_w)` (the bias is stored in those units), and its shift
//! `s` sets the output exponent `e_out = e_a + e_w - s`.
//!
//! Weights take the largest exponent that keeps every |q_w| <= 127. Shifts are calibrated on
//! integer activations, layer by layer, with core's own executor: a layer gets the smallest
//! shift at which few of its outputs on the calibration images saturate. Calibrating on the
//! integer outputs of the layers already quantised (rather than on float activations) lets
//! each layer absorb the rounding of the ones before it.

use anyhow::{bail, Context};
use tavdun_core::spec::limits::MAX_SHIFT;
use tavdun_core::{
    forward, InputQuant, InputSpec, Layer, LayerWeights, Model, ModelSpec, SPEC_VERSION,
};

/// A trained float layer, with weights in the layouts `weights.safetensors` uses:
/// `[filters, channels, k, k]` for conv2d, `[units, fan_in]` for dense.
#[derive(Debug, Clone)]
pub enum FloatLayer {
    Conv2d {
        kernel: u32,
        stride: u32,
        padding: u32,
        relu: bool,
        weight: Vec<f32>,
        bias: Vec<f32>,
    },
    Maxpool2d {
        size: u32,
        stride: u32,
    },
    Flatten,
    Dense {
        relu: bool,
        weight: Vec<f32>,
        bias: Vec<f32>,
    },
}

/// A weighted layer's float weights and bias.
type Params<'a> = (&'a [f32], &'a [f32]);

impl FloatLayer {
    /// The spec layer this float layer becomes with the given shift.
    fn spec_layer(&self, shift: u32) -> Layer {
        match self {
            FloatLayer::Conv2d {
                kernel,
                stride,
                padding,
                relu,
                bias,
                ..
            } => Layer::Conv2d {
                filters: bias.len() as u32,
                kernel: *kernel,
                stride: *stride,
                padding: *padding,
                shift,
                relu: *relu,
            },
            FloatLayer::Maxpool2d { size, stride } => Layer::Maxpool2d {
                size: *size,
                stride: *stride,
            },
            FloatLayer::Flatten => Layer::Flatten,
            FloatLayer::Dense { relu, bias, .. } => Layer::Dense {
                units: bias.len() as u32,
                shift,
                relu: *relu,
            },
        }
    }

    /// Weights and bias, for the layers that have them.
    fn params(&self) -> Option<Params<'_>> {
        match self {
            FloatLayer::Conv2d { weight, bias, .. } | FloatLayer::Dense { weight, bias, .. } => {
                Some((weight, bias))
            }
            FloatLayer::Maxpool2d { .. } | FloatLayer::Flatten => None,
        }
    }

    fn relu(&self) -> bool {
        matches!(
            self,
            FloatLayer::Conv2d { relu: true, .. } | FloatLayer::Dense { relu: true, .. }
        )
    }
}

/// What the quantiser needs besides the layers.
pub struct Target<'a> {
    pub name: &'a str,
    pub input_shape: Vec<u32>,
    pub input_quant: InputQuant,
    /// The int8 input stands for `q * 2^-input_exp` in the float model's units.
    pub input_exp: i32,
    /// Int8 inputs (from the training set) that shifts are calibrated on.
    pub calibration: &'a [Vec<i8>],
}

/// At most this share of a hidden layer's outputs may saturate at 127: a rare clipped
/// outlier costs less than halving the resolution of every other value.
const HIDDEN_SATURATION: f64 = 1e-3;
/// The output layer's values are compared with each other (argmax), so none may saturate:
/// two clipped logits would tie.
const OUTPUT_SATURATION: f64 = 0.0;

/// Quantises `layers` to a valid int8 model.
pub fn quantize(target: &Target, layers: &[FloatLayer]) -> anyhow::Result<Model> {
    let last_weighted = layers
        .iter()
        .rposition(|l| l.params().is_some())
        .context("the network has no weighted layer")?;
    let mut spec_layers = Vec::with_capacity(layers.len());
    let mut weights = Vec::with_capacity(layers.len());
    // Calibration state: the int8 outputs of the last weighted layer, their shape and
    // exponent, and the unweighted layers that have come since.
    let mut acts: Vec<Vec<i8>> = target.calibration.to_vec();
    let mut shape = target.input_shape.clone();
    let mut exp = target.input_exp;
    let mut pending: Vec<Layer> = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let Some((w, b)) = layer.params() else {
            pending.push(layer.spec_layer(0));
            spec_layers.push(layer.spec_layer(0));
            weights.push(None);
            continue;
        };
        let w_exp = weight_exponent(w);
        let acc_exp = exp + w_exp;
        let lw = LayerWeights {
            weight: w.iter().map(|&v| scale_round(v, w_exp) as i8).collect(),
            bias: b
                .iter()
                .map(|&v| {
                    i32::try_from(scale_round(v, acc_exp))
                        .with_context(|| format!("layer {i}: bias {v} overflows int32"))
                })
                .collect::<anyhow::Result<_>>()?,
        };
        let budget = if i == last_weighted {
            OUTPUT_SATURATION
        } else {
            HIDDEN_SATURATION
        };
        let calibrated = calibrate_shift(layer, &lw, &shape, &pending, &acts, budget)
            .with_context(|| format!("calibrating layer {i}"))?;
        spec_layers.push(layer.spec_layer(calibrated.shift));
        weights.push(Some(lw));
        acts = calibrated.outputs;
        shape = calibrated.shape;
        exp = acc_exp - calibrated.shift as i32;
        pending.clear();
    }
    let spec = ModelSpec {
        version: SPEC_VERSION,
        name: target.name.into(),
        input: InputSpec {
            shape: target.input_shape.clone(),
            quant: target.input_quant.clone(),
        },
        layers: spec_layers,
    };
    let plan = spec.validate()?;
    Ok(Model::new(spec, plan, weights)?)
}

/// The largest `e` with `max|w| * 2^e <= 127`, so that rounded weights stay in [-127, 127].
fn weight_exponent(w: &[f32]) -> i32 {
    let peak = w.iter().fold(0f64, |m, &v| m.max(f64::from(v).abs()));
    if peak == 0.0 {
        return 0;
    }
    (127.0 / peak).log2().floor() as i32
}

/// `round(v * 2^exp)`, half away from zero.
fn scale_round(v: f32, exp: i32) -> i64 {
    (f64::from(v) * 2f64.powi(exp)).round() as i64
}

/// A layer's calibrated shift, and its int8 outputs on the calibration inputs and their shape,
/// which the next weighted layer is calibrated on.
struct Calibrated {
    shift: u32,
    outputs: Vec<Vec<i8>>,
    shape: Vec<u32>,
}

/// The smallest shift at which at most `budget` of the layer's outputs on `acts` saturate. Runs the `pending` unweighted layers and this layer as
/// one small model through core's executor, so calibration sees exactly what nodes compute.
fn calibrate_shift(
    layer: &FloatLayer,
    lw: &LayerWeights,
    shape: &[u32],
    pending: &[Layer],
    acts: &[Vec<i8>],
    budget: f64,
) -> anyhow::Result<Calibrated> {
    for shift in 0..=MAX_SHIFT {
        let mut layers = pending.to_vec();
        layers.push(layer.spec_layer(shift));
        let weights = std::iter::repeat_n(None, pending.len())
            .chain([Some(lw.clone())])
            .collect();
        let spec = ModelSpec {
            version: SPEC_VERSION,
            name: "calibration".into(),
            input: InputSpec {
                shape: shape.to_vec(),
                quant: InputQuant {
                    scale: "1".into(),
                    zero_point: 0,
                },
            },
            layers,
        };
        let plan = spec.validate()?;
        let out_shape = plan.output().dims();
        let model = Model::new(spec, plan, weights)?;
        let outs = acts
            .iter()
            .map(|x| {
                let mut all = forward(&model, x)?;
                Ok(all.pop().unwrap_or_default())
            })
            .collect::<anyhow::Result<Vec<Vec<i8>>>>()?;
        let total: usize = outs.iter().map(Vec::len).sum();
        let saturated = outs
            .iter()
            .flatten()
            .filter(|&&y| y == 127 || (!layer.relu() && y == -128))
            .count();
        if saturated as f64 <= budget * total as f64 {
            return Ok(Calibrated {
                shift,
                outputs: outs,
                shape: out_shape,
            });
        }
    }
    bail!("no shift up to {MAX_SHIFT} keeps the outputs in int8")
}
