//! One end-to-end world for every program's tests: TRN and the market deployed on a real
//! local network, the test accounts' wallets, balances, and job helpers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cosmwasm_std::Uint128;
use tavdun_market_api::{Job, JobInput, JobRequest};
use tavdun_sdk::client::{ChainClient, ChainConfig, Wallet};
use tavdun_sdk::deploy::{deploy, localnet_params, DeployOptions, TEST_ACCOUNTS};
use tavdun_sdk::{Deployment, MarketClient};

use crate::{artifacts, grpc_url, signer, test_accounts};

/// Every test account funded by a deployment gets this much TRN (micro-TRN).
pub const FUND: u128 = 100_000 * 1_000_000;

pub struct World {
    /// Where the test keeps its files (`deployment.json`, logs, caches).
    pub dir: PathBuf,
    pub deployment: Deployment,
    /// A read-only client of the market.
    pub market: MarketClient,
}

/// The local network's chain settings, at the endpoint this process's network listens on.
pub fn chain_config() -> ChainConfig {
    ChainConfig {
        grpc_url: grpc_url(),
        ..ChainConfig::localnet()
    }
}

fn chain() -> ChainClient {
    ChainClient::new(chain_config()).expect("the localnet chain config is valid")
}

impl World {
    /// Deploys TRN, the market (with the local network's parameters) and the models in
    /// `models` as `deployer`, funds every test account, and writes `dir/deployment.json`.
    pub async fn deploy(dir: &Path, models: &[PathBuf], min_fee: u128) -> World {
        let opts = DeployOptions {
            artifacts: artifacts(),
            models: models.to_vec(),
            fund: TEST_ACCOUNTS.iter().map(|s| s.to_string()).collect(),
            fund_amount: FUND,
            min_fee,
            params: localnet_params(),
            pin_codes: true,
        };
        let deployment = deploy(
            chain_config(),
            signer("deployer"),
            &test_accounts(),
            &opts,
            |_| {},
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "deploy failed ({e}); are the artifacts built (scripts/build-wasm)? {}",
                artifacts().display()
            )
        });
        deployment
            .save(&dir.join("deployment.json"))
            .expect("the deployment file is written");
        World::open(dir)
    }

    /// The world of a deployment another program wrote to `dir/deployment.json`.
    pub fn open(dir: &Path) -> World {
        let deployment = Deployment::load(&dir.join("deployment.json")).expect("a deployment");
        World {
            dir: dir.to_path_buf(),
            market: MarketClient::new(chain(), &deployment),
            deployment,
        }
    }

    pub fn deployment_file(&self) -> PathBuf {
        self.dir.join("deployment.json")
    }

    /// A test account's address.
    pub fn address(name: &str) -> String {
        signer(name).address().to_string()
    }

    /// The market, signing as a test account.
    pub fn wallet(&self, name: &str) -> MarketClient {
        let chain = chain();
        let wallet = Wallet::new(chain.clone(), signer(name)).expect("a wallet");
        MarketClient::new(chain, &self.deployment).with_wallet(wallet)
    }

    pub async fn trn(&self, address: &str) -> u128 {
        self.market.trn_balance(address).await.expect("balance")
    }

    pub async fn job(&self, job_id: u64) -> Job {
        self.market.require_job(job_id).await.expect("job")
    }

    /// TRN of every holder: the deployer (also the treasury), the test accounts, the market.
    pub async fn balances(&self) -> BTreeMap<String, u128> {
        let mut all = BTreeMap::new();
        for name in TEST_ACCOUNTS.iter().chain(&["deployer"]) {
            all.insert(name.to_string(), self.trn(&World::address(name)).await);
        }
        let market = self.market.market_address().to_string();
        all.insert("market".into(), self.trn(&market).await);
        all
    }

    /// The market's TRN balance equals what its books say it holds.
    pub async fn assert_books_balance(&self) {
        let stats = self.market.stats().await.expect("stats");
        let held = self.trn(self.market.market_address()).await;
        assert_eq!(stats.held.u128(), held, "books {:?}", stats.totals);
    }

    /// Submits one job per input from test account `client`, all in one transaction (so
    /// they reach the queue together), each paying `fee`; returns their ids.
    pub async fn submit(
        &self,
        client: &str,
        model_id: &str,
        inputs: &[Vec<i8>],
        fee: u128,
        ttl_secs: u64,
    ) -> Vec<u64> {
        let inputs = inputs.iter().map(|i| JobInput::inline(i)).collect();
        self.submit_inputs(client, model_id, inputs, fee, ttl_secs)
            .await
    }

    /// [`World::submit`] of inputs of any kind (token ids for a graph model).
    pub async fn submit_inputs(
        &self,
        client: &str,
        model_id: &str,
        inputs: Vec<JobInput>,
        fee: u128,
        ttl_secs: u64,
    ) -> Vec<u64> {
        let wallet = self.wallet(client);
        let deadline = wallet.deadline_in(ttl_secs).await.expect("block time");
        let jobs = inputs
            .into_iter()
            .map(|input| JobRequest {
                model_id: model_id.to_string(),
                input,
                fee: Uint128::new(fee),
                deadline,
            })
            .collect();
        wallet.submit_jobs(jobs).await.expect("jobs submitted").0
    }

    /// Polls until `done` holds for every job; after `timeout`, panics with the jobs' states
    /// and what `context` adds (logs, for instance).
    pub async fn wait_for(
        &self,
        ids: &[u64],
        what: &str,
        timeout: Duration,
        done: impl Fn(&Job) -> bool,
        context: impl Fn() -> String,
    ) -> Vec<Job> {
        let start = Instant::now();
        loop {
            let mut jobs = Vec::with_capacity(ids.len());
            for &id in ids {
                jobs.push(self.job(id).await);
            }
            if jobs.iter().all(&done) {
                return jobs;
            }
            if start.elapsed() > timeout {
                let states: Vec<_> = jobs.iter().map(|j| (j.id, j.status, &j.worker)).collect();
                panic!("timed out waiting for {what}: {states:?}{}", context());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Waits until a transaction sent now runs in a block after `height` (a committed challenge
/// opens only then). The node's application state, where a transaction is simulated, can
/// trail the newest block header by a moment, so this waits for the block after the next one.
/// Panics after 30 s.
pub async fn wait_past(chain: &ChainClient, height: i64) {
    let start = Instant::now();
    while chain.latest_height().await.expect("latest block") as i64 <= height + 1 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no block after height {height} for 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
