//! Governance carried through by one signer on a local network: it delegates enough stake to
//! outvote the validators, proposes, votes yes and waits for the tally. What a local network
//! uses it for is pinning contract code: a chain pins the code of contracts it expects to be
//! called a lot, which makes each call's instance cost 2,000 gas instead of 60,000.

use std::time::{Duration, Instant};

use cosmos_sdk_proto::cosmos::base::v1beta1::Coin;
use cosmos_sdk_proto::cosmos::gov::v1::{
    query_client::QueryClient as GovQuery, MsgSubmitProposal, MsgVote, ProposalStatus,
    QueryParamsRequest, QueryProposalRequest, VoteOption,
};
use cosmos_sdk_proto::cosmos::staking::v1beta1::{
    query_client::QueryClient as StakingQuery, MsgDelegate, QueryValidatorsRequest,
};
use cosmos_sdk_proto::cosmwasm::wasm::v1::MsgPinCodes;
use cosmos_sdk_proto::prost::Name;
use cosmrs::{AccountId, Any};
use sha2::{Digest, Sha256};

use crate::error::{ClientError, Result};
use crate::retry::with_retry;
use crate::wallet::Wallet;

/// What the signer delegates, as a multiple of all the validators' bonded stake: enough for
/// its vote alone to pass a proposal.
const OUTVOTE: u128 = 10;

fn any<M: Name>(msg: &M) -> Result<Any> {
    Any::from_msg(msg).map_err(|e| ClientError::Codec(e.to_string()))
}

/// The address of a module account: the first 20 bytes of `sha256(name)`.
fn module_address(name: &str, prefix: &str) -> Result<String> {
    let hash = Sha256::digest(name.as_bytes());
    AccountId::new(prefix, &hash[..20])
        .map(|a| a.to_string())
        .map_err(|e| ClientError::Codec(e.to_string()))
}

impl Wallet {
    /// Pins `code_ids` through a governance proposal this signer carries alone. For local
    /// networks, whose voting period is a few seconds; returns once the proposal passed.
    pub async fn pin_codes(&self, code_ids: &[u64]) -> Result<()> {
        let config = &self.chain().config;
        let me = self.address();
        let channel = self.chain().channel.clone();
        let validators = with_retry(&config.retry, "validators", || {
            let mut c = StakingQuery::new(channel.clone());
            async move {
                c.validators(QueryValidatorsRequest {
                    status: "BOND_STATUS_BONDED".into(),
                    pagination: None,
                })
                .await
            }
        })
        .await?
        .into_inner()
        .validators;
        if validators.is_empty() {
            return Err(ClientError::Config {
                field: "chain",
                reason: "the chain has no bonded validator to delegate to".into(),
            });
        }
        // To every validator in proportion to its stake: the signer's vote outweighs all
        // others, and each validator keeps its share of the voting power (delegating to one
        // would give it ~90% of the power, and a multi-validator network would then halt, or
        // not, depending on which validator goes down).
        let delegations = validators
            .iter()
            .map(|v| {
                let tokens = v.tokens.parse::<u128>().unwrap_or(0);
                any(&MsgDelegate {
                    delegator_address: me.clone(),
                    validator_address: v.operator_address.clone(),
                    amount: Some(Coin {
                        denom: config.denom.clone(),
                        amount: tokens.saturating_mul(OUTVOTE).max(1).to_string(),
                    }),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.execute(delegations, "delegate to vote").await?;

        let params = with_retry(&config.retry, "gov params", || {
            let mut c = GovQuery::new(channel.clone());
            async move {
                c.params(QueryParamsRequest {
                    params_type: "deposit".into(),
                })
                .await
            }
        })
        .await?
        .into_inner()
        .params
        .ok_or_else(|| ClientError::Codec("gov answered no params".into()))?;
        let voting = params.voting_period.map_or(Duration::from_secs(60), |d| {
            Duration::from_secs(u64::try_from(d.seconds).unwrap_or(60))
        });
        let pin = MsgPinCodes {
            authority: module_address("gov", &config.prefix)?,
            code_ids: code_ids.to_vec(),
        };
        let propose = MsgSubmitProposal {
            messages: vec![any(&pin)?],
            initial_deposit: params.min_deposit,
            proposer: me.clone(),
            metadata: String::new(),
            title: "Pin contract code".into(),
            summary: format!("Pins code {code_ids:?}"),
            expedited: false,
        };
        let tx = self.execute(vec![any(&propose)?], "pin codes").await?;
        let proposal_id: u64 = tx
            .attribute("submit_proposal", "proposal_id")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ClientError::MissingEvent {
                txhash: tx.txhash.clone(),
                event: "submit_proposal",
                attribute: "proposal_id",
            })?;
        let vote = MsgVote {
            proposal_id,
            voter: me,
            option: VoteOption::Yes as i32,
            metadata: String::new(),
        };
        self.execute(vec![any(&vote)?], "vote").await?;

        let start = Instant::now();
        loop {
            let proposal = with_retry(&config.retry, "proposal", || {
                let mut c = GovQuery::new(channel.clone());
                async move { c.proposal(QueryProposalRequest { proposal_id }).await }
            })
            .await?
            .into_inner()
            .proposal;
            let status = proposal.map_or(0, |p| p.status);
            if status == ProposalStatus::Passed as i32 {
                return Ok(());
            }
            if status == ProposalStatus::Rejected as i32 || status == ProposalStatus::Failed as i32
            {
                return Err(ClientError::Config {
                    field: "governance",
                    reason: format!("proposal {proposal_id} to pin {code_ids:?} did not pass"),
                });
            }
            if start.elapsed() > voting + Duration::from_secs(30) {
                return Err(ClientError::InclusionTimeout {
                    txhash: format!("proposal {proposal_id}"),
                    seconds: start.elapsed().as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
