//! `tavdun-load`: drives a real local network (started and deployed by `scripts/load`) with
//! N worker nodes, run in this process, and M clients submitting digits jobs at an offered
//! rate for a bounded time; then waits (bounded too) for every job to end, and prints jobs/s
//! submitted, posted and finalized, gas per job, and latency to a posted result.
//!
//! ```text
//! scripts/load --workers 4 --clients 2 --rate 120 --seconds 300
//! ```

mod observe;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use tavdun_models::digits;
use tavdun_sdk::amount::{format_trn, parse_trn};
use tavdun_sdk::api::{JobInput, JobRequest, Uint128};
use tavdun_sdk::client::{ChainClient, ChainConfig, Wallet};
use tavdun_sdk::keys::TestAccounts;
use tavdun_sdk::{Deployment, MarketClient};
use tavdun_worker::config::{BondConfig, FileConfig};
use tavdun_worker::{CancellationToken, WorkerConfig};

use crate::observe::{Observer, Submitted};

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
    /// Jobs per second offered, all clients together.
    #[arg(long, default_value_t = 120.0)]
    rate: f64,
    /// How long the clients submit.
    #[arg(long, default_value_t = 300)]
    seconds: u64,
    /// Jobs per submission (and per claim and post).
    #[arg(long, default_value_t = 32)]
    batch: u32,
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

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A worker node in this process; its metrics on a free loopback port.
fn start_worker(
    args: &Args,
    name: &str,
    dir: &std::path::Path,
) -> anyhow::Result<(u16, CancellationToken)> {
    let port = free_port()?;
    let file = FileConfig {
        deployment: Some(args.deployment.clone()),
        account: Some(name.into()),
        accounts: Some(args.accounts.clone()),
        max_batch: Some(args.batch),
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
        .model("digits")
        .context("the deployment has no digits model")?
        .model_id
        .clone();
    let chain = ChainClient::new(deployment.chain_config(ChainConfig::localnet()))?;
    let reader = MarketClient::new(chain.clone(), &deployment);
    let accounts = TestAccounts::load(&args.accounts)?;
    let fee = parse_trn(&args.fee)?;
    let info = reader.require_model(&model).await?;
    let samples = digits::load(&PathBuf::from(digits::DATA_PATH))?;
    let inputs: Vec<Vec<i8>> = digits::split(&samples)
        .test
        .iter()
        .map(|s| s.int8_input(&info.spec.input.quant))
        .collect();

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
    let ready = Instant::now();
    for name in &WORKERS[..args.workers] {
        let address = accounts.signer(name, "wasm")?.address().to_string();
        while reader
            .worker(&address)
            .await?
            .is_none_or(|w| w.worker.tier == 0)
        {
            if ready.elapsed() > Duration::from_secs(120) {
                bail!("worker {name} did not bond within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let start_height = chain.latest_height().await?;
    println!(
        "load: {} workers ({} TRN staked each), {} clients, {} jobs/s offered for {} s, batches of {}, {} TRN per job",
        args.workers, args.stake, args.clients, args.rate, args.seconds, args.batch, format_trn(fee)
    );

    // Clients: each submits a batch every `period`, so that together they offer `rate`.
    let submitted: Arc<Mutex<BTreeMap<u64, Submitted>>> = Arc::default();
    let period = Duration::from_secs_f64(f64::from(args.batch) * args.clients as f64 / args.rate);
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let mut clients = Vec::new();
    for (c, name) in CLIENTS[..args.clients].iter().enumerate() {
        let wallet = Wallet::new(chain.clone(), accounts.signer(name, "wasm")?)?;
        let market = reader.clone().with_wallet(wallet);
        let (inputs, model, submitted) = (inputs.clone(), model.clone(), submitted.clone());
        let batch = args.batch as usize;
        clients.push(tokio::spawn(async move {
            let mut next = Instant::now() + period.mul_f64(c as f64 / 2.0);
            let mut k = c * 7919;
            let mut errors = 0u32;
            while next < until {
                tokio::time::sleep_until(next.into()).await;
                next += period;
                let Ok(deadline) = market.deadline_in(3600).await else {
                    errors += 1;
                    continue;
                };
                let jobs: Vec<JobRequest> = (0..batch)
                    .map(|i| JobRequest {
                        model_id: model.clone(),
                        input: JobInput::inline(&inputs[(k + i) % inputs.len()]),
                        fee: Uint128::new(fee),
                        deadline,
                    })
                    .collect();
                k += batch;
                match market.submit_jobs(jobs).await {
                    Ok((ids, _)) => {
                        let at = Instant::now();
                        let mut all = submitted.lock().unwrap_or_else(|e| e.into_inner());
                        for id in ids {
                            all.insert(id, Submitted { at, posted: None });
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        eprintln!("submission failed: {e}");
                    }
                }
            }
            errors
        }));
    }
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
