//! `tavdun deploy`: stores and instantiates the token and the market, registers the shipped
//! models, funds the test accounts, and writes the deployment file.

use std::path::{Path, PathBuf};

use cosmwasm_std::Uint128;
use sha2::{Digest, Sha256};
use tavdun_client::{ChainClient, Wallet};
use tavdun_core::Model;
use tavdun_market::msg::{ExecuteMsg, InstantiateMsg, Params};

use crate::amount::parse_trn;
use crate::config::{test_mnemonic, Settings};
use crate::deployment::{ContractRef, DeployedModel, Deployment};
use crate::error::{read, Result};
use crate::progress::Progress;

pub struct DeployOptions {
    pub artifacts: PathBuf,
    pub models: Vec<PathBuf>,
    /// Test accounts to give TRN, and how much each.
    pub fund: Vec<String>,
    pub fund_amount: u128,
    pub min_fee: u128,
    pub params: Params,
}

/// Market parameters for a local network: the shortest periods the contract allows (60 s),
/// so a whole job lifecycle, dispute included, fits in a few minutes.
pub fn localnet_params() -> Params {
    let trn = |s: &str| Uint128::new(parse_trn(s).unwrap_or_default());
    Params {
        protocol_fee_bps: 500,
        challenge_window: 60,
        claim_timeout: 60,
        reveal_timeout: 60,
        resolve_timeout: 60,
        challenge_bond: trn("10"),
        collateral_per_job: trn("5"),
        liveness_penalty: trn("1"),
        challenger_reward_bps: 5_000,
        unbonding_period: 60,
        tier_stakes: vec![trn("100"), trn("1000")],
        max_input_bytes: 4096,
        max_layers: 32,
        max_batch: 32,
    }
}

pub const TEST_ACCOUNTS: &[&str] = &[
    "worker1",
    "worker2",
    "worker3",
    "client1",
    "client2",
    "challenger",
    "relayer",
];

pub async fn deploy(settings: &Settings, opts: &DeployOptions) -> Result<Deployment> {
    let chain = ChainClient::new(settings.chain.clone())?;
    let wallet = Wallet::new(chain.clone(), settings.signer()?)?;
    let deployer = wallet.address();
    let progress = Progress::new(5 + opts.models.len() as u64);

    let token_wasm = read(&opts.artifacts.join("tavdun_token.wasm"))?;
    let market_wasm = read(&opts.artifacts.join("tavdun_market.wasm"))?;
    let models = opts
        .models
        .iter()
        .map(|dir| load_model(dir))
        .collect::<Result<Vec<_>>>()?;

    progress.step("storing the token contract");
    let token_checksum = checksum(&token_wasm);
    let (token_code, _) = wallet.store_code(token_wasm).await?;
    progress.step("storing the market contract");
    let market_checksum = checksum(&market_wasm);
    let (market_code, _) = wallet.store_code(market_wasm).await?;

    progress.step("instantiating TRN");
    let mut initial_balances = vec![cw20::Cw20Coin {
        address: deployer.clone(),
        amount: Uint128::new(opts.fund_amount.saturating_mul(100)),
    }];
    for name in &opts.fund {
        let mnemonic = test_mnemonic(&settings.accounts, name)?;
        let signer = tavdun_client::Signer::from_mnemonic(&mnemonic, &settings.chain.prefix)?;
        initial_balances.push(cw20::Cw20Coin {
            address: signer.address().to_string(),
            amount: Uint128::new(opts.fund_amount),
        });
    }
    let token_init = tavdun_token::msg::InstantiateMsg {
        initial_balances,
        minter: Some(deployer.clone()),
        cap: None,
        marketing: None,
    };
    let (token, _) = wallet
        .instantiate(token_code, "tavdun-trn", &token_init)
        .await?;

    progress.step("instantiating the market");
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
        progress.step(&format!("registering model {}", model.spec.name));
        let weights_uri = dir.join("weights.safetensors").display().to_string();
        let register = ExecuteMsg::RegisterModel {
            spec: model.spec.clone(),
            weights_root: tavdun_core::HexHash(model.weights_tree().root()),
            weights_uri: weights_uri.clone(),
            min_tier: 1,
            min_fee: Uint128::new(opts.min_fee),
        };
        wallet.execute_contract(&market, &register).await?;
        deployed.push(DeployedModel {
            name: model.spec.name.clone(),
            model_id: hex::encode(model.id()),
            weights_uri,
        });
    }

    progress.step("writing the deployment file");
    let deployment = Deployment {
        chain_id: settings.chain.chain_id.clone(),
        grpc_url: settings.chain.grpc_url.clone(),
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
    };
    deployment.save(&settings.deployment)?;
    progress.finish();
    Ok(deployment)
}

/// A model directory holds `spec.json` and `weights.safetensors`.
pub fn load_model(dir: &Path) -> Result<Model> {
    let spec = read(&dir.join("spec.json"))?;
    let weights = read(&dir.join("weights.safetensors"))?;
    Ok(Model::load(&spec, &weights)?)
}

fn checksum(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
