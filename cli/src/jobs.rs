//! `tavdun job ...`: submit jobs with TRN, follow them to a verified result.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cosmwasm_std::{Binary, Timestamp};
use serde::Serialize;
use tavdun_client::{ChainClient, Wallet};
use tavdun_market::msg::{DiagnosticResponse, JobFilter, JobsResponse, QueryMsg, ReceiveMsg};
use tavdun_market::state::{Job, JobInput, JobStatus, ModelInfo};

use crate::deployment::Deployment;
use crate::error::{read, CliError, Result};

/// Where a job's input comes from.
pub enum InputSource<'a> {
    /// A file of raw int8 bytes, or of a JSON array of real numbers (`*.json`).
    File(&'a Path),
    /// A JSON array of real numbers.
    Json(&'a str),
    /// Real numbers, already parsed.
    Values(&'a [f32]),
    /// Raw int8 bytes, already decoded.
    Raw(&'a [u8]),
}

/// The int8 input bytes for `model`, quantising real numbers with the model's input spec.
pub fn read_input(model: &ModelInfo, source: InputSource<'_>) -> Result<Vec<i8>> {
    let floats = |text: &str| -> Result<Vec<f32>> {
        serde_json::from_str(text)
            .map_err(|e| CliError::Input(format!("expected a JSON array of numbers: {e}")))
    };
    let bytes: Vec<i8> = match source {
        InputSource::Json(text) => model.spec.input.quant.quantize(&floats(text)?),
        InputSource::File(path) if path.extension().is_some_and(|e| e == "json") => {
            let text = String::from_utf8_lossy(&read(path)?).into_owned();
            model.spec.input.quant.quantize(&floats(&text)?)
        }
        InputSource::File(path) => read(path)?.into_iter().map(|b| b as i8).collect(),
        InputSource::Values(values) => model.spec.input.quant.quantize(values),
        InputSource::Raw(bytes) => bytes.iter().map(|&b| b as i8).collect(),
    };
    if bytes.len() != model.input_len as usize {
        return Err(CliError::Input(format!(
            "model {} takes {} input values; got {}",
            model.spec.name,
            model.input_len,
            bytes.len()
        )));
    }
    Ok(bytes)
}

pub async fn model_info(chain: &ChainClient, d: &Deployment, model_id: &str) -> Result<ModelInfo> {
    Ok(chain
        .query(
            &d.market.address,
            &QueryMsg::Model {
                model_id: model_id.to_string(),
            },
        )
        .await?)
}

/// Submits one job paid with `fee` micro-TRN; returns its id.
pub async fn submit(
    wallet: &Wallet,
    d: &Deployment,
    model_id: &str,
    input: &[i8],
    fee: u128,
    deadline_secs: u64,
) -> Result<u64> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.as_secs());
    let hook = ReceiveMsg::SubmitJob {
        model_id: model_id.to_string(),
        input: JobInput::Inline {
            data: Binary::new(input.iter().map(|&b| b as u8).collect()),
        },
        deadline: Timestamp::from_seconds(now + deadline_secs),
    };
    let tx = wallet
        .cw20_send(&d.token.address, &d.market.address, fee, &hook)
        .await?;
    let id = tx
        .wasm_attributes("job_id")
        .next()
        .and_then(|id| id.parse().ok());
    id.ok_or_else(|| CliError::Input(format!("tx {} reported no job_id", tx.txhash)))
}

pub async fn job(chain: &ChainClient, d: &Deployment, job_id: u64) -> Result<Job> {
    Ok(chain
        .query(&d.market.address, &QueryMsg::Job { job_id })
        .await?)
}

pub async fn list(
    chain: &ChainClient,
    d: &Deployment,
    filter: Option<JobFilter>,
    start_after: Option<u64>,
    limit: u32,
) -> Result<Vec<Job>> {
    let r: JobsResponse = chain
        .query(
            &d.market.address,
            &QueryMsg::Jobs {
                filter,
                start_after,
                limit: Some(limit),
            },
        )
        .await?;
    Ok(r.jobs)
}

pub async fn why(chain: &ChainClient, d: &Deployment, job_id: u64) -> Result<DiagnosticResponse> {
    Ok(chain
        .query(&d.market.address, &QueryMsg::JobDiagnostic { job_id })
        .await?)
}

/// What `job show` and `job submit --wait` report.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub job: Job,
    /// The output as int8 values, once posted.
    pub output: Option<Vec<i8>>,
    /// Index of the largest output value: the predicted class of a classifier.
    pub argmax: Option<usize>,
}

impl JobView {
    pub fn new(job: Job) -> JobView {
        let output: Option<Vec<i8>> = job
            .result
            .as_ref()
            .map(|r| r.output.iter().map(|&b| b as i8).collect());
        let argmax = output.as_ref().and_then(|o| {
            o.iter()
                .enumerate()
                .max_by_key(|(i, v)| (**v, std::cmp::Reverse(*i)))
                .map(|(i, _)| i)
        });
        JobView {
            job,
            output,
            argmax,
        }
    }
}

/// Polls until the job reaches a terminal state (finalized, cancelled, refunded).
pub async fn wait(
    chain: &ChainClient,
    d: &Deployment,
    job_id: u64,
    timeout: Duration,
    mut on_status: impl FnMut(&Job),
) -> Result<Job> {
    let start = Instant::now();
    loop {
        let j = job(chain, d, job_id).await?;
        on_status(&j);
        if matches!(
            j.status,
            JobStatus::Finalized | JobStatus::Cancelled | JobStatus::Refunded
        ) {
            return Ok(j);
        }
        if start.elapsed() >= timeout {
            return Err(CliError::WaitTimeout {
                job_id,
                seconds: timeout.as_secs(),
                status: j.status.key().to_string(),
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
