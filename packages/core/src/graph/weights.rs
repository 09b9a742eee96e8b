//! A graph model's weights, checked against its spec, its Merkle leaves, and its
//! `weights.safetensors` layout: for node `N`, `N.table` (int8 `[rows, width]`, embeddings),
//! `N.weight` (int8 `[units, fan_in]`), `N.bias` and `N.mult` (int32 `[units]`, dense; `mult`
//! only with per-unit multipliers), `N.gamma` and `N.beta` (int32 `[width]`, layer_norm).

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{GraphEvalError, GraphWeightsError};
use super::plan::GraphPlan;
use super::spec::{limits::*, GraphSpec, Mult, Op};
use crate::commit::{model_id_of, Hash, MerkleTree};

const LEAF_TAG: &[u8] = b"tavdun/leaf/v2";

/// One node's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeWeights {
    None,
    /// Row-major `[rows, width]`.
    Table {
        width: usize,
        table: Vec<i8>,
    },
    /// Row `u` of `weight` (`fan_in` values) is unit `u`; `mult` only for per-unit scales.
    Dense {
        fan_in: usize,
        weight: Vec<i8>,
        bias: Vec<i32>,
        mult: Option<Vec<i32>>,
    },
    Norm {
        gamma: Vec<i32>,
        beta: Vec<i32>,
    },
    /// Per-column multipliers of a gelu node.
    Mults {
        mult: Vec<i32>,
    },
    /// Per-column multipliers of an add node.
    AddMults {
        a: Vec<i32>,
        b: Vec<i32>,
    },
}

/// One leaf of a graph model's weights tree: unit `unit` of node `node`. Embeddings: the table
/// row in `weights`; dense: the unit's weight row in `weights` and `[bias]` or `[bias, mult]`
/// in `params`; layer_norm: `[gamma, beta]` of column `unit` in `params`; gelu with per-unit
/// multipliers: `[mult]` of column `unit`; add with per-column multipliers: `[a_mult,
/// b_mult]` of column `unit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WeightLeaf {
    pub node: u32,
    pub unit: u32,
    pub weights: Vec<i8>,
    pub params: Vec<i32>,
}

impl WeightLeaf {
    /// `sha256("tavdun/leaf/v2" || u32be(node) || u32be(unit) || u32be(len) || weights ||
    /// u32be(len) || params as i32be)`.
    pub fn hash(&self) -> Hash {
        let mut h = Sha256::new();
        h.update(LEAF_TAG);
        h.update(self.node.to_be_bytes());
        h.update(self.unit.to_be_bytes());
        h.update((self.weights.len() as u32).to_be_bytes());
        let raw: Vec<u8> = self.weights.iter().map(|&w| w as u8).collect();
        h.update(&raw);
        h.update((self.params.len() as u32).to_be_bytes());
        for p in &self.params {
            h.update(p.to_be_bytes());
        }
        h.finalize().into()
    }
}

/// A graph spec with weights that fit it: what the reference executor runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphModel {
    pub spec: GraphSpec,
    pub plan: GraphPlan,
    pub weights: Vec<NodeWeights>,
}

/// The admissible range of each leaf parameter: the bounds validation assumed.
pub(crate) fn check_params(op: &Op, params: &[i32]) -> bool {
    let within = |v: i32, lo: i64, hi: i64| (lo..=hi).contains(&i64::from(v));
    let bias = i64::from(MAX_DENSE_BIAS);
    match (op, params) {
        (Op::Embedding { .. }, []) => true,
        (
            Op::Dense {
                requant:
                    super::spec::Requant {
                        mult: Mult::PerTensor(_),
                        ..
                    },
                ..
            },
            [b],
        ) => within(*b, -bias, bias),
        (
            Op::Dense {
                requant:
                    super::spec::Requant {
                        mult: Mult::PerUnit,
                        ..
                    },
                ..
            },
            [b, m],
        ) => within(*b, -bias, bias) && within(*m, 1, MAX_MULT.into()),
        (Op::Gelu { .. }, [m]) => within(*m, 1, MAX_MULT.into()),
        (
            Op::Add {
                a_mult,
                b_mult,
                per_column: true,
                ..
            },
            [a, b],
        ) => within(*a, 1, (*a_mult).into()) && within(*b, 1, (*b_mult).into()),
        (Op::LayerNorm { .. }, [g, b]) => {
            within(*g, -i64::from(MAX_NORM_GAMMA), MAX_NORM_GAMMA.into())
                && within(*b, -i64::from(MAX_NORM_BETA), MAX_NORM_BETA.into())
        }
        _ => false,
    }
}

impl GraphModel {
    /// Checks that every node has weights of its op's kind and shape, and every value within
    /// the bounds validation assumed (weights in [-127, 127], biases, multipliers, gammas
    /// and betas in their ranges).
    pub fn new(
        spec: GraphSpec,
        plan: GraphPlan,
        weights: Vec<NodeWeights>,
    ) -> Result<GraphModel, GraphWeightsError> {
        if weights.len() != plan.nodes.len() {
            return Err(GraphWeightsError::NodeCount {
                found: weights.len(),
                expected: plan.nodes.len(),
            });
        }
        let model = GraphModel {
            spec,
            plan,
            weights,
        };
        for (i, node) in model.spec.nodes.iter().enumerate() {
            model.check_node(i, &node.op)?;
        }
        Ok(model)
    }

    fn check_node(&self, i: usize, op: &Op) -> Result<(), GraphWeightsError> {
        let np = &self.plan.nodes[i];
        let name = &self.spec.nodes[i].name;
        let kind = || GraphWeightsError::Kind { node: name.clone() };
        let units = np.leaves as usize;
        let fits = match (op, &self.weights[i]) {
            (Op::Embedding { width, .. }, NodeWeights::Table { width: w, table }) => {
                *w == *width as usize && table.len() == units * *w
            }
            (
                Op::Dense { requant, .. },
                NodeWeights::Dense {
                    fan_in,
                    weight,
                    bias,
                    mult,
                },
            ) => {
                let input_width = self.plan.nodes[np.inputs[0]].width.fixed as usize;
                *fan_in == input_width
                    && weight.len() == units * fan_in
                    && bias.len() == units
                    && match (requant.mult, mult) {
                        (Mult::PerUnit, Some(m)) => m.len() == units,
                        (Mult::PerTensor(_), None) => true,
                        _ => false,
                    }
            }
            (Op::LayerNorm { .. }, NodeWeights::Norm { gamma, beta }) => {
                gamma.len() == units && beta.len() == units
            }
            (Op::Gelu { .. }, NodeWeights::Mults { mult }) => units > 0 && mult.len() == units,
            (Op::Add { .. }, NodeWeights::AddMults { a, b }) => {
                units > 0 && a.len() == units && b.len() == units
            }
            (_, NodeWeights::None) => units == 0,
            _ => false,
        };
        if !fits {
            return Err(kind());
        }
        let int8 = match &self.weights[i] {
            NodeWeights::Table { table, .. } => table.as_slice(),
            NodeWeights::Dense { weight, .. } => weight.as_slice(),
            _ => &[],
        };
        if let Some(index) = int8.iter().position(|&w| w == i8::MIN) {
            return Err(GraphWeightsError::Range {
                node: name.clone(),
                field: "weight",
                index,
                value: i8::MIN.into(),
                min: -127,
                max: 127,
            });
        }
        for unit in 0..np.leaves {
            let params = self.params(i, unit as usize);
            if !check_params(op, &params) {
                return Err(GraphWeightsError::Range {
                    node: name.clone(),
                    field: "parameter (bias, mult, gamma or beta)",
                    index: unit as usize,
                    value: params.iter().map(|&p| i64::from(p)).max().unwrap_or(0),
                    min: -i64::from(MAX_NORM_BETA),
                    max: MAX_NORM_BETA.into(),
                });
            }
        }
        Ok(())
    }

    /// The row of int8 weights of `(node, unit)` (empty for layer_norm).
    pub fn unit_weights(&self, node: usize, unit: usize) -> &[i8] {
        match &self.weights[node] {
            NodeWeights::Table { width, table } => &table[unit * width..(unit + 1) * width],
            NodeWeights::Dense { fan_in, weight, .. } => {
                &weight[unit * fan_in..(unit + 1) * fan_in]
            }
            _ => &[],
        }
    }

    /// The integer parameters of `(node, unit)`, as its leaf holds them.
    pub fn params(&self, node: usize, unit: usize) -> Vec<i32> {
        match &self.weights[node] {
            NodeWeights::Dense { bias, mult, .. } => match mult {
                Some(m) => alloc::vec![bias[unit], m[unit]],
                None => alloc::vec![bias[unit]],
            },
            NodeWeights::Norm { gamma, beta } => alloc::vec![gamma[unit], beta[unit]],
            NodeWeights::Mults { mult } => alloc::vec![mult[unit]],
            NodeWeights::AddMults { a, b } => alloc::vec![a[unit], b[unit]],
            _ => Vec::new(),
        }
    }

    /// The leaf of `(node, unit)`; `None` for a node without weights or a unit out of range.
    pub fn leaf(&self, node: usize, unit: u32) -> Option<WeightLeaf> {
        let np = self.plan.nodes.get(node)?;
        if unit >= np.leaves {
            return None;
        }
        Some(WeightLeaf {
            node: node as u32,
            unit,
            weights: self.unit_weights(node, unit as usize).to_vec(),
            params: self.params(node, unit as usize),
        })
    }

    /// Every leaf, in tree order (node, then unit).
    pub fn leaves(&self) -> impl Iterator<Item = WeightLeaf> + '_ {
        self.plan
            .nodes
            .iter()
            .enumerate()
            .flat_map(move |(i, np)| (0..np.leaves).filter_map(move |u| self.leaf(i, u)))
    }

    pub fn weights_tree(&self) -> MerkleTree {
        MerkleTree::new(self.leaves().map(|l| l.hash()).collect())
    }

    /// `sha256(canonical spec || weights_root)`, as in version 1.
    pub fn id(&self) -> Hash {
        model_id_of(&self.spec.canonical_json(), &self.weights_tree().root())
    }
}

impl GraphPlan {
    /// Position of leaf `(node, unit)` in the weights tree.
    pub fn leaf_index(&self, node: usize, unit: u32) -> Option<u32> {
        let np = self.nodes.get(node)?;
        (unit < np.leaves).then(|| np.leaf_offset + unit)
    }
}

#[cfg(feature = "safetensors")]
mod file {
    use super::*;
    use crate::WeightsError;
    use alloc::borrow::ToOwned;
    use alloc::collections::BTreeMap;
    use alloc::format;
    use alloc::string::String;
    use safetensors::tensor::{Dtype, SafeTensors, TensorView};

    /// The tensor names and shapes of one node in `weights.safetensors`: `(suffix, dtype is int8,
    /// shape)`.
    fn tensor_layout(
        spec: &GraphSpec,
        plan: &GraphPlan,
        node: usize,
    ) -> Vec<(&'static str, bool, Vec<usize>)> {
        let np = &plan.nodes[node];
        let units = np.leaves as usize;
        match &spec.nodes[node].op {
            Op::Embedding { width, .. } => {
                alloc::vec![("table", true, alloc::vec![units, *width as usize])]
            }
            Op::Dense { requant, .. } => {
                let fan_in = plan.nodes[np.inputs[0]].width.fixed as usize;
                let mut t = alloc::vec![
                    ("weight", true, alloc::vec![units, fan_in]),
                    ("bias", false, alloc::vec![units]),
                ];
                if requant.mult == Mult::PerUnit {
                    t.push(("mult", false, alloc::vec![units]));
                }
                t
            }
            Op::LayerNorm { .. } => alloc::vec![
                ("gamma", false, alloc::vec![units]),
                ("beta", false, alloc::vec![units]),
            ],
            Op::Gelu { .. } if units > 0 => alloc::vec![("mult", false, alloc::vec![units])],
            Op::Add { .. } if units > 0 => alloc::vec![
                ("a_mult", false, alloc::vec![units]),
                ("b_mult", false, alloc::vec![units]),
            ],
            _ => Vec::new(),
        }
    }

    fn tensor_name(spec: &GraphSpec, node: usize, suffix: &str) -> String {
        format!("{}.{suffix}", spec.nodes[node].name)
    }

    impl GraphModel {
        /// Reads a graph model from `spec.json` and `weights.safetensors`.
        pub fn load(
            spec_json: &[u8],
            weights: &[u8],
        ) -> Result<GraphModel, super::super::error::GraphModelError> {
            let (spec, plan) = GraphSpec::from_json(spec_json)?;
            Ok(GraphModel::from_safetensors(spec, plan, weights)?)
        }

        /// Loads `weights.safetensors` for a validated spec: every tensor present with its
        /// exact dtype and shape, and no other tensor.
        pub fn from_safetensors(
            spec: GraphSpec,
            plan: GraphPlan,
            bytes: &[u8],
        ) -> Result<GraphModel, GraphWeightsError> {
            let file = SafeTensors::deserialize(bytes)
                .map_err(|e| WeightsError::Format(format!("{e}")))?;
            let mut expected = 0usize;
            let mut weights = Vec::with_capacity(plan.nodes.len());
            for node in 0..plan.nodes.len() {
                let mut read: BTreeMap<&str, &[u8]> = BTreeMap::new();
                for (suffix, int8, shape) in tensor_layout(&spec, &plan, node) {
                    expected += 1;
                    let name = tensor_name(&spec, node, suffix);
                    let dtype = if int8 { Dtype::I8 } else { Dtype::I32 };
                    read.insert(
                        suffix,
                        crate::weights::file::read(&file, &name, dtype, &shape)?,
                    );
                }
                let i8s = |s: &str| -> Vec<i8> {
                    read.get(s)
                        .map_or_else(Vec::new, |b| b.iter().map(|&v| v as i8).collect())
                };
                let i32s = |s: &str| -> Vec<i32> {
                    read.get(s).map_or_else(Vec::new, |b| {
                        b.chunks_exact(4)
                            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                            .collect()
                    })
                };
                let np = &plan.nodes[node];
                weights.push(match &spec.nodes[node].op {
                    Op::Embedding { width, .. } => NodeWeights::Table {
                        width: *width as usize,
                        table: i8s("table"),
                    },
                    Op::Dense { .. } => NodeWeights::Dense {
                        fan_in: plan.nodes[np.inputs[0]].width.fixed as usize,
                        weight: i8s("weight"),
                        bias: i32s("bias"),
                        mult: read.contains_key("mult").then(|| i32s("mult")),
                    },
                    Op::LayerNorm { .. } => NodeWeights::Norm {
                        gamma: i32s("gamma"),
                        beta: i32s("beta"),
                    },
                    Op::Gelu { .. } if np.leaves > 0 => NodeWeights::Mults { mult: i32s("mult") },
                    Op::Add { .. } if np.leaves > 0 => NodeWeights::AddMults {
                        a: i32s("a_mult"),
                        b: i32s("b_mult"),
                    },
                    _ => NodeWeights::None,
                });
            }
            if file.len() != expected {
                let known = |n: &str| {
                    (0..plan.nodes.len()).any(|node| {
                        tensor_layout(&spec, &plan, node)
                            .iter()
                            .any(|(s, _, _)| n == tensor_name(&spec, node, s))
                    })
                };
                let name = file
                    .names()
                    .into_iter()
                    .find(|n| !known(n))
                    .map_or_else(String::new, |n| n.to_owned());
                return Err(WeightsError::Unexpected { name }.into());
            }
            GraphModel::new(spec, plan, weights)
        }

        /// Writes `weights.safetensors` (no metadata), byte-for-byte reproducible.
        pub fn to_safetensors(&self) -> Vec<u8> {
            let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
            for node in 0..self.plan.nodes.len() {
                for (suffix, int8, shape) in tensor_layout(&self.spec, &self.plan, node) {
                    let data: Vec<u8> = match (&self.weights[node], suffix) {
                        (NodeWeights::Table { table, .. }, _) => {
                            table.iter().map(|&v| v as u8).collect()
                        }
                        (NodeWeights::Dense { weight, .. }, "weight") => {
                            weight.iter().map(|&v| v as u8).collect()
                        }
                        (NodeWeights::Dense { bias, .. }, "bias") => le(bias),
                        (NodeWeights::Dense { mult: Some(m), .. }, "mult") => le(m),
                        (NodeWeights::Mults { mult }, "mult") => le(mult),
                        (NodeWeights::AddMults { a, .. }, "a_mult") => le(a),
                        (NodeWeights::AddMults { b, .. }, "b_mult") => le(b),
                        (NodeWeights::Norm { gamma, .. }, "gamma") => le(gamma),
                        (NodeWeights::Norm { beta, .. }, "beta") => le(beta),
                        _ => Vec::new(),
                    };
                    let dtype = if int8 { Dtype::I8 } else { Dtype::I32 };
                    tensors.push((tensor_name(&self.spec, node, suffix), dtype, shape, data));
                }
            }
            let views = tensors.iter().filter_map(|(name, dtype, shape, data)| {
                let view = TensorView::new(*dtype, shape.clone(), data).ok()?;
                Some((name.clone(), view))
            });
            // The shapes come from a validated model, so every view and the file are well-formed.
            safetensors::serialize(views, None).unwrap_or_default()
        }
    }

    fn le(values: &[i32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}

/// Checks a leaf given to a one-step check: it is `(node, unit)`, has the length its op needs
/// and every parameter within the bounds validation assumed.
pub(crate) fn check_leaf(
    spec: &GraphSpec,
    plan: &GraphPlan,
    node: u32,
    unit: u32,
    leaf: &WeightLeaf,
) -> Result<(), GraphEvalError> {
    if leaf.node != node || leaf.unit != unit {
        return Err(GraphEvalError::WrongLeaf {
            node,
            unit,
            found_node: leaf.node,
            found_unit: leaf.unit,
        });
    }
    let np = &plan.nodes[node as usize];
    let op = &spec.nodes[node as usize].op;
    let weights = match op {
        Op::Embedding { width, .. } => *width as usize,
        Op::Dense { .. } => plan.nodes[np.inputs[0]].width.fixed as usize,
        _ => 0,
    };
    if leaf.weights.len() != weights {
        return Err(GraphEvalError::LeafLen { node, unit });
    }
    if leaf.weights.contains(&i8::MIN) || !check_params(op, &leaf.params) {
        return Err(if check_params_len(op, &leaf.params) {
            GraphEvalError::LeafValue { node, unit }
        } else {
            GraphEvalError::LeafLen { node, unit }
        });
    }
    Ok(())
}

fn check_params_len(op: &Op, params: &[i32]) -> bool {
    let expected = match op {
        Op::Dense { requant, .. } => match requant.mult {
            Mult::PerUnit => 2,
            Mult::PerTensor(_) => 1,
        },
        Op::LayerNorm { .. } => 2,
        Op::Gelu { .. } => 1,
        Op::Add { .. } => 2,
        _ => 0,
    };
    params.len() == expected
}
