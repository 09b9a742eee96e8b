//! The verify role: re-execute others' posted results inside their windows, challenge the
//! first divergent layer, and drive each dispute to its end (resolve with the first wrong
//! unit and its Merkle proof, or claim the timeout of a worker that stays silent).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::BuildHasher;

use tavdun_core::{activation_hashes, HexHash};
use tavdun_market::msg::{ExecuteMsg, ReceiveMsg};
use tavdun_market::state::{DisputeOutcome, Job, JobStatus};
use tracing::{info, warn};

use crate::error::Result;
use crate::market::binary;
use crate::node::Node;

/// A result whose window closes sooner than this is left alone: the challenge would land late.
const WINDOW_MARGIN_SECS: u64 = 3;

impl Node {
    pub(crate) async fn verify_posted(&mut self) -> Result<()> {
        let me = self.market.me();
        let posted = self.market.jobs_with_status(JobStatus::Posted).await?;
        let live: HashSet<u64> = posted.iter().map(|j| j.id).collect();
        self.checked.retain(|id, _| live.contains(id));
        let mut todo: BTreeMap<String, Vec<Job>> = BTreeMap::new();
        for job in posted {
            let Some(result) = &job.result else { continue };
            let posted_at = result.posted_at.seconds();
            if !self.served.contains(&job.model_id)
                || job.worker.as_ref().is_some_and(|w| w.as_str() == me)
                || result.challenge_ends.seconds() <= self.now + WINDOW_MARGIN_SECS
                || self.checked.get(&job.id) == Some(&posted_at)
            {
                continue;
            }
            self.checked.insert(job.id, posted_at);
            if sampled(self.sample_seed.hash_one(job.id), self.cfg.verify_sample) {
                todo.entry(job.model_id.clone()).or_default().push(job);
            }
        }
        for (model_id, jobs) in todo {
            self.check_batch(&model_id, jobs).await?;
        }
        Ok(())
    }

    async fn check_batch(&mut self, model_id: &str, jobs: Vec<Job>) -> Result<()> {
        let batch = self.run_jobs(model_id, jobs).await?;
        for ((job, input), acts) in batch.jobs.iter().zip(&batch.inputs).zip(batch.activations) {
            let ours: Vec<HexHash> = activation_hashes(&acts).into_iter().map(HexHash).collect();
            let theirs = job.result.as_ref().map_or(&[][..], |r| r.hashes.as_slice());
            let Some(first) = ours.iter().zip(theirs).position(|(a, b)| a != b) else {
                self.metrics.results_verified.inc();
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
                activation: binary(agreed),
            };
            warn!(
                job_id = job.id,
                worker = ?job.worker,
                layer = first + 1,
                "result differs from our execution: challenging"
            );
            if self
                .send("challenge", self.params.challenge_bond.u128(), &hook)
                .await
                .is_ok()
            {
                self.challenging.insert(job.id);
                self.metrics.challenge("sent");
            }
        }
        Ok(())
    }

    /// `disputed` is every job now in `Disputed`, read once per poll.
    pub(crate) async fn drive_challenges(&mut self, disputed: &[Job]) -> Result<()> {
        let open: BTreeSet<u64> = disputed.iter().map(|j| j.id).collect();
        for job_id in self.challenging.clone() {
            let dispute = self.market.dispute(job_id).await?;
            if !open.contains(&job_id) || dispute.outcome.is_some() {
                self.challenging.remove(&job_id);
                match dispute.outcome {
                    Some(DisputeOutcome::ChallengeFailed) => {
                        self.metrics.challenge("lost");
                        warn!(job_id, "our challenge failed");
                    }
                    Some(outcome) => {
                        self.metrics.challenge("won");
                        info!(job_id, ?outcome, "the worker was slashed");
                    }
                    None => {}
                }
                continue;
            }
            match (&dispute.revealed, dispute.resolve_deadline) {
                (None, _) if self.now > dispute.reveal_deadline.seconds() => {
                    let msg = ExecuteMsg::ClaimTimeout { job_id };
                    if self.execute("claim_timeout", &msg).await.is_ok() {
                        info!(job_id, "the worker did not reveal in time");
                    }
                }
                (Some(revealed), Some(deadline)) if self.now <= deadline.seconds() => {
                    let (served, acts) = self.rerun(job_id).await?;
                    let layer = dispute.layer.checked_sub(1).map(|i| i as usize);
                    let Some(ours) = layer.and_then(|i| acts.get(i)) else {
                        continue;
                    };
                    let Some(unit) = ours
                        .iter()
                        .zip(revealed.iter())
                        .position(|(&a, &b)| a != b as i8)
                    else {
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
                    if self.execute("resolve", &msg).await.is_ok() {
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
