//! The worker's side of the dispute game: it owns this node's challenged results, answers
//! each challenge before the deadline (a version 1 model's with its hashes and its activation
//! of the first divergent layer; a graph model's with its node roots and its first row of the
//! challenged node that differs from the challenger's), and closes the challenges that fail
//! (collecting its share of their bonds). A result that stands again goes back to the
//! executor to be finalized.
//!
//! Nothing is kept between the post and a challenge: the engine is deterministic, so running
//! the job again (with the same configured fault, if any) gives the very bytes the node
//! committed to, after a restart as well.

use std::collections::BTreeSet;

use tavdun_core::{activation_hashes, HexHash};
use tavdun_sdk::api::job::int8_binary;
use tavdun_sdk::api::{reveal_row, Dispute, ExecuteMsg, Job, JobStatus};
use tracing::{error, info, warn};

use crate::error::Result;
use crate::services::{Round, Services};

#[derive(Default)]
pub struct Defender {
    /// This node's jobs under challenge.
    defending: BTreeSet<u64>,
    /// Challenges seen, `(job, seq)`, so each is counted once.
    seen: BTreeSet<(u64, u32)>,
}

impl Defender {
    pub fn defending(&self) -> usize {
        self.defending.len()
    }

    /// One poll; returns the jobs whose challenges all failed, whose results stand again.
    pub async fn step(&mut self, svc: &mut Services, round: &Round) -> Result<Vec<Job>> {
        for job in &round.disputed {
            if job.is_worked_by(&svc.me) {
                self.defending.insert(job.id);
            }
        }
        let mut standing = Vec::new();
        for job_id in self.defending.clone() {
            let job = svc.market.require_job(job_id).await?;
            let disputes = svc.market.disputes(job_id).await?;
            for d in &disputes {
                if self.seen.insert((job_id, d.seq)) {
                    svc.metrics.dispute("received");
                    warn!(job_id, seq = d.seq, challenger = %d.challenger, "our result is challenged");
                }
            }
            if job.status != JobStatus::Disputed || !job.is_worked_by(&svc.me) {
                self.defending.remove(&job_id);
                match job.status {
                    JobStatus::Posted | JobStatus::Finalized if job.is_worked_by(&svc.me) => {
                        svc.metrics.dispute("won");
                        info!(job_id, "every challenge failed: the result stands");
                        standing.push(job);
                    }
                    _ => {
                        svc.metrics.dispute("lost");
                        let outcome = disputes.iter().rev().find_map(|d| d.outcome.clone());
                        error!(job_id, ?outcome, "slashed");
                    }
                }
                continue;
            }
            let window_ends = job
                .result
                .as_ref()
                .map_or(0, |r| r.challenge_ends.seconds());
            for d in disputes.iter().filter(|d| d.is_open()) {
                self.answer(svc, round, &job, d, window_ends).await?;
            }
        }
        Ok(standing)
    }

    async fn answer(
        &mut self,
        svc: &mut Services,
        round: &Round,
        job: &Job,
        d: &Dispute,
        window_ends: u64,
    ) -> Result<()> {
        let (job_id, seq) = (job.id, d.seq);
        match (d.opened_at, d.resolve_deadline) {
            // Committed and never opened: the bond is partly ours once the window is over.
            (None, _) if round.now >= window_ends => self.timeout(svc, job_id, seq).await,
            (Some(_), None) if svc.faults.withholds_reveal() => Ok(()),
            (Some(_), None) if !round.is_past(d.reveal_deadline) => match d.node {
                Some(node) => self.reveal_row(svc, job, d, node).await,
                None => self.reveal_layer(svc, job, d).await,
            },
            (Some(_), Some(_)) if round.is_past(d.resolve_deadline) => {
                self.timeout(svc, job_id, seq).await
            }
            _ => Ok(()),
        }
    }

    /// Version 1: our hashes and our activation of the first layer where they differ from
    /// the challenger's.
    async fn reveal_layer(&self, svc: &mut Services, job: &Job, d: &Dispute) -> Result<()> {
        let (job_id, seq) = (job.id, d.seq);
        let (_, mut acts) = svc.runner.rerun(&svc.market, job_id).await?;
        // The same (possibly faulty) computation as the post, so the reveal opens the
        // commitment this node posted.
        svc.faults.corrupt(&mut acts);
        let ours: Vec<HexHash> = activation_hashes(&acts).into_iter().map(HexHash).collect();
        let Some(first) = ours
            .iter()
            .zip(&d.challenger_hashes)
            .position(|(a, b)| a != b)
        else {
            return Ok(());
        };
        let msg = ExecuteMsg::Reveal {
            job_id,
            seq,
            hashes: ours,
            activation: int8_binary(&acts[first]),
        };
        if svc.execute("reveal", &msg).await.is_ok() {
            info!(
                job_id,
                seq,
                layer = first + 1,
                "revealed the challenged layer"
            );
        }
        Ok(())
    }

    /// Graph models: our node roots and our first row of `node` that differs from the
    /// challenger's row leaves (read from its transaction), or the roots alone when none
    /// differs, which ends the challenge.
    async fn reveal_row(
        &self,
        svc: &mut Services,
        job: &Job,
        d: &Dispute,
        node: u32,
    ) -> Result<()> {
        let (job_id, seq) = (job.id, d.seq);
        let Some(theirs) = svc.market.challenged_runs(d).await? else {
            warn!(
                job_id,
                seq, "the challenger's runs are not in the node's transaction index yet"
            );
            return Ok(());
        };
        let (model, _, mut trace) = svc.runner.rerun_graph(&svc.market, job).await?;
        svc.faults.corrupt_trace(&model.model.spec, &mut trace);
        let Some(msg) = reveal_row(job_id, seq, node, &trace, &theirs) else {
            warn!(
                job_id,
                seq, node, "the challenged node is not a node of the model"
            );
            return Ok(());
        };
        if svc.execute("reveal_row", &msg).await.is_ok() {
            info!(job_id, seq, node, "revealed a run of the challenged node");
        }
        Ok(())
    }

    async fn timeout(&mut self, svc: &Services, job_id: u64, seq: u32) -> Result<()> {
        let msg = ExecuteMsg::ClaimTimeout { job_id, seq };
        if svc.execute("claim_timeout", &msg).await.is_ok() {
            info!(
                job_id,
                seq, "the challenge failed: nobody showed a mismatch in time"
            );
        }
        Ok(())
    }
}
