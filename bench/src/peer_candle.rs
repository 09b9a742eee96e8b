//! candle running the same model on the CPU in f32, with the same ops as the engine.

use std::time::Duration;

use anyhow::Result;
use candle_core::{Device, Tensor};
use tavdun_core::{synthetic, Layer, Model};

use crate::{time_passes, Figure};

struct Dense {
    /// `[fan_in, units]`, contiguous.
    weight: Tensor,
    /// Bias plus the rounding term, `[units]`.
    bias: Tensor,
    scale: f64,
    lower: f32,
}

fn layers(model: &Model, device: &Device) -> Result<Vec<Dense>> {
    let mut out = Vec::new();
    for ((layer, lp), w) in model
        .spec
        .layers
        .iter()
        .zip(&model.plan.layers)
        .zip(&model.weights)
    {
        let (Layer::Dense { units, shift, relu }, Some(w)) = (layer, w) else {
            anyhow::bail!("the candle peer runs dense models only");
        };
        let (units, fan_in) = (*units as usize, lp.fan_in as usize);
        let weight: Vec<f32> = w.weight.iter().map(|&v| f32::from(v)).collect();
        let weight = Tensor::from_vec(weight, (units, fan_in), device)?
            .t()?
            .contiguous()?;
        let rounding = if *shift == 0 { 0 } else { 1i64 << (shift - 1) };
        let bias: Vec<f32> = w
            .bias
            .iter()
            .map(|&b| (i64::from(b) + rounding) as f32)
            .collect();
        out.push(Dense {
            weight,
            bias: Tensor::from_vec(bias, units, device)?,
            scale: 1.0 / f64::from(1u32 << shift),
            lower: if *relu { 0.0 } else { -128.0 },
        });
    }
    Ok(out)
}

pub fn figures(model: &Model, batches: &[usize], seconds: f64) -> Result<Vec<Figure>> {
    let device = Device::Cpu;
    let layers = layers(model, &device)?;
    let len = model.plan.input.len();
    let mut figures = Vec::new();
    for &batch in batches {
        let input: Vec<f32> = (0..batch)
            .flat_map(|j| synthetic::input(len, j as u64))
            .map(f32::from)
            .collect();
        let x = Tensor::from_vec(input, (batch, len), &device)?;
        figures.push(time_passes(
            "candle",
            batch,
            Duration::from_secs_f64(seconds),
            || {
                let mut h = x.clone();
                for l in &layers {
                    let acc = h.matmul(&l.weight)?.broadcast_add(&l.bias)?;
                    h = acc
                        .affine(l.scale, 0.0)?
                        .floor()?
                        .clamp(l.lower, 127.0f32)?;
                    // Every layer's bytes come back to the host, as the engine's do.
                    std::hint::black_box(h.to_vec2::<f32>()?);
                }
                Ok(())
            },
        )?);
    }
    Ok(figures)
}
