//! `/v1/jobs`: submit a job paid from the relayer's account, read any job on chain with its
//! output decoded and where its verification stands.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State as Extract;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use tavdun_cli::amount::{format_trn, parse_trn};
use tavdun_cli::error::CliError;
use tavdun_cli::jobs::{self, InputSource, JobView};
use tavdun_core::Shape;
use tavdun_market::state::{Dispute, DisputeOutcome, EndReason, JobStatus};
use utoipa::ToSchema;

use crate::app::State;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, PathParam};

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

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubmittedJob {
    pub job_id: u64,
    pub model_id: String,
    /// Fee in TRN.
    pub fee: String,
    /// Fee in micro-TRN (TRN has 6 decimals).
    pub fee_utrn: String,
    /// Unix seconds after which an unclaimed job is refunded.
    pub deadline: u64,
    pub url: String,
    pub events_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobResponse {
    pub id: u64,
    pub model_id: String,
    /// The account that paid for the job (the relayer's, for jobs submitted here).
    pub client: String,
    pub status: JobState,
    /// Fee in TRN.
    pub fee: String,
    pub fee_utrn: String,
    pub worker: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
    pub deadline: u64,
    pub claim_expires_at: Option<u64>,
    pub end_reason: Option<JobEndReason>,
    /// Claims that ended without an accepted result (expired or slashed).
    pub failed_attempts: u32,
    /// `h_0`, the hash of the input that the result commitments start from.
    pub input_hash: String,
    /// The posted result, while one stands.
    pub output: Option<JobOutput>,
    pub verification: Verification,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Open,
    Claimed,
    Posted,
    Disputed,
    Finalized,
    Cancelled,
    Refunded,
}

impl JobState {
    /// No further change will happen to the job.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Finalized | JobState::Cancelled | JobState::Refunded
        )
    }
}

impl From<JobStatus> for JobState {
    fn from(s: JobStatus) -> JobState {
        match s {
            JobStatus::Open => JobState::Open,
            JobStatus::Claimed => JobState::Claimed,
            JobStatus::Posted => JobState::Posted,
            JobStatus::Disputed => JobState::Disputed,
            JobStatus::Finalized => JobState::Finalized,
            JobStatus::Cancelled => JobState::Cancelled,
            JobStatus::Refunded => JobState::Refunded,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobEndReason {
    ResultAccepted,
    CancelledByClient,
    DeadlineUnclaimed,
    ClaimExpiredAfterDeadline,
    WorkerSlashedAfterDeadline,
}

impl From<EndReason> for JobEndReason {
    fn from(r: EndReason) -> JobEndReason {
        match r {
            EndReason::ResultAccepted => JobEndReason::ResultAccepted,
            EndReason::CancelledByClient => JobEndReason::CancelledByClient,
            EndReason::DeadlineUnclaimed => JobEndReason::DeadlineUnclaimed,
            EndReason::ClaimExpiredAfterDeadline => JobEndReason::ClaimExpiredAfterDeadline,
            EndReason::WorkerSlashedAfterDeadline => JobEndReason::WorkerSlashedAfterDeadline,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobOutput {
    /// The output bytes (int8) in base64, exactly as posted on chain.
    pub raw: String,
    pub decoded: Decoded,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decoded {
    /// A flat output: one int8 score (logit) per class.
    Classifier {
        class_scores: Vec<i8>,
        /// The predicted class: the index of the highest score (the first on a tie).
        argmax: usize,
    },
    /// Any other output shape, values in channel-major order.
    Tensor { shape: Vec<u32>, values: Vec<i8> },
}

/// Where the result stands in the market's optimistic verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Verification {
    /// A result is on chain.
    pub posted: bool,
    /// Unix seconds.
    pub posted_at: Option<u64>,
    /// Unix seconds at which the challenge window of the posted result closes.
    pub window_ends_at: Option<u64>,
    /// The window closed without a successful challenge: the output is verified and the
    /// worker paid.
    pub finalized: bool,
    /// A result of this job was challenged (the dispute may be over: see `dispute`).
    pub disputed: bool,
    /// A dispute proved a posted result wrong (or its worker went silent) and the worker's
    /// collateral was slashed; the job went back to the queue.
    pub slashed: bool,
    /// The latest dispute.
    pub dispute: Option<DisputeView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DisputeView {
    pub challenger: String,
    pub worker: String,
    /// First layer (1-based) where the challenger's and the worker's hashes differ.
    pub layer: u32,
    pub reveal_deadline: u64,
    pub resolve_deadline: Option<u64>,
    /// Absent while the dispute runs.
    pub outcome: Option<DisputeEnd>,
    /// With `worker_slashed`: the output unit shown to be wrong.
    pub wrong_unit: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisputeEnd {
    WorkerSlashed,
    RevealWithheld,
    ChallengeFailed,
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
    let model = state.market.find_model(&request.model).await?;
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
    let input = jobs::read_input(&model, source).map_err(|e| match e {
        CliError::Input(message) => ApiError::WrongInputLength(message),
        e => e.into(),
    })?;
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
    let d = &state.market.deployment;
    let job_id = jobs::submit(
        &state.wallet,
        d,
        &model.model_id,
        &input,
        fee,
        deadline_secs,
    )
    .await?;
    reservation.commit();
    tracing::info!(job_id, key = state.keys.name(caller), fee, model = %model.spec.name, "job submitted");
    let url = format!("/v1/jobs/{job_id}");
    let body = SubmittedJob {
        job_id,
        model_id: model.model_id,
        fee: format_trn(fee),
        fee_utrn: fee.to_string(),
        deadline: unix_now() + deadline_secs,
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
    let job = state.market.job(job_id).await?;
    let shape = state.market.output_shape(&job.model_id).await?;
    let dispute = state.market.dispute(job_id).await?;
    Ok(describe(JobView::new(job), shape, dispute))
}

fn describe(view: JobView, shape: Shape, dispute: Option<Dispute>) -> JobResponse {
    let job = view.job;
    let output = job
        .result
        .as_ref()
        .zip(view.output)
        .map(|(result, values)| {
            let decoded = match (shape, view.argmax) {
                (Shape::Flat(_), Some(argmax)) => Decoded::Classifier {
                    class_scores: values,
                    argmax,
                },
                _ => Decoded::Tensor {
                    shape: shape.dims(),
                    values,
                },
            };
            JobOutput {
                raw: result.output.to_base64(),
                decoded,
            }
        });
    let outcome = dispute.as_ref().and_then(|d| d.outcome.clone());
    let slashed = matches!(
        outcome,
        Some(DisputeOutcome::WorkerSlashed { .. } | DisputeOutcome::RevealWithheld)
    );
    let verification = Verification {
        posted: job.result.is_some(),
        posted_at: job.result.as_ref().map(|r| r.posted_at.seconds()),
        window_ends_at: job.result.as_ref().map(|r| r.challenge_ends.seconds()),
        finalized: job.status == JobStatus::Finalized,
        disputed: dispute.is_some(),
        slashed,
        dispute: dispute.map(|d| DisputeView {
            challenger: d.challenger.to_string(),
            worker: d.worker.to_string(),
            layer: d.layer,
            reveal_deadline: d.reveal_deadline.seconds(),
            resolve_deadline: d.resolve_deadline.map(|t| t.seconds()),
            outcome: d.outcome.as_ref().map(|o| match o {
                DisputeOutcome::WorkerSlashed { .. } => DisputeEnd::WorkerSlashed,
                DisputeOutcome::RevealWithheld => DisputeEnd::RevealWithheld,
                DisputeOutcome::ChallengeFailed => DisputeEnd::ChallengeFailed,
            }),
            wrong_unit: match d.outcome {
                Some(DisputeOutcome::WorkerSlashed { unit }) => Some(unit),
                _ => None,
            },
        }),
    };
    JobResponse {
        id: job.id,
        model_id: job.model_id,
        client: job.client.to_string(),
        status: job.status.into(),
        fee: format_trn(job.fee.u128()),
        fee_utrn: job.fee.to_string(),
        worker: job.worker.map(|w| w.to_string()),
        created_at: job.created_at.seconds(),
        deadline: job.deadline.seconds(),
        claim_expires_at: job.claim_expires.map(|t| t.seconds()),
        end_reason: job.end_reason.map(Into::into),
        failed_attempts: job.failed_attempts,
        input_hash: hex::encode(job.input_hash.0),
        output,
        verification,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.as_secs())
}
