//! The worker's side of the dispute game: reveal the challenged layer before the deadline,
//! and collect the bond when nobody proves the result wrong.

use std::collections::BTreeSet;

use tavdun_market::msg::ExecuteMsg;
use tavdun_market::state::{DisputeOutcome, Job};
use tracing::{error, info, warn};

use crate::error::Result;
use crate::market::binary;
use crate::node::Node;

impl Node {
    /// `disputed` is every job now in `Disputed`, read once per poll.
    pub(crate) async fn defend(&mut self, disputed: &[Job]) -> Result<()> {
        let me = self.market.me();
        let open: BTreeSet<u64> = disputed.iter().map(|j| j.id).collect();
        for job in disputed {
            if job.worker.as_ref().is_some_and(|w| w.as_str() == me)
                && self.defending.insert(job.id)
            {
                self.posted.remove(&job.id);
                self.metrics.dispute("received");
                warn!(job_id = job.id, "our result is challenged");
            }
        }
        for job_id in self.defending.clone() {
            let dispute = self.market.dispute(job_id).await?;
            if !open.contains(&job_id) {
                self.defending.remove(&job_id);
                match dispute.outcome {
                    Some(DisputeOutcome::ChallengeFailed) => {
                        self.metrics.dispute("won");
                        info!(
                            job_id,
                            "challenge failed: the bond is ours, the result stands"
                        );
                        self.refresh(job_id).await?;
                    }
                    Some(outcome) => {
                        self.metrics.dispute("lost");
                        error!(job_id, ?outcome, "slashed");
                    }
                    None => {}
                }
                continue;
            }
            match (&dispute.revealed, dispute.resolve_deadline) {
                (None, _) if self.faults.withholds_reveal() => {}
                (None, _) if self.now <= dispute.reveal_deadline.seconds() => {
                    let (_, mut acts) = self.rerun(job_id).await?;
                    // The same (possibly faulty) computation as the post, so the reveal
                    // matches the hash this node committed to.
                    self.faults.corrupt(&mut acts);
                    let layer = dispute.layer.checked_sub(1).map(|i| i as usize);
                    let Some(activation) = layer.and_then(|i| acts.get(i)) else {
                        continue;
                    };
                    let msg = ExecuteMsg::Reveal {
                        job_id,
                        activation: binary(activation),
                    };
                    if self.execute("reveal", &msg).await.is_ok() {
                        info!(
                            job_id,
                            layer = dispute.layer,
                            "revealed the challenged layer"
                        );
                    }
                }
                (Some(_), Some(deadline)) if self.now > deadline.seconds() => {
                    let msg = ExecuteMsg::ClaimTimeout { job_id };
                    if self.execute("claim_timeout", &msg).await.is_ok() {
                        info!(job_id, "nobody showed a mismatch in time");
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}
