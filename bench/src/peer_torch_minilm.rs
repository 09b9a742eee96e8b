//! sentence-transformers' all-MiniLM-L6-v2 on PyTorch (f32, and dynamic int8 where it
//! quantises), from the same wheel's files, on the same token ids, driven through
//! `torch_minilm.py`.

use std::path::Path;

use anyhow::Result;
use tavdun_core::graph::TokenInput;
use tavdun_models::minilm;

use crate::peer_torch::{run_script, scratch_dir};
use crate::{Args, Figure};

/// Writes the ids (int64, `[jobs, tokens]`, row-major) and a JSON index for numpy.
fn write_inputs(dir: &Path, jobs: &[TokenInput], threads: usize) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let ids: Vec<u8> = jobs
        .iter()
        .flat_map(|j| j.ids.iter().flat_map(|&id| i64::from(id).to_le_bytes()))
        .collect();
    std::fs::write(dir.join("ids.bin"), ids)?;
    let index = serde_json::json!({
        "model_dir": minilm::wheel_model_dir(),
        "tokens": jobs.first().map_or(0, |j| j.ids.len()),
        "threads": threads,
    });
    std::fs::write(dir.join("inputs.json"), index.to_string())?;
    Ok(())
}

pub fn figures(
    jobs: &[TokenInput],
    args: &Args,
    batches: &[usize],
    threads: usize,
) -> Result<Vec<Figure>> {
    let dir = scratch_dir("minilm");
    write_inputs(&dir, jobs, threads)?;
    let figures = run_script(args, "torch_minilm.py", &dir, batches);
    std::fs::remove_dir_all(&dir).ok();
    figures
}
