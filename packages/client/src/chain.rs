use cosmos_sdk_proto::cosmos::auth::v1beta1::{
    query_client::QueryClient as AuthQuery, BaseAccount, QueryAccountRequest,
};
use cosmos_sdk_proto::cosmos::bank::v1beta1::{
    query_client::QueryClient as BankQuery, QueryBalanceRequest,
};
use cosmos_sdk_proto::cosmos::base::tendermint::v1beta1::{
    service_client::ServiceClient as NodeService, GetLatestBlockRequest,
};
use cosmos_sdk_proto::cosmos::tx::v1beta1::{
    service_client::ServiceClient as TxService, GetTxRequest, GetTxsEventRequest, OrderBy,
};
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    query_client::QueryClient as WasmQuery, MsgExecuteContract, QuerySmartContractStateRequest,
};
use cosmos_sdk_proto::prost::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::{Channel, Endpoint};

use crate::config::ChainConfig;
use crate::error::{ClientError, Result};
use crate::retry::with_retry;
use crate::tx_result::TxResult;

/// Read access to a chain over gRPC. Cheap to clone; the channel reconnects by itself when the
/// node goes away and comes back, and every call goes through the retry policy.
#[derive(Clone)]
pub struct ChainClient {
    pub(crate) channel: Channel,
    pub(crate) config: ChainConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    pub height: u64,
    /// Block time in seconds since the Unix epoch.
    pub time: u64,
}

/// An account's number and next sequence, which every signature commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountInfo {
    pub number: u64,
    pub sequence: u64,
}

impl ChainClient {
    /// Validates the configuration and prepares a lazily connected channel: a node that is not
    /// up yet is retried on first use rather than failing here.
    pub fn new(config: ChainConfig) -> Result<ChainClient> {
        config.validate()?;
        let endpoint =
            Endpoint::from_shared(config.grpc_url.clone()).map_err(|e| ClientError::Config {
                field: "grpc_url",
                reason: e.to_string(),
            })?;
        let channel = endpoint
            .connect_timeout(config.retry.request_timeout)
            .timeout(config.retry.request_timeout)
            .connect_lazy();
        Ok(ChainClient { channel, config })
    }

    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    pub async fn latest_height(&self) -> Result<u64> {
        Ok(self.latest_block().await?.height)
    }

    /// Height and time of the latest block: the clock the contracts' deadlines run on.
    pub async fn latest_block(&self) -> Result<BlockInfo> {
        let response = with_retry(&self.config.retry, "latest block", || {
            let mut c = NodeService::new(self.channel.clone());
            async move { c.get_latest_block(GetLatestBlockRequest {}).await }
        })
        .await?;
        let header = response.into_inner().sdk_block.and_then(|b| b.header);
        Ok(BlockInfo {
            height: header
                .as_ref()
                .map_or(0, |h| u64::try_from(h.height).unwrap_or(0)),
            time: header
                .and_then(|h| h.time)
                .map_or(0, |t| u64::try_from(t.seconds).unwrap_or(0)),
        })
    }

    pub async fn account(&self, address: &str) -> Result<AccountInfo> {
        let request = QueryAccountRequest {
            address: address.to_string(),
        };
        let result = with_retry(&self.config.retry, "account", || {
            let mut c = AuthQuery::new(self.channel.clone());
            let request = request.clone();
            async move { c.account(request).await }
        })
        .await;
        let any = match result {
            Ok(r) => r.into_inner().account,
            Err(ClientError::Grpc(s)) if s.code() == tonic::Code::NotFound => None,
            Err(e) => return Err(e),
        };
        let any = any.ok_or_else(|| ClientError::AccountNotFound {
            address: address.to_string(),
        })?;
        let base = BaseAccount::decode(any.value.as_slice())
            .map_err(|e| ClientError::Codec(format!("account {address}: {e}")))?;
        Ok(AccountInfo {
            number: base.account_number,
            sequence: base.sequence,
        })
    }

    /// Native-token balance (the gas denomination unless another is named).
    pub async fn balance(&self, address: &str, denom: &str) -> Result<u128> {
        let request = QueryBalanceRequest {
            address: address.to_string(),
            denom: denom.to_string(),
        };
        let response = with_retry(&self.config.retry, "balance", || {
            let mut c = BankQuery::new(self.channel.clone());
            let request = request.clone();
            async move { c.balance(request).await }
        })
        .await?;
        let amount = response
            .into_inner()
            .balance
            .map(|c| c.amount)
            .unwrap_or_default();
        if amount.is_empty() {
            return Ok(0);
        }
        amount
            .parse()
            .map_err(|_| ClientError::Codec(format!("balance `{amount}` is not an integer")))
    }

    /// A typed smart query: `msg` is the contract's own `QueryMsg`, `R` its response type.
    pub async fn query<Q: Serialize, R: DeserializeOwned>(
        &self,
        contract: &str,
        msg: &Q,
    ) -> Result<R> {
        let query_data = serde_json::to_vec(msg).map_err(|e| ClientError::Codec(e.to_string()))?;
        let request = QuerySmartContractStateRequest {
            address: contract.to_string(),
            query_data,
        };
        let result = with_retry(&self.config.retry, "smart query", || {
            let mut c = WasmQuery::new(self.channel.clone());
            let request = request.clone();
            async move { c.smart_contract_state(request).await }
        })
        .await;
        let data = match result {
            Ok(r) => r.into_inner().data,
            Err(ClientError::Grpc(status)) => {
                return Err(
                    match crate::error::contract_query_message(status.message()) {
                        Some(message) => ClientError::Contract {
                            message,
                            raw_log: status.message().to_string(),
                        },
                        None => ClientError::Grpc(status),
                    },
                )
            }
            Err(e) => return Err(e),
        };
        serde_json::from_slice(&data).map_err(|e| {
            ClientError::Codec(format!(
                "contract answer `{}` does not fit the expected type: {e}",
                String::from_utf8_lossy(&data)
            ))
        })
    }

    /// The JSON messages sent to `contract` by the newest transactions (at most `limit`)
    /// matching the CometBFT event `query` (say `wasm.action='post_results' AND
    /// wasm.job_id='7'`), newest first. What a contract keeps out of its storage to save gas
    /// but every node serves: the node's transaction index must be on (CometBFT's default).
    pub async fn contract_messages(
        &self,
        contract: &str,
        query: &str,
        limit: u64,
    ) -> Result<Vec<Vec<u8>>> {
        let request = GetTxsEventRequest {
            query: format!("wasm._contract_address='{contract}' AND {query}"),
            order_by: OrderBy::Desc as i32,
            page: 1,
            limit,
            ..Default::default()
        };
        let response = with_retry(&self.config.retry, "search txs", || {
            let mut c = TxService::new(self.channel.clone());
            let request = request.clone();
            async move { c.get_txs_event(request).await }
        })
        .await?
        .into_inner();
        let mut out = Vec::new();
        for tx in response.txs {
            for any in tx.body.map(|b| b.messages).unwrap_or_default() {
                if any.type_url != "/cosmwasm.wasm.v1.MsgExecuteContract" {
                    continue;
                }
                let msg = MsgExecuteContract::decode(any.value.as_slice())
                    .map_err(|e| ClientError::Codec(format!("MsgExecuteContract: {e}")))?;
                if msg.contract == contract {
                    out.push(msg.msg);
                }
            }
        }
        Ok(out)
    }

    /// A transaction by hash, or `None` while it is not in a block yet.
    pub async fn tx(&self, txhash: &str) -> Result<Option<TxResult>> {
        let request = GetTxRequest {
            hash: txhash.to_string(),
        };
        let result = with_retry(&self.config.retry, "get tx", || {
            let mut c = TxService::new(self.channel.clone());
            let request = request.clone();
            async move { c.get_tx(request).await }
        })
        .await;
        match result {
            Ok(r) => Ok(r.into_inner().tx_response.map(TxResult::from)),
            Err(ClientError::Grpc(s)) if s.code() == tonic::Code::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}
