//! The dispute game: challenge (first divergent layer and its agreed input), reveal (the
//! worker's output of that layer), resolve (one output value recomputed on chain with
//! `tavdun_core::eval_unit` from a Merkle-proven leaf). Every step has a deadline and the
//! silent side loses.

use cosmwasm_std::{Addr, Binary, DepsMut, Env, MessageInfo, Response, Storage, Uint128};
use tavdun_core::bytes::to_i8;
use tavdun_core::{activation_hash, eval_unit, HexHash, Leaf, Proof};
use tavdun_market_api::{Dispute, DisputeOutcome, EndReason, Job, JobStatus};

use crate::error::ContractError;
use crate::jobs::{expect_status, load_job, requeue_or_refund, save_job};
use crate::ledger;
use crate::models::{load_model, plan};
use crate::state::{CONFIG, DISPUTES};
use crate::workers::{load_worker, save_worker};

fn layer_len(
    layers: &[tavdun_core::LayerPlan],
    layer: u32,
    output: bool,
) -> Result<usize, ContractError> {
    let lp = layer
        .checked_sub(1)
        .and_then(|i| layers.get(i as usize))
        .ok_or(ContractError::Eval(format!("layer {layer} does not exist")))?;
    Ok(if output {
        lp.output.len()
    } else {
        lp.input.len()
    })
}

pub fn challenge(
    deps: DepsMut,
    env: Env,
    challenger: Addr,
    sent: Uint128,
    job_id: u64,
    hashes: Vec<HexHash>,
    activation: Binary,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if sent != config.params.challenge_bond {
        return Err(ContractError::WrongBond {
            expected: config.params.challenge_bond,
            sent,
        });
    }
    let mut job = load_job(deps.storage, job_id)?;
    expect_status(&job, JobStatus::Posted)?;
    let (Some(result), Some(worker)) = (job.result.clone(), job.worker.clone()) else {
        return Err(ContractError::WrongJobStatus {
            job_id,
            status: "posted without a result",
            expected: JobStatus::Posted.key(),
        });
    };
    let now = env.block.time;
    if now >= result.challenge_ends {
        return Err(ContractError::TooLate {
            job_id,
            what: "the challenge window",
            at: result.challenge_ends,
            now,
        });
    }
    if challenger == worker {
        return Err(ContractError::SelfChallenge);
    }
    let model = load_model(deps.storage, &job.model_id)?;
    if hashes.len() != result.hashes.len() {
        return Err(ContractError::HashCount {
            job_id,
            count: hashes.len(),
            layers: model.layers,
        });
    }
    let Some(first) = hashes.iter().zip(&result.hashes).position(|(c, w)| c != w) else {
        return Err(ContractError::NoDivergence { job_id });
    };
    // 1-based layer L: both sides agree on activation L-1, which the challenger now shows.
    let layer = first as u32 + 1;
    let plan = plan(&model)?;
    let expected = layer_len(&plan.layers, layer, false)?;
    if activation.len() != expected {
        return Err(ContractError::ActivationLen {
            index: layer - 1,
            layer,
            len: activation.len(),
            expected,
        });
    }
    let agreed = match first.checked_sub(1) {
        None => job.input_hash,
        Some(i) => result.hashes[i],
    };
    if activation_hash(layer - 1, &to_i8(&activation)) != agreed.0 {
        return Err(ContractError::ActivationMismatch { index: layer - 1 });
    }
    let dispute = Dispute {
        job_id,
        worker: worker.clone(),
        challenger: challenger.clone(),
        bond: sent,
        layer,
        input: activation,
        challenger_hash: hashes[first],
        worker_hash: result.hashes[first],
        revealed: None,
        reveal_deadline: now.plus_seconds(config.params.reveal_timeout),
        resolve_deadline: None,
        outcome: None,
    };
    DISPUTES.save(deps.storage, job_id, &dispute)?;
    ledger::update_totals(deps.storage, |t| {
        t.bonds = t.bonds.checked_add(sent)?;
        Ok(())
    })?;
    job.status = JobStatus::Disputed;
    save_job(deps.storage, &job)?;
    Ok(Response::new()
        .add_attribute("action", "challenge")
        .add_attribute("job_id", job_id.to_string())
        .add_attribute("model_id", job.model_id)
        .add_attribute("worker", worker)
        .add_attribute("challenger", challenger)
        .add_attribute("layer", layer.to_string())
        .add_attribute("amount", sent)
        .add_attribute(
            "reveal_deadline",
            dispute.reveal_deadline.seconds().to_string(),
        ))
}

/// The job's open dispute; a job leaves `Disputed` exactly when its dispute gets an outcome.
fn open_dispute(store: &dyn Storage, job_id: u64) -> Result<(Job, Dispute), ContractError> {
    let job = load_job(store, job_id)?;
    let dispute = DISPUTES
        .may_load(store, job_id)?
        .filter(|d| d.outcome.is_none() && job.status == JobStatus::Disputed)
        .ok_or(ContractError::NoOpenDispute { job_id })?;
    Ok((job, dispute))
}

pub fn reveal(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    job_id: u64,
    activation: Binary,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let (job, mut dispute) = open_dispute(deps.storage, job_id)?;
    if info.sender != dispute.worker {
        return Err(ContractError::NotJobWorker { job_id });
    }
    if dispute.revealed.is_some() {
        return Err(ContractError::AlreadyRevealed { job_id });
    }
    let now = env.block.time;
    if now > dispute.reveal_deadline {
        return Err(ContractError::TooLate {
            job_id,
            what: "the reveal period",
            at: dispute.reveal_deadline,
            now,
        });
    }
    let model = load_model(deps.storage, &job.model_id)?;
    let plan = plan(&model)?;
    let expected = layer_len(&plan.layers, dispute.layer, true)?;
    if activation.len() != expected {
        return Err(ContractError::ActivationLen {
            index: dispute.layer,
            layer: dispute.layer,
            len: activation.len(),
            expected,
        });
    }
    if activation_hash(dispute.layer, &to_i8(&activation)) != dispute.worker_hash.0 {
        return Err(ContractError::ActivationMismatch {
            index: dispute.layer,
        });
    }
    let resolve_deadline = now.plus_seconds(config.params.resolve_timeout);
    dispute.revealed = Some(activation);
    dispute.resolve_deadline = Some(resolve_deadline);
    DISPUTES.save(deps.storage, job_id, &dispute)?;
    Ok(Response::new()
        .add_attribute("action", "reveal")
        .add_attribute("job_id", job_id.to_string())
        .add_attribute("model_id", job.model_id)
        .add_attribute("worker", info.sender)
        .add_attribute("resolve_deadline", resolve_deadline.seconds().to_string()))
}

pub fn resolve(
    deps: DepsMut,
    env: Env,
    job_id: u64,
    unit: u32,
    leaf: Option<Leaf>,
    proof: Option<Proof>,
) -> Result<Response, ContractError> {
    let (mut job, dispute) = open_dispute(deps.storage, job_id)?;
    let (Some(revealed), Some(deadline)) = (&dispute.revealed, dispute.resolve_deadline) else {
        return Err(ContractError::NotRevealed { job_id });
    };
    let now = env.block.time;
    if now > deadline {
        return Err(ContractError::TooLate {
            job_id,
            what: "the resolve period",
            at: deadline,
            now,
        });
    }
    let model = load_model(deps.storage, &job.model_id)?;
    let plan = plan(&model)?;
    let core_layer = dispute.layer.saturating_sub(1) as usize;
    if let Some(leaf_unit) = plan.leaf_unit(core_layer, unit) {
        let (Some(leaf), Some(proof)) = (&leaf, &proof) else {
            return Err(ContractError::LeafRequired {
                layer: dispute.layer,
            });
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
    let value = eval_unit(
        &model.spec,
        &plan,
        core_layer,
        &to_i8(&dispute.input),
        unit,
        leaf.as_ref(),
    )
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
        &mut job,
        dispute,
        DisputeOutcome::WorkerSlashed { unit },
    )
}

/// The worker lied (or went silent): its collateral pays the challenger's reward, the rest
/// goes to the treasury, the bond returns to the challenger and the job is served again.
fn slash(
    store: &mut dyn Storage,
    env: &Env,
    job: &mut Job,
    mut dispute: Dispute,
    outcome: DisputeOutcome,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(store)?;
    let collateral = job.collateral;
    let mut w = load_worker(store, &dispute.worker)?;
    w.locked = w.locked.checked_sub(collateral)?;
    w.stake = w.stake.checked_sub(collateral)?;
    w.jobs_slashed = w.jobs_slashed.saturating_add(1);
    let old = w.tier;
    save_worker(store, &dispute.worker, w, old)?;
    let reward = collateral.multiply_ratio(config.params.challenger_reward_bps, 10_000u128);
    let to_treasury = collateral.checked_sub(reward)?;
    ledger::update_totals(store, |t| {
        t.stakes = t.stakes.checked_sub(collateral)?;
        t.bonds = t.bonds.checked_sub(dispute.bond)?;
        t.treasury = t.treasury.checked_add(to_treasury)?;
        Ok(())
    })?;
    let paid = dispute.bond.checked_add(reward)?;
    ledger::credit(store, &dispute.challenger, paid)?;
    dispute.outcome = Some(outcome.clone());
    DISPUTES.save(store, job.id, &dispute)?;
    requeue_or_refund(store, env, job, EndReason::WorkerSlashedAfterDeadline)?;
    Ok(Response::new()
        .add_attribute("action", "slash")
        .add_attribute("job_id", job.id.to_string())
        .add_attribute("model_id", &job.model_id)
        .add_attribute("worker", dispute.worker)
        .add_attribute("challenger", dispute.challenger)
        .add_attribute("amount", collateral)
        .add_attribute("challenger_paid", paid)
        .add_attribute(
            "outcome",
            match outcome {
                DisputeOutcome::WorkerSlashed { .. } => "worker_slashed",
                DisputeOutcome::RevealWithheld => "reveal_withheld",
                DisputeOutcome::ChallengeFailed => "challenge_failed",
            },
        )
        .add_attribute("job_status", job.status.key()))
}

pub fn claim_timeout(deps: DepsMut, env: Env, job_id: u64) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let (mut job, mut dispute) = open_dispute(deps.storage, job_id)?;
    let now = env.block.time;
    let Some(resolve_deadline) = dispute.resolve_deadline else {
        if now <= dispute.reveal_deadline {
            return Err(ContractError::TooEarly {
                job_id,
                what: "the reveal period",
                at: dispute.reveal_deadline,
                now,
            });
        }
        return slash(
            deps.storage,
            &env,
            &mut job,
            dispute,
            DisputeOutcome::RevealWithheld,
        );
    };
    if now <= resolve_deadline {
        return Err(ContractError::TooEarly {
            job_id,
            what: "the resolve period",
            at: resolve_deadline,
            now,
        });
    }
    // Nobody proved the worker wrong: the bond pays the worker for its trouble, and the
    // result gets a fresh window so that a different, honest challenger still can.
    ledger::update_totals(deps.storage, |t| {
        t.bonds = t.bonds.checked_sub(dispute.bond)?;
        Ok(())
    })?;
    ledger::credit(deps.storage, &dispute.worker, dispute.bond)?;
    dispute.outcome = Some(DisputeOutcome::ChallengeFailed);
    DISPUTES.save(deps.storage, job_id, &dispute)?;
    let challenge_ends = now.plus_seconds(config.params.challenge_window);
    if let Some(r) = job.result.as_mut() {
        r.challenge_ends = challenge_ends;
    }
    job.status = JobStatus::Posted;
    save_job(deps.storage, &job)?;
    Ok(Response::new()
        .add_attribute("action", "challenge_failed")
        .add_attribute("job_id", job_id.to_string())
        .add_attribute("model_id", job.model_id)
        .add_attribute("worker", dispute.worker)
        .add_attribute("challenger", dispute.challenger)
        .add_attribute("amount", dispute.bond)
        .add_attribute("challenge_ends", challenge_ends.seconds().to_string()))
}
