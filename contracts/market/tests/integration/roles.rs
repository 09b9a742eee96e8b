//! Each execute variant called by a role that may not call it.

use cosmwasm_std::{to_json_binary, Uint128};
use cw20::Cw20ReceiveMsg;
use cw_multi_test::Executor;
use tavdun_core::{forward, synthetic};
use tavdun_market::ContractError;
use tavdun_market_api::{ExecuteMsg, MigrateMsg, ReceiveMsg};

use tavdun_market_api::job::int8_binary;
use tavdun_testkit::multitest::*;

const UNAUTHORIZED_ADMIN: ContractError = ContractError::Unauthorized { role: "the admin" };

#[test]
fn admin_messages_refuse_everyone_else() {
    let mut s = Suite::new(&["mallory"]);
    let mallory = s.addr("mallory");
    let admin_only = [
        ExecuteMsg::Pause {},
        ExecuteMsg::Unpause {},
        ExecuteMsg::UpdateConfig {
            params: params(),
            treasury: None,
        },
        ExecuteMsg::ProposeAdmin {
            admin: mallory.to_string(),
        },
        ExecuteMsg::WithdrawTreasury { amount: None },
    ];
    for msg in &admin_only {
        let err = market_err(s.exec(&mallory, msg).unwrap_err());
        assert_eq!(err, UNAUTHORIZED_ADMIN, "{msg:?}");
    }
    let err = market_err(s.exec(&mallory, &ExecuteMsg::AcceptAdmin {}).unwrap_err());
    assert_eq!(err, ContractError::NoPendingAdmin);
}

#[test]
fn admin_transfer_takes_two_steps() {
    let mut s = Suite::new(&["next", "mallory"]);
    let (admin, next, mallory) = (s.admin.clone(), s.addr("next"), s.addr("mallory"));
    s.exec(
        &admin,
        &ExecuteMsg::ProposeAdmin {
            admin: next.to_string(),
        },
    )
    .unwrap();
    let err = market_err(s.exec(&mallory, &ExecuteMsg::AcceptAdmin {}).unwrap_err());
    assert!(matches!(err, ContractError::Unauthorized { .. }), "{err:?}");
    // Still the old admin until the new one accepts.
    s.exec(&admin, &ExecuteMsg::Pause {}).unwrap();
    s.exec(&next, &ExecuteMsg::AcceptAdmin {}).unwrap();
    let err = market_err(s.exec(&admin, &ExecuteMsg::Unpause {}).unwrap_err());
    assert_eq!(err, UNAUTHORIZED_ADMIN);
    s.exec(&next, &ExecuteMsg::Unpause {}).unwrap();
    let cfg: tavdun_market_api::ConfigResponse = s.query(&tavdun_market_api::QueryMsg::Config {});
    assert_eq!(cfg.config.admin, next);
    assert_eq!(cfg.pending_admin, None);
}

#[test]
fn config_updates_are_bounded() {
    let mut s = Suite::new(&[]);
    let admin = s.admin.clone();
    type Mutation = Box<dyn Fn(&mut tavdun_market_api::Params)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("protocol_fee_bps", Box::new(|p| p.protocol_fee_bps = 2_001)),
        (
            "challenger_reward_bps",
            Box::new(|p| p.challenger_reward_bps = 10_001),
        ),
        ("challenge_window", Box::new(|p| p.challenge_window = 59)),
        (
            "claim_timeout",
            Box::new(|p| p.claim_timeout = 31 * 24 * 3600),
        ),
        (
            "challenge_bond",
            Box::new(|p| p.challenge_bond = Uint128::zero()),
        ),
        (
            "min_collateral",
            Box::new(|p| p.min_collateral = Uint128::zero()),
        ),
        (
            "liveness_penalty",
            Box::new(|p| p.liveness_penalty = Uint128::new(5_001)),
        ),
        (
            "tier_stakes",
            Box::new(|p| p.tier_stakes = vec![Uint128::new(20_000), Uint128::new(20_000)]),
        ),
        ("tier_stakes", Box::new(|p| p.tier_stakes = vec![])),
        ("max_input_bytes", Box::new(|p| p.max_input_bytes = 0)),
        ("max_layers", Box::new(|p| p.max_layers = 33)),
        ("max_batch", Box::new(|p| p.max_batch = 101)),
    ];
    for (field, f) in cases {
        let mut p = params();
        f(&mut p);
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
    let mut p = params();
    p.protocol_fee_bps = 1_000;
    s.exec(
        &admin,
        &ExecuteMsg::UpdateConfig {
            params: p,
            treasury: None,
        },
    )
    .unwrap();
    let cfg: tavdun_market_api::ConfigResponse = s.query(&tavdun_market_api::QueryMsg::Config {});
    assert_eq!(
        cfg.config.params.protocol_fee_bps, 500,
        "not before its delay"
    );
    assert_eq!(
        cfg.config.pending.map(|p| p.params.protocol_fee_bps),
        Some(1_000)
    );
    s.advance(params().config_delay);
    s.exec(&admin, &ExecuteMsg::ApplyConfig {}).unwrap();
    let cfg: tavdun_market_api::ConfigResponse = s.query(&tavdun_market_api::QueryMsg::Config {});
    assert_eq!(cfg.config.params.protocol_fee_bps, 1_000);
}

#[test]
fn receive_accepts_only_the_configured_token() {
    let mut s = Suite::new(&["mallory"]);
    let mallory = s.addr("mallory");
    let fake = ExecuteMsg::Receive(Cw20ReceiveMsg {
        sender: mallory.to_string(),
        amount: Uint128::new(1_000_000),
        msg: to_json_binary(&ReceiveMsg::Bond {
            hardware: Some(hardware(8)),
        })
        .unwrap(),
    });
    let err = market_err(s.exec(&mallory, &fake).unwrap_err());
    assert!(matches!(err, ContractError::WrongToken { .. }), "{err:?}");
    assert_eq!(s.stats().totals.stakes.u128(), 0);
}

#[test]
fn worker_and_client_messages_refuse_other_roles() {
    let mut s = Suite::new(&["client", "worker", "other_worker", "stranger"]);
    let m = synthetic::mlp("roles", &[8, 6, 4], 3).unwrap();
    let id = s.register(&m, 1, 0);
    let (client, worker, other, stranger) = (
        s.addr("client"),
        s.addr("worker"),
        s.addr("other_worker"),
        s.addr("stranger"),
    );
    s.bond(&worker, 20_000);
    s.bond(&other, 20_000);
    let input = synthetic::input(8, 1);
    let job = s.submit(&client, &id, 1_000, &input, 10_000).unwrap();

    // Not a worker.
    let err = market_err(s.claim(&stranger, &id, 1).unwrap_err());
    assert!(matches!(err, ContractError::NotAWorker { .. }), "{err:?}");
    let err = market_err(
        s.exec(
            &stranger,
            &ExecuteMsg::Unbond {
                amount: Uint128::one(),
            },
        )
        .unwrap_err(),
    );
    assert!(matches!(err, ContractError::NotAWorker { .. }), "{err:?}");
    let err = market_err(
        s.exec(
            &stranger,
            &ExecuteMsg::DeclareHardware {
                hardware: hardware(1),
            },
        )
        .unwrap_err(),
    );
    assert!(matches!(err, ContractError::NotAWorker { .. }), "{err:?}");
    let err = market_err(
        s.send(&stranger, 10_000, &ReceiveMsg::Bond { hardware: None })
            .unwrap_err(),
    );
    assert_eq!(err, ContractError::HardwareRequired);
    // A worker whose hardware caps it below the model's tier.
    s.exec(
        &other,
        &ExecuteMsg::DeclareHardware {
            hardware: hardware(0),
        },
    )
    .unwrap();
    let err = market_err(s.claim(&other, &id, 1).unwrap_err());
    assert!(matches!(err, ContractError::TierTooLow { .. }), "{err:?}");

    // Not the job's client.
    let err = market_err(
        s.exec(&worker, &ExecuteMsg::CancelJobs { job_ids: vec![job] })
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::NotJobClient { .. }), "{err:?}");

    // Not the job's worker.
    s.claim(&worker, &id, 1).unwrap();
    let acts = forward(&m, &input).unwrap();
    let err = market_err(s.post(&other, job, &acts).unwrap_err());
    assert!(matches!(err, ContractError::NotJobWorker { .. }), "{err:?}");
    let err = market_err(s.post(&client, job, &acts).unwrap_err());
    assert!(matches!(err, ContractError::NotJobWorker { .. }), "{err:?}");
    s.post(&worker, job, &acts).unwrap();
    let fake = lying_acts(&m, &input, 1);
    let seq = s.challenge(&client, job, &hashes(&fake)).unwrap();
    for who in [&client, &other, &stranger] {
        let err = market_err(
            s.exec(
                who,
                &ExecuteMsg::Reveal {
                    job_id: job,
                    seq,
                    hashes: hashes(&acts),
                    activation: int8_binary(&acts[0]),
                },
            )
            .unwrap_err(),
        );
        assert!(matches!(err, ContractError::NotJobWorker { .. }), "{err:?}");
    }

    // Model updates: owner (the admin registered it) or admin only.
    let err = market_err(
        s.exec(
            &stranger,
            &ExecuteMsg::UpdateModel {
                model_id: id.clone(),
                active: Some(false),
                min_fee: None,
                min_tier: None,
                weights_uri: None,
            },
        )
        .unwrap_err(),
    );
    assert!(matches!(err, ContractError::Unauthorized { .. }), "{err:?}");

    // Nothing to withdraw.
    let err = market_err(
        s.exec(&stranger, &ExecuteMsg::Withdraw { amount: None })
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::Empty(_)), "{err:?}");
    s.assert_invariant();
}

#[test]
fn migrate_keeps_state_and_refuses_foreign_contracts() {
    let mut s = Suite::new(&["client"]);
    let admin = s.admin.clone();
    let code = s.app.store_code(market_contract());
    s.app
        .migrate_contract(admin.clone(), s.market.clone(), &MigrateMsg {}, code)
        .unwrap();
    assert_eq!(s.stats().jobs, 0);
    // A market of the JSON record layout (storage version 2) cannot be read by this code.
    s.app
        .contract_storage_mut(&s.market)
        .set(b"storage_version", b"2");
    let err = market_err(
        s.app
            .migrate_contract(admin.clone(), s.market.clone(), &MigrateMsg {}, code)
            .unwrap_err(),
    );
    assert!(
        matches!(err, ContractError::Migration { reason, .. } if reason.contains("earlier layout")),
        "{err:?}"
    );
    s.app
        .contract_storage_mut(&s.market)
        .set(b"storage_version", b"3");
    let token_code = s.app.store_code(token_contract());
    let err = s
        .app
        .migrate_contract(
            admin.clone(),
            s.market.clone(),
            &tavdun_market_api::token::MigrateMsg {},
            token_code,
        )
        .unwrap_err();
    assert!(format!("{err:?}").contains("tavdun-market"), "{err:?}");
    let err = market_err(
        s.app
            .migrate_contract(admin, s.token.clone(), &MigrateMsg {}, code)
            .unwrap_err(),
    );
    assert!(matches!(err, ContractError::Migration { .. }), "{err:?}");
}
