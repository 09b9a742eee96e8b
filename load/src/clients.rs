//! Clients submitting jobs straight to the market, at an offered rate, for a bounded time:
//! the load of `tavdun-load` (digits or MiniLM jobs) and of every fault drill (digits).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tavdun_models::{digits, minilm};
use tavdun_sdk::api::{JobInput, JobRequest, Uint128};
use tavdun_sdk::text::TextTokenizer;
use tavdun_sdk::MarketClient;
use tokio::task::JoinHandle;

use crate::observe::Submitted;

/// Every job submitted, by id: what the observer and the audit read.
pub type Ledger = Arc<Mutex<BTreeMap<u64, Submitted>>>;

/// What the clients offer.
#[derive(Clone)]
pub struct Offer {
    pub model_id: String,
    /// Micro-TRN per job.
    pub fee: u128,
    /// Jobs per submission.
    pub batch: u32,
    /// Jobs per second, all clients together.
    pub rate: f64,
    /// Seconds from submission to a job's deadline.
    pub ttl_secs: u64,
}

/// The held-out digits images, quantised for `market`'s copy of the model.
pub async fn digits_inputs(
    market: &MarketClient,
    model_id: &str,
    data: &Path,
) -> anyhow::Result<Vec<JobInput>> {
    let info = market.require_model(model_id).await?;
    let samples = digits::load(data).context("the digits data set")?;
    Ok(digits::split(&samples)
        .test
        .iter()
        .map(|s| JobInput::inline(&s.int8_input(&info.spec.input.quant)))
        .collect())
}

/// Real sentences (the corpus MiniLM's importer calibrates on) as token ids, with the model's
/// `tokenizer.json`.
pub fn text_inputs(tokenizer: &Path, corpus: &Path) -> anyhow::Result<Vec<JobInput>> {
    let tokenizer = TextTokenizer::from_file(tokenizer)?;
    minilm::corpus::sentences(corpus)?
        .iter()
        .map(|s| Ok(JobInput::tokens(&tokenizer.encode(s)?)))
        .collect()
}

/// Starts one task per client; each submits a batch every period (so that together they
/// offer `offer.rate`) until `until`, records the jobs in `ledger`, and returns how many of
/// its submissions failed. A failed submission is not retried: whether it landed is read
/// from the chain by whoever audits the run.
pub fn spawn(
    clients: Vec<MarketClient>,
    offer: &Offer,
    inputs: &Arc<Vec<JobInput>>,
    until: Instant,
    ledger: &Ledger,
) -> Vec<JoinHandle<u32>> {
    let n = clients.len();
    let period = Duration::from_secs_f64(f64::from(offer.batch) * n as f64 / offer.rate);
    clients
        .into_iter()
        .enumerate()
        .map(|(c, market)| {
            let (offer, inputs, ledger) = (offer.clone(), inputs.clone(), ledger.clone());
            tokio::spawn(async move {
                let mut next = Instant::now() + period.mul_f64(c as f64 / n as f64);
                let mut k = c * 7919;
                let mut errors = 0u32;
                while next < until {
                    tokio::time::sleep_until(next.into()).await;
                    next += period;
                    let Ok(deadline) = market.deadline_in(offer.ttl_secs).await else {
                        errors += 1;
                        continue;
                    };
                    let batch = offer.batch as usize;
                    let jobs: Vec<JobRequest> = (0..batch)
                        .map(|i| JobRequest {
                            model_id: offer.model_id.clone(),
                            input: inputs[(k + i) % inputs.len()].clone(),
                            fee: Uint128::new(offer.fee),
                            deadline,
                        })
                        .collect();
                    k += batch;
                    match market.submit_jobs(jobs).await {
                        Ok((ids, _)) => {
                            let at = Instant::now();
                            let mut all = ledger.lock().unwrap_or_else(|e| e.into_inner());
                            for id in ids {
                                all.insert(id, Submitted { at, posted: None });
                            }
                        }
                        Err(e) => {
                            errors += 1;
                            eprintln!("submission failed: {e}");
                        }
                    }
                }
                errors
            })
        })
        .collect()
}
