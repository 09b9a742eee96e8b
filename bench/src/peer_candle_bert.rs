//! candle-transformers' BERT running all-MiniLM-L6-v2 in f32 on the CPU, from the same wheel's
//! safetensors as the int8 import, on the same token ids: mean pooling over the mask and L2
//! normalisation (what sentence-transformers does), the embeddings read back.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tavdun_core::graph::TokenInput;

use crate::{time_passes, Figure};

fn load(dir: &Path) -> Result<BertModel> {
    let config: Config = serde_json::from_slice(&std::fs::read(dir.join("config.json"))?)
        .context("config.json for candle")?;
    // SAFETY: the file is memory-mapped read-only for this process's lifetime; nothing here
    // writes it.
    let vb = unsafe {
        VarBuilder::from_mmaped_safetensors(
            &[dir.join("model.safetensors")],
            DType::F32,
            &Device::Cpu,
        )?
    };
    Ok(BertModel::load(vb, &config)?)
}

/// `[batch, tokens]` u32 tensors of the jobs' ids and masks (jobs of one length).
fn batch_tensors(jobs: &[TokenInput]) -> Result<(Tensor, Tensor)> {
    let tokens = jobs.first().map_or(0, |j| j.ids.len());
    let ids: Vec<u32> = jobs.iter().flat_map(|j| j.ids.iter().copied()).collect();
    let mask: Vec<u32> = jobs
        .iter()
        .flat_map(|j| j.mask.iter().map(|&m| u32::from(m)))
        .collect();
    Ok((
        Tensor::from_vec(ids, (jobs.len(), tokens), &Device::Cpu)?,
        Tensor::from_vec(mask, (jobs.len(), tokens), &Device::Cpu)?,
    ))
}

fn embed(model: &BertModel, ids: &Tensor, mask: &Tensor) -> Result<Vec<Vec<f32>>> {
    let hidden = model.forward(ids, &ids.zeros_like()?, Some(mask))?;
    let weights = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let pooled = hidden
        .broadcast_mul(&weights)?
        .sum(1)?
        .broadcast_div(&weights.sum(1)?)?;
    let norm = pooled.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
    Ok(pooled.broadcast_div(&norm)?.to_vec2()?)
}

pub fn figures(
    model_dir: &Path,
    jobs: &[TokenInput],
    batches: &[usize],
    seconds: f64,
) -> Result<Vec<Figure>> {
    let model = load(model_dir)?;
    let mut figures = Vec::new();
    for &batch in batches {
        let (ids, mask) = batch_tensors(&jobs[..batch])?;
        figures.push(time_passes(
            "candle BERT f32",
            batch,
            Duration::from_secs_f64(seconds),
            || {
                std::hint::black_box(embed(&model, &ids, &mask)?);
                Ok(())
            },
        )?);
    }
    Ok(figures)
}
