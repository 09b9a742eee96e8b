//! The 784-512-256-10 int8 MLP (`synthetic::mlp`, spec version 1): inferences/s and GFLOP/s
//! of the engine and its peers (candle, PyTorch), all f32 on the CPU with the same threads.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tavdun_core::{synthetic, Model};
use tavdun_engine::{BackendChoice, Engine, EngineConfig};

use crate::{machine, ms, time_passes, Args, Figure};

pub const DEFAULT_BATCHES: [usize; 3] = [1, 64, 1024];

fn engine_figures(
    backend: BackendChoice,
    model: &Model,
    args: &Args,
    batches: &[usize],
    figures: &mut Vec<Figure>,
) -> Result<()> {
    let max_batch = batches.iter().copied().max().unwrap_or(1);
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
    for &batch in batches {
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

/// Measures every runner and prints the table.
pub fn run(args: &Args, batches: &[usize], threads: usize) -> Result<()> {
    let model = synthetic::mlp("bench-mlp", &[784, 512, 256, 10], 1).context("bench model")?;
    let flops = model.plan.flops() as f64;
    let peak = machine::f32_peak();
    println!("{peak}");
    println!("threads per runner: {threads}");

    let mut figures = Vec::new();
    engine_figures(BackendChoice::Cpu, &model, args, batches, &mut figures)?;
    if args.wgpu {
        engine_figures(BackendChoice::Wgpu, &model, args, batches, &mut figures)?;
    }
    #[cfg(feature = "candle")]
    figures.extend(crate::peer_candle::figures(&model, batches, args.seconds)?);
    if !args.no_torch {
        match crate::peer_torch::figures(&model, args, batches, threads) {
            Ok(torch) => figures.extend(torch),
            Err(e) => println!("PyTorch: not measured: {e:#}"),
        }
    }

    crate::print_figures(&figures, "inferences", 0, flops, peak.gflops);
    Ok(())
}
