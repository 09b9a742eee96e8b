use alloc::string::String;
use thiserror::Error;

use crate::error::ProofError;

/// Why a version 2 spec was refused. Every variant names the node and the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GraphError {
    #[error("spec is not valid JSON for a graph spec: {0}")]
    Json(String),
    #[error("spec version {found} is not supported here (graph specs are version {supported})")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("field `name`: {reason}")]
    Name { reason: &'static str },
    #[error("node {index} name {name:?}: {reason}")]
    NodeName {
        index: usize,
        name: String,
        reason: &'static str,
    },
    #[error("node name {name:?} is used twice")]
    DuplicateName { name: String },
    #[error("the model has no nodes")]
    NoNodes,
    #[error("the model has {count} nodes; at most {max} are allowed")]
    TooManyNodes { count: usize, max: usize },
    #[error(
        "node `{node}` reads {input:?}, which is not an earlier node (nodes are in topological order)"
    )]
    UnknownInput { node: String, input: String },
    #[error("{node} field `{field}` must be at least 1")]
    Zero { node: String, field: &'static str },
    #[error("{node} field `{field}` is {value}; at most {max} is allowed")]
    TooLarge {
        node: String,
        field: &'static str,
        value: u64,
        max: u64,
    },
    #[error("node `{node}` input `{input}`: expected {expected}, found {found}")]
    InputKind {
        node: String,
        input: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("node `{node}`: {reason}")]
    Shape { node: String, reason: &'static str },
    #[error("node `{node}` field `requant.mult`: {reason}")]
    Mult { node: String, reason: &'static str },
    #[error(
        "node `{node}` breaks a range bound: worst-case |{what}| = {worst_case}, which must stay \
         below {limit}; lower the multiplier or the shift, or narrow the input"
    )]
    Bound {
        node: String,
        what: &'static str,
        worst_case: u64,
        limit: u64,
    },
}

/// Why a graph model's weights do not fit its spec.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GraphWeightsError {
    /// The file itself: not safetensors, a tensor missing, of another dtype or shape, or
    /// one the model does not have (the same errors as version 1's).
    #[error(transparent)]
    File(#[from] crate::WeightsError),
    #[error("weights cover {found} nodes; the spec has {expected}")]
    NodeCount { found: usize, expected: usize },
    #[error("node `{node}` has weights of the wrong kind or size for its op")]
    Kind { node: String },
    #[error("node `{node}` {field} {index} is {value}; it must be in [{min}, {max}]")]
    Range {
        node: String,
        field: &'static str,
        index: usize,
        value: i64,
        min: i64,
        max: i64,
    },
}

/// Why a job input, a forward pass or a one-element evaluation was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GraphEvalError {
    #[error("input has {ids} token ids but {mask} mask values")]
    InputLen { ids: usize, mask: usize },
    #[error("input has {found} tokens; the model takes 1 to {max}")]
    TokenCount { found: usize, max: u32 },
    #[error("token {index} has id {id}; the vocabulary has {vocab} ids")]
    TokenId { index: usize, id: u32, vocab: u32 },
    #[error("mask value {index} is {value}; a mask holds only 0 and 1")]
    Mask { index: usize, value: u8 },
    #[error("node {node} does not exist (the model has {nodes})")]
    NoSuchNode { node: u32, nodes: usize },
    #[error("node {node} is [{rows}, {width}] for this input; ({row}, {col}) is out of range")]
    NoSuchElement {
        node: u32,
        row: u32,
        col: u32,
        rows: u32,
        width: u32,
    },
    #[error("node {node} element check takes {expected} input rows; {found} were given")]
    RowCount {
        node: u32,
        expected: usize,
        found: usize,
    },
    #[error("row {row} of node {node} has {found} values; the node's rows have {expected}")]
    RowLen {
        node: u32,
        row: u32,
        found: usize,
        expected: usize,
    },
    #[error("row {row} of node {node} holds {value}, outside its type's range")]
    RowValue { node: u32, row: u32, value: i32 },
    #[error("node {node} has weights: its check needs weights leaf (node {node}, unit {unit})")]
    LeafRequired { node: u32, unit: u32 },
    #[error("node {node} has no weights: no leaf applies to it")]
    LeafNotExpected { node: u32 },
    #[error("leaf is for node {found_node} unit {found_unit}; expected node {node} unit {unit}")]
    WrongLeaf {
        node: u32,
        unit: u32,
        found_node: u32,
        found_unit: u32,
    },
    #[error("leaf of node {node} unit {unit} has the wrong number of values for its op")]
    LeafLen { node: u32, unit: u32 },
    #[error("leaf of node {node} unit {unit} holds a value outside the bounds of its op")]
    LeafValue { node: u32, unit: u32 },
}

/// Why a one-step check's witness was refused by the verifier.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StepError {
    #[error(transparent)]
    Eval(#[from] GraphEvalError),
    #[error("{count} node roots given; the model has {nodes} nodes")]
    RootCount { count: usize, nodes: usize },
    #[error("witness row {index} is (node {found_node}, row {found_row}); the check needs (node {node}, row {row})")]
    WrongRow {
        index: usize,
        node: u32,
        row: u32,
        found_node: u32,
        found_row: u32,
    },
    #[error("row {row} of node {node}: {source}")]
    RowProof {
        node: u32,
        row: u32,
        source: ProofError,
    },
    #[error("node {node} has {runs} runs of rows for this input; run {run} is out of range")]
    NoSuchRun { node: u32, run: u32, runs: u32 },
    #[error("run {run} of node {node} holds {expected} values; {found} were given")]
    RunLen {
        node: u32,
        run: u32,
        found: usize,
        expected: usize,
    },
    #[error("run {run} of node {node}: {source}")]
    RunProof {
        node: u32,
        run: u32,
        source: ProofError,
    },
    #[error("row {row} of node {node} is not in run {run}")]
    RowNotInRun { node: u32, run: u32, row: u32 },
    #[error("weights leaf of node {node} unit {unit}: {source}")]
    LeafProof {
        node: u32,
        unit: u32,
        source: ProofError,
    },
}

/// Why a graph model (spec plus weights) could not be put together.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GraphModelError {
    #[error("invalid spec: {0}")]
    Spec(#[from] GraphError),
    #[error("invalid weights: {0}")]
    Weights(#[from] GraphWeightsError),
}
