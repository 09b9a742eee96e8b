//! What the API answers: jobs with their output decoded and their verification spelled out,
//! models with how to shape their input, blob receipts, health. Built from the market's
//! types; nothing here reads the chain.

use serde::{Deserialize, Serialize};
use tavdun_core::Shape;
use tavdun_sdk::amount::format_trn;
use tavdun_sdk::api::{Dispute, DisputeOutcome, EndReason, JobStatus, ModelInfo};
use tavdun_sdk::embedding::ResultVerification;
use tavdun_sdk::job_view::JobView;
use utoipa::ToSchema;

use crate::catalog::output_shape;

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
    pub status: JobStatus,
    /// Fee in TRN.
    pub fee: String,
    pub fee_utrn: String,
    pub worker: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
    pub deadline: u64,
    pub claim_expires_at: Option<u64>,
    pub end_reason: Option<EndReason>,
    /// Claims that ended without an accepted result (expired or slashed).
    pub failed_attempts: u32,
    /// `h_0`, the hash of the input that the result commitments start from.
    pub input_hash: String,
    /// The posted result, while one stands.
    pub output: Option<JobOutput>,
    pub verification: Verification,
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
    /// The latest challenge of the job.
    pub dispute: Option<DisputeView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DisputeView {
    pub challenger: String,
    pub worker: String,
    /// First layer (1-based) where the challenger's and the worker's hashes differ, once the
    /// worker has revealed its hashes.
    pub layer: Option<u32>,
    /// Set once the challenge is opened (it is committed first).
    pub reveal_deadline: Option<u64>,
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
    NeverOpened,
    Moot,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BlobReceipt {
    /// sha256 of the stored bytes: the blob's name.
    pub sha256: String,
    pub size: u64,
    /// Where to download it, relative to this server.
    pub url: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthView {
    pub chain_id: String,
    pub chain_height: u64,
    /// The account that pays for jobs submitted here.
    pub relayer_address: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<ModelView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelView {
    pub model_id: String,
    pub name: String,
    /// Inactive models take no new jobs.
    pub active: bool,
    /// Minimum fee in TRN.
    pub min_fee: String,
    pub min_fee_utrn: String,
    /// Workers need at least this tier to serve the model.
    pub min_tier: u8,
    pub layers: u32,
    /// `[n]` or `[channels, height, width]`; `input.values` must hold their product.
    pub input_shape: Vec<u32>,
    /// Real inputs become `clamp(round(x / input_scale) + input_zero_point, -128, 127)`.
    pub input_scale: String,
    pub input_zero_point: i8,
    pub output_shape: Vec<u32>,
    /// A flat output, read as one score per class.
    pub classifier: bool,
    /// Merkle root of the weights, which every dispute checks against.
    pub weights_root: String,
    /// Where workers fetch the weights (a relayer blob URL, for instance).
    pub weights_uri: String,
}

impl From<ModelInfo> for ModelView {
    fn from(m: ModelInfo) -> ModelView {
        let output = output_shape(&m);
        ModelView {
            model_id: m.model_id,
            name: m.spec.name,
            active: m.active,
            min_fee: format_trn(m.min_fee.u128()),
            min_fee_utrn: m.min_fee.to_string(),
            min_tier: m.min_tier,
            layers: m.layers,
            input_shape: m.spec.input.shape,
            input_scale: m.spec.input.quant.scale,
            input_zero_point: m.spec.input.quant.zero_point,
            output_shape: output.dims(),
            classifier: matches!(output, Shape::Flat(_)),
            weights_root: hex::encode(m.weights_root.0),
            weights_uri: m.weights_uri,
        }
    }
}

/// The job as the API shows it: output decoded for its shape, verification spelled out.
pub fn describe(view: JobView, shape: Shape, dispute: Option<Dispute>) -> JobResponse {
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
            reveal_deadline: d.reveal_deadline.map(|t| t.seconds()),
            resolve_deadline: d.resolve_deadline.map(|t| t.seconds()),
            outcome: d.outcome.as_ref().map(|o| match o {
                DisputeOutcome::WorkerSlashed { .. } => DisputeEnd::WorkerSlashed,
                DisputeOutcome::RevealWithheld => DisputeEnd::RevealWithheld,
                DisputeOutcome::ChallengeFailed => DisputeEnd::ChallengeFailed,
                DisputeOutcome::NeverOpened => DisputeEnd::NeverOpened,
                DisputeOutcome::Moot => DisputeEnd::Moot,
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
        status: job.status,
        fee: format_trn(job.fee.u128()),
        fee_utrn: job.fee.to_string(),
        worker: job.worker.map(|w| w.to_string()),
        created_at: job.created_at.seconds(),
        deadline: job.deadline.seconds(),
        claim_expires_at: job.claim_expires.map(|t| t.seconds()),
        end_reason: job.end_reason,
        failed_attempts: job.failed_attempts,
        input_hash: hex::encode(job.input_hash.0),
        output,
        verification,
    }
}

/// `POST /v1/embeddings`' answer: OpenAI's embeddings response, each vector with where its
/// job stands in verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingsResponse {
    /// Always `"list"`.
    pub object: String,
    /// One per input, in input order.
    pub data: Vec<EmbeddingItem>,
    /// The model's name (its spec's).
    pub model: String,
    pub model_id: String,
    pub usage: Usage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingItem {
    /// Always `"embedding"`.
    pub object: String,
    /// The input's position in the request.
    pub index: usize,
    pub embedding: EmbeddingVector,
    pub verification: ResultVerification,
}

/// The vector, as `encoding_format` asked: numbers, or base64 of its little-endian `f32`s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingVector {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    /// Tokens of every input after tokenisation (`[CLS]` and `[SEP]` included, after
    /// truncation): what the jobs computed on.
    pub prompt_tokens: u64,
    pub total_tokens: u64,
}

/// The stream's first event: the jobs are on chain and paid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingsSubmitted {
    /// One job per input, in input order.
    pub job_ids: Vec<u64>,
    pub model_id: String,
    /// Fee of each job in TRN.
    pub fee: String,
    pub fee_utrn: String,
}

/// A stream event: one input's job was posted, or finalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingProgress {
    pub index: usize,
    pub job_id: u64,
    pub verification: ResultVerification,
}
