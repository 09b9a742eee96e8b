//! The life of a job: submitted (its fee escrowed), claimed by a worker (collateral locked,
//! terms fixed), posted (a result and its commitment), finalized once its window closes (the
//! worker paid), or given back: expired, released, cancelled, refunded. A job that keeps
//! failing is refunded after `max_attempts`, and every job ends by its capped deadline plus
//! the bounded times of its last claim, window and disputes.

use cosmwasm_std::{
    to_json_binary, Addr, Binary, DepsMut, Env, MessageInfo, Order, Response, Storage, Uint128,
};
use tavdun_core::bytes::to_i8;
use tavdun_core::graph::{decode_values, node_tree, split_hashes, trace_root, TokenInput};
use tavdun_core::{activation_hash, result_commitment, Hash};
use tavdun_market_api::{
    Config, EndReason, GraphResultMsg, JobInput, JobRequest, JobResultMsg, JobStatus, JobTerms,
    Params,
};

use crate::error::ContractError;
use crate::ledger::{self, bps, Payouts};
use crate::models::{load_registered, registered_at, Registered};
use crate::state::{
    load_input, queue_key, status_key, JobRecord, PostedResult, StoredInput, BY_CLIENT, BY_STATUS,
    CONFIG, HELD, INPUTS, JOBS, NEXT_JOB_ID, QUEUE, RESULTS,
};
use crate::workers::{load_worker, save_worker, store_worker, tier_of};

const MAX_URI_LEN: usize = 512;
/// Stale jobs (past their deadline) a claim refunds on its way at most: the scan stays a few
/// entries whatever the queue holds, and the rest drain over later claims or `RefundExpired`.
pub const MAX_STALE_REFUNDS: usize = 4;

pub fn load_job(store: &dyn Storage, job_id: u64) -> Result<JobRecord, ContractError> {
    JOBS.may_load(store, job_id)?
        .ok_or(ContractError::JobNotFound { job_id })
}

pub fn expect_status(
    job_id: u64,
    job: &JobRecord,
    expected: JobStatus,
) -> Result<(), ContractError> {
    if job.status != expected {
        return Err(ContractError::WrongJobStatus {
            job_id,
            status: job.status.key(),
            expected: expected.key(),
        });
    }
    Ok(())
}

/// Who holds a job in this state: its worker while claimed, posted or disputed.
fn holder(job: &JobRecord) -> Option<&Addr> {
    match job.status {
        JobStatus::Claimed | JobStatus::Posted | JobStatus::Disputed => job.worker.as_ref(),
        _ => None,
    }
}

/// A job's status and holder before a transition, so that [`store_job`] moves its index
/// entries only when they change.
pub struct Before {
    status: JobStatus,
    holder: Option<Addr>,
}

impl Before {
    pub fn of(job: &JobRecord) -> Before {
        Before {
            status: job.status,
            holder: holder(job).cloned(),
        }
    }
}

/// Writes a job's record and keeps the status index and the workers' holdings in step.
pub fn store_job(
    store: &mut dyn Storage,
    job_id: u64,
    before: &Before,
    job: &JobRecord,
) -> Result<(), ContractError> {
    JOBS.save(store, job_id, job)?;
    if before.status != job.status {
        if let Some(k) = status_key(before.status) {
            BY_STATUS.remove(store, (k, job_id));
        }
        if let Some(k) = status_key(job.status) {
            BY_STATUS.save(store, (k, job_id), &())?;
        }
    }
    let now_held = holder(job);
    if before.holder.as_ref() != now_held {
        if let Some(w) = &before.holder {
            HELD.remove(store, (w, job_id));
        }
        if let Some(w) = now_held {
            HELD.save(store, (w, job_id), &())?;
        }
    }
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

/// An input the model can take: int8 values (inline, of the model's input size, or a blob)
/// for a version 1 model; token ids and a mask for a graph model.
fn check_input(params: &Params, model: &Registered, input: &JobInput) -> Result<(), ContractError> {
    match (model, input) {
        (Registered::Chain(m), JobInput::Inline { data }) => {
            if data.len() > params.max_input_bytes as usize {
                return Err(ContractError::TooLong {
                    field: "input",
                    len: data.len(),
                    max: params.max_input_bytes as usize,
                });
            }
            if data.len() != m.input_len as usize {
                return Err(ContractError::InputLen {
                    model_id: m.model_id.clone(),
                    len: data.len(),
                    expected: m.input_len as usize,
                });
            }
        }
        (Registered::Chain(_), JobInput::Blob { uri, .. }) => {
            if uri.len() > MAX_URI_LEN {
                return Err(ContractError::TooLong {
                    field: "input uri",
                    len: uri.len(),
                    max: MAX_URI_LEN,
                });
            }
        }
        (Registered::Graph(m), JobInput::Tokens { ids, mask }) => {
            let invalid = |reason: String| ContractError::InvalidTokens {
                model_id: m.model_id.clone(),
                reason,
            };
            if ids.is_empty() || ids.len() > m.max_tokens as usize {
                return Err(invalid(format!(
                    "{} tokens; the model takes 1 to {}",
                    ids.len(),
                    m.max_tokens
                )));
            }
            if mask.len() != ids.len() {
                return Err(invalid(format!(
                    "{} mask bytes for {} tokens",
                    mask.len(),
                    ids.len()
                )));
            }
            if let Some(id) = ids.iter().find(|&&id| id >= m.vocab) {
                return Err(invalid(format!(
                    "token id {id} is outside the vocabulary of {}",
                    m.vocab
                )));
            }
            if let Some(b) = mask.iter().find(|&&b| b > 1) {
                return Err(invalid(format!("mask byte {b} is not 0 or 1")));
            }
        }
        (Registered::Chain(m), JobInput::Tokens { .. }) => {
            return Err(ContractError::WrongModelVersion {
                model_id: m.model_id.clone(),
                version: 1,
            })
        }
        // A graph job's input is on chain: a dispute recomputes from its ids and mask.
        (Registered::Graph(m), JobInput::Inline { .. } | JobInput::Blob { .. }) => {
            return Err(ContractError::WrongModelVersion {
                model_id: m.model_id.clone(),
                version: 2,
            })
        }
    }
    Ok(())
}

/// Ends a job by giving what is left of its fee back to the client.
fn refund(
    store: &mut dyn Storage,
    job_id: u64,
    job: &mut JobRecord,
    before: &Before,
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
    store_job(store, job_id, before, job)
}

/// After a claim ended without an accepted result (expired, slashed, released): the job goes
/// back to the queue with its fee still escrowed, or is refunded when its deadline passed or
/// it has failed `max_attempts` times.
pub fn requeue_or_refund(
    store: &mut dyn Storage,
    env: &Env,
    params: &Params,
    job_id: u64,
    job: &mut JobRecord,
    before: &Before,
    late_reason: EndReason,
) -> Result<(), ContractError> {
    job.worker = None;
    job.collateral = Uint128::zero();
    job.claim_expires = None;
    job.terms = None;
    job.challenges = 0;
    job.open_disputes = 0;
    job.attempts = job.attempts.saturating_add(1);
    if env.block.time.seconds() >= job.deadline {
        return refund(store, job_id, job, before, JobStatus::Refunded, late_reason);
    }
    if job.attempts >= params.max_attempts {
        let reason = match late_reason {
            EndReason::InputUnavailable => EndReason::InputUnavailable,
            _ => EndReason::TooManyAttempts,
        };
        return refund(store, job_id, job, before, JobStatus::Refunded, reason);
    }
    job.status = JobStatus::Open;
    QUEUE.save(store, (job.model, queue_key(job.fee), job_id), &())?;
    store_job(store, job_id, before, job)
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
    let now = env.block.time;
    let latest = now.plus_seconds(config.params.max_deadline);
    let mut next_id = NEXT_JOB_ID.may_load(deps.storage)?.unwrap_or(1);
    let first_id = next_id;
    // Requests of one batch are usually for one model: load it once.
    let mut model: Option<Registered> = None;
    for r in requests {
        if model.as_ref().is_none_or(|m| m.model_id() != r.model_id) {
            model = Some(load_registered(deps.storage, &r.model_id)?);
        }
        let Some(m) = model.as_ref() else {
            return Err(ContractError::ModelNotFound {
                model_id: r.model_id,
            });
        };
        if !m.active() {
            return Err(ContractError::ModelInactive {
                model_id: r.model_id,
            });
        }
        if r.fee.is_zero() || r.fee < m.min_fee() {
            return Err(ContractError::FeeTooLow {
                fee: r.fee,
                min_fee: m.min_fee(),
            });
        }
        if r.deadline <= now {
            return Err(ContractError::DeadlineInPast {
                deadline: r.deadline,
                now,
            });
        }
        if r.deadline > latest {
            return Err(ContractError::DeadlineTooFar {
                deadline: r.deadline,
                now,
                max_secs: config.params.max_deadline,
            });
        }
        check_input(&config.params, m, &r.input)?;
        let job = JobRecord {
            client: client.clone(),
            model: m.index(),
            fee: r.fee,
            deadline: r.deadline.seconds(),
            created_at: now.seconds(),
            status: JobStatus::Open,
            worker: None,
            collateral: Uint128::zero(),
            claim_expires: None,
            terms: None,
            attempts: 0,
            challenges: 0,
            open_disputes: 0,
            dispute_seq: 0,
            end_reason: None,
        };
        // The input is written once and never again: transitions rewrite only the record.
        INPUTS.save(deps.storage, next_id, &StoredInput::from(&r.input))?;
        JOBS.save(deps.storage, next_id, &job)?;
        QUEUE.save(deps.storage, (job.model, queue_key(job.fee), next_id), &())?;
        BY_CLIENT.save(deps.storage, (&client, next_id), &())?;
        next_id = next_id
            .checked_add(1)
            .ok_or(ContractError::Empty("job id space exhausted"))?;
    }
    NEXT_JOB_ID.save(deps.storage, &next_id)?;
    ledger::update_totals(deps.storage, |t| {
        t.job_fees = t.job_fees.checked_add(sent)?;
        Ok(())
    })?;
    let ids: Vec<u64> = (first_id..next_id).collect();
    let mut res = Response::new()
        .add_attribute("action", "submit_jobs")
        .add_attribute("client", client)
        .add_attribute("amount", sent);
    for id in &ids {
        res = res.add_attribute("job_id", id.to_string());
    }
    Ok(res.set_data(to_json_binary(&ids)?))
}

pub fn claim_jobs(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    model_id: String,
    max: u32,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let params = &config.params;
    let mut w = load_worker(deps.storage, &info.sender)?;
    let model = load_registered(deps.storage, &model_id)?;
    // An inactive model's weights may be withdrawn: its open jobs wait for reactivation,
    // cancellation or their deadline.
    if !model.active() {
        return Err(ContractError::ModelInactive { model_id });
    }
    // The tier under the parameters in force now, not the one stored at the last bond.
    let tier = tier_of(params, &w);
    if tier < model.min_tier() {
        return Err(ContractError::TierTooLow {
            tier,
            min_tier: model.min_tier(),
        });
    }
    if max == 0 {
        return Err(ContractError::Empty("max is zero"));
    }
    if max > params.max_batch {
        return Err(ContractError::BatchTooLarge {
            len: max as usize,
            max: params.max_batch,
        });
    }
    let free = w.free_stake();
    let keys: Vec<(u128, u64)> = QUEUE
        .sub_prefix(model.index())
        .keys(deps.storage, None, None, Order::Ascending)
        .take(max as usize + MAX_STALE_REFUNDS)
        .collect::<Result<_, _>>()?;
    let now = env.block.time;
    let terms = JobTerms {
        protocol_fee_bps: params.protocol_fee_bps,
        challenger_reward_bps: params.challenger_reward_bps,
        failed_bond_to_worker_bps: params.failed_bond_to_worker_bps,
        liveness_penalty: params.liveness_penalty,
    };
    let claim_expires = now.plus_seconds(params.claim_timeout).seconds();
    let mut claimed = Vec::new();
    let mut refunded = 0usize;
    let mut locked = Uint128::zero();
    for (fee_key, id) in keys {
        if claimed.len() >= max as usize {
            break;
        }
        let mut job = load_job(deps.storage, id)?;
        let before = Before::of(&job);
        if job.deadline <= now.seconds() {
            if refunded == MAX_STALE_REFUNDS {
                break;
            }
            QUEUE.remove(deps.storage, (model.index(), fee_key, id));
            refund(
                deps.storage,
                id,
                &mut job,
                &before,
                JobStatus::Refunded,
                EndReason::DeadlineUnclaimed,
            )?;
            refunded += 1;
            continue;
        }
        let collateral = params.collateral_for(job.fee);
        let after = locked.checked_add(collateral)?;
        if after > free {
            if claimed.is_empty() && refunded == 0 {
                return Err(ContractError::InsufficientFreeStake {
                    free,
                    needed: collateral,
                });
            }
            break;
        }
        locked = after;
        QUEUE.remove(deps.storage, (model.index(), fee_key, id));
        job.status = JobStatus::Claimed;
        job.worker = Some(info.sender.clone());
        job.collateral = collateral;
        job.claim_expires = Some(claim_expires);
        job.terms = Some(terms);
        store_job(deps.storage, id, &before, &job)?;
        claimed.push(id);
    }
    w.locked = w.locked.checked_add(locked)?;
    store_worker(deps.storage, &info.sender, &w)?;
    let mut res = Response::new()
        .add_attribute("action", "claim_jobs")
        .add_attribute("model_id", model_id)
        .add_attribute("worker", info.sender)
        .add_attribute("claimed", claimed.len().to_string())
        .add_attribute("refunded_stale", refunded.to_string())
        .add_attribute("amount", locked)
        .add_attribute("claim_expires", claim_expires.to_string());
    for id in &claimed {
        res = res.add_attribute("job_id", id.to_string());
    }
    Ok(res.set_data(to_json_binary(&claimed)?))
}

/// A result of either version, checked against its job's model into what is stored: the
/// output and the commitment.
pub trait ResultMsg {
    fn job_id(&self) -> u64;
    fn into_posted(
        self,
        store: &dyn Storage,
        model: &Registered,
    ) -> Result<(Binary, Hash), ContractError>;
}

impl ResultMsg for JobResultMsg {
    fn job_id(&self) -> u64 {
        self.job_id
    }

    fn into_posted(
        self,
        _store: &dyn Storage,
        model: &Registered,
    ) -> Result<(Binary, Hash), ContractError> {
        let Registered::Chain(m) = model else {
            return Err(ContractError::WrongModelVersion {
                model_id: model.model_id().to_string(),
                version: 2,
            });
        };
        if self.output.len() != m.output_len as usize {
            return Err(ContractError::OutputLen {
                job_id: self.job_id,
                len: self.output.len(),
                expected: m.output_len,
            });
        }
        // The output is bound to the commitment through its own hash, computed here.
        let last = activation_hash(m.layers, &to_i8(&self.output));
        let commitment = result_commitment(m.layers, &self.trace_prefix.0, &last);
        Ok((self.output, commitment))
    }
}

impl ResultMsg for GraphResultMsg {
    fn job_id(&self) -> u64 {
        self.job_id
    }

    fn into_posted(
        self,
        store: &dyn Storage,
        model: &Registered,
    ) -> Result<(Binary, Hash), ContractError> {
        let Registered::Graph(m) = model else {
            return Err(ContractError::WrongModelVersion {
                model_id: model.model_id().to_string(),
                version: 1,
            });
        };
        let job_id = self.job_id;
        let values = decode_values(m.output_dtype, &self.output)
            .filter(|v| v.len() == m.output_len as usize)
            .ok_or(ContractError::OutputLen {
                job_id,
                len: self.output.len(),
                expected: m.output_len * m.output_dtype.bytes() as u32,
            })?;
        let roots = split_hashes(&self.node_roots).ok_or(ContractError::HashBytes {
            field: "node_roots",
            len: self.node_roots.len(),
        })?;
        if roots.len() != m.nodes as usize {
            return Err(ContractError::HashCount {
                job_id,
                count: roots.len(),
                layers: m.nodes,
            });
        }
        // The output is bound to the trace through the output node's root, computed here
        // (its shape is fixed, so one tree of a few rows).
        let last = m.nodes - 1;
        if node_tree(last, m.output_dtype, m.output_width, &values).root() != roots[last as usize] {
            return Err(ContractError::OutputHashMismatch { job_id });
        }
        let input = token_input(store, job_id)?;
        Ok((self.output, trace_root(&input, &roots)))
    }
}

/// The stored token input of a graph model job.
pub fn token_input(store: &dyn Storage, job_id: u64) -> Result<TokenInput, ContractError> {
    load_input(store, job_id)?
        .token_input()
        .ok_or(ContractError::WrongJobStatus {
            job_id,
            status: "a job without token input",
            expected: "a graph model job",
        })
}

pub fn post_results<R: ResultMsg>(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    results: Vec<R>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    check_batch(&config, &results)?;
    let now = env.block.time;
    let challenge_ends = now.plus_seconds(config.params.challenge_window);
    let mut model: Option<Registered> = None;
    let mut res = Response::new()
        .add_attribute("action", "post_results")
        .add_attribute("worker", info.sender.as_str());
    for r in results {
        let job_id = r.job_id();
        let mut job = load_job(deps.storage, job_id)?;
        let before = Before::of(&job);
        expect_status(job_id, &job, JobStatus::Claimed)?;
        if job.worker.as_ref() != Some(&info.sender) {
            return Err(ContractError::NotJobWorker { job_id });
        }
        if let Some(at) = job.claim_expires.filter(|&at| now.seconds() > at) {
            return Err(ContractError::TooLate {
                job_id,
                what: "the claim",
                at: cosmwasm_std::Timestamp::from_seconds(at),
                now,
            });
        }
        if model.as_ref().is_none_or(|m| m.index() != job.model) {
            model = Some(registered_at(deps.storage, job.model)?);
        }
        let Some(m) = model.as_ref() else {
            return Err(ContractError::JobNotFound { job_id });
        };
        let (output, commitment) = r.into_posted(deps.storage, m)?;
        RESULTS.save(
            deps.storage,
            job_id,
            &PostedResult {
                output: output.to_vec(),
                commitment,
                posted_at: now.seconds(),
                challenge_ends: challenge_ends.seconds(),
                first_dispute: job.dispute_seq,
            },
        )?;
        job.status = JobStatus::Posted;
        job.claim_expires = Some(challenge_ends.seconds());
        job.challenges = 0;
        store_job(deps.storage, job_id, &before, &job)?;
        res = res.add_attribute("job_id", job_id.to_string());
    }
    Ok(res.add_attribute("challenge_ends", challenge_ends.seconds().to_string()))
}

/// Per-worker changes of one message, written once per worker at its end.
#[derive(Default)]
struct WorkerChanges(Vec<(Addr, Uint128, u64)>);

impl WorkerChanges {
    fn add(&mut self, worker: &Addr, unlock: Uint128, done: u64) -> Result<(), ContractError> {
        match self.0.iter_mut().find(|(a, ..)| a == worker) {
            Some((_, u, d)) => {
                *u = u.checked_add(unlock)?;
                *d = d.saturating_add(done);
            }
            None => self.0.push((worker.clone(), unlock, done)),
        }
        Ok(())
    }

    fn apply(self, store: &mut dyn Storage) -> Result<(), ContractError> {
        for (addr, unlock, done) in self.0 {
            let mut w = load_worker(store, &addr)?;
            w.locked = w.locked.checked_sub(unlock)?;
            w.jobs_done = w.jobs_done.saturating_add(done);
            store_worker(store, &addr, &w)?;
        }
        Ok(())
    }
}

pub fn finalize(deps: DepsMut, env: Env, job_ids: Vec<u64>) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    check_batch(&config, &job_ids)?;
    let now = env.block.time.seconds();
    let mut payouts = Payouts::default();
    let mut workers = WorkerChanges::default();
    let (mut fees, mut protocol) = (Uint128::zero(), Uint128::zero());
    let mut res = Response::new().add_attribute("action", "finalize");
    for id in job_ids {
        let mut job = load_job(deps.storage, id)?;
        let before = Before::of(&job);
        expect_status(id, &job, JobStatus::Posted)?;
        let (Some(worker), Some(ends), Some(terms)) =
            (job.worker.clone(), job.claim_expires, job.terms)
        else {
            return Err(ContractError::WrongJobStatus {
                job_id: id,
                status: "posted without a worker",
                expected: JobStatus::Posted.key(),
            });
        };
        if now < ends {
            return Err(ContractError::TooEarly {
                job_id: id,
                what: "the challenge window",
                at: cosmwasm_std::Timestamp::from_seconds(ends),
                now: env.block.time,
            });
        }
        let protocol_fee = bps(job.fee, u32::from(terms.protocol_fee_bps));
        let pay = job.fee.checked_sub(protocol_fee)?;
        fees = fees.checked_add(job.fee)?;
        protocol = protocol.checked_add(protocol_fee)?;
        payouts.credit(&worker, pay)?;
        workers.add(&worker, job.collateral, 1)?;
        job.status = JobStatus::Finalized;
        job.end_reason = Some(EndReason::ResultAccepted);
        store_job(deps.storage, id, &before, &job)?;
        res = res
            .add_attribute("job_id", id.to_string())
            .add_attribute("worker", worker)
            .add_attribute("amount", pay);
    }
    workers.apply(deps.storage)?;
    let credited = payouts.apply(deps.storage)?;
    ledger::update_totals(deps.storage, |t| {
        t.job_fees = t.job_fees.checked_sub(fees)?;
        t.treasury = t.treasury.checked_add(protocol)?;
        t.claimable = t.claimable.checked_add(credited)?;
        Ok(())
    })?;
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
        let before = Before::of(&job);
        expect_status(id, &job, JobStatus::Claimed)?;
        let (Some(at), Some(worker), Some(terms)) =
            (job.claim_expires, job.worker.clone(), job.terms)
        else {
            return Err(ContractError::WrongJobStatus {
                job_id: id,
                status: "claimed without a worker",
                expected: JobStatus::Claimed.key(),
            });
        };
        if now.seconds() <= at {
            return Err(ContractError::TooEarly {
                job_id: id,
                what: "the claim",
                at: cosmwasm_std::Timestamp::from_seconds(at),
                now,
            });
        }
        // The penalty comes out of the stake the claim locked, so it is always there.
        let penalty = terms.liveness_penalty.min(job.collateral);
        let mut w = load_worker(deps.storage, &worker)?;
        w.locked = w.locked.checked_sub(job.collateral)?;
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
            &config.params,
            id,
            &mut job,
            &before,
            EndReason::ClaimExpiredAfterDeadline,
        )?;
        res = res
            .add_attribute("job_id", id.to_string())
            .add_attribute("worker", worker)
            .add_attribute("amount", penalty)
            .add_attribute("job_status", job.status.key());
    }
    Ok(res)
}

/// The worker gives back claimed jobs whose off-chain input it could not fetch. It loses
/// nothing; the client pays `release_fee` (to the treasury, so no worker profits from a
/// false release), and after `max_attempts` failed claims the rest of the fee is refunded.
pub fn release_jobs(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    job_ids: Vec<u64>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    check_batch(&config, &job_ids)?;
    let now = env.block.time;
    let mut unlock = Uint128::zero();
    let mut charged = Uint128::zero();
    let mut res = Response::new()
        .add_attribute("action", "release_jobs")
        .add_attribute("worker", info.sender.as_str());
    for id in job_ids {
        let mut job = load_job(deps.storage, id)?;
        let before = Before::of(&job);
        expect_status(id, &job, JobStatus::Claimed)?;
        if job.worker.as_ref() != Some(&info.sender) {
            return Err(ContractError::NotJobWorker { job_id: id });
        }
        if let Some(at) = job.claim_expires.filter(|&at| now.seconds() > at) {
            return Err(ContractError::TooLate {
                job_id: id,
                what: "the claim",
                at: cosmwasm_std::Timestamp::from_seconds(at),
                now,
            });
        }
        if matches!(INPUTS.load(deps.storage, id)?, StoredInput::Inline(_)) {
            return Err(ContractError::InputIsInline { job_id: id });
        }
        unlock = unlock.checked_add(job.collateral)?;
        let charge = config.params.release_fee.min(job.fee);
        job.fee = job.fee.checked_sub(charge)?;
        charged = charged.checked_add(charge)?;
        ledger::update_totals(deps.storage, |t| {
            t.job_fees = t.job_fees.checked_sub(charge)?;
            t.treasury = t.treasury.checked_add(charge)?;
            Ok(())
        })?;
        requeue_or_refund(
            deps.storage,
            &env,
            &config.params,
            id,
            &mut job,
            &before,
            EndReason::InputUnavailable,
        )?;
        res = res
            .add_attribute("job_id", id.to_string())
            .add_attribute("job_status", job.status.key());
    }
    let mut w = load_worker(deps.storage, &info.sender)?;
    w.locked = w.locked.checked_sub(unlock)?;
    store_worker(deps.storage, &info.sender, &w)?;
    Ok(res.add_attribute("amount", charged))
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
        let before = Before::of(&job);
        if job.client != info.sender {
            return Err(ContractError::NotJobClient { job_id: id });
        }
        expect_status(id, &job, JobStatus::Open)?;
        QUEUE.remove(deps.storage, (job.model, queue_key(job.fee), id));
        refund(
            deps.storage,
            id,
            &mut job,
            &before,
            JobStatus::Cancelled,
            EndReason::CancelledByClient,
        )?;
        res = res
            .add_attribute("job_id", id.to_string())
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
        let before = Before::of(&job);
        expect_status(id, &job, JobStatus::Open)?;
        if env.block.time.seconds() < job.deadline {
            return Err(ContractError::TooEarly {
                job_id: id,
                what: "the job's deadline",
                at: cosmwasm_std::Timestamp::from_seconds(job.deadline),
                now: env.block.time,
            });
        }
        QUEUE.remove(deps.storage, (job.model, queue_key(job.fee), id));
        refund(
            deps.storage,
            id,
            &mut job,
            &before,
            JobStatus::Refunded,
            EndReason::DeadlineUnclaimed,
        )?;
        res = res
            .add_attribute("job_id", id.to_string())
            .add_attribute("amount", job.fee);
    }
    Ok(res)
}
