//! The verify role: re-execute others' posted results inside their windows, challenge the
//! first divergent layer, and drive each dispute it opened to its end (resolve with the first
//! wrong unit and its Merkle proof, or claim the timeout of a worker that stays silent).

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::BuildHasher;

use tavdun_core::{activation_hashes, HexHash};
use tavdun_sdk::api::job::int8_binary;
use tavdun_sdk::api::{DisputeOutcome, ExecuteMsg, Job, JobStatus, ReceiveMsg};
use tracing::{info, warn};

use crate::error::Result;
use crate::services::{Round, Services};

/// A result whose window closes sooner than this is left alone: the challenge would land late.
const WINDOW_MARGIN_SECS: u64 = 3;

pub struct Verifier {
    /// Ids of the models whose results this node checks.
    served: Vec<String>,
    /// Share of others' results re-executed, in (0, 1].
    sample: f64,
    /// Others' results already re-executed: job id -> `posted_at` of the result checked.
    checked: HashMap<u64, u64>,
    /// Disputes this node opened and has not seen end.
    challenging: BTreeSet<u64>,
    /// Keys the sampling of jobs, per process.
    sample_seed: RandomState,
}

impl Verifier {
    pub fn new(served: Vec<String>, sample: f64) -> Verifier {
        Verifier {
            served,
            sample,
            checked: HashMap::new(),
            challenging: BTreeSet::new(),
            sample_seed: RandomState::new(),
        }
    }

    pub fn challenging(&self) -> usize {
        self.challenging.len()
    }

    /// Picks up, from the chain, the disputes this node opened (after a restart).
    pub async fn reconcile(&mut self, svc: &Services) -> Result<()> {
        for job in svc.market.jobs_with_status(JobStatus::Disputed).await? {
            let dispute = svc.market.dispute(job.id).await?;
            if dispute.is_some_and(|d| d.challenger.as_str() == svc.me) {
                self.challenging.insert(job.id);
            }
        }
        Ok(())
    }

    /// One poll: drive open disputes, then (unless `check` is false, as when stopping)
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
        let batch = svc.runner.run(&svc.market, model_id, jobs).await?;
        for ((job, input), acts) in batch.jobs.iter().zip(&batch.inputs).zip(batch.activations) {
            let ours: Vec<HexHash> = activation_hashes(&acts).into_iter().map(HexHash).collect();
            let theirs = job.result.as_ref().map_or(&[][..], |r| r.hashes.as_slice());
            let Some(first) = ours.iter().zip(theirs).position(|(a, b)| a != b) else {
                svc.metrics.results_verified.inc();
                continue;
            };
            // Layer `first + 1` diverges; both sides agree on activation `first`.
            let agreed = match first.checked_sub(1) {
                None => input.as_slice(),
                Some(i) => acts[i].as_slice(),
            };
            let hook = ReceiveMsg::Challenge {
                job_id: job.id,
                hashes: ours,
                activation: int8_binary(agreed),
            };
            warn!(
                job_id = job.id,
                worker = ?job.worker,
                layer = first + 1,
                "result differs from our execution: challenging"
            );
            if svc
                .send("challenge", svc.params.challenge_bond.u128(), &hook)
                .await
                .is_ok()
            {
                self.challenging.insert(job.id);
                svc.metrics.challenge("sent");
            }
        }
        Ok(())
    }

    async fn drive_challenges(&mut self, svc: &mut Services, round: &Round) -> Result<()> {
        for job_id in self.challenging.clone() {
            let Some(dispute) = svc.market.dispute(job_id).await? else {
                self.challenging.remove(&job_id);
                continue;
            };
            if !round.is_disputed(job_id) || dispute.outcome.is_some() {
                self.challenging.remove(&job_id);
                match dispute.outcome {
                    Some(DisputeOutcome::ChallengeFailed) => {
                        svc.metrics.challenge("lost");
                        warn!(job_id, "our challenge failed");
                    }
                    Some(outcome) => {
                        svc.metrics.challenge("won");
                        info!(job_id, ?outcome, "the worker was slashed");
                    }
                    None => {}
                }
                continue;
            }
            match (&dispute.revealed, dispute.resolve_deadline) {
                (None, _) if round.now > dispute.reveal_deadline.seconds() => {
                    let msg = ExecuteMsg::ClaimTimeout { job_id };
                    if svc.execute("claim_timeout", &msg).await.is_ok() {
                        info!(job_id, "the worker did not reveal in time");
                    }
                }
                (Some(revealed), Some(deadline)) if round.now <= deadline.seconds() => {
                    let (served, acts) = svc.runner.rerun(&svc.market, job_id).await?;
                    let layer = dispute.layer.checked_sub(1).map(|i| i as usize);
                    let Some(ours) = layer.and_then(|i| acts.get(i)) else {
                        continue;
                    };
                    let theirs = tavdun_core::bytes::to_i8(revealed);
                    let Some(unit) = ours.iter().zip(&theirs).position(|(a, b)| a != b) else {
                        warn!(job_id, "the revealed layer equals ours: nothing to resolve");
                        continue;
                    };
                    let (leaf, proof) = served.leaf_and_proof(dispute.layer, unit as u32).unzip();
                    let msg = ExecuteMsg::Resolve {
                        job_id,
                        unit: unit as u32,
                        leaf,
                        proof,
                    };
                    if svc.execute("resolve", &msg).await.is_ok() {
                        info!(
                            job_id,
                            layer = dispute.layer,
                            unit,
                            "one-step check resolved"
                        );
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
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
