//! `tavdun-load`: drives a real local network (started and deployed by `scripts/load`) with
//! N worker nodes, run in this process, and M clients submitting jobs (digits images, or real
//! sentences for MiniLM) at an offered rate for a bounded time; then waits (bounded too) for
//! every job to end, and prints jobs/s submitted, posted and finalized, gas per job, and
//! latency to a posted result.
//!
//! ```text
//! scripts/load --workers 4 --clients 2 --rate 120 --seconds 300
//! scripts/load --model all-minilm-l6-v2 --workers 1 --clients 1 --batch 32 --rate 0.5 --seconds 60
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use tavdun_load::clients::{self, Ledger, Offer};
use tavdun_load::observe::{self, Observer};
use tavdun_models::digits;
use tavdun_models::minilm::corpus;
use tavdun_sdk::amount::{format_trn, parse_trn};
use tavdun_sdk::client::{ChainClient, ChainConfig, Wallet};
use tavdun_sdk::keys::TestAccounts;
use tavdun_sdk::{Deployment, MarketClient};
use tavdun_testkit::process::free_port;
use tavdun_worker::config::{BondConfig, FileConfig};
use tavdun_worker::{CancellationToken, WorkerConfig};

/// The test accounts that serve as workers and as clients, in order.
const WORKERS: &[&str] = &["worker1", "worker2", "worker3", "challenger"];
const CLIENTS: &[&str] = &["client1", "client2", "relayer"];

#[derive(Parser)]
#[command(name = "tavdun-load", about)]
struct Args {
    #[arg(long, default_value = "localnet/data/deployment.json")]
    deployment: PathBuf,
    #[arg(long, default_value = TestAccounts::DEFAULT_PATH)]
    accounts: PathBuf,
    /// Worker nodes, run in this process (at most 4).
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Clients submitting jobs (at most 3).
    #[arg(long, default_value_t = 2)]
    clients: usize,
    /// The deployment's model to load: `digits`, or a graph model such as `all-minilm-l6-v2`
    /// (its jobs are real sentences, tokenised with `--tokenizer`).
    #[arg(long, default_value = "digits")]
    model: String,
    /// The graph model's `tokenizer.json` (`scripts/setup` links MiniLM's here).
    #[arg(long, default_value_os_t = tavdun_models::minilm::cache_dir().join("tokenizer.json"))]
    tokenizer: PathBuf,
    /// Jobs per second offered, all clients together.
    #[arg(long, default_value_t = 120.0)]
    rate: f64,
    /// How long the clients submit.
    #[arg(long, default_value_t = 300)]
    seconds: u64,
    /// Jobs per submission.
    #[arg(long, default_value_t = 32)]
    batch: u32,
    /// Jobs a worker claims (and posts, and finalizes) per transaction at most: its
    /// `max_batch`. The default is the market's limit on the local network.
    #[arg(long, default_value_t = 100)]
    claim_batch: u32,
    /// Stake each worker bonds, in TRN.
    #[arg(long, default_value = "2000")]
    stake: String,
    /// Fee per job, in TRN.
    #[arg(long, default_value = "0.01")]
    fee: String,
    /// How long to wait, after the last submission, for every job to end.
    #[arg(long, default_value_t = 240)]
    drain_seconds: u64,
}

/// A worker node in this process; its metrics on a free loopback port.
fn start_worker(
    args: &Args,
    name: &str,
    dir: &std::path::Path,
) -> anyhow::Result<(u16, CancellationToken)> {
    let port = free_port();
    let file = FileConfig {
        deployment: Some(args.deployment.clone()),
        account: Some(name.into()),
        accounts: Some(args.accounts.clone()),
        max_batch: Some(args.claim_batch),
        poll_interval_ms: Some(200),
        cache_dir: Some(dir.join(format!("cache-{name}"))),
        metrics_addr: Some(format!("127.0.0.1:{port}")),
        backend: Some("flex".into()),
        bond: Some(BondConfig {
            amount: args.stake.clone(),
            max_tier: 8,
        }),
        ..FileConfig::default()
    };
    let config = WorkerConfig::from_file(file, |_| None)?;
    let stop = CancellationToken::new();
    let token = stop.clone();
    let node = name.to_string();
    tokio::spawn(async move {
        if let Err(e) = tavdun_worker::run(config, token).await {
            eprintln!("worker {node} stopped: {e}");
        }
    });
    Ok((port, stop))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();
    if args.workers == 0 || args.workers > WORKERS.len() {
        bail!("--workers takes 1..={}", WORKERS.len());
    }
    if args.clients == 0 || args.clients > CLIENTS.len() {
        bail!("--clients takes 1..={}", CLIENTS.len());
    }
    // Written so that NaN is refused too.
    if !args.rate.is_finite() || args.rate <= 0.0 {
        bail!("--rate must be a positive number");
    }
    let deployment = Deployment::load(&args.deployment)?;
    let model = deployment
        .model(&args.model)
        .with_context(|| format!("the deployment has no model {}", args.model))?
        .model_id
        .clone();
    let chain = ChainClient::new(deployment.chain_config(ChainConfig::localnet()))?;
    let reader = MarketClient::new(chain.clone(), &deployment);
    let accounts = TestAccounts::load(&args.accounts)?;
    let fee = parse_trn(&args.fee)?;
    let inputs = Arc::new(if reader.graph_model(&model).await?.is_some() {
        clients::text_inputs(&args.tokenizer, Path::new(corpus::FORTUNES_DIR))?
    } else {
        clients::digits_inputs(&reader, &model, Path::new(digits::DATA_PATH)).await?
    });

    let dir = std::env::temp_dir().join(format!("tavdun-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut ports = Vec::new();
    let mut stops = Vec::new();
    for name in &WORKERS[..args.workers] {
        let (port, stop) = start_worker(&args, name, &dir)?;
        ports.push(port);
        stops.push(stop);
    }
    let observer = Observer::new(reader.clone(), ports);
    // The nodes bond on start: wait until every one can claim.
    let workers = WORKERS[..args.workers]
        .iter()
        .map(|name| {
            Ok((
                name.to_string(),
                accounts.signer(name, "wasm")?.address().to_string(),
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    observe::bonded(&reader, &workers, Duration::from_secs(120)).await?;
    let start_height = chain.latest_height().await?;
    println!(
        "load: {} jobs, {} workers ({} TRN staked each), {} clients, {} jobs/s offered for {} s, batches of {} (claims of up to {}), {} TRN per job",
        args.model, args.workers, args.stake, args.clients, args.rate, args.seconds, args.batch, args.claim_batch, format_trn(fee)
    );

    let submitted = Ledger::default();
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let offer = Offer {
        model_id: model,
        fee,
        batch: args.batch,
        rate: args.rate,
        ttl_secs: 3600,
    };
    let mut markets = Vec::new();
    for name in &CLIENTS[..args.clients] {
        let wallet = Wallet::new(chain.clone(), accounts.signer(name, "wasm")?)?;
        markets.push(reader.clone().with_wallet(wallet));
    }
    let clients = clients::spawn(markets, &offer, &inputs, until, &submitted);
    let report = observer
        .run(
            submitted.clone(),
            started,
            until,
            Duration::from_secs(args.drain_seconds),
        )
        .await?;
    let mut submit_errors = 0;
    for c in clients {
        submit_errors += c.await?;
    }
    for stop in &stops {
        stop.cancel();
    }
    let end_height = chain.latest_height().await?;
    let gas = observe::gas_used(&deployment, start_height, end_height).await?;
    report.print(args.seconds, submit_errors, gas);
    let books = reader.stats().await?;
    let held = reader.trn_balance(reader.market_address()).await?;
    println!(
        "market books {} TRN, market balance {} TRN: {}",
        format_trn(books.held.u128()),
        format_trn(held),
        if books.held.u128() == held {
            "equal"
        } else {
            "DIFFERENT"
        }
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
