//! End-to-end on a real wasmd node (started by this test with `localnet/start`) with real burn
//! inference in real `tavdun-worker` processes: a worker killed by SIGKILL right after its
//! claim, two liars (one answers its challenges and loses the one-step check on chain, one
//! goes silent once challenged and loses by timeout), an honest worker and a verifier. Every job ends
//! finalized with the honest output and paid; the liars are slashed and their jobs re-run by
//! the others; the crashed worker's jobs are posted after its restart; the chain node goes
//! away and comes back under the running nodes; SIGTERM stops them cleanly; and the TRN held by
//! every account and the market adds up to the same total from start to end.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cosmwasm_std::Uint128;
use support::start_worker;
use tavdun_core::forward;
use tavdun_models::digits;
use tavdun_sdk::api::{Dispute, DisputeOutcome, EndReason, JobStatus, WorkerInfo};
use tavdun_sdk::deploy::localnet_params;
use tavdun_sdk::model_dir::load_model;
use tavdun_testkit::process::logs;
use tavdun_testkit::world::World;
use tavdun_testkit::{self as testkit, Localnet};

const FEE: u128 = 200_000; // 0.2 TRN
const STAKE: &str = "100";

fn digits_dir() -> PathBuf {
    testkit::repo().join("models/digits")
}

/// One digits job per image from `client1`, all in one transaction.
async fn submit(w: &World, model_id: &str, images: &[Vec<i8>]) -> Vec<u64> {
    w.submit("client1", model_id, images, FEE, 3600).await
}

async fn worker(w: &World, name: &str) -> WorkerInfo {
    w.market
        .require_worker(&World::address(name))
        .await
        .unwrap()
}

/// The job's latest challenge.
async fn dispute(w: &World, job_id: u64) -> Dispute {
    w.market
        .disputes(job_id)
        .await
        .unwrap()
        .pop()
        .expect("a challenge")
}

/// The collateral a claim of one of this test's jobs locks.
fn collateral() -> u128 {
    localnet_params()
        .collateral_for(cosmwasm_std::Uint128::new(FEE))
        .u128()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_one_liar_one_crash_and_a_verifier() {
    let dir = testkit::TempDir::new("worker-e2e");
    let tmp = dir.path();
    let net = Localnet::start(tmp.join("chain"));
    let w = World::deploy(tmp, &[digits_dir()], 10_000).await;
    let model_id = w.deployment.models[0].model_id.clone();
    let model = load_model(&digits_dir()).unwrap();
    let supply = w.market.trn_supply().await.unwrap();
    let before = w.balances().await;
    assert_eq!(
        before.values().sum::<u128>(),
        supply,
        "every holder is counted"
    );

    // Real images from the held-out split of the shipped data set.
    let samples = digits::load(&testkit::repo().join(digits::DATA_PATH)).unwrap();
    let test = digits::split(&samples).test;
    let quant = &model.spec.input.quant;
    let images: Vec<Vec<i8>> = test.iter().take(12).map(|s| s.int8_input(quant)).collect();
    let bond = format!("[bond]\namount = \"{STAKE}\"\n");

    let verifier = start_worker(tmp, "verifier", "challenger", "roles = [\"verify\"]");

    // Phase 1: a worker dies by SIGKILL right after its claim is included.
    let mut crasher = start_worker(
        tmp,
        "crasher",
        "worker2",
        &format!("{bond}[faults]\ncrash_after_claim = true\n"),
    );
    let crashed = submit(&w, &model_id, &images[0..3]).await;
    let status = tokio::task::block_in_place(|| crasher.child.wait()).unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL),
        "the crasher died by SIGKILL; log:\n{}",
        crasher.log_text()
    );
    let worker2 = World::address("worker2");
    w.wait_for(
        &crashed,
        "the claims",
        Duration::from_secs(10),
        |j| j.status == JobStatus::Claimed && j.is_worked_by(&worker2),
        String::new,
    )
    .await;

    // Phase 2: while it is down, the liar (alone) claims and posts three wrong results; the
    // verifier challenges them and the one-step check on chain slashes the liar.
    let liar = start_worker(
        tmp,
        "liar",
        "worker3",
        &format!("{bond}[faults]\nwrong_output_layer = 4\n"),
    );
    let lied = submit(&w, &model_id, &images[3..6]).await;
    w.wait_for(
        &lied,
        "the liar to be slashed",
        Duration::from_secs(120),
        |j| j.failed_attempts >= 1 && j.status == JobStatus::Open,
        || logs(&[&verifier, &liar]),
    )
    .await;
    let liar_state = worker(&w, "worker3").await;
    assert_eq!(liar_state.worker.jobs_slashed, 3);
    assert_eq!(
        liar_state.worker.stake,
        Uint128::new(100_000_000 - 3 * collateral()),
        "each wrong result costs its collateral"
    );
    assert_eq!(
        liar_state.worker.tier, 0,
        "below the tier-1 stake it cannot claim"
    );
    for id in &lied {
        let dispute = dispute(&w, *id).await;
        assert_eq!(
            dispute.layer,
            Some(4),
            "the game found the layer the liar corrupted"
        );
        assert!(matches!(
            dispute.outcome,
            Some(DisputeOutcome::WorkerSlashed { .. })
        ));
    }

    // Phase 2b: a second liar, which also withholds its reveals, takes the same three jobs
    // back from the queue; the verifier challenges them, waits out the reveal period and
    // claims the timeout, which slashes the silent worker (checked once everything is final).
    let mut silent = start_worker(
        tmp,
        "silent",
        "client2",
        &format!("{bond}[faults]\nwrong_output_layer = 5\nwithhold_reveal = true\n"),
    );
    let client2 = World::address("client2");
    w.wait_for(
        &lied,
        "the silent liar's results to be challenged",
        Duration::from_secs(60),
        |j| j.status == JobStatus::Disputed && j.is_worked_by(&client2),
        || logs(&[&verifier, &silent]),
    )
    .await;

    // The silent node then goes away for good, as silent nodes do. Stopping it here also keeps
    // it from claiming the next phase's jobs: it stays bonded until the reveal period ends.
    let heard = Instant::now();
    while silent.metric("tavdun_worker_disputes_total").await < 3.0 {
        assert!(
            heard.elapsed() < Duration::from_secs(10),
            "the silent node did not see its three challenges; log:\n{}",
            silent.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(silent.terminate().success());

    // The crashed worker restarts: it finds its claims on chain and posts them in time.
    crasher.restart_without_faults();
    w.wait_for(
        &crashed,
        "the restarted worker to post its claimed jobs",
        Duration::from_secs(60),
        |j| j.failed_attempts == 0 && matches!(j.status, JobStatus::Posted | JobStatus::Finalized),
        || logs(&[&crasher]),
    )
    .await;

    // Phase 3: an honest worker joins; the liar's jobs and six new ones are served; the chain
    // node goes away and comes back under the running workers.
    let honest = start_worker(tmp, "honest", "worker1", &bond);
    let fresh = submit(&w, &model_id, &images[6..12]).await;
    net.stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    net.restart();
    let all_ids: Vec<u64> = crashed.iter().chain(&lied).chain(&fresh).copied().collect();
    let everyone = [&verifier, &liar, &silent, &crasher, &honest];
    let jobs = w
        .wait_for(
            &all_ids,
            "every job to be finalized",
            Duration::from_secs(300),
            |j| j.status == JobStatus::Finalized,
            || logs(&everyone),
        )
        .await;

    // Every result is the honest one, computed by core's reference executor.
    for (job, input) in jobs.iter().zip(&images) {
        let expected = forward(&model, input).unwrap().pop().unwrap();
        let output = job.result.as_ref().unwrap().output_values();
        assert_eq!(output, expected, "job {} carries the honest output", job.id);
        assert_eq!(job.end_reason, Some(EndReason::ResultAccepted));
        let worker = job.worker.as_ref().unwrap().to_string();
        assert_ne!(worker, World::address("worker3"), "no lie was paid");
        assert_ne!(worker, client2, "no lie was paid");
    }

    // Earnings are withdrawn by the nodes; the verifier's reward and the liar's loss are exact.
    let p = localnet_params();
    let crasher_state = worker(&w, "worker2").await;
    let honest_state = worker(&w, "worker1").await;
    assert_eq!(
        crasher_state.worker.jobs_done + honest_state.worker.jobs_done,
        12
    );
    let expired = crasher_state.worker.jobs_expired + honest_state.worker.jobs_expired;
    let worker_pay = 12 * (FEE - FEE * u128::from(p.protocol_fee_bps) / 10_000);
    // What worker1 and worker2 hold once paid: their TRN less the stake each bonded, plus pay.
    let bonded = 2 * 100_000_000;
    let workers_paid = before["worker1"] + before["worker2"] + worker_pay - bonded;
    let reward = 6 * collateral() * u128::from(p.challenger_reward_bps) / 10_000;
    let silent_state = worker(&w, "client2").await;
    assert_eq!(silent_state.worker.jobs_slashed, 3);
    assert_eq!(
        silent_state.worker.stake.u128(),
        100_000_000 - 3 * collateral()
    );
    for id in &lied {
        let dispute = dispute(&w, *id).await;
        assert_eq!(dispute.worker.as_str(), client2);
        assert_eq!(
            dispute.outcome,
            Some(DisputeOutcome::RevealWithheld),
            "silence loses"
        );
    }
    let settled = Instant::now();
    let after = loop {
        let after = w.balances().await;
        let paid = after["worker1"] + after["worker2"];
        if (paid == workers_paid && after["challenger"] == before["challenger"] + reward)
            || settled.elapsed() > Duration::from_secs(30)
        {
            break after;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(after["client1"], before["client1"] - 12 * FEE);
    assert_eq!(
        after["worker1"] + after["worker2"],
        workers_paid,
        "every finalized job paid its fee less the protocol fee, and the nodes withdrew it"
    );
    assert_eq!(after["challenger"], before["challenger"] + reward);
    assert_eq!(
        crasher_state.worker.stake.u128() + honest_state.worker.stake.u128(),
        bonded - u128::from(expired) * p.liveness_penalty.u128()
    );
    assert_eq!(after.values().sum::<u128>(), supply, "TRN is conserved");
    assert_eq!(w.market.trn_supply().await.unwrap(), supply);
    let stats = w.market.stats().await.unwrap();
    assert_eq!(
        stats.held.u128(),
        after["market"],
        "the market holds what it owes"
    );

    // What the nodes report.
    assert_eq!(
        verifier.metric("tavdun_worker_challenges_total").await,
        12.0
    ); // 6 sent + 6 won
    assert!(
        verifier
            .metric("tavdun_worker_results_verified_total")
            .await
            >= 9.0
    );
    assert_eq!(liar.metric("tavdun_worker_disputes_total").await, 6.0); // 3 received + 3 lost
    let posted = crasher.metric("tavdun_worker_jobs_posted_total").await
        + honest.metric("tavdun_worker_jobs_posted_total").await;
    assert!(posted >= 12.0, "posted {posted}");
    assert!(honest.metric("tavdun_worker_inference_seconds_count").await >= 1.0);
    let (code, body) = honest.get("/health").await.unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(&World::address("worker1")));

    // SIGTERM: each node stops cleanly.
    let (mut liar, mut silent, mut honest, mut verifier) = (liar, silent, honest, verifier);
    for node in [
        &mut liar,
        &mut silent,
        &mut crasher,
        &mut honest,
        &mut verifier,
    ] {
        let status = node.terminate();
        assert!(status.success(), "{} exited with {status}", node.name);
    }
    assert!(honest.log_text().contains("stopped"));
    drop(net);
}
