//! [`MarketClient`]: the market contract as typed calls (the shape of cw-plus'
//! `Cw20Contract`: an address with its queries and messages). Every list query either follows
//! the contract's pages to the end or takes a cursor; job ids come from what the transaction
//! reports; deadlines are reckoned from block time, the clock the contract uses.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cosmwasm_std::{Timestamp, Uint128};
use serde::de::DeserializeOwned;
use tavdun_client::{ChainClient, Event, TxResult, Wallet};
use tavdun_core::graph::{decode_values, run_tree, split_hashes, trace_root};
use tavdun_core::{Hash, MerkleTree};
use tavdun_market_api::{
    ClaimableResponse, ConfigResponse, DiagnosticResponse, Dispute, DisputeResponse,
    DisputesResponse, ExecuteMsg, GraphModelInfo, GraphModelResponse, GraphModelsResponse,
    GraphResultMsg, HardwareDeclaration, Job, JobFilter, JobInput, JobRequest, JobResponse,
    JobResultMsg, JobStatus, JobsResponse, ModelInfo, ModelResponse, ModelsResponse, Params,
    QueryMsg, QueueCursor, ReceiveMsg, RevealedRun, StatsResponse, WorkerInfo, WorkerResponse,
    WorkersResponse, MAX_PAGE,
};

use crate::deployment::Deployment;
use crate::error::{Result, SdkError};

/// The market of one deployment, read-only or with a wallet that signs.
#[derive(Clone)]
pub struct MarketClient {
    chain: ChainClient,
    market: String,
    token: String,
    wallet: Option<Arc<Wallet>>,
}

impl MarketClient {
    /// A read-only client of `deployment`'s market.
    pub fn new(chain: ChainClient, deployment: &Deployment) -> MarketClient {
        MarketClient {
            chain,
            market: deployment.market.address.clone(),
            token: deployment.token.address.clone(),
            wallet: None,
        }
    }

    /// The same market, signing with `wallet`.
    pub fn with_wallet(mut self, wallet: Wallet) -> MarketClient {
        self.wallet = Some(Arc::new(wallet));
        self
    }

    pub fn chain(&self) -> &ChainClient {
        &self.chain
    }

    pub fn market_address(&self) -> &str {
        &self.market
    }

    pub fn token_address(&self) -> &str {
        &self.token
    }

    fn wallet(&self) -> Result<&Wallet> {
        self.wallet.as_deref().ok_or(SdkError::NoWallet)
    }

    /// The signing account's address.
    pub fn signer_address(&self) -> Result<String> {
        Ok(self.wallet()?.address())
    }

    // Queries

    async fn query<R: DeserializeOwned>(&self, msg: &QueryMsg) -> Result<R> {
        Ok(self.chain.query(&self.market, msg).await?)
    }

    pub async fn config(&self) -> Result<ConfigResponse> {
        self.query(&QueryMsg::Config {}).await
    }

    pub async fn params(&self) -> Result<Params> {
        Ok(self.config().await?.config.params)
    }

    pub async fn model(&self, model_id: &str) -> Result<Option<ModelInfo>> {
        let r: ModelResponse = self
            .query(&QueryMsg::Model {
                model_id: model_id.to_string(),
            })
            .await?;
        Ok(r.model)
    }

    /// The model, or [`SdkError::NotFound`].
    pub async fn require_model(&self, model_id: &str) -> Result<ModelInfo> {
        self.model(model_id)
            .await?
            .ok_or_else(|| SdkError::NotFound {
                what: "model",
                id: model_id.to_string(),
            })
    }

    /// Every registered model, page after page.
    pub async fn models(&self) -> Result<Vec<ModelInfo>> {
        self.all_pages(
            |start_after| QueryMsg::Models {
                start_after,
                limit: Some(MAX_PAGE),
            },
            |page: ModelsResponse| page.models,
            |m| m.model_id.clone(),
        )
        .await
    }

    /// Every item of a list keyed by model id, following its pages to the end.
    async fn all_pages<R: DeserializeOwned, T>(
        &self,
        query: impl Fn(Option<String>) -> QueryMsg,
        items: impl Fn(R) -> Vec<T>,
        key: impl Fn(&T) -> String,
    ) -> Result<Vec<T>> {
        let mut all: Vec<T> = Vec::new();
        loop {
            let page = items(self.query(&query(all.last().map(&key))).await?);
            let done = page.len() < MAX_PAGE as usize;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    pub async fn graph_model(&self, model_id: &str) -> Result<Option<GraphModelInfo>> {
        let r: GraphModelResponse = self
            .query(&QueryMsg::GraphModel {
                model_id: model_id.to_string(),
            })
            .await?;
        Ok(r.model)
    }

    /// The graph model, or [`SdkError::NotFound`].
    pub async fn require_graph_model(&self, model_id: &str) -> Result<GraphModelInfo> {
        self.graph_model(model_id)
            .await?
            .ok_or_else(|| SdkError::NotFound {
                what: "graph model",
                id: model_id.to_string(),
            })
    }

    /// Every registered graph model, page after page.
    pub async fn graph_models(&self) -> Result<Vec<GraphModelInfo>> {
        self.all_pages(
            |start_after| QueryMsg::GraphModels {
                start_after,
                limit: Some(MAX_PAGE),
            },
            |page: GraphModelsResponse| page.models,
            |m| m.model_id.clone(),
        )
        .await
    }

    /// The node roots behind a graph job's current result, read from the worker's
    /// `PostGraphResults` transaction (the contract keeps only their trace root): the newest
    /// post of the job whose roots make the posted trace root. `None` when the job has no
    /// result, or when no transaction the node indexes has it.
    pub async fn posted_node_roots(&self, job: &Job) -> Result<Option<Vec<Hash>>> {
        let (Some(result), Some(input)) = (&job.result, job.input.token_input()) else {
            return Ok(None);
        };
        let query = format!("wasm.action='post_results' AND wasm.job_id='{}'", job.id);
        // A job is posted again only after its earlier result was slashed: a few at most.
        let messages = self
            .chain
            .contract_messages(&self.market, &query, 8)
            .await?;
        for raw in messages {
            let Ok(ExecuteMsg::PostGraphResults { results }) = serde_json::from_slice(&raw) else {
                continue;
            };
            for r in results.into_iter().filter(|r| r.job_id == job.id) {
                let Some(roots) = split_hashes(&r.node_roots) else {
                    continue;
                };
                if trace_root(&input, &roots) == result.commitment.0 {
                    return Ok(Some(roots));
                }
            }
        }
        Ok(None)
    }

    /// The challenger's run roots of the node a graph model challenge names, read from its
    /// `ChallengeNode` transaction (the contract keeps only their root): what the challenged
    /// worker compares its runs with. `None` before the challenge is opened, or when no
    /// transaction the node indexes has it.
    pub async fn challenged_runs(&self, dispute: &Dispute) -> Result<Option<Vec<Hash>>> {
        let (Some(node), Some(root)) = (dispute.node, dispute.challenger_hashes.get(1)) else {
            return Ok(None);
        };
        let query = format!(
            "wasm.action='challenge' AND wasm.job_id='{}' AND wasm.seq='{}'",
            dispute.job_id, dispute.seq
        );
        let messages = self
            .chain
            .contract_messages(&self.market, &query, 4)
            .await?;
        for raw in messages {
            let Ok(ExecuteMsg::ChallengeNode {
                job_id,
                seq,
                node: named,
                runs,
                ..
            }) = serde_json::from_slice(&raw)
            else {
                continue;
            };
            if (job_id, seq, named) != (dispute.job_id, dispute.seq, node) {
                continue;
            }
            let Some(leaves) = split_hashes(&runs) else {
                continue;
            };
            if MerkleTree::new(leaves.clone()).root() == root.0 {
                return Ok(Some(leaves));
            }
        }
        Ok(None)
    }

    /// The run of rows a challenged worker revealed (their values as bytes), read from its
    /// `RevealRow` transaction (the contract keeps only the run's root): what a resolver
    /// checks element by element. `None` before the reveal, or when no transaction the node
    /// indexes has it.
    pub async fn revealed_run(&self, dispute: &Dispute) -> Result<Option<RevealedRun>> {
        let (Some(node), Some(root)) = (dispute.node, dispute.revealed_run) else {
            return Ok(None);
        };
        let query = format!(
            "wasm.action='reveal' AND wasm.job_id='{}' AND wasm.seq='{}'",
            dispute.job_id, dispute.seq
        );
        let job = self.require_job(dispute.job_id).await?;
        let model = self.require_graph_model(&job.model_id).await?;
        // The node's type and shape for this job's input: what its run's root is made of.
        let shape = model.spec.validate().ok().and_then(|plan| {
            let n = job.input.token_input()?.tokens(&plan).ok()?;
            let np = plan.nodes.get(node as usize)?;
            Some((np.dtype, np.width.at(n), np.run_len(n)))
        });
        let Some((dtype, width, len)) = shape else {
            return Ok(None);
        };
        for raw in self
            .chain
            .contract_messages(&self.market, &query, 4)
            .await?
        {
            let Ok(ExecuteMsg::RevealRow {
                job_id,
                seq,
                run: Some(run),
                ..
            }) = serde_json::from_slice(&raw)
            else {
                continue;
            };
            if (job_id, seq) != (dispute.job_id, dispute.seq) {
                continue;
            }
            let matches = decode_values(dtype, &run.values).is_some_and(|v| {
                run_tree(node, run.run.saturating_mul(len), dtype, width, &v).root() == root.0
            });
            if matches {
                return Ok(Some(run));
            }
        }
        Ok(None)
    }

    pub async fn job(&self, job_id: u64) -> Result<Option<Job>> {
        let r: JobResponse = self.query(&QueryMsg::Job { job_id }).await?;
        Ok(r.job)
    }

    /// The job, or [`SdkError::NotFound`].
    pub async fn require_job(&self, job_id: u64) -> Result<Job> {
        self.job(job_id).await?.ok_or_else(|| SdkError::NotFound {
            what: "job",
            id: job_id.to_string(),
        })
    }

    /// One page of jobs matching `filter`, oldest first, after job `start_after`; the page
    /// says where the next one starts.
    pub async fn jobs_page(
        &self,
        filter: Option<JobFilter>,
        start_after: Option<u64>,
        limit: u32,
    ) -> Result<JobsResponse> {
        self.query(&QueryMsg::Jobs {
            filter,
            start_after,
            limit: Some(limit.min(MAX_PAGE)),
        })
        .await
    }

    /// Every job matching `filter`, oldest first, page after page.
    pub async fn jobs(&self, filter: Option<JobFilter>) -> Result<Vec<Job>> {
        let mut all: Vec<Job> = Vec::new();
        let mut start_after = None;
        loop {
            let page = self
                .jobs_page(filter.clone(), start_after, MAX_PAGE)
                .await?;
            all.extend(page.jobs);
            match page.next_start_after {
                Some(next) => start_after = Some(next),
                None => return Ok(all),
            }
        }
    }

    pub async fn jobs_with_status(&self, status: JobStatus) -> Result<Vec<Job>> {
        self.jobs(Some(JobFilter::Status(status))).await
    }

    /// Open jobs of a model in the order claims take them, after `start_after`.
    pub async fn queue_page(
        &self,
        model_id: &str,
        start_after: Option<QueueCursor>,
        limit: u32,
    ) -> Result<Vec<Job>> {
        let r: JobsResponse = self
            .query(&QueryMsg::Queue {
                model_id: model_id.to_string(),
                start_after,
                limit: Some(limit.min(MAX_PAGE)),
            })
            .await?;
        Ok(r.jobs)
    }

    /// `None` when the address never bonded.
    pub async fn worker(&self, address: &str) -> Result<Option<WorkerInfo>> {
        let r: WorkerResponse = self
            .query(&QueryMsg::Worker {
                address: address.to_string(),
            })
            .await?;
        Ok(r.worker)
    }

    /// The worker, or [`SdkError::NotBonded`].
    pub async fn require_worker(&self, address: &str) -> Result<WorkerInfo> {
        self.worker(address)
            .await?
            .ok_or_else(|| SdkError::NotBonded {
                address: address.to_string(),
            })
    }

    /// Every bonded worker, page after page.
    pub async fn workers(&self) -> Result<Vec<WorkerInfo>> {
        let mut all: Vec<WorkerInfo> = Vec::new();
        loop {
            let start_after = all.last().map(|w| w.address.clone());
            let page: WorkersResponse = self
                .query(&QueryMsg::Workers {
                    start_after,
                    limit: Some(MAX_PAGE),
                })
                .await?;
            let done = page.workers.len() < MAX_PAGE as usize;
            all.extend(page.workers);
            if done {
                return Ok(all);
            }
        }
    }

    /// Challenge `seq` of a job; `None` if it has no such challenge.
    pub async fn dispute(&self, job_id: u64, seq: u32) -> Result<Option<Dispute>> {
        let r: DisputeResponse = self.query(&QueryMsg::Dispute { job_id, seq }).await?;
        Ok(r.dispute)
    }

    /// Every challenge of a job, in the order they were committed.
    pub async fn disputes(&self, job_id: u64) -> Result<Vec<Dispute>> {
        let r: DisputesResponse = self.query(&QueryMsg::Disputes { job_id }).await?;
        Ok(r.disputes)
    }

    /// What `address` may withdraw from the market, in micro-TRN.
    pub async fn claimable(&self, address: &str) -> Result<u128> {
        let r: ClaimableResponse = self
            .query(&QueryMsg::Claimable {
                address: address.to_string(),
            })
            .await?;
        Ok(r.amount.u128())
    }

    pub async fn stats(&self) -> Result<StatsResponse> {
        self.query(&QueryMsg::Stats {}).await
    }

    /// Why an open job is (not) being served.
    pub async fn diagnose(&self, job_id: u64) -> Result<DiagnosticResponse> {
        self.query(&QueryMsg::JobDiagnostic { job_id }).await
    }

    /// TRN held by `address`, in micro-TRN.
    pub async fn trn_balance(&self, address: &str) -> Result<u128> {
        let r: cw20::BalanceResponse = self
            .chain
            .query(
                &self.token,
                &cw20::Cw20QueryMsg::Balance {
                    address: address.to_string(),
                },
            )
            .await?;
        Ok(r.balance.u128())
    }

    /// All TRN in existence, in micro-TRN.
    pub async fn trn_supply(&self) -> Result<u128> {
        let r: cw20::TokenInfoResponse = self
            .chain
            .query(&self.token, &cw20::Cw20QueryMsg::TokenInfo {})
            .await?;
        Ok(r.total_supply.u128())
    }

    /// The latest block's time: "now" for every deadline the contract checks.
    pub async fn block_time(&self) -> Result<Timestamp> {
        Ok(Timestamp::from_seconds(
            self.chain.latest_block().await?.time,
        ))
    }

    /// A deadline `seconds` after the latest block.
    pub async fn deadline_in(&self, seconds: u64) -> Result<Timestamp> {
        Ok(self.block_time().await?.plus_seconds(seconds))
    }

    // Transactions

    pub async fn execute(&self, msg: &ExecuteMsg) -> Result<TxResult> {
        Ok(self.wallet()?.execute_contract(&self.market, msg).await?)
    }

    /// Pays `amount` micro-TRN into the market with `hook` (bond, jobs, challenge).
    pub async fn send(&self, amount: u128, hook: &ReceiveMsg) -> Result<TxResult> {
        Ok(self
            .wallet()?
            .cw20_send(&self.token, &self.market, amount, hook)
            .await?)
    }

    /// Submits one job paid with `fee` micro-TRN; returns its id.
    pub async fn submit_job(
        &self,
        model_id: &str,
        input: JobInput,
        fee: u128,
        deadline: Timestamp,
    ) -> Result<(u64, TxResult)> {
        let hook = ReceiveMsg::SubmitJob {
            model_id: model_id.to_string(),
            input,
            deadline,
        };
        let tx = self.send(fee, &hook).await?;
        let id = self
            .submitted_job_ids(&tx)
            .first()
            .copied()
            .ok_or_else(|| SdkError::MissingInTx {
                txhash: tx.txhash.clone(),
                what: "a job id",
            })?;
        Ok((id, tx))
    }

    /// Submits several jobs in one transaction, paying the sum of their fees; returns their
    /// ids in request order.
    pub async fn submit_jobs(&self, jobs: Vec<JobRequest>) -> Result<(Vec<u64>, TxResult)> {
        let count = jobs.len();
        let mut total = Uint128::zero();
        for j in &jobs {
            total = total
                .checked_add(j.fee)
                .map_err(|e| SdkError::Amount(e.to_string()))?;
        }
        let tx = self
            .send(total.u128(), &ReceiveMsg::SubmitJobs { jobs })
            .await?;
        let ids = self.submitted_job_ids(&tx);
        if ids.len() != count {
            return Err(SdkError::MissingInTx {
                txhash: tx.txhash,
                what: "one job id per submitted job",
            });
        }
        Ok((ids, tx))
    }

    /// The job ids the market named in a transaction's events, in order. A CW20 `Send`
    /// reaches the market as a sub-call whose data wasmd does not return, so submissions are
    /// read from the market's own `job_id` attributes (never another contract's).
    pub fn submitted_job_ids(&self, tx: &TxResult) -> Vec<u64> {
        self.market_events(tx)
            .flat_map(|e| e.attributes.iter())
            .filter(|(k, _)| k == "job_id")
            .filter_map(|(_, v)| v.parse().ok())
            .collect()
    }

    /// The market's own events of a transaction (never another contract's).
    fn market_events<'a>(&'a self, tx: &'a TxResult) -> impl Iterator<Item = &'a Event> + 'a {
        tx.events.iter().filter(|e| {
            e.kind == "wasm"
                && e.attributes
                    .iter()
                    .any(|(k, v)| k == "_contract_address" && *v == self.market)
        })
    }

    /// The first step of a challenge: sends `commit` (a claim's `commit()`, of either model
    /// version) with the bond; returns the challenge's number (what the second step, the
    /// claim's `open`, names).
    pub async fn commit_challenge(
        &self,
        commit: &ReceiveMsg,
        bond: u128,
    ) -> Result<(u32, TxResult)> {
        let tx = self.send(bond, commit).await?;
        let seq = self
            .market_attribute(&tx, "seq")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| SdkError::MissingInTx {
                txhash: tx.txhash.clone(),
                what: "the challenge's number",
            })?;
        Ok((seq, tx))
    }

    /// The first value of `key` in the market's own events of a transaction.
    pub fn market_attribute<'a>(&'a self, tx: &'a TxResult, key: &str) -> Option<&'a str> {
        self.market_events(tx)
            .flat_map(|e| e.attributes.iter())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Adds `amount` micro-TRN to the signer's stake; `hardware` is required on a first bond.
    pub async fn bond(
        &self,
        amount: u128,
        hardware: Option<HardwareDeclaration>,
    ) -> Result<TxResult> {
        self.send(amount, &ReceiveMsg::Bond { hardware }).await
    }

    /// Claims up to `max` jobs of a model; returns the ids the contract handed out (the
    /// transaction's data).
    pub async fn claim_jobs(&self, model_id: &str, max: u32) -> Result<(Vec<u64>, TxResult)> {
        let tx = self
            .execute(&ExecuteMsg::ClaimJobs {
                model_id: model_id.to_string(),
                max,
            })
            .await?;
        let ids = tx
            .msg_data
            .first()
            .and_then(|data| serde_json::from_slice::<Vec<u64>>(data).ok())
            .ok_or_else(|| SdkError::MissingInTx {
                txhash: tx.txhash.clone(),
                what: "the claimed job ids in its data",
            })?;
        Ok((ids, tx))
    }

    pub async fn post_results(&self, results: Vec<JobResultMsg>) -> Result<TxResult> {
        self.execute(&ExecuteMsg::PostResults { results }).await
    }

    pub async fn post_graph_results(&self, results: Vec<GraphResultMsg>) -> Result<TxResult> {
        self.execute(&ExecuteMsg::PostGraphResults { results })
            .await
    }

    pub async fn finalize(&self, job_ids: Vec<u64>) -> Result<TxResult> {
        self.execute(&ExecuteMsg::Finalize { job_ids }).await
    }

    /// Withdraws open jobs of the signer; refuses up front a job that is not open.
    pub async fn cancel_jobs(&self, job_ids: Vec<u64>) -> Result<TxResult> {
        for &id in &job_ids {
            let job = self.require_job(id).await?;
            if job.status != JobStatus::Open {
                return Err(SdkError::WrongStatus {
                    job_id: id,
                    status: job.status.key(),
                    expected: JobStatus::Open.key(),
                });
            }
        }
        self.execute(&ExecuteMsg::CancelJobs { job_ids }).await
    }

    /// Pays out the signer's claimable balance (all of it when `amount` is `None`).
    pub async fn withdraw(&self, amount: Option<u128>) -> Result<TxResult> {
        self.execute(&ExecuteMsg::Withdraw {
            amount: amount.map(Uint128::new),
        })
        .await
    }

    /// Polls the job every `poll` until `done` holds, calling `on_status` with each reading;
    /// [`SdkError::WaitTimeout`] after `timeout`.
    pub async fn wait_for_job(
        &self,
        job_id: u64,
        what: &'static str,
        timeout: Duration,
        poll: Duration,
        done: impl Fn(&Job) -> bool,
        mut on_status: impl FnMut(&Job),
    ) -> Result<Job> {
        let start = Instant::now();
        loop {
            let job = self.require_job(job_id).await?;
            on_status(&job);
            if done(&job) {
                return Ok(job);
            }
            if start.elapsed() >= timeout {
                return Err(SdkError::WaitTimeout {
                    job_id,
                    what,
                    seconds: timeout.as_secs(),
                    status: job.status.key(),
                });
            }
            tokio::time::sleep(poll).await;
        }
    }
}
