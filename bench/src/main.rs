//! `engine-bench`: inferences/s and GFLOP/s of the 784-512-256-10 model at several batch sizes,
//! for the engine (CPU and, when an adapter opens, wgpu) and its peers, in one run:
//! candle (`--features candle`) and PyTorch (`python3` with `torch`), all f32 on the CPU with
//! the same thread count.
//!
//! ```text
//! cargo run --release -p tavdun-bench --features candle -- --batches 1,64,1024
//! ```

mod machine;
#[cfg(feature = "candle")]
mod peer_candle;
mod peer_torch;

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use tavdun_core::{synthetic, Model};
use tavdun_engine::{BackendChoice, Engine, EngineConfig};

#[derive(Parser)]
#[command(about = "Benchmarks the inference engine against candle and PyTorch")]
struct Args {
    /// Batch sizes to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,64,1024")]
    batches: Vec<usize>,
    /// Minimum measured time per (runner, batch), in seconds.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Also measure the engine on wgpu (the adapter from TAVDUN_ENGINE_ADAPTER).
    #[arg(long)]
    wgpu: bool,
    /// Skip PyTorch.
    #[arg(long)]
    no_torch: bool,
    /// Python interpreter with `torch` installed.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Threads for every CPU runner (default: all the cores the OS offers).
    #[arg(long)]
    threads: Option<usize>,
}

/// One measured cell: a runner at one batch size.
pub struct Figure {
    pub runner: String,
    pub batch: usize,
    pub inferences_per_s: f64,
}

/// Times `pass` (one forward over `batch` inputs, outputs read into host memory) until
/// `min_time` has passed, after one untimed pass; the same loop for every Rust runner.
pub fn time_passes(
    runner: &str,
    batch: usize,
    min_time: Duration,
    mut pass: impl FnMut() -> Result<()>,
) -> Result<Figure> {
    pass()?;
    let started = Instant::now();
    let mut passes = 0usize;
    while passes < 3 || started.elapsed() < min_time {
        pass()?;
        passes += 1;
    }
    Ok(Figure {
        runner: runner.into(),
        batch,
        inferences_per_s: (passes * batch) as f64 / started.elapsed().as_secs_f64(),
    })
}

fn engine_figures(
    backend: BackendChoice,
    model: &Model,
    args: &Args,
    figures: &mut Vec<Figure>,
) -> Result<()> {
    let max_batch = args.batches.iter().copied().max().unwrap_or(1);
    let config = EngineConfig {
        backend,
        max_batch,
        warmup_batches: vec![],
        ..EngineConfig::from_env()?
    };
    let engine = Engine::new(config)?;
    let name = format!("tavdun-engine {}", engine.device_report().backend.name());
    println!("{name}: {}", engine.device_report());
    // The cold load shows what kernel compilation costs when nothing is warmed up.
    let loaded = engine.load(model)?;
    let cold = Instant::now();
    loaded.run(&[synthetic::input(784, 0)])?;
    println!("{name}: first batch-1 pass {:.1} ms", ms(cold.elapsed()));
    let min_time = Duration::from_secs_f64(args.seconds);
    for &batch in &args.batches {
        let jobs: Vec<Vec<i8>> = (0..batch)
            .map(|j| synthetic::input(784, j as u64))
            .collect();
        let first = Instant::now();
        loaded.run(&jobs)?;
        println!(
            "{name}: first batch-{batch} pass {:.1} ms",
            ms(first.elapsed())
        );
        figures.push(time_passes(&name, batch, min_time, || {
            loaded.run(&jobs)?;
            Ok(())
        })?);
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> Result<()> {
    let args = Args::parse();
    let threads = args.threads.unwrap_or_else(machine::cores);
    // flex and candle both run on rayon's global pool; PyTorch gets the same number below.
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    let model = synthetic::mlp("bench-mlp", &[784, 512, 256, 10], 1).context("bench model")?;
    let flops = model.plan.flops() as f64;
    let peak = machine::f32_peak();
    println!("{peak}");
    println!("threads per runner: {threads}");

    let mut figures = Vec::new();
    engine_figures(BackendChoice::Cpu, &model, &args, &mut figures)?;
    if args.wgpu {
        engine_figures(BackendChoice::Wgpu, &model, &args, &mut figures)?;
    }
    #[cfg(feature = "candle")]
    figures.extend(peer_candle::figures(&model, &args.batches, args.seconds)?);
    if !args.no_torch {
        match peer_torch::figures(&model, &args, threads) {
            Ok(torch) => figures.extend(torch),
            Err(e) => println!("PyTorch: not measured: {e:#}"),
        }
    }

    println!();
    println!("| runner | batch | inferences/s | GFLOP/s | % of f32 peak |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for f in &figures {
        let gflops = f.inferences_per_s * flops / 1e9;
        println!(
            "| {} | {} | {:.0} | {:.1} | {:.0}% |",
            f.runner,
            f.batch,
            f.inferences_per_s,
            gflops,
            100.0 * gflops / peak.gflops
        );
    }
    Ok(())
}
