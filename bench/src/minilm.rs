//! MiniLM (all-MiniLM-L6-v2, spec version 2): embeddings per second of the engine (every
//! node's output read back and cut into per-job traces, as the worker needs them) against its
//! float peers on the same token ids, and where the engine's time goes, op by op.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use tavdun_core::graph::{GraphModel, TokenInput};
use tavdun_core::model_dir::load_graph_model;
use tavdun_engine::{BackendChoice, Engine, EngineConfig};
use tavdun_models::minilm::{self, corpus};
use tavdun_sdk::text::TextTokenizer;

use crate::{machine, ms, time_passes, Args, Figure};

pub const DEFAULT_BATCHES: [usize; 2] = [1, 32];

/// `count` fortunes (in corpus order), each joined with the next ones until it has `tokens`
/// tokens, cut there with `[SEP]` kept last: real text at exactly the length measured.
fn inputs(count: usize, tokens: usize) -> Result<Vec<TokenInput>> {
    let tokenizer = TextTokenizer::from_file(&minilm::wheel_model_dir().join("tokenizer.json"))
        .context("run scripts/setup")?;
    let all = corpus::sentences(Path::new(corpus::FORTUNES_DIR))?;
    ensure!(!all.is_empty(), "no fortunes");
    (0..count)
        .map(|j| {
            // Each fortune has at least five words: this many reach the tokenizer's limit.
            let text: Vec<&str> = (0..minilm::MAX_TOKENS as usize / 5 + 1)
                .map(|k| all[(j * 7 + k) % all.len()].as_str())
                .collect();
            let mut input = tokenizer.encode(&text.join(" "))?;
            ensure!(input.ids.len() >= tokens, "{} tokens only", input.ids.len());
            let sep = input.ids[input.ids.len() - 1];
            input.ids.truncate(tokens - 1);
            input.ids.push(sep);
            input.mask.truncate(tokens);
            Ok(input)
        })
        .collect()
}

fn engine_figures(
    backend: BackendChoice,
    model: &GraphModel,
    jobs: &[TokenInput],
    args: &Args,
    batches: &[usize],
    figures: &mut Vec<Figure>,
) -> Result<()> {
    let max_batch = batches.iter().copied().max().unwrap_or(1);
    let config = EngineConfig {
        backend,
        max_batch,
        warmup_batches: vec![1],
        ..EngineConfig::from_env()?
    };
    let engine = Engine::new(config)?;
    let name = format!("tavdun-engine {}", engine.device_report().backend.name());
    println!("{name}: {}", engine.device_report());
    let loaded = engine.load_graph(model)?;
    println!(
        "{name}: load {:.0} ms (weights and warm-up at batch 1, {} and 1 tokens)",
        ms(loaded.load_time()),
        model.plan.max_tokens
    );
    let min_time = Duration::from_secs_f64(args.seconds);
    for &batch in batches {
        let jobs = &jobs[..batch];
        let first = Instant::now();
        loaded.run(jobs)?;
        println!(
            "{name}: first batch-{batch} pass {:.1} ms",
            ms(first.elapsed())
        );
        figures.push(time_passes(&name, batch, min_time, || {
            // The traces hold every node's values, copied out of the read-back data.
            std::hint::black_box(loaded.run(jobs)?);
            Ok(())
        })?);
        print_profile(&name, model, &loaded.profile(jobs)?, batch);
    }
    Ok(())
}

/// Time per op kind in one pass (the device synchronised after every node).
fn print_profile(name: &str, model: &GraphModel, times: &[Duration], batch: usize) {
    let mut by_kind: BTreeMap<&str, (usize, Duration)> = BTreeMap::new();
    for (node, time) in model.spec.nodes.iter().zip(times) {
        let entry = by_kind.entry(node.op.kind()).or_default();
        entry.0 += 1;
        entry.1 += *time;
    }
    let total: Duration = times.iter().sum();
    let mut rows: Vec<_> = by_kind.into_iter().collect();
    rows.sort_by_key(|(_, (_, t))| std::cmp::Reverse(*t));
    println!();
    println!(
        "{name}, batch {batch}: time per op ({:.1} ms in all, synchronised after each node)",
        ms(total)
    );
    println!("| op | nodes | ms | share |");
    println!("| --- | ---: | ---: | ---: |");
    for (kind, (count, time)) in rows {
        println!(
            "| {kind} | {count} | {:.1} | {:.0}% |",
            ms(time),
            100.0 * time.as_secs_f64() / total.as_secs_f64().max(1e-9)
        );
    }
    println!();
}

/// Measures every runner and prints the table.
pub fn run(args: &Args, batches: &[usize], threads: usize) -> Result<()> {
    let model = load_graph_model(&minilm::int8_model_dir()).context("run scripts/setup")?;
    let tokens = args.tokens;
    ensure!(
        (2..=model.plan.max_tokens as usize).contains(&tokens),
        "--tokens must be in 2..={}",
        model.plan.max_tokens
    );
    let max_batch = batches.iter().copied().max().unwrap_or(1);
    let jobs = inputs(max_batch, tokens)?;
    let flops = model.plan.flops(&model.spec, tokens as u32) as f64;
    let peak = machine::f32_peak();
    println!("{peak}");
    println!(
        "threads per runner: {threads}; MiniLM at {tokens} tokens: {:.2} GFLOP per embedding",
        flops / 1e9
    );

    let mut figures = Vec::new();
    engine_figures(
        BackendChoice::Cpu,
        &model,
        &jobs,
        args,
        batches,
        &mut figures,
    )?;
    if args.wgpu {
        engine_figures(
            BackendChoice::Wgpu,
            &model,
            &jobs,
            args,
            batches,
            &mut figures,
        )?;
    }
    #[cfg(feature = "candle")]
    figures.extend(crate::peer_candle_bert::figures(
        &minilm::wheel_model_dir(),
        &jobs,
        batches,
        args.seconds,
    )?);
    if !args.no_torch {
        match crate::peer_torch_minilm::figures(&jobs, args, batches, threads) {
            Ok(torch) => figures.extend(torch),
            Err(e) => println!("PyTorch: not measured: {e:#}"),
        }
    }

    crate::print_figures(&figures, "embeddings", 1, flops, peak.gflops);
    Ok(())
}
