//! Signing and broadcasting for one account.

use std::time::Instant;

use cosmos_sdk_proto::cosmos::tx::v1beta1::{
    service_client::ServiceClient as TxService, BroadcastMode, BroadcastTxRequest, SimulateRequest,
};
use cosmrs::tx::{Body, Fee, SignDoc, SignerInfo};
use cosmrs::{Any, Coin, Denom};
use tokio::sync::Mutex;

use crate::chain::ChainClient;
use crate::config::GasPrice;
use crate::error::{contract_message, expected_sequence, ClientError, Result};
use crate::retry::with_retry;
use crate::signer::Signer;
use crate::tx_result::TxResult;

/// SDK error code of "account sequence mismatch" (codespace `sdk`).
const CODE_WRONG_SEQUENCE: u32 = 32;

/// Signs and broadcasts for one account. Transactions from one wallet are serialised and its
/// sequence is tracked locally, re-read from the chain after any mismatch.
pub struct Wallet {
    chain: ChainClient,
    signer: Signer,
    gas_price: GasPrice,
    /// `(account number, next sequence)` once known.
    account: Mutex<Option<(u64, u64)>>,
}

impl Wallet {
    pub fn new(chain: ChainClient, signer: Signer) -> Result<Wallet> {
        let gas_price = GasPrice::parse(&chain.config.gas_price)?;
        Ok(Wallet {
            chain,
            signer,
            gas_price,
            account: Mutex::new(None),
        })
    }

    pub fn address(&self) -> String {
        self.signer.address().to_string()
    }

    pub fn chain(&self) -> &ChainClient {
        &self.chain
    }

    /// Simulates `msgs` for gas, signs, broadcasts and waits until the transaction is in a
    /// block. A contract refusal (in simulation or in the block) is [`ClientError::Contract`].
    pub async fn execute(&self, msgs: Vec<Any>, memo: &str) -> Result<TxResult> {
        let mut account = self.account.lock().await;
        let policy = &self.chain.config.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (number, sequence) = match *account {
                Some(known) => known,
                None => {
                    let info = self.chain.account(&self.address()).await?;
                    (info.number, info.sequence)
                }
            };
            match self.sign_and_broadcast(&msgs, memo, number, sequence).await {
                Ok(txhash) => {
                    *account = Some((number, sequence + 1));
                    drop(account);
                    return self.wait_for(&txhash).await;
                }
                Err(Mismatch(log)) if attempt < policy.sequence_attempts => {
                    let next = expected_sequence(&log);
                    tracing::info!(expected = ?next, "account sequence mismatch; re-signing");
                    *account = next.map(|s| (number, s));
                }
                Err(Mismatch(raw_log)) => {
                    *account = None;
                    return Err(ClientError::SequenceMismatch {
                        attempts: attempt,
                        raw_log,
                    });
                }
                Err(Other(e)) => {
                    // The node may not have seen our last transaction: re-read next time.
                    *account = None;
                    return Err(e);
                }
            }
        }
    }

    async fn sign_and_broadcast(
        &self,
        msgs: &[Any],
        memo: &str,
        number: u64,
        sequence: u64,
    ) -> std::result::Result<String, BroadcastError> {
        let config = &self.chain.config;
        let body = Body::new(msgs.to_vec(), memo, 0u32);
        let simulated = self.simulate(&body, number, sequence).await?;
        let gas_limit = (simulated as f64 * config.gas_adjustment).ceil() as u64;
        let amount = self.gas_price.fee(gas_limit);
        let fee = Fee::from_amount_and_gas(
            Coin {
                denom: denom(&config.denom)?,
                amount,
            },
            gas_limit,
        );
        let raw = self.sign(&body, fee, number, sequence)?;
        let tx_bytes = raw.to_bytes().map_err(codec)?;
        let request = BroadcastTxRequest {
            tx_bytes,
            mode: BroadcastMode::Sync as i32,
        };
        let response = with_retry(&config.retry, "broadcast", || {
            let mut c = TxService::new(self.chain.channel.clone());
            let request = request.clone();
            async move { c.broadcast_tx(request).await }
        })
        .await
        .map_err(Other)?
        .into_inner()
        .tx_response
        .ok_or_else(|| {
            Other(ClientError::Codec(
                "broadcast returned no tx_response".into(),
            ))
        })?;
        match response.code {
            0 => Ok(response.txhash),
            CODE_WRONG_SEQUENCE => Err(Mismatch(response.raw_log)),
            code => Err(Other(ClientError::from_log(
                response.txhash,
                code,
                response.codespace,
                response.raw_log,
            ))),
        }
    }

    /// Gas used by `body` if it ran now.
    async fn simulate(
        &self,
        body: &Body,
        number: u64,
        sequence: u64,
    ) -> std::result::Result<u64, BroadcastError> {
        let config = &self.chain.config;
        // A non-zero fee, so that the simulation pays for the ante handler's fee deduction
        // as the real transaction will: with a zero fee the SDK skips it, and the estimate
        // falls ~15,000 gas short, more than the adjustment covers on a small transaction.
        let fee = Fee::from_amount_and_gas(
            Coin {
                denom: denom(&config.denom)?,
                amount: 1,
            },
            0u64,
        );
        let raw = self.sign(body, fee, number, sequence)?;
        let request = SimulateRequest {
            tx_bytes: raw.to_bytes().map_err(codec)?,
            ..Default::default()
        };
        let result = with_retry(&config.retry, "simulate", || {
            let mut c = TxService::new(self.chain.channel.clone());
            let request = request.clone();
            async move { c.simulate(request).await }
        })
        .await;
        match result {
            Ok(r) => Ok(r.into_inner().gas_info.map_or(0, |g| g.gas_used)),
            Err(ClientError::Grpc(status)) => {
                let log = status.message().to_string();
                if log.contains("account sequence mismatch") {
                    Err(Mismatch(log))
                } else if let Some(message) = contract_message(&log) {
                    Err(Other(ClientError::Contract {
                        message,
                        raw_log: log,
                    }))
                } else {
                    Err(Other(ClientError::Grpc(status)))
                }
            }
            Err(e) => Err(Other(e)),
        }
    }

    fn sign(
        &self,
        body: &Body,
        fee: Fee,
        number: u64,
        sequence: u64,
    ) -> std::result::Result<cosmrs::tx::Raw, BroadcastError> {
        let config = &self.chain.config;
        let auth_info = SignerInfo::single_direct(Some(self.signer.key().public_key()), sequence)
            .auth_info(fee);
        let chain_id = config.chain_id.parse().map_err(|_| {
            Other(ClientError::Config {
                field: "chain_id",
                reason: format!("`{}` is not a valid chain id", config.chain_id),
            })
        })?;
        let doc = SignDoc::new(body, &auth_info, &chain_id, number).map_err(codec)?;
        doc.sign(self.signer.key()).map_err(codec)
    }

    /// Polls until `txhash` is in a block; a failed transaction becomes an error.
    pub async fn wait_for(&self, txhash: &str) -> Result<TxResult> {
        let config = &self.chain.config;
        let start = Instant::now();
        loop {
            if let Some(tx) = self.chain.tx(txhash).await? {
                if tx.code != 0 {
                    return Err(ClientError::from_log(
                        tx.txhash,
                        tx.code,
                        tx.codespace,
                        tx.raw_log,
                    ));
                }
                return Ok(tx);
            }
            if start.elapsed() >= config.inclusion_timeout {
                return Err(ClientError::InclusionTimeout {
                    txhash: txhash.to_string(),
                    seconds: config.inclusion_timeout.as_secs(),
                });
            }
            tokio::time::sleep(config.inclusion_poll).await;
        }
    }
}

enum BroadcastError {
    /// The chain expected another sequence: re-sign with the one it names.
    Mismatch(String),
    Other(ClientError),
}
use BroadcastError::{Mismatch, Other};

impl From<ClientError> for BroadcastError {
    fn from(e: ClientError) -> Self {
        Other(e)
    }
}

fn codec(e: impl std::fmt::Display) -> BroadcastError {
    Other(ClientError::Codec(e.to_string()))
}

fn denom(d: &str) -> std::result::Result<Denom, BroadcastError> {
    d.parse().map_err(|_| {
        Other(ClientError::Config {
            field: "denom",
            reason: format!("`{d}` is not a valid denomination"),
        })
    })
}
