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
                    .map(|u| {
                        lw.row(u, fan_in)
                            .iter()
                            .zip(x)
                            .fold(i64::from(lw.bias[u]), |a, (&w, &v)| {
                                a + i64::from(w) * i64::from(v)
                            })
                    })
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
