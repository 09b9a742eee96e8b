use cosmwasm_std::{Deps, Env, Order, StdResult};
use cw_storage_plus::Bound;

use crate::error::ContractError;
use crate::jobs::load_job;
use crate::ledger;
use crate::models::load_model;
use crate::state::{
    jobs, queue_key, CONFIG, DISPUTES, MODELS, MODEL_COUNT, NEXT_JOB_ID, PENDING_ADMIN, QUEUE,
    TIER_COUNTS, WORKERS,
};
use tavdun_market_api::{
    ClaimableResponse, ConfigResponse, DiagnosticResponse, DisputeResponse, Job, JobFilter,
    JobResponse, JobStatus, JobsResponse, ModelResponse, ModelsResponse, NotServedReason,
    QueueCursor, StatsResponse, WorkerInfo, WorkerResponse, WorkersResponse, MAX_PAGE,
};

const DEFAULT_LIMIT: u32 = 10;

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

pub fn job(deps: Deps, job_id: u64) -> Result<JobResponse, ContractError> {
    Ok(JobResponse {
        job: jobs().may_load(deps.storage, job_id)?,
    })
}

pub fn jobs_list(
    deps: Deps,
    filter: Option<JobFilter>,
    start_after: Option<u64>,
    lim: Option<u32>,
) -> Result<JobsResponse, ContractError> {
    let n = limit(lim);
    let start = start_after.map(Bound::exclusive);
    let map = jobs();
    let collect = |it: Box<dyn Iterator<Item = StdResult<(u64, Job)>> + '_>| {
        it.take(n)
            .map(|r| r.map(|(_, j)| j))
            .collect::<StdResult<Vec<_>>>()
    };
    let list = match filter {
        None => collect(map.range(deps.storage, start, None, Order::Ascending))?,
        Some(JobFilter::Status(s)) => collect(map.idx.status.prefix(s.key().to_string()).range(
            deps.storage,
            start,
            None,
            Order::Ascending,
        ))?,
        Some(JobFilter::Model(m)) => collect(map.idx.model.prefix(m).range(
            deps.storage,
            start,
            None,
            Order::Ascending,
        ))?,
        Some(JobFilter::Client(c)) => {
            let addr = deps.api.addr_validate(&c)?;
            collect(
                map.idx
                    .client
                    .prefix(addr)
                    .range(deps.storage, start, None, Order::Ascending),
            )?
        }
        Some(JobFilter::Worker(w)) => {
            let addr = deps.api.addr_validate(&w)?;
            collect(
                map.idx
                    .worker
                    .prefix(addr)
                    .range(deps.storage, start, None, Order::Ascending),
            )?
        }
    };
    Ok(JobsResponse { jobs: list })
}

pub fn queue(
    deps: Deps,
    model_id: String,
    start_after: Option<QueueCursor>,
    lim: Option<u32>,
) -> Result<JobsResponse, ContractError> {
    let start = start_after.map(|c| Bound::exclusive((queue_key(c.fee), c.job_id)));
    let ids: Vec<(u128, u64)> = QUEUE
        .sub_prefix(&model_id)
        .keys(deps.storage, start, None, Order::Ascending)
        .take(limit(lim))
        .collect::<StdResult<_>>()?;
    let jobs = ids
        .into_iter()
        .map(|(_, id)| load_job(deps.storage, id))
        .collect::<Result<_, _>>()?;
    Ok(JobsResponse { jobs })
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

pub fn dispute(deps: Deps, job_id: u64) -> Result<DisputeResponse, ContractError> {
    Ok(DisputeResponse {
        dispute: DISPUTES.may_load(deps.storage, job_id)?,
    })
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
        models: MODEL_COUNT.may_load(deps.storage)?.unwrap_or_default(),
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
        if env.block.time >= job.deadline {
            reasons.push(NotServedReason::DeadlinePassed);
        }
        let model = load_model(deps.storage, &job.model_id)?;
        if !model.active {
            reasons.push(NotServedReason::ModelInactive);
        }
        if job.fee < model.min_fee {
            reasons.push(NotServedReason::FeeBelowMinimum {
                fee: job.fee,
                min_fee: model.min_fee,
            });
        }
        let counts = TIER_COUNTS.may_load(deps.storage)?.unwrap_or_default();
        let eligible: u32 = counts
            .iter()
            .skip(usize::from(model.min_tier.saturating_sub(1)))
            .sum();
        if eligible == 0 {
            reasons.push(NotServedReason::NoWorkerOfTier {
                min_tier: model.min_tier,
            });
        }
        // Counting is capped so the query stays cheap on a long queue.
        let cap = config.params.max_batch.saturating_mul(10) as usize;
        let end = Bound::exclusive((queue_key(job.fee), job.id));
        jobs_ahead = QUEUE
            .sub_prefix(&job.model_id)
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
