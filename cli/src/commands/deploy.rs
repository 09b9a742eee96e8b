//! `tavdun deploy`: TRN and the market stored and instantiated, the shipped models
//! registered, the test accounts funded, the deployment file written.

use std::path::PathBuf;

use clap::Args;
use tavdun_sdk::amount::parse_trn;
use tavdun_sdk::deploy::{deploy, localnet_params, DeployOptions, TEST_ACCOUNTS};
use tavdun_sdk::keys::TestAccounts;

use crate::app::App;
use crate::error::Result;
use crate::progress::Progress;

#[derive(Args)]
pub struct DeployArgs {
    #[arg(long, default_value = "artifacts")]
    artifacts: PathBuf,
    /// Model directories (spec.json + weights.safetensors) to register.
    #[arg(long = "model", default_value = "models/digits")]
    models: Vec<PathBuf>,
    /// TRN given to each test account (worker1-3, client1-2, challenger, relayer).
    #[arg(long, default_value = "100000")]
    fund: String,
    /// Minimum fee of the registered models, in TRN.
    #[arg(long, default_value = "0.01")]
    min_fee: String,
    /// Most items one market message may carry (claims, posts, submissions).
    #[arg(long)]
    max_batch: Option<u32>,
    /// Do not pin the contracts' code (pinning takes a governance proposal the deployer
    /// carries alone, which only works on a local network).
    #[arg(long)]
    no_pin: bool,
}

pub async fn run(app: &App, args: DeployArgs) -> Result<()> {
    let mut params = localnet_params();
    if let Some(max) = args.max_batch {
        params.max_batch = max;
    }
    let opts = DeployOptions {
        artifacts: args.artifacts,
        models: args.models,
        fund: TEST_ACCOUNTS.iter().map(|s| s.to_string()).collect(),
        fund_amount: parse_trn(&args.fund)?,
        min_fee: parse_trn(&args.min_fee)?,
        params,
        pin_codes: !args.no_pin,
    };
    let accounts = TestAccounts::load(&app.settings.accounts)?;
    let deployer = app.settings.key()?.signer(&app.settings.chain.prefix)?;
    let progress = Progress::new(1);
    let deployment = deploy(
        app.settings.chain.clone(),
        deployer,
        &accounts,
        &opts,
        |s| progress.step(s.number, s.of, s.what),
    )
    .await?;
    deployment.save(&app.settings.deployment)?;
    progress.finish();
    app.print(&deployment, |d| {
        let models: Vec<String> = d
            .models
            .iter()
            .map(|m| format!("  model  {} {}", m.name, m.model_id))
            .collect();
        format!(
            "deployed to {}\n  token  {}\n  market {}\n{}\nwritten to {}",
            d.chain_id,
            d.token.address,
            d.market.address,
            models.join("\n"),
            app.settings.deployment.display()
        )
    });
    Ok(())
}
