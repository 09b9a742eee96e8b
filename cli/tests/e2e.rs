//! End-to-end on a real wasmd node started by this test (localnet/start, never a mock chain):
//! `tavdun deploy`, the full job lifecycle with balances checked on chain, a wrong result
//! slashed through the dispute game, an unclaimed job refunded after its deadline, bad inputs
//! refused with the contract's error, and the node restarted in the middle. Prints the gas of
//! every message type (recorded in BENCHMARKS.md).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cosmwasm_std::Uint128;
use tavdun_core::{activation_hash, activation_hashes, eval_unit, forward, HexHash, Model};
use tavdun_sdk::amount::parse_trn;
use tavdun_sdk::api::job::int8_binary;
use tavdun_sdk::api::{
    ChallengeClaim, DisputeOutcome, ExecuteMsg, HardwareDeclaration, JobInput, JobRequest,
    JobResultMsg, JobStatus, ReceiveMsg,
};
use tavdun_sdk::client::{ClientError, TxResult};
use tavdun_sdk::model_dir::load_model;
use tavdun_sdk::{Deployment, MarketClient, SdkError};
use tavdun_testkit::world::{wait_past, World};
use tavdun_testkit::{self as testkit, Localnet};

use support::tavdun;

/// The shipped digits model; `TAVDUN_E2E_MODEL` names another model directory.
fn model_dir() -> PathBuf {
    std::env::var_os("TAVDUN_E2E_MODEL")
        .map_or_else(|| testkit::repo().join("models/digits"), PathBuf::from)
}

/// The world, the model, and the gas of every message sent in this run.
struct Run {
    world: World,
    model: Model,
    gas: BTreeMap<String, Vec<i64>>,
}

impl Run {
    fn record(&mut self, what: &str, tx: &TxResult) {
        self.gas
            .entry(what.to_string())
            .or_default()
            .push(tx.gas_used);
    }

    /// The median gas of the calls recorded as `what`.
    fn median_gas(&self, what: &str) -> i64 {
        let mut g = self.gas[what].clone();
        g.sort();
        g[g.len() / 2]
    }

    async fn exec(&mut self, what: &str, who: &MarketClient, msg: &ExecuteMsg) -> TxResult {
        let tx = who
            .execute(msg)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        self.record(what, &tx);
        tx
    }

    async fn send(
        &mut self,
        what: &str,
        who: &MarketClient,
        amount: u128,
        hook: &ReceiveMsg,
    ) -> TxResult {
        let tx = who
            .send(amount, hook)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        self.record(what, &tx);
        tx
    }

    async fn trn(&self, address: &str) -> u128 {
        self.world.trn(address).await
    }

    async fn claimable(&self, address: &str) -> u128 {
        self.world.market.claimable(address).await.unwrap()
    }

    async fn stake(&self, address: &str) -> Uint128 {
        let worker = self.world.market.require_worker(address).await.unwrap();
        worker.worker.stake
    }

    async fn job(&self, job_id: u64) -> tavdun_sdk::api::Job {
        self.world.job(job_id).await
    }
}

/// Attribute `key` of `contract`'s wasm event in a transaction.
fn attribute(tx: &TxResult, contract: &str, key: &str) -> String {
    tx.events
        .iter()
        .filter(|e| e.kind == "wasm")
        .filter(|e| {
            e.attributes
                .iter()
                .any(|(k, v)| k == "_contract_address" && v == contract)
        })
        .flat_map(|e| e.attributes.iter())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("tx {} has no {key}", tx.txhash))
}

/// The ids a `ClaimJobs` handed out: the transaction's data.
fn claimed_ids(tx: &TxResult) -> Vec<u64> {
    serde_json::from_slice(&tx.msg_data[0]).expect("ClaimJobs answers its job ids as data")
}

/// A convolution whose output (7 x 108 x 128 int8, 96,768 bytes) is as large as one stored
/// value on wasmd allows, once revealed in a dispute record (`MAX_STORED_VALUE`, base64 and
/// the record included), then pooled down to a two-class head.
fn budget_model() -> Model {
    let spec = br#"{"version":1,"name":"dispute-budget","input":{"shape":[1,108,128],"quant":{"scale":"1","zero_point":0}},
        "layers":[{"type":"conv2d","filters":7,"kernel":3,"stride":1,"padding":1,"shift":9,"relu":true},
                  {"type":"maxpool2d","size":4,"stride":4},{"type":"maxpool2d","size":4,"stride":4},
                  {"type":"flatten"},{"type":"dense","units":2,"shift":8,"relu":false}]}"#;
    let (spec, plan) = tavdun_core::ModelSpec::from_json(spec).unwrap();
    let mut rng = tavdun_core::synthetic::Rng::new(5);
    let weights = plan
        .layers
        .iter()
        .map(|lp| {
            (lp.leaves > 0).then(|| tavdun_core::LayerWeights {
                // -128 is not a valid weight (the spec keeps weights symmetric).
                weight: (0..lp.leaves as usize * lp.fan_in as usize)
                    .map(|_| rng.range(-127, 127) as i8)
                    .collect(),
                bias: vec![0; lp.leaves as usize],
            })
        })
        .collect();
    Model::new(spec, plan, weights).unwrap()
}

async fn dispute_at_the_budget(
    w: &mut Run,
    dir: &Path,
    deployment: &Path,
    worker: &MarketClient,
    challenger: &MarketClient,
) {
    let m = budget_model();
    let model_dir = dir.join("budget-model");
    tavdun_sdk::model_dir::write_model(&m, &model_dir).unwrap();
    let (ok, out) = tavdun(
        deployment,
        "deployer",
        &["model", "register", model_dir.to_str().unwrap()],
    );
    assert!(ok, "the model at the budget registers: {out}");
    let model_id = hex::encode(m.id());
    let info = w.world.market.require_model(&model_id).await.unwrap();
    let budget = tavdun_sdk::deploy::localnet_params().max_dispute_bytes;
    assert!(info.dispute_bytes <= u64::from(budget));
    // The binding limit is the VM's: the revealed output, base64, is within 2% of one
    // stored value (128 KiB).
    let revealed = m.plan.layers[0].output.len().div_ceil(3) * 4;
    assert!(revealed * 100 >= 128 * 1024 * 98, "{revealed}");
    // A job whose 13.5 KiB input is a blob, claimed and answered wrongly at layer 1.
    let input = tavdun_core::synthetic::input(m.plan.input.len(), 8);
    let client = w.world.wallet("client1");
    let deadline = client.deadline_in(900).await.unwrap();
    let (job, _) = client
        .submit_job(
            &model_id,
            JobInput::blob(&input, "https://unused.example/input".into()),
            trn_micro("0.2"),
            deadline,
        )
        .await
        .unwrap();
    let honest = forward(&m, &input).unwrap();
    let mut lie = honest.clone();
    lie[0][0] = lie[0][0].wrapping_add(1);
    let (ids, _) = worker.claim_jobs(&model_id, 1).await.unwrap();
    assert_eq!(ids, vec![job]);
    w.exec(
        "post_results(1)",
        worker,
        &ExecuteMsg::PostResults {
            results: vec![JobResultMsg::new(job, &lie)],
        },
    )
    .await;
    let result = w.job(job).await.result.unwrap();
    let me = challenger.signer_address().unwrap();
    let claim = ChallengeClaim::new(&me, job, activation_hashes(&honest), &result.commitment.0);
    let (seq, tx) = challenger
        .commit_challenge(&claim.commit(), trn_micro("10"))
        .await
        .unwrap();
    wait_past(w.world.market.chain(), tx.height).await;
    w.exec("challenge", challenger, &claim.open(seq)).await;
    let reveal = ExecuteMsg::Reveal {
        job_id: job,
        seq,
        hashes: hex_hashes(&lie),
        activation: int8_binary(&lie[0]),
    };
    let bytes = serde_json::to_vec(&reveal).unwrap().len();
    let tx = w.exec("reveal(budget model)", worker, &reveal).await;
    println!(
        "dispute at the budget: reveal of {} activation bytes, a {bytes}-byte message, {} gas",
        lie[0].len(),
        tx.gas_used
    );
    let leaf = m.leaf(0, 0).unwrap();
    let proof = m.weights_tree().proof(0).unwrap();
    w.exec(
        "resolve(budget model)",
        challenger,
        &ExecuteMsg::Resolve {
            job_id: job,
            seq,
            unit: 0,
            input: int8_binary(&input),
            leaf: Some(leaf),
            proof: Some(proof),
        },
    )
    .await;
    let d = w.world.market.dispute(job, seq).await.unwrap().unwrap();
    assert!(
        matches!(d.outcome, Some(DisputeOutcome::WorkerSlashed { unit: 0 })),
        "{d:?}"
    );
    w.world.assert_books_balance().await;
}

fn trn_micro(s: &str) -> u128 {
    parse_trn(s).unwrap()
}

fn inline(input: &[i8]) -> JobInput {
    JobInput::inline(input)
}

fn hex_hashes(acts: &[Vec<i8>]) -> Vec<HexHash> {
    activation_hashes(acts).into_iter().map(HexHash).collect()
}

/// Seeded non-negative inputs (the digits model's inputs are pixel intensities).
fn inputs(model: &Model, n: usize) -> Vec<Vec<i8>> {
    let len = model.plan.input.len();
    (0..n as u64)
        .map(|i| {
            tavdun_core::synthetic::input(len, i)
                .iter()
                .map(|&v| v.max(0))
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_lifecycle_dispute_refund_and_bad_inputs() {
    let dir = testkit::TempDir::new("cli-e2e");
    let tmp = dir.path();
    let net = Localnet::start(tmp.join("chain"));
    let deployment = tmp.join("deployment.json");
    let artifacts = testkit::artifacts();

    // Deploy through the CLI, as a newcomer would.
    let (ok, out) = tavdun(
        &deployment,
        "deployer",
        &[
            "deploy",
            "--artifacts",
            artifacts.to_str().unwrap(),
            "--model",
            model_dir().to_str().unwrap(),
        ],
    );
    assert!(ok, "deploy failed: {out}");
    let d = Deployment::load(&deployment).unwrap();
    assert_eq!(out["market"]["address"], d.market.address.as_str());
    let model = load_model(&model_dir()).unwrap();
    let model_id = hex::encode(model.id());
    assert_eq!(d.models[0].model_id, model_id);

    let world = World::open(tmp);
    let worker = world.wallet("worker1");
    let client = world.wallet("client1");
    let challenger = world.wallet("challenger");
    let (worker_addr, client_addr, challenger_addr) = (
        World::address("worker1"),
        World::address("client1"),
        World::address("challenger"),
    );
    let mut w = Run {
        world,
        model,
        gas: BTreeMap::new(),
    };
    let trn = |s: &str| parse_trn(s).unwrap();

    // The worker bonds through the CLI.
    let (ok, out) = tavdun(
        &deployment,
        "worker1",
        &["worker", "bond", "200", "--hardware", "cpu (test)"],
    );
    assert!(ok, "bond failed: {out}");
    assert_eq!(w.stake(&worker_addr).await.u128(), trn("200"));
    w.world.assert_books_balance().await;

    // Stake through the client too, for the gas figures: bond, then unbond a part.
    let worker2 = w.world.wallet("worker2");
    let hardware = HardwareDeclaration {
        description: "cpu (test)".into(),
        max_tier: 1,
    };
    w.send(
        "bond",
        &worker2,
        trn("150"),
        &ReceiveMsg::Bond {
            hardware: Some(hardware),
        },
    )
    .await;
    w.exec(
        "unbond",
        &worker2,
        &ExecuteMsg::Unbond {
            amount: Uint128::new(trn("10")),
        },
    )
    .await;

    // Three jobs: A (honest), B (will be answered wrongly), C (never claimed).
    let xs = inputs(&w.model, 3);
    let client_start = w.trn(&client_addr).await;
    let now = client.block_time().await.unwrap();
    let submit = |input: &[i8], deadline: u64| ReceiveMsg::SubmitJob {
        model_id: model_id.clone(),
        input: inline(input),
        deadline: now.plus_seconds(deadline),
    };
    let tx = w
        .send("submit_job", &client, trn("0.3"), &submit(&xs[0], 900))
        .await;
    let a = w.world.market.submitted_job_ids(&tx)[0];
    let tx = w
        .send("submit_job", &client, trn("0.2"), &submit(&xs[1], 900))
        .await;
    let b = w.world.market.submitted_job_ids(&tx)[0];
    let tx = w
        .send("submit_job", &client, trn("0.1"), &submit(&xs[2], 8))
        .await;
    let c = w.world.market.submitted_job_ids(&tx)[0];
    assert_eq!(w.trn(&client_addr).await, client_start - trn("0.6"));
    // A fourth job, cancelled by its client before anyone claims it: the fee comes back.
    let tx = w
        .send("submit_job", &client, trn("0.05"), &submit(&xs[2], 900))
        .await;
    let cancelled = w.world.market.submitted_job_ids(&tx)[0];
    w.exec(
        "cancel_jobs",
        &client,
        &ExecuteMsg::CancelJobs {
            job_ids: vec![cancelled],
        },
    )
    .await;
    assert_eq!(w.job(cancelled).await.status, JobStatus::Cancelled);
    // Money leaves the market only by withdrawal: the refund is claimable.
    assert_eq!(w.claimable(&client_addr).await, trn("0.05"));

    // Bad inputs are refused with the contract's own error, and nothing moves.
    let bad = |model_id: &str, input: &[i8]| ReceiveMsg::SubmitJob {
        model_id: model_id.to_string(),
        input: inline(input),
        deadline: now.plus_seconds(900),
    };
    let before = w.trn(&client_addr).await;
    for (what, hook, fee) in [
        ("unknown model", bad(&"00".repeat(32), &xs[0]), trn("0.3")),
        ("fee below minimum", bad(&model_id, &xs[0]), 1),
        ("oversize input", bad(&model_id, &vec![0; 5000]), trn("0.3")),
        (
            "wrong input length",
            bad(&model_id, &xs[0][1..]),
            trn("0.3"),
        ),
    ] {
        let err = client.send(fee, &hook).await.unwrap_err();
        assert!(
            matches!(err, SdkError::Chain(ClientError::Contract { .. })),
            "{what}: {err}"
        );
    }
    let err = client
        .execute(&ExecuteMsg::PostResults { results: vec![] })
        .await
        .unwrap_err();
    assert!(
        matches!(err, SdkError::Chain(ClientError::Contract { .. })),
        "wrong role: {err}"
    );
    let (ok, out) = tavdun(
        &deployment,
        "client1",
        &["job", "submit", "--model", "nope", "--values", "[1]"],
    );
    assert!(
        !ok && out["error"] == "not_found",
        "CLI names the unknown model: {out}"
    );
    assert_eq!(w.trn(&client_addr).await, before);

    // The worker claims the best-paying jobs one at a time (A, then B; C pays least) and
    // posts A correctly and B with a wrong output: one job per message, for the unbatched
    // gas figures.
    let acts_a = forward(&w.model, &xs[0]).unwrap();
    let acts_b = forward(&w.model, &xs[1]).unwrap();
    let mut wrong_b = acts_b.clone();
    let last = wrong_b.len() - 1;
    wrong_b[last][0] = wrong_b[last][0].wrapping_add(1);
    for (id, acts) in [(a, &acts_a), (b, &wrong_b)] {
        let claim = ExecuteMsg::ClaimJobs {
            model_id: model_id.clone(),
            max: 1,
        };
        let tx = w.exec("claim_jobs(1)", &worker, &claim).await;
        assert_eq!(claimed_ids(&tx), vec![id]);
        let post = ExecuteMsg::PostResults {
            results: vec![JobResultMsg::new(id, acts)],
        };
        w.exec("post_results(1)", &worker, &post).await;
    }
    assert_eq!(w.job(a).await.status, JobStatus::Posted);
    w.world.assert_books_balance().await;

    // The challenger disputes B: it commits to its hashes (with the bond), opens them a block
    // later, and the worker reveals its own: the first divergent layer is the last one.
    let bond = trn("10");
    let result = w.job(b).await.result.unwrap();
    let claim = ChallengeClaim::new(
        &challenger_addr,
        b,
        activation_hashes(&acts_b),
        &result.commitment.0,
    );
    let tx = w
        .send("commit_challenge", &challenger, bond, &claim.commit())
        .await;
    let seq: u32 = attribute(&tx, w.world.market.market_address(), "seq")
        .parse()
        .unwrap();
    wait_past(w.world.market.chain(), tx.height).await;
    w.exec("challenge", &challenger, &claim.open(seq)).await;
    w.exec(
        "reveal",
        &worker,
        &ExecuteMsg::Reveal {
            job_id: b,
            seq,
            hashes: hex_hashes(&wrong_b),
            activation: int8_binary(&wrong_b[last]),
        },
    )
    .await;
    let dispute = w.world.market.dispute(b, seq).await.unwrap().unwrap();
    assert_eq!(dispute.layer, Some(last as u32 + 1));

    // Anyone shows the wrong unit with its leaf and Merkle proof; the contract recomputes it.
    let unit = (0..wrong_b[last].len() as u32)
        .find(|&j| {
            let leaf = w
                .model
                .plan
                .leaf_unit(last, j)
                .and_then(|l| w.model.leaf(last, l));
            eval_unit(
                &w.model.spec,
                &w.model.plan,
                last,
                &acts_b[last - 1],
                j,
                leaf.as_ref(),
            )
            .unwrap()
                != wrong_b[last][j as usize]
        })
        .unwrap();
    let leaf = w
        .model
        .plan
        .leaf_unit(last, unit)
        .and_then(|l| w.model.leaf(last, l))
        .unwrap();
    let proof = w
        .model
        .weights_tree()
        .proof(w.model.plan.leaf_index(last, leaf.unit).unwrap())
        .unwrap();
    let stake_before = w.stake(&worker_addr).await;
    w.exec(
        "resolve",
        &challenger,
        &ExecuteMsg::Resolve {
            job_id: b,
            seq,
            unit,
            input: int8_binary(&acts_b[last - 1]),
            leaf: Some(leaf),
            proof: Some(proof),
        },
    )
    .await;
    let dispute = w.world.market.dispute(b, seq).await.unwrap().unwrap();
    assert!(
        matches!(dispute.outcome, Some(DisputeOutcome::WorkerSlashed { .. })),
        "{dispute:?}"
    );
    assert!(
        w.stake(&worker_addr).await < stake_before,
        "the liar's collateral is slashed"
    );
    assert!(
        w.claimable(&challenger_addr).await > bond,
        "bond back plus a reward"
    );
    assert_eq!(
        w.job(b).await.status,
        JobStatus::Open,
        "B goes back to the queue"
    );
    w.world.assert_books_balance().await;

    // C was never claimed: after its deadline anyone refunds it to the client in full.
    tokio::time::sleep(Duration::from_secs(9)).await;
    let before = w.claimable(&client_addr).await;
    w.exec(
        "refund_expired",
        &challenger,
        &ExecuteMsg::RefundExpired { job_ids: vec![c] },
    )
    .await;
    assert_eq!(w.claimable(&client_addr).await, before + trn("0.1"));
    assert_eq!(w.job(c).await.status, JobStatus::Refunded);

    // The node restarts while A's challenge window runs; the clients carry on.
    net.stop();
    net.restart();
    w.world.assert_books_balance().await;

    // A batch of 32 jobs through the whole lifecycle, for the amortised gas figure.
    let batch: Vec<Vec<i8>> = inputs(&w.model, 32);
    let requests: Vec<JobRequest> = batch
        .iter()
        .map(|x| JobRequest {
            model_id: model_id.clone(),
            input: inline(x),
            fee: Uint128::new(trn("0.5")),
            deadline: now.plus_seconds(900),
        })
        .collect();
    let tx = w
        .send(
            "submit_jobs(32)",
            &client,
            trn("16"),
            &ReceiveMsg::SubmitJobs { jobs: requests },
        )
        .await;
    let batch_ids = w.world.market.submitted_job_ids(&tx);
    assert_eq!(batch_ids.len(), 32);
    let tx = w
        .exec(
            "claim_jobs(32)",
            &worker,
            &ExecuteMsg::ClaimJobs {
                model_id: model_id.clone(),
                max: 32,
            },
        )
        .await;
    assert_eq!(
        claimed_ids(&tx),
        batch_ids,
        "the batch pays more than B, so it comes first"
    );
    let results = batch_ids
        .iter()
        .zip(&batch)
        .map(|(&id, x)| JobResultMsg::new(id, &forward(&w.model, x).unwrap()))
        .collect();
    w.exec(
        "post_results(32)",
        &worker,
        &ExecuteMsg::PostResults { results },
    )
    .await;

    // After the window, anyone finalizes; the worker is paid the fee less the protocol fee.
    let window = w.job(batch_ids[0]).await.result.unwrap().challenge_ends;
    while client.block_time().await.unwrap() <= window.plus_seconds(2) {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let earned_before = w.claimable(&worker_addr).await;
    w.exec(
        "finalize(1)",
        &challenger,
        &ExecuteMsg::Finalize { job_ids: vec![a] },
    )
    .await;
    w.exec(
        "finalize(32)",
        &challenger,
        &ExecuteMsg::Finalize {
            job_ids: batch_ids.clone(),
        },
    )
    .await;
    assert_eq!(w.job(a).await.status, JobStatus::Finalized);
    let fee_bps = 500u128;
    let expected = (trn("0.3") + 32 * trn("0.5")) * (10_000 - fee_bps) / 10_000;
    let earned = w.claimable(&worker_addr).await - earned_before;
    assert!(
        earned.abs_diff(expected) <= 33,
        "earned {earned}, expected about {expected}"
    );
    let wallet_before = w.trn(&worker_addr).await;
    let claim = w.claimable(&worker_addr).await;
    w.exec("withdraw", &worker, &ExecuteMsg::Withdraw { amount: None })
        .await;
    assert_eq!(w.trn(&worker_addr).await, wallet_before + claim);
    assert_eq!(w.claimable(&worker_addr).await, 0);
    w.world.assert_books_balance().await;

    // The CLI reads the verified result back.
    let (ok, out) = tavdun(&deployment, "client1", &["job", "show", &a.to_string()]);
    assert!(ok);
    assert_eq!(out["job"]["status"], "finalized");
    let expected_out: Vec<i64> = acts_a.last().unwrap().iter().map(|&v| v.into()).collect();
    assert_eq!(out["output"], serde_json::json!(expected_out));
    assert_eq!(
        w.job(a).await.input_hash,
        HexHash(activation_hash(0, &xs[0]))
    );

    // A model at the dispute budget: the worker's reveal of its first layer is the largest
    // dispute transaction the market allows, and it lands.
    dispute_at_the_budget(&mut w, tmp, &deployment, &worker, &challenger).await;

    println!("\ngas used per message (median of the calls in this run):");
    for what in w.gas.keys() {
        println!("  {what:<18} {:>9}", w.median_gas(what));
    }
    // Issue 12's goals for the whole lifecycle of a job (submit, claim, post, finalize).
    let per_job =
        |labels: [&str; 4], jobs: i64| labels.iter().map(|l| w.median_gas(l)).sum::<i64>() / jobs;
    let unbatched = per_job(
        [
            "submit_job",
            "claim_jobs(1)",
            "post_results(1)",
            "finalize(1)",
        ],
        1,
    );
    let batched = per_job(
        [
            "submit_jobs(32)",
            "claim_jobs(32)",
            "post_results(32)",
            "finalize(32)",
        ],
        32,
    );
    println!("whole lifecycle per job: {unbatched} unbatched, {batched} in batches of 32");
    assert!(unbatched <= 400_000, "{unbatched} gas per job unbatched");
    assert!(batched <= 100_000, "{batched} gas per job in batches of 32");
    drop(net);
}
