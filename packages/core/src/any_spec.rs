//! A spec of either version, told apart by its `version` field: version 1 (a chain of
//! dense/conv layers, [`crate::spec`]) or version 2 (a graph, [`crate::graph`]). Both keep
//! `model_id = sha256(canonical spec || weights_root)`, so version 1 ids do not change.

use alloc::format;
use alloc::vec::Vec;
use serde::Deserialize;
use thiserror::Error;

use crate::graph::{GraphError, GraphPlan, GraphSpec, GRAPH_VERSION};
use crate::spec::{ModelSpec, Plan, SPEC_VERSION};
use crate::SpecError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnySpec {
    V1 { spec: ModelSpec, plan: Plan },
    V2 { spec: GraphSpec, plan: GraphPlan },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AnySpecError {
    #[error("spec is not a JSON object with a numeric `version`: {0}")]
    Json(alloc::string::String),
    #[error("spec version {0} is not supported (this build reads versions 1 and 2)")]
    UnsupportedVersion(u64),
    #[error(transparent)]
    V1(#[from] SpecError),
    #[error(transparent)]
    V2(#[from] GraphError),
}

/// Only the field that tells the versions apart; everything else is left to each parser.
#[derive(Deserialize)]
struct Version {
    version: u64,
}

impl AnySpec {
    /// Parses and validates `spec.json` of either version.
    pub fn from_json(bytes: &[u8]) -> Result<AnySpec, AnySpecError> {
        let v: Version =
            serde_json::from_slice(bytes).map_err(|e| AnySpecError::Json(format!("{e}")))?;
        match v.version {
            n if n == u64::from(SPEC_VERSION) => {
                let (spec, plan) = ModelSpec::from_json(bytes)?;
                Ok(AnySpec::V1 { spec, plan })
            }
            n if n == u64::from(GRAPH_VERSION) => {
                let (spec, plan) = GraphSpec::from_json(bytes)?;
                Ok(AnySpec::V2 { spec, plan })
            }
            n => Err(AnySpecError::UnsupportedVersion(n)),
        }
    }

    pub fn version(&self) -> u32 {
        match self {
            AnySpec::V1 { .. } => SPEC_VERSION,
            AnySpec::V2 { .. } => GRAPH_VERSION,
        }
    }

    /// The canonical bytes that `model_id` hashes.
    pub fn canonical_json(&self) -> Vec<u8> {
        match self {
            AnySpec::V1 { spec, .. } => spec.canonical_json(),
            AnySpec::V2 { spec, .. } => spec.canonical_json(),
        }
    }

    /// Leaves of the model's weights tree: what a weights-leaf proof is checked against.
    pub fn total_leaves(&self) -> u32 {
        match self {
            AnySpec::V1 { plan, .. } => plan.total_leaves,
            AnySpec::V2 { plan, .. } => plan.total_leaves,
        }
    }
}
