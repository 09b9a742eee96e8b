//! The market contract as the worker sees it: typed queries (every list read page by page,
//! with a bound) and the messages it signs.

use cosmwasm_std::Binary;
use serde::de::DeserializeOwned;
use tavdun_cli::deployment::Deployment;
use tavdun_client::{ChainClient, ClientError, TxResult, Wallet};
use tavdun_market::msg::{
    ClaimableResponse, ConfigResponse, ExecuteMsg, JobFilter, JobsResponse, QueryMsg, ReceiveMsg,
    WorkerResponse,
};
use tavdun_market::state::{Dispute, Job, JobStatus, ModelInfo};

use crate::error::{Result, WorkerError};

/// The contract's largest page.
const PAGE: u32 = 50;
/// A list longer than this many pages is cut short (and the rest read on a later poll):
/// no step of the loop may run unbounded.
const MAX_PAGES: usize = 40;

pub struct Market {
    chain: ChainClient,
    wallet: Wallet,
    pub address: String,
    pub token: String,
}

impl Market {
    pub fn new(chain: ChainClient, wallet: Wallet, deployment: &Deployment) -> Market {
        Market {
            chain,
            wallet,
            address: deployment.market.address.clone(),
            token: deployment.token.address.clone(),
        }
    }

    pub fn chain(&self) -> &ChainClient {
        &self.chain
    }

    /// The worker's own address.
    pub fn me(&self) -> String {
        self.wallet.address()
    }

    async fn query<R: DeserializeOwned>(&self, msg: &QueryMsg) -> Result<R> {
        Ok(self.chain.query(&self.address, msg).await?)
    }

    pub async fn config(&self) -> Result<ConfigResponse> {
        self.query(&QueryMsg::Config {}).await
    }

    pub async fn model(&self, model_id: &str) -> Result<ModelInfo> {
        self.query(&QueryMsg::Model {
            model_id: model_id.to_string(),
        })
        .await
    }

    pub async fn job(&self, job_id: u64) -> Result<Job> {
        self.query(&QueryMsg::Job { job_id }).await
    }

    /// Every job matching `filter`, oldest first (at most `MAX_PAGES` pages).
    pub async fn jobs(&self, filter: JobFilter) -> Result<Vec<Job>> {
        let mut all = Vec::new();
        let mut start_after = None;
        for _ in 0..MAX_PAGES {
            let page: JobsResponse = self
                .query(&QueryMsg::Jobs {
                    filter: Some(filter.clone()),
                    start_after,
                    limit: Some(PAGE),
                })
                .await?;
            let full = page.jobs.len() == PAGE as usize;
            start_after = page.jobs.last().map(|j| j.id);
            all.extend(page.jobs);
            if !full {
                break;
            }
        }
        Ok(all)
    }

    pub async fn jobs_with_status(&self, status: JobStatus) -> Result<Vec<Job>> {
        self.jobs(JobFilter::Status(status)).await
    }

    /// The first `limit` open jobs of a model, in the order claims take them.
    pub async fn queue(&self, model_id: &str, limit: u32) -> Result<Vec<Job>> {
        let page: JobsResponse = self
            .query(&QueryMsg::Queue {
                model_id: model_id.to_string(),
                start_after: None,
                limit: Some(limit.min(PAGE)),
            })
            .await?;
        Ok(page.jobs)
    }

    /// `None` when the address never bonded.
    pub async fn worker(&self, address: &str) -> Result<Option<WorkerResponse>> {
        match self
            .query(&QueryMsg::Worker {
                address: address.to_string(),
            })
            .await
        {
            Ok(w) => Ok(Some(w)),
            Err(WorkerError::Chain(ClientError::Contract { message, .. }))
                if message.contains("is not a bonded worker") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub async fn dispute(&self, job_id: u64) -> Result<Dispute> {
        self.query(&QueryMsg::Dispute { job_id }).await
    }

    pub async fn claimable(&self, address: &str) -> Result<u128> {
        let r: ClaimableResponse = self
            .query(&QueryMsg::Claimable {
                address: address.to_string(),
            })
            .await?;
        Ok(r.amount.u128())
    }

    pub async fn execute(&self, msg: &ExecuteMsg) -> Result<TxResult> {
        Ok(self.wallet.execute_contract(&self.address, msg).await?)
    }

    /// Pays `amount` TRN into the market with `hook` (bond, challenge).
    pub async fn send(&self, amount: u128, hook: &ReceiveMsg) -> Result<TxResult> {
        Ok(self
            .wallet
            .cw20_send(&self.token, &self.address, amount, hook)
            .await?)
    }
}

/// Int8 bytes as the contract's `Binary`.
pub fn binary(bytes: &[i8]) -> Binary {
    Binary::new(bytes.iter().map(|&b| b as u8).collect())
}
