use alloc::string::String;
use alloc::vec::Vec;
use thiserror::Error;

/// Where in a spec a problem was found: the input, or layer `i` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    Input,
    Layer(usize),
}

impl core::fmt::Display for Loc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Loc::Input => f.write_str("input"),
            Loc::Layer(i) => write!(f, "layer {i}"),
        }
    }
}

/// Why a model spec was refused. Every variant names the place and the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpecError {
    #[error("spec is not valid JSON for a model spec: {0}")]
    Json(String),
    #[error("spec version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("field `name`: {reason}")]
    Name { reason: &'static str },
    #[error("{at} field `{field}`: {reason}")]
    Shape {
        at: Loc,
        field: &'static str,
        reason: &'static str,
    },
    #[error("input field `quant.scale`: {reason}")]
    Scale { reason: &'static str },
    #[error("the model has no layers")]
    NoLayers,
    #[error("the model has no dense or conv2d layer, so it commits to no weights")]
    NoWeightedLayer,
    #[error("the model has {count} layers; at most {max} are allowed")]
    TooManyLayers { count: usize, max: usize },
    #[error("{at} field `{field}` must be at least 1")]
    Zero { at: Loc, field: &'static str },
    #[error("{at} field `{field}` is {value}; at most {max} is allowed")]
    TooLarge {
        at: Loc,
        field: &'static str,
        value: u64,
        max: u64,
    },
    #[error("{at} needs a {expected} input but receives shape {found:?}")]
    InputRank {
        at: Loc,
        expected: &'static str,
        found: Vec<u32>,
    },
    #[error("{at} field `{field}`: window {window} does not fit the padded input extent {extent}")]
    WindowTooLarge {
        at: Loc,
        field: &'static str,
        window: u32,
        extent: u32,
    },
    #[error(
        "{at} breaks the exactness bound: worst-case |accumulator| + rounding = {worst_case}, \
         which must stay below 2^24 = {limit}; lower the fan-in or the shift"
    )]
    ExactnessBound {
        at: Loc,
        worst_case: u64,
        limit: u64,
    },
}

/// Why a weights file or weight set does not fit its spec.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WeightsError {
    #[error("weights file is not valid safetensors: {0}")]
    Format(String),
    #[error("tensor `{name}` is missing")]
    Missing { name: String },
    #[error("tensor `{name}` is not part of this model")]
    Unexpected { name: String },
    #[error("tensor `{name}` has dtype {found}; expected {expected}")]
    Dtype {
        name: String,
        found: String,
        expected: &'static str,
    },
    #[error("tensor `{name}` has shape {found:?}; expected {expected:?}")]
    Shape {
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("weights cover {found} layers; the spec has {expected}")]
    LayerCount { found: usize, expected: usize },
    #[error("layer {layer} has {found} weight values; expected {expected}")]
    WeightLen {
        layer: usize,
        found: usize,
        expected: usize,
    },
    #[error("layer {layer} has {found} biases; expected {expected}")]
    BiasLen {
        layer: usize,
        found: usize,
        expected: usize,
    },
    #[error("layer {layer} has weights but is not a dense or conv2d layer")]
    NotWeighted { layer: usize },
    #[error("layer {layer} weight {index} is -128; weights are symmetric int8 in [-127, 127]")]
    WeightRange { layer: usize, index: usize },
    #[error(
        "layer {layer} bias of unit {unit} is {bias}; |bias| must be at most {max} to keep the \
         accumulator exact"
    )]
    BiasRange {
        layer: usize,
        unit: usize,
        bias: i32,
        max: u64,
    },
}

/// Why a forward pass or a one-unit evaluation could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EvalError {
    #[error("input has {found} bytes; the model takes {expected}")]
    InputLen { found: usize, expected: usize },
    #[error("layer {layer} does not exist (the model has {layers})")]
    NoSuchLayer { layer: usize, layers: usize },
    #[error("layer {layer} has {units} output values; unit {unit} is out of range")]
    NoSuchUnit { layer: usize, unit: u32, units: u32 },
    #[error("layer {layer} has weights: a Merkle leaf is needed to evaluate it")]
    LeafRequired { layer: usize },
    #[error("layer {layer} has no weights: no Merkle leaf applies to it")]
    LeafNotExpected { layer: usize },
    #[error(
        "leaf is for layer {found_layer} unit {found_unit}; expected layer {layer} unit {unit}"
    )]
    WrongLeaf {
        layer: usize,
        unit: u32,
        found_layer: u32,
        found_unit: u32,
    },
    #[error("leaf of layer {layer} has {found} weights; the layer's fan-in is {expected}")]
    LeafLen {
        layer: usize,
        found: usize,
        expected: usize,
    },
}

/// Why a Merkle proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofError {
    #[error("leaf index {index} is outside a tree of {leaves} leaves")]
    IndexOutOfRange { index: u32, leaves: u32 },
    #[error("proof has {found} sibling hashes; a tree of {leaves} leaves needs {expected} for leaf {index}")]
    Length {
        index: u32,
        leaves: u32,
        found: usize,
        expected: usize,
    },
    #[error("proof does not lead to the committed weights root")]
    RootMismatch,
}

/// Why a model (spec plus weights) could not be put together.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ModelError {
    #[error("invalid spec: {0}")]
    Spec(#[from] SpecError),
    #[error("invalid weights: {0}")]
    Weights(#[from] WeightsError),
}
