//! One drill's world: a fresh local network (1 or N validators) with TRN, the market and the
//! digits model deployed, worker nodes as real `tavdun-worker` processes, clients submitting
//! jobs under a bounded load, and the audit at the end.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tavdun_core::Model;
use tavdun_load::audit::{Audit, JobEvents};
use tavdun_load::clients::{self, Ledger, Offer};
use tavdun_load::observe::{self, rpc_url, TICK};
use tavdun_models::digits;
use tavdun_sdk::api::{JobInput, JobStatus};
use tavdun_sdk::model_dir::load_model;
use tavdun_testkit::process::{self, Service};
use tavdun_testkit::world::World;
use tavdun_testkit::{self as testkit, Localnet};
use tokio::task::JoinHandle;

use crate::{Findings, Outcome};

/// Fee per job (micro-TRN): the deployment's minimum.
pub const FEE: u128 = 10_000;
/// Stake each worker bonds: tier 1, collateral for hundreds of jobs at once.
pub const STAKE: &str = "200";

pub struct Scene {
    pub dir: PathBuf,
    pub net: Localnet,
    pub world: World,
    pub model: Model,
    pub model_id: String,
    bin: PathBuf,
    pub ledger: Ledger,
    inputs: Arc<Vec<JobInput>>,
    start_height: u64,
}

/// A running load: the clients' tasks and when they stop.
pub struct Load {
    clients: Vec<JoinHandle<u32>>,
    pub until: Instant,
}

impl Scene {
    /// Starts a network of `validators` in `dir/chain` (wiped first) and deploys on it.
    pub async fn new(dir: &Path, validators: u32) -> anyhow::Result<Scene> {
        // A network left by an interrupted run is stopped before its files go.
        if dir.join("chain").exists() {
            testkit::script(&dir.join("chain"), "wipe");
        }
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
        let net = tokio::task::block_in_place(|| {
            Localnet::start_validators(dir.join("chain"), validators)
        });
        let digits_dir = testkit::repo().join("models/digits");
        let world = World::deploy(dir, std::slice::from_ref(&digits_dir), FEE).await;
        let model_id = world.deployment.models[0].model_id.clone();
        let model = load_model(&digits_dir)?;
        let inputs = clients::digits_inputs(
            &world.market,
            &model_id,
            &testkit::repo().join(digits::DATA_PATH),
        )
        .await?;
        let start_height = world.market.chain().latest_height().await?;
        // The worker and relayer binaries are built beside this one (scripts/drills).
        let bin = std::env::current_exe()?
            .parent()
            .context("the drills binary has a directory")?
            .to_path_buf();
        Ok(Scene {
            dir: dir.to_path_buf(),
            net,
            world,
            model,
            model_id,
            bin,
            ledger: Ledger::default(),
            inputs: Arc::new(inputs),
            start_height,
        })
    }

    pub fn binary(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    /// A worker node process serving the digits model as `account`, bonded with [`STAKE`];
    /// `extra` adds TOML (`roles`, `[faults]`).
    pub fn worker(&self, name: &str, account: &str, extra: &str) -> Service {
        self.worker_staking(name, account, extra, STAKE)
    }

    /// The same, bonding `stake` TRN.
    pub fn worker_staking(&self, name: &str, account: &str, extra: &str, stake: &str) -> Service {
        let bond = format!("[bond]\namount = \"{stake}\"\n");
        process::start_worker(
            &self.binary("tavdun-worker"),
            &self.dir,
            name,
            account,
            &format!("{extra}\n{bond}"),
        )
    }

    /// Waits until each of `accounts` is bonded at tier 1 or more (the nodes bond on start).
    pub async fn bonded(&self, accounts: &[&str]) -> anyhow::Result<()> {
        let workers: Vec<(String, String)> = accounts
            .iter()
            .map(|name| (name.to_string(), World::address(name)))
            .collect();
        observe::bonded(&self.world.market, &workers, Duration::from_secs(90)).await
    }

    /// `client1` and `client2` submit batches of `batch` jobs, `rate` jobs/s together, for
    /// `seconds`.
    pub fn load(&self, rate: f64, batch: u32, seconds: u64) -> Load {
        let offer = Offer {
            model_id: self.model_id.clone(),
            fee: FEE,
            batch,
            rate,
            ttl_secs: 3600,
        };
        let markets = ["client1", "client2"]
            .iter()
            .map(|c| self.world.wallet(c))
            .collect();
        let until = Instant::now() + Duration::from_secs(seconds);
        let clients = clients::spawn(markets, &offer, &self.inputs, until, &self.ledger);
        Load { clients, until }
    }

    /// The latest block's time (seconds): what [`Scene::first_post_after`] compares with.
    pub async fn block_time(&self) -> anyhow::Result<u64> {
        Ok(self.world.market.chain().latest_block().await?.time)
    }

    /// How long after `since` a result was seen in a block later than `block_time` (a block
    /// of the chain that came back, not a result of before the fault read late): a sign that
    /// the market serves again. Waits at most `limit`.
    pub async fn first_post_after(
        &self,
        since: Instant,
        block_time: u64,
        limit: Duration,
    ) -> Option<Duration> {
        let give_up = Instant::now() + limit;
        loop {
            // A failed read (the chain still down) is tried again on the next tick.
            if let Ok(posted) = self.world.market.jobs_with_status(JobStatus::Posted).await {
                let fresh = posted.iter().any(|j| {
                    j.result
                        .as_ref()
                        .is_some_and(|r| r.posted_at.seconds() > block_time)
                });
                if fresh {
                    return Some(since.elapsed());
                }
            }
            if Instant::now() > give_up {
                return None;
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// Waits for the clients to stop, then (at most `drain`) for every job they submitted to
    /// end; then audits the run from the chain.
    pub async fn finish(
        &self,
        load: Load,
        drain: Duration,
        findings: Findings,
    ) -> anyhow::Result<Outcome> {
        let mut failed_submissions = 0;
        for c in load.clients {
            failed_submissions += c.await?;
        }
        let give_up = Instant::now() + drain;
        loop {
            let ids: Vec<u64> = self.acknowledged().into_iter().collect();
            let jobs = tavdun_load::audit::read_jobs(&self.world.market, &ids).await;
            let open = jobs.map_or(usize::MAX, |jobs| {
                jobs.iter().filter(|j| !j.status.is_terminal()).count()
            });
            if open == 0 || Instant::now() > give_up {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(Outcome {
            audit: self.audit().await?,
            failed_submissions,
            findings,
        })
    }

    /// Every job a client was told it submitted.
    pub fn acknowledged(&self) -> BTreeSet<u64> {
        let all = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        all.keys().copied().collect()
    }

    /// The audit of every job submitted since the deployment, from the chain.
    pub async fn audit(&self) -> anyhow::Result<Audit> {
        let market = &self.world.market;
        let block = market.chain().latest_block().await?;
        let events = JobEvents::read(
            &rpc_url(&self.world.deployment),
            market.market_address(),
            self.start_height,
            block.height,
        )
        .await?;
        Audit::run(
            market,
            &self.model,
            &self.acknowledged(),
            &events,
            block.time,
        )
        .await
    }

    /// The jobs `account`'s node holds now, by status.
    pub async fn held_by(&self, account: &str) -> anyhow::Result<Vec<(u64, JobStatus)>> {
        let me = World::address(account);
        let jobs = self
            .world
            .market
            .jobs(Some(tavdun_sdk::api::JobFilter::Worker(me)))
            .await?;
        Ok(jobs.into_iter().map(|j| (j.id, j.status)).collect())
    }
}
