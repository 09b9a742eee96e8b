//! Graph models (spec version 2) on the market: registration, token inputs, results bound to
//! a trace root, and the three-step node dispute: a liar at a middle node and a liar in the
//! output alone are slashed by the element the contract recomputes; an honest worker beats
//! a false challenge; every party is checked for who may act and when.

use cosmwasm_std::Binary;
use tavdun_core::graph::{
    concat_hashes, encode_values, forward, prove_element, run_tree, GraphModel, Node, NodeWeights,
    Op, StepWitness, TokenInput, Trace,
};
use tavdun_core::{synthetic, HexHash, MerkleTree, Proof};
use tavdun_market::ContractError;
use tavdun_market_api::{
    DisputeOutcome, ExecuteMsg, JobInput, JobStatus, ReceiveMsg, RevealedRun, RunMismatch,
};
use tavdun_testkit::lies::{lie_at, node_index};
use tavdun_testkit::multitest::*;

const FEE: u128 = 10_000;
const COLLATERAL: u128 = 5_000;
const BOND: u128 = 1_000;

/// A random encoder with more than one token in its input, so node trees have several rows,
/// and a node whose dispute shows its rows in several runs.
fn model_and_input() -> (GraphModel, TokenInput) {
    for seed in 0..1_000 {
        let model = synthetic::random_encoder(seed).expect("valid encoder");
        let input = synthetic::random_token_input(&model.plan, seed);
        if input.ids.len() >= 3 && input.mask.contains(&1) && runs_node(&model, &input).is_some() {
            return (model, input);
        }
    }
    panic!("no random encoder of the first 1,000 fits")
}

/// The first node after the first whose rows a dispute shows in more than one run.
fn runs_node(model: &GraphModel, input: &TokenInput) -> Option<u32> {
    let n = input.ids.len() as u32;
    let several = |np: &tavdun_core::graph::NodePlan| np.rows.at(n).div_ceil(np.run_len(n)) > 1;
    (1..model.plan.nodes.len())
        .find(|&i| several(&model.plan.nodes[i]))
        .map(|i| i as u32)
}

struct World {
    suite: Suite,
    model: GraphModel,
    model_id: String,
    input: TokenInput,
    honest: Trace,
}

fn world() -> World {
    let mut suite = Suite::new(&["worker", "challenger", "client", "stranger"]);
    let (model, input) = model_and_input();
    let model_id = suite
        .register_graph(&model, 1)
        .expect("graph model registers");
    let worker = suite.addr("worker");
    suite.bond(&worker, 100_000);
    let honest = forward(&model, &input).expect("forward");
    World {
        suite,
        model,
        model_id,
        input,
        honest,
    }
}

impl World {
    /// A job of the model, claimed by the worker, which posts `trace`.
    fn posted(&mut self, trace: &Trace) -> u64 {
        let client = self.suite.addr("client");
        let worker = self.suite.addr("worker");
        let job_id = self
            .suite
            .submit_tokens(&client, &self.model_id, FEE, &self.input, 3_600)
            .expect("submit");
        assert_eq!(
            self.suite.claim(&worker, &self.model_id, 1).expect("claim"),
            [job_id]
        );
        self.suite.post_graph(&worker, job_id, trace).expect("post");
        job_id
    }

    fn roots(&self, trace: &Trace) -> Binary {
        Binary::new(concat_hashes(&trace.node_roots()))
    }

    /// The witness of element `(row, col)` of `node`, from the honest trace.
    fn witness(&self, node: u32, row: u32, col: u32) -> StepWitness {
        let trees = self.honest.node_trees();
        prove_element(
            &self.model,
            &self.model.weights_tree(),
            &self.input,
            &self.honest,
            &trees,
            node,
            row,
            col,
        )
        .expect("witness")
    }

    /// Tries every element of the run the worker revealed from `lie` until the contract
    /// finds the worker wrong.
    fn resolve(&mut self, job_id: u64, seq: u32, lie: &Trace) -> anyhow::Result<u32> {
        let d = self.suite.dispute(job_id, seq);
        let (node, run) = (d.node.expect("node"), d.run.expect("run"));
        let t = &lie.nodes[node as usize];
        let values = t.run(run).expect("run");
        let first = run * t.run_len();
        let tree = run_tree(node, first, t.dtype, t.width, values);
        let stranger = self.suite.addr("stranger");
        let mut last = None;
        for (i, row_values) in values.chunks(t.width as usize).enumerate() {
            let row = first + i as u32;
            for col in 0..t.width {
                let msg = ExecuteMsg::ResolveElement {
                    job_id,
                    seq,
                    row,
                    revealed: Binary::new(encode_values(t.dtype, row_values)),
                    row_proof: tree.proof(i as u32).expect("a row of the run"),
                    col,
                    witness: self.witness(node, row, col),
                };
                match self.suite.exec(&stranger, &msg) {
                    Ok(_) => return Ok(col),
                    Err(e) => last = Some(e),
                }
            }
        }
        Err(last.expect("a run has elements"))
    }
}

#[test]
fn an_honest_graph_result_is_paid_after_its_window() {
    let mut w = world();
    let honest = w.honest.clone();
    let job_id = w.posted(&honest);
    let job = w.suite.job(job_id);
    assert_eq!(job.status, JobStatus::Posted);
    let result = job.result.expect("result");
    assert_eq!(
        result.commitment.0,
        tavdun_core::graph::trace_root(&w.input, &honest.node_roots())
    );
    let worker = w.suite.addr("worker");
    let before = w.suite.claimable(&worker);
    w.suite.advance(3_600);
    w.suite
        .exec(
            &worker,
            &ExecuteMsg::Finalize {
                job_ids: vec![job_id],
            },
        )
        .expect("finalize");
    assert_eq!(w.suite.job(job_id).status, JobStatus::Finalized);
    assert!(w.suite.claimable(&worker) > before);
    w.suite.assert_invariant();
}

/// The liar of the issue: one element of a middle node (the feed-forward product of layer
/// 0) wrong. Three transactions after the commitment settle it.
#[test]
fn a_liar_at_a_middle_node_is_slashed_by_the_recomputed_element() {
    let mut w = world();
    let node = node_index(&w.model, "l0.ffn_in");
    let lie = lie_at(&w.honest, node);
    let job_id = w.posted(&lie);
    let (worker, challenger) = (w.suite.addr("worker"), w.suite.addr("challenger"));
    let staked = w.suite.worker(&worker).worker.stake.u128();
    let challenger_before = w.suite.balance(&challenger);

    let honest = w.honest.clone();
    let seq = w
        .suite
        .challenge_node(&challenger, job_id, node, &honest)
        .expect("challenge");
    let reveal = reveal_row_msg(job_id, seq, node, &lie, &honest);
    w.suite.exec(&worker, &reveal).expect("reveal");
    let ExecuteMsg::RevealRow { run: Some(run), .. } = reveal else {
        unreachable!("the roots differ at the node")
    };
    assert_eq!(w.suite.dispute(job_id, seq).run, Some(run.run));
    // A resolver cannot pass off other bytes (here the honest row) as the revealed row, nor
    // a row outside the revealed run.
    let mismatch = RunMismatch::find(node, &honest, &run).expect("the lie is in the run");
    let t = &honest.nodes[node as usize];
    let honest_row = Binary::new(encode_values(t.dtype, t.row(mismatch.row).expect("row")));
    let forged = ExecuteMsg::ResolveElement {
        job_id,
        seq,
        row: mismatch.row,
        revealed: honest_row,
        row_proof: mismatch.row_proof.clone(),
        col: mismatch.col,
        witness: w.witness(node, mismatch.row, mismatch.col),
    };
    let stranger = w.suite.addr("stranger");
    let err = w.suite.exec(&stranger, &forged).unwrap_err();
    assert!(matches!(market_err(err), ContractError::Eval(e) if e.contains("proof")));
    let outside = (run.run + 1) * t.run_len();
    if outside < t.rows {
        let elsewhere = ExecuteMsg::ResolveElement {
            job_id,
            seq,
            row: outside,
            revealed: Binary::new(encode_values(t.dtype, t.row(outside).expect("row"))),
            row_proof: mismatch.row_proof.clone(),
            col: 0,
            witness: w.witness(node, outside, 0),
        };
        let err = w.suite.exec(&stranger, &elsewhere).unwrap_err();
        assert!(matches!(market_err(err), ContractError::Eval(e) if e.contains("not in run")));
    }
    let col = w.resolve(job_id, seq, &lie).expect("the lie is found");
    assert_eq!(col, mismatch.col, "the first wrong element is the lie");

    let d = w.suite.dispute(job_id, seq);
    assert_eq!(d.outcome, Some(DisputeOutcome::WorkerSlashed { unit: col }));
    assert_eq!(
        w.suite.worker(&worker).worker.stake.u128(),
        staked - COLLATERAL,
        "the liar loses its collateral"
    );
    // Bond back plus the reward (half the collateral), claimable.
    let paid = w.suite.claimable(&challenger);
    assert_eq!(paid, BOND + COLLATERAL / 2);
    assert_eq!(w.suite.balance(&challenger), challenger_before - BOND);
    assert_eq!(w.suite.job(job_id).status, JobStatus::Open, "served again");
    w.suite.assert_invariant();
}

#[test]
fn a_liar_in_the_pooled_output_alone_is_slashed() {
    let mut w = world();
    let node = (w.model.spec.nodes.len() - 1) as u32;
    let lie = lie_at(&w.honest, node);
    let job_id = w.posted(&lie);
    let (worker, challenger) = (w.suite.addr("worker"), w.suite.addr("challenger"));
    let honest = w.honest.clone();
    let seq = w
        .suite
        .challenge_node(&challenger, job_id, node, &honest)
        .expect("challenge");
    w.suite
        .exec(&worker, &reveal_row_msg(job_id, seq, node, &lie, &honest))
        .expect("reveal");
    w.resolve(job_id, seq, &lie).expect("the lie is found");
    assert!(matches!(
        w.suite.dispute(job_id, seq).outcome,
        Some(DisputeOutcome::WorkerSlashed { .. })
    ));
    w.suite.assert_invariant();
}

#[test]
fn an_honest_worker_beats_a_false_challenge() {
    let mut w = world();
    let honest = w.honest.clone();
    let job_id = w.posted(&honest);
    let node = node_index(&w.model, "l0.ffn_in");
    let (worker, challenger) = (w.suite.addr("worker"), w.suite.addr("challenger"));
    // The challenger claims rows that are not the correct ones.
    let false_rows = lie_at(&honest, node);
    let seq = w
        .suite
        .challenge_node(&challenger, job_id, node, &false_rows)
        .expect("challenge");
    w.suite
        .exec(
            &worker,
            &reveal_row_msg(job_id, seq, node, &honest, &false_rows),
        )
        .expect("reveal");
    // No element of the honest row can be shown wrong.
    let err = w
        .resolve(job_id, seq, &honest)
        .expect_err("nothing is wrong");
    assert!(matches!(
        market_err(err),
        ContractError::NoElementMismatch { .. }
    ));
    w.suite.advance(3_600);
    let stranger = w.suite.addr("stranger");
    w.suite
        .exec(&stranger, &ExecuteMsg::ClaimTimeout { job_id, seq })
        .expect("timeout");
    assert_eq!(
        w.suite.dispute(job_id, seq).outcome,
        Some(DisputeOutcome::ChallengeFailed)
    );
    assert_eq!(w.suite.job(job_id).status, JobStatus::Posted);
    assert!(w.suite.claimable(&worker) > 0, "the worker gets its share");
    w.suite.assert_invariant();
}

#[test]
fn a_challenge_of_a_node_the_worker_got_right_fails_at_the_reveal() {
    let mut w = world();
    let node = node_index(&w.model, "l0.ffn_in");
    // The worker lied later; the challenger names an earlier node, where both agree.
    let lie = lie_at(&w.honest, node + 2);
    let job_id = w.posted(&lie);
    let (worker, challenger) = (w.suite.addr("worker"), w.suite.addr("challenger"));
    let honest = w.honest.clone();
    let seq = w
        .suite
        .challenge_node(&challenger, job_id, node, &honest)
        .expect("challenge");
    w.suite
        .exec(&worker, &reveal_row_msg(job_id, seq, node, &lie, &honest))
        .expect("reveal with the roots alone");
    assert_eq!(
        w.suite.dispute(job_id, seq).outcome,
        Some(DisputeOutcome::ChallengeFailed)
    );
    w.suite.assert_invariant();
}

#[test]
fn a_withheld_reveal_slashes_the_worker() {
    let mut w = world();
    let node = node_index(&w.model, "l0.ffn_in");
    let lie = lie_at(&w.honest, node);
    let job_id = w.posted(&lie);
    let challenger = w.suite.addr("challenger");
    let honest = w.honest.clone();
    let seq = w
        .suite
        .challenge_node(&challenger, job_id, node, &honest)
        .expect("challenge");
    w.suite.advance(3_600);
    w.suite
        .exec(&challenger, &ExecuteMsg::ClaimTimeout { job_id, seq })
        .expect("timeout");
    assert_eq!(
        w.suite.dispute(job_id, seq).outcome,
        Some(DisputeOutcome::RevealWithheld)
    );
    w.suite.assert_invariant();
}

#[test]
fn reveals_that_dodge_the_claim_are_refused() {
    let mut w = world();
    let node = runs_node(&w.model, &w.input).expect("world() picks a model with one");
    let lie = lie_at(&w.honest, node);
    let job_id = w.posted(&lie);
    let (worker, challenger, stranger) = (
        w.suite.addr("worker"),
        w.suite.addr("challenger"),
        w.suite.addr("stranger"),
    );
    let honest = w.honest.clone();
    let seq = w
        .suite
        .challenge_node(&challenger, job_id, node, &honest)
        .expect("challenge");
    let good = reveal_row_msg(job_id, seq, node, &lie, &honest);
    let ExecuteMsg::RevealRow {
        node_roots,
        run,
        challenger_run,
        challenger_proof,
        ..
    } = good.clone()
    else {
        unreachable!()
    };
    let run = run.expect("a differing run");

    // Only the worker reveals.
    let err = w.suite.exec(&stranger, &good).unwrap_err();
    assert!(matches!(
        market_err(err),
        ContractError::NotJobWorker { .. }
    ));

    let reveal = |node_roots: Binary,
                  run: Option<RevealedRun>,
                  challenger_run: Option<HexHash>,
                  challenger_proof: Option<Proof>| ExecuteMsg::RevealRow {
        job_id,
        seq,
        node_roots,
        run,
        challenger_run,
        challenger_proof,
    };

    // Roots that are not the posted trace's.
    let msg = reveal(
        w.roots(&honest),
        Some(run.clone()),
        challenger_run,
        challenger_proof.clone(),
    );
    let err = w.suite.exec(&worker, &msg).unwrap_err();
    assert!(matches!(
        market_err(err),
        ContractError::RevealMismatch { .. }
    ));

    // A run where the worker agrees with the challenger (every other run of the node).
    let theirs = MerkleTree::new(their_runs(&honest, node));
    let agreeing = (run.run + 1) % theirs.len() as u32;
    let msg = reveal(
        node_roots.clone(),
        revealed(&lie, node, agreeing),
        Some(HexHash(theirs.leaves()[agreeing as usize])),
        theirs.proof(agreeing),
    );
    let err = w.suite.exec(&worker, &msg).unwrap_err();
    assert!(matches!(market_err(err), ContractError::BadReveal { .. }));

    // A run of another node, passed off as one of the challenged node.
    let msg = reveal(
        node_roots.clone(),
        revealed(&lie, node - 1, 0),
        challenger_run,
        challenger_proof,
    );
    let err = w.suite.exec(&worker, &msg).unwrap_err();
    assert!(matches!(
        market_err(err),
        ContractError::Eval(_) | ContractError::BadReveal { .. }
    ));

    // Nothing at all but the roots, although they differ at the node.
    let err = w
        .suite
        .exec(&worker, &reveal(node_roots, None, None, None))
        .unwrap_err();
    assert!(matches!(market_err(err), ContractError::BadReveal { .. }));

    w.suite.exec(&worker, &good).expect("the honest reveal");
    let err = w.suite.exec(&worker, &good).unwrap_err();
    assert!(matches!(
        market_err(err),
        ContractError::WrongDisputeState { .. }
    ));
}

/// Run `run` of `node` of a trace as a `RevealRow` carries it.
fn revealed(trace: &Trace, node: u32, run: u32) -> Option<RevealedRun> {
    let t = &trace.nodes[node as usize];
    Some(RevealedRun {
        run,
        values: Binary::new(encode_values(t.dtype, t.run(run)?)),
        proof: MerkleTree::new(their_runs(trace, node)).proof(run)?,
    })
}

#[test]
fn a_challenge_must_open_its_commitment_with_the_node_s_run_count() {
    let mut w = world();
    let node = node_index(&w.model, "l0.ffn_in");
    let lie = lie_at(&w.honest, node);
    let job_id = w.posted(&lie);
    let challenger = w.suite.addr("challenger");
    let honest = w.honest.clone();
    let claim = w.suite.node_claim(&challenger, job_id, node, &honest);
    let res = w
        .suite
        .send(&challenger, BOND, &claim.commit())
        .expect("commit");
    let seq: u32 = attr(&res, "seq").and_then(|s| s.parse().ok()).expect("seq");
    w.suite.next_block();
    let ExecuteMsg::ChallengeNode { runs, salt, .. } = claim.open(seq) else {
        unreachable!()
    };
    // One run short.
    let short = Binary::new(runs[..runs.len() - 32].to_vec());
    let err = w
        .suite
        .exec(
            &challenger,
            &ExecuteMsg::ChallengeNode {
                job_id,
                seq,
                node,
                runs: short,
                salt,
            },
        )
        .unwrap_err();
    assert!(matches!(market_err(err), ContractError::HashCount { .. }));
    // Another node than the one committed to.
    let other = node + 1;
    let other_runs = concat_hashes(&their_runs(&honest, other));
    let err = w
        .suite
        .exec(
            &challenger,
            &ExecuteMsg::ChallengeNode {
                job_id,
                seq,
                node: other,
                runs: Binary::new(other_runs),
                salt,
            },
        )
        .unwrap_err();
    assert!(matches!(
        market_err(err),
        ContractError::CommitmentMismatch { .. }
    ));
    // Version 1 messages do not apply to a graph job.
    let err = w
        .suite
        .exec(
            &challenger,
            &ExecuteMsg::Challenge {
                job_id,
                seq,
                hashes: vec![],
                salt,
            },
        )
        .unwrap_err();
    assert!(matches!(
        market_err(err),
        ContractError::WrongModelVersion { version: 2, .. }
    ));
    w.suite.exec(&challenger, &claim.open(seq)).expect("open");
}

#[test]
fn token_inputs_are_checked_against_the_model() {
    let mut w = world();
    let client = w.suite.addr("client");
    let max = w.model.plan.max_tokens as usize;
    let vocab = w.model.plan.vocab;
    let bad = [
        TokenInput {
            ids: vec![0; max + 1],
            mask: vec![1; max + 1],
        },
        TokenInput {
            ids: vec![],
            mask: vec![],
        },
        TokenInput {
            ids: vec![vocab],
            mask: vec![1],
        },
        TokenInput {
            ids: vec![0, 1],
            mask: vec![1],
        },
        TokenInput {
            ids: vec![0],
            mask: vec![2],
        },
    ];
    for input in &bad {
        let err = w
            .suite
            .submit_tokens(&client, &w.model_id.clone(), FEE, input, 600)
            .unwrap_err();
        assert!(
            matches!(market_err(err), ContractError::InvalidTokens { .. }),
            "{input:?} is refused"
        );
    }
    // Int8 bytes are not a graph model's input, and tokens not a version 1 model's.
    let err = w
        .suite
        .send(
            &client,
            FEE,
            &ReceiveMsg::SubmitJob {
                model_id: w.model_id.clone(),
                input: JobInput::inline(&[1, 2, 3]),
                deadline: w.suite.now().plus_seconds(600),
            },
        )
        .unwrap_err();
    assert!(matches!(
        market_err(err),
        ContractError::WrongModelVersion { version: 2, .. }
    ));
    let v1 = synthetic::mlp("v1", &[4, 3], 1).expect("mlp");
    let v1_id = w.suite.register(&v1, 1, 1);
    let err = w
        .suite
        .submit_tokens(&client, &v1_id, FEE, &w.input.clone(), 600)
        .unwrap_err();
    assert!(matches!(
        market_err(err),
        ContractError::WrongModelVersion { version: 1, .. }
    ));
}

#[test]
fn a_result_must_bind_its_output_to_its_trace() {
    let mut w = world();
    let client = w.suite.addr("client");
    let worker = w.suite.addr("worker");
    let job_id = w
        .suite
        .submit_tokens(&client, &w.model_id.clone(), FEE, &w.input.clone(), 3_600)
        .expect("submit");
    w.suite
        .claim(&worker, &w.model_id.clone(), 1)
        .expect("claim");
    let mut msg = tavdun_market_api::GraphResultMsg::new(job_id, &w.honest);
    // An output the trace's last node does not hold.
    let mut output = msg.output.to_vec();
    output[0] = output[0].wrapping_add(1);
    msg.output = Binary::new(output);
    let err = w
        .suite
        .exec(
            &worker,
            &ExecuteMsg::PostGraphResults {
                results: vec![msg.clone()],
            },
        )
        .unwrap_err();
    assert!(matches!(
        market_err(err),
        ContractError::OutputHashMismatch { .. }
    ));
    // Node roots that are not 32 bytes each, or too few.
    let good = tavdun_market_api::GraphResultMsg::new(job_id, &w.honest);
    for roots in [&good.node_roots[..31], &good.node_roots[32..]] {
        let err = w
            .suite
            .exec(
                &worker,
                &ExecuteMsg::PostGraphResults {
                    results: vec![tavdun_market_api::GraphResultMsg {
                        node_roots: Binary::new(roots.to_vec()),
                        ..good.clone()
                    }],
                },
            )
            .unwrap_err();
        assert!(matches!(
            market_err(err),
            ContractError::HashBytes { .. } | ContractError::HashCount { .. }
        ));
    }
    // Only the job's worker posts.
    let err = w
        .suite
        .exec(
            &client,
            &ExecuteMsg::PostGraphResults {
                results: vec![good.clone()],
            },
        )
        .unwrap_err();
    assert!(matches!(
        market_err(err),
        ContractError::NotJobWorker { .. }
    ));
    w.suite
        .exec(
            &worker,
            &ExecuteMsg::PostGraphResults {
                results: vec![good],
            },
        )
        .expect("the honest result");
}

#[test]
fn graph_models_whose_dispute_would_not_fit_a_transaction_are_refused() {
    let mut params = params();
    params.max_dispute_bytes = 4_096;
    let mut suite = Suite::with_params(&["worker"], params);
    // A small encoder followed by 128 transposes: its reveal carries 150-odd node roots.
    let base = synthetic::random_encoder(0).expect("valid encoder");
    let mut spec = base.spec.clone();
    for i in 0..128 {
        let input = spec.nodes.last().expect("nodes").name.clone();
        spec.nodes.push(Node {
            name: format!("pad{i}"),
            op: Op::Transpose { input },
        });
    }
    let plan = spec.validate().expect("transposes of transposes are valid");
    let mut weights = base.weights.clone();
    weights.resize(plan.nodes.len(), NodeWeights::None);
    let model = GraphModel::new(spec, plan, weights).expect("model");
    assert!(tavdun_market::models::graph_dispute_bytes(&model.plan) > 4_096);
    let err = suite.register_graph(&model, 1).unwrap_err();
    assert_eq!(
        market_err(err),
        ContractError::DisputeTooLarge {
            bytes: tavdun_market::models::graph_dispute_bytes(&model.plan),
            max: 4_096
        }
    );
}

#[test]
fn a_graph_model_s_id_is_core_s_and_its_controls_are_its_owner_s() {
    let mut w = world();
    assert_eq!(w.model_id, hex::encode(w.model.id()));
    let stranger = w.suite.addr("stranger");
    let msg = ExecuteMsg::UpdateModel {
        model_id: w.model_id.clone(),
        active: Some(false),
        min_fee: None,
        min_tier: None,
        weights_uri: None,
    };
    let err = w.suite.exec(&stranger, &msg).unwrap_err();
    assert!(matches!(
        market_err(err),
        ContractError::Unauthorized { .. }
    ));
    let admin = w.suite.admin.clone();
    w.suite.exec(&admin, &msg).expect("the owner deactivates");
    let client = w.suite.addr("client");
    let err = w
        .suite
        .submit_tokens(&client, &w.model_id.clone(), FEE, &w.input.clone(), 600)
        .unwrap_err();
    assert!(matches!(
        market_err(err),
        ContractError::ModelInactive { .. }
    ));
    let again = w.suite.register_graph(&w.model.clone(), 1).unwrap_err();
    assert!(matches!(
        market_err(again),
        ContractError::ModelExists { .. }
    ));
}
