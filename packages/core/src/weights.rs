//! A model's weights, checked against its spec, and the `weights.safetensors` format:
//! `layers.{i}.weight` (int8; `[units, fan_in]` for dense, `[filters, channels, k, k]` for
//! conv2d) and `layers.{i}.bias` (int32, `[units]`), for every layer that has weights.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::commit::Leaf;
use crate::error::WeightsError;
use crate::spec::{Layer, LayerPlan, ModelSpec, Plan};

/// One layer's parameters, row-major: row `u` of `weight` is output unit (or filter) `u`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerWeights {
    pub weight: Vec<i8>,
    pub bias: Vec<i32>,
}

impl LayerWeights {
    pub fn row(&self, unit: usize, fan_in: usize) -> &[i8] {
        &self.weight[unit * fan_in..(unit + 1) * fan_in]
    }
}

/// A spec together with weights that fit it: the only way to run the reference executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub spec: ModelSpec,
    pub plan: Plan,
    /// One entry per layer: `Some` exactly for dense and conv2d layers.
    pub weights: Vec<Option<LayerWeights>>,
}

impl Model {
    /// Checks that `weights` has the shapes the spec implies, that every weight is in
    /// [-127, 127] and every bias keeps its layer's accumulator exact.
    pub fn new(
        spec: ModelSpec,
        plan: Plan,
        weights: Vec<Option<LayerWeights>>,
    ) -> Result<Model, WeightsError> {
        if weights.len() != plan.layers.len() {
            return Err(WeightsError::LayerCount {
                found: weights.len(),
                expected: plan.layers.len(),
            });
        }
        for (layer, (lp, lw)) in plan.layers.iter().zip(&weights).enumerate() {
            check_layer(layer, lp, lw.as_ref())?;
        }
        Ok(Model {
            spec,
            plan,
            weights,
        })
    }

    /// The Merkle leaf of (layer, unit): the unit's weight row or filter and its bias.
    /// `None` for a layer without weights or a unit out of range.
    pub fn leaf(&self, layer: usize, unit: u32) -> Option<Leaf> {
        let lp = self.plan.layers.get(layer)?;
        let lw = self.weights.get(layer)?.as_ref()?;
        if unit >= lp.leaves {
            return None;
        }
        Some(Leaf {
            layer: layer as u32,
            unit,
            weights: lw.row(unit as usize, lp.fan_in as usize).to_vec(),
            bias: lw.bias[unit as usize],
        })
    }

    /// Every leaf of the weights tree, in tree order (layer, then unit).
    pub fn leaves(&self) -> impl Iterator<Item = Leaf> + '_ {
        self.plan
            .layers
            .iter()
            .enumerate()
            .flat_map(move |(i, lp)| (0..lp.leaves).filter_map(move |u| self.leaf(i, u)))
    }
}

fn check_layer(
    layer: usize,
    lp: &LayerPlan,
    lw: Option<&LayerWeights>,
) -> Result<(), WeightsError> {
    let Some(lw) = lw else {
        if lp.leaves > 0 {
            return Err(WeightsError::Missing {
                name: weight_name(layer),
            });
        }
        return Ok(());
    };
    if lp.leaves == 0 {
        return Err(WeightsError::NotWeighted { layer });
    }
    let expected = lp.leaves as usize * lp.fan_in as usize;
    if lw.weight.len() != expected {
        return Err(WeightsError::WeightLen {
            layer,
            found: lw.weight.len(),
            expected,
        });
    }
    if lw.bias.len() != lp.leaves as usize {
        return Err(WeightsError::BiasLen {
            layer,
            found: lw.bias.len(),
            expected: lp.leaves as usize,
        });
    }
    if let Some(index) = lw.weight.iter().position(|&w| w == i8::MIN) {
        return Err(WeightsError::WeightRange { layer, index });
    }
    for (unit, &bias) in lw.bias.iter().enumerate() {
        if u64::from(bias.unsigned_abs()) > lp.max_bias {
            return Err(WeightsError::BiasRange {
                layer,
                unit,
                bias,
                max: lp.max_bias,
            });
        }
    }
    Ok(())
}

pub fn weight_name(layer: usize) -> String {
    format!("layers.{layer}.weight")
}

pub fn bias_name(layer: usize) -> String {
    format!("layers.{layer}.bias")
}

/// The tensor shapes `weights.safetensors` holds for a weighted layer.
pub fn tensor_shapes(spec: &ModelSpec, plan: &Plan, layer: usize) -> Option<(Vec<usize>, usize)> {
    let lp = plan.layers.get(layer)?;
    let units = lp.leaves as usize;
    match (spec.layers.get(layer)?, lp.input) {
        (Layer::Dense { .. }, _) => Some((alloc::vec![units, lp.fan_in as usize], units)),
        (Layer::Conv2d { kernel, .. }, crate::spec::Shape::Chw { c, .. }) => {
            let k = *kernel as usize;
            Some((alloc::vec![units, c as usize, k, k], units))
        }
        _ => None,
    }
}

#[cfg(feature = "safetensors")]
pub(crate) mod file {
    use super::*;
    use alloc::borrow::ToOwned;
    use safetensors::tensor::{Dtype, SafeTensors, TensorView};

    impl Model {
        /// Reads a model from its two files, `spec.json` and `weights.safetensors`.
        pub fn load(spec_json: &[u8], weights: &[u8]) -> Result<Model, crate::ModelError> {
            let (spec, plan) = ModelSpec::from_json(spec_json)?;
            Ok(Model::from_safetensors(spec, plan, weights)?)
        }

        /// Loads `weights.safetensors` for a validated spec. Every tensor must be present
        /// with its exact dtype and shape, and no other tensor may be there.
        pub fn from_safetensors(
            spec: ModelSpec,
            plan: Plan,
            bytes: &[u8],
        ) -> Result<Model, WeightsError> {
            let file = SafeTensors::deserialize(bytes)
                .map_err(|e| WeightsError::Format(format!("{e}")))?;
            let mut expected_names = 0usize;
            let mut weights = Vec::with_capacity(plan.layers.len());
            for layer in 0..plan.layers.len() {
                let Some((wshape, units)) = tensor_shapes(&spec, &plan, layer) else {
                    weights.push(None);
                    continue;
                };
                expected_names += 2;
                let weight = read(&file, &weight_name(layer), Dtype::I8, &wshape)?
                    .iter()
                    .map(|&b| b as i8)
                    .collect();
                let bias = read(&file, &bias_name(layer), Dtype::I32, &[units])?
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                weights.push(Some(LayerWeights { weight, bias }));
            }
            if file.len() != expected_names {
                let known = |n: &str| {
                    (0..plan.layers.len()).any(|l| n == weight_name(l) || n == bias_name(l))
                };
                let name = file
                    .names()
                    .into_iter()
                    .find(|n| !known(n))
                    .map_or_else(String::new, |n| n.to_owned());
                return Err(WeightsError::Unexpected { name });
            }
            Model::new(spec, plan, weights)
        }

        /// Writes `weights.safetensors` (no metadata), byte-for-byte reproducible for the
        /// same weights.
        pub fn to_safetensors(&self) -> Vec<u8> {
            let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
            for (layer, lw) in self.weights.iter().enumerate() {
                let (Some(lw), Some((wshape, units))) =
                    (lw, tensor_shapes(&self.spec, &self.plan, layer))
                else {
                    continue;
                };
                let weight = lw.weight.iter().map(|&w| w as u8).collect();
                let bias = lw.bias.iter().flat_map(|b| b.to_le_bytes()).collect();
                tensors.push((weight_name(layer), Dtype::I8, wshape, weight));
                tensors.push((bias_name(layer), Dtype::I32, alloc::vec![units], bias));
            }
            let views = tensors.iter().filter_map(|(name, dtype, shape, data)| {
                let view = TensorView::new(*dtype, shape.clone(), data).ok()?;
                Some((name.clone(), view))
            });
            // The shapes come from a validated model, so every view and the file are well-formed.
            safetensors::serialize(views, None).unwrap_or_default()
        }
    }

    /// One tensor of `file` with its exact dtype and shape (shared by both spec versions).
    pub(crate) fn read<'a>(
        file: &'a SafeTensors<'a>,
        name: &str,
        dtype: Dtype,
        shape: &[usize],
    ) -> Result<&'a [u8], WeightsError> {
        let t = file.tensor(name).map_err(|_| WeightsError::Missing {
            name: name.to_owned(),
        })?;
        if t.dtype() != dtype {
            return Err(WeightsError::Dtype {
                name: name.to_owned(),
                found: format!("{:?}", t.dtype()),
                expected: if dtype == Dtype::I8 { "I8" } else { "I32" },
            });
        }
        if t.shape() != shape {
            return Err(WeightsError::Shape {
                name: name.to_owned(),
                found: t.shape().to_vec(),
                expected: shape.to_vec(),
            });
        }
        Ok(t.data())
    }
}
