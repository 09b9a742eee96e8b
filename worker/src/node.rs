//! The node: one loop that polls the chain each block and drives its roles (executor,
//! defender, verifier) in order. The chain is the only source of truth: on start the roles
//! read what the node owes from the market, so a restart loses nothing and posts nothing
//! twice.

use std::sync::Arc;
use std::time::Duration;

use tavdun_engine::{Engine, EngineConfig};
use tavdun_sdk::amount::trn_f64;
use tavdun_sdk::api::{ExecuteMsg, HardwareDeclaration, JobStatus};
use tavdun_sdk::client::{ChainClient, ChainConfig, Wallet};
use tavdun_sdk::{Deployment, MarketClient};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::WorkerConfig;
use crate::defender::Defender;
use crate::error::{Result, WorkerError};
use crate::executor::Executor;
use crate::faults::Faults;
use crate::fetch::Fetcher;
use crate::models::{ModelStore, Served};
use crate::runner::Runner;
use crate::services::{Round, Services};
use crate::telemetry::{self, Health, Metrics};
use crate::verifier::Verifier;

/// Largest weights file or input blob the node fetches.
const MAX_FETCH_BYTES: u64 = 512 << 20;
/// Seconds between housekeeping steps (stale claims, balances, withdrawals).
const HOUSEKEEPING_SECS: u64 = 5;
/// Longest wait between polls while the chain stays out of reach.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// The market keeps a hardware description of at most this many bytes.
const MAX_HARDWARE_TEXT: usize = 128;

struct Node {
    cfg: WorkerConfig,
    svc: Services,
    executor: Option<Executor>,
    defender: Defender,
    verifier: Option<Verifier>,
    /// Ids of the models served, once the chain answered.
    served: Vec<String>,
    deployment: Deployment,
    last_housekeeping: u64,
    ready: bool,
}

/// Runs a node until `shutdown`: then it finishes the batch in hand, posts it, and returns.
pub async fn run(cfg: WorkerConfig, shutdown: CancellationToken) -> Result<()> {
    let deployment = Deployment::load(&cfg.deployment)?;
    let mut defaults = ChainConfig::localnet();
    if let Some(price) = &cfg.gas_price {
        defaults.gas_price = price.clone();
    }
    let mut chain_cfg = deployment.chain_config(defaults);
    if let Some(url) = &cfg.grpc_url {
        chain_cfg.grpc_url = url.clone();
    }
    let signer = cfg.key.signer(&chain_cfg.prefix)?;
    let chain = ChainClient::new(chain_cfg)?;
    let wallet = Wallet::new(chain.clone(), signer)?;
    let me = wallet.address();
    let market = MarketClient::new(chain, &deployment).with_wallet(wallet);

    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::new(me.clone(), cfg.poll_interval));
    if let Some(addr) = cfg.metrics_addr {
        let bound =
            telemetry::serve(addr, metrics.clone(), health.clone(), shutdown.clone()).await?;
        info!(%bound, "serving /metrics and /health");
    }

    let mut engine_cfg = EngineConfig::from_env()?;
    if let Some(b) = cfg.backend {
        engine_cfg = engine_cfg.with_backend(b);
    }
    let engine = Engine::new(engine_cfg)?;
    info!(address = %me, device = %engine.device_report(), roles = ?cfg.roles, "worker starting");
    let fetcher = Fetcher::new(Duration::from_secs(60), MAX_FETCH_BYTES)?;

    // The chain may not be up yet: wait for it rather than exit.
    let params = loop {
        match market.params().await {
            Ok(p) => break p,
            Err(e) => {
                warn!(error = %e, "cannot read the market config yet; retrying");
                health.poll_failed(e.to_string());
                tokio::select! {
                    _ = tokio::time::sleep(cfg.poll_interval * 4) => {}
                    _ = shutdown.cancelled() => return Ok(()),
                }
            }
        }
    };
    let models = ModelStore::new(engine, fetcher, cfg.cache_dir.clone());
    let mut node = Node {
        svc: Services {
            runner: Runner::new(models, metrics.clone()),
            faults: Faults::new(cfg.faults.clone()),
            market,
            me,
            params,
            metrics,
        },
        executor: None,
        defender: Defender::default(),
        verifier: None,
        served: Vec::new(),
        deployment,
        cfg,
        last_housekeeping: 0,
        ready: false,
    };

    let mut failures = 0u32;
    let mut now = 0;
    while !shutdown.is_cancelled() {
        match node.poll(&shutdown).await {
            Ok((height, time)) => {
                failures = 0;
                now = time;
                health.poll_ok(height);
            }
            Err(e) => {
                // Back off while the chain (or a model's weights) stays out of reach.
                failures = failures.saturating_add(1);
                warn!(error = %e, failures, "poll failed; retrying");
                health.poll_failed(e.to_string());
            }
        }
        let wait = node.cfg.poll_interval * 2u32.pow(failures.min(5));
        tokio::select! {
            _ = tokio::time::sleep(wait.min(MAX_BACKOFF)) => {}
            _ = shutdown.cancelled() => {}
        }
    }
    if let Some(executor) = node.executor.as_mut() {
        if let Err(e) = executor.finish(&mut node.svc, now).await {
            warn!(error = %e, "could not post every claimed job before stopping");
        }
    }
    info!("stopped");
    Ok(())
}

impl Node {
    /// One poll: returns the height and block time it ran at.
    async fn poll(&mut self, shutdown: &CancellationToken) -> Result<(u64, u64)> {
        let block = self.svc.market.chain().latest_block().await?;
        self.svc.metrics.chain_height.set(block.height as i64);
        if !self.ready {
            self.start_up().await?;
            self.ready = true;
        }
        let round = Round {
            now: block.time,
            disputed: self
                .svc
                .market
                .jobs_with_status(JobStatus::Disputed)
                .await?,
        };
        let going_on = !shutdown.is_cancelled();
        if let Some(executor) = self.executor.as_mut() {
            let standing = self.defender.step(&mut self.svc, &round).await?;
            executor.take_back(standing);
            executor.step(&mut self.svc, &round, going_on).await?;
        }
        if let Some(verifier) = self.verifier.as_mut() {
            verifier.step(&mut self.svc, &round, going_on).await?;
        }
        if round.now >= self.last_housekeeping + HOUSEKEEPING_SECS {
            self.last_housekeeping = round.now;
            self.expire_stale_claims(round.now).await?;
            self.collect_earnings().await?;
        }
        Ok((block.height, block.time))
    }

    /// Once the chain answers: models, stake, then what the chain says this node owes.
    async fn start_up(&mut self) -> Result<()> {
        let wanted: Vec<String> = if self.cfg.models.is_empty() {
            self.deployment
                .models
                .iter()
                .map(|m| m.model_id.clone())
                .collect()
        } else {
            self.cfg
                .models
                .iter()
                .map(|m| self.deployment.model_id(m))
                .collect()
        };
        for id in &wanted {
            let served = self.svc.runner.models().get(&self.svc.market, id).await?;
            if let Served::Graph(graph) = served {
                // A lie at a node the model lacks would be no lie at all: refuse to start.
                self.svc
                    .faults
                    .wrong_node(&graph.model.spec)
                    .map_err(|reason| WorkerError::Config {
                        field: "faults.wrong_node",
                        reason,
                    })?;
            }
        }
        self.served = wanted;
        if self.cfg.executes() {
            self.ensure_bond().await?;
            let mut executor =
                Executor::new(self.served.clone(), self.cfg.max_batch, self.cfg.min_fee);
            executor.reconcile(&self.svc).await?;
            self.executor = Some(executor);
        }
        if self.cfg.verifies() {
            let mut verifier = Verifier::new(self.served.clone(), self.cfg.verify_sample);
            verifier.reconcile(&self.svc).await?;
            self.verifier = Some(verifier);
        }
        let (unposted, posted) = self.executor.as_ref().map_or((0, 0), Executor::owed);
        info!(
            unposted,
            posted,
            defending = self.defender.defending(),
            challenging = self.verifier.as_ref().map_or(0, Verifier::challenging),
            "reconciled with the chain"
        );
        Ok(())
    }

    /// Bonds (declaring the engine's device) or tops up to the configured stake.
    async fn ensure_bond(&mut self) -> Result<()> {
        let Some((amount, max_tier)) = self.cfg.bond else {
            return Ok(());
        };
        let current = self.svc.market.worker(&self.svc.me).await?;
        let stake = current.as_ref().map_or(0, |w| w.worker.stake.u128());
        if stake >= amount {
            return Ok(());
        }
        let device = self
            .svc
            .runner
            .models()
            .engine()
            .device_report()
            .to_string();
        let hardware = current.is_none().then(|| HardwareDeclaration {
            description: truncate(&device, MAX_HARDWARE_TEXT),
            max_tier,
        });
        let bonded = self.svc.market.bond(amount - stake, hardware).await;
        self.svc.settle("bond", bonded.map_err(Into::into))?;
        info!(stake = trn_f64(amount), "bonded");
        Ok(())
    }

    /// Returns jobs whose claim timed out to the queue, so that they are served again.
    async fn expire_stale_claims(&mut self, now: u64) -> Result<()> {
        let stale: Vec<u64> = self
            .svc
            .market
            .jobs_with_status(JobStatus::Claimed)
            .await?
            .into_iter()
            .filter(|j| j.claim_expires.is_some_and(|t| t.seconds() < now))
            .map(|j| j.id)
            .collect();
        for chunk in stale.chunks(self.svc.batch_limit()) {
            let msg = ExecuteMsg::ExpireClaims {
                job_ids: chunk.to_vec(),
            };
            if self.svc.execute("expire_claims", &msg).await.is_ok() {
                info!(jobs = ?chunk, "expired stale claims");
            }
        }
        Ok(())
    }

    /// Keeps the stake and claimable gauges current and withdraws what the market owes.
    async fn collect_earnings(&mut self) -> Result<()> {
        let svc = &self.svc;
        if let Some(w) = svc.market.worker(&svc.me).await? {
            svc.metrics.stake_trn.set(trn_f64(w.worker.stake.u128()));
        }
        let claimable = svc.market.claimable(&svc.me).await?;
        svc.metrics.claimable_trn.set(trn_f64(claimable));
        if claimable > 0
            && svc
                .execute("withdraw", &ExecuteMsg::Withdraw { amount: None })
                .await
                .is_ok()
        {
            info!(amount = trn_f64(claimable), "withdrew earnings");
            svc.metrics.claimable_trn.set(0.0);
        }
        Ok(())
    }
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
