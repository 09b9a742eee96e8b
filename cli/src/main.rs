//! `tavdun`: Tavdun for people who do not speak Cosmos.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use cosmwasm_std::Uint128;
use serde::Serialize;
use tavdun_cli::amount::{format_trn, parse_trn};
use tavdun_cli::config::{Overrides, Settings};
use tavdun_cli::deploy::{self, DeployOptions};
use tavdun_cli::deployment::Deployment;
use tavdun_cli::error::{CliError, Result};
use tavdun_cli::jobs::{self, InputSource, JobView};
use tavdun_client::{ChainClient, Wallet};
use tavdun_market::msg::{
    ClaimableResponse, ExecuteMsg, JobFilter, ModelsResponse, QueryMsg, ReceiveMsg, WorkerResponse,
};
use tavdun_market::state::{Hardware, JobStatus, ModelInfo};

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
    Deploy {
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
    },
    #[command(subcommand)]
    Model(ModelCmd),
    #[command(subcommand)]
    Job(JobCmd),
    #[command(subcommand)]
    Worker(WorkerCmd),
    /// TRN balance (and claimable balance in the market) of an address; default: the signer.
    Balance { address: Option<String> },
    /// Withdraw claimable TRN from the market (all of it unless --amount).
    Withdraw {
        #[arg(long)]
        amount: Option<String>,
    },
}

#[derive(Subcommand)]
enum ModelCmd {
    /// Register a model directory (spec.json + weights.safetensors).
    Register {
        dir: PathBuf,
        /// Where workers fetch the weights (URL or path); default: the local file.
        #[arg(long)]
        weights_uri: Option<String>,
        #[arg(long, default_value = "0.01")]
        min_fee: String,
        #[arg(long, default_value_t = 1)]
        min_tier: u8,
    },
    List,
    Show {
        model: String,
    },
}

#[derive(Subcommand)]
enum JobCmd {
    /// Submit a job paid in TRN.
    Submit {
        /// Model name (from the deployment) or id.
        #[arg(long, default_value = "digits")]
        model: String,
        /// Input file: raw int8 bytes, or a JSON array of numbers (*.json).
        #[arg(long, conflicts_with = "values")]
        input: Option<PathBuf>,
        /// Input as a JSON array of numbers, quantised with the model's input spec.
        #[arg(long)]
        values: Option<String>,
        /// Fee in TRN; default: the model's minimum.
        #[arg(long)]
        fee: Option<String>,
        /// Seconds from now after which an unclaimed job is refunded.
        #[arg(long, default_value_t = 600)]
        deadline: u64,
        /// Wait until the result is verified (finalized) and print it.
        #[arg(long)]
        wait: bool,
        #[arg(long, default_value_t = 600)]
        wait_timeout: u64,
    },
    Show {
        job_id: u64,
    },
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        client: Option<String>,
        #[arg(long)]
        worker: Option<String>,
        #[arg(long)]
        start_after: Option<u64>,
        #[arg(long, default_value_t = 30)]
        limit: u32,
    },
    /// Why an open job is (not) being served.
    Why {
        job_id: u64,
    },
}

#[derive(Subcommand)]
enum WorkerCmd {
    /// Bond TRN as stake, declaring the hardware (required on the first bond).
    Bond {
        amount: String,
        #[arg(long)]
        hardware: Option<String>,
        #[arg(long, default_value_t = 1)]
        max_tier: u8,
    },
    /// Start unbonding stake; it becomes withdrawable after the unbonding period.
    Unbond {
        amount: String,
    },
    /// Withdraw claimable TRN (matured unbonding, earnings).
    Withdraw {
        #[arg(long)]
        amount: Option<String>,
    },
    Show {
        address: Option<String>,
    },
}

struct Ctx {
    settings: Settings,
    json: bool,
}

impl Ctx {
    fn chain(&self) -> Result<ChainClient> {
        Ok(ChainClient::new(self.settings.chain.clone())?)
    }

    fn wallet(&self) -> Result<Wallet> {
        Ok(Wallet::new(self.chain()?, self.settings.signer()?)?)
    }

    fn deployment(&self) -> Result<Deployment> {
        Deployment::load(&self.settings.deployment)
    }

    fn model_id(&self, d: &Deployment, model: &str) -> String {
        d.model(model)
            .map_or_else(|| model.to_string(), |m| m.model_id.clone())
    }

    /// Prints `value` as JSON with --json, else the text `human` makes of it.
    fn print<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        } else {
            println!("{}", human(value));
        }
    }
}

fn pretty<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                let code = match &e {
                    CliError::Chain(tavdun_client::ClientError::Contract { .. }) => "contract",
                    CliError::Chain(_) => "chain",
                    CliError::Input(_) => "input",
                    _ => "error",
                };
                println!(
                    "{}",
                    serde_json::json!({"error": code, "message": e.to_string()})
                );
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let g = cli.global;
    let settings = Settings::load(&Overrides {
        config: g.config,
        grpc_url: g.grpc,
        chain_id: g.chain_id,
        deployment: g.deployment,
        from: g.from,
    })?;
    let ctx = Ctx {
        settings,
        json: g.json,
    };
    match cli.command {
        Command::Deploy {
            artifacts,
            models,
            fund,
            min_fee,
        } => {
            let fund_amount = parse_trn(&fund)?;
            let opts = DeployOptions {
                artifacts,
                models,
                fund: deploy::TEST_ACCOUNTS
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                fund_amount,
                min_fee: parse_trn(&min_fee)?,
                params: deploy::localnet_params(),
            };
            let d = deploy::deploy(&ctx.settings, &opts).await?;
            ctx.print(&d, |d| {
                format!(
                    "deployed to {}\n  token  {}\n  market {}\n{}\nwritten to {}",
                    d.chain_id,
                    d.token.address,
                    d.market.address,
                    d.models
                        .iter()
                        .map(|m| format!("  model  {} {}", m.name, m.model_id))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    ctx.settings.deployment.display()
                )
            });
        }
        Command::Model(cmd) => model_cmd(&ctx, cmd).await?,
        Command::Job(cmd) => job_cmd(&ctx, cmd).await?,
        Command::Worker(cmd) => worker_cmd(&ctx, cmd).await?,
        Command::Balance { address } => {
            let d = ctx.deployment()?;
            let chain = ctx.chain()?;
            let address = match address {
                Some(a) => a,
                None => ctx.settings.signer()?.address().to_string(),
            };
            let trn: cw20::BalanceResponse = chain
                .query(
                    &d.token.address,
                    &cw20::Cw20QueryMsg::Balance {
                        address: address.clone(),
                    },
                )
                .await?;
            let claimable: ClaimableResponse = chain
                .query(
                    &d.market.address,
                    &QueryMsg::Claimable {
                        address: address.clone(),
                    },
                )
                .await?;
            let gas = chain.balance(&address, &ctx.settings.chain.denom).await?;
            let out = serde_json::json!({
                "address": address,
                "trn": trn.balance,
                "claimable": claimable.amount,
                ctx.settings.chain.denom.clone(): gas.to_string(),
            });
            ctx.print(&out, |_| {
                format!(
                    "{address}\n  TRN        {}\n  claimable  {}\n  gas        {gas} {}",
                    format_trn(trn.balance.u128()),
                    format_trn(claimable.amount.u128()),
                    ctx.settings.chain.denom
                )
            });
        }
        Command::Withdraw { amount } => withdraw(&ctx, amount).await?,
    }
    Ok(())
}

async fn withdraw(ctx: &Ctx, amount: Option<String>) -> Result<()> {
    let d = ctx.deployment()?;
    let amount = amount
        .map(|a| parse_trn(&a).map(Uint128::new))
        .transpose()?;
    let tx = ctx
        .wallet()?
        .execute_contract(&d.market.address, &ExecuteMsg::Withdraw { amount })
        .await?;
    let paid: Vec<&str> = tx.wasm_attributes("amount").collect();
    let out = serde_json::json!({"txhash": tx.txhash, "amount": paid.first()});
    ctx.print(&out, |_| {
        format!(
            "withdrawn {} micro-TRN (tx {})",
            paid.first().unwrap_or(&"0"),
            tx.txhash
        )
    });
    Ok(())
}

async fn model_cmd(ctx: &Ctx, cmd: ModelCmd) -> Result<()> {
    match cmd {
        ModelCmd::Register {
            dir,
            weights_uri,
            min_fee,
            min_tier,
        } => {
            let d = ctx.deployment()?;
            let model = deploy::load_model(&dir)?;
            let weights_uri = weights_uri
                .unwrap_or_else(|| dir.join("weights.safetensors").display().to_string());
            let msg = ExecuteMsg::RegisterModel {
                spec: model.spec.clone(),
                weights_root: tavdun_core::HexHash(model.weights_tree().root()),
                weights_uri,
                min_tier,
                min_fee: Uint128::new(parse_trn(&min_fee)?),
            };
            let tx = ctx
                .wallet()?
                .execute_contract(&d.market.address, &msg)
                .await?;
            let id = hex::encode(model.id());
            let out =
                serde_json::json!({"model_id": id, "name": model.spec.name, "txhash": tx.txhash});
            ctx.print(&out, |_| format!("registered {} as {id}", model.spec.name));
        }
        ModelCmd::List => {
            let d = ctx.deployment()?;
            let r: ModelsResponse = ctx
                .chain()?
                .query(
                    &d.market.address,
                    &QueryMsg::Models {
                        start_after: None,
                        limit: Some(30),
                    },
                )
                .await?;
            ctx.print(&r.models, |models| {
                models
                    .iter()
                    .map(|m| {
                        format!(
                            "{} {} min fee {} TRN, tier {}{}",
                            m.model_id,
                            m.spec.name,
                            format_trn(m.min_fee.u128()),
                            m.min_tier,
                            if m.active { "" } else { " (inactive)" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        ModelCmd::Show { model } => {
            let d = ctx.deployment()?;
            let info: ModelInfo =
                jobs::model_info(&ctx.chain()?, &d, &ctx.model_id(&d, &model)).await?;
            ctx.print(&info, pretty);
        }
    }
    Ok(())
}

async fn job_cmd(ctx: &Ctx, cmd: JobCmd) -> Result<()> {
    let d = ctx.deployment()?;
    let chain = ctx.chain()?;
    match cmd {
        JobCmd::Submit {
            model,
            input,
            values,
            fee,
            deadline,
            wait,
            wait_timeout,
        } => {
            let model_id = ctx.model_id(&d, &model);
            let info = jobs::model_info(&chain, &d, &model_id).await?;
            let source = match (&input, &values) {
                (Some(path), _) => InputSource::File(path),
                (None, Some(v)) => InputSource::Json(v),
                (None, None) => {
                    return Err(CliError::Input("give --input FILE or --values JSON".into()))
                }
            };
            let bytes = jobs::read_input(&info, source)?;
            let fee = match fee {
                Some(f) => parse_trn(&f)?,
                None => info.min_fee.u128(),
            };
            let job_id = jobs::submit(&ctx.wallet()?, &d, &model_id, &bytes, fee, deadline).await?;
            if !wait {
                let out = serde_json::json!({"job_id": job_id});
                ctx.print(&out, |_| format!("submitted job {job_id}"));
                return Ok(());
            }
            let progress = tavdun_cli::progress::Progress::new(1);
            let job = jobs::wait(&chain, &d, job_id, Duration::from_secs(wait_timeout), |j| {
                progress.message(&format!("job {job_id}: {}", j.status.key()))
            })
            .await?;
            progress.finish();
            let view = JobView::new(job);
            ctx.print(&view, job_text);
        }
        JobCmd::Show { job_id } => {
            let view = JobView::new(jobs::job(&chain, &d, job_id).await?);
            ctx.print(&view, job_text);
        }
        JobCmd::List {
            status,
            model,
            client,
            worker,
            start_after,
            limit,
        } => {
            let filter = match (status, model, client, worker) {
                (Some(s), ..) => Some(JobFilter::Status(parse_status(&s)?)),
                (None, Some(m), ..) => Some(JobFilter::Model(ctx.model_id(&d, &m))),
                (None, None, Some(c), _) => Some(JobFilter::Client(c)),
                (None, None, None, Some(w)) => Some(JobFilter::Worker(w)),
                (None, None, None, None) => None,
            };
            let list = jobs::list(&chain, &d, filter, start_after, limit).await?;
            ctx.print(&list, |list| {
                list.iter()
                    .map(|j| {
                        format!(
                            "{:>6} {:<9} fee {:>10} TRN  model {}",
                            j.id,
                            j.status.key(),
                            format_trn(j.fee.u128()),
                            &j.model_id[..12.min(j.model_id.len())]
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        JobCmd::Why { job_id } => {
            let r = jobs::why(&chain, &d, job_id).await?;
            ctx.print(&r, pretty);
        }
    }
    Ok(())
}

fn job_text(v: &JobView) -> String {
    let j = &v.job;
    let mut s = format!("job {} — {}", j.id, j.status.key());
    if let Some(reason) = &j.end_reason {
        s += &format!(" ({reason:?})");
    }
    if let Some(w) = &j.worker {
        s += &format!("\n  worker  {w}");
    }
    if let (Some(out), Some(argmax)) = (&v.output, v.argmax) {
        s += &format!("\n  output  {out:?}\n  argmax  {argmax}");
    }
    s
}

fn parse_status(s: &str) -> Result<JobStatus> {
    serde_json::from_value(serde_json::Value::String(s.to_lowercase())).map_err(|_| {
        CliError::Input(format!(
            "unknown status `{s}` (open, claimed, posted, disputed, finalized, cancelled, refunded)"
        ))
    })
}

async fn worker_cmd(ctx: &Ctx, cmd: WorkerCmd) -> Result<()> {
    let d = ctx.deployment()?;
    match cmd {
        WorkerCmd::Bond {
            amount,
            hardware,
            max_tier,
        } => {
            let hook = ReceiveMsg::Bond {
                hardware: hardware.map(|description| Hardware {
                    description,
                    max_tier,
                }),
            };
            let amount = parse_trn(&amount)?;
            let tx = ctx
                .wallet()?
                .cw20_send(&d.token.address, &d.market.address, amount, &hook)
                .await?;
            let out = serde_json::json!({"txhash": tx.txhash, "bonded": amount.to_string()});
            ctx.print(&out, |_| format!("bonded {} TRN", format_trn(amount)));
        }
        WorkerCmd::Unbond { amount } => {
            let amount = Uint128::new(parse_trn(&amount)?);
            let tx = ctx
                .wallet()?
                .execute_contract(&d.market.address, &ExecuteMsg::Unbond { amount })
                .await?;
            let out = serde_json::json!({"txhash": tx.txhash, "unbonding": amount});
            ctx.print(&out, |_| {
                format!("unbonding {} TRN", format_trn(amount.u128()))
            });
        }
        WorkerCmd::Withdraw { amount } => withdraw(ctx, amount).await?,
        WorkerCmd::Show { address } => {
            let address = match address {
                Some(a) => a,
                None => ctx.settings.signer()?.address().to_string(),
            };
            let r: WorkerResponse = ctx
                .chain()?
                .query(&d.market.address, &QueryMsg::Worker { address })
                .await?;
            ctx.print(&r, pretty);
        }
    }
    Ok(())
}
