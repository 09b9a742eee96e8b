//! `/v1/embeddings`: OpenAI's embeddings API over the market. Each text is tokenised here with
//! the model's tokenizer, becomes one job (all in one transaction, paid from the relayer's
//! account at the model's minimum fee), and is answered once its job is posted or finalised,
//! with the verification state beside the vector.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State as Extract;
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use tavdun_sdk::amount::format_trn;
use tavdun_sdk::api::{GraphModelInfo, Job, JobInput, JobRequest};
use tavdun_sdk::embedding::{
    decode_embedding, embedding_dims, find_graph_model, wait_for_jobs, Milestone,
    ResultVerification, WaitFor,
};
use tavdun_sdk::SdkError;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use crate::api::events::json_event;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::keys::Caller;
use crate::state::State;
use crate::views::{
    EmbeddingItem, EmbeddingProgress, EmbeddingVector, EmbeddingsResponse, EmbeddingsSubmitted,
    Usage,
};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingsRequest {
    /// One text, or several (at most `embeddings.max_inputs`); none may be empty. A text
    /// longer than the model's token limit is truncated as its tokenizer does (`[SEP]` kept
    /// last), not refused.
    pub input: EmbeddingsInput,
    /// A registered graph model whose output is an L2-normalised vector, by id or by its
    /// spec's name (`all-minilm-l6-v2`).
    pub model: String,
    #[serde(default)]
    pub encoding_format: EncodingFormat,
    /// OpenAI's end-user id: accepted and logged, nothing more.
    pub user: Option<String>,
    /// Answer once every job is `posted` (default; the result can still be challenged until
    /// its window closes) or `finalized` (verified: the window closed unchallenged).
    #[serde(default)]
    pub wait: WaitFor,
    /// Answer with server-sent events (as does `Accept: text/event-stream`).
    #[serde(default)]
    pub stream: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingsInput {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EncodingFormat {
    /// A JSON array of numbers.
    #[default]
    Float,
    /// Base64 of the vector's little-endian `f32`s.
    Base64,
}

/// What the answer needs once the jobs are on chain.
struct Submitted {
    model: GraphModelInfo,
    job_ids: Vec<u64>,
    prompt_tokens: u64,
    encoding: EncodingFormat,
    wait: WaitFor,
}

/// Embeds texts with a model on the market. Each text is one job paid at the model's minimum
/// fee from the relayer's account; every job counts against the API key's quota.
#[utoipa::path(
    post,
    path = "/v1/embeddings",
    tag = "embeddings",
    request_body = EmbeddingsRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The vectors, once every job reached `wait`. With `stream` (or `Accept: text/event-stream`): events `submitted` (data: the jobs), `posted` and `finalized` (data: one input's progress), then `embeddings` (data: this body) or `error` (data: an error body), and the stream closes.", body = EmbeddingsResponse),
        (status = 400, description = "`invalid_json`, `empty_input`, `too_many_inputs`, `not_an_embedding_model`, `no_tokenizer` (this relayer has no tokenizer for the model)", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`fee_above_limit`: the model's fee is above the API key's limit", body = ErrorBody),
        (status = 404, description = "`unknown_model`", body = ErrorBody),
        (status = 409, description = "`model_inactive`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 422, description = "`chain_rejected`: the market refused the jobs", body = ErrorBody),
        (status = 429, description = "`quota_exceeded`: the inputs would pass the key's jobs or spend per window; see `Retry-After`", body = ErrorBody),
        (status = 502, description = "`job_failed`: a job ended without a result (refunded); `job_ids` lists the request's jobs", body = ErrorBody),
        (status = 503, description = "`chain_unavailable`", body = ErrorBody),
        (status = 504, description = "`wait_timeout`: not every job reached `wait` within `embeddings.wait_timeout_secs`; `job_ids` lists them (paid, on chain, readable at /v1/jobs/{id})", body = ErrorBody),
    )
)]
pub async fn create_embeddings(
    Extract(state): Extract<State>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<EmbeddingsRequest>,
) -> Result<Response, ApiError> {
    let stream = request.stream || accepts_event_stream(&headers);
    let submitted = submit(&state, caller, request).await?;
    if !stream {
        let response = answer(&state, &submitted, |_, _, _| {}).await?;
        return Ok(Json(response).into_response());
    }
    let fee = submitted.model.min_fee.u128();
    let first = EmbeddingsSubmitted {
        job_ids: submitted.job_ids.clone(),
        model_id: submitted.model.model_id.clone(),
        fee: format_trn(fee),
        fee_utrn: fee.to_string(),
    };
    let events = async_stream::stream! {
        yield Ok::<Event, Infallible>(json_event("submitted", &first));
        let (tx, mut rx) = mpsc::unbounded_channel();
        // Progress comes through the channel while the wait runs; the stream reads each job's
        // disputes for its event, which the wait's callback cannot do.
        let wait = state.until_shutdown(answer(&state, &submitted, move |index, milestone, job| {
            let _ = tx.send((index, milestone, job.clone()));
        }));
        tokio::pin!(wait);
        let outcome = loop {
            let step = tokio::select! {
                outcome = &mut wait => Step::Done(outcome),
                Some(progress) = rx.recv() => Step::Progress(Box::new(progress)),
            };
            match step {
                Step::Done(outcome) => break outcome,
                Step::Progress(p) => yield Ok(progress_event(&state, *p).await),
            }
        };
        while let Ok(p) = rx.try_recv() {
            yield Ok(progress_event(&state, p).await);
        }
        match outcome {
            Some(Ok(response)) => yield Ok(json_event("embeddings", &response)),
            Some(Err(e)) => yield Ok(json_event("error", &e.body())),
            // The server is stopping: the stream ends without a last event.
            None => {}
        }
    };
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// What the stream heard first: the wait's end, or a job's progress (boxed: a job is large).
enum Step<T> {
    Done(T),
    Progress(Box<(usize, Milestone, Job)>),
}

fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

async fn progress_event(state: &State, (index, milestone, job): (usize, Milestone, Job)) -> Event {
    let verification = match ResultVerification::read(&state.market, &job).await {
        Ok(v) => v,
        // The job's own fields still say most of it; disputes are read again for the answer.
        Err(_) => ResultVerification::new(&job, &[]),
    };
    let name = match milestone {
        Milestone::Posted => "posted",
        Milestone::Finalized => "finalized",
    };
    json_event(
        name,
        &EmbeddingProgress {
            index,
            job_id: job.id,
            verification,
        },
    )
}

/// Checks the request, tokenises, reserves the quota and submits one job per text in one
/// transaction.
async fn submit(
    state: &State,
    caller: Caller,
    request: EmbeddingsRequest,
) -> Result<Submitted, ApiError> {
    let texts = match request.input {
        EmbeddingsInput::One(text) => vec![text],
        EmbeddingsInput::Many(texts) => texts,
    };
    let max_inputs = state.config.embeddings.max_inputs as usize;
    if texts.is_empty() {
        return Err(ApiError::EmptyInput(
            "input is an empty list: give a text or a list of texts".into(),
        ));
    }
    if texts.len() > max_inputs {
        return Err(ApiError::TooManyInputs(format!(
            "input has {} texts; this relayer embeds at most {max_inputs} per request",
            texts.len()
        )));
    }
    if let Some(i) = texts.iter().position(|t| t.trim().is_empty()) {
        return Err(ApiError::EmptyInput(format!(
            "input[{i}] is empty: every text needs at least one word"
        )));
    }
    let model = find_graph_model(&state.market, &request.model)
        .await?
        .ok_or_else(|| {
            ApiError::UnknownModel(format!(
                "no graph model `{}` is registered (give its id or its spec's name)",
                request.model
            ))
        })?;
    if !model.active {
        return Err(ApiError::ModelInactive(format!(
            "model {} is inactive and takes no new jobs",
            model.model_id
        )));
    }
    embedding_dims(&model).map_err(|e| ApiError::NotAnEmbeddingModel(e.to_string()))?;
    let tokenizer = state.tokenizers.for_model(&model)?;
    let inputs = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            tokenizer
                .encode(text)
                .map_err(|e| ApiError::InvalidParameter(format!("input[{i}]: {e}")))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let prompt_tokens = inputs.iter().map(|t| t.ids.len() as u64).sum();

    let fee = model.min_fee.u128();
    // Every text is a job: all of them fit the key's quota or none is submitted (dropped
    // reservations give their share back).
    let reservations = inputs
        .iter()
        .map(|_| state.keys.reserve(caller, fee))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let deadline = state
        .market
        .deadline_in(state.config.jobs.default_deadline_secs)
        .await?;
    let jobs = inputs
        .iter()
        .map(|input| JobRequest {
            model_id: model.model_id.clone(),
            input: JobInput::tokens(input),
            fee: model.min_fee,
            deadline,
        })
        .collect();
    let (job_ids, _) = state.market.submit_jobs(jobs).await?;
    reservations.into_iter().for_each(|r| r.commit());
    tracing::info!(
        ?job_ids,
        key = state.keys.name(caller),
        user = request.user.as_deref().unwrap_or(""),
        fee,
        model = %model.spec.name,
        "embedding jobs submitted"
    );
    Ok(Submitted {
        model,
        job_ids,
        prompt_tokens,
        encoding: request.encoding_format,
        wait: request.wait,
    })
}

/// Waits for every job to reach `wait`, then reads the vectors and their verification.
async fn answer(
    state: &State,
    s: &Submitted,
    on_milestone: impl FnMut(usize, Milestone, &Job),
) -> Result<EmbeddingsResponse, ApiError> {
    let timeout = Duration::from_secs(state.config.embeddings.wait_timeout_secs);
    let poll = Duration::from_millis(state.config.jobs.poll_interval_ms);
    let jobs = wait_for_jobs(
        &state.market,
        &s.job_ids,
        s.wait,
        timeout,
        poll,
        on_milestone,
    )
    .await
    .map_err(|e| match e {
        SdkError::WaitTimeout { .. } => ApiError::WaitTimeout {
            job_ids: s.job_ids.clone(),
            awaited: match s.wait {
                WaitFor::Posted => "posted",
                WaitFor::Finalized => "finalized",
            },
            seconds: timeout.as_secs(),
        },
        SdkError::WrongStatus { .. } => ApiError::JobFailed {
            job_ids: s.job_ids.clone(),
            message: e.to_string(),
        },
        e => e.into(),
    })?;
    let mut data = Vec::with_capacity(jobs.len());
    for (index, job) in jobs.iter().enumerate() {
        let vector =
            decode_embedding(&s.model, job).map_err(|e| ApiError::Internal(e.to_string()))?;
        let embedding = match s.encoding {
            EncodingFormat::Float => EmbeddingVector::Float(vector),
            EncodingFormat::Base64 => {
                let bytes: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
                EmbeddingVector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        };
        data.push(EmbeddingItem {
            object: "embedding".into(),
            index,
            embedding,
            verification: ResultVerification::read(&state.market, job).await?,
        });
    }
    Ok(EmbeddingsResponse {
        object: "list".into(),
        data,
        model: s.model.spec.name.clone(),
        model_id: s.model.model_id.clone(),
        usage: Usage {
            prompt_tokens: s.prompt_tokens,
            total_tokens: s.prompt_tokens,
        },
    })
}
