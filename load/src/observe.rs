//! What the load run measures: posted results (first seen, per job), the nodes' own counts of
//! posted and finalized jobs (their `/metrics`), the jobs' final states, and the gas of every
//! transaction in the run's blocks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tavdun_sdk::api::JobStatus;
use tavdun_sdk::{Deployment, MarketClient};
use tavdun_testkit::process::metric;

use crate::audit;

/// A submitted job: when its submission was included, and when its result was first seen.
pub struct Submitted {
    pub at: Instant,
    pub posted: Option<Instant>,
}

/// Job pages read per tick at most, so the observer never floods the node it measures.
const PAGES_PER_TICK: usize = 8;
pub const PAGE: u32 = 50;
pub const TICK: Duration = Duration::from_millis(500);

pub struct Observer {
    market: MarketClient,
    http: reqwest::Client,
    metrics_ports: Vec<u16>,
}

/// Counts of the nodes' `tavdun_worker_jobs_posted_total` and `..._finalized_total`.
#[derive(Clone, Copy, Default)]
struct Counts {
    posted: f64,
    finalized: f64,
}

pub struct Report {
    submitted: usize,
    /// Posted during the submission period, by the nodes' counts.
    posted_in_window: f64,
    posted: f64,
    finalized: f64,
    refunded: usize,
    unfinished: usize,
    latencies: Vec<Duration>,
    finished_after: Duration,
}

impl Observer {
    pub fn new(market: MarketClient, metrics_ports: Vec<u16>) -> Observer {
        Observer {
            market,
            http: reqwest::Client::new(),
            metrics_ports,
        }
    }

    async fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for port in &self.metrics_ports {
            let url = format!("http://127.0.0.1:{port}/metrics");
            let Ok(text) = self
                .http
                .get(url)
                .send()
                .await
                .and_then(|r| r.error_for_status())
            else {
                continue;
            };
            let text = text.text().await.unwrap_or_default();
            c.posted += metric(&text, "tavdun_worker_jobs_posted_total");
            c.finalized += metric(&text, "tavdun_worker_jobs_finalized_total");
        }
        c
    }

    /// Marks results first seen since the last tick, reading from the oldest job not yet seen
    /// posted onwards.
    async fn see_posted(&self, submitted: &Mutex<BTreeMap<u64, Submitted>>) -> anyhow::Result<()> {
        let first = {
            let all = submitted.lock().unwrap_or_else(|e| e.into_inner());
            all.iter()
                .find(|(_, s)| s.posted.is_none())
                .map(|(&id, _)| id)
        };
        let Some(first) = first else { return Ok(()) };
        let mut start_after = Some(first - 1);
        for _ in 0..PAGES_PER_TICK {
            let page = self.market.jobs_page(None, start_after, PAGE).await?;
            let now = Instant::now();
            {
                let mut all = submitted.lock().unwrap_or_else(|e| e.into_inner());
                for job in &page.jobs {
                    let done = matches!(
                        job.status,
                        JobStatus::Posted | JobStatus::Disputed | JobStatus::Finalized
                    );
                    if let Some(s) = all.get_mut(&job.id).filter(|s| done && s.posted.is_none()) {
                        s.posted = Some(now);
                    }
                }
            }
            match page.next_start_after {
                Some(next) => start_after = Some(next),
                None => break,
            }
        }
        Ok(())
    }

    /// Watches until the clients stopped (`until`) and every job finalized, or `drain` more.
    pub async fn run(
        &self,
        submitted: Arc<Mutex<BTreeMap<u64, Submitted>>>,
        started: Instant,
        until: std::time::Instant,
        drain: Duration,
    ) -> anyhow::Result<Report> {
        let base = self.counts().await;
        let mut at_until = None;
        let give_up = until + drain;
        loop {
            tokio::time::sleep(TICK).await;
            if let Err(e) = self.see_posted(&submitted).await {
                eprintln!("observer: {e}");
            }
            let now = Instant::now();
            let counts = self.counts().await;
            if now >= until && at_until.is_none() {
                at_until = Some(counts);
            }
            let total = submitted.lock().unwrap_or_else(|e| e.into_inner()).len() as f64;
            let done = counts.finalized - base.finalized >= total;
            if (now >= until && done) || now >= give_up {
                let (ids, mut latencies): (Vec<u64>, Vec<Duration>) = {
                    let all = submitted.lock().unwrap_or_else(|e| e.into_inner());
                    let latencies = all
                        .values()
                        .filter_map(|s| s.posted.map(|p| p - s.at))
                        .collect();
                    (all.keys().copied().collect(), latencies)
                };
                latencies.sort();
                let (refunded, unfinished) = self.final_states(&ids).await?;
                let window = at_until.unwrap_or(counts);
                return Ok(Report {
                    submitted: ids.len(),
                    posted_in_window: window.posted - base.posted,
                    posted: counts.posted - base.posted,
                    finalized: counts.finalized - base.finalized,
                    refunded,
                    unfinished,
                    latencies,
                    finished_after: now - started,
                });
            }
        }
    }
}

impl Observer {
    /// How many of `ids` (ascending) ended refunded or cancelled, and how many have not ended.
    async fn final_states(&self, ids: &[u64]) -> anyhow::Result<(usize, usize)> {
        let jobs = audit::read_jobs(&self.market, ids).await?;
        let refunded = jobs
            .iter()
            .filter(|j| matches!(j.status, JobStatus::Refunded | JobStatus::Cancelled))
            .count();
        let ended = jobs.iter().filter(|j| j.status.is_terminal()).count();
        Ok((refunded, ids.len() - ended))
    }
}

/// Waits until every worker of `workers` (name, address) is bonded at tier 1 or more (nodes
/// bond when they start), at most `limit` in all.
pub async fn bonded(
    market: &MarketClient,
    workers: &[(String, String)],
    limit: Duration,
) -> anyhow::Result<()> {
    let since = Instant::now();
    for (name, address) in workers {
        while market
            .worker(address)
            .await?
            .is_none_or(|w| w.worker.tier == 0)
        {
            if since.elapsed() > limit {
                anyhow::bail!("worker {name} did not bond within {} s", limit.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    Ok(())
}

/// CometBFT's RPC endpoint of the deployment's node (next to its gRPC port on a local
/// network), or `$TAVDUN_RPC_URL`.
pub fn rpc_url(deployment: &Deployment) -> String {
    std::env::var("TAVDUN_RPC_URL").unwrap_or_else(|_| {
        deployment
            .grpc_url
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u32>().ok())
            .map_or("http://127.0.0.1:26657".into(), |grpc| {
                format!("http://127.0.0.1:{}", grpc - 9090 + 26657)
            })
    })
}

/// The results of every transaction in blocks `from..=to` (CometBFT's `block_results`).
pub async fn tx_results(rpc: &str, from: u64, to: u64) -> anyhow::Result<Vec<serde_json::Value>> {
    let http = reqwest::Client::new();
    let mut all = Vec::new();
    for height in from..=to {
        let mut r: serde_json::Value = http
            .get(format!("{rpc}/block_results?height={height}"))
            .send()
            .await?
            .json()
            .await?;
        if let serde_json::Value::Array(txs) = r["result"]["txs_results"].take() {
            all.extend(txs);
        }
    }
    Ok(all)
}

/// Gas used by every transaction in blocks `from..=to`.
pub async fn gas_used(deployment: &Deployment, from: u64, to: u64) -> anyhow::Result<u128> {
    let txs = tx_results(&rpc_url(deployment), from, to).await?;
    Ok(txs
        .iter()
        .filter_map(|tx| tx["gas_used"].as_str()?.parse::<u128>().ok())
        .sum())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

impl Report {
    pub fn print(&self, seconds: u64, submit_errors: u32, gas: u128) {
        let secs = seconds as f64;
        println!(
            "submitted     {:>8}  ({:.1} jobs/s)",
            self.submitted,
            self.submitted as f64 / secs
        );
        println!(
            "posted        {:>8}  ({:.1} jobs/s sustained over the {seconds} s of submissions; {} by the end)",
            self.posted_in_window, self.posted_in_window / secs, self.posted
        );
        println!(
            "finalized     {:>8}  (all of them {:.0} s after the first submission)",
            self.finalized,
            self.finished_after.as_secs_f64()
        );
        println!("refunded      {:>8}", self.refunded);
        println!(
            "unfinished    {:>8}  (lost: not finalized, refunded or cancelled by the end)",
            self.unfinished
        );
        println!("failed submissions {submit_errors}");
        let per_job = if self.finalized > 0.0 {
            gas as f64 / self.finalized
        } else {
            0.0
        };
        println!("gas           {gas} in all, {per_job:.0} per finalized job (every transaction of the run)");
        println!(
            "latency to posted: p50 {:.2} s, p99 {:.2} s (submission included -> result seen, polled every {} ms)",
            percentile(&self.latencies, 0.5).as_secs_f64(),
            percentile(&self.latencies, 0.99).as_secs_f64(),
            TICK.as_millis()
        );
    }
}
