//! Tavdun's shipped models: the digits classifier (trained with burn, quantised to the spec)
//! and the seeded synthetic benchmark models. Binaries: `train-digits`
//! (feature `train`), `gen-synthetic`.

pub mod digits;
pub mod minilm;
pub mod quantize;
#[cfg(feature = "train")]
pub mod train;

use std::path::Path;

use anyhow::Context;
use tavdun_core::graph::GraphModel;
use tavdun_core::Model;

pub const SPEC_FILE: &str = "spec.json";
pub const WEIGHTS_FILE: &str = "weights.safetensors";

/// Writes `spec.json` (the canonical form, so the file's bytes are what `model_id` hashes)
/// and `weights.safetensors` into `dir`, creating it if needed.
pub fn write_model(model: &Model, dir: &Path) -> anyhow::Result<()> {
    write_files(dir, &model.spec.canonical_json(), &model.to_safetensors())
}

/// Reads a model directory written by [`write_model`].
pub fn read_model(dir: &Path) -> anyhow::Result<Model> {
    let (spec, weights) = read_files(dir)?;
    Model::load(&spec, &weights).with_context(|| format!("loading the model in {}", dir.display()))
}

fn write_files(dir: &Path, spec: &[u8], weights: &[u8]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, bytes) in [(SPEC_FILE, spec), (WEIGHTS_FILE, weights)] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn read_files(dir: &Path) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    };
    Ok((read(SPEC_FILE)?, read(WEIGHTS_FILE)?))
}

/// The model id and weights root, hex-encoded, as the README and the chain show them.
pub fn describe(model: &Model) -> (String, String) {
    (
        hex::encode(model.id()),
        hex::encode(model.weights_tree().root()),
    )
}

/// Writes a graph model's `spec.json` (canonical form) and `weights.safetensors` into `dir`.
pub fn write_graph_model(model: &GraphModel, dir: &Path) -> anyhow::Result<()> {
    write_files(dir, &model.spec.canonical_json(), &model.to_safetensors())
}

/// Reads a graph model directory written by [`write_graph_model`].
pub fn read_graph_model(dir: &Path) -> anyhow::Result<GraphModel> {
    let (spec, weights) = read_files(dir)?;
    GraphModel::load(&spec, &weights)
        .with_context(|| format!("loading the graph model in {}", dir.display()))
}

/// A graph model's id and weights root, hex-encoded.
pub fn describe_graph(model: &GraphModel) -> (String, String) {
    (
        hex::encode(model.id()),
        hex::encode(model.weights_tree().root()),
    )
}
