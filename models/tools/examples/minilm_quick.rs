use tavdun_models::minilm::{self, accuracy::*, corpus, float::FloatBert, tokenize::TextTokenizer};
fn main() -> anyhow::Result<()> {
    let model = tavdun_models::read_graph_model(&minilm::int8_model_dir())?;
    let scales: Scales = serde_json::from_slice(&std::fs::read(
        minilm::int8_model_dir().join("scales.json"),
    )?)?;
    let float = FloatBert::load(&minilm::wheel_model_dir())?;
    let tok = TextTokenizer::from_file(&minilm::wheel_model_dir().join("tokenizer.json"))?;
    let n: usize = std::env::args().nth(1).map_or(50, |a| a.parse().unwrap());
    let sents = corpus::evaluation(
        &corpus::sentences(std::path::Path::new(corpus::FORTUNES_DIR))?,
        n,
    );
    let mut errs = NodeErrors::default();
    let (mut ints, mut floats) = (vec![], vec![]);
    let t0 = std::time::Instant::now();
    let mut tokens = 0;
    for s in &sents {
        let input = tok.encode(s)?;
        tokens += input.ids.len();
        let trace = tavdun_core::graph::forward(&model, &input)?;
        ints.push(embedding_of(&trace));
        let f = float.forward(&input);
        floats.push(
            f["pool.l2"]
                .values
                .iter()
                .map(|&v| f64::from(v))
                .collect::<Vec<f64>>(),
        );
        if ints.len() <= 30 {
            errs.add(&model, &scales, &trace, &float, &input);
        }
    }
    let cos: Vec<f64> = ints
        .iter()
        .zip(&floats)
        .map(|(a, b)| cosine(a, b))
        .collect();
    println!(
        "{} sentences, {} tokens, {:.1}s",
        sents.len(),
        tokens,
        t0.elapsed().as_secs_f64()
    );
    println!(
        "mean cos {:.5} min {:.5}",
        cos.iter().sum::<f64>() / cos.len() as f64,
        cos.iter().cloned().fold(1.0, f64::min)
    );
    println!("same nn {:.4}", same_nearest_neighbour(&ints, &floats));
    for (n, e) in errs.relative(&model) {
        println!("{n:14} {e:.4}");
    }
    Ok(())
}
