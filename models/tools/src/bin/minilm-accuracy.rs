//! Accuracy of the imported int8 MiniLM against the float model: candle-transformers' BERT on
//! the same f32 safetensors, mean pooling and L2 normalisation, on real English sentences
//! (Debian's fortunes, none of them used for calibration). Prints the mean cosine similarity
//! of the two embeddings of each sentence, the share of sentences whose nearest neighbour
//! among the others is the same under both, and the relative error of every node.
//!
//! `cargo run --release -p tavdun-models --features float-reference --bin minilm-accuracy`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, Context};
use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use clap::Parser;
use tavdun_core::graph::{forward, TokenInput};
use tavdun_core::model_dir::load_graph_model;
use tavdun_models::minilm::accuracy::{
    cosine, embedding_of, same_nearest_neighbour, NodeErrors, Scales,
};
use tavdun_models::minilm::{self, corpus, float::FloatBert};
use tavdun_sdk::text::TextTokenizer;

/// The goals.
const MIN_MEAN_COSINE: f64 = 0.98;
const MIN_SAME_NEIGHBOUR: f64 = 0.95;

#[derive(Parser)]
#[command(about = "Compare the int8 MiniLM with candle's float BERT")]
struct Args {
    #[arg(long, default_value_os_t = minilm::wheel_model_dir())]
    model_dir: PathBuf,
    #[arg(long, default_value_os_t = minilm::int8_model_dir())]
    int8_dir: PathBuf,
    #[arg(long, default_value = corpus::FORTUNES_DIR)]
    corpus: PathBuf,
    /// Evaluation sentences.
    #[arg(long, default_value_t = 1000)]
    sentences: usize,
    /// Sentences the per-node errors are measured on.
    #[arg(long, default_value_t = 50)]
    node_errors: usize,
}

struct Candle {
    model: BertModel,
}

impl Candle {
    fn load(dir: &std::path::Path) -> anyhow::Result<Candle> {
        let config: Config = serde_json::from_slice(&std::fs::read(dir.join("config.json"))?)
            .context("config.json for candle")?;
        let weights = dir.join("model.safetensors");
        // SAFETY: the file is memory-mapped read-only for this process's lifetime; nothing
        // here writes it.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DTYPE, &Device::Cpu)? };
        Ok(Candle {
            model: BertModel::load(vb, &config)?,
        })
    }

    /// Mean pooling over the mask, then L2 normalisation, as sentence-transformers does.
    fn embed(&self, input: &TokenInput) -> anyhow::Result<Vec<f64>> {
        let n = input.ids.len();
        let ids = Tensor::new(input.ids.as_slice(), &Device::Cpu)?.reshape((1, n))?;
        let types = ids.zeros_like()?;
        let mask: Vec<u32> = input.mask.iter().map(|&m| u32::from(m)).collect();
        let mask = Tensor::new(mask.as_slice(), &Device::Cpu)?.reshape((1, n))?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        let rows: Vec<Vec<f32>> = hidden.squeeze(0)?.to_vec2()?;
        let width = rows.first().map_or(0, Vec::len);
        let kept = input.mask.iter().filter(|&&m| m == 1).count().max(1) as f64;
        let mut mean = vec![0f64; width];
        for (row, &m) in rows.iter().zip(&input.mask) {
            if m == 1 {
                for (acc, &v) in mean.iter_mut().zip(row) {
                    *acc += f64::from(v) / kept;
                }
            }
        }
        let norm = mean.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
        Ok(mean.iter().map(|v| v / norm).collect())
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let model = load_graph_model(&args.int8_dir)?;
    let scales_path = args.int8_dir.join(minilm::SCALES_FILE);
    let scales: Scales = serde_json::from_slice(
        &std::fs::read(&scales_path)
            .with_context(|| format!("reading {}", scales_path.display()))?,
    )?;
    let tokenizer = TextTokenizer::from_file(&args.model_dir.join("tokenizer.json"))?;
    let candle = Candle::load(&args.model_dir)?;
    let own_float = FloatBert::load(&args.model_dir)?;
    let all = corpus::sentences(&args.corpus)?;
    let sentences = corpus::evaluation(&all, args.sentences);
    if sentences.len() < args.sentences {
        return Err(anyhow!(
            "the corpus has only {} evaluation sentences",
            sentences.len()
        ));
    }
    let mut errors = NodeErrors::default();
    let (mut ints, mut floats) = (Vec::new(), Vec::new());
    let mut own_agreement = 0f64;
    let mut tokens = 0usize;
    for (i, s) in sentences.iter().enumerate() {
        let input = tokenizer.encode(s)?;
        tokens += input.ids.len();
        let trace = forward(&model, &input)?;
        ints.push(embedding_of(&trace));
        floats.push(candle.embed(&input)?);
        if i < args.node_errors {
            errors.add(&model, &scales, &trace, &own_float, &input);
            let own: Vec<f64> = own_float.forward(&input)["pool.l2"]
                .values
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            own_agreement += cosine(&own, &floats[i]) / args.node_errors as f64;
        }
    }
    let cosines: Vec<f64> = ints
        .iter()
        .zip(&floats)
        .map(|(a, b)| cosine(a, b))
        .collect();
    let mean = cosines.iter().sum::<f64>() / cosines.len() as f64;
    let worst = cosines.iter().copied().fold(1.0, f64::min);
    let same = same_nearest_neighbour(&ints, &floats);
    println!(
        "{} sentences ({} tokens) from Debian's fortunes, {:.0} s",
        sentences.len(),
        tokens,
        started.elapsed().as_secs_f64()
    );
    println!("importer's own f32 model vs candle: mean cosine {own_agreement:.6}");
    println!(
        "relative RMS error of each node against the f32 model ({} sentences):",
        args.node_errors
    );
    for (name, e) in errors.relative(&model) {
        println!("  {name:16} {e:.4}");
    }
    println!("mean cosine(int8, float): {mean:.4} (worst {worst:.4}; goal >= {MIN_MEAN_COSINE})");
    println!(
        "same nearest neighbour: {:.2}% (goal >= {:.0}%)",
        same * 100.0,
        MIN_SAME_NEIGHBOUR * 100.0
    );
    Ok(())
}
