//! Seeded synthetic models and inputs for benchmarks, gas measurements and tests.
//!
//! Everything here is integer-only and reproducible from the seed on every platform.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::ModelError;
use crate::spec::{InputQuant, InputSpec, Layer, ModelSpec, SPEC_VERSION};
use crate::weights::{LayerWeights, Model};

/// splitmix64: tiny, seedable and identical everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi - lo + 1) as u64;
        lo + (self.next_u64() % span) as i64
    }

    pub fn int8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.range(-128, 127) as i8).collect()
    }
}

/// A seeded random int8 input of `len` bytes.
pub fn input(len: usize, seed: u64) -> Vec<i8> {
    Rng::new(seed ^ 0x1badf00d).int8s(len)
}

/// A multi-layer perceptron `dims[0] -> dims[1] -> ... -> dims[n]` with ReLU on hidden layers,
/// random symmetric int8 weights and small biases. Each layer's shift is the smallest that
/// keeps the outputs of a few seeded inputs inside int8 without clipping, so activations
/// use the whole int8 range instead of collapsing to zero or saturating.
pub fn mlp(name: &str, dims: &[u32], seed: u64) -> Result<Model, ModelError> {
    let mut rng = Rng::new(seed);
    let layer_count = dims.len().saturating_sub(1);
    let mut layers: Vec<Layer> = (0..layer_count)
        .map(|i| Layer::Dense {
            units: dims[i + 1],
            shift: 0,
            relu: i + 1 < layer_count,
        })
        .collect();
    let spec = |layers: Vec<Layer>| ModelSpec {
        version: SPEC_VERSION,
        name: String::from(name),
        input: InputSpec {
            shape: dims.first().map(|&d| alloc::vec![d]).unwrap_or_default(),
            quant: InputQuant {
                scale: String::from("0.0078125"),
                zero_point: 0,
            },
        },
        layers,
    };
    let samples: Vec<Vec<i8>> = (0..8)
        .map(|s| input(dims[0] as usize, seed.wrapping_add(s)))
        .collect();
    let mut acts = samples;
    let mut weights = Vec::with_capacity(layer_count);
    for i in 0..layer_count {
        let (fan_in, units) = (dims[i] as usize, dims[i + 1] as usize);
        let weight: Vec<i8> = (0..fan_in * units)
            .map(|_| rng.range(-127, 127) as i8)
            .collect();
        let bias: Vec<i32> = (0..units).map(|_| rng.range(-4096, 4096) as i32).collect();
        let lw = LayerWeights { weight, bias };
        let accs: Vec<Vec<i64>> = acts
            .iter()
            .map(|x| {
                (0..units)
                    .map(|u| crate::exec::dense_acc(lw.row(u, fan_in), lw.bias[u], x))
                    .collect()
            })
            .collect();
        let peak = accs
            .iter()
            .flatten()
            .map(|a| a.unsigned_abs())
            .max()
            .unwrap_or(0);
        let mut shift = 0;
        while (peak >> shift) > 127 {
            shift += 1;
        }
        if let Layer::Dense { shift: s, .. } = &mut layers[i] {
            *s = shift;
        }
        let relu = i + 1 < layer_count;
        acts = accs
            .iter()
            .map(|a| {
                a.iter()
                    .map(|&v| crate::exec::requantize(v, shift, relu))
                    .collect()
            })
            .collect();
        weights.push(Some(lw));
    }
    let spec = spec(layers);
    let plan = spec.validate()?;
    Ok(Model::new(spec, plan, weights)?)
}

/// A seeded random valid model that uses every layer kind the format has: for image inputs
/// some conv2d and max-pool layers, then flatten; then one to three dense layers. Small
/// enough to run thousands of times in property tests.
pub fn random_model(seed: u64) -> Result<Model, ModelError> {
    let mut rng = Rng::new(seed);
    let image = rng.range(0, 3) > 0;
    let input_shape = if image {
        alloc::vec![
            rng.range(1, 3) as u32,
            rng.range(3, 9) as u32,
            rng.range(3, 9) as u32
        ]
    } else {
        alloc::vec![rng.range(1, 48) as u32]
    };
    let mut layers = Vec::new();
    if image {
        let (mut h, mut w) = (input_shape[1], input_shape[2]);
        for _ in 0..rng.range(0, 3) {
            if rng.range(0, 2) > 0 {
                let kernel = rng.range(1, 3.min(h.min(w)) as i64) as u32;
                let padding = rng.range(0, kernel as i64 - 1) as u32;
                let stride = rng.range(1, 2) as u32;
                h = (h + 2 * padding - kernel) / stride + 1;
                w = (w + 2 * padding - kernel) / stride + 1;
                layers.push(Layer::Conv2d {
                    filters: rng.range(1, 4) as u32,
                    kernel,
                    stride,
                    padding,
                    shift: rng.range(0, 9) as u32,
                    relu: rng.range(0, 1) > 0,
                });
            } else if h.min(w) >= 2 {
                let size = rng.range(1, 2) as u32;
                let stride = rng.range(1, 2) as u32;
                h = (h - size) / stride + 1;
                w = (w - size) / stride + 1;
                layers.push(Layer::Maxpool2d { size, stride });
            }
        }
        layers.push(Layer::Flatten);
    }
    for _ in 0..rng.range(1, 3) {
        layers.push(Layer::Dense {
            units: rng.range(1, 24) as u32,
            shift: rng.range(0, 12) as u32,
            relu: rng.range(0, 1) > 0,
        });
    }
    let spec = ModelSpec {
        version: SPEC_VERSION,
        name: String::from("random"),
        input: InputSpec {
            shape: input_shape,
            quant: InputQuant {
                scale: String::from("1"),
                zero_point: 0,
            },
        },
        layers,
    };
    let plan = spec.validate()?;
    let weights = plan
        .layers
        .iter()
        .map(|lp| {
            (lp.leaves > 0).then(|| {
                let n = lp.leaves as usize * lp.fan_in as usize;
                let bound = lp.max_bias.min(1 << 16) as i64;
                LayerWeights {
                    weight: (0..n).map(|_| rng.range(-127, 127) as i8).collect(),
                    bias: (0..lp.leaves)
                        .map(|_| rng.range(-bound, bound) as i32)
                        .collect(),
                }
            })
        })
        .collect();
    Ok(Model::new(spec, plan, weights)?)
}
