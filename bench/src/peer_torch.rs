//! PyTorch running the same model on the CPU in f32, driven through `torch_mlp.py`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use tavdun_core::{synthetic, Layer, Model};

use crate::{Args, Figure};

/// Writes the model as raw int8 weights and int32 biases plus a JSON index, for numpy.
fn write_model(model: &Model, dir: &Path, threads: usize, max_batch: usize) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut layers = Vec::new();
    for (i, ((layer, lp), w)) in model
        .spec
        .layers
        .iter()
        .zip(&model.plan.layers)
        .zip(&model.weights)
        .enumerate()
    {
        let (Layer::Dense { units, shift, relu }, Some(w)) = (layer, w) else {
            bail!("the PyTorch peer runs dense models only");
        };
        let weight: Vec<u8> = w.weight.iter().map(|&v| v as u8).collect();
        std::fs::write(dir.join(format!("layer{i}.w")), weight)?;
        let bias: Vec<u8> = w.bias.iter().flat_map(|b| b.to_le_bytes()).collect();
        std::fs::write(dir.join(format!("layer{i}.b")), bias)?;
        layers.push(serde_json::json!({
            "name": format!("layer{i}"), "units": units, "fan_in": lp.fan_in,
            "shift": shift, "relu": relu,
        }));
    }
    let len = model.plan.input.len();
    let inputs: Vec<u8> = (0..max_batch)
        .flat_map(|j| synthetic::input(len, j as u64))
        .map(|v| v as u8)
        .collect();
    std::fs::write(dir.join("inputs.bin"), inputs)?;
    let index = serde_json::json!({ "layers": layers, "input_len": len, "threads": threads });
    std::fs::write(dir.join("model.json"), index.to_string())?;
    Ok(())
}

pub fn figures(
    model: &Model,
    args: &Args,
    batches: &[usize],
    threads: usize,
) -> Result<Vec<Figure>> {
    let dir = scratch_dir("mlp");
    let max_batch = batches.iter().copied().max().unwrap_or(1);
    write_model(model, &dir, threads, max_batch)?;
    let figures = run_script(args, "torch_mlp.py", &dir, batches);
    std::fs::remove_dir_all(&dir).ok();
    figures
}

/// A scratch directory for one peer's files.
pub fn scratch_dir(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tavdun-bench-{what}-{}", std::process::id()))
}

/// Runs a peer script of this crate as `SCRIPT DIR BATCHES SECONDS` and reads its JSON
/// lines: `{"info": ...}` (printed) or `{"runner": ..., "batch": ..., "per_s": ...}`.
pub fn run_script(args: &Args, script: &str, dir: &Path, batches: &[usize]) -> Result<Vec<Figure>> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(script);
    let batches: Vec<String> = batches.iter().map(|b| b.to_string()).collect();
    let output = Command::new(&args.python)
        .arg(&script)
        .arg(dir)
        .arg(batches.join(","))
        .arg(args.seconds.to_string())
        .output()
        .with_context(|| format!("running {} {}", args.python, script.display()))?;
    if !output.status.success() {
        bail!(
            "{} exited with {}: {}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let mut figures = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{} output: {line}", script.display()))?;
        if let Some(info) = v.get("info").and_then(|i| i.as_str()) {
            println!("PyTorch: {info}");
            continue;
        }
        figures.push(Figure {
            runner: v["runner"].as_str().context("runner")?.to_string(),
            batch: v["batch"].as_u64().context("batch")? as usize,
            per_s: v["per_s"].as_f64().context("per_s")?,
        });
    }
    Ok(figures)
}
