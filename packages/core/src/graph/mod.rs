//! Version 2: graph models over token sequences (transformers), with integer-only semantics
//! and row-level commitments. Version 1 ([`crate::spec`], [`crate::exec`]) is unchanged.
//!
//! - [`spec`]: the graph spec (`spec.json`, version 2), its ops and limits;
//! - [`plan`]: validation into a [`plan::GraphPlan`], with every range bound proven;
//! - [`arith`]: the integer primitives every op is made of;
//! - [`encoder`]: the wiring of a BERT-style encoder, shared by importers and test models;
//! - [`weights`]: [`weights::GraphModel`] (spec + weights), its leaves and safetensors layout;
//! - [`exec`]: the reference [`exec::forward`] pass and [`exec::eval_element`];
//! - [`trace`]: row trees, node roots, trace root, first divergence;
//! - [`step`]: the one-step check, prover ([`step::prove_element`]) and verifier
//!   ([`step::verify_element`], [`step::verify_row`]).

pub mod arith;
pub mod encoder;
pub mod error;
pub mod exec;
pub mod plan;
pub mod spec;
pub mod step;
pub mod trace;
pub mod weights;

pub use error::{GraphError, GraphEvalError, GraphModelError, GraphWeightsError, StepError};
pub use exec::{element_needs, eval_element, forward, Needs, Tensor, TokenInput, Trace};
pub use plan::{requant_admissible, Extent, GraphPlan, NodePlan};
pub use spec::{
    DType, EmbeddingIndex, GraphSpec, Mult, Node, Op, Requant, TokenInputSpec, GRAPH_VERSION,
};
pub use step::{
    prove_element, verify_element, verify_row, verify_run, verify_run_row, ProvenLeaf, ProvenRun,
    StepWitness,
};
pub use trace::{
    concat_hashes, decode_values, encode_values, first_divergence, input_hash, node_tree, row_hash,
    run_len, run_tree, split_hashes, trace_root, widened, ProvenRow, RowValue,
};
pub use weights::{GraphModel, NodeWeights, WeightLeaf};
