use cosmwasm_std::{OverflowError, StdError, Timestamp, Uint128};
use thiserror::Error;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error("{0}")]
    Std(#[from] StdError),

    #[error("{0}")]
    Overflow(#[from] OverflowError),

    #[error("only {role} may do this")]
    Unauthorized { role: &'static str },

    #[error("the market only accepts its configured token {expected}; got a Send from {found}")]
    WrongToken { expected: String, found: String },

    #[error("invalid config: {field} {reason}")]
    InvalidConfig { field: &'static str, reason: String },

    #[error("the market is paused: no new jobs until the admin unpauses it")]
    Paused,

    #[error("no admin transfer is pending; the admin must call ProposeAdmin first")]
    NoPendingAdmin,

    #[error("invalid model spec: {0}")]
    InvalidSpec(String),

    #[error("model has {layers} layers; the market accepts at most {max}")]
    TooManyLayers { layers: u32, max: u32 },

    #[error("model {model_id} is already registered")]
    ModelExists { model_id: String },

    #[error("no model {model_id}; query Models for the registered ones")]
    ModelNotFound { model_id: String },

    #[error("model {model_id} is inactive and takes no new jobs")]
    ModelInactive { model_id: String },

    #[error("tier {tier} does not exist: tiers run from 1 to {max}")]
    InvalidTier { tier: u8, max: u8 },

    #[error("{field} is {len} bytes; at most {max} are allowed")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },

    #[error("nothing to do: {0}")]
    Empty(&'static str),

    #[error("batch of {len} items exceeds the limit of {max}")]
    BatchTooLarge { len: usize, max: u32 },

    #[error("a first bond must declare the worker's hardware")]
    HardwareRequired,

    #[error("{address} is not a bonded worker; bond TRN through a CW20 Send first")]
    NotAWorker { address: String },

    #[error("worker tier {tier} is below the model's minimum tier {min_tier}")]
    TierTooLow { tier: u8, min_tier: u8 },

    #[error("free stake {free} is less than the {needed} requested")]
    InsufficientFreeStake { free: Uint128, needed: Uint128 },

    #[error("worker already has {max} unbonding entries; withdraw matured ones first")]
    TooManyUnbondings { max: usize },

    #[error("fee {fee} is below the model's minimum fee {min_fee}")]
    FeeTooLow { fee: Uint128, min_fee: Uint128 },

    #[error("job fees add up to {sum} but {sent} TRN was sent")]
    FeeMismatch { sum: Uint128, sent: Uint128 },

    #[error("deadline {deadline} is not in the future (now {now})")]
    DeadlineInPast { deadline: Timestamp, now: Timestamp },

    #[error("deadline {deadline} is more than {max_secs} s after now ({now}): the market caps deadlines")]
    DeadlineTooFar {
        deadline: Timestamp,
        now: Timestamp,
        max_secs: u64,
    },

    #[error("job {job_id} has an inline input, which cannot be unavailable: post its result")]
    InputIsInline { job_id: u64 },

    #[error("input is {len} bytes; model {model_id} takes {expected}")]
    InputLen {
        model_id: String,
        len: usize,
        expected: usize,
    },

    #[error("model {model_id}: {reason}")]
    InvalidTokens { model_id: String, reason: String },

    #[error("model {model_id} is a version {version} model: use the messages of that version")]
    WrongModelVersion { model_id: String, version: u32 },

    #[error("{field} is {len} bytes, not a whole number of 32-byte hashes")]
    HashBytes { field: &'static str, len: usize },

    #[error("no job {job_id}")]
    JobNotFound { job_id: u64 },

    #[error("job {job_id} is {status}; this needs it {expected}")]
    WrongJobStatus {
        job_id: u64,
        status: &'static str,
        expected: &'static str,
    },

    #[error("job {job_id} is claimed by another worker")]
    NotJobWorker { job_id: u64 },

    #[error("job {job_id} belongs to another client")]
    NotJobClient { job_id: u64 },

    #[error("job {job_id}: {what} ends at {at}; it is now {now}")]
    TooEarly {
        job_id: u64,
        what: &'static str,
        at: Timestamp,
        now: Timestamp,
    },

    #[error("job {job_id}: {what} ended at {at}; it is now {now}")]
    TooLate {
        job_id: u64,
        what: &'static str,
        at: Timestamp,
        now: Timestamp,
    },

    #[error("job {job_id}: {count} hashes given; the model has {layers} layers")]
    HashCount {
        job_id: u64,
        count: usize,
        layers: u32,
    },

    #[error("job {job_id}: output is {len} bytes; the model outputs {expected}")]
    OutputLen {
        job_id: u64,
        len: usize,
        expected: u32,
    },

    #[error("job {job_id}: the last hash does not hash the posted output")]
    OutputHashMismatch { job_id: u64 },

    #[error("challenge bond must be exactly {expected} TRN; {sent} was sent")]
    WrongBond { expected: Uint128, sent: Uint128 },

    #[error("the worker cannot challenge its own result")]
    SelfChallenge,

    #[error(
        "job {job_id}: the challenger's hashes equal the worker's; there is nothing to dispute"
    )]
    NoDivergence { job_id: u64 },

    #[error("activation {index} is {len} bytes; layer {layer} takes {expected}")]
    ActivationLen {
        index: u32,
        layer: u32,
        len: usize,
        expected: usize,
    },

    #[error("activation {index} does not match the hash the worker committed to")]
    ActivationMismatch { index: u32 },

    #[error("job {job_id}'s result already has {max} challenges, the most one result may have")]
    TooManyChallenges { job_id: u64, max: u32 },

    #[error("job {job_id} has no challenge {seq}")]
    NoSuchDispute { job_id: u64, seq: u32 },

    #[error("challenge {seq} of job {job_id} has ended")]
    DisputeEnded { job_id: u64, seq: u32 },

    #[error("challenge {seq} of job {job_id} belongs to another challenger")]
    NotChallenger { job_id: u64, seq: u32 },

    #[error("challenge {seq} of job {job_id}: open it in a block after its commitment")]
    SameBlock { job_id: u64, seq: u32 },

    #[error("challenge {seq} of job {job_id}: the hashes and salt do not open the commitment")]
    CommitmentMismatch { job_id: u64, seq: u32 },

    #[error("challenge {seq} of job {job_id} is {state}; this needs it {expected}")]
    WrongDisputeState {
        job_id: u64,
        seq: u32,
        state: &'static str,
        expected: &'static str,
    },

    #[error("job {job_id}: the worker's hashes do not open its posted commitment")]
    RevealMismatch { job_id: u64 },

    #[error(
        "job {job_id}: unit {unit} is correct ({value}); pick a unit where the worker is wrong"
    )]
    NoMismatch { job_id: u64, unit: u32, value: i8 },

    #[error(
        "job {job_id}: element ({row}, {col}) of node {node} is correct ({value}); pick one \
         where the worker is wrong"
    )]
    NoElementMismatch {
        job_id: u64,
        node: u32,
        row: u32,
        col: u32,
        value: i32,
    },

    #[error("job {job_id}: {what}")]
    BadReveal { job_id: u64, what: String },

    #[error("layer {layer} has weights: send the unit's Merkle leaf and proof")]
    LeafRequired { layer: u32 },

    #[error("proof index {found} is not the leaf's position {expected} in the weights tree")]
    WrongProofIndex { found: u32, expected: u32 },

    #[error("one-step check failed: {0}")]
    Eval(String),

    #[error("Merkle proof rejected: {0}")]
    Proof(String),

    #[error(
        "a dispute of this model could take {bytes} bytes in one transaction; the market allows {max}"
    )]
    DisputeTooLarge { bytes: u64, max: u32 },

    #[error(
        "a dispute of this model would store {bytes} bytes under one key; the chain's VM allows {max}"
    )]
    StoredValueTooLarge { bytes: u64, max: u64 },

    #[error("no parameters are scheduled; UpdateConfig schedules them")]
    NoPendingConfig,

    #[error("the scheduled parameters take effect at {at}; it is now {now}")]
    ConfigNotDue { at: Timestamp, now: Timestamp },

    #[error("claimable balance is {available}; cannot withdraw {requested}")]
    InsufficientClaimable {
        available: Uint128,
        requested: Uint128,
    },

    #[error("cannot migrate from {found}: {reason}")]
    Migration { found: String, reason: &'static str },
}
