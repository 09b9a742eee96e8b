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
use super::trace::{row_hash, run_tree, ProvenRow};
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
    row.proof
        .verify_at(
            row.row,
            &node_roots[row.node as usize],
            &leaf,
            np.rows.at(n),
        )
        .map_err(|source| StepError::RowProof {
            node: row.node,
            row: row.row,
            source,
        })
}

/// A run of rows of one node ([`super::trace::run_len`]): its values, row after row, with
/// the proof of the run's root against the node's root in the tree of the node's run roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenRun {
    pub node: u32,
    pub run: u32,
    pub values: Vec<i32>,
    pub proof: Proof,
}

/// The first row of run `run` of `node` and how many rows it holds, for an input of `tokens`.
fn run_span(plan: &GraphPlan, tokens: u32, node: u32, run: u32) -> Result<(u32, u32), StepError> {
    let np = plan.node(node)?;
    let rows = np.rows.at(tokens);
    let len = np.run_len(tokens);
    let runs = rows.div_ceil(len);
    if run >= runs {
        return Err(StepError::NoSuchRun { node, run, runs });
    }
    let first = run * len;
    Ok((first, len.min(rows - first)))
}

/// Checks that `run` holds the rows of its run under `node_roots`: as many rows as the run
/// has, each of its node's width and type, whose tree's root sits at the run's index of the
/// node's run roots. Returns that root (the run's root, what a row of it is proven against
/// by [`verify_run_row`]).
pub fn verify_run(
    plan: &GraphPlan,
    input: &TokenInput,
    node_roots: &[Hash],
    run: &ProvenRun,
) -> Result<Hash, StepError> {
    check_roots(plan, node_roots)?;
    let n = input.tokens(plan)?;
    let (first, count) = run_span(plan, n, run.node, run.run)?;
    let np = &plan.nodes[run.node as usize];
    let width = np.width.at(n) as usize;
    let expected = count as usize * width;
    if run.values.len() != expected {
        return Err(StepError::RunLen {
            node: run.node,
            run: run.run,
            found: run.values.len(),
            expected,
        });
    }
    for (i, row) in run.values.chunks(width.max(1)).enumerate() {
        check_row(plan, n, run.node, first + i as u32, row)?;
    }
    let root = run_tree(run.node, first, np.dtype, width as u32, &run.values).root();
    let runs = np.rows.at(n).div_ceil(np.run_len(n));
    run.proof
        .verify_at(run.run, &node_roots[run.node as usize], &root, runs)
        .map_err(|source| StepError::RunProof {
            node: run.node,
            run: run.run,
            source,
        })?;
    Ok(root)
}

/// Checks that `values` are row `row` of `node`, inside its run `run` whose root is
/// `run_root`, by `proof` (the row's index within the run; [`run_tree`] builds it).
#[allow(clippy::too_many_arguments)]
pub fn verify_run_row(
    plan: &GraphPlan,
    input: &TokenInput,
    node: u32,
    run: u32,
    run_root: &Hash,
    row: u32,
    values: &[i32],
    proof: &Proof,
) -> Result<(), StepError> {
    let n = input.tokens(plan)?;
    let (first, count) = run_span(plan, n, node, run)?;
    let within = row
        .checked_sub(first)
        .filter(|&i| i < count)
        .ok_or(StepError::RowNotInRun { node, run, row })?;
    check_row(plan, n, node, row, values)?;
    let leaf = row_hash(node, row, plan.nodes[node as usize].dtype, values);
    proof
        .verify_at(within, run_root, &leaf, count)
        .map_err(|source| StepError::RowProof { node, row, source })
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
        proven
            .proof
            .verify_at(index, weights_root, &proven.leaf.hash(), plan.total_leaves)
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
