//! Writes a seeded synthetic MLP (random int8 weights, valid under the exactness bound) as
//! `spec.json` + `weights.safetensors`, for the engine and gas benchmarks.
//!
//! `cargo run -p tavdun-models --bin gen-synthetic` writes the committed `models/bench-mlp`.

use std::path::PathBuf;

use clap::Parser;
use tavdun_core::model_dir::write_model;
use tavdun_core::synthetic;
use tavdun_models::describe;

#[derive(Parser)]
#[command(about = "Generate a seeded synthetic int8 MLP benchmark model")]
struct Args {
    /// Layer widths, input first: `784,512,256,10` is 784 inputs and three dense layers.
    #[arg(long, value_delimiter = ',', default_value = "784,512,256,10")]
    dims: Vec<u32>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The spec's `name`.
    #[arg(long, default_value = "bench-mlp")]
    name: String,
    /// Directory to write spec.json and weights.safetensors into.
    #[arg(long, default_value = "models/bench-mlp")]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let model = synthetic::mlp(&args.name, &args.dims, args.seed)?;
    write_model(&model, &args.out)?;
    let (id, root) = describe(&model);
    println!("wrote {}", args.out.display());
    println!("model id: {id}");
    println!("weights root: {root}");
    Ok(())
}
