//! The node: one loop that polls the chain each block and runs the roles' steps in order.
//! The chain is the only source of truth: on start (and after any failed step) the node
//! reads what it owes from the market, so a restart loses nothing and posts nothing twice.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use tavdun_cli::deployment::Deployment;
use tavdun_client::{ChainClient, ChainConfig, Signer, TxResult, Wallet};
use tavdun_core::activation_hash;
use tavdun_engine::{Activations, Engine, EngineConfig};
use tavdun_market::msg::JobFilter;
use tavdun_market::msg::{ExecuteMsg, Params, ReceiveMsg};
use tavdun_market::state::{Hardware, Job, JobInput, JobStatus};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{Key, WorkerConfig};
use crate::error::{Result, WorkerError};
use crate::faults::Faults;
use crate::fetch::Fetcher;
use crate::http::{self, Health};
use crate::market::Market;
use crate::metrics::{trn, Metrics};
use crate::models::{ModelStore, ServedModel};

/// Largest weights file or input blob the node fetches.
const MAX_FETCH_BYTES: u64 = 512 << 20;
/// Seconds between housekeeping steps (stale claims, balances, withdrawals).
const HOUSEKEEPING_SECS: u64 = 5;

pub struct Node {
    pub(crate) cfg: WorkerConfig,
    pub(crate) market: Market,
    pub(crate) models: ModelStore,
    /// Ids of the models served.
    pub(crate) served: Vec<String>,
    pub(crate) faults: Faults,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) params: Params,
    /// Block time of the current poll: the clock every deadline is read against.
    pub(crate) now: u64,
    last_housekeeping: u64,
    ready: bool,
    pub(crate) warned_unbonded: bool,
    deployment: Deployment,

    /// Claimed by this node and not posted yet (a failed post, or found on restart).
    pub(crate) unposted: BTreeMap<u64, Job>,
    /// Posted by this node: job id -> end of its challenge window.
    pub(crate) posted: BTreeMap<u64, u64>,
    /// This node's jobs under challenge.
    pub(crate) defending: BTreeSet<u64>,
    /// Others' results already re-executed: job id -> `posted_at` of the result checked.
    pub(crate) checked: HashMap<u64, u64>,
    /// Disputes this node opened and has not seen end.
    pub(crate) challenging: BTreeSet<u64>,
    /// Keys the verifier's sampling of jobs.
    pub(crate) sample_seed: RandomState,
}

/// Runs a node until `shutdown`: then it finishes the batch in hand, posts it, and returns.
pub async fn run(cfg: WorkerConfig, shutdown: CancellationToken) -> Result<()> {
    let deployment = Deployment::load(&cfg.deployment)?;
    let defaults = ChainConfig::localnet();
    let chain_cfg = ChainConfig {
        grpc_url: cfg
            .grpc_url
            .clone()
            .unwrap_or_else(|| deployment.grpc_url.clone()),
        chain_id: deployment.chain_id.clone(),
        gas_price: cfg.gas_price.clone().unwrap_or(defaults.gas_price.clone()),
        ..defaults
    };
    let mnemonic = match &cfg.key {
        Key::Mnemonic(m) => m.clone(),
        Key::TestAccount { name, accounts } => tavdun_cli::config::test_mnemonic(accounts, name)?,
    };
    let signer = Signer::from_mnemonic(&mnemonic, &chain_cfg.prefix)?;
    let chain = ChainClient::new(chain_cfg)?;
    let wallet = Wallet::new(chain.clone(), signer)?;
    let market = Market::new(chain, wallet, &deployment);

    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::new(market.me(), cfg.poll_interval));
    if let Some(addr) = cfg.metrics_addr {
        let bound = http::serve(addr, metrics.clone(), health.clone(), shutdown.clone()).await?;
        info!(%bound, "serving /metrics and /health");
    }

    let mut engine_cfg = EngineConfig::from_env()?;
    if let Some(b) = cfg.backend {
        engine_cfg = engine_cfg.with_backend(b);
    }
    let engine = Engine::new(engine_cfg)?;
    info!(address = %market.me(), hardware = %engine.hardware(), roles = ?cfg.roles, "worker starting");
    let fetcher = Fetcher::new(std::time::Duration::from_secs(60), MAX_FETCH_BYTES)?;

    // The chain may not be up yet: wait for it rather than exit.
    let params = loop {
        match market.config().await {
            Ok(c) => break c.config.params,
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
    let mut node = Node {
        models: ModelStore::new(engine, fetcher, cfg.cache_dir.clone()),
        faults: Faults::new(cfg.faults.clone()),
        served: Vec::new(),
        params,
        market,
        metrics,
        cfg,
        now: 0,
        last_housekeeping: 0,
        ready: false,
        warned_unbonded: false,
        deployment,
        unposted: BTreeMap::new(),
        posted: BTreeMap::new(),
        defending: BTreeSet::new(),
        checked: HashMap::new(),
        challenging: BTreeSet::new(),
        sample_seed: RandomState::new(),
    };

    let mut failures = 0u32;
    while !shutdown.is_cancelled() {
        match node.poll(&shutdown).await {
            Ok(height) => {
                failures = 0;
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
            _ = tokio::time::sleep(wait.min(std::time::Duration::from_secs(10))) => {}
            _ = shutdown.cancelled() => {}
        }
    }
    if !node.unposted.is_empty() {
        info!(
            jobs = node.unposted.len(),
            "stopping: posting what was claimed first"
        );
        if let Err(e) = node.post_unposted().await {
            warn!(error = %e, "could not post every claimed job before stopping");
        }
    }
    info!("stopped");
    Ok(())
}

impl Node {
    /// One poll: returns the height it ran at.
    async fn poll(&mut self, shutdown: &CancellationToken) -> Result<u64> {
        let block = self.market.chain().latest_block().await?;
        self.now = block.time;
        self.metrics.chain_height.set(block.height as i64);
        if !self.ready {
            self.start_up().await?;
            self.ready = true;
        }
        let disputed = self.market.jobs_with_status(JobStatus::Disputed).await?;
        if self.cfg.executes() {
            self.defend(&disputed).await?;
            self.post_unposted().await?;
            if !shutdown.is_cancelled() {
                self.claim_and_run().await?;
            }
            self.finalize_due().await?;
        }
        if self.cfg.verifies() {
            self.drive_challenges(&disputed).await?;
            if !shutdown.is_cancelled() {
                self.verify_posted().await?;
            }
        }
        if self.now >= self.last_housekeeping + HOUSEKEEPING_SECS {
            self.last_housekeeping = self.now;
            self.expire_stale_claims().await?;
            self.collect_earnings().await?;
        }
        Ok(block.height)
    }

    /// Once the chain answers: config, models, stake, then what the chain says this node owes.
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
                .map(|m| {
                    self.deployment.model(m).map_or_else(
                        || m.clone(), // not in the deployment file: taken as a model id
                        |d| d.model_id.clone(),
                    )
                })
                .collect()
        };
        for id in &wanted {
            self.models.get(&self.market, id).await?;
        }
        self.served = wanted;
        if self.cfg.executes() {
            self.ensure_bond().await?;
            let me = self.market.me();
            for job in self.market.jobs(JobFilter::Worker(me)).await? {
                self.track(job);
            }
        }
        if self.cfg.verifies() {
            let me = self.market.me();
            for job in self.market.jobs_with_status(JobStatus::Disputed).await? {
                if self.market.dispute(job.id).await?.challenger.as_str() == me {
                    self.challenging.insert(job.id);
                }
            }
        }
        info!(
            unposted = self.unposted.len(),
            posted = self.posted.len(),
            defending = self.defending.len(),
            challenging = self.challenging.len(),
            "reconciled with the chain"
        );
        Ok(())
    }

    /// Bonds (declaring the engine's hardware) or tops up to the configured stake.
    async fn ensure_bond(&mut self) -> Result<()> {
        let Some((amount, max_tier)) = self.cfg.bond else {
            return Ok(());
        };
        let current = self.market.worker(&self.market.me()).await?;
        let stake = current.as_ref().map_or(0, |w| w.worker.stake.u128());
        if stake >= amount {
            return Ok(());
        }
        let hardware = current.is_none().then(|| Hardware {
            description: truncate(&self.models.engine().hardware().to_string(), 128),
            max_tier,
        });
        let hook = ReceiveMsg::Bond { hardware };
        self.send("bond", amount - stake, &hook).await?;
        info!(stake = trn(amount), "bonded");
        Ok(())
    }

    /// Returns jobs whose claim timed out to the queue, so that they are served again.
    async fn expire_stale_claims(&mut self) -> Result<()> {
        let stale: Vec<u64> = self
            .market
            .jobs_with_status(JobStatus::Claimed)
            .await?
            .into_iter()
            .filter(|j| j.claim_expires.is_some_and(|t| t.seconds() < self.now))
            .map(|j| j.id)
            .collect();
        for chunk in stale.chunks(self.params.max_batch.max(1) as usize) {
            let msg = ExecuteMsg::ExpireClaims {
                job_ids: chunk.to_vec(),
            };
            if self.execute("expire_claims", &msg).await.is_ok() {
                info!(jobs = ?chunk, "expired stale claims");
            }
        }
        Ok(())
    }

    /// Keeps the stake and claimable gauges current and withdraws what the market owes.
    async fn collect_earnings(&mut self) -> Result<()> {
        let me = self.market.me();
        if let Some(w) = self.market.worker(&me).await? {
            self.metrics.stake_trn.set(trn(w.worker.stake.u128()));
        }
        let claimable = self.market.claimable(&me).await?;
        self.metrics.claimable_trn.set(trn(claimable));
        if claimable > 0
            && self
                .execute("withdraw", &ExecuteMsg::Withdraw { amount: None })
                .await
                .is_ok()
        {
            info!(amount = trn(claimable), "withdrew earnings");
            self.metrics.claimable_trn.set(0.0);
        }
        Ok(())
    }

    /// The job's int8 input: inline, or fetched and checked against the job's input hash.
    pub(crate) async fn input(&self, job: &Job) -> Result<Vec<i8>> {
        match &job.input {
            JobInput::Inline { data } => Ok(data.iter().map(|&b| b as i8).collect()),
            JobInput::Blob { hash, uri } => {
                let bytes: Vec<i8> = self
                    .models
                    .fetcher()
                    .get(uri)
                    .await?
                    .into_iter()
                    .map(|b| b as i8)
                    .collect();
                if activation_hash(0, &bytes) != hash.0 {
                    return Err(WorkerError::InputMismatch {
                        job_id: job.id,
                        uri: uri.clone(),
                    });
                }
                Ok(bytes)
            }
        }
    }

    /// Signs and sends `msg`; a failure is logged and counted, and the caller re-reads the
    /// chain rather than retrying blindly.
    pub(crate) async fn execute(&self, kind: &'static str, msg: &ExecuteMsg) -> Result<TxResult> {
        self.settle(kind, self.market.execute(msg).await)
    }

    /// Pays `amount` TRN into the market with `hook`.
    pub(crate) async fn send(
        &self,
        kind: &'static str,
        amount: u128,
        hook: &ReceiveMsg,
    ) -> Result<TxResult> {
        self.settle(kind, self.market.send(amount, hook).await)
    }

    fn settle(&self, kind: &'static str, result: Result<TxResult>) -> Result<TxResult> {
        if let Err(e) = &result {
            self.metrics.tx_failed(kind, e.reason_label());
            warn!(kind, error = %e, "transaction failed");
        }
        result
    }

    /// Runs one model's jobs as one batch on the engine. A job whose input cannot be read is
    /// left out with a warning (if it was claimed, the claim expires and the job is served
    /// again). Returns the jobs run, their inputs and their activations, in the same order.
    pub(crate) async fn run_jobs(&mut self, model_id: &str, jobs: Vec<Job>) -> Result<Batch> {
        let served = self.models.get(&self.market, model_id).await?;
        let mut batch = Batch::default();
        for job in jobs {
            match self.input(&job).await {
                Ok(input) => {
                    batch.inputs.push(input);
                    batch.jobs.push(job);
                }
                Err(e) => warn!(job_id = job.id, error = %e, "cannot read the job's input"),
            }
        }
        if batch.jobs.is_empty() {
            return Ok(batch);
        }
        let started = Instant::now();
        batch.activations = served.run(&batch.inputs)?;
        let secs = started.elapsed().as_secs_f64();
        self.metrics.batch_size.observe(batch.jobs.len() as f64);
        for _ in &batch.jobs {
            self.metrics.inference_seconds.observe(secs);
        }
        Ok(batch)
    }

    /// Runs one job again (for a reveal or a resolve): its model and every layer's output.
    pub(crate) async fn rerun(&mut self, job_id: u64) -> Result<(Arc<ServedModel>, Activations)> {
        let job = self.market.job(job_id).await?;
        let served = self.models.get(&self.market, &job.model_id).await?;
        let input = self.input(&job).await?;
        let acts = served.run(&[input])?.pop().ok_or(WorkerError::Job {
            job_id,
            reason: "the engine returned no activations".into(),
        })?;
        Ok((served, acts))
    }
}

#[derive(Default)]
pub(crate) struct Batch {
    pub jobs: Vec<Job>,
    pub inputs: Vec<Vec<i8>>,
    pub activations: Vec<Activations>,
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
