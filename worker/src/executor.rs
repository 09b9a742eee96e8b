//! The execute role: claim what the stake covers, run each model's batch on the engine, post
//! every result of the batch in one transaction, finalize once the windows close.

use std::collections::BTreeMap;
use tavdun_core::{activation_hashes, HexHash};
use tavdun_market::msg::{ExecuteMsg, JobResultMsg};
use tavdun_market::state::{Job, JobStatus};
use tracing::{info, warn};

use crate::error::Result;
use crate::market::binary;
use crate::node::Node;

/// A claim this close to its expiry is not worth running: the post would land too late.
const CLAIM_MARGIN_SECS: u64 = 3;

impl Node {
    pub(crate) async fn claim_and_run(&mut self) -> Result<()> {
        let me = self.market.me();
        let Some(worker) = self.market.worker(&me).await? else {
            if !std::mem::replace(&mut self.warned_unbonded, true) {
                warn!("not bonded: nothing can be claimed (configure [bond] or bond with `tavdun worker bond`)");
            }
            return Ok(());
        };
        let collateral = self.params.collateral_per_job.u128().max(1);
        let mut slots = (worker.free_stake.u128() / collateral) as u32;
        let max = self.cfg.max_batch.min(self.params.max_batch);
        for model_id in self.served.clone() {
            if slots == 0 || worker.worker.tier == 0 {
                break;
            }
            let worth_it = self
                .market
                .queue(&model_id, max)
                .await?
                .iter()
                .filter(|j| j.fee.u128() >= self.cfg.min_fee && j.deadline.seconds() > self.now)
                .count() as u32;
            let n = worth_it.min(slots).min(max);
            if n == 0 {
                continue;
            }
            let claim = ExecuteMsg::ClaimJobs {
                model_id: model_id.clone(),
                max: n,
            };
            let Ok(tx) = self.execute("claim", &claim).await else {
                continue;
            };
            let ids: Vec<u64> = tx
                .wasm_attributes("job_id")
                .filter_map(|id| id.parse().ok())
                .collect();
            self.metrics.jobs_claimed.inc_by(ids.len() as u64);
            info!(model_id = %model_id, jobs = ?ids, "claimed");
            self.faults.crash_after_claim();
            slots = slots.saturating_sub(ids.len() as u32);
            let mut jobs = Vec::with_capacity(ids.len());
            for id in ids {
                let job = self.market.job(id).await?;
                self.unposted.insert(id, job.clone());
                jobs.push(job);
            }
            self.run_and_post(&model_id, jobs).await?;
        }
        Ok(())
    }

    /// Posts claimed jobs left over from a failed post or from before a restart, while their
    /// claims still run; the rest are left to expire (someone calls `ExpireClaims`).
    pub(crate) async fn post_unposted(&mut self) -> Result<()> {
        let mut by_model: BTreeMap<String, Vec<Job>> = BTreeMap::new();
        for (id, job) in std::mem::take(&mut self.unposted) {
            if job
                .claim_expires
                .is_some_and(|t| t.seconds() > self.now + CLAIM_MARGIN_SECS)
            {
                by_model.entry(job.model_id.clone()).or_default().push(job);
            } else {
                warn!(
                    job_id = id,
                    "claim ran out before the result could be posted"
                );
            }
        }
        for (model_id, jobs) in by_model {
            info!(model_id = %model_id, jobs = jobs.len(), "running claimed jobs not yet posted");
            for job in &jobs {
                self.unposted.insert(job.id, job.clone());
            }
            self.run_and_post(&model_id, jobs).await?;
        }
        Ok(())
    }

    /// Runs one model's batch and posts its results; jobs whose post failed stay in
    /// `unposted` if the chain says they are still this node's to post.
    async fn run_and_post(&mut self, model_id: &str, jobs: Vec<Job>) -> Result<()> {
        let batch = self.run_jobs(model_id, jobs).await?;
        let results: Vec<JobResultMsg> = batch
            .jobs
            .iter()
            .zip(batch.activations)
            .map(|(job, mut acts)| {
                self.faults.corrupt(&mut acts);
                JobResultMsg {
                    job_id: job.id,
                    output: binary(acts.last().map_or(&[][..], Vec::as_slice)),
                    hashes: activation_hashes(&acts).into_iter().map(HexHash).collect(),
                }
            })
            .collect();
        for chunk in results.chunks(self.params.max_batch.max(1) as usize) {
            let ids: Vec<u64> = chunk.iter().map(|r| r.job_id).collect();
            let post = ExecuteMsg::PostResults {
                results: chunk.to_vec(),
            };
            match self.execute("post", &post).await {
                Ok(tx) => {
                    let ends = tx
                        .wasm_attributes("challenge_ends")
                        .next()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(self.now + self.params.challenge_window);
                    for id in &ids {
                        self.unposted.remove(id);
                        self.posted.insert(*id, ends);
                    }
                    self.metrics.jobs_posted.inc_by(ids.len() as u64);
                    info!(model_id, jobs = ?ids, challenge_ends = ends, "posted");
                }
                Err(_) => {
                    for id in ids {
                        self.refresh(id).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Finalizes this node's jobs whose windows have closed, a batch per transaction.
    pub(crate) async fn finalize_due(&mut self) -> Result<()> {
        let due: Vec<u64> = self
            .posted
            .iter()
            .filter(|(_, &ends)| ends < self.now)
            .map(|(&id, _)| id)
            .collect();
        for chunk in due.chunks(self.params.max_batch.max(1) as usize) {
            let msg = ExecuteMsg::Finalize {
                job_ids: chunk.to_vec(),
            };
            if self.execute("finalize", &msg).await.is_ok() {
                for id in chunk {
                    self.posted.remove(id);
                }
                self.metrics.jobs_finalized.inc_by(chunk.len() as u64);
                info!(jobs = ?chunk, "finalized");
            } else {
                // One job of the batch changed under us (challenged, finalized by someone
                // else): read each back and try again on the next poll.
                for &id in chunk {
                    self.refresh(id).await?;
                }
            }
        }
        Ok(())
    }

    /// Puts one of this node's jobs back in the right list from what the chain says.
    pub(crate) async fn refresh(&mut self, job_id: u64) -> Result<()> {
        let job = self.market.job(job_id).await?;
        self.unposted.remove(&job_id);
        self.posted.remove(&job_id);
        let mine = job
            .worker
            .as_ref()
            .is_some_and(|w| w.as_str() == self.market.me());
        if mine {
            self.track(job);
        }
        Ok(())
    }

    /// Files one of this node's jobs under what it still owes for it: a post, a
    /// finalization, or an answer to a challenge. Terminal and open jobs owe nothing.
    pub(crate) fn track(&mut self, job: Job) {
        match job.status {
            JobStatus::Claimed => {
                self.unposted.insert(job.id, job);
            }
            JobStatus::Posted => {
                let ends = job
                    .result
                    .as_ref()
                    .map_or(0, |r| r.challenge_ends.seconds());
                self.posted.insert(job.id, ends);
            }
            JobStatus::Disputed => {
                self.defending.insert(job.id);
            }
            _ => {}
        }
    }
}
