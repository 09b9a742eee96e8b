//! Random sequences of market operations by several clients, workers and challengers. After
//! every step: each account's TRN balance equals what the test expects from the operations
//! that succeeded, and the market's balance equals its books, bucket by bucket.

use std::collections::HashMap;

use cosmwasm_std::{Addr, Uint128};
use proptest::prelude::*;
use tavdun_core::{forward, synthetic, Model};
use tavdun_market_api::{ExecuteMsg, JobFilter, JobRequest, JobsResponse, QueryMsg, ReceiveMsg};
use tavdun_market_api::{JobInput, JobStatus};

use tavdun_market_api::job::int8_binary;
use tavdun_testkit::multitest::*;

const CLIENTS: usize = 2;
const WORKERS: usize = 3;
const CHALLENGERS: usize = 2;

#[derive(Debug, Clone)]
enum Op {
    Bond {
        w: usize,
        amount: u128,
    },
    Submit {
        c: usize,
        fee: u128,
        ttl: u64,
    },
    SubmitBatch {
        c: usize,
        n: usize,
        fee: u128,
    },
    /// A job whose input is off chain, which workers may release.
    SubmitBlob {
        c: usize,
        fee: u128,
    },
    Release {
        pick: usize,
    },
    Claim {
        w: usize,
        max: u32,
    },
    Post {
        w: usize,
        lie: Option<usize>,
    },
    Challenge {
        x: usize,
        pick: usize,
    },
    /// A commitment never opened: griefing that must cost its bond.
    CommitOnly {
        x: usize,
        pick: usize,
    },
    Reveal {
        pick: usize,
    },
    Resolve {
        pick: usize,
    },
    ClaimTimeout {
        pick: usize,
    },
    Finalize {
        pick: usize,
    },
    Expire {
        pick: usize,
    },
    Cancel {
        c: usize,
        pick: usize,
    },
    Refund {
        pick: usize,
    },
    Unbond {
        w: usize,
        amount: u128,
    },
    Withdraw {
        who: usize,
    },
    WithdrawTreasury,
    Advance {
        secs: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..WORKERS, 1_000u128..30_000).prop_map(|(w, amount)| Op::Bond { w, amount }),
        3 => (0..CLIENTS, 1u128..5_000, 50u64..2_000).prop_map(|(c, fee, ttl)| Op::Submit { c, fee, ttl }),
        1 => (0..CLIENTS, 1usize..4, 1u128..3_000).prop_map(|(c, n, fee)| Op::SubmitBatch { c, n, fee }),
        3 => (0..WORKERS, 1u32..4).prop_map(|(w, max)| Op::Claim { w, max }),
        3 => (0..WORKERS, proptest::option::weighted(0.3, 1usize..3)).prop_map(|(w, lie)| Op::Post { w, lie }),
        2 => (0..CHALLENGERS, any::<usize>()).prop_map(|(x, pick)| Op::Challenge { x, pick }),
        2 => (0..CHALLENGERS, any::<usize>()).prop_map(|(x, pick)| Op::CommitOnly { x, pick }),
        2 => (0..CLIENTS, 1u128..5_000).prop_map(|(c, fee)| Op::SubmitBlob { c, fee }),
        2 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        3 => any::<usize>().prop_map(|pick| Op::Reveal { pick }),
        3 => any::<usize>().prop_map(|pick| Op::Resolve { pick }),
        1 => any::<usize>().prop_map(|pick| Op::ClaimTimeout { pick }),
        2 => any::<usize>().prop_map(|pick| Op::Finalize { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Expire { pick }),
        1 => (0..CLIENTS, any::<usize>()).prop_map(|(c, pick)| Op::Cancel { c, pick }),
        1 => any::<usize>().prop_map(|pick| Op::Refund { pick }),
        1 => (0..WORKERS, 1u128..20_000).prop_map(|(w, amount)| Op::Unbond { w, amount }),
        2 => (0..CLIENTS + WORKERS + CHALLENGERS).prop_map(|who| Op::Withdraw { who }),
        1 => Just(Op::WithdrawTreasury),
        3 => (1u64..400).prop_map(|secs| Op::Advance { secs }),
    ]
}

struct World {
    s: Suite,
    m: Model,
    model_id: String,
    clients: Vec<Addr>,
    workers: Vec<Addr>,
    challengers: Vec<Addr>,
    inputs: HashMap<u64, Vec<i8>>,
    posted: HashMap<u64, Vec<Vec<i8>>>,
    expected: HashMap<Addr, u128>,
}

impl World {
    fn new() -> World {
        let names: Vec<String> = (0..CLIENTS)
            .map(|i| format!("client{i}"))
            .chain((0..WORKERS).map(|i| format!("worker{i}")))
            .chain((0..CHALLENGERS).map(|i| format!("checker{i}")))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut s = Suite::new(&refs);
        let m = synthetic::mlp("prop-mlp", &[8, 6, 4], 11).expect("model");
        let model_id = s.register(&m, 1, 0);
        let addrs: Vec<Addr> = names.iter().map(|n| s.addr(n)).collect();
        let mut expected: HashMap<Addr, u128> =
            addrs.iter().map(|a| (a.clone(), START_BALANCE)).collect();
        expected.insert(s.market.clone(), 0);
        expected.insert(s.treasury.clone(), 0);
        World {
            m,
            model_id,
            clients: addrs[..CLIENTS].to_vec(),
            workers: addrs[CLIENTS..CLIENTS + WORKERS].to_vec(),
            challengers: addrs[CLIENTS + WORKERS..].to_vec(),
            inputs: HashMap::new(),
            posted: HashMap::new(),
            expected,
            s,
        }
    }

    fn accounts(&self) -> Vec<Addr> {
        self.clients
            .iter()
            .chain(&self.workers)
            .chain(&self.challengers)
            .cloned()
            .collect()
    }

    fn jobs_with(&self, status: JobStatus) -> Vec<u64> {
        let r: JobsResponse = self.s.query(&QueryMsg::Jobs {
            filter: Some(JobFilter::Status(status)),
            start_after: None,
            limit: Some(50),
        });
        r.jobs.into_iter().map(|j| j.id).collect()
    }

    fn pick(&self, status: JobStatus, pick: usize) -> Option<u64> {
        let ids = self.jobs_with(status);
        (!ids.is_empty()).then(|| ids[pick % ids.len()])
    }

    /// A job in its challenge window: posted, or disputed already.
    fn pick_challengeable(&self, pick: usize) -> Option<u64> {
        let mut ids = self.jobs_with(JobStatus::Posted);
        ids.extend(self.jobs_with(JobStatus::Disputed));
        (!ids.is_empty()).then(|| ids[pick % ids.len()])
    }

    fn open_disputes(&self, job: u64) -> Vec<tavdun_market_api::Dispute> {
        let r: tavdun_market_api::DisputesResponse =
            self.s.query(&QueryMsg::Disputes { job_id: job });
        r.disputes.into_iter().filter(|d| d.is_open()).collect()
    }

    fn moved(&mut self, from: &Addr, to: &Addr, amount: u128) {
        *self.expected.get_mut(from).expect("known account") -= amount;
        *self.expected.get_mut(to).expect("known account") += amount;
    }

    /// Sends TRN from `who` to the market; the books move only if the market accepted it.
    fn send(&mut self, who: &Addr, amount: u128, msg: &ReceiveMsg) -> bool {
        let ok = self.s.send(who, amount, msg).is_ok();
        if ok {
            let market = self.s.market.clone();
            self.moved(who, &market, amount);
        }
        ok
    }

    fn apply(&mut self, op: &Op) {
        let now = self.s.now();
        match *op {
            Op::Bond { w, amount } => {
                let who = self.workers[w].clone();
                self.send(
                    &who,
                    amount,
                    &ReceiveMsg::Bond {
                        hardware: Some(hardware(8)),
                    },
                );
            }
            Op::Submit { c, fee, ttl } => {
                let who = self.clients[c].clone();
                let input = synthetic::input(8, fee as u64);
                let msg = ReceiveMsg::SubmitJob {
                    model_id: self.model_id.clone(),
                    input: JobInput::Inline {
                        data: int8_binary(&input),
                    },
                    deadline: now.plus_seconds(ttl),
                };
                let next = self.s.stats().jobs + 1;
                if self.send(&who, fee, &msg) {
                    self.inputs.insert(next, input);
                }
            }
            Op::SubmitBatch { c, n, fee } => {
                let who = self.clients[c].clone();
                let inputs: Vec<Vec<i8>> = (0..n)
                    .map(|i| synthetic::input(8, fee as u64 + i as u64))
                    .collect();
                let jobs = inputs
                    .iter()
                    .map(|input| JobRequest {
                        model_id: self.model_id.clone(),
                        input: JobInput::Inline {
                            data: int8_binary(input),
                        },
                        fee: Uint128::new(fee),
                        deadline: now.plus_seconds(1_000),
                    })
                    .collect();
                let first = self.s.stats().jobs + 1;
                if self.send(&who, fee * n as u128, &ReceiveMsg::SubmitJobs { jobs }) {
                    for (i, input) in inputs.into_iter().enumerate() {
                        self.inputs.insert(first + i as u64, input);
                    }
                }
            }
            Op::Claim { w, max } => {
                let who = self.workers[w].clone();
                let id = self.model_id.clone();
                let _ = self.s.claim(&who, &id, max);
            }
            Op::Post { w, lie } => {
                let who = self.workers[w].clone();
                let r: JobsResponse = self.s.query(&QueryMsg::Jobs {
                    filter: Some(JobFilter::Worker(who.to_string())),
                    start_after: None,
                    limit: Some(50),
                });
                let Some(job) = r.jobs.iter().find(|j| j.status == JobStatus::Claimed) else {
                    return;
                };
                let input = &self.inputs[&job.id];
                let acts = match lie {
                    Some(k) => lying_acts(&self.m, input, k),
                    None => forward(&self.m, input).expect("forward"),
                };
                if self.s.post(&who, job.id, &acts).is_ok() {
                    self.posted.insert(job.id, acts);
                }
            }
            Op::Challenge { x, pick } => {
                let Some(job) = self.pick_challengeable(pick) else {
                    return;
                };
                let who = self.challengers[x].clone();
                let input = self.inputs[&job].clone();
                let honest = forward(&self.m, &input).expect("forward");
                let posted = &self.posted[&job];
                // An honest checker disputes a lie; a griefer disputes an honest result.
                let claim = match (0..honest.len()).find(|&i| honest[i] != posted[i]) {
                    Some(_) => honest,
                    None => lying_acts(&self.m, &input, pick % honest.len() + 1),
                };
                let bond = params().challenge_bond.u128();
                let market = self.s.market.clone();
                if let Ok(seq) = self.s.commit_challenge(&who, job, &hashes(&claim)) {
                    self.moved(&who, &market, bond);
                    self.s.next_block();
                    let _ = self.s.open_challenge(&who, job, seq, &hashes(&claim));
                }
            }
            Op::CommitOnly { x, pick } => {
                let Some(job) = self.pick_challengeable(pick) else {
                    return;
                };
                let who = self.challengers[x].clone();
                let bond = params().challenge_bond.u128();
                let market = self.s.market.clone();
                if self
                    .s
                    .commit_challenge(&who, job, &[tavdun_core::HexHash([9; 32])])
                    .is_ok()
                {
                    self.moved(&who, &market, bond);
                }
            }
            Op::Reveal { pick } => {
                let Some(job) = self.pick(JobStatus::Disputed, pick) else {
                    return;
                };
                let posted = self.posted[&job].clone();
                for d in self.open_disputes(job) {
                    if d.opened_at.is_some() && d.revealed.is_none() {
                        let _ = self.s.reveal(&d.worker, job, d.seq, &posted);
                        return;
                    }
                }
            }
            Op::Resolve { pick } => {
                let Some(job) = self.pick(JobStatus::Disputed, pick) else {
                    return;
                };
                let revealed: Vec<_> = self
                    .open_disputes(job)
                    .into_iter()
                    .filter(|d| d.revealed.is_some())
                    .collect();
                for d in revealed {
                    let Some(l) = d.layer else { continue };
                    let layer = l as usize - 1;
                    // Activation `layer - 1` both sides agree on: the worker's.
                    let input = act(&self.inputs[&job], &self.posted[&job], layer).to_vec();
                    let truth = run_layer(&self.m, layer, &input);
                    let posted = &self.posted[&job][layer];
                    let unit = (0..truth.len())
                        .find(|&u| truth[u] != posted[u])
                        .unwrap_or(0) as u32;
                    let leaf_unit = self.m.plan.leaf_unit(layer, unit);
                    let leaf = leaf_unit.and_then(|l| self.m.leaf(layer, l));
                    let proof = leaf_unit
                        .and_then(|l| self.m.plan.leaf_index(layer, l))
                        .and_then(|i| self.m.weights_tree().proof(i));
                    let who = self.challengers[0].clone();
                    let resolved = self.s.exec(
                        &who,
                        &ExecuteMsg::Resolve {
                            job_id: job,
                            seq: d.seq,
                            unit,
                            input: int8_binary(&input),
                            leaf,
                            proof,
                        },
                    );
                    if resolved.is_ok() {
                        return;
                    }
                }
            }
            Op::ClaimTimeout { pick } => {
                if let Some(job) = self.pick(JobStatus::Disputed, pick) {
                    let who = self.clients[0].clone();
                    for d in self.open_disputes(job) {
                        let _ = self.s.exec(
                            &who,
                            &ExecuteMsg::ClaimTimeout {
                                job_id: job,
                                seq: d.seq,
                            },
                        );
                    }
                }
            }
            Op::SubmitBlob { c, fee } => {
                let who = self.clients[c].clone();
                let input = synthetic::input(self.m.plan.input.len(), fee as u64);
                let deadline = self.s.now().plus_seconds(300);
                let msg = ReceiveMsg::SubmitJob {
                    model_id: self.model_id.clone(),
                    input: JobInput::blob(&input, "https://unreachable.example/x".into()),
                    deadline,
                };
                if let Ok(res) = self.s.send(&who, fee, &msg) {
                    let market = self.s.market.clone();
                    self.moved(&who, &market, fee);
                    self.inputs.insert(job_ids(&res)[0], input);
                }
            }
            Op::Release { pick } => {
                if let Some(job) = self.pick(JobStatus::Claimed, pick) {
                    let worker = self.s.job(job).worker.expect("claimed");
                    let _ = self
                        .s
                        .exec(&worker, &ExecuteMsg::ReleaseJobs { job_ids: vec![job] });
                }
            }
            Op::Finalize { pick } => {
                if let Some(job) = self.pick(JobStatus::Posted, pick) {
                    let who = self.clients[1].clone();
                    let _ = self
                        .s
                        .exec(&who, &ExecuteMsg::Finalize { job_ids: vec![job] });
                }
            }
            Op::Expire { pick } => {
                if let Some(job) = self.pick(JobStatus::Claimed, pick) {
                    let who = self.challengers[1].clone();
                    let _ = self
                        .s
                        .exec(&who, &ExecuteMsg::ExpireClaims { job_ids: vec![job] });
                }
            }
            Op::Cancel { c, pick } => {
                if let Some(job) = self.pick(JobStatus::Open, pick) {
                    let who = self.clients[c].clone();
                    let _ = self
                        .s
                        .exec(&who, &ExecuteMsg::CancelJobs { job_ids: vec![job] });
                }
            }
            Op::Refund { pick } => {
                if let Some(job) = self.pick(JobStatus::Open, pick) {
                    let who = self.workers[0].clone();
                    let _ = self
                        .s
                        .exec(&who, &ExecuteMsg::RefundExpired { job_ids: vec![job] });
                }
            }
            Op::Unbond { w, amount } => {
                let who = self.workers[w].clone();
                let _ = self.s.exec(
                    &who,
                    &ExecuteMsg::Unbond {
                        amount: Uint128::new(amount),
                    },
                );
            }
            Op::Withdraw { who } => {
                let who = self.accounts()[who].clone();
                let mut due = self.s.claimable(&who);
                if self.workers.contains(&who) {
                    let r: tavdun_market_api::WorkerResponse = self.s.query(&QueryMsg::Worker {
                        address: who.to_string(),
                    });
                    if let Some(w) = r.worker {
                        due += w
                            .worker
                            .unbonding
                            .iter()
                            .filter(|u| u.release_at <= now)
                            .map(|u| u.amount.u128())
                            .sum::<u128>();
                    }
                }
                if self
                    .s
                    .exec(&who, &ExecuteMsg::Withdraw { amount: None })
                    .is_ok()
                {
                    let market = self.s.market.clone();
                    self.moved(&market, &who, due);
                }
            }
            Op::WithdrawTreasury => {
                let due = self.s.stats().totals.treasury.u128();
                let admin = self.s.admin.clone();
                if self
                    .s
                    .exec(&admin, &ExecuteMsg::WithdrawTreasury { amount: None })
                    .is_ok()
                {
                    let (market, treasury) = (self.s.market.clone(), self.s.treasury.clone());
                    self.moved(&market, &treasury, due);
                }
            }
            Op::Advance { secs } => self.s.advance(secs),
        }
    }

    fn check(&self, step: usize, op: &Op) {
        for (addr, want) in &self.expected {
            assert_eq!(
                self.s.balance(addr),
                *want,
                "step {step} {op:?}: balance of {addr}"
            );
        }
        let stats = self.s.stats();
        assert_eq!(
            stats.held.u128(),
            self.expected[&self.s.market],
            "step {step} {op:?}: held"
        );
        let claimable: u128 = self.accounts().iter().map(|a| self.s.claimable(a)).sum();
        assert_eq!(
            claimable,
            stats.totals.claimable.u128(),
            "step {step} {op:?}: claimable"
        );
        let (mut stakes, mut unbonding) = (0u128, 0u128);
        for w in &self.workers {
            let r: tavdun_market_api::WorkerResponse = self.s.query(&QueryMsg::Worker {
                address: w.to_string(),
            });
            if let Some(r) = r.worker {
                assert!(
                    r.worker.locked <= r.worker.stake,
                    "step {step}: locked above stake"
                );
                stakes += r.worker.stake.u128();
                unbonding += r
                    .worker
                    .unbonding
                    .iter()
                    .map(|u| u.amount.u128())
                    .sum::<u128>();
            }
        }
        assert_eq!(
            stakes,
            stats.totals.stakes.u128(),
            "step {step} {op:?}: stakes"
        );
        assert_eq!(
            unbonding,
            stats.totals.unbonding.u128(),
            "step {step} {op:?}: unbonding"
        );
    }

    /// Open fees and dispute bonds, job by job, against the books (once per sequence: it reads
    /// every job).
    fn check_jobs(&self) {
        let stats = self.s.stats();
        let (mut fees, mut bonds) = (0u128, 0u128);
        for id in 1..=stats.jobs {
            let job = self.s.job(id);
            if matches!(
                job.status,
                JobStatus::Open | JobStatus::Claimed | JobStatus::Posted | JobStatus::Disputed
            ) {
                fees += job.fee.u128();
            }
            bonds += self
                .open_disputes(id)
                .iter()
                .map(|d| d.bond.u128())
                .sum::<u128>();
        }
        assert_eq!(fees, stats.totals.job_fees.u128(), "open job fees");
        assert_eq!(bonds, stats.totals.bonds.u128(), "open dispute bonds");
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn balances_match_the_books_after_every_step(ops in proptest::collection::vec(op(), 50..80)) {
        let mut world = World::new();
        for (step, op) in ops.iter().enumerate() {
            world.apply(op);
            world.check(step, op);
        }
        world.check_jobs();
    }
}

/// The generator is only worth its cases if its sequences reach every outcome: this runs a
/// fixed set of sequences and counts what they ended in.
#[test]
fn random_sequences_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use tavdun_market_api::{DisputeOutcome, EndReason};

    let mut runner = TestRunner::deterministic();
    let strategy = proptest::collection::vec(op(), 60..80);
    let mut seen: HashMap<String, u32> = HashMap::new();
    for _ in 0..200 {
        let ops = strategy.new_tree(&mut runner).expect("tree").current();
        let mut world = World::new();
        for op in &ops {
            world.apply(op);
        }
        for id in 1..=world.s.stats().jobs {
            let job = world.s.job(id);
            *seen.entry(format!("{:?}", job.end_reason)).or_default() += 1;
            let r: tavdun_market_api::DisputesResponse =
                world.s.query(&QueryMsg::Disputes { job_id: id });
            for d in r.disputes {
                let key = match d.outcome {
                    Some(DisputeOutcome::WorkerSlashed { .. }) => "slashed",
                    Some(DisputeOutcome::RevealWithheld) => "withheld",
                    Some(DisputeOutcome::ChallengeFailed) => "challenge_failed",
                    Some(DisputeOutcome::NeverOpened) => "never_opened",
                    Some(DisputeOutcome::Moot) => "moot",
                    None => "dispute_open",
                };
                *seen.entry(key.to_string()).or_default() += 1;
            }
            if job.failed_attempts > 0 {
                *seen.entry("requeued".to_string()).or_default() += 1;
            }
        }
    }
    let want = [
        format!("{:?}", Some(EndReason::ResultAccepted)),
        format!("{:?}", Some(EndReason::CancelledByClient)),
        format!("{:?}", Some(EndReason::DeadlineUnclaimed)),
        "slashed".to_string(),
        "withheld".to_string(),
        "challenge_failed".to_string(),
        "never_opened".to_string(),
        format!("{:?}", Some(EndReason::InputUnavailable)),
        "requeued".to_string(),
    ];
    let missed: Vec<&String> = want
        .iter()
        .filter(|k| seen.get(*k).copied().unwrap_or(0) == 0)
        .collect();
    assert!(
        missed.is_empty(),
        "no sequence reached {missed:?}: {seen:?}"
    );
}
