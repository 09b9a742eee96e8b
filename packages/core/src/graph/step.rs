//! The one-step check of version 2, prover and verifier sides.
//!
//! A dispute about a result ends on one element `(row, col)` of the first node whose roots
//! differ ([`super::trace::first_divergence`]): every node it reads is earlier, so both sides
//! agree on those roots. The prover ([`prove_element`]) hands over the input rows the element
//! reads, each with its Merkle proof against its node's root, and the weights leaf it reads
//! with its proof against `weights_root`; the verifier ([`verify_element`]) checks every proof
//! and recomputes the element with [`super::exec::eval_element`]. Whoever's committed row
//! ([`verify_row`]) holds a different value at `col` computed it wrong.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::error::{GraphEvalError, StepError};
use super::exec::{check_element, check_row, element_needs, eval_element, TokenInput, Trace};
use super::plan::GraphPlan;
use super::spec::GraphSpec;
use super::trace::{row_hash, ProvenRow};
use super::weights::{GraphModel, WeightLeaf};
use crate::commit::{Hash, MerkleTree, Proof};

/// A weights leaf with its proof against the model's `weights_root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProvenLeaf {
    pub leaf: WeightLeaf,
    pub proof: Proof,
}

/// What the check of one element needs besides the agreed node roots and the job input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StepWitness {
    /// The rows [`element_needs`] names, in its order.
    pub rows: Vec<ProvenRow>,
    pub leaf: Option<ProvenLeaf>,
}

/// The witness for element `(row, col)` of `node`, from a full trace of the job, the trace's
/// row trees ([`Trace::node_trees`]) and the model's weights tree.
#[allow(clippy::too_many_arguments)]
pub fn prove_element(
    model: &GraphModel,
    weights_tree: &MerkleTree,
    input: &TokenInput,
    trace: &Trace,
    trees: &[MerkleTree],
    node: u32,
    row: u32,
    col: u32,
) -> Result<StepWitness, GraphEvalError> {
    check_element(&model.plan, input, node, row, col)?;
    let needs = element_needs(&model.spec, &model.plan, input, node as usize, row, col);
    let rows = needs
        .rows
        .iter()
        .map(|&(j, r)| {
            trace
                .proven_row(trees, j as usize, r)
                .ok_or(GraphEvalError::NoSuchNode {
                    node: j,
                    nodes: trace.nodes.len(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let leaf = match needs.leaf {
        None => None,
        Some(unit) => {
            let missing = GraphEvalError::LeafRequired { node, unit };
            let leaf = model.leaf(node as usize, unit).ok_or(missing.clone())?;
            let index = model
                .plan
                .leaf_index(node as usize, unit)
                .ok_or(missing.clone())?;
            let proof = weights_tree.proof(index).ok_or(missing)?;
            Some(ProvenLeaf { leaf, proof })
        }
    };
    Ok(StepWitness { rows, leaf })
}

/// Checks that `row` is a row of its node under `node_roots`: the right width, values of the
/// node's type, and a Merkle proof to that node's root.
pub fn verify_row(
    plan: &GraphPlan,
    input: &TokenInput,
    node_roots: &[Hash],
    row: &ProvenRow,
) -> Result<(), StepError> {
    check_roots(plan, node_roots)?;
    check_element(plan, input, row.node, row.row, 0)?;
    let n = input.tokens(plan)?;
    check_row(plan, n, row.node, row.row, &row.values)?;
    let np = &plan.nodes[row.node as usize];
    let leaf = row_hash(row.node, row.row, np.dtype, &row.values);
    // The row index is inside the leaf hash too; checking the position as well keeps the
    // proof's meaning plain.
    let at_row = if row.proof.index == row.row {
        Ok(())
    } else {
        Err(crate::ProofError::RootMismatch)
    };
    at_row
        .and_then(|()| {
            row.proof
                .verify(&node_roots[row.node as usize], &leaf, np.rows.at(n))
        })
        .map_err(|source| StepError::RowProof {
            node: row.node,
            row: row.row,
            source,
        })
}

/// Recomputes element `(row, col)` of `node` from a witness whose rows are proven against
/// `node_roots` and whose leaf is proven against `weights_root`. Returns the correct value.
#[allow(clippy::too_many_arguments)]
pub fn verify_element(
    spec: &GraphSpec,
    plan: &GraphPlan,
    weights_root: &Hash,
    input: &TokenInput,
    node_roots: &[Hash],
    node: u32,
    row: u32,
    col: u32,
    witness: &StepWitness,
) -> Result<i32, StepError> {
    check_roots(plan, node_roots)?;
    check_element(plan, input, node, row, col)?;
    let needs = element_needs(spec, plan, input, node as usize, row, col);
    if witness.rows.len() != needs.rows.len() {
        return Err(GraphEvalError::RowCount {
            node,
            expected: needs.rows.len(),
            found: witness.rows.len(),
        }
        .into());
    }
    for (index, (&(j, r), given)) in needs.rows.iter().zip(&witness.rows).enumerate() {
        if (given.node, given.row) != (j, r) {
            return Err(StepError::WrongRow {
                index,
                node: j,
                row: r,
                found_node: given.node,
                found_row: given.row,
            });
        }
        verify_row(plan, input, node_roots, given)?;
    }
    if let (Some(unit), Some(proven)) = (needs.leaf, &witness.leaf) {
        let index = plan
            .leaf_index(node as usize, unit)
            .ok_or(GraphEvalError::LeafRequired { node, unit })?;
        // The leaf's own node and unit are part of its hash, so a proof at the right index
        // also pins them; eval_element checks them against the need all the same.
        let at_index = if proven.proof.index == index {
            Ok(())
        } else {
            Err(crate::ProofError::RootMismatch)
        };
        at_index
            .and_then(|()| {
                proven
                    .proof
                    .verify(weights_root, &proven.leaf.hash(), plan.total_leaves)
            })
            .map_err(|source| StepError::LeafProof { node, unit, source })?;
    }
    let rows: Vec<&[i32]> = witness.rows.iter().map(|r| r.values.as_slice()).collect();
    let leaf = witness.leaf.as_ref().map(|p| &p.leaf);
    Ok(eval_element(
        spec, plan, input, node, row, col, &rows, leaf,
    )?)
}

fn check_roots(plan: &GraphPlan, node_roots: &[Hash]) -> Result<(), StepError> {
    if node_roots.len() != plan.nodes.len() {
        return Err(StepError::RootCount {
            count: node_roots.len(),
            nodes: plan.nodes.len(),
        });
    }
    Ok(())
}
