//! What the node's roles share: the market (signing as the node), the chain's parameters,
//! the job runner, telemetry and the test-only faults; and [`Round`], one poll's view of the
//! chain, which every role reads instead of asking again.

use std::sync::Arc;

use tavdun_sdk::api::{ExecuteMsg, Job, Params, Timestamp};
use tavdun_sdk::client::TxResult;
use tavdun_sdk::MarketClient;
use tracing::warn;

use crate::error::Result;
use crate::faults::Faults;
use crate::runner::Runner;
use crate::telemetry::Metrics;

pub struct Services {
    pub market: MarketClient,
    /// The node's own address.
    pub me: String,
    pub params: Params,
    pub runner: Runner,
    pub metrics: Arc<Metrics>,
    pub faults: Faults,
}

/// One poll of the chain.
pub struct Round {
    /// Block time of the poll: the clock every deadline is read against.
    pub now: u64,
    /// Every job in `Disputed`, read once per poll.
    pub disputed: Vec<Job>,
}

impl Round {
    pub fn is_disputed(&self, job_id: u64) -> bool {
        self.disputed.iter().any(|j| j.id == job_id)
    }

    /// Whether a deadline is set and behind this poll.
    pub fn is_past(&self, deadline: Option<Timestamp>) -> bool {
        deadline.is_some_and(|t| self.now > t.seconds())
    }
}

impl Services {
    /// Most items one market message may carry.
    pub fn batch_limit(&self) -> usize {
        self.params.max_batch.max(1) as usize
    }

    /// Signs and sends `msg`; a failure is logged and counted, and the caller re-reads the
    /// chain rather than retrying blindly.
    pub async fn execute(&self, kind: &'static str, msg: &ExecuteMsg) -> Result<TxResult> {
        self.settle(kind, self.market.execute(msg).await.map_err(Into::into))
    }

    /// Counts and logs a failed transaction of `kind`; passes the result on.
    pub fn settle<T>(&self, kind: &'static str, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            self.metrics.tx_failed(kind, e.reason_label());
            warn!(kind, error = %e, "transaction failed");
        }
        result
    }
}
