//! Trains the digits classifier, quantises it and writes `spec.json` + `weights.safetensors`.
//!
//! `cargo run -p tavdun-models --features train --bin train-digits -- --out models/digits` (from the repo root)
//! reproduces the committed model byte for byte.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::ensure;
use clap::Parser;
use tavdun_core::Layer;
use tavdun_models::digits::{self, INPUT_EXP};
use tavdun_models::quantize::{quantize, Target};
use tavdun_models::train::{float_accuracy, train, TrainConfig};
use tavdun_models::{describe, write_model};

/// The int8 model must classify at least this share of the held-out images right.
const MIN_INT8_ACCURACY: f64 = 0.95;

#[derive(Parser)]
#[command(about = "Train, quantise and write the Tavdun digits classifier")]
struct Args {
    /// The gzipped digits CSV (64 pixels then the label, one image a line).
    #[arg(long, default_value = digits::DATA_PATH)]
    data: PathBuf,
    /// Directory to write spec.json and weights.safetensors into.
    #[arg(long, default_value = "models/digits")]
    out: PathBuf,
    /// Seed of the weight initialisation and of the batch shuffle.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    seed: u64,
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    epochs: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let samples = digits::load(&args.data)?;
    let split = digits::split(&samples);
    eprintln!(
        "{} images: {} train, {} test (split seed {})",
        samples.len(),
        split.train.len(),
        split.test.len(),
        digits::SPLIT_SEED
    );
    let cfg = TrainConfig {
        seed: args.seed,
        epochs: args.epochs,
        ..TrainConfig::default()
    };
    let started = Instant::now();
    let net = train(&cfg, &split.train, |line| eprintln!("{line}"));
    let train_secs = started.elapsed().as_secs_f64();
    let float_train = float_accuracy(&net, &split.train);
    let float_test = float_accuracy(&net, &split.test);

    let quant = digits::input_quant();
    let calibration: Vec<Vec<i8>> = split.train.iter().map(|s| s.int8_input(&quant)).collect();
    let target = Target {
        name: "digits",
        input_shape: vec![1, 8, 8],
        input_quant: quant,
        input_exp: INPUT_EXP,
        calibration: &calibration,
    };
    let model = quantize(&target, &net.float_layers())?;
    let int8_train = digits::int8_accuracy(&model, &split.train)?;
    let int8_test = digits::int8_accuracy(&model, &split.test)?;
    let (id, root) = describe(&model);

    println!("training: {} epochs in {train_secs:.1} s", cfg.epochs);
    println!("float accuracy: train {float_train:.4}, test {float_test:.4}");
    println!("int8 accuracy (tavdun_core::forward): train {int8_train:.4}, test {int8_test:.4}");
    for (i, layer) in model.spec.layers.iter().enumerate() {
        if let Layer::Dense { shift, .. } | Layer::Conv2d { shift, .. } = layer {
            println!("layer {i}: shift {shift}");
        }
    }
    println!("model id: {id}");
    println!("weights root: {root}");
    ensure!(
        int8_test >= MIN_INT8_ACCURACY,
        "int8 test accuracy {int8_test:.4} is below {MIN_INT8_ACCURACY}: not writing the model"
    );
    write_model(&model, &args.out)?;
    println!("wrote {}", args.out.display());
    Ok(())
}
