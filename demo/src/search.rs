//! The demo's verified semantic search: a corpus of real sentences and a query are embedded by
//! the network through the relayer's OpenAI-shaped `POST /v1/embeddings` (each text one MiniLM
//! job, answered once final: its challenge window closed with no successful challenge), and
//! the sentences closest to the query are shown with who computed each vector and whether a
//! lie was caught on the way (a job whose worker was slashed, then served again honestly).

use std::path::PathBuf;

use anyhow::{bail, Context};
use tavdun_relayer::api::embeddings::{EmbeddingsInput, EmbeddingsRequest, EncodingFormat};
use tavdun_relayer::views::{EmbeddingItem, EmbeddingVector, EmbeddingsResponse};
use tavdun_sdk::embedding::WaitFor;
use tavdun_sdk::keys::TestAccounts;

use crate::follow::Names;

#[derive(clap::Args)]
pub struct SearchArgs {
    /// What to search for.
    query: String,
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    relayer: String,
    /// The relayer's API key (relayer/relayer.example.toml's demo key by default).
    #[arg(long, default_value = "tavdun-demo-key-0001")]
    key: String,
    #[arg(long, default_value = "all-minilm-l6-v2")]
    model: String,
    /// One sentence per line.
    #[arg(long, default_value = "demo/corpus.txt")]
    corpus: PathBuf,
    /// Matches shown.
    #[arg(long, default_value_t = 3)]
    top: usize,
    #[arg(long, default_value = "localnet/accounts.json")]
    accounts: PathBuf,
}

pub async fn run(args: SearchArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.corpus)
        .with_context(|| format!("reading {}", args.corpus.display()))?;
    let corpus: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if corpus.is_empty() {
        bail!("{} has no sentences", args.corpus.display());
    }
    let names = Names::from_accounts(&TestAccounts::load(&args.accounts)?)?;
    let http = reqwest::Client::new();

    println!(
        "Embedding {} sentences of {} and the query {:?} through {}/v1/embeddings (one MiniLM job each, answered once final) ...",
        corpus.len(),
        args.corpus.display(),
        args.query,
        args.relayer
    );
    // One request: the query is the last text.
    let mut texts = corpus.clone();
    texts.push(args.query.clone());
    let mut docs = embed(&http, &args, EmbeddingsInput::Many(texts)).await?;
    let query = docs.pop().context("no embedding for the query")?;
    for (sentence, item) in corpus.iter().zip(&docs) {
        println!("  {}  {}", verification(item, &names), sentence);
    }
    println!("  {}  (the query)", verification(&query, &names));
    let query = &query;

    // MiniLM's vectors are L2-normalised: the dot product is the cosine similarity.
    let q = vector(query)?;
    let mut ranked = Vec::with_capacity(docs.len());
    for (sentence, item) in corpus.iter().zip(&docs) {
        let score: f32 = vector(item)?.iter().zip(q).map(|(a, b)| a * b).sum();
        ranked.push((score, sentence, item));
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("\nClosest to {:?}:", args.query);
    for (score, sentence, item) in ranked.iter().take(args.top) {
        println!(
            "  {score:.3}  {sentence}\n         {}",
            verification(item, &names)
        );
    }
    let caught = docs
        .iter()
        .chain([query])
        .filter(|i| i.verification.slashed)
        .count();
    if caught > 0 {
        println!(
            "\n{caught} of these vectors were first posted wrong by a lying worker: a verifier challenged, the market recomputed one element and slashed it, and an honest worker served the job again."
        );
    }
    Ok(())
}

async fn embed(
    http: &reqwest::Client,
    args: &SearchArgs,
    input: EmbeddingsInput,
) -> anyhow::Result<Vec<EmbeddingItem>> {
    let request = EmbeddingsRequest {
        input,
        model: args.model.clone(),
        encoding_format: EncodingFormat::Float,
        user: None,
        wait: WaitFor::Finalized,
        stream: false,
    };
    let response = http
        .post(format!("{}/v1/embeddings", args.relayer))
        .bearer_auth(&args.key)
        .json(&request)
        .send()
        .await
        .context("the relayer is not reachable")?;
    let status = response.status();
    if !status.is_success() {
        bail!("the relayer answered {status}: {}", response.text().await?);
    }
    let mut body: EmbeddingsResponse = response.json().await?;
    body.data.sort_by_key(|i| i.index);
    Ok(body.data)
}

fn vector(item: &EmbeddingItem) -> anyhow::Result<&[f32]> {
    match &item.embedding {
        EmbeddingVector::Float(v) => Ok(v),
        EmbeddingVector::Base64(_) => bail!("asked for floats, got base64"),
    }
}

/// One line on how a vector was verified: its job, its worker, and any lie caught.
fn verification(item: &EmbeddingItem, names: &Names) -> String {
    let v = &item.verification;
    let worker = v.worker.as_deref().map_or("-".into(), |w| names.of(w));
    let state = match (v.finalized, v.slashed, v.disputed) {
        (true, true, _) => "final; a liar was slashed on the way",
        (true, false, true) => "final; challenged, the challenge failed",
        (true, false, false) => "final",
        _ => "not final yet",
    };
    format!("[job {:>3}, {worker:<8} {state}]", v.job_id)
}
