//! Drills 2 and 3: the chain goes away under load. A 1-validator network loses its only
//! validator (SIGKILL) and gets it back; a 4-validator network loses one validator (it goes
//! on: 3 of 4 is more than 2/3 of the power), then two (it halts). Throughout, the worker
//! nodes and the clients must wait and resume, not crash: the nodes count their failed
//! transactions and polls (the retries), and the audit finds no transaction applied twice.

use std::path::Path;
use std::time::{Duration, Instant};

use tavdun_testkit::process::Service;

use crate::scene::Scene;
use crate::{Findings, Outcome, Size, DRAIN};

const WORKERS: [&str; 3] = ["worker1", "worker2", "worker3"];

/// The nodes' failed transactions, all reasons together.
async fn tx_failures(nodes: &[Service]) -> f64 {
    let mut total = 0.0;
    for node in nodes {
        total += node.metric("tavdun_worker_tx_failures_total").await;
    }
    total
}

fn start_workers(scene: &Scene) -> Vec<Service> {
    WORKERS.iter().map(|w| scene.worker(w, w, "")).collect()
}

/// Checks that every node is still running, and counts the retries they report.
async fn ride_out(nodes: &mut [Service], findings: &mut Findings) {
    for node in nodes.iter_mut() {
        if !node.is_running() {
            findings
                .failures
                .push(format!("{} exited during the outage", node.name));
        }
    }
    findings.notes.push(format!(
        "failed transactions counted by the nodes (retried): {}",
        tx_failures(nodes).await
    ));
}

pub async fn validator_restart(dir: &Path, size: Size) -> anyhow::Result<Outcome> {
    let scene = Scene::new(dir, 1).await?;
    let mut nodes = start_workers(&scene);
    scene.bonded(&WORKERS).await?;
    let load = scene.load(size.rate, 4, size.seconds);
    let mut findings = Findings::default();
    // Faults spread over the first two thirds of the load, so that the market has load to
    // serve when the chain comes back.
    let faults = size.faults.min(2);
    let gap = Duration::from_secs(size.seconds * 2 / 3 / u64::from(faults + 1));
    for _ in 0..faults {
        tokio::time::sleep(gap).await;
        let down_at = scene.block_time().await?;
        tokio::task::block_in_place(|| scene.net.kill_validator(0));
        tokio::time::sleep(Duration::from_secs(size.outage)).await;
        tokio::task::block_in_place(|| scene.net.start_validator(0));
        let back = Instant::now();
        let took = scene
            .first_post_after(back, down_at, Duration::from_secs(60))
            .await;
        findings.recovered(took, "a posted result (60 s after the restart)");
    }
    ride_out(&mut nodes, &mut findings).await;
    findings.notes.push(format!(
        "{faults} outages of {} s (SIGKILL of the only validator, then restarted on its data)",
        size.outage
    ));
    scene.finish(load, DRAIN, findings).await
}

pub async fn validators_down(dir: &Path, size: Size) -> anyhow::Result<Outcome> {
    let scene = Scene::new(dir, 4).await?;
    let mut nodes = start_workers(&scene);
    scene.bonded(&WORKERS).await?;
    let load = scene.load(size.rate, 4, size.seconds + 2 * size.outage);
    let mut findings = Findings::default();

    // One of four down: the chain goes on, and so does the market.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let down_at = scene.block_time().await?;
    tokio::task::block_in_place(|| scene.net.kill_validator(3));
    let down = Instant::now();
    match scene
        .first_post_after(down, down_at, Duration::from_secs(30))
        .await
    {
        Some(d) => findings.notes.push(format!(
            "one validator down: results still posted ({:.1} s after)",
            d.as_secs_f64()
        )),
        None => findings
            .failures
            .push("no result posted with one validator of four down".into()),
    }
    tokio::time::sleep(Duration::from_secs(size.outage).saturating_sub(down.elapsed())).await;
    tokio::task::block_in_place(|| scene.net.start_validator(3));

    // Two of four down: the chain halts until one is back.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let halted_at = scene.block_time().await?;
    tokio::task::block_in_place(|| {
        scene.net.kill_validator(2);
        scene.net.kill_validator(3);
    });
    let halted = scene.world.market.chain().latest_height().await?;
    tokio::time::sleep(Duration::from_secs(size.outage / 2)).await;
    let still = scene.world.market.chain().latest_height().await?;
    if still > halted + 1 {
        // Which validators answer, to tell a kill that missed from a chain that went on.
        let mut answering = Vec::new();
        for i in 0..4 {
            let url = format!("{}/status", scene.net.rpc_url_of(i));
            if reqwest::get(url).await.is_ok() {
                answering.push(i);
            }
        }
        findings.failures.push(format!(
            "the chain went on with two of four validators down ({halted} -> {still}); validators answering: {answering:?}"
        ));
    }
    tokio::task::block_in_place(|| {
        scene.net.start_validator(2);
        scene.net.start_validator(3);
    });
    let back = Instant::now();
    let took = scene
        .first_post_after(back, halted_at, Duration::from_secs(90))
        .await;
    findings.recovered(took, "a posted result (90 s after the halt's end)");
    ride_out(&mut nodes, &mut findings).await;
    findings.notes.push(format!(
        "validator 3 down {} s (chain went on), then validators 2 and 3 down {} s (chain halted at height {halted})",
        size.outage,
        size.outage / 2
    ));
    scene.finish(load, DRAIN, findings).await
}
