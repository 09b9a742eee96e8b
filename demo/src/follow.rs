//! Follows submitted jobs on chain and prints each change as it happens, then a summary.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tavdun_sdk::api::{Dispute, DisputeOutcome, Job, JobStatus};
use tavdun_sdk::deploy::TEST_ACCOUNTS;
use tavdun_sdk::job_view::JobView;
use tavdun_sdk::keys::TestAccounts;
use tavdun_sdk::MarketClient;

/// Test-account names for addresses, so the output reads "worker3", not "wasm1...".
pub struct Names(HashMap<String, String>);

impl Names {
    pub fn from_accounts(accounts: &TestAccounts) -> anyhow::Result<Names> {
        let mut names = HashMap::new();
        for name in TEST_ACCOUNTS.iter().chain(&["deployer"]) {
            let address = accounts.signer(name, "wasm")?.address().to_string();
            names.insert(address, name.to_string());
        }
        Ok(Names(names))
    }

    pub fn of(&self, address: &str) -> String {
        self.0
            .get(address)
            .cloned()
            .unwrap_or_else(|| address.to_string())
    }
}

struct Followed {
    label: u8,
    submitted: Instant,
    /// `(status, worker, posted_at)` last printed.
    seen: Option<(JobStatus, Option<String>, Option<u64>)>,
    answered: Option<Duration>,
    verified: Option<(Duration, usize)>,
    done: bool,
}

struct Caught {
    job_id: u64,
    worker: String,
    challenger: String,
    layer: u32,
    outcome: String,
}

pub struct Tracker {
    market: MarketClient,
    names: Names,
    jobs: Vec<(u64, Followed)>,
    caught: Vec<Caught>,
}

impl Tracker {
    pub fn new(market: MarketClient, names: Names) -> Tracker {
        Tracker {
            market,
            names,
            jobs: Vec::new(),
            caught: Vec::new(),
        }
    }

    pub fn submitted(&mut self, job_id: u64, label: u8) {
        println!("job {job_id:>3}  submitted: a handwritten {label}");
        self.jobs.push((
            job_id,
            Followed {
                label,
                submitted: Instant::now(),
                seen: None,
                answered: None,
                verified: None,
                done: false,
            },
        ));
    }

    pub fn all_done(&self) -> bool {
        self.jobs.iter().all(|(_, f)| f.done)
    }

    /// Reads every unfinished job once and prints what changed.
    pub async fn poll(&mut self) -> anyhow::Result<()> {
        for i in 0..self.jobs.len() {
            if self.jobs[i].1.done {
                continue;
            }
            let id = self.jobs[i].0;
            let job = self.market.require_job(id).await?;
            let worker = job.worker.as_ref().map(|w| self.names.of(w.as_str()));
            let posted_at = job.result.as_ref().map(|r| r.posted_at.seconds());
            let now = (job.status, worker.clone(), posted_at);
            if self.jobs[i].1.seen.as_ref() == Some(&now) {
                continue;
            }
            let before = self.jobs[i].1.seen.replace(now);
            self.report(i, &job, worker.unwrap_or_default(), before)
                .await?;
        }
        Ok(())
    }

    async fn report(
        &mut self,
        i: usize,
        job: &Job,
        worker: String,
        before: Option<(JobStatus, Option<String>, Option<u64>)>,
    ) -> anyhow::Result<()> {
        let id = job.id;
        let label = self.jobs[i].1.label;
        let f = &mut self.jobs[i].1;
        let elapsed = f.submitted.elapsed();
        let prediction = JobView::new(job.clone()).argmax;
        match job.status {
            JobStatus::Claimed => println!("job {id:>3}  claimed by {worker}"),
            JobStatus::Posted => {
                // The last answer before verification is the one that stands.
                f.answered = Some(elapsed);
                let p = prediction.unwrap_or(usize::MAX);
                let mark = if p == usize::from(f.label) { "=" } else { "!=" };
                println!(
                    "job {id:>3}  {worker} answered {p} {mark} label {}  ({:.1} s after submission); challenge window open",
                    f.label,
                    elapsed.as_secs_f64()
                );
            }
            JobStatus::Disputed => {
                let d = self.latest_dispute(id).await?;
                let answer = prediction.map_or_else(|| "-".into(), |p| p.to_string());
                println!(
                    "job {id:>3}  CHALLENGED: {} answered {answer} (label {}); {} re-ran it, got other hashes and commits a challenge",
                    self.names.of(d.worker.as_str()),
                    label,
                    self.names.of(d.challenger.as_str()),
                );
            }
            JobStatus::Open if before.is_some() => {
                let Some(d) = self.winning_dispute(id).await? else {
                    println!("job {id:>3}  its claim ran out; the job goes back to the queue");
                    return Ok(());
                };
                let outcome = match d.outcome {
                    Some(DisputeOutcome::WorkerSlashed { unit }) => format!(
                        "the contract recomputed unit {unit} of layer {} from its Merkle-proven weights: it differs",
                        d.layer.unwrap_or_default()
                    ),
                    Some(DisputeOutcome::RevealWithheld) => "it never revealed its layer".into(),
                    _ => "its claim expired".into(),
                };
                let liar = self.names.of(d.worker.as_str());
                println!("job {id:>3}  SLASHED {liar}: {outcome}; the job goes back to the queue");
                self.caught.push(Caught {
                    job_id: id,
                    worker: liar,
                    challenger: self.names.of(d.challenger.as_str()),
                    layer: d.layer.unwrap_or_default(),
                    outcome,
                });
            }
            JobStatus::Finalized => {
                let p = prediction.unwrap_or(usize::MAX);
                f.verified = Some((elapsed, p));
                f.done = true;
                let mark = if p == usize::from(f.label) {
                    "correct"
                } else {
                    "wrong"
                };
                println!(
                    "job {id:>3}  VERIFIED: {p} (label {}, {mark}), answered by {worker}, final after {:.0} s",
                    f.label,
                    elapsed.as_secs_f64()
                );
            }
            JobStatus::Cancelled | JobStatus::Refunded => {
                f.done = true;
                println!("job {id:>3}  {:?}: the fee was returned", job.status);
            }
            JobStatus::Open => {}
        }
        Ok(())
    }

    async fn latest_dispute(&self, job_id: u64) -> anyhow::Result<Dispute> {
        self.market
            .disputes(job_id)
            .await?
            .pop()
            .ok_or_else(|| anyhow::anyhow!("job {job_id} is disputed but has no challenge"))
    }

    /// The challenge that proved the last result wrong (or outlasted a silent worker); `None`
    /// when the job went back to the queue because a claim ran out.
    async fn winning_dispute(&self, job_id: u64) -> anyhow::Result<Option<Dispute>> {
        let disputes = self.market.disputes(job_id).await?;
        Ok(disputes.into_iter().rev().find(|d| {
            matches!(
                d.outcome,
                Some(DisputeOutcome::WorkerSlashed { .. } | DisputeOutcome::RevealWithheld)
            )
        }))
    }

    pub fn summary(&self) {
        let verified: Vec<_> = self
            .jobs
            .iter()
            .filter_map(|(_, f)| f.verified.map(|(t, p)| (t, p, f)))
            .collect();
        let correct = verified
            .iter()
            .filter(|(_, p, f)| *p == usize::from(f.label))
            .count();
        let mut answered: Vec<f64> = self
            .jobs
            .iter()
            .filter_map(|(_, f)| f.answered.map(|a| a.as_secs_f64()))
            .collect();
        answered.sort_by(f64::total_cmp);
        println!("\n== Summary");
        println!(
            "verified {} of {} jobs; {correct} predictions match the true label",
            verified.len(),
            self.jobs.len()
        );
        if let (Some(first), Some(last)) = (answered.first(), answered.last()) {
            println!(
                "answer that stood, after submission: median {:.1} s (min {first:.1} s, max {last:.1} s); each result is final once its challenge window closes",
                answered[answered.len() / 2]
            );
        }
        if self.caught.is_empty() {
            println!("no worker was caught lying in this run");
        }
        for c in &self.caught {
            println!(
                "caught: job {} — {} posted a wrong result; {} challenged at layer {}; {}",
                c.job_id, c.worker, c.challenger, c.layer, c.outcome
            );
        }
    }
}
