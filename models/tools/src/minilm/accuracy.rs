//! How close the int8 model is to the float one: embeddings' cosine similarity, nearest-
//! neighbour agreement, and the relative error of every node along the graph.

use std::collections::BTreeMap;

use tavdun_core::graph::{forward, GraphEvalError, GraphModel, TokenInput, Trace};

use super::float::FloatBert;

/// The int8 model's embedding of one input, as reals (the output is in units of 2^-14).
pub fn int8_embedding(model: &GraphModel, input: &TokenInput) -> Result<Vec<f64>, GraphEvalError> {
    let trace = forward(model, input)?;
    Ok(embedding_of(&trace))
}

pub fn embedding_of(trace: &Trace) -> Vec<f64> {
    let scale = 2f64.powi(-(tavdun_core::graph::arith::L2_BITS as i32));
    trace
        .output()
        .values
        .iter()
        .map(|&v| f64::from(v) * scale)
        .collect()
}

pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// The index of the most similar other embedding (the first on a tie).
fn nearest(all: &[Vec<f64>], query: usize) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, e) in all.iter().enumerate() {
        if i == query {
            continue;
        }
        let s = cosine(&all[query], e);
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((i, s));
        }
    }
    best.map(|(i, _)| i)
}

/// The share of queries whose nearest neighbour among the other sentences is the same under
/// both sets of embeddings.
pub fn same_nearest_neighbour(ours: &[Vec<f64>], reference: &[Vec<f64>]) -> f64 {
    let same = (0..ours.len())
        .filter(|&q| nearest(ours, q) == nearest(reference, q))
        .count();
    same as f64 / ours.len().max(1) as f64
}

/// What the importer writes to `scales.json`: the real value of one unit of each node's
/// output, and the smoothing factors of the int8 norms.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Scales {
    pub scale: BTreeMap<String, f64>,
    pub smoothing: BTreeMap<String, Vec<f64>>,
}

/// Accumulates `||int * S - float||^2` and `||float||^2` per node over many inputs.
#[derive(Debug, Default)]
pub struct NodeErrors {
    sums: BTreeMap<String, (f64, f64)>,
}

impl NodeErrors {
    pub fn add(
        &mut self,
        model: &GraphModel,
        scales: &Scales,
        trace: &Trace,
        float: &FloatBert,
        input: &TokenInput,
    ) {
        let reference = float.forward(input);
        for (node, tensor) in model.spec.nodes.iter().zip(&trace.nodes) {
            let (Some(f), Some(&s)) = (reference.get(&node.name), scales.scale.get(&node.name))
            else {
                continue;
            };
            let factors = scales.smoothing.get(&node.name);
            let entry = self.sums.entry(node.name.clone()).or_default();
            for (i, (&q, &x)) in tensor.values.iter().zip(&f.values).enumerate() {
                let factor = factors.map_or(1.0, |f| f[i % f.len()]);
                let d = f64::from(q) * s * factor - f64::from(x);
                entry.0 += d * d;
                entry.1 += f64::from(x) * f64::from(x);
            }
        }
    }

    /// `(node, relative RMS error)` in node order of `model`.
    pub fn relative(&self, model: &GraphModel) -> Vec<(String, f64)> {
        model
            .spec
            .nodes
            .iter()
            .filter_map(|n| {
                let (e, r) = self.sums.get(&n.name)?;
                Some((n.name.clone(), (e / r.max(1e-30)).sqrt()))
            })
            .collect()
    }
}
