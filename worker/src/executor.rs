//! The execute role: claim what the stake covers, run each model's batch on the engine, post
//! every result of the batch in one transaction, finalize once the windows close. It owns
//! what the node still owes for its jobs: claims not posted yet and results in their window.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use tavdun_sdk::api::{Addr, GraphResultMsg, Job, JobFilter, JobResultMsg, JobStatus, Timestamp};
use tavdun_sdk::client::TxResult;
use tavdun_sdk::MarketClient;
use tracing::{info, warn};

use crate::error::Result;
use crate::models::Served;
use crate::services::{Round, Services};

/// A claim this close to its expiry is not worth running: the post would land too late.
const CLAIM_MARGIN_SECS: u64 = 3;

pub struct Executor {
    /// Ids of the models served, in claiming order.
    served: Vec<String>,
    max_batch: u32,
    /// Micro-TRN: jobs paying less are left to others.
    min_fee: u128,
    /// Claimed by this node and not posted yet (a failed post, or found on restart).
    unposted: BTreeMap<u64, Job>,
    /// Posted by this node: job id -> end of its challenge window.
    posted: BTreeMap<u64, u64>,
    warned_unbonded: bool,
}

impl Executor {
    pub fn new(served: Vec<String>, max_batch: u32, min_fee: u128) -> Executor {
        Executor {
            served,
            max_batch,
            min_fee,
            unposted: BTreeMap::new(),
            posted: BTreeMap::new(),
            warned_unbonded: false,
        }
    }

    /// Claims not posted yet and results in their window, for the start-up log.
    pub fn owed(&self) -> (usize, usize) {
        (self.unposted.len(), self.posted.len())
    }

    /// Picks up, from the chain, what this node owes for its jobs (after a restart).
    pub async fn reconcile(&mut self, svc: &Services) -> Result<()> {
        for job in svc
            .market
            .jobs(Some(JobFilter::Worker(svc.me.clone())))
            .await?
        {
            self.track(job);
        }
        Ok(())
    }

    /// One poll: post leftover claims, claim and run new jobs (unless `claim` is false, as
    /// when stopping), finalize results whose windows closed.
    pub async fn step(&mut self, svc: &mut Services, round: &Round, claim: bool) -> Result<()> {
        // A challenged result is the defender's until its dispute ends.
        self.posted.retain(|&id, _| !round.is_disputed(id));
        self.post_unposted(svc, round.now).await?;
        if claim {
            self.claim_and_run(svc, round.now).await?;
        }
        self.finalize_due(svc, round.now).await
    }

    /// Before the node stops: posts what it claimed, so no claim is left to expire.
    pub async fn finish(&mut self, svc: &mut Services, now: u64) -> Result<()> {
        if !self.unposted.is_empty() {
            info!(
                jobs = self.unposted.len(),
                "stopping: posting what was claimed first"
            );
        }
        self.post_unposted(svc, now).await
    }

    /// Results that stand again after a failed challenge: finalize them when their new
    /// window closes.
    pub fn take_back(&mut self, jobs: Vec<Job>) {
        for job in jobs {
            self.track(job);
        }
    }

    async fn claim_and_run(&mut self, svc: &mut Services, now: u64) -> Result<()> {
        let Some(worker) = svc.market.worker(&svc.me).await? else {
            if !std::mem::replace(&mut self.warned_unbonded, true) {
                warn!("not bonded: nothing can be claimed (configure [bond] or bond with `tavdun worker bond`)");
            }
            return Ok(());
        };
        let mut free = worker.free_stake;
        let max = self.max_batch.min(svc.params.max_batch);
        for model_id in self.served.clone() {
            if free.is_zero() || worker.worker.tier == 0 {
                break;
            }
            // The queue's head, best-paying first, as far as the fee is worth it and the free
            // stake covers each job's collateral (which grows with its fee).
            let mut n = 0u32;
            let page = svc.market.queue_page(&model_id, None, max).await?;
            for job in &page {
                let collateral = svc.params.collateral_for(job.fee);
                if job.fee.u128() < self.min_fee
                    || job.deadline.seconds() <= now
                    || collateral > free
                {
                    break;
                }
                free -= collateral;
                n += 1;
            }
            if n == 0 {
                continue;
            }
            let claimed = svc
                .market
                .claim_jobs(&model_id, n)
                .await
                .map_err(Into::into);
            let Ok((ids, tx)) = svc.settle("claim", claimed) else {
                continue;
            };
            svc.metrics.jobs_claimed.inc_by(ids.len() as u64);
            info!(model_id = %model_id, jobs = ?ids, "claimed");
            svc.faults.crash_after_claim();
            // The jobs claimed are the head of the queue just read, and a job's input never
            // changes: take them from the page with the claim's expiry instead of reading
            // each back (a claim of 100 jobs was 100 queries). One the page did not show
            // (the queue moved in between) is read.
            let expires = tx
                .wasm_attributes("claim_expires")
                .next()
                .and_then(|s| s.parse().ok())
                .map(Timestamp::from_seconds);
            let mut page: HashMap<u64, Job> = page.into_iter().map(|j| (j.id, j)).collect();
            let mut jobs = Vec::with_capacity(ids.len());
            for id in ids {
                let job = match (page.remove(&id), expires) {
                    (Some(job), Some(at)) => Job {
                        status: JobStatus::Claimed,
                        worker: Some(Addr::unchecked(&svc.me)),
                        collateral: svc.params.collateral_for(job.fee),
                        claim_expires: Some(at),
                        ..job
                    },
                    _ => svc.market.require_job(id).await?,
                };
                self.unposted.insert(id, job.clone());
                jobs.push(job);
            }
            self.run_and_post(svc, &model_id, jobs, now).await?;
        }
        Ok(())
    }

    /// Posts claimed jobs left over from a failed post or from before a restart, while their
    /// claims still run; the rest are left to expire (someone calls `ExpireClaims`).
    async fn post_unposted(&mut self, svc: &mut Services, now: u64) -> Result<()> {
        let mut by_model: BTreeMap<String, Vec<Job>> = BTreeMap::new();
        for (id, job) in std::mem::take(&mut self.unposted) {
            if job
                .claim_expires
                .is_some_and(|t| t.seconds() > now + CLAIM_MARGIN_SECS)
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
            self.run_and_post(svc, &model_id, jobs, now).await?;
        }
        Ok(())
    }

    /// Runs one model's batch and posts its results; jobs whose post failed stay in
    /// `unposted` if the chain says they are still this node's to post.
    async fn run_and_post(
        &mut self,
        svc: &mut Services,
        model_id: &str,
        jobs: Vec<Job>,
        now: u64,
    ) -> Result<()> {
        let results = match svc.runner.models().get(&svc.market, model_id).await? {
            Served::Chain(_) => {
                let batch = svc.runner.run(&svc.market, model_id, jobs).await?;
                Results::Chain(
                    batch
                        .jobs
                        .iter()
                        .zip(batch.activations)
                        .map(|(job, mut acts)| {
                            svc.faults.corrupt(&mut acts);
                            JobResultMsg::new(job.id, &acts)
                        })
                        .collect(),
                )
            }
            Served::Graph(_) => {
                let batch = svc.runner.run_graph(&svc.market, model_id, jobs).await?;
                let spec = &batch.model.model.spec;
                Results::Graph(
                    batch
                        .jobs
                        .iter()
                        .zip(batch.traces)
                        .map(|(job, mut trace)| {
                            svc.faults.corrupt_trace(spec, &mut trace);
                            GraphResultMsg::new(job.id, &trace)
                        })
                        .collect(),
                )
            }
        };
        let all = results.job_ids();
        let limit = svc.batch_limit();
        for start in (0..all.len()).step_by(limit) {
            let range = start..(start + limit).min(all.len());
            let ids = all[range.clone()].to_vec();
            let posted = results.post(&svc.market, range).await.map_err(Into::into);
            match svc.settle("post", posted) {
                Ok(tx) => {
                    let ends = tx
                        .wasm_attributes("challenge_ends")
                        .next()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(now + svc.params.challenge_window);
                    for id in &ids {
                        self.unposted.remove(id);
                        self.posted.insert(*id, ends);
                    }
                    svc.metrics.jobs_posted.inc_by(ids.len() as u64);
                    info!(model_id, jobs = ?ids, challenge_ends = ends, "posted");
                }
                Err(_) => {
                    for id in ids {
                        self.refresh(svc, id).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Finalizes this node's jobs whose windows have closed, a batch per transaction.
    async fn finalize_due(&mut self, svc: &Services, now: u64) -> Result<()> {
        let due: Vec<u64> = self
            .posted
            .iter()
            .filter(|(_, &ends)| ends < now)
            .map(|(&id, _)| id)
            .collect();
        for chunk in due.chunks(svc.batch_limit()) {
            let finalized = svc
                .market
                .finalize(chunk.to_vec())
                .await
                .map_err(Into::into);
            if svc.settle("finalize", finalized).is_ok() {
                for id in chunk {
                    self.posted.remove(id);
                }
                svc.metrics.jobs_finalized.inc_by(chunk.len() as u64);
                info!(jobs = ?chunk, "finalized");
            } else {
                // One job of the batch changed under us (challenged, finalized by someone
                // else): read each back and try again on the next poll.
                for &id in chunk {
                    self.refresh(svc, id).await?;
                }
            }
        }
        Ok(())
    }

    /// Puts one of this node's jobs back in the right list from what the chain says.
    async fn refresh(&mut self, svc: &Services, job_id: u64) -> Result<()> {
        let job = svc.market.require_job(job_id).await?;
        self.unposted.remove(&job_id);
        self.posted.remove(&job_id);
        if job.is_worked_by(&svc.me) {
            self.track(job);
        }
        Ok(())
    }

    /// Files one of this node's jobs under what it still owes for it: a post or a
    /// finalization. Disputed jobs are the defender's; terminal and open jobs owe nothing.
    fn track(&mut self, job: Job) {
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
            _ => {}
        }
    }
}

/// One batch's results, ready to post: a version 1 model's or a graph model's.
enum Results {
    Chain(Vec<JobResultMsg>),
    Graph(Vec<GraphResultMsg>),
}

impl Results {
    fn job_ids(&self) -> Vec<u64> {
        match self {
            Results::Chain(r) => r.iter().map(|r| r.job_id).collect(),
            Results::Graph(r) => r.iter().map(|r| r.job_id).collect(),
        }
    }

    /// Posts the results in `range` in one transaction.
    async fn post(
        &self,
        market: &MarketClient,
        range: Range<usize>,
    ) -> tavdun_sdk::Result<TxResult> {
        match self {
            Results::Chain(r) => market.post_results(r[range].to_vec()).await,
            Results::Graph(r) => market.post_graph_results(r[range].to_vec()).await,
        }
    }
}
