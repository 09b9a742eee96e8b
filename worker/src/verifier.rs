//! The verify role: re-execute others' posted results inside their windows and, where our
//! hashes do not open to the worker's commitment, challenge: commit (with the bond), open in
//! a later block, then drive the dispute to its end (resolve with the first wrong unit, its
//! input and its Merkle proof, or claim the timeout of a worker that stays silent).
//!
//! For a graph model the claim is the first node whose root differs from the worker's (its
//! node roots are read from its post's transaction) with our run roots of that node, and
//! the resolve is the first element of the worker's revealed run that differs from ours,
//! with core's witness of everything that element is computed from.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::BuildHasher;

use tavdun_core::bytes::to_i8;
use tavdun_core::graph::{first_divergence, prove_element, trace_root, TokenInput, Trace};
use tavdun_core::{activation_hashes, hashes_commitment};
use tavdun_sdk::api::job::int8_binary;
use tavdun_sdk::api::{
    ChallengeClaim, Dispute, DisputeOutcome, ExecuteMsg, Job, JobStatus, NodeChallengeClaim,
    ReceiveMsg, RunMismatch,
};
use tracing::{info, warn};

use crate::error::Result;
use crate::models::{Served, ServedGraph};
use crate::services::{Round, Services};

/// A result whose window closes sooner than this is left alone: the challenge (a commitment,
/// then its opening a block later) would land late.
const WINDOW_MARGIN_SECS: u64 = 6;

pub struct Verifier {
    /// Ids of the models whose results this node checks.
    served: Vec<String>,
    /// Share of others' results re-executed, in (0, 1].
    sample: f64,
    /// Others' results already re-executed: job id -> `posted_at` of the result checked.
    checked: HashMap<u64, u64>,
    /// Jobs with challenges this node committed and has not seen end, with those challenges'
    /// numbers: a job's disputes stay on chain across its rounds (a liar slashed, the job
    /// re-queued, posted and challenged again), and each is counted once, in its own round.
    challenging: BTreeMap<u64, BTreeSet<u32>>,
    /// Keys the sampling of jobs, per process.
    sample_seed: RandomState,
}

impl Verifier {
    pub fn new(served: Vec<String>, sample: f64) -> Verifier {
        Verifier {
            served,
            sample,
            checked: HashMap::new(),
            challenging: BTreeMap::new(),
            sample_seed: RandomState::new(),
        }
    }

    pub fn challenging(&self) -> usize {
        self.challenging.len()
    }

    /// Picks up, from the chain, the challenges this node committed (after a restart).
    pub async fn reconcile(&mut self, svc: &Services) -> Result<()> {
        for job in svc.market.jobs_with_status(JobStatus::Disputed).await? {
            let seqs: BTreeSet<u32> = svc
                .market
                .disputes(job.id)
                .await?
                .iter()
                .filter(|d| d.is_open() && d.challenger.as_str() == svc.me)
                .map(|d| d.seq)
                .collect();
            if !seqs.is_empty() {
                self.challenging.insert(job.id, seqs);
            }
        }
        Ok(())
    }

    /// One poll: drive open challenges, then (unless `check` is false, as when stopping)
    /// re-execute new results.
    pub async fn step(&mut self, svc: &mut Services, round: &Round, check: bool) -> Result<()> {
        self.drive_challenges(svc, round).await?;
        if check {
            self.verify_posted(svc, round.now).await?;
        }
        Ok(())
    }

    async fn verify_posted(&mut self, svc: &mut Services, now: u64) -> Result<()> {
        let posted = svc.market.jobs_with_status(JobStatus::Posted).await?;
        let live: HashSet<u64> = posted.iter().map(|j| j.id).collect();
        self.checked.retain(|id, _| live.contains(id));
        let mut todo: BTreeMap<String, Vec<Job>> = BTreeMap::new();
        for job in posted {
            let Some(result) = &job.result else { continue };
            let posted_at = result.posted_at.seconds();
            if !self.served.contains(&job.model_id)
                || job.is_worked_by(&svc.me)
                || result.challenge_ends.seconds() <= now + WINDOW_MARGIN_SECS
                || self.checked.get(&job.id) == Some(&posted_at)
            {
                continue;
            }
            self.checked.insert(job.id, posted_at);
            if sampled(self.sample_seed.hash_one(job.id), self.sample) {
                todo.entry(job.model_id.clone()).or_default().push(job);
            }
        }
        for (model_id, jobs) in todo {
            self.check_batch(svc, &model_id, jobs).await?;
        }
        Ok(())
    }

    async fn check_batch(
        &mut self,
        svc: &mut Services,
        model_id: &str,
        jobs: Vec<Job>,
    ) -> Result<()> {
        if let Served::Graph(_) = svc.runner.models().get(&svc.market, model_id).await? {
            return self.check_graph_batch(svc, model_id, jobs).await;
        }
        let batch = svc.runner.run(&svc.market, model_id, jobs).await?;
        for (job, acts) in batch.jobs.iter().zip(batch.activations) {
            let Some(result) = &job.result else { continue };
            let ours = activation_hashes(&acts);
            if hashes_commitment(&ours) == Some(result.commitment.0) {
                svc.metrics.results_verified.inc();
                continue;
            }
            warn!(
                job_id = job.id,
                worker = ?job.worker,
                "result differs from our execution: challenging"
            );
            let claim = ChallengeClaim::new(&svc.me, job.id, ours, &result.commitment.0);
            self.challenge(svc, job.id, &claim.commit(), |seq| claim.open(seq))
                .await;
        }
        Ok(())
    }

    async fn check_graph_batch(
        &mut self,
        svc: &mut Services,
        model_id: &str,
        jobs: Vec<Job>,
    ) -> Result<()> {
        let batch = svc.runner.run_graph(&svc.market, model_id, jobs).await?;
        for ((job, input), trace) in batch.jobs.iter().zip(&batch.inputs).zip(&batch.traces) {
            let Some(result) = &job.result else { continue };
            if trace_root(input, &trace.node_roots()) == result.commitment.0 {
                svc.metrics.results_verified.inc();
                continue;
            }
            warn!(
                job_id = job.id,
                worker = ?job.worker,
                "trace differs from our execution: challenging"
            );
            let Some(claim) = node_claim(svc, job, trace).await? else {
                continue;
            };
            self.challenge(svc, job.id, &claim.commit(), |seq| claim.open(seq))
                .await;
        }
        Ok(())
    }

    /// Commits a challenge with the bond and, once that is in a block, opens it. Our claim
    /// stays hidden until the commitment is in a block, so nobody can copy it ahead of us.
    async fn challenge(
        &mut self,
        svc: &Services,
        job_id: u64,
        commit: &ReceiveMsg,
        open: impl FnOnce(u32) -> ExecuteMsg,
    ) {
        let bond = svc.params.challenge_bond.u128();
        let committed = svc.market.commit_challenge(commit, bond).await;
        let Ok((seq, _)) = svc.settle("commit_challenge", committed.map_err(Into::into)) else {
            return;
        };
        self.challenging.entry(job_id).or_default().insert(seq);
        svc.metrics.challenge("sent");
        if svc.execute("challenge", &open(seq)).await.is_ok() {
            info!(job_id, seq, "challenge opened");
        }
    }

    async fn drive_challenges(&mut self, svc: &mut Services, round: &Round) -> Result<()> {
        for (job_id, seqs) in self.challenging.clone() {
            let job = svc.market.require_job(job_id).await?;
            let ours: Vec<Dispute> = svc
                .market
                .disputes(job_id)
                .await?
                .into_iter()
                .filter(|d| d.challenger.as_str() == svc.me && seqs.contains(&d.seq))
                .collect();
            if ours.iter().all(|d| !d.is_open()) {
                self.challenging.remove(&job_id);
                for d in &ours {
                    match d.outcome {
                        Some(DisputeOutcome::ChallengeFailed | DisputeOutcome::NeverOpened) => {
                            svc.metrics.challenge("lost");
                            warn!(job_id, seq = d.seq, "our challenge failed");
                        }
                        Some(
                            DisputeOutcome::WorkerSlashed { .. } | DisputeOutcome::RevealWithheld,
                        ) => {
                            svc.metrics.challenge("won");
                            info!(job_id, seq = d.seq, "the worker was slashed");
                        }
                        _ => {}
                    }
                }
                continue;
            }
            for d in ours.iter().filter(|d| d.is_open()) {
                self.drive(svc, round, &job, d).await?;
            }
        }
        Ok(())
    }

    async fn drive(&self, svc: &mut Services, round: &Round, job: &Job, d: &Dispute) -> Result<()> {
        let (job_id, seq) = (job.id, d.seq);
        match (d.opened_at, d.resolve_deadline) {
            // Committed in an earlier block: open it now.
            (None, _) => {
                let Some(result) = &job.result else {
                    return Ok(());
                };
                let msg = match svc.runner.models().get(&svc.market, &job.model_id).await? {
                    Served::Chain(_) => {
                        let (_, acts) = svc.runner.rerun(&svc.market, job_id).await?;
                        let hashes = activation_hashes(&acts);
                        ChallengeClaim::new(&svc.me, job_id, hashes, &result.commitment.0).open(seq)
                    }
                    Served::Graph(_) => {
                        let (_, _, trace) = svc.runner.rerun_graph(&svc.market, job).await?;
                        let Some(claim) = node_claim(svc, job, &trace).await? else {
                            return Ok(());
                        };
                        claim.open(seq)
                    }
                };
                if svc.execute("challenge", &msg).await.is_ok() {
                    info!(job_id, seq, "challenge opened");
                }
            }
            (Some(_), None) if round.is_past(d.reveal_deadline) => {
                let msg = ExecuteMsg::ClaimTimeout { job_id, seq };
                if svc.execute("claim_timeout", &msg).await.is_ok() {
                    info!(job_id, seq, "the worker did not reveal in time");
                }
            }
            (Some(_), Some(_)) if !round.is_past(d.resolve_deadline) => {
                if let Some(msg) = match d.node {
                    Some(node) => resolve_element(svc, job, d, node).await?,
                    None => resolve_unit(svc, job, d).await?,
                } {
                    if svc.execute("resolve", &msg).await.is_ok() {
                        info!(job_id, seq, "one-step check resolved");
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Version 1: the first unit where the worker's revealed activation differs from ours, with
/// the agreed input of its layer and the unit's weights and proof.
async fn resolve_unit(svc: &mut Services, job: &Job, d: &Dispute) -> Result<Option<ExecuteMsg>> {
    let (Some(layer), Some(revealed)) = (d.layer, &d.revealed) else {
        return Ok(None);
    };
    let (served, acts) = svc.runner.rerun(&svc.market, job.id).await?;
    let l = layer as usize;
    let (Some(ours), Some(input)) = (acts.get(l - 1), agreed_input(svc, job, &acts, l).await?)
    else {
        return Ok(None);
    };
    let theirs = to_i8(revealed);
    let Some(unit) = ours.iter().zip(&theirs).position(|(a, b)| a != b) else {
        warn!(
            job_id = job.id,
            seq = d.seq,
            "the revealed layer equals ours: nothing to resolve"
        );
        return Ok(None);
    };
    let (leaf, proof) = served.leaf_and_proof(layer, unit as u32).unzip();
    Ok(Some(ExecuteMsg::Resolve {
        job_id: job.id,
        seq: d.seq,
        unit: unit as u32,
        input: int8_binary(&input),
        leaf,
        proof,
    }))
}

/// Graph models: the first element where the worker's revealed run of `node` (read from its
/// transaction) differs from ours, with core's witness for it.
async fn resolve_element(
    svc: &mut Services,
    job: &Job,
    d: &Dispute,
    node: u32,
) -> Result<Option<ExecuteMsg>> {
    let Some(revealed) = svc.market.revealed_run(d).await? else {
        warn!(
            job_id = job.id,
            seq = d.seq,
            "the revealed run is not in the node's transaction index yet"
        );
        return Ok(None);
    };
    let (model, input, trace) = svc.runner.rerun_graph(&svc.market, job).await?;
    let Some(mismatch) = RunMismatch::find(node, &trace, &revealed) else {
        warn!(
            job_id = job.id,
            seq = d.seq,
            node,
            run = revealed.run,
            "the revealed run equals ours: nothing to resolve"
        );
        return Ok(None);
    };
    let witness = element_witness(&model, &input, &trace, node, mismatch.row, mismatch.col)
        .map_err(|reason| crate::error::WorkerError::Job {
            job_id: job.id,
            reason,
        })?;
    Ok(Some(mismatch.resolve(job.id, d.seq, witness)))
}

fn element_witness(
    model: &ServedGraph,
    input: &TokenInput,
    trace: &Trace,
    node: u32,
    row: u32,
    col: u32,
) -> std::result::Result<tavdun_core::graph::StepWitness, String> {
    // Seconds of hashing for the largest nodes: a blocking section, as the engine's.
    tokio::task::block_in_place(|| {
        prove_element(
            &model.model,
            &model.weights_tree,
            input,
            trace,
            &trace.node_trees(),
            node,
            row,
            col,
        )
        .map_err(|e| e.to_string())
    })
}

/// Our claim against a graph model result: the first node whose root differs from the
/// worker's (read from its post's transaction) and our run roots of it. `None`, with a
/// warning, when the worker's roots cannot be read or do not differ from ours.
async fn node_claim(
    svc: &Services,
    job: &Job,
    trace: &Trace,
) -> Result<Option<NodeChallengeClaim>> {
    let Some(result) = &job.result else {
        return Ok(None);
    };
    let Some(theirs) = svc.market.posted_node_roots(job).await? else {
        warn!(
            job_id = job.id,
            "the worker's node roots are not in the node's transaction index: cannot name a node"
        );
        return Ok(None);
    };
    let trees = trace.node_trees();
    let ours: Vec<_> = trees.iter().map(|t| t.root()).collect();
    let Some(node) = first_divergence(&ours, &theirs) else {
        warn!(
            job_id = job.id,
            "every node root equals ours: nothing to challenge"
        );
        return Ok(None);
    };
    info!(job_id = job.id, node, "the first node whose root differs");
    Ok(trace.node_runs(&trees, node).map(|runs| {
        NodeChallengeClaim::new(&svc.me, job.id, node as u32, runs, &result.commitment.0)
    }))
}

/// Activation `layer - 1` of our run (the job's input for layer 1), which both sides agree on.
async fn agreed_input(
    svc: &mut Services,
    job: &Job,
    acts: &[Vec<i8>],
    layer: usize,
) -> Result<Option<Vec<i8>>> {
    Ok(match layer.checked_sub(2) {
        Some(i) => acts.get(i).cloned(),
        None => Some(svc.runner.input(job).await?),
    })
}

/// Whether the verifier checks a job, from a hash of its id keyed per process: a worker
/// cannot tell which of its results this verifier will check.
fn sampled(hash: u64, share: f64) -> bool {
    share >= 1.0 || ((hash >> 11) as f64 / (1u64 << 53) as f64) < share
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::sampled;

    #[test]
    fn sampling_takes_about_the_configured_share() {
        let seed = std::collections::hash_map::RandomState::new();
        assert!((0..1000).all(|id| sampled(seed.hash_one(id), 1.0)));
        let taken = (0..10_000u64)
            .filter(|&id| sampled(seed.hash_one(id), 0.25))
            .count();
        assert!((2_000..3_000).contains(&taken), "{taken} of 10000 at 0.25");
        assert_eq!(
            sampled(seed.hash_one(42), 0.5),
            sampled(seed.hash_one(42), 0.5)
        );
    }
}
