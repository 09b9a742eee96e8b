//! Drill 1: a worker node killed by SIGKILL in the middle of its batches, restarted each
//! time. The first time it kills itself right after a claim (`crash_after_claim`: between the
//! claim and the post, deterministically); then each kill follows a claim seen in the node's
//! log, at once or a few hundred milliseconds later (the post broadcast, maybe not yet
//! included).
//! Which window a kill hit is read from the chain: the claimed jobs still claimed at the kill
//! and after it (killed before posting), claimed at the kill and posted before the restart
//! (killed with its post in flight), or posted at the kill. After the restart the node must
//! post what it still holds, and never post anything twice (the audit counts posts per claim).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use tavdun_sdk::api::JobStatus;
use tavdun_testkit::process::Service;

use crate::scene::Scene;
use crate::{Findings, Outcome, Size, DRAIN};

/// The node that is killed, and the two that keep serving beside it.
const VICTIM: &str = "worker1";

/// Lines of its log that say a claim was included (colours or not).
fn claims_logged(node: &Service) -> usize {
    node.log_text()
        .lines()
        .filter(|l| without_colours(l).contains("executor: claimed model_id="))
        .count()
}

/// The text of a log line without its terminal colour codes (`ESC [ ... m`).
fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

pub async fn run(dir: &Path, size: Size) -> anyhow::Result<Outcome> {
    let scene = Scene::new(dir, 1).await?;
    let mut victim = scene.worker("victim", VICTIM, "[faults]\ncrash_after_claim = true\n");
    let _others = [
        scene.worker("worker2", "worker2", ""),
        scene.worker("worker3", "worker3", ""),
    ];
    scene.bonded(&[VICTIM, "worker2", "worker3"]).await?;
    let load = scene.load(size.rate, 4, size.seconds);

    let mut windows: BTreeMap<&str, u32> = BTreeMap::new();
    let mut findings = Findings::default();
    let mut kills = 0;
    for kill in 0..size.faults {
        // Kills need load to land in: the last ones are dropped if the clients are done.
        if Instant::now() + Duration::from_secs(5) > load.until {
            break;
        }
        kills += 1;
        let since = Instant::now();
        if kill == 0 {
            // The first death is the node's own (`crash_after_claim`): SIGKILL right after its
            // first claim is included, before it runs the batch, whatever the machine's speed.
            while victim.is_running() {
                if since.elapsed() > Duration::from_secs(30) {
                    bail!("{VICTIM} did not crash after a claim within 30 s; see its log");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        } else {
            // A claim seen in the log, then SIGKILL at once or a few hundred milliseconds
            // later, when the post is likely broadcast and not yet included.
            let seen = claims_logged(&victim);
            while claims_logged(&victim) == seen {
                if since.elapsed() > Duration::from_secs(30) {
                    bail!("{VICTIM} claimed nothing for 30 s; see its log");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let delay = [0, 300, 600][kill as usize % 3];
            tokio::time::sleep(Duration::from_millis(delay)).await;
            victim.kill();
        }
        let at_kill = scene.held_by(VICTIM).await?;
        // Two blocks: a post in flight lands (or not) before the node comes back.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let before_restart: BTreeMap<u64, JobStatus> =
            scene.held_by(VICTIM).await?.into_iter().collect();
        let claimed: Vec<u64> = at_kill
            .iter()
            .filter(|(_, s)| *s == JobStatus::Claimed)
            .map(|(id, _)| *id)
            .collect();
        let window = if claimed.is_empty() {
            "after the post's inclusion"
        } else if claimed
            .iter()
            .all(|id| before_restart.get(id) == Some(&JobStatus::Claimed))
        {
            "between claim and post"
        } else {
            "between post and its inclusion"
        };
        *windows.entry(window).or_default() += 1;
        victim.restart_without_faults();
        let restarted = Instant::now();
        // Its claims are posted by the restarted node (or expire, if it came back too late).
        loop {
            let held: BTreeMap<u64, JobStatus> = scene.held_by(VICTIM).await?.into_iter().collect();
            if claimed
                .iter()
                .all(|id| held.get(id) != Some(&JobStatus::Claimed))
            {
                findings.recovery.push(restarted.elapsed());
                break;
            }
            if restarted.elapsed() > Duration::from_secs(90) {
                findings.failures.push(format!(
                    "kill {kill}: claims {claimed:?} still held 90 s after the restart"
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        println!(
            "kill {kill} ({window}): {} claims outstanding, settled {:.1} s after the restart",
            claimed.len(),
            restarted.elapsed().as_secs_f64()
        );
    }
    let outcome = scene.finish(load, DRAIN, findings).await?;
    let mut findings = outcome.findings;
    if !victim.is_running() {
        findings
            .failures
            .push(format!("{VICTIM} exited after its last restart"));
    }
    let posted = victim.metric("tavdun_worker_jobs_posted_total").await;
    findings
        .notes
        .push(format!("{kills} kills, by window: {windows:?}"));
    findings.notes.push(format!(
        "{VICTIM} posted {posted} results since its last restart"
    ));
    Ok(Outcome {
        findings,
        ..outcome
    })
}
