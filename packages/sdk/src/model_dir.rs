//! A model directory: `spec.json` and `weights.safetensors`, as shipped under `models/`,
//! written by the model tools and registered by `tavdun model register`.

use std::path::{Path, PathBuf};

use tavdun_core::Model;

use crate::error::{read, Result, SdkError};

pub const SPEC_FILE: &str = "spec.json";
pub const WEIGHTS_FILE: &str = "weights.safetensors";

/// Where the weights of the model in `dir` are.
pub fn weights_path(dir: &Path) -> PathBuf {
    dir.join(WEIGHTS_FILE)
}

/// The model in `dir`, its weights checked against its spec.
pub fn load_model(dir: &Path) -> Result<Model> {
    let spec = read(&dir.join(SPEC_FILE))?;
    let weights = read(&weights_path(dir))?;
    Ok(Model::load(&spec, &weights)?)
}

/// Writes `spec.json` (the canonical form, so the file's bytes are what `model_id` hashes)
/// and `weights.safetensors` into `dir`, creating it if needed.
pub fn write_model(model: &Model, dir: &Path) -> Result<()> {
    let write = |path: PathBuf, bytes: Vec<u8>| {
        std::fs::write(&path, bytes).map_err(|source| SdkError::Write { path, source })
    };
    std::fs::create_dir_all(dir).map_err(|source| SdkError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    write(dir.join(SPEC_FILE), model.spec.canonical_json())?;
    write(weights_path(dir), model.to_safetensors())
}
