//! Tavdun's shipped models: the digits classifier (trained with burn, quantised to the spec)
//! and the seeded synthetic benchmark models. Binaries: `train-digits`
//! (feature `train`), `gen-synthetic`.

pub mod digits;
pub mod quantize;
#[cfg(feature = "train")]
pub mod train;

use std::path::Path;

use anyhow::Context;
use tavdun_core::Model;

pub const SPEC_FILE: &str = "spec.json";
pub const WEIGHTS_FILE: &str = "weights.safetensors";

/// Writes `spec.json` (the canonical form, so the file's bytes are what `model_id` hashes)
/// and `weights.safetensors` into `dir`, creating it if needed.
pub fn write_model(model: &Model, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let spec = dir.join(SPEC_FILE);
    std::fs::write(&spec, model.spec.canonical_json())
        .with_context(|| format!("writing {}", spec.display()))?;
    let weights = dir.join(WEIGHTS_FILE);
    std::fs::write(&weights, model.to_safetensors())
        .with_context(|| format!("writing {}", weights.display()))?;
    Ok(())
}

/// Reads a model directory written by [`write_model`].
pub fn read_model(dir: &Path) -> anyhow::Result<Model> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    };
    Model::load(&read(SPEC_FILE)?, &read(WEIGHTS_FILE)?)
        .with_context(|| format!("loading the model in {}", dir.display()))
}

/// The model id and weights root, hex-encoded, as the README and the chain show them.
pub fn describe(model: &Model) -> (String, String) {
    (
        hex::encode(model.id()),
        hex::encode(model.weights_tree().root()),
    )
}
