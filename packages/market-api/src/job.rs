//! A job: who pays, which model, what input, and how far it got.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Binary, Timestamp, Uint128};
use tavdun_core::graph::TokenInput;
use tavdun_core::{bytes, HexHash};

#[cw_serde]
pub enum JobInput {
    /// The int8 input itself.
    Inline { data: Binary },
    /// An input stored off chain: `hash` is its `activation_hash(0, bytes)`.
    Blob { hash: HexHash, uri: String },
    /// The input of a graph model (version 2): token ids and the attention mask (one byte
    /// per token, 1 = attend, 0 = padding).
    Tokens { ids: Vec<u32>, mask: Binary },
}

impl JobInput {
    /// An inline input of int8 values.
    pub fn inline(values: &[i8]) -> JobInput {
        JobInput::Inline {
            data: int8_binary(values),
        }
    }

    /// The input of a graph model job.
    pub fn tokens(input: &TokenInput) -> JobInput {
        JobInput::Tokens {
            ids: input.ids.clone(),
            mask: Binary::from(input.mask.clone()),
        }
    }

    /// The token input of a graph model job; `None` for other inputs.
    pub fn token_input(&self) -> Option<TokenInput> {
        match self {
            JobInput::Tokens { ids, mask } => Some(TokenInput {
                ids: ids.clone(),
                mask: mask.to_vec(),
            }),
            _ => None,
        }
    }

    /// An input kept off chain at `uri`, committed to by the hash of its int8 values.
    pub fn blob(values: &[i8], uri: String) -> JobInput {
        JobInput::Blob {
            hash: HexHash(tavdun_core::activation_hash(0, values)),
            uri,
        }
    }
}

/// Int8 values as the contracts' `Binary`.
pub fn int8_binary(values: &[i8]) -> Binary {
    Binary::new(bytes::from_i8(values))
}

#[cw_serde]
#[derive(Copy, Eq, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum JobStatus {
    Open,
    Claimed,
    Posted,
    Disputed,
    Finalized,
    Cancelled,
    Refunded,
}

impl JobStatus {
    /// The status as one lower-case word (index keys, events, logs).
    pub fn key(&self) -> &'static str {
        match self {
            JobStatus::Open => "open",
            JobStatus::Claimed => "claimed",
            JobStatus::Posted => "posted",
            JobStatus::Disputed => "disputed",
            JobStatus::Finalized => "finalized",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Refunded => "refunded",
        }
    }

    /// A terminal job never changes again: its fee was paid out or given back.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobStatus::Finalized | JobStatus::Cancelled | JobStatus::Refunded
        )
    }
}

/// Why a job reached its terminal state.
#[cw_serde]
#[derive(Copy, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EndReason {
    /// The window closed without a challenge, or every challenge failed.
    ResultAccepted,
    CancelledByClient,
    /// Nobody claimed the job before its deadline.
    DeadlineUnclaimed,
    /// A claim expired unposted after the deadline had passed.
    ClaimExpiredAfterDeadline,
    /// The worker was slashed after the deadline had passed.
    WorkerSlashedAfterDeadline,
    /// `max_attempts` claims ended without an accepted result (or the last one ended after
    /// the deadline).
    TooManyAttempts,
    /// The last claim was released because the input could not be fetched, after the
    /// deadline or past `max_attempts`.
    InputUnavailable,
}

/// A posted result: the output and one commitment to every layer's hash (the list itself is
/// only revealed in a dispute).
#[cw_serde]
pub struct JobResult {
    pub output: Binary,
    /// `tavdun_core::result_commitment` of the worker's `[h_1 .. h_n]`.
    pub commitment: HexHash,
    pub posted_at: Timestamp,
    /// The window closes here; challenges are committed and opened before it.
    pub challenge_ends: Timestamp,
}

/// What a claimed job pays and risks, fixed at the claim: later config changes do not touch
/// it.
#[cw_serde]
#[derive(Copy, Eq)]
pub struct JobTerms {
    pub protocol_fee_bps: u16,
    pub challenger_reward_bps: u16,
    pub failed_bond_to_worker_bps: u16,
    pub liveness_penalty: Uint128,
}

impl JobResult {
    /// The model's output as int8 values.
    pub fn output_values(&self) -> Vec<i8> {
        bytes::to_i8(&self.output)
    }
}

#[cw_serde]
pub struct Job {
    pub id: u64,
    pub client: Addr,
    pub model_id: String,
    pub input: JobInput,
    /// `activation_hash(0, input)`: `h_0` of the dispute game.
    pub input_hash: HexHash,
    pub fee: Uint128,
    pub deadline: Timestamp,
    pub created_at: Timestamp,
    pub status: JobStatus,
    pub worker: Option<Addr>,
    /// Collateral locked by the current worker.
    pub collateral: Uint128,
    pub claim_expires: Option<Timestamp>,
    /// The current claim's terms.
    pub terms: Option<JobTerms>,
    pub result: Option<JobResult>,
    /// Claims that ended without an accepted result (expired, slashed or released).
    pub failed_attempts: u32,
    /// Challenges committed against the current result.
    pub challenges: u32,
    /// Disputes of the current result still running.
    pub open_disputes: u32,
    pub end_reason: Option<EndReason>,
}

impl Job {
    /// Whether `address` is the worker holding this job.
    pub fn is_worked_by(&self, address: &str) -> bool {
        self.worker.as_ref().is_some_and(|w| w.as_str() == address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_statuses_are_exactly_the_paid_out_ones() {
        let terminal: Vec<JobStatus> = [
            JobStatus::Open,
            JobStatus::Claimed,
            JobStatus::Posted,
            JobStatus::Disputed,
            JobStatus::Finalized,
            JobStatus::Cancelled,
            JobStatus::Refunded,
        ]
        .into_iter()
        .filter(JobStatus::is_terminal)
        .collect();
        assert_eq!(
            terminal,
            [
                JobStatus::Finalized,
                JobStatus::Cancelled,
                JobStatus::Refunded
            ]
        );
    }

    #[test]
    fn inline_inputs_keep_negative_values() {
        let JobInput::Inline { data } = JobInput::inline(&[-128, -1, 0, 127]) else {
            panic!("inline");
        };
        assert_eq!(data.as_slice(), [0x80, 0xff, 0, 0x7f]);
    }
}
