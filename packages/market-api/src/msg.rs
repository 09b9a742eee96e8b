//! What can be sent to the market: instantiation, executions, and the hook messages that ride
//! in a CW20 `Send` of TRN.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Binary, Timestamp, Uint128};
use cw20::Cw20ReceiveMsg;
use tavdun_core::{HexHash, Leaf, ModelSpec, Proof};

use crate::config::Params;
use crate::job::JobInput;
use crate::worker::HardwareDeclaration;

#[cw_serde]
pub struct InstantiateMsg {
    /// The TRN CW20 contract: the only token the market accepts or pays out.
    pub token: String,
    /// Defaults to the instantiating address.
    pub admin: Option<String>,
    /// Where `WithdrawTreasury` sends protocol fees and slashed collateral.
    pub treasury: String,
    pub params: Params,
}

#[cw_serde]
pub enum ExecuteMsg {
    /// TRN arrives here through CW20 `Send`; the inner message is a [`ReceiveMsg`].
    Receive(Cw20ReceiveMsg),

    // Models
    RegisterModel {
        spec: ModelSpec,
        weights_root: HexHash,
        weights_uri: String,
        min_tier: u8,
        min_fee: Uint128,
    },
    /// Model owner or admin: new jobs are refused while a model is inactive.
    UpdateModel {
        model_id: String,
        active: Option<bool>,
        min_fee: Option<Uint128>,
        min_tier: Option<u8>,
        weights_uri: Option<String>,
    },

    // Workers
    DeclareHardware {
        hardware: HardwareDeclaration,
    },
    /// Starts the unbonding period of `amount` of the caller's free stake.
    Unbond {
        amount: Uint128,
    },

    // Jobs
    /// Worker: takes up to `max` of the best-paying open jobs of a model its free stake
    /// covers. The transaction's data is the JSON list of the claimed job ids.
    ClaimJobs {
        model_id: String,
        max: u32,
    },
    /// Worker: the results of jobs it claimed.
    PostResults {
        results: Vec<JobResultMsg>,
    },
    /// Anyone, once the challenge window of each job is over: pays the workers.
    Finalize {
        job_ids: Vec<u64>,
    },
    /// Anyone: returns jobs whose claim timed out to the queue and penalises their workers.
    ExpireClaims {
        job_ids: Vec<u64>,
    },
    /// Client: withdraws open (unclaimed) jobs and gets their fees back.
    CancelJobs {
        job_ids: Vec<u64>,
    },
    /// Anyone: refunds open jobs whose deadline passed before any worker claimed them.
    RefundExpired {
        job_ids: Vec<u64>,
    },

    // Disputes
    /// Challenged worker: its activation of the divergent layer.
    Reveal {
        job_id: u64,
        activation: Binary,
    },
    /// Anyone: one output value of the divergent layer that the worker got wrong.
    Resolve {
        job_id: u64,
        unit: u32,
        leaf: Option<Leaf>,
        proof: Option<Proof>,
    },
    /// Anyone, after a dispute deadline: the silent side loses.
    ClaimTimeout {
        job_id: u64,
    },

    // Money out
    /// Pays the caller's claimable balance (matured unbonding included); `None` takes all.
    Withdraw {
        amount: Option<Uint128>,
    },
    /// Admin: sends treasury funds to the treasury address.
    WithdrawTreasury {
        amount: Option<Uint128>,
    },

    // Admin
    UpdateConfig {
        params: Params,
        treasury: Option<String>,
    },
    /// Stops new jobs (never claims, results, disputes or withdrawals).
    Pause {},
    Unpause {},
    ProposeAdmin {
        admin: String,
    },
    AcceptAdmin {},
}

/// What a CW20 `Send` of TRN to the market pays for (the `msg` of the token's `Send`).
#[cw_serde]
pub enum ReceiveMsg {
    /// Adds the sent amount to the sender's stake; hardware is required on the first bond.
    Bond {
        hardware: Option<HardwareDeclaration>,
    },
    /// One job whose fee is the sent amount.
    SubmitJob {
        model_id: String,
        input: JobInput,
        deadline: Timestamp,
    },
    /// Several jobs; their fees must add up to the sent amount.
    SubmitJobs { jobs: Vec<JobRequest> },
    /// Disputes a posted result; the sent amount must equal the challenge bond.
    Challenge {
        job_id: u64,
        /// The challenger's `[h_1 .. h_n]`.
        hashes: Vec<HexHash>,
        /// Activation `L-1` (the job input when `L = 1`), `L` being the first layer whose
        /// hash differs from the worker's.
        activation: Binary,
    },
}

/// One job of a [`ReceiveMsg::SubmitJobs`].
#[cw_serde]
pub struct JobRequest {
    pub model_id: String,
    pub input: JobInput,
    pub fee: Uint128,
    pub deadline: Timestamp,
}

#[cw_serde]
pub struct JobResultMsg {
    pub job_id: u64,
    /// The model's output (int8 bytes).
    pub output: Binary,
    /// `[h_1 .. h_n]`; `h_n` must hash `output`.
    pub hashes: Vec<HexHash>,
}

#[cw_serde]
pub struct MigrateMsg {}
