//! Drill 5: a verifier killed by SIGKILL during a dispute it started, then restarted. A liar
//! (wrong activations at layer 4, bonded at exactly the tier-1 stake, so that its first slash
//! stops its claims) serves beside two honest nodes under load; the verifier challenges its
//! results and is killed as soon as one of its challenges is on chain. Restarted, it must
//! find its disputes on chain and win every one (the liar slashed by the one-step check, or
//! by its silence) before the deadlines; the liar's jobs are then served again honestly.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use tavdun_load::audit::read_jobs;
use tavdun_sdk::api::{DisputeOutcome, JobStatus};
use tavdun_testkit::world::World;

use crate::scene::Scene;
use crate::{Findings, Outcome, Size, DRAIN};

const LIAR: &str = "worker3";
const VERIFIER: &str = "challenger";

pub async fn run(dir: &Path, size: Size) -> anyhow::Result<Outcome> {
    let scene = Scene::new(dir, 1).await?;
    let mut verifier = scene.worker("verifier", VERIFIER, "roles = [\"verify\"]");
    let _liar = scene.worker_staking("liar", LIAR, "[faults]\nwrong_output_layer = 4\n", "100");
    let _honest = [
        scene.worker("worker1", "worker1", ""),
        scene.worker("worker2", "worker2", ""),
    ];
    scene.bonded(&[LIAR, "worker1", "worker2"]).await?;
    let me = World::address(VERIFIER);
    let challenger_before = scene.world.trn(&me).await;
    let load = scene.load(size.rate / 2.0, 4, size.seconds);
    let market = &scene.world.market;

    // As soon as one of the verifier's challenges is on chain, the verifier dies.
    let since = Instant::now();
    let disputed = 'found: loop {
        for job in market.jobs_with_status(JobStatus::Disputed).await? {
            let disputes = market.disputes(job.id).await?;
            if disputes.iter().any(|d| d.challenger.as_str() == me) {
                break 'found job.id;
            }
        }
        if since.elapsed() > Duration::from_secs(90) {
            bail!("the verifier started no dispute within 90 s; see verifier.log and liar.log");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    verifier.kill();
    let opened_at_kill = market
        .disputes(disputed)
        .await?
        .iter()
        .any(|d| d.challenger.as_str() == me && d.opened_at.is_some());
    tokio::time::sleep(Duration::from_secs(3)).await;
    verifier.restart();
    let restarted = Instant::now();

    // It resumes: the disputed job's liar is slashed and the job goes back to the queue.
    let mut recovery = Vec::new();
    let mut failures = Vec::new();
    loop {
        let job = market.require_job(disputed).await?;
        if job.failed_attempts > 0 {
            recovery.push(restarted.elapsed());
            break;
        }
        if restarted.elapsed() > Duration::from_secs(180) {
            failures.push(format!(
                "job {disputed}: its dispute did not end within 180 s"
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut outcome = scene.finish(load, DRAIN, Findings::default()).await?;

    // Every dispute of the run: the verifier's, and won.
    let ids: Vec<u64> = scene.acknowledged().into_iter().collect();
    let (mut won, mut disputes_seen) = (0, 0);
    let mut lied_on = BTreeSet::new();
    for job in read_jobs(market, &ids).await? {
        if job.failed_attempts == 0 && job.challenges == 0 {
            continue;
        }
        lied_on.insert(job.id);
        for d in market.disputes(job.id).await? {
            disputes_seen += 1;
            match d.outcome {
                Some(DisputeOutcome::WorkerSlashed { .. } | DisputeOutcome::RevealWithheld)
                    if d.challenger.as_str() == me =>
                {
                    won += 1
                }
                other => failures.push(format!(
                    "job {}: dispute {} by {} ended {other:?}",
                    job.id, d.seq, d.challenger
                )),
            }
        }
    }
    let liar = market.require_worker(&World::address(LIAR)).await?;
    if liar.worker.jobs_slashed == 0 {
        failures.push("the liar was never slashed".into());
    }
    // Its bonds back and its rewards, withdrawn or still claimable.
    let challenger_after = scene.world.trn(&me).await + market.claimable(&me).await?;
    if challenger_after < challenger_before {
        failures.push(format!(
            "the verifier lost TRN: {challenger_before} -> {challenger_after}"
        ));
    }
    outcome.findings = Findings {
        recovery,
        failures,
        notes: vec![
            format!(
                "killed during the dispute of job {disputed} ({}); {disputes_seen} disputes over {} jobs, {won} won by the verifier; liar slashed {} times",
                if opened_at_kill { "challenge opened" } else { "committed, not yet opened" },
                lied_on.len(),
                liar.worker.jobs_slashed
            ),
            format!(
                "verifier TRN {challenger_before} -> {challenger_after} (bonds back plus rewards)"
            ),
            "recovery: from the verifier's restart until the liar of that job was slashed".into(),
        ],
    };
    Ok(outcome)
}
