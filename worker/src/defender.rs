//! The worker's side of the dispute game: it owns this node's challenged results, reveals the
//! challenged layer before the deadline, and collects the bond when nobody proves the result
//! wrong. A result that stands again goes back to the executor to be finalized.

use std::collections::BTreeSet;

use tavdun_sdk::api::job::int8_binary;
use tavdun_sdk::api::{DisputeOutcome, ExecuteMsg, Job};
use tracing::{error, info, warn};

use crate::error::Result;
use crate::services::{Round, Services};

#[derive(Default)]
pub struct Defender {
    /// This node's jobs under challenge.
    defending: BTreeSet<u64>,
}

impl Defender {
    pub fn defending(&self) -> usize {
        self.defending.len()
    }

    /// One poll; returns the jobs whose challenge failed, whose results stand again.
    pub async fn step(&mut self, svc: &mut Services, round: &Round) -> Result<Vec<Job>> {
        for job in &round.disputed {
            if job.is_worked_by(&svc.me) && self.defending.insert(job.id) {
                svc.metrics.dispute("received");
                warn!(job_id = job.id, "our result is challenged");
            }
        }
        let mut standing = Vec::new();
        for job_id in self.defending.clone() {
            let Some(dispute) = svc.market.dispute(job_id).await? else {
                self.defending.remove(&job_id);
                continue;
            };
            if !round.is_disputed(job_id) {
                self.defending.remove(&job_id);
                match dispute.outcome {
                    Some(DisputeOutcome::ChallengeFailed) => {
                        svc.metrics.dispute("won");
                        info!(
                            job_id,
                            "challenge failed: the bond is ours, the result stands"
                        );
                        standing.push(svc.market.require_job(job_id).await?);
                    }
                    Some(outcome) => {
                        svc.metrics.dispute("lost");
                        error!(job_id, ?outcome, "slashed");
                    }
                    None => {}
                }
                continue;
            }
            match (&dispute.revealed, dispute.resolve_deadline) {
                (None, _) if svc.faults.withholds_reveal() => {}
                (None, _) if round.now <= dispute.reveal_deadline.seconds() => {
                    let (_, mut acts) = svc.runner.rerun(&svc.market, job_id).await?;
                    // The same (possibly faulty) computation as the post, so the reveal
                    // matches the hash this node committed to.
                    svc.faults.corrupt(&mut acts);
                    let layer = dispute.layer.checked_sub(1).map(|i| i as usize);
                    let Some(activation) = layer.and_then(|i| acts.get(i)) else {
                        continue;
                    };
                    let msg = ExecuteMsg::Reveal {
                        job_id,
                        activation: int8_binary(activation),
                    };
                    if svc.execute("reveal", &msg).await.is_ok() {
                        info!(
                            job_id,
                            layer = dispute.layer,
                            "revealed the challenged layer"
                        );
                    }
                }
                (Some(_), Some(deadline)) if round.now > deadline.seconds() => {
                    let msg = ExecuteMsg::ClaimTimeout { job_id };
                    if svc.execute("claim_timeout", &msg).await.is_ok() {
                        info!(job_id, "nobody showed a mismatch in time");
                    }
                }
                _ => {}
            }
        }
        Ok(standing)
    }
}
