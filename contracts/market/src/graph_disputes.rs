//! The dispute game over a graph model's result (spec version 2, a transformer trace). A
//! result commits to a trace root over every node's row tree; the worker's node roots travel
//! in its `PostGraphResults` transaction, where any verifier reads them. After the bond is
//! committed (`CommitChallenge`, shared with version 1, so a pending claim cannot be copied
//! ahead of it), the game takes three transactions whatever the sequence length:
//!
//! 1. `ChallengeNode` (challenger): names node `j`, the first node of the worker's trace that
//!    is not what its op makes of the worker's earlier nodes, and shows its own roots of
//!    `j`'s runs of rows (`tavdun_core::graph::run_len` rows each, the subtrees one level of
//!    the row tree holds: the tree of the run roots is what its commitment claimed);
//! 2. `RevealRow` (worker): its node roots (checked against its trace root) and the rows of
//!    a run of `j` whose root differs from the challenger's, with both proofs; a worker whose
//!    root of `j` equals the challenger's ends the challenge there;
//! 3. `ResolveElement` (anyone): an element `(r, c)` of a revealed row (proven against the
//!    run's root) recomputed on chain with `tavdun_core::graph::verify_element` from the rows
//!    it reads (proven against the worker's own roots of those nodes, kept at the reveal) and
//!    its weights leaf (proven against `weights_root`). A revealed value that differs slashes
//!    the worker.
//!
//! Runs keep both bulky steps small whatever the node's shape: the challenger's run roots
//! and the worker's run trade off (32 bytes a run against the rows of one), and `run_len`
//! picks the length that makes them smallest together, so a 128-token attention node of
//! 1,536 rows costs 3 KB of roots and 2 KB of rows instead of 49 KB of row leaves.
//!
//! Bulky data stays in transactions, not in storage: the node roots (read from the post),
//! the challenger's run roots and the worker's revealed rows (read from their transactions
//! by whoever needs them); the contract keeps their roots and hashes only.
//!
//! Why the worker cannot escape: it must reveal a run whose root differs from the
//! challenger's. An honest challenger's runs are the correct ones, so some row of that run
//! is wrong in some column, and its inputs, the worker's earlier nodes, are correct because
//! `j` was the first divergence. Why an honest worker cannot lose: every row of its trace is correct, so
//! no element of the row it reveals can be shown wrong, and the challenge fails at the
//! resolve deadline (`ClaimTimeout`, shared with version 1, as are the reveal deadline and
//! the slashing and payouts).

use cosmwasm_std::{Binary, DepsMut, Env, MessageInfo, Response, Storage};
use tavdun_core::graph::{
    decode_values, split_hashes, trace_root, verify_element, verify_run, verify_run_row, GraphPlan,
    ProvenRun, StepWitness, TokenInput,
};
use tavdun_core::{challenge_commitment, Hash, HexHash, MerkleTree, Proof};
use tavdun_market_api::{node_claim_hashes, DisputeOutcome, GraphModelInfo, RevealedRun};

use crate::disputes::{
    check_deadline, fail_challenge, open_dispute, opening, revealing, slash, wrong_state, Opening,
};
use crate::error::ContractError;
use crate::jobs::{load_job, token_input};
use crate::models::{graph_plan, load_graph_model};
use crate::state::{JobRecord, DISPUTES, MODEL_IDS, RESULTS};

/// The graph model of a job, its plan, its input and the input's token count.
struct GraphJob {
    model: GraphModelInfo,
    plan: GraphPlan,
    input: TokenInput,
    tokens: u32,
}

fn graph_job(store: &dyn Storage, job_id: u64, job: &JobRecord) -> Result<GraphJob, ContractError> {
    let model = load_graph_model(store, &MODEL_IDS.load(store, job.model)?)?;
    let plan = graph_plan(&model)?;
    let input = token_input(store, job_id)?;
    let tokens = input
        .tokens(&plan)
        .map_err(|e| ContractError::Eval(e.to_string()))?;
    Ok(GraphJob {
        model,
        plan,
        input,
        tokens,
    })
}

fn eval_err(e: impl ToString) -> ContractError {
    ContractError::Eval(e.to_string())
}

/// The worker's node roots, which must make its posted trace root with the job's input.
fn worker_roots(
    store: &dyn Storage,
    job_id: u64,
    g: &GraphJob,
    node_roots: &Binary,
) -> Result<Vec<Hash>, ContractError> {
    let roots = split_hashes(node_roots).ok_or(ContractError::HashBytes {
        field: "node_roots",
        len: node_roots.len(),
    })?;
    if roots.len() != g.plan.nodes.len() {
        return Err(ContractError::HashCount {
            job_id,
            count: roots.len(),
            layers: g.plan.nodes.len() as u32,
        });
    }
    let result = RESULTS.load(store, job_id)?;
    if trace_root(&g.input, &roots) != result.commitment {
        return Err(ContractError::RevealMismatch { job_id });
    }
    Ok(roots)
}

/// The challenged node and the challenger's root of it, once opened.
fn claim_of(dispute: &tavdun_market_api::Dispute) -> Option<(u32, Hash)> {
    Some((dispute.node?, dispute.challenger_hashes.get(1)?.0))
}

#[allow(clippy::too_many_arguments)]
pub fn challenge_node(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    job_id: u64,
    seq: u32,
    node: u32,
    runs: Binary,
    salt: HexHash,
) -> Result<Response, ContractError> {
    let Opening {
        config,
        mut dispute,
        job,
        now,
        ..
    } = opening(deps.storage, &env, &info, job_id, seq)?;
    let g = graph_job(deps.storage, job_id, &job)?;
    let np = g.plan.nodes.get(node as usize).ok_or_else(|| {
        eval_err(format!(
            "node {node} does not exist (the model has {})",
            g.plan.nodes.len()
        ))
    })?;
    let leaves = split_hashes(&runs).ok_or(ContractError::HashBytes {
        field: "runs",
        len: runs.len(),
    })?;
    let expected = np.rows.at(g.tokens).div_ceil(np.run_len(g.tokens)) as usize;
    if leaves.len() != expected {
        return Err(ContractError::HashCount {
            job_id,
            count: leaves.len(),
            layers: expected as u32,
        });
    }
    let claim = node_claim_hashes(node, &MerkleTree::new(leaves).root());
    let opened = challenge_commitment(info.sender.as_str(), job_id, &claim, &salt.0);
    if opened != dispute.commitment.0 {
        return Err(ContractError::CommitmentMismatch { job_id, seq });
    }
    let reveal_deadline = now.plus_seconds(config.params.reveal_timeout);
    dispute.challenger_hashes = claim.into_iter().map(HexHash).collect();
    dispute.node = Some(node);
    dispute.opened_at = Some(now);
    dispute.reveal_deadline = Some(reveal_deadline);
    DISPUTES.save(deps.storage, (job_id, seq), &dispute)?;
    Ok(Response::new()
        .add_attribute("action", "challenge")
        .add_attribute("job_id", job_id.to_string())
        .add_attribute("seq", seq.to_string())
        .add_attribute("node", node.to_string())
        .add_attribute("worker", dispute.worker)
        .add_attribute("challenger", info.sender)
        .add_attribute("reveal_deadline", reveal_deadline.seconds().to_string()))
}

#[allow(clippy::too_many_arguments)]
pub fn reveal_row(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    job_id: u64,
    seq: u32,
    node_roots: Binary,
    run: Option<RevealedRun>,
    challenger: Option<(HexHash, Proof)>,
) -> Result<Response, ContractError> {
    let mut dispute = revealing(deps.storage, &env, &info, job_id, seq)?;
    let Some((node, theirs)) = claim_of(&dispute) else {
        return Err(wrong_state(job_id, seq, "opened without a node", "open"));
    };
    let job = load_job(deps.storage, job_id)?;
    let g = graph_job(deps.storage, job_id, &job)?;
    let roots = worker_roots(deps.storage, job_id, &g, &node_roots)?;
    if roots[node as usize] == theirs {
        // The challenger's rows of the node are the worker's: nothing to dispute there.
        return fail_challenge(
            deps.storage,
            job_id,
            job,
            dispute,
            DisputeOutcome::ChallengeFailed,
        );
    }
    let bad = |what: &str| ContractError::BadReveal {
        job_id,
        what: what.to_string(),
    };
    let revealed = run.ok_or_else(|| bad("the node roots differ: reveal a run of the node"))?;
    let np = &g.plan.nodes[node as usize];
    let values = decode_values(np.dtype, &revealed.values)
        .ok_or_else(|| bad("the run's bytes are not values of the node's type"))?;
    let run = ProvenRun {
        node,
        run: revealed.run,
        values,
        proof: revealed.proof,
    };
    let ours = verify_run(&g.plan, &g.input, &roots, &run).map_err(eval_err)?;
    let (their_run, proof) =
        challenger.ok_or_else(|| bad("send the challenger's root of the run and its proof"))?;
    if proof.index != run.run {
        return Err(ContractError::WrongProofIndex {
            found: proof.index,
            expected: run.run,
        });
    }
    let runs = np.rows.at(g.tokens).div_ceil(np.run_len(g.tokens));
    proof
        .verify(&theirs, &their_run.0, runs)
        .map_err(|e| ContractError::Proof(e.to_string()))?;
    if ours == their_run.0 {
        return Err(bad(
            "the run agrees with the challenger's: reveal one that differs",
        ));
    }
    let config = crate::state::CONFIG.load(deps.storage)?;
    let resolve_deadline = env.block.time.plus_seconds(config.params.resolve_timeout);
    dispute.run = Some(run.run);
    dispute.revealed_run = Some(HexHash(ours));
    dispute.input_roots = np.inputs.iter().map(|&i| HexHash(roots[i])).collect();
    dispute.resolve_deadline = Some(resolve_deadline);
    DISPUTES.save(deps.storage, (job_id, seq), &dispute)?;
    Ok(Response::new()
        .add_attribute("action", "reveal")
        .add_attribute("job_id", job_id.to_string())
        .add_attribute("seq", seq.to_string())
        .add_attribute("node", node.to_string())
        .add_attribute("run", run.run.to_string())
        .add_attribute("worker", info.sender)
        .add_attribute("resolve_deadline", resolve_deadline.seconds().to_string()))
}

#[allow(clippy::too_many_arguments)]
pub fn resolve_element(
    deps: DepsMut,
    env: Env,
    job_id: u64,
    seq: u32,
    row: u32,
    revealed: Binary,
    row_proof: Proof,
    col: u32,
    witness: StepWitness,
) -> Result<Response, ContractError> {
    let dispute = open_dispute(deps.storage, job_id, seq)?;
    let (Some(run_root), Some(deadline), Some((node, _)), Some(run)) = (
        dispute.revealed_run,
        dispute.resolve_deadline,
        claim_of(&dispute),
        dispute.run,
    ) else {
        return Err(wrong_state(job_id, seq, "unrevealed", "revealed"));
    };
    check_deadline(&env, job_id, "the resolve period", deadline)?;
    let job = load_job(deps.storage, job_id)?;
    let g = graph_job(deps.storage, job_id, &job)?;
    let np = &g.plan.nodes[node as usize];
    let values = decode_values(np.dtype, &revealed).ok_or(ContractError::BadReveal {
        job_id,
        what: "`revealed` is not values of the node's type".to_string(),
    })?;
    verify_run_row(
        &g.plan,
        &g.input,
        node,
        run,
        &run_root.0,
        row,
        &values,
        &row_proof,
    )
    .map_err(eval_err)?;
    // The check reads rows of the disputed node's inputs only: their roots, kept at the
    // reveal, are all the proofs need (the other entries are never read).
    let mut roots = vec![[0u8; 32]; g.plan.nodes.len()];
    for (&i, root) in np.inputs.iter().zip(&dispute.input_roots) {
        roots[i] = root.0;
    }
    let value = verify_element(
        &g.model.spec,
        &g.plan,
        &g.model.weights_root.0,
        &g.input,
        &roots,
        node,
        row,
        col,
        &witness,
    )
    .map_err(eval_err)?;
    if values.get(col as usize) == Some(&value) {
        return Err(ContractError::NoElementMismatch {
            job_id,
            node,
            row,
            col,
            value,
        });
    }
    slash(
        deps.storage,
        &env,
        job_id,
        dispute,
        DisputeOutcome::WorkerSlashed { unit: col },
    )
}
