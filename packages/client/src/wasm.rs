use cosmrs::cosmwasm::{MsgExecuteContract, MsgInstantiateContract, MsgStoreCode};
use cosmrs::tx::Msg;
use cosmrs::{AccountId, Any};
use serde::Serialize;

use crate::error::{ClientError, Result};
use crate::tx_result::TxResult;
use crate::wallet::Wallet;

/// The CW20 `Send` message: moves tokens to `contract` and calls its `Receive` hook with `msg`
/// (base64 of the hook's JSON).
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Cw20Execute<'a> {
    Send {
        contract: &'a str,
        amount: String,
        msg: String,
    },
}

fn json<T: Serialize>(msg: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(msg).map_err(|e| ClientError::Codec(e.to_string()))
}

fn account(address: &str) -> Result<AccountId> {
    address.parse().map_err(|_| ClientError::Config {
        field: "address",
        reason: format!("`{address}` is not a bech32 account address"),
    })
}

fn any(msg: impl Msg) -> Result<Any> {
    msg.to_any().map_err(|e| ClientError::Codec(e.to_string()))
}

impl Wallet {
    /// Uploads contract code; returns its code id.
    pub async fn store_code(&self, wasm: Vec<u8>) -> Result<(u64, TxResult)> {
        let msg = any(MsgStoreCode {
            sender: account(&self.address())?,
            wasm_byte_code: wasm,
            instantiate_permission: None,
        })?;
        let tx = self.execute(vec![msg], "store code").await?;
        let code_id = tx
            .attribute("store_code", "code_id")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ClientError::MissingEvent {
                txhash: tx.txhash.clone(),
                event: "store_code",
                attribute: "code_id",
            })?;
        Ok((code_id, tx))
    }

    /// Instantiates `code_id` with this wallet as admin; returns the contract address.
    pub async fn instantiate<T: Serialize>(
        &self,
        code_id: u64,
        label: &str,
        msg: &T,
    ) -> Result<(String, TxResult)> {
        let sender = account(&self.address())?;
        let msg = any(MsgInstantiateContract {
            admin: Some(sender.clone()),
            sender,
            code_id,
            label: Some(label.to_string()),
            msg: json(msg)?,
            funds: vec![],
        })?;
        let tx = self.execute(vec![msg], "instantiate").await?;
        let address = tx
            .attribute("instantiate", "_contract_address")
            .map(str::to_string)
            .ok_or_else(|| ClientError::MissingEvent {
                txhash: tx.txhash.clone(),
                event: "instantiate",
                attribute: "_contract_address",
            })?;
        Ok((address, tx))
    }

    /// One `MsgExecuteContract` as an `Any`, for batching several into one transaction.
    pub fn execute_msg<T: Serialize>(&self, contract: &str, msg: &T) -> Result<Any> {
        any(MsgExecuteContract {
            sender: account(&self.address())?,
            contract: account(contract)?,
            msg: json(msg)?,
            funds: vec![],
        })
    }

    /// Executes `msg` (the contract's own `ExecuteMsg`) on `contract`.
    pub async fn execute_contract<T: Serialize>(
        &self,
        contract: &str,
        msg: &T,
    ) -> Result<TxResult> {
        let msg = self.execute_msg(contract, msg)?;
        self.execute(vec![msg], "").await
    }

    /// CW20 `Send` of `amount` tokens of `token` to `contract`, calling its `Receive` hook with
    /// `hook` (the receiving contract's own hook message).
    pub async fn cw20_send<T: Serialize>(
        &self,
        token: &str,
        contract: &str,
        amount: u128,
        hook: &T,
    ) -> Result<TxResult> {
        use base64::Engine as _;
        let msg = Cw20Execute::Send {
            contract,
            amount: amount.to_string(),
            msg: base64::engine::general_purpose::STANDARD.encode(json(hook)?),
        };
        self.execute_contract(token, &msg).await
    }
}
