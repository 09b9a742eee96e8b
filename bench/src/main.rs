//! `tavdun-bench`: the engine against its peers, side by side in one run, on the CPU with the
//! same thread count for every runner (and the engine on wgpu with `--wgpu`).
//!
//! - `--model mlp` (default): the 784-512-256-10 int8 MLP (spec version 1), inferences/s
//!   against candle (`--features candle`) and PyTorch (`python3` with `torch`), all f32;
//! - `--model minilm`: MiniLM embeddings/s (spec version 2) on real sentences against
//!   candle-transformers' BERT in f32 (`--features candle`) and sentence-transformers on
//!   PyTorch in f32 and dynamic int8 (`--python` with `torch` and `sentence-transformers`),
//!   plus where the engine's time goes, op by op.
//!
//! ```text
//! cargo run --release -p tavdun-bench --features candle -- --model minilm --batches 1,32
//! ```

mod machine;
mod minilm;
mod mlp;
#[cfg(feature = "candle")]
mod peer_candle;
#[cfg(feature = "candle")]
mod peer_candle_bert;
mod peer_torch;
mod peer_torch_minilm;

use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchModel {
    Mlp,
    Minilm,
}

#[derive(Parser)]
#[command(about = "Benchmarks the inference engine against candle and PyTorch")]
pub struct Args {
    /// Which model to measure.
    #[arg(long, value_enum, default_value = "mlp")]
    model: BenchModel,
    /// Batch sizes to measure (default: 1,64,1024 for mlp, 1,32 for minilm).
    #[arg(long, value_delimiter = ',')]
    batches: Vec<usize>,
    /// MiniLM: tokens per sentence (at most 128).
    #[arg(long, default_value_t = 128)]
    tokens: usize,
    /// Minimum measured time per (runner, batch), in seconds.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Also measure the engine on wgpu (the adapter from TAVDUN_ENGINE_ADAPTER).
    #[arg(long)]
    wgpu: bool,
    /// Skip PyTorch.
    #[arg(long)]
    no_torch: bool,
    /// Python interpreter with `torch` (and for MiniLM `sentence-transformers`) installed.
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
    /// Inferences (MLP) or embeddings (MiniLM) per second.
    pub per_s: f64,
}

/// Prints the side-by-side table: `unit` names what `per_s` counts, `flops` is one item's
/// work, `decimals` the precision of the rate.
pub fn print_figures(
    figures: &[Figure],
    unit: &str,
    decimals: usize,
    flops: f64,
    peak_gflops: f64,
) {
    println!();
    println!("| runner | batch | {unit}/s | GFLOP/s | % of f32 peak |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for f in figures {
        let gflops = f.per_s * flops / 1e9;
        println!(
            "| {} | {} | {:.decimals$} | {:.1} | {:.0}% |",
            f.runner,
            f.batch,
            f.per_s,
            gflops,
            100.0 * gflops / peak_gflops
        );
    }
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
        per_s: (passes * batch) as f64 / started.elapsed().as_secs_f64(),
    })
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> Result<()> {
    // As a node runs (worker/src/main.rs): passes reuse the memory of the passes before.
    tavdun_engine::retain_freed_memory();
    let args = Args::parse();
    let threads = args.threads.unwrap_or_else(machine::cores);
    // flex and candle both run on rayon's global pool; PyTorch gets the same number.
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    match args.model {
        BenchModel::Mlp => {
            let batches = or_default(&args.batches, &mlp::DEFAULT_BATCHES);
            mlp::run(&args, &batches, threads)
        }
        BenchModel::Minilm => {
            let batches = or_default(&args.batches, &minilm::DEFAULT_BATCHES);
            minilm::run(&args, &batches, threads)
        }
    }
}

fn or_default(given: &[usize], default: &[usize]) -> Vec<usize> {
    if given.is_empty() {
        default.to_vec()
    } else {
        given.to_vec()
    }
}
