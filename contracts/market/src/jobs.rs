use cosmwasm_std::{
    to_json_binary, Addr, DepsMut, Env, MessageInfo, Order, Response, Storage, Uint128,
};
use tavdun_core::bytes::to_i8;
use tavdun_core::{activation_hash, HexHash};
use tavdun_market_api::{
    Config, EndReason, Job, JobInput, JobRequest, JobResult, JobResultMsg, JobStatus,
};

use crate::error::ContractError;
use crate::ledger;
use crate::models::load_model;
use crate::state::{jobs, queue_key, CONFIG, NEXT_JOB_ID, QUEUE};
use crate::workers::{load_worker, save_worker};

const MAX_URI_LEN: usize = 512;

pub fn load_job(store: &dyn Storage, job_id: u64) -> Result<Job, ContractError> {
    jobs()
        .may_load(store, job_id)?
        .ok_or(ContractError::JobNotFound { job_id })
}

pub fn expect_status(job: &Job, expected: JobStatus) -> Result<(), ContractError> {
    if job.status != expected {
        return Err(ContractError::WrongJobStatus {
            job_id: job.id,
            status: job.status.key(),
            expected: expected.key(),
        });
    }
    Ok(())
}

pub fn save_job(store: &mut dyn Storage, job: &Job) -> Result<(), ContractError> {
    jobs().save(store, job.id, job)?;
    Ok(())
}

pub fn check_batch<T>(config: &Config, items: &[T]) -> Result<(), ContractError> {
    if items.is_empty() {
        return Err(ContractError::Empty("the batch is empty"));
    }
    if items.len() > config.params.max_batch as usize {
        return Err(ContractError::BatchTooLarge {
            len: items.len(),
            max: config.params.max_batch,
        });
    }
    Ok(())
}

fn enqueue(store: &mut dyn Storage, job: &Job) -> Result<(), ContractError> {
    QUEUE.save(store, (&job.model_id, queue_key(job.fee), job.id), &())?;
    Ok(())
}

fn dequeue(store: &mut dyn Storage, job: &Job) {
    QUEUE.remove(store, (&job.model_id, queue_key(job.fee), job.id));
}

/// Ends a job by giving its whole fee back to the client.
fn refund(
    store: &mut dyn Storage,
    job: &mut Job,
    status: JobStatus,
    reason: EndReason,
) -> Result<(), ContractError> {
    ledger::update_totals(store, |t| {
        t.job_fees = t.job_fees.checked_sub(job.fee)?;
        Ok(())
    })?;
    ledger::credit(store, &job.client, job.fee)?;
    job.status = status;
    job.end_reason = Some(reason);
    save_job(store, job)
}

/// After a failed claim (expired or slashed): the job goes back to the queue with its fee
/// still escrowed, or, past its deadline, the client gets the fee back.
pub fn requeue_or_refund(
    store: &mut dyn Storage,
    env: &Env,
    job: &mut Job,
    late_reason: EndReason,
) -> Result<(), ContractError> {
    job.worker = None;
    job.collateral = Uint128::zero();
    job.claim_expires = None;
    job.result = None;
    job.failed_attempts = job.failed_attempts.saturating_add(1);
    if env.block.time >= job.deadline {
        return refund(store, job, JobStatus::Refunded, late_reason);
    }
    job.status = JobStatus::Open;
    enqueue(store, job)?;
    save_job(store, job)
}

/// Takes `collateral` back off a worker's locked stake.
pub fn unlock(
    store: &mut dyn Storage,
    worker: &Addr,
    collateral: Uint128,
) -> Result<(), ContractError> {
    let mut w = load_worker(store, worker)?;
    w.locked = w.locked.checked_sub(collateral)?;
    let old = w.tier;
    save_worker(store, worker, w, old)?;
    Ok(())
}

pub fn submit(
    deps: DepsMut,
    env: Env,
    client: Addr,
    sent: Uint128,
    requests: Vec<JobRequest>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if config.paused {
        return Err(ContractError::Paused);
    }
    check_batch(&config, &requests)?;
    let mut sum = Uint128::zero();
    for r in &requests {
        sum = sum.checked_add(r.fee)?;
    }
    if sum != sent {
        return Err(ContractError::FeeMismatch { sum, sent });
    }
    let mut next_id = NEXT_JOB_ID.may_load(deps.storage)?.unwrap_or(1);
    let mut ids = Vec::with_capacity(requests.len());
    let mut res = Response::new().add_attribute("action", "submit_jobs");
    for r in requests {
        let model = load_model(deps.storage, &r.model_id)?;
        if !model.active {
            return Err(ContractError::ModelInactive {
                model_id: r.model_id,
            });
        }
        if r.fee.is_zero() || r.fee < model.min_fee {
            return Err(ContractError::FeeTooLow {
                fee: r.fee,
                min_fee: model.min_fee,
            });
        }
        if r.deadline <= env.block.time {
            return Err(ContractError::DeadlineInPast {
                deadline: r.deadline,
                now: env.block.time,
            });
        }
        let input_hash = match &r.input {
            JobInput::Inline { data } => {
                if data.len() > config.params.max_input_bytes as usize {
                    return Err(ContractError::TooLong {
                        field: "input",
                        len: data.len(),
                        max: config.params.max_input_bytes as usize,
                    });
                }
                if data.len() != model.input_len as usize {
                    return Err(ContractError::InputLen {
                        model_id: r.model_id,
                        len: data.len(),
                        expected: model.input_len as usize,
                    });
                }
                HexHash(activation_hash(0, &to_i8(data)))
            }
            JobInput::Blob { hash, uri } => {
                if uri.len() > MAX_URI_LEN {
                    return Err(ContractError::TooLong {
                        field: "input uri",
                        len: uri.len(),
                        max: MAX_URI_LEN,
                    });
                }
                *hash
            }
        };
        let job = Job {
            id: next_id,
            client: client.clone(),
            model_id: r.model_id,
            input: r.input,
            input_hash,
            fee: r.fee,
            deadline: r.deadline,
            created_at: env.block.time,
            status: JobStatus::Open,
            worker: None,
            collateral: Uint128::zero(),
            claim_expires: None,
            result: None,
            failed_attempts: 0,
            end_reason: None,
        };
        enqueue(deps.storage, &job)?;
        save_job(deps.storage, &job)?;
        res = res
            .add_attribute("job_id", job.id.to_string())
            .add_attribute("model_id", &job.model_id)
            .add_attribute("amount", job.fee);
        ids.push(job.id);
        next_id = next_id
            .checked_add(1)
            .ok_or(ContractError::Empty("job id space exhausted"))?;
    }
    NEXT_JOB_ID.save(deps.storage, &next_id)?;
    ledger::update_totals(deps.storage, |t| {
        t.job_fees = t.job_fees.checked_add(sent)?;
        Ok(())
    })?;
    Ok(res
        .add_attribute("client", client)
        .set_data(to_json_binary(&ids)?))
}

pub fn claim_jobs(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    model_id: String,
    max: u32,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let mut w = load_worker(deps.storage, &info.sender)?;
    let model = load_model(deps.storage, &model_id)?;
    // An inactive model's weights may be withdrawn: its open jobs wait for reactivation,
    // cancellation or their deadline.
    if !model.active {
        return Err(ContractError::ModelInactive { model_id });
    }
    if w.tier < model.min_tier {
        return Err(ContractError::TierTooLow {
            tier: w.tier,
            min_tier: model.min_tier,
        });
    }
    if max == 0 {
        return Err(ContractError::Empty("max is zero"));
    }
    if max > config.params.max_batch {
        return Err(ContractError::BatchTooLarge {
            len: max as usize,
            max: config.params.max_batch,
        });
    }
    let collateral = config.params.collateral_per_job;
    let free = w.free_stake();
    let affordable = free.u128() / collateral.u128();
    let want = affordable.min(u128::from(max)) as usize;
    if want == 0 {
        return Err(ContractError::InsufficientFreeStake {
            free,
            needed: collateral,
        });
    }
    // The scan is capped at max_batch entries: stale jobs met on the way are refunded, so
    // a queue full of them drains over a few calls instead of one unbounded one.
    let keys: Vec<(u128, u64)> = QUEUE
        .sub_prefix(&model_id)
        .keys(deps.storage, None, None, Order::Ascending)
        .take(config.params.max_batch as usize)
        .collect::<Result<_, _>>()?;
    let mut claimed = Vec::new();
    let mut refunded = 0u32;
    let claim_expires = env.block.time.plus_seconds(config.params.claim_timeout);
    for (_, id) in keys {
        if claimed.len() >= want {
            break;
        }
        let mut job = load_job(deps.storage, id)?;
        dequeue(deps.storage, &job);
        if job.deadline <= env.block.time {
            refund(
                deps.storage,
                &mut job,
                JobStatus::Refunded,
                EndReason::DeadlineUnclaimed,
            )?;
            refunded += 1;
            continue;
        }
        job.status = JobStatus::Claimed;
        job.worker = Some(info.sender.clone());
        job.collateral = collateral;
        job.claim_expires = Some(claim_expires);
        save_job(deps.storage, &job)?;
        claimed.push(id);
    }
    let locked = collateral.checked_mul(Uint128::from(claimed.len() as u128))?;
    w.locked = w.locked.checked_add(locked)?;
    let old = w.tier;
    save_worker(deps.storage, &info.sender, w, old)?;
    let mut res = Response::new()
        .add_attribute("action", "claim_jobs")
        .add_attribute("model_id", model_id)
        .add_attribute("worker", info.sender)
        .add_attribute("claimed", claimed.len().to_string())
        .add_attribute("refunded_stale", refunded.to_string())
        .add_attribute("amount", locked);
    for id in &claimed {
        res = res.add_attribute("job_id", id.to_string());
    }
    Ok(res.set_data(to_json_binary(&claimed)?))
}

pub fn post_results(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    results: Vec<JobResultMsg>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    check_batch(&config, &results)?;
    let now = env.block.time;
    let challenge_ends = now.plus_seconds(config.params.challenge_window);
    let mut res = Response::new()
        .add_attribute("action", "post_results")
        .add_attribute("worker", info.sender.as_str());
    for r in results {
        let mut job = load_job(deps.storage, r.job_id)?;
        expect_status(&job, JobStatus::Claimed)?;
        if job.worker.as_ref() != Some(&info.sender) {
            return Err(ContractError::NotJobWorker { job_id: job.id });
        }
        if let Some(at) = job.claim_expires.filter(|&at| now > at) {
            return Err(ContractError::TooLate {
                job_id: job.id,
                what: "the claim",
                at,
                now,
            });
        }
        let model = load_model(deps.storage, &job.model_id)?;
        if r.hashes.len() != model.layers as usize {
            return Err(ContractError::HashCount {
                job_id: job.id,
                count: r.hashes.len(),
                layers: model.layers,
            });
        }
        if r.output.len() != model.output_len as usize {
            return Err(ContractError::OutputLen {
                job_id: job.id,
                len: r.output.len(),
                expected: model.output_len,
            });
        }
        let h_n = activation_hash(model.layers, &to_i8(&r.output));
        if r.hashes.last().map(|h| h.0) != Some(h_n) {
            return Err(ContractError::OutputHashMismatch { job_id: job.id });
        }
        job.result = Some(JobResult {
            output: r.output,
            hashes: r.hashes,
            posted_at: now,
            challenge_ends,
        });
        job.status = JobStatus::Posted;
        save_job(deps.storage, &job)?;
        res = res
            .add_attribute("job_id", job.id.to_string())
            .add_attribute("model_id", job.model_id);
    }
    Ok(res.add_attribute("challenge_ends", challenge_ends.seconds().to_string()))
}

pub fn finalize(deps: DepsMut, env: Env, job_ids: Vec<u64>) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    check_batch(&config, &job_ids)?;
    let mut res = Response::new().add_attribute("action", "finalize");
    for id in job_ids {
        let mut job = load_job(deps.storage, id)?;
        expect_status(&job, JobStatus::Posted)?;
        let (Some(result), Some(worker)) = (&job.result, job.worker.clone()) else {
            return Err(ContractError::WrongJobStatus {
                job_id: id,
                status: "posted without a result",
                expected: JobStatus::Posted.key(),
            });
        };
        if env.block.time < result.challenge_ends {
            return Err(ContractError::TooEarly {
                job_id: id,
                what: "the challenge window",
                at: result.challenge_ends,
                now: env.block.time,
            });
        }
        let protocol_fee = job
            .fee
            .multiply_ratio(config.params.protocol_fee_bps, 10_000u128);
        let pay = job.fee.checked_sub(protocol_fee)?;
        ledger::update_totals(deps.storage, |t| {
            t.job_fees = t.job_fees.checked_sub(job.fee)?;
            t.treasury = t.treasury.checked_add(protocol_fee)?;
            Ok(())
        })?;
        ledger::credit(deps.storage, &worker, pay)?;
        let mut w = load_worker(deps.storage, &worker)?;
        w.locked = w.locked.checked_sub(job.collateral)?;
        w.jobs_done = w.jobs_done.saturating_add(1);
        let old = w.tier;
        save_worker(deps.storage, &worker, w, old)?;
        job.status = JobStatus::Finalized;
        job.end_reason = Some(EndReason::ResultAccepted);
        save_job(deps.storage, &job)?;
        res = res
            .add_attribute("job_id", id.to_string())
            .add_attribute("model_id", &job.model_id)
            .add_attribute("worker", worker)
            .add_attribute("amount", pay);
    }
    Ok(res)
}

pub fn expire_claims(
    deps: DepsMut,
    env: Env,
    job_ids: Vec<u64>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    check_batch(&config, &job_ids)?;
    let now = env.block.time;
    let mut res = Response::new().add_attribute("action", "expire_claims");
    for id in job_ids {
        let mut job = load_job(deps.storage, id)?;
        expect_status(&job, JobStatus::Claimed)?;
        let (Some(at), Some(worker)) = (job.claim_expires, job.worker.clone()) else {
            return Err(ContractError::WrongJobStatus {
                job_id: id,
                status: "claimed without a worker",
                expected: JobStatus::Claimed.key(),
            });
        };
        if now <= at {
            return Err(ContractError::TooEarly {
                job_id: id,
                what: "the claim",
                at,
                now,
            });
        }
        let mut w = load_worker(deps.storage, &worker)?;
        w.locked = w.locked.checked_sub(job.collateral)?;
        let penalty = config.params.liveness_penalty.min(w.free_stake());
        w.stake = w.stake.checked_sub(penalty)?;
        w.jobs_expired = w.jobs_expired.saturating_add(1);
        let old = w.tier;
        save_worker(deps.storage, &worker, w, old)?;
        ledger::update_totals(deps.storage, |t| {
            t.stakes = t.stakes.checked_sub(penalty)?;
            t.treasury = t.treasury.checked_add(penalty)?;
            Ok(())
        })?;
        requeue_or_refund(
            deps.storage,
            &env,
            &mut job,
            EndReason::ClaimExpiredAfterDeadline,
        )?;
        res = res
            .add_attribute("job_id", id.to_string())
            .add_attribute("model_id", &job.model_id)
            .add_attribute("worker", worker)
            .add_attribute("amount", penalty)
            .add_attribute("job_status", job.status.key());
    }
    Ok(res)
}

pub fn cancel_jobs(
    deps: DepsMut,
    info: MessageInfo,
    job_ids: Vec<u64>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    check_batch(&config, &job_ids)?;
    let mut res = Response::new().add_attribute("action", "cancel_jobs");
    for id in job_ids {
        let mut job = load_job(deps.storage, id)?;
        if job.client != info.sender {
            return Err(ContractError::NotJobClient { job_id: id });
        }
        expect_status(&job, JobStatus::Open)?;
        dequeue(deps.storage, &job);
        refund(
            deps.storage,
            &mut job,
            JobStatus::Cancelled,
            EndReason::CancelledByClient,
        )?;
        res = res
            .add_attribute("job_id", id.to_string())
            .add_attribute("model_id", &job.model_id)
            .add_attribute("amount", job.fee);
    }
    Ok(res)
}

pub fn refund_expired(
    deps: DepsMut,
    env: Env,
    job_ids: Vec<u64>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    check_batch(&config, &job_ids)?;
    let mut res = Response::new().add_attribute("action", "refund_expired");
    for id in job_ids {
        let mut job = load_job(deps.storage, id)?;
        expect_status(&job, JobStatus::Open)?;
        if env.block.time < job.deadline {
            return Err(ContractError::TooEarly {
                job_id: id,
                what: "the job's deadline",
                at: job.deadline,
                now: env.block.time,
            });
        }
        dequeue(deps.storage, &job);
        refund(
            deps.storage,
            &mut job,
            JobStatus::Refunded,
            EndReason::DeadlineUnclaimed,
        )?;
        res = res
            .add_attribute("job_id", id.to_string())
            .add_attribute("model_id", &job.model_id)
            .add_attribute("amount", job.fee);
    }
    Ok(res)
}
