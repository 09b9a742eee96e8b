//! `tavdun`: Tavdun for people who do not speak Cosmos. A thin binary: argument parsing and
//! output here, everything else in `tavdun-sdk`.

mod app;
mod commands;
mod error;
mod progress;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app::App;
use crate::commands::{balance, deploy, embed, job, model, worker};
use crate::error::Result;
use crate::settings::{Overrides, Settings};

#[derive(Parser)]
#[command(
    name = "tavdun",
    version,
    about = "Verifiable AI inference paid on-chain"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Settings file (TOML); default: $TAVDUN_CONFIG or ./tavdun.toml.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// gRPC endpoint of a chain node [env: TAVDUN_GRPC_URL].
    #[arg(long, global = true)]
    grpc: Option<String>,
    #[arg(long, global = true)]
    chain_id: Option<String>,
    /// Deployment file [env: TAVDUN_DEPLOYMENT] (default localnet/data/deployment.json).
    #[arg(long, global = true)]
    deployment: Option<PathBuf>,
    /// Sign as this test account of localnet/accounts.json [env: TAVDUN_FROM];
    /// otherwise the key is the mnemonic in $TAVDUN_MNEMONIC.
    #[arg(long, global = true)]
    from: Option<String>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Store and instantiate TRN and the market, register the shipped models, fund test accounts.
    Deploy(deploy::DeployArgs),
    #[command(subcommand)]
    Model(model::ModelCmd),
    #[command(subcommand)]
    Job(job::JobCmd),
    /// Embed texts with a model on the market (one job per text) and print the vectors with
    /// their verification.
    Embed(embed::EmbedArgs),
    #[command(subcommand)]
    Worker(worker::WorkerCmd),
    /// TRN balance (and claimable balance in the market) of an address; default: the signer.
    Balance { address: Option<String> },
    /// Withdraw claimable TRN from the market (all of it unless --amount).
    Withdraw {
        #[arg(long)]
        amount: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                let out = serde_json::json!({"error": e.code(), "message": e.to_string()});
                println!("{out}");
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let g = cli.global;
    let settings = Settings::load(Overrides {
        config: g.config,
        grpc_url: g.grpc,
        chain_id: g.chain_id,
        deployment: g.deployment,
        from: g.from,
    })?;
    let app = App {
        settings,
        json: g.json,
    };
    match cli.command {
        Command::Deploy(args) => deploy::run(&app, args).await,
        Command::Model(cmd) => model::run(&app, cmd).await,
        Command::Job(cmd) => job::run(&app, cmd).await,
        Command::Embed(args) => embed::run(&app, args).await,
        Command::Worker(cmd) => worker::run(&app, cmd).await,
        Command::Balance { address } => balance::show(&app, address).await,
        Command::Withdraw { amount } => balance::withdraw(&app, amount).await,
    }
}
