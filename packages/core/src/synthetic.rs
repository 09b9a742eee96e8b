//! Seeded synthetic models and inputs for benchmarks, gas measurements and tests.
//!
//! Everything here is integer-only and reproducible from the seed on every platform.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::ModelError;
use crate::graph::encoder::{encoder_spec, EncoderShape, NodeQuant};
use crate::graph::{
    DType, GraphModel, GraphModelError, GraphPlan, Mult, NodeWeights, Op, Requant, TokenInput,
};
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

/// A requantisation by about `2^log2_ratio`: a multiplier in `[2^13, 2^14)` (`mult` picks it
/// when per-tensor) and the shift that goes with it, never below 16 so that per-unit
/// multipliers are admissible; ratios too large for that take a smaller multiplier instead.
fn ratio_requant(rng: &mut Rng, log2_ratio: i32, out: DType, per_unit: bool) -> (Requant, u32) {
    let base = 13 - log2_ratio;
    let (shift, scale_down) = if base < 16 {
        (16, (16 - base) as u32)
    } else {
        (base as u32, 0)
    };
    let mult = (rng.range(1 << 13, (1 << 14) - 1) as u32 >> scale_down).max(1);
    let requant = Requant {
        mult: if per_unit {
            Mult::PerUnit
        } else {
            Mult::PerTensor(mult)
        },
        shift,
        out,
    };
    (requant, scale_down)
}

/// Each parameterised node's parameters and, for dense nodes, how far its per-unit
/// multipliers are scaled down.
type Params = BTreeMap<String, (NodeQuant, u32)>;

fn put(p: &mut Params, rng: &mut Rng, name: String, log2_ratio: i32, out: DType, per_unit: bool) {
    let (rq, down) = ratio_requant(rng, log2_ratio, out, per_unit);
    p.insert(name, (NodeQuant::Requant(rq), down));
}

/// Either encoder variant of an int8 norm: a requantised copy of the int16 norm, or a
/// LayerNorm of its own straight to int8.
fn int8_norm(p: &mut Params, rng: &mut Rng, name: String) {
    if rng.range(0, 1) == 0 {
        let (rq, _) = ratio_requant(rng, -6, DType::I8, false);
        p.insert(name, (NodeQuant::Requant(rq), 0));
    } else {
        p.insert(name, (NodeQuant::Norm { shift: 21 }, 0));
    }
}

fn half_bits(n: u32) -> i32 {
    ((u32::BITS - n.leading_zeros()) / 2) as i32
}

/// A seeded random encoder ([`crate::graph::encoder`]) that uses every version 2 op, small
/// enough for property tests: a few tokens, heads and layers. Scales are picked so values
/// spread over their types rather than collapsing to zero or saturating.
pub fn random_encoder(seed: u64) -> Result<GraphModel, GraphModelError> {
    let mut rng = Rng::new(seed);
    let heads = rng.range(1, 3) as u32;
    let head_dim = rng.range(1, 5) as u32;
    let max_tokens = rng.range(2, 9) as u32;
    let shape = EncoderShape {
        vocab: rng.range(3, 40) as u32,
        max_tokens,
        positions: max_tokens + rng.range(0, 2) as u32,
        width: heads * head_dim,
        heads,
        ffn: rng.range(1, 16) as u32,
        layers: rng.range(1, 2) as u32,
    };
    let w = shape.width;
    let mut params: Params = BTreeMap::new();
    int8_norm(&mut params, &mut rng, "emb.norm8".into());
    for l in 0..shape.layers {
        let p = &mut params;
        for part in ["q", "k", "v"] {
            let name = format!("l{l}.{part}");
            put(p, &mut rng, name, -(6 + half_bits(w)), DType::I8, true);
        }
        put(
            p,
            &mut rng,
            format!("l{l}.scores"),
            -half_bits(head_dim),
            DType::I16,
            false,
        );
        put(p, &mut rng, format!("l{l}.context"), -14, DType::I8, false);
        put(
            p,
            &mut rng,
            format!("l{l}.attn_out"),
            -half_bits(w),
            DType::I16,
            true,
        );
        int8_norm(p, &mut rng, format!("l{l}.attn_norm8"));
        put(
            p,
            &mut rng,
            format!("l{l}.ffn_in"),
            -(3 + half_bits(w)),
            DType::I16,
            true,
        );
        let per_column = rng.range(0, 1) == 1;
        put(
            p,
            &mut rng,
            format!("l{l}.gelu"),
            -13,
            DType::I8,
            per_column,
        );
        put(
            p,
            &mut rng,
            format!("l{l}.ffn_out"),
            -half_bits(shape.ffn),
            DType::I16,
            true,
        );
        int8_norm(p, &mut rng, format!("l{l}.out_norm8"));
    }
    let quant = |name: &str| -> Option<NodeQuant> {
        if let Some((q, _)) = params.get(name) {
            return Some(*q);
        }
        if name.ends_with("sum") {
            let (a_mult, b_mult, shift) = if name == "emb.sum" {
                (1 << 12, 3 << 11, 6)
            } else {
                (1 << 13, 3 << 12, 14)
            };
            return Some(NodeQuant::Add {
                a_mult,
                b_mult,
                // The embeddings' sum may take per-column multipliers (at most the above).
                per_column: name == "emb.sum" && seed.is_multiple_of(2),
                shift,
            });
        }
        name.ends_with("norm")
            .then_some(NodeQuant::Norm { shift: 15 })
    };
    let spec = encoder_spec("random-encoder", &shape, &quant);
    let plan = spec.validate()?;
    let weights = spec
        .nodes
        .iter()
        .zip(&plan.nodes)
        .map(|(node, np)| {
            let units = np.leaves as usize;
            match &node.op {
                Op::Embedding { width, .. } => NodeWeights::Table {
                    width: *width as usize,
                    table: (0..units * *width as usize)
                        .map(|_| rng.range(-127, 127) as i8)
                        .collect(),
                },
                Op::Dense { .. } => {
                    let fan_in = plan.nodes[np.inputs[0]].width.fixed as usize;
                    let down = params.get(&node.name).map_or(0, |p| p.1);
                    NodeWeights::Dense {
                        fan_in,
                        weight: (0..units * fan_in)
                            .map(|_| rng.range(-127, 127) as i8)
                            .collect(),
                        bias: (0..units).map(|_| rng.range(-4096, 4096) as i32).collect(),
                        mult: Some(
                            (0..units)
                                .map(|_| (rng.range(1 << 13, (1 << 14) - 1) as i32 >> down).max(1))
                                .collect(),
                        ),
                    }
                }
                Op::Gelu { .. } if units > 0 => {
                    let down = params.get(&node.name).map_or(0, |p| p.1);
                    NodeWeights::Mults {
                        mult: (0..units)
                            .map(|_| (rng.range(1 << 13, (1 << 14) - 1) as i32 >> down).max(1))
                            .collect(),
                    }
                }
                Op::Add { a_mult, b_mult, .. } if units > 0 => NodeWeights::AddMults {
                    a: (0..units)
                        .map(|_| rng.range(1, (*a_mult).into()) as i32)
                        .collect(),
                    b: (0..units)
                        .map(|_| rng.range(1, (*b_mult).into()) as i32)
                        .collect(),
                },
                Op::LayerNorm { .. } => NodeWeights::Norm {
                    gamma: (0..units)
                        .map(|_| rng.range(-(1 << 14), 1 << 14) as i32)
                        .collect(),
                    beta: (0..units)
                        .map(|_| rng.range(-(1 << 24), 1 << 24) as i32)
                        .collect(),
                },
                _ => NodeWeights::None,
            }
        })
        .collect();
    Ok(GraphModel::new(spec, plan, weights)?)
}

/// A seeded job input for a graph model: 1 to `max_tokens` random ids, a mask of mostly ones
/// (sometimes padding, rarely nothing kept at all).
pub fn random_token_input(plan: &GraphPlan, seed: u64) -> TokenInput {
    let mut rng = Rng::new(seed ^ 0x0070_c3e5);
    let n = rng.range(1, plan.max_tokens.into()) as usize;
    let ids = (0..n)
        .map(|_| rng.range(0, i64::from(plan.vocab) - 1) as u32)
        .collect();
    let none_kept = rng.range(0, 15) == 0;
    let mask = (0..n)
        .map(|_| u8::from(!none_kept && rng.range(0, 4) > 0))
        .collect();
    TokenInput { ids, mask }
}
