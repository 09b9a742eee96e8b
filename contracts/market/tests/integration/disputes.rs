//! The dispute matrix: a worker wrong at each layer, wrong output only, a withheld reveal, a
//! false challenge and each party late. The side that is right and on time wins every case.

use tavdun_core::{forward, synthetic, Leaf, Model, Proof};
use tavdun_market::ContractError;
use tavdun_market_api::{DisputeOutcome, JobStatus};
use tavdun_market_api::{ExecuteMsg, ReceiveMsg};

use tavdun_market_api::job::int8_binary;
use tavdun_testkit::multitest::*;

const BOND: u128 = 1_000;
const COLLATERAL: u128 = 5_000;
const FEE: u128 = 10_000;

/// A small model with every layer kind: conv2d, max-pool, flatten and dense, so the matrix
/// covers layers with and without weights whatever else is shipped.
fn synthetic_model() -> Model {
    for seed in 0.. {
        let m = synthetic::random_model(seed).expect("valid model");
        let kinds: Vec<&str> = m
            .spec
            .layers
            .iter()
            .map(|l| match l {
                tavdun_core::Layer::Dense { .. } => "dense",
                tavdun_core::Layer::Conv2d { .. } => "conv",
                tavdun_core::Layer::Maxpool2d { .. } => "pool",
                tavdun_core::Layer::Flatten => "flatten",
            })
            .collect();
        if ["dense", "conv", "pool", "flatten"]
            .iter()
            .all(|k| kinds.contains(k))
        {
            return m;
        }
    }
    unreachable!()
}

struct Game {
    s: Suite,
    m: Model,
    input: Vec<i8>,
    job: u64,
    posted: Vec<Vec<i8>>,
    honest: Vec<Vec<i8>>,
}

/// A job claimed by `worker` and posted with `posted` activations.
fn game(m: &Model, wrong_layer: Option<usize>) -> Game {
    let mut s = Suite::new(&["client", "worker", "checker", "anyone"]);
    let m = m.clone();
    let model_id = s.register(&m, 1, 0);
    let (client, worker) = (s.addr("client"), s.addr("worker"));
    s.bond(&worker, 20_000);
    let input = input_for(&m);
    let job = s.submit(&client, &model_id, FEE, &input, 100_000).unwrap();
    s.claim(&worker, &model_id, 1).unwrap();
    let honest = forward(&m, &input).unwrap();
    let posted = match wrong_layer {
        Some(k) => lying_acts(&m, &input, k),
        None => honest.clone(),
    };
    s.post(&worker, job, &posted).unwrap();
    Game {
        s,
        m,
        input,
        job,
        posted,
        honest,
    }
}

impl Game {
    /// `checker` commits a challenge claiming `claimed`, then opens it a block later.
    fn challenge(&mut self, claimed: &[Vec<i8>]) -> anyhow::Result<u32> {
        let checker = self.s.addr("checker");
        self.s.challenge(&checker, self.job, &hashes(claimed))
    }

    fn reveal(&mut self, seq: u32) -> anyhow::Result<cw_multi_test::AppResponse> {
        let worker = self.s.addr("worker");
        let posted = self.posted.clone();
        self.s.reveal(&worker, self.job, seq, &posted)
    }

    /// The leaf and proof for output `unit` of 1-based `layer`, if that layer has weights.
    fn witness(&self, layer: usize, unit: u32) -> (Option<Leaf>, Option<Proof>) {
        let core = layer - 1;
        match self.m.plan.leaf_unit(core, unit) {
            None => (None, None),
            Some(leaf_unit) => {
                let leaf = self.m.leaf(core, leaf_unit).expect("leaf");
                let index = self.m.plan.leaf_index(core, leaf_unit).expect("index");
                let proof = self.m.weights_tree().proof(index).expect("proof");
                (Some(leaf), Some(proof))
            }
        }
    }

    /// Anyone shows unit `unit` of `layer`, from the honest activation `layer - 1`.
    fn resolve(
        &mut self,
        seq: u32,
        layer: usize,
        unit: u32,
    ) -> anyhow::Result<cw_multi_test::AppResponse> {
        let (leaf, proof) = self.witness(layer, unit);
        let anyone = self.s.addr("anyone");
        let input = int8_binary(act(&self.input, &self.honest, layer - 1));
        self.s.exec(
            &anyone,
            &ExecuteMsg::Resolve {
                job_id: self.job,
                seq,
                unit,
                input,
                leaf,
                proof,
            },
        )
    }

    fn timeout(&mut self, seq: u32) -> anyhow::Result<cw_multi_test::AppResponse> {
        let anyone = self.s.addr("anyone");
        self.s.exec(
            &anyone,
            &ExecuteMsg::ClaimTimeout {
                job_id: self.job,
                seq,
            },
        )
    }

    fn layers(&self) -> usize {
        self.honest.len()
    }

    fn assert_worker_slashed(&self, challenger_claimable: u128) {
        let worker = self.s.worker(&self.s.addr("worker")).worker;
        assert_eq!(worker.stake.u128(), 20_000 - COLLATERAL);
        assert_eq!(worker.locked.u128(), 0);
        assert_eq!(worker.jobs_slashed, 1);
        // Bond back plus half the collateral (challenger_reward_bps 5,000).
        assert_eq!(
            self.s.claimable(&self.s.addr("checker")),
            challenger_claimable
        );
        assert_eq!(self.s.stats().totals.treasury.u128(), COLLATERAL / 2);
        let job = self.s.job(self.job);
        assert_eq!(
            job.status,
            JobStatus::Open,
            "the job goes back to the queue"
        );
        assert_eq!(
            job.fee.u128(),
            FEE,
            "the client's fee stays escrowed for the re-run"
        );
        assert_eq!(job.failed_attempts, 1);
        self.s.assert_invariant();
    }
}

fn worker_wrong_at_each_layer_is_slashed(m: &Model) {
    let layers = m.plan.layers.len();
    for k in 1..=layers {
        let mut g = game(m, Some(k));
        let honest = g.honest.clone();
        let seq = g.challenge(&honest).unwrap();
        let res = g.reveal(seq).unwrap();
        assert_eq!(
            attr(&res, "layer"),
            Some(k.to_string()),
            "first divergence is layer {k}"
        );
        // Unit 0 is where the lie is; any unit the worker got right is refused.
        if let Some(right) =
            (1..g.posted[k - 1].len()).find(|&u| g.posted[k - 1][u] == honest[k - 1][u])
        {
            let err = market_err(g.resolve(seq, k, right as u32).unwrap_err());
            assert!(
                matches!(err, ContractError::NoMismatch { .. }),
                "layer {k}: {err:?}"
            );
        }
        g.resolve(seq, k, 0).unwrap();
        let d = g.s.dispute(g.job, seq);
        assert_eq!(d.outcome, Some(DisputeOutcome::WorkerSlashed { unit: 0 }));
        g.assert_worker_slashed(BOND + COLLATERAL / 2);
    }
}

fn wrong_output_only_is_slashed_at_the_last_layer(m: &Model) {
    let n = game(m, None).layers();
    let mut g = game(m, Some(n));
    assert_eq!(
        g.posted[..n - 1],
        g.honest[..n - 1],
        "only the output is wrong"
    );
    let honest = g.honest.clone();
    let seq = g.challenge(&honest).unwrap();
    g.reveal(seq).unwrap();
    assert_eq!(g.s.dispute(g.job, seq).layer, Some(n as u32));
    g.resolve(seq, n, 0).unwrap();
    g.assert_worker_slashed(BOND + COLLATERAL / 2);
}

fn withheld_reveal_loses_after_the_timeout(m: &Model) {
    let mut g = game(m, Some(2));
    let honest = g.honest.clone();
    let seq = g.challenge(&honest).unwrap();
    let err = market_err(g.timeout(seq).unwrap_err());
    assert!(matches!(err, ContractError::TooEarly { .. }), "{err:?}");
    g.s.advance(301);
    // Late reveal: refused.
    let err = market_err(g.reveal(seq).unwrap_err());
    assert!(matches!(err, ContractError::TooLate { .. }), "{err:?}");
    g.timeout(seq).unwrap();
    assert_eq!(
        g.s.dispute(g.job, seq).outcome,
        Some(DisputeOutcome::RevealWithheld)
    );
    g.assert_worker_slashed(BOND + COLLATERAL / 2);
}

fn false_challenge_costs_its_bond(m: &Model) {
    let mut g = game(m, None);
    let n = g.layers();
    // The challenger claims layer n-1 differs; the worker is honest everywhere.
    let fake = lying_acts(&g.m, &g.input, n - 1);
    let seq = g.challenge(&fake).unwrap();
    g.reveal(seq).unwrap();
    for unit in 0..g.honest[n - 2].len() as u32 {
        let err = market_err(g.resolve(seq, n - 1, unit).unwrap_err());
        assert!(
            matches!(err, ContractError::NoMismatch { .. }),
            "unit {unit}: {err:?}"
        );
    }
    let err = market_err(g.timeout(seq).unwrap_err());
    assert!(matches!(err, ContractError::TooEarly { .. }), "{err:?}");
    g.s.advance(301);
    // Late resolver: refused.
    let err = market_err(g.resolve(seq, n - 1, 0).unwrap_err());
    assert!(matches!(err, ContractError::TooLate { .. }), "{err:?}");
    g.timeout(seq).unwrap();
    let worker = g.s.addr("worker");
    // Half the bond to the worker (failed_bond_to_worker_bps 5,000), half to the treasury.
    assert_eq!(g.s.claimable(&worker), BOND / 2);
    assert_eq!(g.s.stats().totals.treasury.u128(), BOND / 2);
    assert_eq!(
        g.s.dispute(g.job, seq).outcome,
        Some(DisputeOutcome::ChallengeFailed)
    );
    assert_eq!(g.s.job(g.job).status, JobStatus::Posted);
    // The window was never reopened: once it is over the worker is paid as usual.
    g.s.advance(300);
    let anyone = g.s.addr("anyone");
    g.s.exec(
        &anyone,
        &ExecuteMsg::Finalize {
            job_ids: vec![g.job],
        },
    )
    .unwrap();
    assert_eq!(g.s.claimable(&worker), BOND / 2 + FEE - FEE / 20);
    assert_eq!(g.s.worker(&worker).worker.stake.u128(), 20_000);
    g.s.assert_invariant();
}

fn late_challenger_is_refused_and_the_result_stands(m: &Model) {
    let mut g = game(m, Some(1));
    g.s.advance(600);
    let honest = g.honest.clone();
    let err = market_err(g.challenge(&honest).unwrap_err());
    assert!(matches!(err, ContractError::TooLate { .. }), "{err:?}");
    let anyone = g.s.addr("anyone");
    g.s.exec(
        &anyone,
        &ExecuteMsg::Finalize {
            job_ids: vec![g.job],
        },
    )
    .unwrap();
    assert_eq!(g.s.job(g.job).status, JobStatus::Finalized);
    assert_eq!(
        g.s.balance(&g.s.addr("checker")),
        START_BALANCE,
        "a refused challenge costs nothing"
    );
    g.s.assert_invariant();
}

fn late_worker_claim_is_expired(m: &Model) {
    let mut s = Suite::new(&["client", "worker", "anyone"]);
    let id = s.register(m, 1, 0);
    let (client, worker, anyone) = (s.addr("client"), s.addr("worker"), s.addr("anyone"));
    s.bond(&worker, 20_000);
    let input = input_for(m);
    let job = s.submit(&client, &id, FEE, &input, 100_000).unwrap();
    s.claim(&worker, &id, 1).unwrap();
    s.advance(301);
    let err = market_err(
        s.post(&worker, job, &forward(m, &input).unwrap())
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::TooLate { .. }), "{err:?}");
    s.exec(&anyone, &ExecuteMsg::ExpireClaims { job_ids: vec![job] })
        .unwrap();
    assert_eq!(s.job(job).status, JobStatus::Open);
    assert_eq!(s.worker(&worker).worker.stake.u128(), 19_500);
    s.assert_invariant();
}

fn challenge_and_reveal_are_checked_against_commitments(m: &Model) {
    // The checks below lie at layer 3 and resolve from activation 2.
    if m.plan.layers.len() < 3 {
        return;
    }
    let mut g = game(m, Some(3));
    let honest = g.honest.clone();
    let (checker, worker) = (g.s.addr("checker"), g.s.addr("worker"));
    let err = market_err(
        g.s.send(
            &checker,
            BOND - 1,
            &ReceiveMsg::CommitChallenge {
                job_id: g.job,
                commitment: hashes(&honest)[0],
            },
        )
        .unwrap_err(),
    );
    assert!(matches!(err, ContractError::WrongBond { .. }), "{err:?}");
    let err = market_err(
        g.s.commit_challenge(&worker, g.job, &hashes(&honest))
            .unwrap_err(),
    );
    assert_eq!(err, ContractError::SelfChallenge);
    // The worker's own hashes: nothing to dispute.
    let posted = g.posted.clone();
    let err = market_err(g.challenge(&posted).unwrap_err());
    assert!(matches!(err, ContractError::NoDivergence { .. }), "{err:?}");
    let seq =
        g.s.commit_challenge(&checker, g.job, &hashes(&honest))
            .unwrap();
    // Opened in the commitment's own block: refused.
    let err = market_err(
        g.s.open_challenge(&checker, g.job, seq, &hashes(&honest))
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::SameBlock { .. }), "{err:?}");
    g.s.next_block();
    // Other hashes than the committed ones, or opened by someone else: refused.
    let err = market_err(
        g.s.open_challenge(&checker, g.job, seq, &hashes(&posted))
            .unwrap_err(),
    );
    assert!(
        matches!(err, ContractError::CommitmentMismatch { .. }),
        "{err:?}"
    );
    let anyone = g.s.addr("anyone");
    let err = market_err(
        g.s.open_challenge(&anyone, g.job, seq, &hashes(&honest))
            .unwrap_err(),
    );
    assert!(
        matches!(err, ContractError::NotChallenger { .. }),
        "{err:?}"
    );
    g.s.open_challenge(&checker, g.job, seq, &hashes(&honest))
        .unwrap();
    // The honest hashes do not open the worker's commitment; nor does the honest activation
    // match the hash the worker committed to.
    let err = market_err(
        g.s.exec(
            &worker,
            &ExecuteMsg::Reveal {
                job_id: g.job,
                seq,
                hashes: hashes(&honest),
                activation: int8_binary(&honest[2]),
            },
        )
        .unwrap_err(),
    );
    assert_eq!(err, ContractError::RevealMismatch { job_id: g.job });
    let err = market_err(
        g.s.exec(
            &worker,
            &ExecuteMsg::Reveal {
                job_id: g.job,
                seq,
                hashes: hashes(&posted),
                activation: int8_binary(&honest[2]),
            },
        )
        .unwrap_err(),
    );
    assert_eq!(err, ContractError::ActivationMismatch { index: 3 });
    let err = market_err(g.resolve(seq, 3, 0).unwrap_err());
    assert!(
        matches!(err, ContractError::WrongDisputeState { .. }),
        "{err:?}"
    );
    g.reveal(seq).unwrap();
    let err = market_err(g.reveal(seq).unwrap_err());
    assert!(
        matches!(err, ContractError::WrongDisputeState { .. }),
        "{err:?}"
    );
    // An input that does not hash to the agreed activation 2 is refused.
    let (leaf, proof) = g.witness(3, 0);
    let mut wrong_prev = honest[1].clone();
    wrong_prev[0] = wrong_prev[0].wrapping_add(1);
    let err = market_err(
        g.s.exec(
            &anyone,
            &ExecuteMsg::Resolve {
                job_id: g.job,
                seq,
                unit: 0,
                input: int8_binary(&wrong_prev),
                leaf: leaf.clone(),
                proof: proof.clone(),
            },
        )
        .unwrap_err(),
    );
    assert_eq!(err, ContractError::ActivationMismatch { index: 2 });
    // A forged leaf fails its Merkle proof when layer 3 has weights; a leafless resolve of a
    // weighted layer is refused.
    if let (Some(mut leaf), Some(proof)) = (leaf, proof) {
        let err = market_err(
            g.s.exec(
                &anyone,
                &ExecuteMsg::Resolve {
                    job_id: g.job,
                    seq,
                    unit: 0,
                    input: int8_binary(&honest[1]),
                    leaf: None,
                    proof: None,
                },
            )
            .unwrap_err(),
        );
        assert!(matches!(err, ContractError::LeafRequired { .. }), "{err:?}");
        leaf.bias += 1;
        let err = market_err(
            g.s.exec(
                &anyone,
                &ExecuteMsg::Resolve {
                    job_id: g.job,
                    seq,
                    unit: 0,
                    input: int8_binary(&honest[1]),
                    leaf: Some(leaf),
                    proof: Some(proof),
                },
            )
            .unwrap_err(),
        );
        assert!(matches!(err, ContractError::Proof(_)), "{err:?}");
    }
    g.resolve(seq, 3, 0).unwrap();
    // The commitment to the worker's own hashes was never opened: proven wrong by another
    // challenge, the result took it along, and its bond came back too.
    g.assert_worker_slashed(2 * BOND + COLLATERAL / 2);
}

fn digits_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/digits")
}

/// The trained digits model (`models/digits/`) and the synthetic one.
fn matrix_models() -> Vec<Model> {
    let read = |f: &str| std::fs::read(digits_dir().join(f)).expect("models/digits is committed");
    let digits =
        Model::load(&read("spec.json"), &read("weights.safetensors")).expect("digits loads");
    vec![digits, synthetic_model()]
}

/// The digits model's shipped example image (`example.json`, pixels 0..=16, quantised as
/// `q = 4 * pixel`), a seeded random input for the others.
fn input_for(m: &Model) -> Vec<i8> {
    if m.spec.name != "digits" {
        return synthetic::input(m.plan.input.len(), 42);
    }
    let text = std::fs::read_to_string(digits_dir().join("example.json")).expect("example.json");
    text.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|v| {
            let pixel: f32 = v.trim().parse().expect("a pixel value");
            (pixel * 4.0) as i8
        })
        .collect()
}

#[test]
fn the_market_registers_digits_under_its_published_id() {
    let m = &matrix_models()[0];
    let mut s = Suite::new(&[]);
    let id = s.register(m, 1, 0);
    assert_eq!(
        id,
        "195b123b87a373c33a385dac21d2f274599fcbaa51a7d8aed97a3aaec9978e95"
    );
    assert_eq!(input_for(m).len(), 64);
}

#[test]
fn worker_wrong_at_each_layer_is_slashed_on_every_model() {
    for m in matrix_models() {
        worker_wrong_at_each_layer_is_slashed(&m);
    }
}

#[test]
fn wrong_output_only_is_slashed_at_the_last_layer_on_every_model() {
    for m in matrix_models() {
        wrong_output_only_is_slashed_at_the_last_layer(&m);
    }
}

#[test]
fn withheld_reveal_loses_after_the_timeout_on_every_model() {
    for m in matrix_models() {
        withheld_reveal_loses_after_the_timeout(&m);
    }
}

#[test]
fn false_challenge_costs_its_bond_on_every_model() {
    for m in matrix_models() {
        false_challenge_costs_its_bond(&m);
    }
}

#[test]
fn late_challenger_is_refused_and_the_result_stands_on_every_model() {
    for m in matrix_models() {
        late_challenger_is_refused_and_the_result_stands(&m);
    }
}

#[test]
fn late_worker_claim_is_expired_on_every_model() {
    for m in matrix_models() {
        late_worker_claim_is_expired(&m);
    }
}

#[test]
fn challenge_and_reveal_are_checked_against_commitments_on_every_model() {
    for m in matrix_models() {
        challenge_and_reveal_are_checked_against_commitments(&m);
    }
}
