//! What a run must not have broken, read from the chain alone once it is over: every job
//! submitted (as the clients saw it, or as the market's events say, when a client's answer was
//! lost) ended or is still within its deadline; no job was paid twice; no result was posted
//! for a claim that did not exist; every result paid is the reference one (core's integer
//! executor on the job's input); and the market's books equal its TRN balance.

use std::collections::{BTreeMap, BTreeSet};

use tavdun_core::bytes::to_i8;
use tavdun_core::{forward, Model};
use tavdun_sdk::api::{Job, JobInput, JobStatus};
use tavdun_sdk::MarketClient;

use crate::observe::{tx_results, PAGE};

/// The market's own events in a range of blocks, counted per job.
#[derive(Default)]
pub struct JobEvents {
    /// Jobs submitted in the range (`submit_jobs`).
    pub submitted: BTreeSet<u64>,
    /// Per job: claims (`claim_jobs`), results posted (`post_results`), payments (`finalize`).
    pub claims: BTreeMap<u64, u32>,
    pub posts: BTreeMap<u64, u32>,
    pub payments: BTreeMap<u64, u32>,
    /// Every `wasm` event of the market (transactions applied), for the record.
    pub events: usize,
}

impl JobEvents {
    /// Reads the `wasm` events `market` emitted in blocks `from..=to` from CometBFT's `rpc`.
    pub async fn read(rpc: &str, market: &str, from: u64, to: u64) -> anyhow::Result<JobEvents> {
        let mut all = JobEvents::default();
        for tx in tx_results(rpc, from, to).await? {
            for event in tx["events"].as_array().into_iter().flatten() {
                if event["type"] != "wasm" {
                    continue;
                }
                let attrs: Vec<(&str, &str)> = event["attributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| Some((a["key"].as_str()?, a["value"].as_str()?)))
                    .collect();
                if !attrs.contains(&("_contract_address", market)) {
                    continue;
                }
                all.events += 1;
                let action = attrs.iter().find(|(k, _)| *k == "action").map(|a| a.1);
                let ids = attrs
                    .iter()
                    .filter(|(k, _)| *k == "job_id")
                    .filter_map(|(_, v)| v.parse::<u64>().ok());
                match action {
                    Some("submit_jobs") => all.submitted.extend(ids),
                    Some("claim_jobs") => {
                        ids.for_each(|id| *all.claims.entry(id).or_default() += 1)
                    }
                    Some("post_results") => {
                        ids.for_each(|id| *all.posts.entry(id).or_default() += 1)
                    }
                    Some("finalize") => {
                        ids.for_each(|id| *all.payments.entry(id).or_default() += 1)
                    }
                    _ => {}
                }
            }
        }
        Ok(all)
    }
}

/// The audit of one run.
#[derive(Debug, Default)]
pub struct Audit {
    pub submitted: usize,
    /// Jobs on chain that no client was told about (its submission's answer was lost).
    pub unacknowledged: usize,
    pub finalized: usize,
    pub refunded: usize,
    /// Not ended, still within their deadline.
    pub pending: usize,
    /// Not ended and past their deadline: lost (goal 0).
    pub lost: Vec<u64>,
    /// Paid more than once (goal 0).
    pub double_paid: Vec<u64>,
    /// Posted more often than claimed: a result without a claim, or a transaction applied
    /// twice (goal 0).
    pub posts_without_claim: Vec<u64>,
    /// Paid for an output that is not the reference one (goal 0).
    pub wrong_results: Vec<u64>,
    /// The market's books (`Totals`) and its TRN balance.
    pub books: u128,
    pub balance: u128,
}

impl Audit {
    /// Audits the jobs of `acknowledged` and those the events say were submitted, at `now`
    /// (block time, seconds). `model` is the reference for every job's output.
    pub async fn run(
        market: &MarketClient,
        model: &Model,
        acknowledged: &BTreeSet<u64>,
        events: &JobEvents,
        now: u64,
    ) -> anyhow::Result<Audit> {
        let ids: Vec<u64> = acknowledged.union(&events.submitted).copied().collect();
        let jobs = read_jobs(market, &ids).await?;
        let mut audit = Audit {
            submitted: ids.len(),
            unacknowledged: events.submitted.difference(acknowledged).count(),
            ..Audit::default()
        };
        for job in &jobs {
            match job.status {
                JobStatus::Finalized => {
                    audit.finalized += 1;
                    if !is_reference(model, job) {
                        audit.wrong_results.push(job.id);
                    }
                }
                JobStatus::Refunded | JobStatus::Cancelled => audit.refunded += 1,
                _ if job.deadline.seconds() > now => audit.pending += 1,
                _ => audit.lost.push(job.id),
            }
        }
        audit.double_paid = over(&events.payments, |_| Some(1));
        audit.posts_without_claim = over(&events.posts, |id| events.claims.get(&id).copied());
        let stats = market.stats().await?;
        audit.books = stats.held.u128();
        audit.balance = market.trn_balance(market.market_address()).await?;
        Ok(audit)
    }

    /// Whether nothing was lost, paid twice, posted without a claim or paid wrongly, and the
    /// books equal the balance.
    pub fn holds(&self) -> bool {
        self.lost.is_empty()
            && self.double_paid.is_empty()
            && self.posts_without_claim.is_empty()
            && self.wrong_results.is_empty()
            && self.books == self.balance
    }

    pub fn print(&self) {
        println!(
            "jobs: {} submitted ({} only seen on chain), {} finalized, {} refunded, {} pending within their deadline",
            self.submitted, self.unacknowledged, self.finalized, self.refunded, self.pending
        );
        println!(
            "lost {} {:?}, double-paid {} {:?}, posted without a claim {} {:?}, wrong results paid {} {:?}",
            self.lost.len(),
            self.lost,
            self.double_paid.len(),
            self.double_paid,
            self.posts_without_claim.len(),
            self.posts_without_claim,
            self.wrong_results.len(),
            self.wrong_results
        );
        println!(
            "books {} = balance {}: {}",
            self.books,
            self.balance,
            if self.books == self.balance {
                "equal"
            } else {
                "DIFFERENT"
            }
        );
    }
}

/// Jobs of `counts` counted more often than `limit` allows (no limit: 0).
fn over(counts: &BTreeMap<u64, u32>, limit: impl Fn(u64) -> Option<u32>) -> Vec<u64> {
    counts
        .iter()
        .filter(|(&id, &n)| n > limit(id).unwrap_or(0))
        .map(|(&id, _)| id)
        .collect()
}

/// Whether the job's posted output is what core's reference executor computes on its input.
fn is_reference(model: &Model, job: &Job) -> bool {
    let (JobInput::Inline { data }, Some(result)) = (&job.input, &job.result) else {
        return false;
    };
    forward(model, &to_i8(data))
        .ok()
        .and_then(|mut layers| layers.pop())
        .is_some_and(|output| output == result.output_values())
}

/// The jobs of `ids` (any order), a page at a time from the first to the last.
pub async fn read_jobs(market: &MarketClient, ids: &[u64]) -> anyhow::Result<Vec<Job>> {
    let wanted: BTreeSet<u64> = ids.iter().copied().collect();
    let (Some(&first), Some(&last)) = (wanted.first(), wanted.last()) else {
        return Ok(Vec::new());
    };
    let mut jobs = Vec::with_capacity(wanted.len());
    let mut start_after = first.checked_sub(1);
    loop {
        let page = market.jobs_page(None, start_after, PAGE).await?;
        jobs.extend(page.jobs.into_iter().filter(|j| wanted.contains(&j.id)));
        match page.next_start_after {
            Some(next) if next < last => start_after = Some(next),
            _ => break,
        }
    }
    Ok(jobs)
}
