//! `tavdun job submit | show | list | why`: jobs paid in TRN, followed to a verified result.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use tavdun_sdk::amount::{format_trn, parse_trn};
use tavdun_sdk::api::{Job, JobFilter, JobInput, JobStatus};
use tavdun_sdk::input::{read_input, InputSource};
use tavdun_sdk::job_view::JobView;

use crate::app::{pretty, App};
use crate::error::{CliError, Result};
use crate::progress::Progress;

#[derive(Subcommand)]
pub enum JobCmd {
    /// Submit a job paid in TRN.
    Submit {
        /// Model name (from the deployment) or id.
        #[arg(long, default_value = "digits")]
        model: String,
        /// Input file: raw int8 bytes, or a JSON array of numbers (*.json).
        #[arg(long, conflicts_with = "values")]
        input: Option<PathBuf>,
        /// Input as a JSON array of numbers, quantised with the model's input spec.
        #[arg(long)]
        values: Option<String>,
        /// Fee in TRN; default: the model's minimum.
        #[arg(long)]
        fee: Option<String>,
        /// Seconds (of chain time) from now after which an unclaimed job is refunded.
        #[arg(long, default_value_t = 600)]
        deadline: u64,
        /// Wait until the result is verified (finalized) and print it.
        #[arg(long)]
        wait: bool,
        #[arg(long, default_value_t = 600)]
        wait_timeout: u64,
    },
    Show {
        job_id: u64,
    },
    /// Jobs, oldest first: all of them, or one page with --limit.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        client: Option<String>,
        #[arg(long)]
        worker: Option<String>,
        #[arg(long)]
        start_after: Option<u64>,
        /// One page of at most this many jobs instead of every job.
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Why an open job is (not) being served.
    Why {
        job_id: u64,
    },
}

pub async fn run(app: &App, cmd: JobCmd) -> Result<()> {
    match cmd {
        JobCmd::Submit {
            model,
            input,
            values,
            fee,
            deadline,
            wait,
            wait_timeout,
        } => {
            let market = app.signing_market()?;
            let model_id = app.deployment()?.model_id(&model);
            let info = market.require_model(&model_id).await?;
            let source = match (&input, &values) {
                (Some(path), _) => InputSource::File(path),
                (None, Some(v)) => InputSource::Json(v),
                (None, None) => {
                    return Err(CliError::Usage("give --input FILE or --values JSON".into()))
                }
            };
            let values = read_input(&info, source).map_err(tavdun_sdk::SdkError::from)?;
            let fee = match fee {
                Some(f) => parse_trn(&f)?,
                None => info.min_fee.u128(),
            };
            let deadline = market.deadline_in(deadline).await?;
            let (job_id, _) = market
                .submit_job(&model_id, JobInput::inline(&values), fee, deadline)
                .await?;
            if !wait {
                let out = serde_json::json!({"job_id": job_id});
                app.print(&out, |_| format!("submitted job {job_id}"));
                return Ok(());
            }
            let progress = Progress::new(1);
            let job = market
                .wait_for_job(
                    job_id,
                    "reach a final state",
                    Duration::from_secs(wait_timeout),
                    Duration::from_secs(1),
                    |j| j.status.is_terminal(),
                    |j| progress.message(&format!("job {job_id}: {}", j.status.key())),
                )
                .await?;
            progress.finish();
            app.print(&JobView::new(job), job_text);
        }
        JobCmd::Show { job_id } => {
            let job = app.market()?.require_job(job_id).await?;
            app.print(&JobView::new(job), job_text);
        }
        JobCmd::List {
            status,
            model,
            client,
            worker,
            start_after,
            limit,
        } => {
            let filter = match (status, model, client, worker) {
                (Some(s), ..) => Some(JobFilter::Status(parse_status(&s)?)),
                (None, Some(m), ..) => Some(JobFilter::Model(app.deployment()?.model_id(&m))),
                (None, None, Some(c), _) => Some(JobFilter::Client(c)),
                (None, None, None, Some(w)) => Some(JobFilter::Worker(w)),
                (None, None, None, None) => None,
            };
            let market = app.market()?;
            let jobs = match (start_after, limit) {
                (None, None) => market.jobs(filter).await?,
                (start_after, limit) => {
                    let limit = limit.unwrap_or(tavdun_sdk::api::MAX_PAGE);
                    market.jobs_page(filter, start_after, limit).await?.jobs
                }
            };
            app.print(&jobs, |jobs| {
                jobs.iter().map(job_line).collect::<Vec<_>>().join("\n")
            });
        }
        JobCmd::Why { job_id } => {
            let diagnostic = app.market()?.diagnose(job_id).await?;
            app.print(&diagnostic, pretty);
        }
    }
    Ok(())
}

fn job_line(j: &Job) -> String {
    format!(
        "{:>6} {:<9} fee {:>10} TRN  model {}",
        j.id,
        j.status.key(),
        format_trn(j.fee.u128()),
        &j.model_id[..12.min(j.model_id.len())]
    )
}

fn job_text(v: &JobView) -> String {
    let j = &v.job;
    let mut s = format!("job {} — {}", j.id, j.status.key());
    if let Some(reason) = &j.end_reason {
        s += &format!(" ({reason:?})");
    }
    if let Some(w) = &j.worker {
        s += &format!("\n  worker  {w}");
    }
    if let (Some(out), Some(argmax)) = (&v.output, v.argmax) {
        s += &format!("\n  output  {out:?}\n  argmax  {argmax}");
    }
    s
}

fn parse_status(s: &str) -> Result<JobStatus> {
    serde_json::from_value(serde_json::Value::String(s.to_lowercase())).map_err(|_| {
        CliError::Usage(format!(
            "unknown status `{s}` (open, claimed, posted, disputed, finalized, cancelled, refunded)"
        ))
    })
}
