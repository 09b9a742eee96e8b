//! `/v1/jobs`: submit a job paid from the relayer's account, read any job on chain with its
//! output decoded and where its verification stands.

use axum::extract::State as Extract;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use tavdun_sdk::amount::{format_trn, parse_trn};
use tavdun_sdk::api::JobInput;
use tavdun_sdk::input::{read_input, InputSource};
use tavdun_sdk::job_view::JobView;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, PathParam};
use crate::keys::Caller;
use crate::state::State;
use crate::views::{describe, JobResponse, SubmittedJob};

/// The market refuses deadlines that are already past when the transaction lands; a job this
/// short would also be refunded before any worker could serve it.
const MIN_DEADLINE_SECS: u64 = 10;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitJob {
    /// A model id, or the name of a registered model (`digits`).
    pub model: String,
    pub input: JobInputBody,
    /// Fee in TRN as a decimal string (`"0.05"`); the model's minimum fee when absent.
    pub fee: Option<String>,
    /// Seconds from now after which the job, if still unclaimed, is refunded.
    pub deadline_secs: Option<u64>,
}

/// The job's input: exactly one of the two forms.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum JobInputBody {
    /// Real numbers, quantised to int8 with the model's input spec.
    Values(Vec<f32>),
    /// The int8 input bytes in base64 (standard alphabet, padded).
    Base64(String),
}

/// Submits a job paid from the relayer's account. The fee counts against the API key's quota.
#[utoipa::path(
    post,
    path = "/v1/jobs",
    tag = "jobs",
    request_body = SubmitJob,
    security(("api_key" = [])),
    responses(
        (status = 202, description = "On chain and queued for workers", body = SubmittedJob),
        (status = 400, description = "`invalid_json`, `bad_base64`, `wrong_input_length`, `invalid_fee`, `fee_below_minimum`, `invalid_deadline`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`fee_above_limit`: above the API key's fee limit", body = ErrorBody),
        (status = 404, description = "`unknown_model`", body = ErrorBody),
        (status = 409, description = "`model_inactive`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 422, description = "`chain_rejected`: the market refused the job", body = ErrorBody),
        (status = 429, description = "`quota_exceeded`; see `Retry-After`", body = ErrorBody),
        (status = 503, description = "`chain_unavailable`", body = ErrorBody),
    )
)]
pub async fn submit_job(
    Extract(state): Extract<State>,
    caller: Caller,
    JsonBody(request): JsonBody<SubmitJob>,
) -> Result<Response, ApiError> {
    let model = state.catalog.find(&request.model).await?;
    if !model.active {
        return Err(ApiError::ModelInactive(format!(
            "model {} is inactive and takes no new jobs",
            model.model_id
        )));
    }
    let decoded;
    let source = match &request.input {
        JobInputBody::Values(values) => InputSource::Values(values),
        JobInputBody::Base64(text) => {
            decoded = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| ApiError::BadBase64(e.to_string()))?;
            InputSource::Raw(&decoded)
        }
    };
    // With input already in memory, the length check is the only way reading it can fail.
    let input =
        read_input(&model, source).map_err(|e| ApiError::WrongInputLength(e.to_string()))?;
    let min_fee = model.min_fee.u128();
    let fee = match &request.fee {
        Some(fee) => parse_trn(fee).map_err(|_| {
            ApiError::InvalidFee(format!("fee `{fee}` is not a TRN amount such as \"0.05\""))
        })?,
        None => min_fee,
    };
    if fee < min_fee {
        return Err(ApiError::FeeBelowMinimum(format!(
            "fee {} TRN is below the model's minimum fee of {} TRN",
            format_trn(fee),
            format_trn(min_fee)
        )));
    }
    let limits = &state.config.jobs;
    let deadline_secs = request
        .deadline_secs
        .unwrap_or(limits.default_deadline_secs);
    if !(MIN_DEADLINE_SECS..=limits.max_deadline_secs).contains(&deadline_secs) {
        return Err(ApiError::InvalidDeadline(format!(
            "deadline_secs must be between {MIN_DEADLINE_SECS} and {}",
            limits.max_deadline_secs
        )));
    }
    let reservation = state.keys.reserve(caller, fee)?;
    // Deadlines run on block time, as the contract reads them.
    let deadline = state.market.deadline_in(deadline_secs).await?;
    let (job_id, _) = state
        .market
        .submit_job(&model.model_id, JobInput::inline(&input), fee, deadline)
        .await?;
    reservation.commit();
    tracing::info!(job_id, key = state.keys.name(caller), fee, model = %model.spec.name, "job submitted");
    let url = format!("/v1/jobs/{job_id}");
    let body = SubmittedJob {
        job_id,
        model_id: model.model_id,
        fee: format_trn(fee),
        fee_utrn: fee.to_string(),
        deadline: deadline.seconds(),
        events_url: format!("{url}/events"),
        url: url.clone(),
    };
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, url)], Json(body)).into_response())
}

/// Any job on chain: status, output (raw and decoded) and verification state.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = u64, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job", body = JobResponse),
        (status = 400, description = "`invalid_job_id`", body = ErrorBody),
        (status = 404, description = "`unknown_job`", body = ErrorBody),
        (status = 503, description = "`chain_unavailable`", body = ErrorBody),
    )
)]
pub async fn get_job(
    Extract(state): Extract<State>,
    PathParam(id): PathParam<String>,
) -> Result<Json<JobResponse>, ApiError> {
    Ok(Json(job_response(&state, parse_job_id(&id)?).await?))
}

pub fn parse_job_id(id: &str) -> Result<u64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::InvalidJobId(id.chars().take(40).collect()))
}

/// The job as the API shows it, read from chain now.
pub async fn job_response(state: &State, job_id: u64) -> Result<JobResponse, ApiError> {
    let job = state
        .market
        .job(job_id)
        .await?
        .ok_or(ApiError::UnknownJob(job_id))?;
    let shape = state.catalog.output_shape(&job.model_id).await?;
    let dispute = state.market.disputes(job_id).await?.pop();
    Ok(describe(JobView::new(job), shape, dispute))
}
