//! Every query. A job is assembled from its record, its input and its result; every list is
//! paginated, and a filter without an index examines a bounded number of jobs per page and
//! says where to go on.

use cosmwasm_std::{Binary, Deps, Env, Order, StdResult, Storage, Timestamp};
use cw_storage_plus::Bound;
use tavdun_core::bytes::to_i8;
use tavdun_core::{activation_hash, HexHash};
use tavdun_market_api::{
    ClaimableResponse, ConfigResponse, DiagnosticResponse, DisputeResponse, DisputesResponse,
    GraphModelResponse, GraphModelsResponse, Job, JobFilter, JobInput, JobResponse, JobResult,
    JobStatus, JobsResponse, ModelResponse, ModelsResponse, NotServedReason, QueueCursor,
    StatsResponse, WorkerInfo, WorkerResponse, WorkersResponse, MAX_PAGE,
};

use crate::error::ContractError;
use crate::jobs::load_job;
use crate::ledger;
use crate::models::{load_registered, registered_at};
use crate::state::{
    load_input, queue_key, status_key, JobRecord, BY_CLIENT, BY_STATUS, CONFIG, DISPUTES,
    GRAPH_MODELS, HELD, JOBS, MODELS, MODEL_COUNT, MODEL_IDS, NEXT_JOB_ID, PENDING_ADMIN, QUEUE,
    RESULTS, TIER_COUNTS, WORKERS,
};

const DEFAULT_LIMIT: u32 = 10;
/// Jobs a filter without an index examines per page at most.
const MAX_SCAN: usize = 500;
/// Challenges a job can have in all: `max_attempts` results of `max_disputes` each, at most.
const MAX_JOB_DISPUTES: usize = 256;

fn limit(l: Option<u32>) -> usize {
    l.unwrap_or(DEFAULT_LIMIT).min(MAX_PAGE) as usize
}

pub fn config(deps: Deps) -> Result<ConfigResponse, ContractError> {
    Ok(ConfigResponse {
        config: CONFIG.load(deps.storage)?,
        pending_admin: PENDING_ADMIN.may_load(deps.storage)?.map(|a| a.to_string()),
    })
}

pub fn model(deps: Deps, model_id: String) -> Result<ModelResponse, ContractError> {
    Ok(ModelResponse {
        model: MODELS.may_load(deps.storage, &model_id)?,
    })
}

pub fn models(
    deps: Deps,
    start_after: Option<String>,
    lim: Option<u32>,
) -> Result<ModelsResponse, ContractError> {
    let start = start_after.as_deref().map(Bound::exclusive);
    let models = MODELS
        .range(deps.storage, start, None, Order::Ascending)
        .take(limit(lim))
        .map(|r| r.map(|(_, m)| m))
        .collect::<StdResult<_>>()?;
    Ok(ModelsResponse { models })
}

pub fn graph_model(deps: Deps, model_id: String) -> Result<GraphModelResponse, ContractError> {
    Ok(GraphModelResponse {
        model: GRAPH_MODELS.may_load(deps.storage, &model_id)?,
    })
}

pub fn graph_models(
    deps: Deps,
    start_after: Option<String>,
    lim: Option<u32>,
) -> Result<GraphModelsResponse, ContractError> {
    let start = start_after.as_deref().map(Bound::exclusive);
    let models = GRAPH_MODELS
        .range(deps.storage, start, None, Order::Ascending)
        .take(limit(lim))
        .map(|r| r.map(|(_, m)| m))
        .collect::<StdResult<_>>()?;
    Ok(GraphModelsResponse { models })
}

/// The job as the interface shows it.
fn job_view(store: &dyn Storage, id: u64, job: JobRecord) -> Result<Job, ContractError> {
    let input = load_input(store, id)?;
    let input_hash = match &input {
        JobInput::Inline { data } => HexHash(activation_hash(0, &to_i8(data))),
        JobInput::Blob { hash, .. } => *hash,
        JobInput::Tokens { .. } => HexHash(
            input
                .token_input()
                .map_or([0; 32], |t| tavdun_core::graph::input_hash(&t)),
        ),
    };
    let result = match job.status {
        JobStatus::Posted | JobStatus::Disputed | JobStatus::Finalized => {
            RESULTS.may_load(store, id)?.map(|r| JobResult {
                output: Binary::from(r.output),
                commitment: HexHash(r.commitment),
                posted_at: Timestamp::from_seconds(r.posted_at),
                challenge_ends: Timestamp::from_seconds(r.challenge_ends),
            })
        }
        _ => None,
    };
    Ok(Job {
        id,
        model_id: MODEL_IDS.load(store, job.model)?,
        input,
        input_hash,
        fee: job.fee,
        deadline: Timestamp::from_seconds(job.deadline),
        created_at: Timestamp::from_seconds(job.created_at),
        status: job.status,
        claim_expires: (job.status == JobStatus::Claimed)
            .then_some(job.claim_expires)
            .flatten()
            .map(Timestamp::from_seconds),
        client: job.client,
        worker: job.worker,
        collateral: job.collateral,
        terms: job.terms,
        result,
        failed_attempts: job.attempts,
        challenges: job.challenges,
        open_disputes: job.open_disputes,
        end_reason: job.end_reason,
    })
}

pub fn job(deps: Deps, job_id: u64) -> Result<JobResponse, ContractError> {
    let job = match JOBS.may_load(deps.storage, job_id)? {
        Some(record) => Some(job_view(deps.storage, job_id, record)?),
        None => None,
    };
    Ok(JobResponse { job })
}

/// Jobs named by an index's keys, in id order.
fn from_ids(
    store: &dyn Storage,
    ids: impl Iterator<Item = StdResult<u64>>,
    n: usize,
) -> Result<JobsResponse, ContractError> {
    let ids: Vec<u64> = ids.take(n).collect::<StdResult<_>>()?;
    let next_start_after = (ids.len() == n).then(|| ids.last().copied()).flatten();
    let jobs = ids
        .into_iter()
        .map(|id| job_view(store, id, load_job(store, id)?))
        .collect::<Result<_, _>>()?;
    Ok(JobsResponse {
        jobs,
        next_start_after,
    })
}

/// Jobs matching `keep`, examining at most [`MAX_SCAN`] records after `start_after`.
fn scan(
    store: &dyn Storage,
    start_after: Option<u64>,
    n: usize,
    keep: impl Fn(&JobRecord) -> bool,
) -> Result<JobsResponse, ContractError> {
    let mut jobs = Vec::new();
    let records = JOBS.range(
        store,
        start_after.map(Bound::exclusive),
        None,
        Order::Ascending,
    );
    for (examined, item) in records.enumerate() {
        let (id, record) = item?;
        if keep(&record) {
            jobs.push(job_view(store, id, record)?);
        }
        if jobs.len() == n || examined + 1 == MAX_SCAN {
            return Ok(JobsResponse {
                jobs,
                next_start_after: Some(id),
            });
        }
    }
    Ok(JobsResponse {
        jobs,
        next_start_after: None,
    })
}

pub fn jobs_list(
    deps: Deps,
    filter: Option<JobFilter>,
    start_after: Option<u64>,
    lim: Option<u32>,
) -> Result<JobsResponse, ContractError> {
    let n = limit(lim);
    let store = deps.storage;
    let start = start_after.map(Bound::exclusive);
    match filter {
        None => scan(store, start_after, n, |_| true),
        Some(JobFilter::Status(s)) => match status_key(s) {
            Some(k) => from_ids(
                store,
                BY_STATUS
                    .prefix(k)
                    .keys(store, start, None, Order::Ascending),
                n,
            ),
            None => scan(store, start_after, n, |j| j.status == s),
        },
        Some(JobFilter::Model(m)) => {
            let index = load_registered(store, &m)?.index();
            scan(store, start_after, n, |j| j.model == index)
        }
        Some(JobFilter::Client(c)) => {
            let addr = deps.api.addr_validate(&c)?;
            from_ids(
                store,
                BY_CLIENT
                    .prefix(&addr)
                    .keys(store, start, None, Order::Ascending),
                n,
            )
        }
        Some(JobFilter::Worker(w)) => {
            let addr = deps.api.addr_validate(&w)?;
            from_ids(
                store,
                HELD.prefix(&addr)
                    .keys(store, start, None, Order::Ascending),
                n,
            )
        }
    }
}

pub fn queue(
    deps: Deps,
    model_id: String,
    start_after: Option<QueueCursor>,
    lim: Option<u32>,
) -> Result<JobsResponse, ContractError> {
    let index = load_registered(deps.storage, &model_id)?.index();
    let start = start_after.map(|c| Bound::exclusive((queue_key(c.fee), c.job_id)));
    let n = limit(lim);
    let ids = QUEUE
        .sub_prefix(index)
        .keys(deps.storage, start, None, Order::Ascending)
        .map(|k| k.map(|(_, id)| id));
    let mut page = from_ids(deps.storage, ids, n)?;
    // The queue is ordered by fee, not id: a cursor is a job of the page, not an id.
    page.next_start_after = None;
    Ok(page)
}

pub fn worker(deps: Deps, address: String) -> Result<WorkerResponse, ContractError> {
    let addr = deps.api.addr_validate(&address)?;
    Ok(WorkerResponse {
        worker: WORKERS
            .may_load(deps.storage, &addr)?
            .map(|w| WorkerInfo::new(address, w)),
    })
}

pub fn workers(
    deps: Deps,
    start_after: Option<String>,
    lim: Option<u32>,
) -> Result<WorkersResponse, ContractError> {
    let start_addr = start_after
        .map(|a| deps.api.addr_validate(&a))
        .transpose()?;
    let start = start_addr.as_ref().map(Bound::exclusive);
    let workers = WORKERS
        .range(deps.storage, start, None, Order::Ascending)
        .take(limit(lim))
        .map(|r| r.map(|(a, w)| WorkerInfo::new(a.to_string(), w)))
        .collect::<StdResult<_>>()?;
    Ok(WorkersResponse { workers })
}

pub fn dispute(deps: Deps, job_id: u64, seq: u32) -> Result<DisputeResponse, ContractError> {
    Ok(DisputeResponse {
        dispute: DISPUTES.may_load(deps.storage, (job_id, seq))?,
    })
}

pub fn disputes(deps: Deps, job_id: u64) -> Result<DisputesResponse, ContractError> {
    let disputes = DISPUTES
        .prefix(job_id)
        .range(deps.storage, None, None, Order::Ascending)
        .take(MAX_JOB_DISPUTES)
        .map(|r| r.map(|(_, d)| d))
        .collect::<StdResult<_>>()?;
    Ok(DisputesResponse { disputes })
}

pub fn claimable(deps: Deps, address: String) -> Result<ClaimableResponse, ContractError> {
    let addr = deps.api.addr_validate(&address)?;
    Ok(ClaimableResponse {
        amount: ledger::claimable(deps.storage, &addr)?,
        address,
    })
}

pub fn stats(deps: Deps) -> Result<StatsResponse, ContractError> {
    let totals = ledger::totals(deps.storage)?;
    Ok(StatsResponse {
        held: ledger::held(&totals)?,
        totals,
        jobs: NEXT_JOB_ID
            .may_load(deps.storage)?
            .unwrap_or(1)
            .saturating_sub(1),
        models: u64::from(MODEL_COUNT.may_load(deps.storage)?.unwrap_or_default()),
        workers_per_tier: TIER_COUNTS.may_load(deps.storage)?.unwrap_or_default(),
        paused: CONFIG.load(deps.storage)?.paused,
    })
}

pub fn diagnose(deps: Deps, env: Env, job_id: u64) -> Result<DiagnosticResponse, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let job = load_job(deps.storage, job_id)?;
    let mut reasons = Vec::new();
    let mut jobs_ahead = 0u32;
    if job.status != JobStatus::Open {
        reasons.push(NotServedReason::NotOpen);
    } else {
        if env.block.time.seconds() >= job.deadline {
            reasons.push(NotServedReason::DeadlinePassed);
        }
        let model = registered_at(deps.storage, job.model)?;
        if !model.active() {
            reasons.push(NotServedReason::ModelInactive);
        }
        if job.fee < model.min_fee() {
            reasons.push(NotServedReason::FeeBelowMinimum {
                fee: job.fee,
                min_fee: model.min_fee(),
            });
        }
        let counts = TIER_COUNTS.may_load(deps.storage)?.unwrap_or_default();
        let eligible: u32 = counts
            .iter()
            .skip(usize::from(model.min_tier().saturating_sub(1)))
            .sum();
        if eligible == 0 {
            reasons.push(NotServedReason::NoWorkerOfTier {
                min_tier: model.min_tier(),
            });
        }
        // Counting is capped so the query stays cheap on a long queue.
        let cap = config.params.max_batch.saturating_mul(10) as usize;
        let end = Bound::exclusive((queue_key(job.fee), job_id));
        jobs_ahead = QUEUE
            .sub_prefix(job.model)
            .keys(deps.storage, None, Some(end), Order::Ascending)
            .take(cap)
            .count() as u32;
        if jobs_ahead > 0 {
            reasons.push(NotServedReason::QueuedBehindOthers { ahead: jobs_ahead });
        }
    }
    // A fee under a raised minimum and a place in the queue only delay a job; the other
    // reasons stop every claim.
    let claimable_now = job.status == JobStatus::Open
        && reasons.iter().all(|r| {
            matches!(
                r,
                NotServedReason::QueuedBehindOthers { .. }
                    | NotServedReason::FeeBelowMinimum { .. }
            )
        });
    Ok(DiagnosticResponse {
        job_id,
        status: job.status,
        end_reason: job.end_reason,
        claimable_now,
        reasons,
        jobs_ahead,
    })
}
