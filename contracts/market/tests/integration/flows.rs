use cosmwasm_std::Uint128;
use tavdun_core::{forward, synthetic};
use tavdun_market::ContractError;
use tavdun_market_api::{
    DiagnosticResponse, ExecuteMsg, JobFilter, JobRequest, JobsResponse, NotServedReason, QueryMsg,
    QueueCursor, ReceiveMsg,
};
use tavdun_market_api::{EndReason, JobInput, JobStatus};

use tavdun_market_api::job::int8_binary;
use tavdun_testkit::multitest::*;

fn mlp() -> tavdun_core::Model {
    synthetic::mlp("flow-mlp", &[16, 12, 8, 4], 7).expect("model")
}

fn setup() -> (Suite, tavdun_core::Model, String) {
    let mut s = Suite::new(&["client", "client2", "worker", "worker2", "checker"]);
    let m = mlp();
    let id = s.register(&m, 1, 100);
    (s, m, id)
}

#[test]
fn token_is_trn_with_six_decimals() {
    let s = Suite::new(&["client"]);
    let info: cw20::TokenInfoResponse = s
        .app
        .wrap()
        .query_wasm_smart(s.token.clone(), &cw20::Cw20QueryMsg::TokenInfo {})
        .expect("token info");
    assert_eq!(info.name, "Tavdun Token");
    assert_eq!(info.symbol, "TRN");
    assert_eq!(info.decimals, 6);
    assert_eq!(info.total_supply.u128(), START_BALANCE);
}

#[test]
fn happy_path_pays_worker_and_treasury() {
    let (mut s, m, id) = setup();
    let (client, worker) = (s.addr("client"), s.addr("worker"));
    s.bond(&worker, 20_000);
    let input = synthetic::input(16, 1);
    let job = s.submit(&client, &id, 10_000, &input, 3_600).unwrap();
    s.assert_invariant();
    assert_eq!(s.claim(&worker, &id, 5).unwrap(), vec![job]);
    assert_eq!(s.worker(&worker).worker.locked.u128(), 5_000);
    let acts = forward(&m, &input).unwrap();
    s.post(&worker, job, &acts).unwrap();
    assert_eq!(s.job(job).status, JobStatus::Posted);
    let err = market_err(
        s.exec(&client, &ExecuteMsg::Finalize { job_ids: vec![job] })
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::TooEarly { .. }), "{err:?}");
    s.advance(600);
    s.exec(&client, &ExecuteMsg::Finalize { job_ids: vec![job] })
        .unwrap();
    let j = s.job(job);
    assert_eq!(j.status, JobStatus::Finalized);
    assert_eq!(j.end_reason, Some(EndReason::ResultAccepted));
    assert_eq!(s.claimable(&worker), 9_500);
    assert_eq!(s.stats().totals.treasury.u128(), 500);
    assert_eq!(s.worker(&worker).worker.locked.u128(), 0);
    assert_eq!(s.worker(&worker).worker.jobs_done, 1);
    s.assert_invariant();
    let before = s.balance(&worker);
    s.exec(&worker, &ExecuteMsg::Withdraw { amount: None })
        .unwrap();
    assert_eq!(s.balance(&worker), before + 9_500);
    assert_eq!(s.claimable(&worker), 0);
    let admin = s.admin.clone();
    s.exec(&admin, &ExecuteMsg::WithdrawTreasury { amount: None })
        .unwrap();
    assert_eq!(s.balance(&s.treasury.clone()), 500);
    s.assert_invariant();
}

#[test]
fn queue_orders_by_fee_then_age_and_claims_are_bounded_by_collateral() {
    let (mut s, _m, id) = setup();
    let (client, worker) = (s.addr("client"), s.addr("worker"));
    let input = synthetic::input(16, 2);
    let a = s.submit(&client, &id, 1_000, &input, 3_600).unwrap();
    let b = s.submit(&client, &id, 3_000, &input, 3_600).unwrap();
    let c = s.submit(&client, &id, 1_000, &input, 3_600).unwrap();
    let d = s.submit(&client, &id, 2_000, &input, 3_600).unwrap();
    let q: JobsResponse = s.query(&QueryMsg::Queue {
        model_id: id.clone(),
        start_after: None,
        limit: None,
    });
    assert_eq!(
        q.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![b, d, a, c]
    );
    let page: JobsResponse = s.query(&QueryMsg::Queue {
        model_id: id.clone(),
        start_after: Some(QueueCursor {
            fee: Uint128::new(2_000),
            job_id: d,
        }),
        limit: Some(1),
    });
    assert_eq!(page.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a]);
    // 12,000 staked covers two jobs of 5,000 collateral, whatever max says.
    s.bond(&worker, 12_000);
    assert_eq!(s.claim(&worker, &id, 10).unwrap(), vec![b, d]);
    let err = market_err(s.claim(&worker, &id, 1).unwrap_err());
    assert!(
        matches!(err, ContractError::InsufficientFreeStake { .. }),
        "{err:?}"
    );
    let err = market_err(s.claim(&worker, &id, 21).unwrap_err());
    assert!(
        matches!(err, ContractError::BatchTooLarge { .. }),
        "{err:?}"
    );
    let claimed: JobsResponse = s.query(&QueryMsg::Jobs {
        filter: Some(JobFilter::Worker(worker.to_string())),
        start_after: None,
        limit: None,
    });
    assert_eq!(claimed.jobs.len(), 2);
    let open: JobsResponse = s.query(&QueryMsg::Jobs {
        filter: Some(JobFilter::Status(JobStatus::Open)),
        start_after: None,
        limit: None,
    });
    assert_eq!(
        open.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![a, c]
    );
    s.assert_invariant();
}

#[test]
fn batch_submit_needs_matching_fees_and_valid_inputs() {
    let (mut s, _m, id) = setup();
    let client = s.addr("client");
    let deadline = s.now().plus_seconds(100);
    let req = |fee: u128, len: usize| JobRequest {
        model_id: id.clone(),
        input: JobInput::Inline {
            data: int8_binary(&synthetic::input(len, 3)),
        },
        fee: Uint128::new(fee),
        deadline,
    };
    let res = s
        .send(
            &client,
            3_000,
            &ReceiveMsg::SubmitJobs {
                jobs: vec![req(1_000, 16), req(2_000, 16)],
            },
        )
        .unwrap();
    assert_eq!(job_ids(&res), vec![1, 2]);
    let err = market_err(
        s.send(
            &client,
            2_999,
            &ReceiveMsg::SubmitJobs {
                jobs: vec![req(1_000, 16), req(2_000, 16)],
            },
        )
        .unwrap_err(),
    );
    assert!(matches!(err, ContractError::FeeMismatch { .. }), "{err:?}");
    let err = market_err(
        s.send(
            &client,
            1_000,
            &ReceiveMsg::SubmitJobs {
                jobs: vec![req(1_000, 15)],
            },
        )
        .unwrap_err(),
    );
    assert!(matches!(err, ContractError::InputLen { .. }), "{err:?}");
    let err = market_err(
        s.send(
            &client,
            50,
            &ReceiveMsg::SubmitJobs {
                jobs: vec![req(50, 16)],
            },
        )
        .unwrap_err(),
    );
    assert!(matches!(err, ContractError::FeeTooLow { .. }), "{err:?}");
    let err = market_err(
        s.send(&client, 1, &ReceiveMsg::SubmitJobs { jobs: vec![] })
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::Empty(_)), "{err:?}");
    let too_many: Vec<_> = (0..21).map(|_| req(100, 16)).collect();
    let err = market_err(
        s.send(&client, 2_100, &ReceiveMsg::SubmitJobs { jobs: too_many })
            .unwrap_err(),
    );
    assert!(
        matches!(err, ContractError::BatchTooLarge { .. }),
        "{err:?}"
    );
    let err = market_err(
        s.submit(&client, &id, 1_000, &synthetic::input(16, 1), 0)
            .unwrap_err(),
    );
    assert!(
        matches!(err, ContractError::DeadlineInPast { .. }),
        "{err:?}"
    );
    let err = market_err(
        s.submit(&client, "nope", 1_000, &synthetic::input(16, 1), 10)
            .unwrap_err(),
    );
    assert!(
        matches!(err, ContractError::ModelNotFound { .. }),
        "{err:?}"
    );
    assert_eq!(s.stats().totals.job_fees.u128(), 3_000);
    s.assert_invariant();
}

#[test]
fn expired_claim_penalises_worker_and_requeues_or_refunds() {
    let (mut s, m, id) = setup();
    let (client, worker) = (s.addr("client"), s.addr("worker"));
    s.bond(&worker, 20_000);
    let input = synthetic::input(16, 4);
    let early = s.submit(&client, &id, 1_000, &input, 10_000).unwrap();
    let late = s.submit(&client, &id, 900, &input, 400).unwrap();
    assert_eq!(s.claim(&worker, &id, 2).unwrap(), vec![early, late]);
    let err = market_err(
        s.exec(
            &client,
            &ExecuteMsg::ExpireClaims {
                job_ids: vec![early],
            },
        )
        .unwrap_err(),
    );
    assert!(matches!(err, ContractError::TooEarly { .. }), "{err:?}");
    s.advance(301);
    let acts = forward(&m, &input).unwrap();
    let err = market_err(s.post(&worker, early, &acts).unwrap_err());
    assert!(matches!(err, ContractError::TooLate { .. }), "{err:?}");
    s.advance(100);
    let client_before = s.claimable(&client);
    s.exec(
        &client,
        &ExecuteMsg::ExpireClaims {
            job_ids: vec![early, late],
        },
    )
    .unwrap();
    let w = s.worker(&worker).worker;
    assert_eq!(w.stake.u128(), 19_000, "two liveness penalties of 500");
    assert_eq!(w.locked.u128(), 0);
    assert_eq!(w.jobs_expired, 2);
    let e = s.job(early);
    assert_eq!(
        (e.status, e.failed_attempts, e.worker),
        (JobStatus::Open, 1, None)
    );
    let l = s.job(late);
    assert_eq!(l.status, JobStatus::Refunded);
    assert_eq!(l.end_reason, Some(EndReason::ClaimExpiredAfterDeadline));
    assert_eq!(s.claimable(&client), client_before + 900);
    assert_eq!(s.stats().totals.treasury.u128(), 1_000);
    // The requeued job is served again.
    assert_eq!(s.claim(&worker, &id, 1).unwrap(), vec![early]);
    s.assert_invariant();
}

#[test]
fn cancel_and_refund_of_unclaimed_jobs() {
    let (mut s, _m, id) = setup();
    let (client, other, worker) = (s.addr("client"), s.addr("client2"), s.addr("worker"));
    let input = synthetic::input(16, 5);
    let a = s.submit(&client, &id, 1_000, &input, 100).unwrap();
    let b = s.submit(&client, &id, 2_000, &input, 100).unwrap();
    let err = market_err(
        s.exec(&other, &ExecuteMsg::CancelJobs { job_ids: vec![a] })
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::NotJobClient { .. }), "{err:?}");
    s.exec(&client, &ExecuteMsg::CancelJobs { job_ids: vec![a] })
        .unwrap();
    assert_eq!(s.job(a).status, JobStatus::Cancelled);
    assert_eq!(s.job(a).end_reason, Some(EndReason::CancelledByClient));
    let err = market_err(
        s.exec(&other, &ExecuteMsg::RefundExpired { job_ids: vec![b] })
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::TooEarly { .. }), "{err:?}");
    s.advance(100);
    let diag: DiagnosticResponse = s.query(&QueryMsg::JobDiagnostic { job_id: b });
    assert!(diag.reasons.contains(&NotServedReason::DeadlinePassed));
    assert!(!diag.claimable_now);
    s.exec(&other, &ExecuteMsg::RefundExpired { job_ids: vec![b] })
        .unwrap();
    assert_eq!(s.job(b).end_reason, Some(EndReason::DeadlineUnclaimed));
    assert_eq!(s.claimable(&client), 3_000);
    // Nothing left for a worker to take.
    s.bond(&worker, 20_000);
    assert!(s.claim(&worker, &id, 1).unwrap().is_empty());
    let before = s.balance(&client);
    s.exec(
        &client,
        &ExecuteMsg::Withdraw {
            amount: Some(Uint128::new(1_000)),
        },
    )
    .unwrap();
    assert_eq!(s.balance(&client), before + 1_000);
    let err = market_err(
        s.exec(
            &client,
            &ExecuteMsg::Withdraw {
                amount: Some(Uint128::new(2_001)),
            },
        )
        .unwrap_err(),
    );
    assert!(
        matches!(err, ContractError::InsufficientClaimable { .. }),
        "{err:?}"
    );
    s.assert_invariant();
}

#[test]
fn stale_jobs_met_while_claiming_are_refunded() {
    let (mut s, _m, id) = setup();
    let (client, worker) = (s.addr("client"), s.addr("worker"));
    s.bond(&worker, 20_000);
    let input = synthetic::input(16, 6);
    let stale = s.submit(&client, &id, 5_000, &input, 10).unwrap();
    let fresh = s.submit(&client, &id, 1_000, &input, 1_000).unwrap();
    s.advance(20);
    assert_eq!(s.claim(&worker, &id, 1).unwrap(), vec![fresh]);
    assert_eq!(s.job(stale).status, JobStatus::Refunded);
    assert_eq!(s.claimable(&client), 5_000);
    s.assert_invariant();
}

#[test]
fn unbonding_waits_for_its_period_and_frees_only_free_stake() {
    let (mut s, _m, id) = setup();
    let (client, worker) = (s.addr("client"), s.addr("worker"));
    s.bond(&worker, 110_000);
    assert_eq!(s.worker(&worker).worker.tier, 2);
    s.submit(&client, &id, 1_000, &synthetic::input(16, 8), 1_000)
        .unwrap();
    s.claim(&worker, &id, 1).unwrap();
    let err = market_err(
        s.exec(
            &worker,
            &ExecuteMsg::Unbond {
                amount: Uint128::new(106_000),
            },
        )
        .unwrap_err(),
    );
    assert!(
        matches!(err, ContractError::InsufficientFreeStake { .. }),
        "{err:?}"
    );
    s.exec(
        &worker,
        &ExecuteMsg::Unbond {
            amount: Uint128::new(100_000),
        },
    )
    .unwrap();
    let w = s.worker(&worker);
    assert_eq!((w.worker.stake.u128(), w.worker.tier), (10_000, 1));
    assert_eq!(s.stats().totals.unbonding.u128(), 100_000);
    let err = market_err(
        s.exec(&worker, &ExecuteMsg::Withdraw { amount: None })
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::Empty(_)), "{err:?}");
    s.advance(3_600);
    let before = s.balance(&worker);
    s.exec(&worker, &ExecuteMsg::Withdraw { amount: None })
        .unwrap();
    assert_eq!(s.balance(&worker), before + 100_000);
    assert!(s.worker(&worker).worker.unbonding.is_empty());
    s.assert_invariant();
}

#[test]
fn diagnostic_explains_unserved_jobs() {
    let (mut s, _m, id) = setup();
    let (client, worker) = (s.addr("client"), s.addr("worker"));
    let input = synthetic::input(16, 9);
    let first = s.submit(&client, &id, 2_000, &input, 1_000).unwrap();
    let job = s.submit(&client, &id, 1_000, &input, 1_000).unwrap();
    let admin = s.admin.clone();
    s.exec(
        &admin,
        &ExecuteMsg::UpdateModel {
            model_id: id.clone(),
            active: Some(false),
            min_fee: Some(Uint128::new(1_500)),
            min_tier: Some(2),
            weights_uri: None,
        },
    )
    .unwrap();
    let d: DiagnosticResponse = s.query(&QueryMsg::JobDiagnostic { job_id: job });
    assert_eq!(
        d.reasons,
        vec![
            NotServedReason::ModelInactive,
            NotServedReason::FeeBelowMinimum {
                fee: Uint128::new(1_000),
                min_fee: Uint128::new(1_500)
            },
            NotServedReason::NoWorkerOfTier { min_tier: 2 },
            NotServedReason::QueuedBehindOthers { ahead: 1 },
        ]
    );
    assert!(!d.claimable_now);
    let err = market_err(s.submit(&client, &id, 2_000, &input, 1_000).unwrap_err());
    assert!(
        matches!(err, ContractError::ModelInactive { .. }),
        "{err:?}"
    );
    s.bond(&worker, 100_000);
    let err = market_err(s.claim(&worker, &id, 1).unwrap_err());
    assert!(
        matches!(err, ContractError::ModelInactive { .. }),
        "{err:?}"
    );
    s.exec(
        &admin,
        &ExecuteMsg::UpdateModel {
            model_id: id.clone(),
            active: Some(true),
            min_fee: Some(Uint128::new(100)),
            min_tier: None,
            weights_uri: None,
        },
    )
    .unwrap();
    let d: DiagnosticResponse = s.query(&QueryMsg::JobDiagnostic { job_id: first });
    assert!(d.claimable_now, "{d:?}");
    assert!(d.reasons.is_empty());
}

#[test]
fn pause_stops_new_jobs_but_not_withdrawals() {
    let (mut s, _m, id) = setup();
    let client = s.addr("client");
    let input = synthetic::input(16, 10);
    let job = s.submit(&client, &id, 1_000, &input, 1_000).unwrap();
    let admin = s.admin.clone();
    s.exec(&admin, &ExecuteMsg::Pause {}).unwrap();
    assert!(s.stats().paused);
    let err = market_err(s.submit(&client, &id, 1_000, &input, 1_000).unwrap_err());
    assert_eq!(err, ContractError::Paused);
    s.exec(&client, &ExecuteMsg::CancelJobs { job_ids: vec![job] })
        .unwrap();
    s.exec(&client, &ExecuteMsg::Withdraw { amount: None })
        .unwrap();
    assert_eq!(s.balance(&client), START_BALANCE);
    s.exec(&admin, &ExecuteMsg::Unpause {}).unwrap();
    s.submit(&client, &id, 1_000, &input, 1_000).unwrap();
    s.assert_invariant();
}

#[test]
fn results_are_checked_against_the_model() {
    let (mut s, m, id) = setup();
    let (client, worker) = (s.addr("client"), s.addr("worker"));
    s.bond(&worker, 20_000);
    let input = synthetic::input(16, 11);
    let job = s.submit(&client, &id, 1_000, &input, 1_000).unwrap();
    s.claim(&worker, &id, 1).unwrap();
    let acts = forward(&m, &input).unwrap();
    let mut msg = result_msg(job, &acts);
    msg.output = int8_binary(&[0, 0, 0]);
    let err = market_err(
        s.exec(&worker, &ExecuteMsg::PostResults { results: vec![msg] })
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::OutputLen { .. }), "{err:?}");
    let err = market_err(
        s.exec(&worker, &ExecuteMsg::PostResults { results: vec![] })
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::Empty(_)), "{err:?}");
    s.post(&worker, job, &acts).unwrap();
    // The contract hashes the posted output itself: the commitment binds it with the prefix.
    let list = tavdun_core::activation_hashes(&acts);
    assert_eq!(
        s.job(job).result.unwrap().commitment.0,
        tavdun_core::hashes_commitment(&list).unwrap()
    );
    let err = market_err(s.post(&worker, job, &acts).unwrap_err());
    assert!(
        matches!(err, ContractError::WrongJobStatus { .. }),
        "{err:?}"
    );
}

#[test]
fn model_registration_validates_on_chain() {
    let (mut s, m, id) = setup();
    let admin = s.admin.clone();
    let root = tavdun_core::HexHash(m.weights_tree().root());
    let register = |spec: tavdun_core::ModelSpec, tier: u8| ExecuteMsg::RegisterModel {
        spec,
        weights_root: root,
        weights_uri: "u".into(),
        min_tier: tier,
        min_fee: Uint128::zero(),
    };
    let err = market_err(s.exec(&admin, &register(m.spec.clone(), 1)).unwrap_err());
    assert_eq!(
        err,
        ContractError::ModelExists {
            model_id: id.clone()
        }
    );
    let mut bad = m.spec.clone();
    bad.layers.clear();
    let err = market_err(s.exec(&admin, &register(bad, 1)).unwrap_err());
    assert!(matches!(err, ContractError::InvalidSpec(_)), "{err:?}");
    let mut other = m.spec.clone();
    other.name = "other".into();
    let err = market_err(s.exec(&admin, &register(other.clone(), 9)).unwrap_err());
    assert!(matches!(err, ContractError::InvalidTier { .. }), "{err:?}");
    s.exec(&admin, &register(other.clone(), 1)).unwrap();
    let info: tavdun_market_api::ModelResponse = s.query(&QueryMsg::Model {
        model_id: hex::encode(tavdun_core::model_id(&other, &root.0)),
    });
    let info = info.model.expect("the model is registered");
    assert_eq!((info.layers, info.input_len, info.output_len), (3, 16, 4));
    let list: tavdun_market_api::ModelsResponse = s.query(&QueryMsg::Models {
        start_after: None,
        limit: Some(1),
    });
    assert_eq!(list.models.len(), 1);
    assert_eq!(s.stats().models, 2);
}

#[test]
fn blob_inputs_commit_to_h0_and_a_layer_one_challenge_checks_it() {
    let (mut s, m, id) = setup();
    let (client, worker, checker) = (s.addr("client"), s.addr("worker"), s.addr("checker"));
    s.bond(&worker, 20_000);
    let input = synthetic::input(16, 12);
    let deadline = s.now().plus_seconds(1_000);
    let res = s
        .send(
            &client,
            1_000,
            &ReceiveMsg::SubmitJob {
                model_id: id.clone(),
                input: JobInput::Blob {
                    hash: tavdun_core::HexHash(tavdun_core::activation_hash(0, &input)),
                    uri: "https://blobs.example/input".into(),
                },
                deadline,
            },
        )
        .unwrap();
    let job = job_ids(&res)[0];
    s.claim(&worker, &id, 1).unwrap();
    let lie = lying_acts(&m, &input, 1);
    s.post(&worker, job, &lie).unwrap();
    let honest = forward(&m, &input).unwrap();
    let seq = s.challenge(&checker, job, &hashes(&honest)).unwrap();
    s.reveal(&worker, job, seq, &lie).unwrap();
    let d = s.dispute(job, seq);
    assert_eq!(d.layer, Some(1));
    assert_eq!(
        d.agreed_hash,
        Some(tavdun_core::HexHash(tavdun_core::activation_hash(
            0, &input
        ))),
        "layer 1 resolves from the blob's committed hash"
    );
    let resolve = |data: &[i8]| ExecuteMsg::Resolve {
        job_id: job,
        seq,
        unit: 0,
        input: int8_binary(data),
        leaf: m.leaf(0, 0),
        proof: m.weights_tree().proof(0),
    };
    let other = synthetic::input(16, 13);
    let err = market_err(s.exec(&checker, &resolve(&other)).unwrap_err());
    assert_eq!(err, ContractError::ActivationMismatch { index: 0 });
    s.exec(&checker, &resolve(&input)).unwrap();
    assert_eq!(s.job(job).status, JobStatus::Open);
    s.assert_invariant();
}

#[test]
fn job_and_worker_lists_paginate() {
    let (mut s, _m, id) = setup();
    let (client, client2) = (s.addr("client"), s.addr("client2"));
    let input = synthetic::input(16, 14);
    let mine: Vec<u64> = (0..5)
        .map(|_| s.submit(&client, &id, 1_000, &input, 1_000).unwrap())
        .collect();
    s.submit(&client2, &id, 1_000, &input, 1_000).unwrap();
    let page = |s: &Suite, start_after: Option<u64>| -> Vec<u64> {
        let r: JobsResponse = s.query(&QueryMsg::Jobs {
            filter: Some(JobFilter::Client(client.to_string())),
            start_after,
            limit: Some(2),
        });
        r.jobs.into_iter().map(|j| j.id).collect()
    };
    assert_eq!(page(&s, None), mine[..2]);
    assert_eq!(page(&s, Some(mine[1])), mine[2..4]);
    assert_eq!(page(&s, Some(mine[3])), mine[4..]);
    let by_model: JobsResponse = s.query(&QueryMsg::Jobs {
        filter: Some(JobFilter::Model(id.clone())),
        start_after: None,
        limit: Some(100),
    });
    assert_eq!(by_model.jobs.len(), 6);
    for name in ["worker", "worker2"] {
        let w = s.addr(name);
        s.bond(&w, 10_000);
    }
    let all: tavdun_market_api::WorkersResponse = s.query(&QueryMsg::Workers {
        start_after: None,
        limit: Some(1),
    });
    assert_eq!(all.workers.len(), 1);
    let rest: tavdun_market_api::WorkersResponse = s.query(&QueryMsg::Workers {
        start_after: Some(all.workers[0].address.clone()),
        limit: None,
    });
    assert_eq!(rest.workers.len(), 1);
    assert_ne!(rest.workers[0].address, all.workers[0].address);
    assert_eq!(s.stats().workers_per_tier[0], 2);
}

#[test]
fn unbonding_entries_are_capped_and_hardware_caps_the_tier() {
    let (mut s, _m, _id) = setup();
    let worker = s.addr("worker");
    s.bond(&worker, 200_000);
    assert_eq!(s.worker(&worker).worker.tier, 2);
    s.exec(
        &worker,
        &ExecuteMsg::DeclareHardware {
            hardware: hardware(1),
        },
    )
    .unwrap();
    assert_eq!(s.worker(&worker).worker.tier, 1);
    assert_eq!(s.stats().workers_per_tier[..2], [1, 0]);
    for _ in 0..8 {
        s.exec(
            &worker,
            &ExecuteMsg::Unbond {
                amount: Uint128::new(10),
            },
        )
        .unwrap();
    }
    let err = market_err(
        s.exec(
            &worker,
            &ExecuteMsg::Unbond {
                amount: Uint128::new(10),
            },
        )
        .unwrap_err(),
    );
    assert_eq!(err, ContractError::TooManyUnbondings { max: 8 });
    let err = market_err(
        s.exec(
            &worker,
            &ExecuteMsg::Unbond {
                amount: Uint128::zero(),
            },
        )
        .unwrap_err(),
    );
    assert!(matches!(err, ContractError::Empty(_)), "{err:?}");
    s.advance(3_600);
    s.exec(&worker, &ExecuteMsg::Withdraw { amount: None })
        .unwrap();
    s.exec(
        &worker,
        &ExecuteMsg::Unbond {
            amount: Uint128::new(10),
        },
    )
    .unwrap();
    assert_eq!(s.worker(&worker).worker.unbonding.len(), 1);
    s.assert_invariant();
}
