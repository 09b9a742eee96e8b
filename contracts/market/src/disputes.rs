//! The dispute game over a posted result. Any number of challengers (up to `max_disputes`
//! per result) each run their own dispute, so none can keep the others out:
//!
//! 1. `CommitChallenge` (CW20 `Send` of the bond, within the window): a commitment to the
//!    challenger's hashes, which stay hidden, so a pending challenge cannot be copied ahead of
//!    it (a copy would need a commitment of its own, in an earlier block);
//! 2. `Challenge` (a later block, within the window): the challenger's `[h_1 .. h_n]`, which
//!    must open the commitment and differ from the worker's commitment;
//! 3. `Reveal` (the worker): its `[h_1 .. h_n]`, checked against its posted commitment, and
//!    its activation of `L`, the first layer where the two lists differ;
//! 4. `Resolve` (anyone): one output value of layer `L` recomputed on chain with
//!    `tavdun_core::eval_unit` from activation `L - 1` (checked against the agreed hash) and
//!    the unit's Merkle-proven leaf.
//!
//! Every step has a deadline and the silent side loses (`ClaimTimeout`); since challenges are
//! only committed and opened inside the window, a job leaves `Disputed` at the latest
//! `reveal_timeout + resolve_timeout` after its window closed. When a result is proven wrong
//! the reward goes to the earliest challenge that made the same claim, so copying a
//! challenge, even one in plain sight, earns nothing.

use cosmwasm_std::{
    Addr, Binary, DepsMut, Env, MessageInfo, Order, Response, Storage, Timestamp, Uint128,
};
use tavdun_core::bytes::to_i8;
use tavdun_core::{
    activation_hash, challenge_commitment, eval_unit, hashes_commitment, Hash, HexHash, Leaf, Proof,
};
use tavdun_market_api::{Config, Dispute, DisputeOutcome, EndReason, JobStatus, ModelInfo};

use crate::error::ContractError;
use crate::jobs::{load_job, requeue_or_refund, store_job, Before};
use crate::ledger::{self, bps};
use crate::models::{load_model, plan};
use crate::state::{
    JobRecord, PostedResult, StoredInput, CONFIG, DISPUTES, INPUTS, MODEL_IDS, RESULTS,
};
use crate::workers::{load_worker, save_worker};

pub(crate) fn load_dispute(
    store: &dyn Storage,
    job_id: u64,
    seq: u32,
) -> Result<Dispute, ContractError> {
    DISPUTES
        .may_load(store, (job_id, seq))?
        .ok_or(ContractError::NoSuchDispute { job_id, seq })
}

pub(crate) fn open_dispute(
    store: &dyn Storage,
    job_id: u64,
    seq: u32,
) -> Result<Dispute, ContractError> {
    let d = load_dispute(store, job_id, seq)?;
    if !d.is_open() {
        return Err(ContractError::DisputeEnded { job_id, seq });
    }
    Ok(d)
}

fn model_of(store: &dyn Storage, job: &JobRecord) -> Result<ModelInfo, ContractError> {
    load_model(store, &MODEL_IDS.load(store, job.model)?)
}

pub(crate) fn wrong_state(
    job_id: u64,
    seq: u32,
    state: &'static str,
    expected: &'static str,
) -> ContractError {
    ContractError::WrongDisputeState {
        job_id,
        seq,
        state,
        expected,
    }
}

fn hashes(list: &[HexHash]) -> Vec<Hash> {
    list.iter().map(|h| h.0).collect()
}

/// The job's current result, which a dispute is about.
pub(crate) fn current_result(
    store: &dyn Storage,
    job_id: u64,
    job: &JobRecord,
) -> Result<PostedResult, ContractError> {
    if !matches!(job.status, JobStatus::Posted | JobStatus::Disputed) {
        return Err(ContractError::WrongJobStatus {
            job_id,
            status: job.status.key(),
            expected: "posted or disputed",
        });
    }
    Ok(RESULTS.load(store, job_id)?)
}

pub fn commit_challenge(
    deps: DepsMut,
    env: Env,
    challenger: Addr,
    sent: Uint128,
    job_id: u64,
    commitment: HexHash,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if sent != config.params.challenge_bond {
        return Err(ContractError::WrongBond {
            expected: config.params.challenge_bond,
            sent,
        });
    }
    let mut job = load_job(deps.storage, job_id)?;
    let before = Before::of(&job);
    let result = current_result(deps.storage, job_id, &job)?;
    let now = env.block.time;
    check_window(job_id, result.challenge_ends, now)?;
    let Some(worker) = job.worker.clone() else {
        return Err(ContractError::NotJobWorker { job_id });
    };
    if challenger == worker {
        return Err(ContractError::SelfChallenge);
    }
    if job.challenges >= config.params.max_disputes {
        return Err(ContractError::TooManyChallenges {
            job_id,
            max: config.params.max_disputes,
        });
    }
    let seq = job.dispute_seq;
    let dispute = Dispute {
        job_id,
        seq,
        worker: worker.clone(),
        challenger: challenger.clone(),
        bond: sent,
        commitment,
        committed_height: env.block.height,
        challenger_hashes: vec![],
        opened_at: None,
        reveal_deadline: None,
        layer: None,
        agreed_hash: None,
        revealed: None,
        node: None,
        run: None,
        revealed_run: None,
        input_roots: vec![],
        resolve_deadline: None,
        outcome: None,
    };
    DISPUTES.save(deps.storage, (job_id, seq), &dispute)?;
    job.dispute_seq = seq
        .checked_add(1)
        .ok_or(ContractError::Empty("dispute numbers exhausted"))?;
    job.challenges += 1;
    job.open_disputes += 1;
    job.status = JobStatus::Disputed;
    store_job(deps.storage, job_id, &before, &job)?;
    ledger::update_totals(deps.storage, |t| {
        t.bonds = t.bonds.checked_add(sent)?;
        Ok(())
    })?;
    Ok(Response::new()
        .add_attribute("action", "commit_challenge")
        .add_attribute("job_id", job_id.to_string())
        .add_attribute("seq", seq.to_string())
        .add_attribute("worker", worker)
        .add_attribute("challenger", challenger)
        .add_attribute("amount", sent))
}

/// What opening a committed challenge starts from, once the common checks passed: the
/// challenger opens its own challenge, in a later block than its commitment, within the
/// window of the result it challenges.
pub(crate) struct Opening {
    pub config: Config,
    pub dispute: Dispute,
    pub job: JobRecord,
    pub result: PostedResult,
    pub now: Timestamp,
}

pub(crate) fn opening(
    store: &dyn Storage,
    env: &Env,
    info: &MessageInfo,
    job_id: u64,
    seq: u32,
) -> Result<Opening, ContractError> {
    let config = CONFIG.load(store)?;
    let dispute = open_dispute(store, job_id, seq)?;
    if info.sender != dispute.challenger {
        return Err(ContractError::NotChallenger { job_id, seq });
    }
    if dispute.opened_at.is_some() {
        return Err(wrong_state(job_id, seq, "open", "committed"));
    }
    if env.block.height <= dispute.committed_height {
        return Err(ContractError::SameBlock { job_id, seq });
    }
    let job = load_job(store, job_id)?;
    let result = current_result(store, job_id, &job)?;
    check_window(job_id, result.challenge_ends, env.block.time)?;
    Ok(Opening {
        config,
        dispute,
        job,
        result,
        now: env.block.time,
    })
}

/// The challenged worker reveals its own dispute, once, before the reveal deadline.
pub(crate) fn revealing(
    store: &dyn Storage,
    env: &Env,
    info: &MessageInfo,
    job_id: u64,
    seq: u32,
) -> Result<Dispute, ContractError> {
    let dispute = open_dispute(store, job_id, seq)?;
    if info.sender != dispute.worker {
        return Err(ContractError::NotJobWorker { job_id });
    }
    let Some(deadline) = dispute.reveal_deadline else {
        return Err(wrong_state(job_id, seq, "committed", "open"));
    };
    if dispute.revealed.is_some() || dispute.revealed_run.is_some() {
        return Err(wrong_state(job_id, seq, "revealed", "open"));
    }
    check_deadline(env, job_id, "the reveal period", deadline)?;
    Ok(dispute)
}

/// `what` (the reveal or the resolve period) may still be done at its deadline, not after.
pub(crate) fn check_deadline(
    env: &Env,
    job_id: u64,
    what: &'static str,
    deadline: Timestamp,
) -> Result<(), ContractError> {
    let now = env.block.time;
    if now > deadline {
        return Err(ContractError::TooLate {
            job_id,
            what,
            at: deadline,
            now,
        });
    }
    Ok(())
}

/// A challenge is committed or opened before its result's window closes (at `ends`, the
/// window is over).
fn check_window(job_id: u64, ends: u64, now: Timestamp) -> Result<(), ContractError> {
    if now.seconds() >= ends {
        return Err(ContractError::TooLate {
            job_id,
            what: "the challenge window",
            at: Timestamp::from_seconds(ends),
            now,
        });
    }
    Ok(())
}

pub fn challenge(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    job_id: u64,
    seq: u32,
    claimed: Vec<HexHash>,
    salt: HexHash,
) -> Result<Response, ContractError> {
    let Opening {
        config,
        mut dispute,
        job,
        result,
        now,
    } = opening(deps.storage, &env, &info, job_id, seq)?;
    let model = model_of(deps.storage, &job)?;
    if claimed.len() != model.layers as usize {
        return Err(ContractError::HashCount {
            job_id,
            count: claimed.len(),
            layers: model.layers,
        });
    }
    let list = hashes(&claimed);
    let opened = challenge_commitment(info.sender.as_str(), job_id, &list, &salt.0);
    if opened != dispute.commitment.0 {
        return Err(ContractError::CommitmentMismatch { job_id, seq });
    }
    if hashes_commitment(&list) == Some(result.commitment) {
        return Err(ContractError::NoDivergence { job_id });
    }
    let reveal_deadline = now.plus_seconds(config.params.reveal_timeout);
    dispute.challenger_hashes = claimed;
    dispute.opened_at = Some(now);
    dispute.reveal_deadline = Some(reveal_deadline);
    DISPUTES.save(deps.storage, (job_id, seq), &dispute)?;
    Ok(Response::new()
        .add_attribute("action", "challenge")
        .add_attribute("job_id", job_id.to_string())
        .add_attribute("seq", seq.to_string())
        .add_attribute("worker", dispute.worker)
        .add_attribute("challenger", info.sender)
        .add_attribute("reveal_deadline", reveal_deadline.seconds().to_string()))
}

/// `h_0`: the hash of the job's input.
fn input_hash(store: &dyn Storage, job_id: u64) -> Result<Hash, ContractError> {
    Ok(match INPUTS.load(store, job_id)? {
        StoredInput::Inline(data) => activation_hash(0, &to_i8(&data)),
        StoredInput::Blob { hash, .. } => hash,
        // Graph model jobs never reach the version 1 game (their model is refused first).
        StoredInput::Tokens { .. } => {
            return Err(ContractError::Eval(
                "a token input has no version 1 hash".to_string(),
            ))
        }
    })
}

pub fn reveal(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    job_id: u64,
    seq: u32,
    worker_hashes: Vec<HexHash>,
    activation: Binary,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let mut dispute = revealing(deps.storage, &env, &info, job_id, seq)?;
    let now = env.block.time;
    let job = load_job(deps.storage, job_id)?;
    let result = RESULTS.load(deps.storage, job_id)?;
    let model = model_of(deps.storage, &job)?;
    let list = hashes(&worker_hashes);
    if list.len() != model.layers as usize || hashes_commitment(&list) != Some(result.commitment) {
        return Err(ContractError::RevealMismatch { job_id });
    }
    let theirs = hashes(&dispute.challenger_hashes);
    // The lists differ (the challenge was refused otherwise): `L` exists.
    let Some(first) = list.iter().zip(&theirs).position(|(a, b)| a != b) else {
        return Err(ContractError::NoDivergence { job_id });
    };
    let layer = first as u32 + 1;
    let plan = plan(&model)?;
    let expected = plan
        .layers
        .get(first)
        .map(|lp| lp.output.len())
        .ok_or(ContractError::Eval(format!("layer {layer} does not exist")))?;
    if activation.len() != expected {
        return Err(ContractError::ActivationLen {
            index: layer,
            layer,
            len: activation.len(),
            expected,
        });
    }
    if activation_hash(layer, &to_i8(&activation)) != list[first] {
        return Err(ContractError::ActivationMismatch { index: layer });
    }
    let agreed = match first.checked_sub(1) {
        None => input_hash(deps.storage, job_id)?,
        Some(i) => list[i],
    };
    let resolve_deadline = now.plus_seconds(config.params.resolve_timeout);
    dispute.layer = Some(layer);
    dispute.agreed_hash = Some(HexHash(agreed));
    dispute.revealed = Some(activation);
    dispute.resolve_deadline = Some(resolve_deadline);
    DISPUTES.save(deps.storage, (job_id, seq), &dispute)?;
    Ok(Response::new()
        .add_attribute("action", "reveal")
        .add_attribute("job_id", job_id.to_string())
        .add_attribute("seq", seq.to_string())
        .add_attribute("layer", layer.to_string())
        .add_attribute("worker", info.sender)
        .add_attribute("resolve_deadline", resolve_deadline.seconds().to_string()))
}

#[allow(clippy::too_many_arguments)]
pub fn resolve(
    deps: DepsMut,
    env: Env,
    job_id: u64,
    seq: u32,
    unit: u32,
    input: Binary,
    leaf: Option<Leaf>,
    proof: Option<Proof>,
) -> Result<Response, ContractError> {
    let dispute = open_dispute(deps.storage, job_id, seq)?;
    let (Some(revealed), Some(deadline), Some(layer), Some(agreed)) = (
        &dispute.revealed,
        dispute.resolve_deadline,
        dispute.layer,
        dispute.agreed_hash,
    ) else {
        return Err(wrong_state(job_id, seq, "unrevealed", "revealed"));
    };
    check_deadline(&env, job_id, "the resolve period", deadline)?;
    let job = load_job(deps.storage, job_id)?;
    let model = model_of(deps.storage, &job)?;
    let plan = plan(&model)?;
    let core_layer = layer.saturating_sub(1) as usize;
    let input = to_i8(&input);
    let expected = plan
        .layers
        .get(core_layer)
        .map(|lp| lp.input.len())
        .ok_or(ContractError::Eval(format!("layer {layer} does not exist")))?;
    if input.len() != expected {
        return Err(ContractError::ActivationLen {
            index: layer - 1,
            layer,
            len: input.len(),
            expected,
        });
    }
    if activation_hash(layer - 1, &input) != agreed.0 {
        return Err(ContractError::ActivationMismatch { index: layer - 1 });
    }
    if let Some(leaf_unit) = plan.leaf_unit(core_layer, unit) {
        let (Some(leaf), Some(proof)) = (&leaf, &proof) else {
            return Err(ContractError::LeafRequired { layer });
        };
        let expected = plan
            .leaf_index(core_layer, leaf_unit)
            .ok_or(ContractError::Eval(format!("no leaf for unit {unit}")))?;
        if proof.index != expected {
            return Err(ContractError::WrongProofIndex {
                found: proof.index,
                expected,
            });
        }
        proof
            .verify(&model.weights_root.0, &leaf.hash(), plan.total_leaves)
            .map_err(|e| ContractError::Proof(e.to_string()))?;
    }
    let value = eval_unit(&model.spec, &plan, core_layer, &input, unit, leaf.as_ref())
        .map_err(|e| ContractError::Eval(e.to_string()))?;
    let claimed = to_i8(revealed).get(unit as usize).copied();
    if claimed == Some(value) {
        return Err(ContractError::NoMismatch {
            job_id,
            unit,
            value,
        });
    }
    slash(
        deps.storage,
        &env,
        job_id,
        dispute,
        DisputeOutcome::WorkerSlashed { unit },
    )
}

/// The worker lied (or went silent): its collateral pays the reward of the earliest challenge
/// that made the same claim as `winner`, the rest goes to the treasury; every open challenge
/// of the result gets its bond back; the job is served again or refunded.
pub(crate) fn slash(
    store: &mut dyn Storage,
    env: &Env,
    job_id: u64,
    winner: Dispute,
    outcome: DisputeOutcome,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(store)?;
    let mut job = load_job(store, job_id)?;
    let before = Before::of(&job);
    let result = RESULTS.load(store, job_id)?;
    let terms = job.terms.ok_or(ContractError::WrongJobStatus {
        job_id,
        status: "disputed without terms",
        expected: JobStatus::Disputed.key(),
    })?;
    let collateral = job.collateral;
    let mut w = load_worker(store, &winner.worker)?;
    w.locked = w.locked.checked_sub(collateral)?;
    w.stake = w.stake.checked_sub(collateral)?;
    w.jobs_slashed = w.jobs_slashed.saturating_add(1);
    let old = w.tier;
    save_worker(store, &winner.worker, w, old)?;

    // The result's challenges: at most `max_disputes`, from its first.
    let challenges: Vec<Dispute> = DISPUTES
        .prefix(job_id)
        .range(
            store,
            Some(cw_storage_plus::Bound::inclusive(result.first_dispute)),
            None,
            Order::Ascending,
        )
        .take(config.params.max_disputes as usize)
        .map(|r| r.map(|(_, d)| d))
        .collect::<Result<_, _>>()?;
    let rewarded = challenges
        .iter()
        .filter(|d| d.is_open() && d.opened_at.is_some())
        .find(|d| d.challenger_hashes == winner.challenger_hashes)
        .map_or(winner.seq, |d| d.seq);
    let reward = bps(collateral, u32::from(terms.challenger_reward_bps));
    let mut bonds = Uint128::zero();
    let mut paid_to = winner.challenger.clone();
    for mut d in challenges.into_iter().filter(Dispute::is_open) {
        bonds = bonds.checked_add(d.bond)?;
        let mut paid = d.bond;
        if d.seq == rewarded {
            paid = paid.checked_add(reward)?;
            paid_to = d.challenger.clone();
        }
        ledger::credit(store, &d.challenger, paid)?;
        d.outcome = Some(if d.seq == winner.seq {
            outcome.clone()
        } else {
            DisputeOutcome::Moot
        });
        if d.seq == rewarded && d.seq != winner.seq {
            // The earlier challenge made the same claim: it wins as if it had resolved.
            d.outcome = Some(outcome.clone());
        }
        DISPUTES.save(store, (job_id, d.seq), &d)?;
    }
    let to_treasury = collateral.checked_sub(reward)?;
    ledger::update_totals(store, |t| {
        t.stakes = t.stakes.checked_sub(collateral)?;
        t.bonds = t.bonds.checked_sub(bonds)?;
        t.treasury = t.treasury.checked_add(to_treasury)?;
        Ok(())
    })?;
    requeue_or_refund(
        store,
        env,
        &config.params,
        job_id,
        &mut job,
        &before,
        EndReason::WorkerSlashedAfterDeadline,
    )?;
    Ok(Response::new()
        .add_attribute("action", "slash")
        .add_attribute("job_id", job_id.to_string())
        .add_attribute("seq", winner.seq.to_string())
        .add_attribute("worker", winner.worker)
        .add_attribute("challenger", paid_to)
        .add_attribute("amount", collateral)
        .add_attribute("reward", reward)
        .add_attribute(
            "outcome",
            match outcome {
                DisputeOutcome::WorkerSlashed { .. } => "worker_slashed",
                _ => "reveal_withheld",
            },
        )
        .add_attribute("job_status", job.status.key()))
}

pub fn claim_timeout(
    deps: DepsMut,
    env: Env,
    job_id: u64,
    seq: u32,
) -> Result<Response, ContractError> {
    let dispute = open_dispute(deps.storage, job_id, seq)?;
    let now = env.block.time;
    let job = load_job(deps.storage, job_id)?;
    let (outcome, at) = match (dispute.reveal_deadline, dispute.resolve_deadline) {
        // Committed, never opened: too late once the window closed.
        (None, _) => {
            let result = RESULTS.load(deps.storage, job_id)?;
            (
                DisputeOutcome::NeverOpened,
                Timestamp::from_seconds(result.challenge_ends),
            )
        }
        (Some(reveal), None) => (DisputeOutcome::RevealWithheld, reveal),
        (Some(_), Some(resolve)) => (DisputeOutcome::ChallengeFailed, resolve),
    };
    let due = match outcome {
        DisputeOutcome::NeverOpened => now >= at,
        _ => now > at,
    };
    if !due {
        return Err(ContractError::TooEarly {
            job_id,
            what: match outcome {
                DisputeOutcome::NeverOpened => "the challenge window",
                DisputeOutcome::RevealWithheld => "the reveal period",
                _ => "the resolve period",
            },
            at,
            now,
        });
    }
    if outcome == DisputeOutcome::RevealWithheld {
        return slash(deps.storage, &env, job_id, dispute, outcome);
    }
    fail_challenge(deps.storage, job_id, job, dispute, outcome)
}

/// The challenge failed (or was never opened): its bond pays the worker its share for its
/// trouble and the treasury the rest, so a challenge known to be wrong always costs.
pub(crate) fn fail_challenge(
    store: &mut dyn Storage,
    job_id: u64,
    job: JobRecord,
    mut dispute: Dispute,
    outcome: DisputeOutcome,
) -> Result<Response, ContractError> {
    let seq = dispute.seq;
    let terms = job.terms.ok_or(ContractError::WrongJobStatus {
        job_id,
        status: "disputed without terms",
        expected: JobStatus::Disputed.key(),
    })?;
    let to_worker = bps(dispute.bond, u32::from(terms.failed_bond_to_worker_bps));
    let to_treasury = dispute.bond.checked_sub(to_worker)?;
    ledger::update_totals(store, |t| {
        t.bonds = t.bonds.checked_sub(dispute.bond)?;
        t.treasury = t.treasury.checked_add(to_treasury)?;
        Ok(())
    })?;
    ledger::credit(store, &dispute.worker, to_worker)?;
    dispute.outcome = Some(outcome.clone());
    DISPUTES.save(store, (job_id, seq), &dispute)?;
    let mut job = job;
    let before = Before::of(&job);
    job.open_disputes = job.open_disputes.saturating_sub(1);
    if job.open_disputes == 0 {
        // The result stands; its window was never reopened, so it is final as soon as the
        // window is over.
        job.status = JobStatus::Posted;
    }
    store_job(store, job_id, &before, &job)?;
    Ok(Response::new()
        .add_attribute("action", "challenge_failed")
        .add_attribute("job_id", job_id.to_string())
        .add_attribute("seq", seq.to_string())
        .add_attribute("worker", dispute.worker)
        .add_attribute("challenger", dispute.challenger)
        .add_attribute("amount", dispute.bond)
        .add_attribute("job_status", job.status.key()))
}
