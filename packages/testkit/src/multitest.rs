//! The contracts on cw-multi-test: each `ContractWrapper` once, and a deployed-market
//! fixture ([`Suite`]: the real TRN token and the market, named accounts, and helpers that
//! speak the market's messages) for the token's and the market's tests.

use cosmwasm_std::{to_json_binary, Addr, Empty, Timestamp, Uint128};
use cw20::{BalanceResponse, Cw20Coin, Cw20ExecuteMsg, Cw20QueryMsg};
use cw_multi_test::{App, AppResponse, Contract, ContractWrapper, Executor};
use tavdun_core::graph::{GraphModel, TokenInput, Trace};
use tavdun_core::{activation_hashes, eval_unit, forward, HexHash, Model};
use tavdun_market::ContractError;
use tavdun_market_api::job::int8_binary;
use tavdun_market_api::{
    token, ChallengeClaim, ClaimableResponse, Dispute, DisputeResponse, ExecuteMsg, GraphResultMsg,
    HardwareDeclaration, InstantiateMsg, Job, JobInput, JobResponse, JobResultMsg,
    NodeChallengeClaim, Params, QueryMsg, ReceiveMsg, StatsResponse, WorkerInfo, WorkerResponse,
};

pub const START_BALANCE: u128 = 1_000_000_000;

pub fn market_contract() -> Box<dyn Contract<Empty>> {
    Box::new(
        ContractWrapper::new(
            tavdun_market::contract::execute,
            tavdun_market::contract::instantiate,
            tavdun_market::contract::query,
        )
        .with_migrate(tavdun_market::contract::migrate),
    )
}

pub fn token_contract() -> Box<dyn Contract<Empty>> {
    Box::new(
        ContractWrapper::new(
            tavdun_token::contract::execute,
            tavdun_token::contract::instantiate,
            tavdun_token::contract::query,
        )
        .with_migrate(tavdun_token::contract::migrate),
    )
}

/// Market parameters for tests: short enough periods to step through, amounts in micro-TRN.
pub fn params() -> Params {
    Params {
        protocol_fee_bps: 500,
        challenge_window: 600,
        claim_timeout: 300,
        reveal_timeout: 300,
        resolve_timeout: 300,
        challenge_bond: Uint128::new(1_000),
        collateral_bps: 5_000,
        min_collateral: Uint128::new(5_000),
        liveness_penalty: Uint128::new(500),
        challenger_reward_bps: 5_000,
        failed_bond_to_worker_bps: 5_000,
        unbonding_period: 3_600,
        config_delay: 3_600,
        tier_stakes: vec![Uint128::new(10_000), Uint128::new(100_000)],
        max_input_bytes: 4_096,
        max_layers: 32,
        max_batch: 20,
        max_deadline: 7 * 24 * 3600,
        max_attempts: 4,
        release_fee: Uint128::new(100),
        max_dispute_bytes: 256 * 1024,
        max_disputes: 4,
    }
}

pub fn hardware(max_tier: u8) -> HardwareDeclaration {
    HardwareDeclaration {
        description: "1x test GPU".to_string(),
        max_tier,
    }
}

/// The market's error inside a multi-test error chain (Send wraps it in the token's call).
pub fn market_err(e: anyhow::Error) -> ContractError {
    match e.downcast::<ContractError>() {
        Ok(err) => err,
        Err(e) => panic!("not a market error: {e:?}"),
    }
}

pub struct Suite {
    pub app: App,
    pub token: Addr,
    pub market: Addr,
    pub admin: Addr,
    pub treasury: Addr,
}

impl Suite {
    /// Token and market, with `START_BALANCE` TRN for every name in `accounts`.
    pub fn new(accounts: &[&str]) -> Suite {
        Suite::with_params(accounts, params())
    }

    pub fn with_params(accounts: &[&str], params: Params) -> Suite {
        let mut app = App::default();
        let admin = app.api().addr_make("admin");
        let treasury = app.api().addr_make("treasury");
        let token_code = app.store_code(token_contract());
        let market_code = app.store_code(market_contract());
        let initial_balances = accounts
            .iter()
            .map(|a| Cw20Coin {
                address: app.api().addr_make(a).to_string(),
                amount: Uint128::new(START_BALANCE),
            })
            .collect();
        let token = app
            .instantiate_contract(
                token_code,
                admin.clone(),
                &token::InstantiateMsg {
                    initial_balances,
                    minter: Some(admin.to_string()),
                    cap: None,
                    marketing: None,
                },
                &[],
                "TRN",
                Some(admin.to_string()),
            )
            .expect("token instantiates");
        let market = app
            .instantiate_contract(
                market_code,
                admin.clone(),
                &InstantiateMsg {
                    token: token.to_string(),
                    admin: None,
                    treasury: treasury.to_string(),
                    params,
                },
                &[],
                "market",
                Some(admin.to_string()),
            )
            .expect("market instantiates");
        Suite {
            app,
            token,
            market,
            admin,
            treasury,
        }
    }

    pub fn addr(&self, name: &str) -> Addr {
        self.app.api().addr_make(name)
    }

    pub fn now(&self) -> Timestamp {
        self.app.block_info().time
    }

    pub fn advance(&mut self, seconds: u64) {
        self.app.update_block(|b| {
            b.time = b.time.plus_seconds(seconds);
            b.height += 1;
        });
    }

    pub fn exec(&mut self, who: &Addr, msg: &ExecuteMsg) -> anyhow::Result<AppResponse> {
        self.app
            .execute_contract(who.clone(), self.market.clone(), msg, &[])
    }

    /// CW20 `Send` of `amount` TRN from `who` to the market with `msg`.
    pub fn send(
        &mut self,
        who: &Addr,
        amount: u128,
        msg: &ReceiveMsg,
    ) -> anyhow::Result<AppResponse> {
        let send = Cw20ExecuteMsg::Send {
            contract: self.market.to_string(),
            amount: Uint128::new(amount),
            msg: to_json_binary(msg).expect("serialisable"),
        };
        self.app
            .execute_contract(who.clone(), self.token.clone(), &send, &[])
    }

    pub fn query<T: serde::de::DeserializeOwned>(&self, msg: &QueryMsg) -> T {
        self.app
            .wrap()
            .query_wasm_smart(self.market.clone(), msg)
            .expect("query succeeds")
    }

    pub fn balance(&self, who: &Addr) -> u128 {
        let r: BalanceResponse = self
            .app
            .wrap()
            .query_wasm_smart(
                self.token.clone(),
                &Cw20QueryMsg::Balance {
                    address: who.to_string(),
                },
            )
            .expect("balance");
        r.balance.u128()
    }

    pub fn stats(&self) -> StatsResponse {
        self.query(&QueryMsg::Stats {})
    }

    /// A job that exists.
    pub fn job(&self, job_id: u64) -> Job {
        let r: JobResponse = self.query(&QueryMsg::Job { job_id });
        r.job.unwrap_or_else(|| panic!("job {job_id} exists"))
    }

    /// Challenge `seq` of a job.
    pub fn dispute(&self, job_id: u64, seq: u32) -> Dispute {
        let r: DisputeResponse = self.query(&QueryMsg::Dispute { job_id, seq });
        r.dispute
            .unwrap_or_else(|| panic!("job {job_id} has challenge {seq}"))
    }

    /// A bonded worker.
    pub fn worker(&self, who: &Addr) -> WorkerInfo {
        let r: WorkerResponse = self.query(&QueryMsg::Worker {
            address: who.to_string(),
        });
        r.worker.unwrap_or_else(|| panic!("{who} is bonded"))
    }

    pub fn claimable(&self, who: &Addr) -> u128 {
        let r: ClaimableResponse = self.query(&QueryMsg::Claimable {
            address: who.to_string(),
        });
        r.amount.u128()
    }

    /// The escrow invariant: what the market owes adds up to what it holds.
    pub fn assert_invariant(&self) {
        let stats = self.stats();
        assert_eq!(
            stats.held.u128(),
            self.balance(&self.market),
            "market balance differs from its books: {:?}",
            stats.totals
        );
    }

    pub fn register(&mut self, model: &Model, min_tier: u8, min_fee: u128) -> String {
        let root = model.weights_tree().root();
        let owner = self.admin.clone();
        self.exec(
            &owner,
            &ExecuteMsg::RegisterModel {
                spec: model.spec.clone(),
                weights_root: HexHash(root),
                weights_uri: "https://weights.example/m".to_string(),
                min_tier,
                min_fee: Uint128::new(min_fee),
            },
        )
        .expect("model registers");
        hex::encode(model.id())
    }

    pub fn bond(&mut self, worker: &Addr, amount: u128) {
        self.send(
            worker,
            amount,
            &ReceiveMsg::Bond {
                hardware: Some(hardware(8)),
            },
        )
        .expect("bond");
    }

    pub fn submit(
        &mut self,
        client: &Addr,
        model_id: &str,
        fee: u128,
        input: &[i8],
        ttl: u64,
    ) -> anyhow::Result<u64> {
        self.submit_input(client, model_id, fee, JobInput::inline(input), ttl)
    }

    /// One job of `input`, paid with `fee`, due `ttl` seconds from now; returns its id.
    pub fn submit_input(
        &mut self,
        client: &Addr,
        model_id: &str,
        fee: u128,
        input: JobInput,
        ttl: u64,
    ) -> anyhow::Result<u64> {
        let deadline = self.now().plus_seconds(ttl);
        let res = self.send(
            client,
            fee,
            &ReceiveMsg::SubmitJob {
                model_id: model_id.to_string(),
                input,
                deadline,
            },
        )?;
        Ok(job_ids(&res)[0])
    }

    pub fn claim(&mut self, worker: &Addr, model_id: &str, max: u32) -> anyhow::Result<Vec<u64>> {
        let res = self.exec(
            worker,
            &ExecuteMsg::ClaimJobs {
                model_id: model_id.to_string(),
                max,
            },
        )?;
        Ok(job_ids(&res))
    }

    pub fn post(
        &mut self,
        worker: &Addr,
        job_id: u64,
        acts: &[Vec<i8>],
    ) -> anyhow::Result<AppResponse> {
        self.exec(
            worker,
            &ExecuteMsg::PostResults {
                results: vec![result_msg(job_id, acts)],
            },
        )
    }

    /// Moves one block on (the next block opens a committed challenge).
    pub fn next_block(&mut self) {
        self.advance(5);
    }

    /// `challenger`'s claim of `hashes` against the job's current result.
    fn claim_of(&self, challenger: &Addr, job_id: u64, hashes: &[HexHash]) -> ChallengeClaim {
        let result = self.job(job_id).result.expect("a posted result");
        ChallengeClaim::new(
            challenger.as_str(),
            job_id,
            hashes.iter().map(|h| h.0).collect(),
            &result.commitment.0,
        )
    }

    /// Commits a challenge of `job_id` with `hashes` (bond paid); returns its `seq`.
    pub fn commit_challenge(
        &mut self,
        challenger: &Addr,
        job_id: u64,
        hashes: &[HexHash],
    ) -> anyhow::Result<u32> {
        let claim = self.claim_of(challenger, job_id, hashes);
        self.commit(challenger, &claim.commit())
    }

    /// Sends the challenge bond with a `CommitChallenge` hook; returns the challenge's `seq`.
    fn commit(&mut self, challenger: &Addr, hook: &ReceiveMsg) -> anyhow::Result<u32> {
        let bond = params_of(self).challenge_bond.u128();
        let res = self.send(challenger, bond, hook)?;
        Ok(attr(&res, "seq")
            .and_then(|s| s.parse().ok())
            .expect("the commitment names its challenge"))
    }

    /// Opens a committed challenge (a block later).
    pub fn open_challenge(
        &mut self,
        challenger: &Addr,
        job_id: u64,
        seq: u32,
        hashes: &[HexHash],
    ) -> anyhow::Result<AppResponse> {
        let claim = self.claim_of(challenger, job_id, hashes);
        self.exec(challenger, &claim.open(seq))
    }

    /// Commits, moves a block on, and opens: a challenge as a verifier makes it.
    pub fn challenge(
        &mut self,
        challenger: &Addr,
        job_id: u64,
        hashes: &[HexHash],
    ) -> anyhow::Result<u32> {
        let seq = self.commit_challenge(challenger, job_id, hashes)?;
        self.next_block();
        self.open_challenge(challenger, job_id, seq, hashes)?;
        Ok(seq)
    }

    /// The worker reveals its hashes and its activation of the first divergent layer.
    pub fn reveal(
        &mut self,
        worker: &Addr,
        job_id: u64,
        seq: u32,
        acts: &[Vec<i8>],
    ) -> anyhow::Result<AppResponse> {
        let dispute = self.dispute(job_id, seq);
        let ours = hashes(acts);
        let layer = ours
            .iter()
            .zip(&dispute.challenger_hashes)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        self.exec(
            worker,
            &ExecuteMsg::Reveal {
                job_id,
                seq,
                hashes: ours,
                activation: int8_binary(&acts[layer]),
            },
        )
    }
}

/// Graph models (spec version 2).
impl Suite {
    pub fn register_graph(&mut self, model: &GraphModel, min_fee: u128) -> anyhow::Result<String> {
        let owner = self.admin.clone();
        self.exec(
            &owner,
            &ExecuteMsg::RegisterGraphModel {
                spec: model.spec.clone(),
                weights_root: HexHash(model.weights_tree().root()),
                weights_uri: "https://weights.example/g".to_string(),
                min_tier: 1,
                min_fee: Uint128::new(min_fee),
            },
        )?;
        Ok(hex::encode(model.id()))
    }

    pub fn submit_tokens(
        &mut self,
        client: &Addr,
        model_id: &str,
        fee: u128,
        input: &TokenInput,
        ttl: u64,
    ) -> anyhow::Result<u64> {
        self.submit_input(client, model_id, fee, JobInput::tokens(input), ttl)
    }

    pub fn post_graph(
        &mut self,
        worker: &Addr,
        job_id: u64,
        trace: &Trace,
    ) -> anyhow::Result<AppResponse> {
        self.exec(
            worker,
            &ExecuteMsg::PostGraphResults {
                results: vec![GraphResultMsg::new(job_id, trace)],
            },
        )
    }

    /// `challenger`'s claim that `node` of the job's result is wrong, with its own run roots
    /// of the node from `trace`.
    pub fn node_claim(
        &self,
        challenger: &Addr,
        job_id: u64,
        node: u32,
        trace: &Trace,
    ) -> NodeChallengeClaim {
        let result = self.job(job_id).result.expect("a posted result");
        let runs = their_runs(trace, node);
        NodeChallengeClaim::new(
            challenger.as_str(),
            job_id,
            node,
            runs,
            &result.commitment.0,
        )
    }

    /// Commits, moves a block on and opens a challenge of `node` with the runs of `trace`.
    pub fn challenge_node(
        &mut self,
        challenger: &Addr,
        job_id: u64,
        node: u32,
        trace: &Trace,
    ) -> anyhow::Result<u32> {
        let claim = self.node_claim(challenger, job_id, node, trace);
        let seq = self.commit(challenger, &claim.commit())?;
        self.next_block();
        self.exec(challenger, &claim.open(seq))?;
        Ok(seq)
    }
}

/// The run roots of `node` in `trace`: what its challenger shows.
pub fn their_runs(trace: &Trace, node: u32) -> Vec<tavdun_core::Hash> {
    trace
        .node_runs(&trace.node_trees(), node as usize)
        .expect("a node of the trace")
}

/// The worker's `RevealRow` from its trace `ours`, against a challenger whose runs of the
/// disputed node are those of `theirs`.
pub fn reveal_row_msg(
    job_id: u64,
    seq: u32,
    node: u32,
    ours: &Trace,
    theirs: &Trace,
) -> ExecuteMsg {
    tavdun_market_api::reveal_row(job_id, seq, node, ours, &their_runs(theirs, node))
        .expect("a node of the trace")
}

fn params_of(suite: &Suite) -> Params {
    let config: tavdun_market_api::ConfigResponse = suite.query(&QueryMsg::Config {});
    config.config.params
}

pub fn result_msg(job_id: u64, acts: &[Vec<i8>]) -> JobResultMsg {
    JobResultMsg::new(job_id, acts)
}

pub fn hashes(acts: &[Vec<i8>]) -> Vec<HexHash> {
    activation_hashes(acts).into_iter().map(HexHash).collect()
}

/// Job ids named by the market's `job_id` attributes, in order.
pub fn job_ids(res: &AppResponse) -> Vec<u64> {
    res.events
        .iter()
        .filter(|e| e.ty == "wasm")
        .flat_map(|e| e.attributes.iter())
        .filter(|a| a.key == "job_id")
        .filter_map(|a| a.value.parse().ok())
        .collect()
}

/// Attribute `key` of the market's wasm event, if present.
pub fn attr(res: &AppResponse, key: &str) -> Option<String> {
    res.events
        .iter()
        .filter(|e| e.ty == "wasm")
        .flat_map(|e| e.attributes.iter())
        .find(|a| a.key == key)
        .map(|a| a.value.clone())
}

/// Layer `layer` (0-based, core numbering) of `model` applied to `input`, unit by unit with
/// the one-step check itself: how a worker that lied at an earlier layer carries on.
pub fn run_layer(model: &Model, layer: usize, input: &[i8]) -> Vec<i8> {
    let units = model.plan.layers[layer].output.len() as u32;
    (0..units)
        .map(|u| {
            let leaf = model
                .plan
                .leaf_unit(layer, u)
                .and_then(|l| model.leaf(layer, l));
            eval_unit(&model.spec, &model.plan, layer, input, u, leaf.as_ref()).expect("eval")
        })
        .collect()
}

/// A worker's activations when it gets 1-based layer `wrong` wrong at unit 0 and computes
/// every later layer faithfully from its wrong value.
pub fn lying_acts(model: &Model, input: &[i8], wrong: usize) -> Vec<Vec<i8>> {
    let honest = forward(model, input).expect("forward");
    let mut acts: Vec<Vec<i8>> = honest[..wrong - 1].to_vec();
    let mut bad = honest[wrong - 1].clone();
    bad[0] = bad[0].wrapping_add(37);
    acts.push(bad);
    for layer in wrong..honest.len() {
        let prev = acts[layer - 1].clone();
        acts.push(run_layer(model, layer, &prev));
    }
    acts
}

/// Activation `k` (0 is the input) of a run.
pub fn act<'a>(input: &'a [i8], acts: &'a [Vec<i8>], k: usize) -> &'a [i8] {
    if k == 0 {
        input
    } else {
        &acts[k - 1]
    }
}
