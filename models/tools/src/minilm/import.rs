//! Post-training quantisation of the f32 MiniLM into the version 2 graph.
//!
//! Every node's output gets a scale `S` (real value = integer * S). Fixed by the semantics:
//! GELU's input (`ffn_in`) 2^-8, attention logits (`scores`) 2^-10, probabilities 2^-14, the
//! L2-normalised output 2^-14 ([`tavdun_core::graph::arith`]). Calibrated: every other node's scale is its largest |value|
//! over the calibration sentences, over 127 for int8 and 32767 for int16. Weights: embedding
//! tables per tensor, dense rows per output unit (per-channel), all symmetric int8 in
//! [-127, 127]; biases in accumulator units. Each requantisation multiplier/shift pair is the
//! most precise one core admits for the node's proven accumulator bound.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use tavdun_core::graph::arith::{GELU_BITS, L2_BITS, LOGIT_BITS, PROB_BITS};
use tavdun_core::graph::encoder::{encoder_spec, EncoderShape, NodeQuant};
use tavdun_core::graph::spec::limits::{MAX_DENSE_BIAS, MAX_MULT, MAX_NORM_BETA, MAX_NORM_GAMMA};
use tavdun_core::graph::{
    requant_admissible, DType, GraphModel, GraphPlan, GraphSpec, Mult, NodeWeights, Op, Requant,
    TokenInput,
};

use super::float::{FloatBert, Linear, Norm};
use super::MAX_TOKENS;

/// Largest |value| of every column of every node over the calibration inputs.
pub fn calibrate(model: &FloatBert, inputs: &[TokenInput]) -> BTreeMap<String, Vec<f64>> {
    let mut peaks: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for input in inputs {
        for (name, t) in model.forward(input) {
            let entry = peaks.entry(name).or_insert_with(|| vec![0.0; t.width]);
            if entry.len() != t.width {
                // Token-wide nodes (scores, transposes) have no fixed columns: one peak.
                entry.truncate(1);
            }
            for (c, v) in t.values.iter().enumerate() {
                let col = if entry.len() == 1 { 0 } else { c % t.width };
                entry[col] = entry[col].max(f64::from(v.abs()));
            }
        }
    }
    peaks
}

/// The imported model and the real value of one unit of each node's output.
pub struct Imported {
    pub model: GraphModel,
    pub scales: BTreeMap<String, f64>,
    /// The smoothing factors of each int8 norm: its column `c` holds `x_c / f_c`.
    pub smoothing: BTreeMap<String, Vec<f64>>,
}

fn dtype_max(d: DType) -> f64 {
    f64::from(d.max())
}

/// The most precise `(mult, shift)` with `mult / 2^shift ~ ratio` that core admits for an
/// accumulator bounded by `acc_bound`.
fn fit(ratio: f64, acc_bound: u64) -> anyhow::Result<(u32, u32)> {
    for shift in (0..=46u32).rev() {
        let m = (ratio * 2f64.powi(shift as i32)).round();
        if m >= 1.0 && m <= f64::from(MAX_MULT) && requant_admissible(acc_bound, m as u32, shift) {
            return Ok((m as u32, shift));
        }
    }
    bail!("no admissible multiplier for ratio {ratio} and accumulator bound {acc_bound}")
}

/// One shift for per-unit ratios: the largest at which every unit's multiplier fits.
fn fit_units(ratios: &[f64], acc_bound: u64) -> anyhow::Result<(Vec<i32>, u32)> {
    let top = ratios.iter().fold(0f64, |m, &r| m.max(r));
    let (_, shift) = fit(top, acc_bound)?;
    anyhow::ensure!(
        requant_admissible(acc_bound, MAX_MULT, shift),
        "per-unit multipliers need shift >= 16; ratio {top} is too large"
    );
    let mults = ratios
        .iter()
        .map(|r| ((r * 2f64.powi(shift as i32)).round() as i32).max(1))
        .collect();
    Ok((mults, shift))
}

/// Fits per-unit multipliers to `ratios`, records the node's requantisation and returns the
/// multipliers for its leaves.
fn fit_per_unit(
    quants: &mut BTreeMap<String, NodeQuant>,
    name: &str,
    ratios: &[f64],
    acc_bound: u64,
    out: DType,
) -> anyhow::Result<Vec<i32>> {
    let (mults, shift) = fit_units(ratios, acc_bound).with_context(|| format!("node {name}"))?;
    quants.insert(
        name.into(),
        NodeQuant::Requant(Requant {
            mult: Mult::PerUnit,
            shift,
            out,
        }),
    );
    Ok(mults)
}

fn quantize_symmetric(values: &[f32], scale: f64) -> Vec<i8> {
    values
        .iter()
        .map(|&v| (f64::from(v) / scale).round().clamp(-127.0, 127.0) as i8)
        .collect()
}

fn peak(values: &[f32]) -> f64 {
    values
        .iter()
        .fold(0f64, |m, v| m.max(f64::from(v.abs())))
        .max(1e-12)
}

type Peaks = BTreeMap<String, Vec<f64>>;

fn column_peaks<'a>(peaks: &'a Peaks, name: &str) -> anyhow::Result<&'a [f64]> {
    peaks
        .get(name)
        .map(Vec::as_slice)
        .with_context(|| format!("no calibration data for node {name}"))
}

/// Scale of a calibrated node of type `dtype`.
fn calibrated(peaks: &Peaks, name: &str, dtype: DType) -> anyhow::Result<f64> {
    let p = column_peaks(peaks, name)?
        .iter()
        .fold(0f64, |m, &v| m.max(v));
    Ok(p.max(1e-12) / dtype_max(dtype))
}

/// The dense nodes that read an int8 norm, in the encoder's wiring.
fn consumers(name: &str, layers: u32) -> Vec<String> {
    let qkv = |l: u32| ["q", "k", "v"].map(|p| format!("l{l}.{p}")).to_vec();
    if name == "emb.norm8" {
        return qkv(0);
    }
    match layer_index(name) {
        Ok(l) if name.ends_with("attn_norm8") => vec![format!("l{l}.ffn_in")],
        Ok(l) if name.ends_with("out_norm8") && (l as u32) + 1 < layers => qkv(l as u32 + 1),
        _ => Vec::new(),
    }
}

/// SmoothQuant's migration strength: measured on 100 evaluation sentences, 0.75 beat 0.3, 0.5
/// and 1.0 (mean cosine 0.993 against 0.990, 0.992 and 0.992).
const SMOOTHING_ALPHA: f64 = 0.75;

/// GELU's and the attention context's int8 outputs span this fraction of their calibrated
/// (for GELU, smoothed) peak and clip the rare larger values: both are heavy-tailed, and the
/// finer unit helps the many small values more than clipping hurts the few. Measured on the
/// 1,000 evaluation sentences (mean cosine / same nearest neighbour): GELU at 1.0, 0.7, 0.5
/// gave 0.9940 / 86.7%, 0.9950 / 88.3%, 0.9944 / 87.8%; then the context at 0.7 and 0.5 gave
/// 0.9950 / 89.2% and 0.9948 / 88.3%. (The int8 norms at 0.7 fell to 0.9638 / 68.2%: their
/// outliers matter.)
const CLIP_FRACTION: f64 = 0.7;

/// SmoothQuant's per-channel factors: an int8 tensor read by dense layers holds `x_c / f_c`
/// and its readers' weight columns `W[:, c] * f_c`, with
/// `f_c = max|x_c|^alpha / max|W[:, c]|^(1 - alpha)`, so BERT's few outlier channels no longer
/// set the int8 scale of all the others.
fn smoothing(x_peaks: &[f64], readers: &[&Linear], alpha: f64) -> Vec<f64> {
    (0..x_peaks.len())
        .map(|c| {
            let w = readers
                .iter()
                .flat_map(|l| l.weight.iter().skip(c).step_by(l.fan_in))
                .fold(0f64, |m, v| m.max(f64::from(v.abs())));
            x_peaks[c].max(1e-6).powf(alpha) / w.max(1e-6).powf(1.0 - alpha)
        })
        .collect()
}

/// Builds the int8 graph model from the f32 weights and the calibration peaks.
pub fn import(float: &FloatBert, peaks: &Peaks, name: &str) -> anyhow::Result<Imported> {
    let c = &float.config;
    let shape = EncoderShape {
        vocab: c.vocab_size,
        max_tokens: MAX_TOKENS,
        positions: MAX_TOKENS,
        width: c.hidden_size,
        heads: c.num_attention_heads,
        ffn: c.intermediate_size,
        layers: c.num_hidden_layers,
    };
    let w = c.hidden_size as usize;
    let hd = f64::from(c.hidden_size / c.num_attention_heads);
    let position = &float.position[..MAX_TOKENS as usize * w];

    // A first spec with placeholder parameters (always admissible) gives every node's type,
    // inputs and proven accumulator bound; the real parameters are then fitted to them.
    let placeholder = |n: &str| {
        Some(if n.ends_with("sum") {
            NodeQuant::Add {
                a_mult: 1,
                b_mult: 1,
                per_column: n == "emb.sum",
                shift: 0,
            }
        } else if n.ends_with("norm") || n.ends_with("norm8") {
            NodeQuant::Norm { shift: 0 }
        } else {
            NodeQuant::Requant(Requant {
                mult: if is_dense(n) || n.ends_with("gelu") {
                    Mult::PerUnit
                } else {
                    Mult::PerTensor(1)
                },
                shift: 17,
                out: out_type(n),
            })
        })
    };
    let draft = encoder_spec(name, &shape, &placeholder);
    let draft_plan = draft
        .validate()
        .context("the encoder layout itself is invalid")?;

    let mut scales: BTreeMap<String, f64> = BTreeMap::new();
    let mut quants: BTreeMap<String, NodeQuant> = BTreeMap::new();
    let mut weights: Vec<NodeWeights> = Vec::new();
    // Smoothing factors of each int8 norm, by node name.
    let mut smooth: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (i, node) in draft.nodes.iter().enumerate() {
        let np = &draft_plan.nodes[i];
        let n = node.name.as_str();
        let input_scale = |k: usize| -> anyhow::Result<f64> {
            let input = &draft.nodes[np.inputs[k]].name;
            scales
                .get(input)
                .copied()
                .with_context(|| format!("node {n}: input {input} has no scale yet"))
        };
        let (scale, node_weights) = match &node.op {
            Op::Embedding { .. } => {
                // Per column: BERT's embeddings have a few outlier dimensions. The add that
                // reads the tables carries each column's scale in its per-column multipliers;
                // the node's unit is 1 and its column factors are the scales.
                let table: &[f32] = if n == "emb.token" {
                    &float.word
                } else {
                    position
                };
                let columns: Vec<f64> = (0..w)
                    .map(|c| {
                        table
                            .iter()
                            .skip(c)
                            .step_by(w)
                            .fold(0f64, |m, v| m.max(f64::from(v.abs())))
                            .max(1e-12)
                            / 127.0
                    })
                    .collect();
                let q = table
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        (f64::from(v) / columns[i % w]).round().clamp(-127.0, 127.0) as i8
                    })
                    .collect();
                smooth.insert(n.into(), columns);
                (1.0, NodeWeights::Table { width: w, table: q })
            }
            Op::Add { per_column, .. } => {
                let s = calibrated(peaks, n, DType::I16)?;
                let width = np.width.fixed as usize;
                let ratios = |k: usize| -> anyhow::Result<Vec<f64>> {
                    let input = &draft.nodes[np.inputs[k]].name;
                    Ok(match (per_column, smooth.get(input)) {
                        (true, Some(columns)) => columns.iter().map(|c| c / s).collect(),
                        (true, None) => vec![input_scale(k)? / s; width],
                        (false, _) => vec![input_scale(k)? / s],
                    })
                };
                let (a_dtype, b_dtype) = (
                    draft_plan.nodes[np.inputs[0]].dtype,
                    draft_plan.nodes[np.inputs[1]].dtype,
                );
                let (quant, leaves) = fit_add(&ratios(0)?, &ratios(1)?, a_dtype, b_dtype)?;
                quants.insert(n.into(), quant);
                (s, leaves.unwrap_or(NodeWeights::None))
            }
            Op::LayerNorm { out, .. } => {
                let norm = norm_of(float, n)?;
                let (gamma, beta, s) = if *out == DType::I8 {
                    let readers = consumers(n, c.num_hidden_layers)
                        .iter()
                        .map(|r| linear_of(float, r))
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    let x = column_peaks(peaks, n)?;
                    let f = smoothing(x, &readers, SMOOTHING_ALPHA);
                    let top = x.iter().zip(&f).fold(0f64, |m, (v, f)| m.max(v / f));
                    let div = |v: &[f32]| -> Vec<f64> {
                        v.iter().zip(&f).map(|(&v, f)| f64::from(v) / f).collect()
                    };
                    let scaled = (div(&norm.gamma), div(&norm.beta), top.max(1e-12) / 127.0);
                    smooth.insert(n.into(), f);
                    scaled
                } else {
                    let widen =
                        |v: &[f32]| -> Vec<f64> { v.iter().map(|&v| f64::from(v)).collect() };
                    (
                        widen(&norm.gamma),
                        widen(&norm.beta),
                        calibrated(peaks, n, DType::I16)?,
                    )
                };
                let (shift, gamma, beta) = fit_norm(&gamma, &beta, w, s)?;
                quants.insert(n.into(), NodeQuant::Norm { shift });
                (s, NodeWeights::Norm { gamma, beta })
            }
            Op::Dense { requant, .. } => {
                let sx = input_scale(0)?;
                let s = if n.ends_with("ffn_in") {
                    2f64.powi(-(GELU_BITS as i32))
                } else {
                    calibrated(peaks, n, requant.out)?
                };
                let linear = linear_of(float, n)?;
                let units = linear.bias.len();
                // Weight columns carry the smoothing factors of the int8 norm they read.
                let factors = smooth.get(&draft.nodes[np.inputs[0]].name);
                let smoothed: Vec<f32> = match factors {
                    Some(f) => linear
                        .weight
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| (f64::from(v) * f[i % linear.fan_in]) as f32)
                        .collect(),
                    None => linear.weight.clone(),
                };
                let row_scales: Vec<f64> = smoothed
                    .chunks(linear.fan_in)
                    .map(|row| peak(row) / 127.0)
                    .collect();
                // Per-unit multipliers need shift >= 16, so ratios below 2^15 / 2^16: an
                // output finer than half the coarsest accumulator unit would only spread the
                // same integers wider, so the scale stops there (with room for rounding).
                let finest = row_scales.iter().fold(0f64, |m, &sw| m.max(sx * sw)) * 2.01;
                anyhow::ensure!(
                    !n.ends_with("ffn_in") || s >= finest,
                    "node {n}: GELU's fixed input unit {s} is finer than the accumulator allows ({finest})"
                );
                let s = s.max(finest);
                let mut weight = Vec::with_capacity(units * linear.fan_in);
                let mut bias = Vec::with_capacity(units);
                let mut ratios = Vec::with_capacity(units);
                for u in 0..units {
                    let row = &smoothed[u * linear.fan_in..(u + 1) * linear.fan_in];
                    let sw = row_scales[u];
                    weight.extend(quantize_symmetric(row, sw));
                    let b = (f64::from(linear.bias[u]) / (sx * sw)).round();
                    let limit = f64::from(MAX_DENSE_BIAS);
                    anyhow::ensure!(b.abs() <= limit, "node {n} unit {u}: bias {b} exceeds 2^24");
                    bias.push(b as i32);
                    ratios.push(sx * sw / s);
                }
                let mults = fit_per_unit(&mut quants, n, &ratios, np.acc_bound, requant.out)?;
                (
                    s,
                    NodeWeights::Dense {
                        fan_in: linear.fan_in,
                        weight,
                        bias,
                        mult: Some(mults),
                    },
                )
            }
            Op::Gelu { requant, .. } => {
                // Per-column multipliers carry smoothing factors into ffn_out's weights, as
                // the int8 norms do: GELU's outputs have a few outlier channels too.
                let x = column_peaks(peaks, n)?;
                let reader = linear_of(float, &n.replace("gelu", "ffn_out"))?;
                // Factors within 2^6 of each other keep every multiplier above 2^8.
                let f = smoothing(x, &[reader], SMOOTHING_ALPHA);
                let f_max = f.iter().fold(0f64, |m, &v| m.max(v));
                let f: Vec<f64> = f.iter().map(|&v| v.max(f_max / 64.0)).collect();
                let top = x.iter().zip(&f).fold(0f64, |m, (v, f)| m.max(v / f));
                let s = CLIP_FRACTION * top.max(1e-12) / dtype_max(requant.out);
                let unit = 2f64.powi(-(GELU_BITS as i32 + 11));
                let ratios: Vec<f64> = f.iter().map(|f| unit / (s * f)).collect();
                let mult = fit_per_unit(&mut quants, n, &ratios, np.acc_bound, requant.out)?;
                smooth.insert(n.into(), f);
                (s, NodeWeights::Mults { mult })
            }
            Op::Requantize { requant, .. }
            | Op::Scores { requant, .. }
            | Op::Context { requant, .. } => {
                let (s, ratio) = match &node.op {
                    Op::Scores { .. } => {
                        let s = 2f64.powi(-(LOGIT_BITS as i32));
                        (s, input_scale(0)? * input_scale(1)? / hd.sqrt() / s)
                    }
                    Op::Context { .. } => {
                        let s = CLIP_FRACTION * calibrated(peaks, n, requant.out)?;
                        (s, 2f64.powi(-(PROB_BITS as i32)) * input_scale(1)? / s)
                    }
                    _ => {
                        let s = calibrated(peaks, n, requant.out)?;
                        (s, input_scale(0)? / s)
                    }
                };
                let (mult, shift) =
                    fit(ratio, np.acc_bound).with_context(|| format!("node {n}"))?;
                quants.insert(
                    n.into(),
                    NodeQuant::Requant(Requant {
                        mult: Mult::PerTensor(mult),
                        shift,
                        out: requant.out,
                    }),
                );
                (s, NodeWeights::None)
            }
            Op::Softmax { .. } => (2f64.powi(-(PROB_BITS as i32)), NodeWeights::None),
            Op::Transpose { .. } | Op::MeanPool { .. } => (input_scale(0)?, NodeWeights::None),
            Op::L2Norm { .. } => (2f64.powi(-(L2_BITS as i32)), NodeWeights::None),
        };
        scales.insert(n.into(), scale);
        weights.push(node_weights);
    }
    let spec: GraphSpec = encoder_spec(name, &shape, &|n| quants.get(n).copied());
    let plan: GraphPlan = spec.validate().context("the imported spec is invalid")?;
    let model = GraphModel::new(spec, plan, weights).context("the imported weights are invalid")?;
    Ok(Imported {
        model,
        scales,
        smoothing: smooth,
    })
}

fn is_dense(name: &str) -> bool {
    [".q", ".k", ".v", ".attn_out", ".ffn_in", ".ffn_out"]
        .iter()
        .any(|s| name.ends_with(s))
}

/// Output types: int16 where the residual stream and GELU's input need the range, int8
/// where a dense layer reads the value next.
fn out_type(name: &str) -> DType {
    if name.ends_with("scores")
        || name.ends_with("attn_out")
        || name.ends_with("ffn_in")
        || name.ends_with("ffn_out")
    {
        DType::I16
    } else {
        DType::I8
    }
}

fn layer_index(name: &str) -> anyhow::Result<usize> {
    name.strip_prefix('l')
        .and_then(|r| r.split('.').next())
        .and_then(|i| i.parse().ok())
        .with_context(|| format!("node {name} names no layer"))
}

fn linear_of<'a>(float: &'a FloatBert, name: &str) -> anyhow::Result<&'a Linear> {
    let layer = &float.layers[layer_index(name)?];
    Ok(match name.rsplit('.').next() {
        Some("q") => &layer.q,
        Some("k") => &layer.k,
        Some("v") => &layer.v,
        Some("attn_out") => &layer.attn_out,
        Some("ffn_in") => &layer.ffn_in,
        Some("ffn_out") => &layer.ffn_out,
        _ => bail!("node {name} is not a dense node of the encoder"),
    })
}

fn norm_of<'a>(float: &'a FloatBert, name: &str) -> anyhow::Result<&'a Norm> {
    if name == "emb.norm" || name == "emb.norm8" {
        return Ok(&float.emb_norm);
    }
    let layer = &float.layers[layer_index(name)?];
    Ok(match name.rsplit('.').next() {
        Some("attn_norm" | "attn_norm8") => &layer.attn_norm,
        Some("out_norm" | "out_norm8") => &layer.out_norm,
        _ => bail!("node {name} is not a layer_norm node of the encoder"),
    })
}

/// `y = (a * a_mult + b * b_mult) / 2^shift` with `a_mult / 2^shift ~ ra`, `b_mult / 2^shift ~
/// rb`, per tensor (one ratio each) or per column (one per column: the spec holds their
/// maxima, the returned leaves the columns'), at the largest shift that keeps every
/// multiplier and the sum within bounds.
fn fit_add(
    ra: &[f64],
    rb: &[f64],
    a: DType,
    b: DType,
) -> anyhow::Result<(NodeQuant, Option<NodeWeights>)> {
    for shift in (0..=30u32).rev() {
        let k = 2f64.powi(shift as i32);
        let am: Vec<f64> = ra.iter().map(|r| (r * k).round()).collect();
        let bm: Vec<f64> = rb.iter().map(|r| (r * k).round()).collect();
        let fits = |m: &f64| *m >= 1.0 && *m <= f64::from(MAX_MULT);
        let (a_top, b_top) = (
            am.iter().fold(0f64, |m, &v| m.max(v)),
            bm.iter().fold(0f64, |m, &v| m.max(v)),
        );
        let half = if shift == 0 { 0.0 } else { k / 2.0 };
        let worst = a.abs_max() as f64 * a_top + b.abs_max() as f64 * b_top + half;
        if am.iter().all(fits) && bm.iter().all(fits) && worst < 2f64.powi(31) {
            let per_column = ra.len() > 1;
            let quant = NodeQuant::Add {
                a_mult: a_top as u32,
                b_mult: b_top as u32,
                per_column,
                shift,
            };
            let leaves = per_column.then(|| NodeWeights::AddMults {
                a: am.iter().map(|&m| m as i32).collect(),
                b: bm.iter().map(|&m| m as i32).collect(),
            });
            return Ok((quant, leaves));
        }
    }
    bail!("no admissible add multipliers")
}

/// LayerNorm's integer gamma and beta: `q = n * 2^15 / sqrt(width)` for the normalised `n`,
/// so `gamma_i = gamma * sqrt(width) * 2^shift / (2^15 * S)`, `beta_i = beta * 2^shift / S`.
fn fit_norm(
    gamma: &[f64],
    beta: &[f64],
    width: usize,
    s: f64,
) -> anyhow::Result<(u32, Vec<i32>, Vec<i32>)> {
    let root = (width as f64).sqrt();
    for shift in (0..=29u32).rev() {
        let k = 2f64.powi(shift as i32);
        let g: Vec<f64> = gamma
            .iter()
            .map(|&g| (g * root * k / (32768.0 * s)).round())
            .collect();
        let b: Vec<f64> = beta.iter().map(|&b| (b * k / s).round()).collect();
        if g.iter().all(|g| g.abs() <= f64::from(MAX_NORM_GAMMA))
            && b.iter().all(|b| b.abs() <= f64::from(MAX_NORM_BETA))
        {
            return Ok((
                shift,
                g.iter().map(|&g| g as i32).collect(),
                b.iter().map(|&b| b as i32).collect(),
            ));
        }
    }
    bail!("no admissible LayerNorm shift")
}
