//! `tavdun-demo`: submits real handwritten-digit images (the held-out split of the shipped data
//! set) to the market one after another, then follows every job on chain and prints what
//! happens to it: who answered, what it predicted against the true label and how fast, the
//! challenges and slashings on the way, and the verified result once its window closes.
//! `scripts/demo` runs it against the local network it starts.
//!
//! `tavdun-demo search` is the demo's verified semantic search ([`search`]).

mod follow;
mod search;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use tavdun_models::digits;
use tavdun_sdk::amount::parse_trn;
use tavdun_sdk::api::JobInput;
use tavdun_sdk::client::{ChainClient, ChainConfig, Wallet};
use tavdun_sdk::keys::TestAccounts;
use tavdun_sdk::{Deployment, MarketClient};

use crate::follow::{Names, Tracker};

#[derive(Parser)]
#[command(name = "tavdun-demo", about, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
    #[arg(long, default_value = "localnet/data/deployment.json")]
    deployment: PathBuf,
    /// The test account that pays for the jobs.
    #[arg(long, default_value = "client1")]
    from: String,
    #[arg(long, default_value = "localnet/accounts.json")]
    accounts: PathBuf,
    /// Images to submit.
    #[arg(long, default_value_t = 16)]
    count: usize,
    /// Pause between two submissions.
    #[arg(long, default_value_t = 1500)]
    interval_ms: u64,
    /// Fee per job, in TRN.
    #[arg(long, default_value = "0.05")]
    fee: String,
    /// Give up on jobs not verified after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
}

#[derive(clap::Subcommand)]
enum Mode {
    /// Embeds a corpus and a query through the relayer's `POST /v1/embeddings` and shows the
    /// closest sentences with how each vector was verified.
    Search(search::SearchArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Mode::Search(search)) = args.mode {
        return search::run(search).await;
    }
    let d = Deployment::load(&args.deployment)?;
    let model = d
        .model("digits")
        .context("the deployment has no `digits` model")?
        .clone();
    let chain = ChainClient::new(d.chain_config(ChainConfig::localnet()))?;
    let accounts = TestAccounts::load(&args.accounts)?;
    let wallet = Wallet::new(chain.clone(), accounts.signer(&args.from, "wasm")?)?;
    let reader = MarketClient::new(chain, &d);
    let market = reader.clone().with_wallet(wallet);
    let info = market.require_model(&model.model_id).await?;
    let fee = parse_trn(&args.fee)?;
    let names = Names::from_accounts(&accounts)?;

    let samples = digits::load(&PathBuf::from(digits::DATA_PATH))?;
    let images: Vec<_> = digits::split(&samples)
        .test
        .into_iter()
        .take(args.count)
        .collect();
    if images.is_empty() {
        bail!("no images to submit");
    }
    println!(
        "Submitting {} handwritten digits (held-out images) to model digits, {} TRN each, from {}.\n",
        images.len(),
        args.fee,
        args.from
    );

    let mut tracker = Tracker::new(reader, names);
    let mut next = images.into_iter();
    let mut next_submit = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    loop {
        if Instant::now() >= next_submit {
            match next.next() {
                Some(sample) => {
                    let input = JobInput::inline(&sample.int8_input(&info.spec.input.quant));
                    let deadline = market.deadline_in(3600).await?;
                    let (id, _) = market
                        .submit_job(&model.model_id, input, fee, deadline)
                        .await?;
                    tracker.submitted(id, sample.label);
                    next_submit = Instant::now() + Duration::from_millis(args.interval_ms);
                }
                None => next_submit = deadline,
            }
        }
        tracker.poll().await?;
        if tracker.all_done() && next.len() == 0 {
            break;
        }
        if Instant::now() >= deadline {
            println!("\nGave up after {} s.", args.timeout_secs);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tracker.summary();
    Ok(())
}
