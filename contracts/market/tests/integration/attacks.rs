//! The market against the attacks an outside review tried (DAO DAO's adversarial tests in
//! spirit): griefing through unavailable inputs, jobs held hostage by disputes, dispute data
//! too large to land, collateral too small to deter a lie, a config change that takes free
//! stake, a squatted model, an unbounded claim, a copied challenge, stale tiers, and TRN sent
//! outside `Send`. Each test fails on the market before version 2.

use cosmwasm_std::Uint128;
use cw_multi_test::Executor;
use tavdun_core::{forward, synthetic, HexHash, Model};
use tavdun_market::ContractError;
use tavdun_market_api::{DisputeOutcome, EndReason, ExecuteMsg, JobInput, JobStatus, ReceiveMsg};
use tavdun_testkit::multitest::*;

const FEE: u128 = 10_000;

fn mlp() -> Model {
    synthetic::mlp("attack-mlp", &[16, 12, 8, 4], 7).expect("model")
}

fn setup(accounts: &[&str]) -> (Suite, Model, String) {
    let mut s = Suite::new(accounts);
    let m = mlp();
    let id = s.register(&m, 1, 100);
    (s, m, id)
}

/// A blob job: its input lives off chain, under a hash.
/// `worker` bonds 20,000 and claims a job of `client`'s with a seeded 16-byte input.
fn claimed_job(
    s: &mut Suite,
    client: &cosmwasm_std::Addr,
    worker: &cosmwasm_std::Addr,
    model_id: &str,
    seed: u64,
) -> (u64, Vec<i8>) {
    s.bond(worker, 20_000);
    let input = synthetic::input(16, seed);
    let job = s.submit(client, model_id, FEE, &input, 100_000).unwrap();
    s.claim(worker, model_id, 1).unwrap();
    (job, input)
}

fn submit_blob(s: &mut Suite, client: &cosmwasm_std::Addr, model_id: &str, fee: u128) -> u64 {
    let deadline = s.now().plus_seconds(100_000);
    let input = synthetic::input(16, 9);
    let res = s
        .send(
            client,
            fee,
            &ReceiveMsg::SubmitJob {
                model_id: model_id.to_string(),
                input: JobInput::blob(&input, "https://nowhere.example/input".into()),
                deadline,
            },
        )
        .unwrap();
    job_ids(&res)[0]
}

#[test]
fn an_unfetchable_input_is_released_without_penalty_and_refunded_after_max_attempts() {
    let (mut s, _m, id) = setup(&["client", "worker"]);
    let (client, worker) = (s.addr("client"), s.addr("worker"));
    s.bond(&worker, 20_000);
    let job = submit_blob(&mut s, &client, &id, FEE);
    let p = params();
    for attempt in 1..=p.max_attempts {
        assert_eq!(s.claim(&worker, &id, 1).unwrap(), vec![job]);
        s.exec(&worker, &ExecuteMsg::ReleaseJobs { job_ids: vec![job] })
            .unwrap();
        let w = s.worker(&worker).worker;
        assert_eq!(w.stake.u128(), 20_000, "a release costs the worker nothing");
        assert_eq!(w.locked.u128(), 0);
        let j = s.job(job);
        assert_eq!(j.failed_attempts, attempt);
        s.assert_invariant();
    }
    // After `max_attempts` releases the job is not queued again: the client gets its fee back
    // less one release fee per release.
    let j = s.job(job);
    assert_eq!(j.status, JobStatus::Refunded);
    assert_eq!(j.end_reason, Some(EndReason::InputUnavailable));
    let paid = u128::from(p.max_attempts) * p.release_fee.u128();
    assert_eq!(s.claimable(&client), FEE - paid);
    assert_eq!(s.stats().totals.treasury.u128(), paid);
    assert!(s.claim(&worker, &id, 1).unwrap().is_empty());
    s.assert_invariant();
}

#[test]
fn only_the_claiming_worker_releases_and_only_blob_inputs() {
    let (mut s, _m, id) = setup(&["client", "worker", "other"]);
    let (client, worker, other) = (s.addr("client"), s.addr("worker"), s.addr("other"));
    s.bond(&worker, 20_000);
    s.bond(&other, 20_000);
    let blob = submit_blob(&mut s, &client, &id, FEE);
    s.claim(&worker, &id, 1).unwrap();
    let err = market_err(
        s.exec(
            &other,
            &ExecuteMsg::ReleaseJobs {
                job_ids: vec![blob],
            },
        )
        .unwrap_err(),
    );
    assert!(matches!(err, ContractError::NotJobWorker { .. }), "{err:?}");
    let inline = s
        .submit(&client, &id, FEE, &synthetic::input(16, 1), 10_000)
        .unwrap();
    s.claim(&other, &id, 1).unwrap();
    let err = market_err(
        s.exec(
            &other,
            &ExecuteMsg::ReleaseJobs {
                job_ids: vec![inline],
            },
        )
        .unwrap_err(),
    );
    assert!(
        matches!(err, ContractError::InputIsInline { .. }),
        "{err:?}"
    );
}

#[test]
fn deadlines_are_capped() {
    let (mut s, _m, id) = setup(&["client"]);
    let client = s.addr("client");
    let too_far = params().max_deadline + 1;
    let err = market_err(
        s.submit(&client, &id, FEE, &synthetic::input(16, 1), too_far)
            .unwrap_err(),
    );
    assert!(
        matches!(err, ContractError::DeadlineTooFar { .. }),
        "{err:?}"
    );
    s.submit(&client, &id, FEE, &synthetic::input(16, 1), too_far - 1)
        .unwrap();
}

#[test]
fn a_job_that_keeps_failing_is_refunded_not_requeued_forever() {
    let (mut s, _m, id) = setup(&["client", "worker", "anyone"]);
    let (client, worker, anyone) = (s.addr("client"), s.addr("worker"), s.addr("anyone"));
    s.bond(&worker, 20_000);
    let job = s
        .submit(&client, &id, FEE, &synthetic::input(16, 2), 100_000)
        .unwrap();
    for _ in 0..params().max_attempts {
        s.claim(&worker, &id, 1).unwrap();
        s.advance(301);
        s.exec(&anyone, &ExecuteMsg::ExpireClaims { job_ids: vec![job] })
            .unwrap();
    }
    let j = s.job(job);
    assert_eq!(j.status, JobStatus::Refunded);
    assert_eq!(j.end_reason, Some(EndReason::TooManyAttempts));
    assert_eq!(s.claimable(&client), FEE);
    s.assert_invariant();
}

/// A liar and a partner: the partner challenges at a layer where the liar is consistent,
/// loses, and challenges again. A failed challenge no longer reopens the window, so the job
/// is final when its first window closes; and every challenge costs the partner half its bond.
#[test]
fn a_colluding_challenger_cannot_hold_a_job_hostage() {
    let (mut s, m, id) = setup(&["client", "liar", "partner", "anyone"]);
    let (client, liar, partner, anyone) = (
        s.addr("client"),
        s.addr("liar"),
        s.addr("partner"),
        s.addr("anyone"),
    );
    let (job, input) = claimed_job(&mut s, &client, &liar, &id, 3);
    // The liar is wrong at layer 1 and consistent from there on.
    let lie = lying_acts(&m, &input, 1);
    s.post(&liar, job, &lie).unwrap();
    let ends = s.job(job).result.unwrap().challenge_ends;
    let mut decoy = lie.clone();
    decoy[1][0] = decoy[1][0].wrapping_add(1);
    for round in 0..2 {
        let seq = s.challenge(&partner, job, &hashes(&decoy)).unwrap();
        s.reveal(&liar, job, seq, &lie).unwrap();
        assert_eq!(s.dispute(job, seq).layer, Some(2));
        s.advance(301);
        s.exec(&anyone, &ExecuteMsg::ClaimTimeout { job_id: job, seq })
            .unwrap();
        assert_eq!(
            s.job(job).result.unwrap().challenge_ends,
            ends,
            "round {round}: the window is not reopened"
        );
    }
    assert!(s.now() >= ends);
    // The window is over: no more challenges, and the job is final.
    let err = market_err(
        s.commit_challenge(&partner, job, &hashes(&decoy))
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::TooLate { .. }), "{err:?}");
    s.exec(&anyone, &ExecuteMsg::Finalize { job_ids: vec![job] })
        .unwrap();
    // The pair lost half of each bond to the treasury.
    let bond = params().challenge_bond.u128();
    assert_eq!(s.balance(&partner), START_BALANCE - 2 * bond);
    assert_eq!(s.stats().totals.treasury.u128(), bond + FEE / 20);
    s.assert_invariant();
}

#[test]
fn an_honest_parallel_dispute_beats_a_decoy_and_the_job_is_served_again() {
    let (mut s, m, id) = setup(&["client", "liar", "partner", "honest", "worker", "anyone"]);
    let (client, liar, partner, honest, anyone) = (
        s.addr("client"),
        s.addr("liar"),
        s.addr("partner"),
        s.addr("honest"),
        s.addr("anyone"),
    );
    let (job, input) = claimed_job(&mut s, &client, &liar, &id, 4);
    let lie = lying_acts(&m, &input, 1);
    let truth = forward(&m, &input).unwrap();
    s.post(&liar, job, &lie).unwrap();
    let mut decoy = lie.clone();
    decoy[1][0] = decoy[1][0].wrapping_add(1);
    let p_seq = s.challenge(&partner, job, &hashes(&decoy)).unwrap();
    let h_seq = s.challenge(&honest, job, &hashes(&truth)).unwrap();
    s.reveal(&liar, job, p_seq, &lie).unwrap();
    s.reveal(&liar, job, h_seq, &lie).unwrap();
    s.exec(
        &anyone,
        &ExecuteMsg::Resolve {
            job_id: job,
            seq: h_seq,
            unit: 0,
            input: tavdun_market_api::job::int8_binary(&input),
            leaf: m.leaf(0, 0),
            proof: m.weights_tree().proof(0),
        },
    )
    .unwrap();
    // The liar is slashed; the honest challenger is rewarded; the decoy is moot (its bond
    // comes back: it was not proven wrong, the result was).
    assert_eq!(s.worker(&liar).worker.jobs_slashed, 1);
    assert_eq!(s.claimable(&honest), 1_000 + 2_500);
    assert_eq!(s.claimable(&partner), 1_000);
    assert_eq!(s.dispute(job, p_seq).outcome, Some(DisputeOutcome::Moot));
    assert_eq!(s.job(job).status, JobStatus::Open, "served again");
    s.assert_invariant();
}

#[test]
fn a_copied_challenge_earns_nothing() {
    let (mut s, m, id) = setup(&["client", "liar", "honest", "copier", "anyone"]);
    let (client, liar, honest, copier, anyone) = (
        s.addr("client"),
        s.addr("liar"),
        s.addr("honest"),
        s.addr("copier"),
        s.addr("anyone"),
    );
    let (job, input) = claimed_job(&mut s, &client, &liar, &id, 5);
    let lie = lying_acts(&m, &input, 1);
    let truth = forward(&m, &input).unwrap();
    s.post(&liar, job, &lie).unwrap();
    // The honest challenger commits; its hashes are hidden until it opens.
    let h_seq = s.commit_challenge(&honest, job, &hashes(&truth)).unwrap();
    s.next_block();
    // The copier sees the opening in the mempool and cannot use it: its own commitment comes
    // later, and opening the honest commitment as itself fails.
    let err = market_err(
        s.open_challenge(&copier, job, h_seq, &hashes(&truth))
            .unwrap_err(),
    );
    assert!(
        matches!(err, ContractError::NotChallenger { .. }),
        "{err:?}"
    );
    s.open_challenge(&honest, job, h_seq, &hashes(&truth))
        .unwrap();
    let c_seq = s.challenge(&copier, job, &hashes(&truth)).unwrap();
    s.reveal(&liar, job, h_seq, &lie).unwrap();
    s.reveal(&liar, job, c_seq, &lie).unwrap();
    // The copier even resolves its own dispute first: the reward still goes to the earliest
    // challenge that made the same claim.
    s.exec(
        &anyone,
        &ExecuteMsg::Resolve {
            job_id: job,
            seq: c_seq,
            unit: 0,
            input: tavdun_market_api::job::int8_binary(&input),
            leaf: m.leaf(0, 0),
            proof: m.weights_tree().proof(0),
        },
    )
    .unwrap();
    assert_eq!(
        s.claimable(&honest),
        1_000 + 2_500,
        "bond back and the reward"
    );
    assert_eq!(s.claimable(&copier), 1_000, "only its bond back");
    s.assert_invariant();
}

#[test]
fn a_challenge_never_opened_loses_its_bond_once_the_window_closes() {
    let (mut s, m, id) = setup(&["client", "worker", "spammer", "anyone"]);
    let (client, worker, spammer, anyone) = (
        s.addr("client"),
        s.addr("worker"),
        s.addr("spammer"),
        s.addr("anyone"),
    );
    let (job, input) = claimed_job(&mut s, &client, &worker, &id, 6);
    s.post(&worker, job, &forward(&m, &input).unwrap()).unwrap();
    let p = params();
    let mut seqs = Vec::new();
    for _ in 0..p.max_disputes {
        seqs.push(
            s.commit_challenge(&spammer, job, &[HexHash([7; 32])])
                .unwrap(),
        );
    }
    let err = market_err(
        s.commit_challenge(&anyone, job, &[HexHash([8; 32])])
            .unwrap_err(),
    );
    assert!(
        matches!(err, ContractError::TooManyChallenges { .. }),
        "{err:?}"
    );
    let err = market_err(
        s.exec(
            &anyone,
            &ExecuteMsg::ClaimTimeout {
                job_id: job,
                seq: seqs[0],
            },
        )
        .unwrap_err(),
    );
    assert!(matches!(err, ContractError::TooEarly { .. }), "{err:?}");
    s.advance(600);
    for seq in seqs {
        s.exec(&anyone, &ExecuteMsg::ClaimTimeout { job_id: job, seq })
            .unwrap();
        assert_eq!(
            s.dispute(job, seq).outcome,
            Some(DisputeOutcome::NeverOpened)
        );
    }
    // Each spent bond: half to the worker, half to the treasury.
    let spent = u128::from(p.max_disputes) * p.challenge_bond.u128();
    assert_eq!(s.claimable(&worker), spent / 2);
    s.exec(&anyone, &ExecuteMsg::Finalize { job_ids: vec![job] })
        .unwrap();
    s.assert_invariant();
}

#[test]
fn models_whose_disputes_would_not_fit_a_transaction_are_refused() {
    // A 64x64 image through an 8-filter convolution: the reveal of its output carries 32,768
    // bytes. Registration needs only the spec and a weights root.
    let spec = br#"{"version":1,"name":"wide-conv","input":{"shape":[1,64,64],"quant":{"scale":"1","zero_point":0}},
        "layers":[{"type":"conv2d","filters":8,"kernel":3,"stride":1,"padding":1,"shift":8,"relu":true},
                  {"type":"maxpool2d","size":8,"stride":8},
                  {"type":"flatten"},{"type":"dense","units":2,"shift":8,"relu":false}]}"#;
    let (spec, plan) = tavdun_core::ModelSpec::from_json(spec).expect("a valid spec");
    let bytes = tavdun_market::models::dispute_bytes(&plan);
    assert!(bytes > 32_768 * 4 / 3, "{bytes}");
    let register = ExecuteMsg::RegisterModel {
        spec,
        weights_root: HexHash([3; 32]),
        weights_uri: "u".into(),
        min_tier: 1,
        min_fee: Uint128::new(1),
    };
    let mut p = params();
    p.max_dispute_bytes = (bytes - 1) as u32;
    let mut tight = Suite::with_params(&[], p);
    let admin = tight.admin.clone();
    let err = market_err(tight.exec(&admin, &register).unwrap_err());
    assert_eq!(
        err,
        ContractError::DisputeTooLarge {
            bytes,
            max: (bytes - 1) as u32
        }
    );
    // At the limit it registers.
    let mut p = params();
    p.max_dispute_bytes = bytes as u32;
    let mut exact = Suite::with_params(&[], p);
    let admin = exact.admin.clone();
    exact.exec(&admin, &register).unwrap();
}

#[test]
fn models_whose_reveal_the_chain_could_not_store_are_refused() {
    // A 7-filter convolution over a 108 x 128 image: its output (96,768 bytes) fits one
    // stored value, base64 and the dispute record included; one more row of the image does
    // not. (cw-multi-test's storage has no size limit; wasmd's VM refuses a larger write, and
    // the honest worker's reveal would fail: the cli e2e reveals this model's output on
    // wasmd.)
    let spec = |rows: u32| {
        format!(
            r#"{{"version":1,"name":"stored-limit","input":{{"shape":[1,{rows},128],"quant":{{"scale":"1","zero_point":0}}}},
            "layers":[{{"type":"conv2d","filters":7,"kernel":3,"stride":1,"padding":1,"shift":9,"relu":true}},
                      {{"type":"maxpool2d","size":4,"stride":4}},{{"type":"maxpool2d","size":4,"stride":4}},
                      {{"type":"flatten"}},{{"type":"dense","units":2,"shift":8,"relu":false}}]}}"#
        )
    };
    let register = |rows: u32| {
        let (spec, plan) = tavdun_core::ModelSpec::from_json(spec(rows).as_bytes()).unwrap();
        let bytes = tavdun_market::models::stored_bytes(&plan);
        let msg = ExecuteMsg::RegisterModel {
            spec,
            weights_root: HexHash([3; 32]),
            weights_uri: "u".into(),
            min_tier: 1,
            min_fee: Uint128::new(1),
        };
        (msg, bytes)
    };
    let mut s = Suite::with_params(&[], params());
    let admin = s.admin.clone();
    let (at_limit, bytes) = register(108);
    assert!(bytes <= tavdun_market::models::MAX_STORED_VALUE, "{bytes}");
    s.exec(&admin, &at_limit).unwrap();
    let (over, bytes) = register(109);
    let err = market_err(s.exec(&admin, &over).unwrap_err());
    assert_eq!(
        err,
        ContractError::StoredValueTooLarge {
            bytes,
            max: tavdun_market::models::MAX_STORED_VALUE
        }
    );
}

#[test]
fn collateral_scales_with_the_fee() {
    let mut p = params();
    p.collateral_bps = 30_000;
    let mut s = Suite::with_params(&["client", "worker"], p.clone());
    let m = mlp();
    let id = s.register(&m, 1, 100);
    let (client, worker) = (s.addr("client"), s.addr("worker"));
    s.bond(&worker, 100_000);
    let small = s
        .submit(&client, &id, 1_000, &synthetic::input(16, 1), 10_000)
        .unwrap();
    let large = s
        .submit(&client, &id, 20_000, &synthetic::input(16, 2), 10_000)
        .unwrap();
    s.claim(&worker, &id, 2).unwrap();
    // 3x the fee, with `min_collateral` as a floor.
    assert_eq!(s.job(large).collateral.u128(), 60_000);
    assert_eq!(s.job(small).collateral.u128(), p.min_collateral.u128());
    assert_eq!(s.worker(&worker).worker.locked.u128(), 65_000);
}

#[test]
fn a_claimed_job_keeps_its_terms_and_config_changes_wait_out_their_delay() {
    let (mut s, m, id) = setup(&["client", "worker", "anyone"]);
    let (client, worker, anyone, admin) = (
        s.addr("client"),
        s.addr("worker"),
        s.addr("anyone"),
        s.admin.clone(),
    );
    let (job, input) = claimed_job(&mut s, &client, &worker, &id, 7);
    s.post(&worker, job, &forward(&m, &input).unwrap()).unwrap();
    let mut greedy = params();
    greedy.protocol_fee_bps = 2_000;
    s.exec(
        &admin,
        &ExecuteMsg::UpdateConfig {
            params: greedy.clone(),
            treasury: None,
        },
    )
    .unwrap();
    // Not in force before its delay.
    let err = market_err(s.exec(&anyone, &ExecuteMsg::ApplyConfig {}).unwrap_err());
    assert!(matches!(err, ContractError::ConfigNotDue { .. }), "{err:?}");
    s.advance(params().config_delay);
    s.exec(&anyone, &ExecuteMsg::ApplyConfig {}).unwrap();
    let config: tavdun_market_api::ConfigResponse =
        s.query(&tavdun_market_api::QueryMsg::Config {});
    assert_eq!(config.config.params.protocol_fee_bps, 2_000);
    // The job claimed before still pays the 5% it was claimed at.
    s.exec(&anyone, &ExecuteMsg::Finalize { job_ids: vec![job] })
        .unwrap();
    assert_eq!(s.claimable(&worker), FEE - FEE / 20);
    s.assert_invariant();
}

#[test]
fn every_config_value_has_a_hard_cap() {
    let mut s = Suite::new(&[]);
    let admin = s.admin.clone();
    type Tweak = fn(&mut tavdun_market_api::Params);
    let tweaks: [(&str, Tweak); 8] = [
        ("challenge_bond", |p| {
            p.challenge_bond = Uint128::new(u128::MAX / 2)
        }),
        ("min_collateral", |p| {
            p.min_collateral = Uint128::new(u128::MAX / 2)
        }),
        ("liveness_penalty", |p| {
            p.liveness_penalty = Uint128::new(u128::MAX / 2)
        }),
        ("release_fee", |p| {
            p.release_fee = Uint128::new(u128::MAX / 2)
        }),
        ("tier_stakes", |p| {
            p.tier_stakes = vec![Uint128::new(10_000), Uint128::new(u128::MAX / 2)]
        }),
        ("collateral_bps", |p| p.collateral_bps = 1_000_000),
        ("max_dispute_bytes", |p| p.max_dispute_bytes = 10 << 20),
        ("config_delay", |p| p.config_delay = 60),
    ];
    for (field, tweak) in tweaks {
        let mut p = params();
        tweak(&mut p);
        let err = market_err(
            s.exec(
                &admin,
                &ExecuteMsg::UpdateConfig {
                    params: p,
                    treasury: None,
                },
            )
            .unwrap_err(),
        );
        assert!(
            matches!(err, ContractError::InvalidConfig { field: f, .. } if f == field),
            "{field}: {err:?}"
        );
    }
}

#[test]
fn the_admin_can_give_a_squatted_model_to_its_owner() {
    let mut s = Suite::new(&["squatter", "owner"]);
    let (squatter, owner, admin) = (s.addr("squatter"), s.addr("owner"), s.admin.clone());
    let m = mlp();
    // The squatter registers the model first (a model id is the hash of public data).
    s.exec(
        &squatter,
        &ExecuteMsg::RegisterModel {
            spec: m.spec.clone(),
            weights_root: HexHash(m.weights_tree().root()),
            weights_uri: "https://squat.example/w".into(),
            min_tier: 1,
            min_fee: Uint128::new(1),
        },
    )
    .unwrap();
    let id = hex::encode(m.id());
    let err = market_err(
        s.exec(
            &owner,
            &ExecuteMsg::TransferModel {
                model_id: id.clone(),
                owner: owner.to_string(),
            },
        )
        .unwrap_err(),
    );
    assert!(matches!(err, ContractError::Unauthorized { .. }), "{err:?}");
    s.exec(
        &admin,
        &ExecuteMsg::TransferModel {
            model_id: id.clone(),
            owner: owner.to_string(),
        },
    )
    .unwrap();
    let update = |active| ExecuteMsg::UpdateModel {
        model_id: id.clone(),
        active: Some(active),
        min_fee: None,
        min_tier: None,
        weights_uri: Some("https://owner.example/w".into()),
    };
    let err = market_err(s.exec(&squatter, &update(false)).unwrap_err());
    assert!(matches!(err, ContractError::Unauthorized { .. }), "{err:?}");
    s.exec(&owner, &update(true)).unwrap();
}

#[test]
fn a_claim_refunds_at_most_a_few_stale_jobs() {
    let (mut s, _m, id) = setup(&["client", "worker"]);
    let (client, worker) = (s.addr("client"), s.addr("worker"));
    s.bond(&worker, 20_000);
    let stale: Vec<u64> = (0..10)
        .map(|i| {
            s.submit(&client, &id, 2_000, &synthetic::input(16, i), 10)
                .unwrap()
        })
        .collect();
    let fresh = s
        .submit(&client, &id, 1_000, &synthetic::input(16, 99), 10_000)
        .unwrap();
    s.advance(20);
    let res = s
        .exec(
            &worker,
            &ExecuteMsg::ClaimJobs {
                model_id: id.clone(),
                max: 1,
            },
        )
        .unwrap();
    assert_eq!(attr(&res, "refunded_stale"), Some("4".into()));
    let refunded = stale
        .iter()
        .filter(|&&j| s.job(j).status == JobStatus::Refunded)
        .count();
    assert_eq!(refunded, 4);
    assert_eq!(
        s.job(fresh).status,
        JobStatus::Open,
        "not reached this time"
    );
    s.assert_invariant();
}

#[test]
fn tiers_are_checked_live_at_each_claim() {
    let (mut s, _m, id) = setup(&["client", "worker", "anyone"]);
    let (client, worker, anyone, admin) = (
        s.addr("client"),
        s.addr("worker"),
        s.addr("anyone"),
        s.admin.clone(),
    );
    s.bond(&worker, 20_000);
    s.submit(&client, &id, FEE, &synthetic::input(16, 1), 100_000)
        .unwrap();
    // Tier 1 now needs more than the worker's stake; its stored tier still says 1.
    let mut p = params();
    p.tier_stakes = vec![Uint128::new(50_000), Uint128::new(100_000)];
    s.exec(
        &admin,
        &ExecuteMsg::UpdateConfig {
            params: p,
            treasury: None,
        },
    )
    .unwrap();
    s.advance(params().config_delay);
    s.exec(&anyone, &ExecuteMsg::ApplyConfig {}).unwrap();
    assert_eq!(s.worker(&worker).worker.tier, 1);
    let err = market_err(s.claim(&worker, &id, 1).unwrap_err());
    assert!(
        matches!(err, ContractError::TierTooLow { tier: 0, .. }),
        "{err:?}"
    );
}

#[test]
fn trn_sent_outside_send_is_swept_to_the_treasury_without_touching_the_books() {
    let mut s = Suite::new(&["donor", "anyone"]);
    let (donor, anyone, admin) = (s.addr("donor"), s.addr("anyone"), s.admin.clone());
    let stray = cw20::Cw20ExecuteMsg::Transfer {
        recipient: s.market.to_string(),
        amount: Uint128::new(777),
    };
    let (token, market) = (s.token.clone(), s.market.clone());
    s.app
        .execute_contract(donor.clone(), token, &stray, &[])
        .unwrap();
    assert_eq!(s.balance(&market), 777, "held, but on no book");
    let err = market_err(
        s.exec(&anyone, &ExecuteMsg::SweepUnaccounted {})
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::Unauthorized { .. }), "{err:?}");
    s.exec(&admin, &ExecuteMsg::SweepUnaccounted {}).unwrap();
    assert_eq!(s.balance(&s.treasury), 777);
    assert_eq!(s.balance(&market), 0);
    s.assert_invariant();
    let err = market_err(
        s.exec(&admin, &ExecuteMsg::SweepUnaccounted {})
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::Empty(_)), "{err:?}");
}
