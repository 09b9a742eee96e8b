//! Prometheus metrics of one node (names prefixed `tavdun_worker_`).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TxFailure {
    /// The message: `claim`, `post`, `finalize`, `reveal`, `challenge`, ...
    pub kind: &'static str,
    /// `contract`, `chain_unavailable`, `sequence`, `inclusion_timeout`, ...
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub jobs_claimed: Counter,
    pub jobs_posted: Counter,
    pub jobs_finalized: Counter,
    /// Others' results re-executed by the verifier and found equal.
    pub results_verified: Counter,
    /// Seconds from the start of a batch on the engine to its end, once per job.
    pub inference_seconds: Histogram,
    pub batch_size: Histogram,
    /// Challenges this node made: `sent`, `won`, `lost`.
    pub challenges: Family<Outcome, Counter>,
    /// Challenges against this node's results: `received`, `won`, `lost`.
    pub disputes: Family<Outcome, Counter>,
    pub tx_failures: Family<TxFailure, Counter>,
    pub stake_trn: Gauge<f64, AtomicU64>,
    pub claimable_trn: Gauge<f64, AtomicU64>,
    pub chain_height: Gauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("tavdun_worker");
        let m = Metrics {
            jobs_claimed: Counter::default(),
            jobs_posted: Counter::default(),
            jobs_finalized: Counter::default(),
            results_verified: Counter::default(),
            inference_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            challenges: Family::default(),
            disputes: Family::default(),
            tx_failures: Family::default(),
            stake_trn: Gauge::default(),
            claimable_trn: Gauge::default(),
            chain_height: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register("jobs_claimed", "Jobs claimed", m.jobs_claimed.clone());
        registry.register("jobs_posted", "Results posted", m.jobs_posted.clone());
        registry.register(
            "jobs_finalized",
            "Own jobs finalized",
            m.jobs_finalized.clone(),
        );
        registry.register(
            "results_verified",
            "Others' results re-executed and found equal",
            m.results_verified.clone(),
        );
        registry.register(
            "inference_seconds",
            "Engine time of the batch each job ran in",
            m.inference_seconds.clone(),
        );
        registry.register("batch_size", "Jobs per engine batch", m.batch_size.clone());
        registry.register(
            "challenges",
            "Challenges made by this node",
            m.challenges.clone(),
        );
        registry.register(
            "disputes",
            "Challenges against this node's results",
            m.disputes.clone(),
        );
        registry.register(
            "tx_failures",
            "Transactions that failed, by message and reason",
            m.tx_failures.clone(),
        );
        registry.register("stake_trn", "Bonded stake, TRN", m.stake_trn.clone());
        registry.register(
            "claimable_trn",
            "Balance claimable from the market, TRN",
            m.claimable_trn.clone(),
        );
        registry.register("chain_height", "Latest block seen", m.chain_height.clone());
        Metrics { registry, ..m }
    }

    pub fn challenge(&self, outcome: &'static str) {
        self.challenges.get_or_create(&Outcome { outcome }).inc();
    }

    pub fn dispute(&self, outcome: &'static str) {
        self.disputes.get_or_create(&Outcome { outcome }).inc();
    }

    pub fn tx_failed(&self, kind: &'static str, reason: &'static str) {
        self.tx_failures
            .get_or_create(&TxFailure { kind, reason })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped Grafana dashboard only queries metrics this node exports.
    #[test]
    fn the_dashboard_reads_exported_metrics() {
        let m = Metrics::new();
        m.challenge("sent");
        m.dispute("received");
        m.tx_failed("post", "contract");
        let text = m.encode();
        let dashboard = include_str!("../../../docs/grafana/tavdun-worker.json");
        let mut names: Vec<&str> = dashboard
            .match_indices("tavdun_worker_")
            .map(|(i, _)| {
                let rest = &dashboard[i..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        assert!(names.len() >= 10, "{names:?}");
        for name in names {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&format!("{name} "))
                        || l.starts_with(&format!("{name}{{"))),
                "the dashboard queries {name}, which /metrics does not export:\n{text}"
            );
        }
    }
}
