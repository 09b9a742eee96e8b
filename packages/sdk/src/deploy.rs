//! A deployment from nothing: TRN and the market stored and instantiated, models registered,
//! test accounts funded. Progress goes to a callback; the caller decides how to show it.

use std::path::{Path, PathBuf};

use cosmwasm_std::Uint128;
use cw20::Cw20Coin;
use sha2::{Digest, Sha256};
use tavdun_client::{ChainClient, ChainConfig, Signer, Wallet};
use tavdun_core::HexHash;
use tavdun_market_api::{token, ExecuteMsg, InstantiateMsg, Params};

use crate::deployment::{ContractRef, DeployedModel, Deployment};
use crate::error::{read, Result};
use crate::keys::TestAccounts;
use crate::model_dir::{load_any, weights_path, AnyModel};

/// The test accounts a local deployment funds (all of `localnet/accounts.json` but the
/// deployer, which holds the rest of the supply).
pub const TEST_ACCOUNTS: &[&str] = &[
    "worker1",
    "worker2",
    "worker3",
    "client1",
    "client2",
    "challenger",
    "relayer",
];

pub struct DeployOptions {
    /// Where `scripts/build-wasm` wrote `tavdun_token.wasm` and `tavdun_market.wasm`.
    pub artifacts: PathBuf,
    /// Model directories to register, of either spec version.
    pub models: Vec<PathBuf>,
    /// Accounts to give TRN to, and how much each (micro-TRN).
    pub fund: Vec<String>,
    pub fund_amount: u128,
    /// Minimum fee of the registered models (micro-TRN).
    pub min_fee: u128,
    pub params: Params,
    /// Pins the contracts' code through a governance proposal the deployer carries alone
    /// (local networks only: it delegates enough stake to outvote the validators). Pinned
    /// code costs 2,000 gas per call to load instead of 60,000.
    pub pin_codes: bool,
}

/// Market parameters for a local network: the shortest periods the contract allows (60 s),
/// so a whole job lifecycle, dispute included, fits in a few minutes. Collateral is three
/// times the fee (lying does not pay against a verifier that checks a quarter of results or
/// more), with a floor of 0.1 TRN.
pub fn localnet_params() -> Params {
    const TRN: u128 = 1_000_000;
    Params {
        protocol_fee_bps: 500,
        challenge_window: 60,
        claim_timeout: 60,
        reveal_timeout: 60,
        resolve_timeout: 60,
        challenge_bond: Uint128::new(10 * TRN),
        collateral_bps: 30_000,
        min_collateral: Uint128::new(TRN / 10),
        liveness_penalty: Uint128::new(TRN / 10),
        challenger_reward_bps: 5_000,
        failed_bond_to_worker_bps: 5_000,
        unbonding_period: 60,
        config_delay: 60,
        tier_stakes: vec![Uint128::new(100 * TRN), Uint128::new(1_000 * TRN)],
        max_input_bytes: 4096,
        max_layers: 32,
        max_batch: 32,
        max_deadline: 24 * 3600,
        max_attempts: 4,
        release_fee: Uint128::new(TRN / 1_000),
        max_dispute_bytes: 256 * 1024,
        max_disputes: 8,
    }
}

/// One step of a deployment, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    /// 1-based.
    pub number: usize,
    pub of: usize,
    pub what: &'a str,
}

/// Deploys with `deployer` as admin and treasury on the chain of `chain`. Returns the
/// deployment; saving it is the caller's choice.
pub async fn deploy(
    chain: ChainConfig,
    deployer: Signer,
    accounts: &TestAccounts,
    opts: &DeployOptions,
    mut progress: impl FnMut(Step<'_>),
) -> Result<Deployment> {
    let prefix = chain.prefix.clone();
    let chain_id = chain.chain_id.clone();
    let grpc_url = chain.grpc_url.clone();
    let chain = ChainClient::new(chain)?;
    let wallet = Wallet::new(chain.clone(), deployer)?;
    let deployer = wallet.address();
    let of = 4 + usize::from(opts.pin_codes) + opts.models.len();
    let mut number = 0;
    let mut step = |what: &str| {
        number += 1;
        progress(Step { number, of, what });
    };

    let token_wasm = read(&opts.artifacts.join("tavdun_token.wasm"))?;
    let market_wasm = read(&opts.artifacts.join("tavdun_market.wasm"))?;
    let models = opts
        .models
        .iter()
        .map(|dir| load_any(dir))
        .collect::<std::result::Result<Vec<_>, _>>()?;

    step("storing the token contract");
    let token_checksum = checksum(&token_wasm);
    let (token_code, _) = wallet.store_code(token_wasm).await?;
    step("storing the market contract");
    let market_checksum = checksum(&market_wasm);
    let (market_code, _) = wallet.store_code(market_wasm).await?;

    if opts.pin_codes {
        step("pinning both contracts' code (a governance proposal)");
        wallet.pin_codes(&[token_code, market_code]).await?;
    }

    step("instantiating TRN");
    let mut initial_balances = vec![Cw20Coin {
        address: deployer.clone(),
        amount: Uint128::new(opts.fund_amount.saturating_mul(100)),
    }];
    for name in &opts.fund {
        initial_balances.push(Cw20Coin {
            address: accounts.signer(name, &prefix)?.address().to_string(),
            amount: Uint128::new(opts.fund_amount),
        });
    }
    let token_init = token::InstantiateMsg {
        initial_balances,
        minter: Some(deployer.clone()),
        cap: None,
        marketing: None,
    };
    let (token, _) = wallet
        .instantiate(token_code, "tavdun-trn", &token_init)
        .await?;

    step("instantiating the market");
    let market_init = InstantiateMsg {
        token: token.clone(),
        admin: None,
        treasury: deployer.clone(),
        params: opts.params.clone(),
    };
    let (market, _) = wallet
        .instantiate(market_code, "tavdun-market", &market_init)
        .await?;

    let mut deployed = Vec::new();
    for (dir, model) in opts.models.iter().zip(&models) {
        step(&format!("registering model {}", model.name()));
        let weights_uri = weights_uri(dir);
        let register = register_msg(model, weights_uri.clone(), 1, Uint128::new(opts.min_fee));
        wallet.execute_contract(&market, &register).await?;
        deployed.push(DeployedModel {
            name: model.name().to_string(),
            model_id: hex::encode(model.id()),
            weights_uri,
        });
    }

    Ok(Deployment {
        chain_id,
        grpc_url,
        deployer,
        token: ContractRef {
            code_id: token_code,
            address: token,
            checksum: token_checksum,
        },
        market: ContractRef {
            code_id: market_code,
            address: market,
            checksum: market_checksum,
        },
        models: deployed,
        height: chain.latest_height().await?,
    })
}

/// The message that registers `model` (a `RegisterModel` or a `RegisterGraphModel`).
pub fn register_msg(
    model: &AnyModel,
    weights_uri: String,
    min_tier: u8,
    min_fee: Uint128,
) -> ExecuteMsg {
    match model {
        AnyModel::Chain(m) => ExecuteMsg::RegisterModel {
            spec: m.spec.clone(),
            weights_root: HexHash(m.weights_tree().root()),
            weights_uri,
            min_tier,
            min_fee,
        },
        AnyModel::Graph(m) => ExecuteMsg::RegisterGraphModel {
            spec: m.spec.clone(),
            weights_root: HexHash(m.weights_tree().root()),
            weights_uri,
            min_tier,
            min_fee,
        },
    }
}

/// Where workers fetch a local model directory's weights: the file's path.
pub fn weights_uri(dir: &Path) -> String {
    weights_path(dir).display().to_string()
}

fn checksum(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
