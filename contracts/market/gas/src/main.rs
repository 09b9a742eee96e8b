//! Prints the CosmWasm gas of each market message, measured in cosmwasm-vm 3.0.10 (the VM of
//! wasmd v0.61.14's wasmvm 3.0.7) on `artifacts/tavdun_market.wasm`, for a digits-sized dense
//! model (784 -> 128 -> 64 -> 10). Storage is the VM's mock, so the SDK's per-byte KV gas is
//! not included: these are the execution costs.

use cosmwasm_std::testing::{message_info, mock_env, MockApi};
use cosmwasm_std::{Addr, Empty, Env, Timestamp};
use cosmwasm_vm::testing::{
    execute, instantiate, mock_instance_with_options, MockInstanceOptions, MockQuerier, MockStorage,
};
use cosmwasm_vm::Instance;
use tavdun_core::{activation_hashes, forward, synthetic, HexHash};
use tavdun_market_api::{
    ExecuteMsg, HardwareDeclaration, InstantiateMsg, JobInput, JobRequest, JobResultMsg, Params,
    ReceiveMsg,
};

type Vm = Instance<cosmwasm_vm::testing::MockApi, MockStorage, MockQuerier>;

/// wasmd charges one SDK gas unit per 140,000 CosmWasm gas (`DefaultGasMultiplier`).
const GAS_MULTIPLIER: u64 = 140_000;

struct Bench {
    vm: Vm,
    env: Env,
    token: Addr,
    rows: Vec<(String, u64)>,
}

impl Bench {
    fn run<M: serde::Serialize>(&mut self, label: &str, sender: &Addr, msg: &M) {
        let before = self.vm.get_gas_left();
        let info = message_info(sender, &[]);
        let res = execute::<_, _, _, _, Empty>(&mut self.vm, self.env.clone(), info, msg);
        if let cosmwasm_std::ContractResult::Err(e) = res {
            panic!("{label}: {e}");
        }
        self.rows
            .push((label.to_string(), before - self.vm.get_gas_left()));
    }

    /// A CW20 `Send` arriving from the token: the market only sees the `Receive` call.
    fn receive(&mut self, label: &str, from: &Addr, amount: u128, msg: &ReceiveMsg) {
        let wrapper = ExecuteMsg::Receive(cw20_receive(from, amount, msg));
        let token = self.token.clone();
        self.run(label, &token, &wrapper);
    }
}

fn cw20_receive(from: &Addr, amount: u128, msg: &ReceiveMsg) -> cw20::Cw20ReceiveMsg {
    cw20::Cw20ReceiveMsg {
        sender: from.to_string(),
        amount: amount.into(),
        msg: serde_json::to_vec(msg).expect("json").into(),
    }
}

fn bytes(v: &[i8]) -> Vec<u8> {
    v.iter().map(|&b| b as u8).collect()
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "artifacts/tavdun_market.wasm".to_string());
    let wasm =
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}; run scripts/build-wasm"));
    let api = MockApi::default();
    let (admin, token, worker, client, checker) = (
        api.addr_make("admin"),
        api.addr_make("token"),
        api.addr_make("worker"),
        api.addr_make("client"),
        api.addr_make("checker"),
    );
    let mut vm = mock_instance_with_options(
        &wasm,
        MockInstanceOptions {
            gas_limit: 1_000_000_000_000_000,
            ..MockInstanceOptions::default()
        },
    );
    let mut env = mock_env();
    env.block.time = Timestamp::from_seconds(1_000_000);
    let params = Params {
        protocol_fee_bps: 500,
        challenge_window: 600,
        claim_timeout: 300,
        reveal_timeout: 300,
        resolve_timeout: 300,
        challenge_bond: 1_000u128.into(),
        collateral_per_job: 5_000u128.into(),
        liveness_penalty: 500u128.into(),
        challenger_reward_bps: 5_000,
        unbonding_period: 3_600,
        tier_stakes: vec![10_000u128.into()],
        max_input_bytes: 4_096,
        max_layers: 32,
        max_batch: 20,
    };
    let init = InstantiateMsg {
        token: token.to_string(),
        admin: None,
        treasury: admin.to_string(),
        params,
    };
    let before = vm.get_gas_left();
    let res =
        instantiate::<_, _, _, _, Empty>(&mut vm, env.clone(), message_info(&admin, &[]), &init);
    assert!(res.is_ok(), "instantiate: {res:?}");
    let instantiate_gas = before - vm.get_gas_left();
    let mut b = Bench {
        vm,
        env,
        token: token.clone(),
        rows: vec![("Instantiate".into(), instantiate_gas)],
    };

    let model = synthetic::mlp("gas-dense", &[784, 128, 64, 10], 1).expect("model");
    let tree = model.weights_tree();
    b.run(
        "RegisterModel (784-128-64-10, validated on chain)",
        &admin,
        &ExecuteMsg::RegisterModel {
            spec: model.spec.clone(),
            weights_root: HexHash(tree.root()),
            weights_uri: "https://weights.example/m".into(),
            min_tier: 1,
            min_fee: 0u128.into(),
        },
    );
    let model_id = hex::encode(model.id());
    b.receive(
        "Receive Bond",
        &worker,
        200_000,
        &ReceiveMsg::Bond {
            hardware: Some(HardwareDeclaration {
                description: "1x GPU".into(),
                max_tier: 1,
            }),
        },
    );
    let input = synthetic::input(784, 1);
    let deadline = cosmwasm_std_v2::Timestamp::from_seconds(b.env.block.time.seconds() + 10_000);
    b.receive(
        "Receive SubmitJob (784-byte inline input)",
        &client,
        10_000,
        &ReceiveMsg::SubmitJob {
            model_id: model_id.clone(),
            input: JobInput::Inline {
                data: bytes(&input).into(),
            },
            deadline,
        },
    );
    b.run(
        "ClaimJobs (1 job)",
        &worker,
        &ExecuteMsg::ClaimJobs {
            model_id: model_id.clone(),
            max: 1,
        },
    );
    // The worker lies at layer 1, unit 0, and carries on faithfully from there.
    let honest = forward(&model, &input).expect("forward");
    let mut lie = honest.clone();
    lie[0][0] = lie[0][0].wrapping_add(37);
    for layer in 1..lie.len() {
        let prev = lie[layer - 1].clone();
        lie[layer] = (0..model.plan.layers[layer].output.len() as u32)
            .map(|u| {
                let leaf = model.leaf(layer, u);
                tavdun_core::eval_unit(&model.spec, &model.plan, layer, &prev, u, leaf.as_ref())
                    .expect("eval")
            })
            .collect();
    }
    let result = |job_id: u64, acts: &[Vec<i8>]| JobResultMsg {
        job_id,
        output: bytes(acts.last().expect("layers")).into(),
        hashes: activation_hashes(acts).into_iter().map(HexHash).collect(),
    };
    b.run(
        "PostResults (1 job)",
        &worker,
        &ExecuteMsg::PostResults {
            results: vec![result(1, &lie)],
        },
    );
    b.receive(
        "Receive Challenge (layer 1: the 784-byte input)",
        &checker,
        1_000,
        &ReceiveMsg::Challenge {
            job_id: 1,
            hashes: activation_hashes(&honest)
                .into_iter()
                .map(HexHash)
                .collect(),
            activation: bytes(&input).into(),
        },
    );
    b.run(
        "Reveal (128 bytes)",
        &worker,
        &ExecuteMsg::Reveal {
            job_id: 1,
            activation: bytes(&lie[0]).into(),
        },
    );
    let leaf = model.leaf(0, 0).expect("leaf");
    let proof = tree
        .proof(model.plan.leaf_index(0, 0).expect("index"))
        .expect("proof");
    b.run(
        "Resolve (one-step check: fan-in 784, Merkle path of 202 leaves)",
        &checker,
        &ExecuteMsg::Resolve {
            job_id: 1,
            unit: 0,
            leaf: Some(leaf),
            proof: Some(proof),
        },
    );

    // A full batch of honest work.
    let jobs: Vec<JobRequest> = (0..20)
        .map(|i| JobRequest {
            model_id: model_id.clone(),
            input: JobInput::Inline {
                data: bytes(&synthetic::input(784, 100 + i)).into(),
            },
            fee: 1_000u128.into(),
            deadline,
        })
        .collect();
    b.receive(
        "Receive SubmitJobs (20 jobs)",
        &client,
        20_000,
        &ReceiveMsg::SubmitJobs { jobs },
    );
    b.run(
        "ClaimJobs (20 jobs)",
        &worker,
        &ExecuteMsg::ClaimJobs { model_id, max: 20 },
    );
    // Job 1 went back to the queue after the slash and pays best, so the claim takes it and
    // jobs 2..=20 of the batch.
    let ids: Vec<u64> = (1..=20).collect();
    let results = ids
        .iter()
        .map(|&id| {
            let seed = if id == 1 { None } else { Some(100 + id - 2) };
            let x = seed.map_or(input.clone(), |s| synthetic::input(784, s));
            result(id, &forward(&model, &x).expect("forward"))
        })
        .collect();
    b.run(
        "PostResults (20 jobs)",
        &worker,
        &ExecuteMsg::PostResults { results },
    );
    b.env.block.time = b.env.block.time.plus_seconds(600);
    b.run(
        "Finalize (20 jobs)",
        &checker,
        &ExecuteMsg::Finalize { job_ids: ids },
    );
    b.run("Withdraw", &worker, &ExecuteMsg::Withdraw { amount: None });

    println!("| Message | CosmWasm gas | SDK gas (÷ {GAS_MULTIPLIER}) |");
    println!("|---|---:|---:|");
    for (label, gas) in &b.rows {
        println!("| {label} | {gas} | {} |", gas / GAS_MULTIPLIER);
    }
}
