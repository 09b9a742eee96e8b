//! What can be sent to the market: instantiation, executions, and the hook messages that ride
//! in a CW20 `Send` of TRN.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Binary, Timestamp, Uint128};
use cw20::Cw20ReceiveMsg;
use tavdun_core::graph::{
    concat_hashes, decode_values, encode_values, run_tree, GraphSpec, StepWitness, Trace,
};
use tavdun_core::{Hash, HexHash, Leaf, MerkleTree, ModelSpec, Proof};

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
    /// Registers a graph model (spec version 2, a transformer over token ids); refused when a
    /// dispute of it could need a transaction above `max_dispute_bytes`.
    RegisterGraphModel {
        spec: GraphSpec,
        weights_root: HexHash,
        weights_uri: String,
        min_tier: u8,
        min_fee: Uint128,
    },
    /// The model's owner or the admin: hands the model's controls to `owner` (the admin's
    /// remedy against a squatter who registered someone else's model first).
    TransferModel {
        model_id: String,
        owner: String,
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
    /// Worker: the results of graph model jobs it claimed.
    PostGraphResults {
        results: Vec<GraphResultMsg>,
    },
    /// Worker: gives back claimed jobs whose off-chain input it could not fetch, without the
    /// liveness penalty; each client pays `release_fee`. Only for blob inputs.
    ReleaseJobs {
        job_ids: Vec<u64>,
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
    /// Challenger, a block or more after `CommitChallenge`, within the window: shows its
    /// `[h_1 .. h_n]` and the salt of its commitment.
    Challenge {
        job_id: u64,
        seq: u32,
        hashes: Vec<HexHash>,
        salt: HexHash,
    },
    /// Challenged worker: its `[h_1 .. h_n]` (checked against its posted commitment) and its
    /// activation of `L`, the first layer where its hashes and the challenger's differ.
    Reveal {
        job_id: u64,
        seq: u32,
        hashes: Vec<HexHash>,
        activation: Binary,
    },
    /// Anyone: one output value of layer `L` that the worker got wrong, from activation
    /// `L - 1` (checked against the agreed hash) and, for a weighted layer, the unit's leaf
    /// and its Merkle proof.
    Resolve {
        job_id: u64,
        seq: u32,
        unit: u32,
        input: Binary,
        leaf: Option<Leaf>,
        proof: Option<Proof>,
    },
    /// Challenger of a graph model result, a block or more after `CommitChallenge`, within
    /// the window: names `node`, the first node of the worker's trace (its node roots are in
    /// the worker's `PostGraphResults`) that is not what the node's op makes of the worker's
    /// earlier nodes, and shows its own roots of that node's runs of rows (32 bytes each, in
    /// order; `tavdun_core::graph::run_len` rows a run), which must open the commitment.
    ChallengeNode {
        job_id: u64,
        seq: u32,
        node: u32,
        runs: Binary,
        salt: HexHash,
    },
    /// Challenged worker of a graph model result: its node roots (checked against its trace
    /// root) and the rows of one run of the challenged node whose root differs from the
    /// challenger's, with the challenger's root of that run and its proof against the
    /// challenger's root of the node. A worker whose root of that node equals the
    /// challenger's shows so with the roots alone (`run` and the challenger's run root are
    /// then not needed): the challenge fails at once.
    RevealRow {
        job_id: u64,
        seq: u32,
        node_roots: Binary,
        run: Option<RevealedRun>,
        challenger_run: Option<HexHash>,
        challenger_proof: Option<Proof>,
    },
    /// Anyone: one element `(row, col)` of the revealed run that the worker got wrong,
    /// recomputed on chain with `tavdun_core::graph::verify_element` from the rows and leaf
    /// of `witness`, proven against the worker's roots of the nodes it reads (kept at the
    /// reveal) and the model's `weights_root`. `revealed` is the worker's row `row` as its
    /// `RevealRow` showed it, with `row_proof`, its proof against the revealed run's root
    /// (`tavdun_core::graph::run_tree` of the run's rows).
    ResolveElement {
        job_id: u64,
        seq: u32,
        row: u32,
        revealed: Binary,
        row_proof: Proof,
        col: u32,
        witness: StepWitness,
    },
    /// Anyone, after a deadline of the dispute: the silent side loses.
    ClaimTimeout {
        job_id: u64,
        seq: u32,
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
    /// Schedules new parameters; they take effect `config_delay` seconds later.
    UpdateConfig {
        params: Params,
        treasury: Option<String>,
    },
    /// Anyone, once the delay is over: installs the scheduled parameters.
    ApplyConfig {},
    /// Admin: sends TRN that reached the market outside `Send` (a plain transfer), which the
    /// books never counted, to the treasury address.
    SweepUnaccounted {},
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
    /// The first step of a challenge of a posted result, within its window: the sent amount
    /// must equal the challenge bond; `commitment` is
    /// `tavdun_core::challenge_commitment(challenger, job_id, hashes, salt)`, opened by
    /// `Challenge` in a later block.
    CommitChallenge { job_id: u64, commitment: HexHash },
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
    /// The model's output (int8 bytes); the contract hashes it into `h_n`.
    pub output: Binary,
    /// `tavdun_core::trace_prefix` of `[h_1 .. h_{n-1}]`: with `h_n`, the result's
    /// commitment.
    pub trace_prefix: HexHash,
}

/// A run of rows of a graph model node as a `RevealRow` carries it: its rows' values as
/// bytes, row after row (`tavdun_core::graph::encode_values` of the node's type, a third of
/// their size in JSON numbers), and the proof of the run's root against the worker's root of
/// the node, in the tree of the node's run roots.
#[cw_serde]
pub struct RevealedRun {
    pub run: u32,
    pub values: Binary,
    pub proof: Proof,
}

/// The result of a graph model job.
#[cw_serde]
pub struct GraphResultMsg {
    pub job_id: u64,
    /// The output node's values (`tavdun_core::graph::encode_values` of its type).
    pub output: Binary,
    /// Every node's root, 32 bytes each in node order: with the job's input hash, the
    /// trace root the result commits to; kept in the transaction, where a challenger reads
    /// which node to dispute, and not in the contract's storage.
    pub node_roots: Binary,
}

impl GraphResultMsg {
    /// The result of a forward pass with this trace.
    pub fn new(job_id: u64, trace: &Trace) -> GraphResultMsg {
        let output = trace.nodes.last().map_or_else(Vec::new, |t| {
            tavdun_core::graph::encode_values(t.dtype, &t.values)
        });
        GraphResultMsg {
            job_id,
            output: Binary::new(output),
            node_roots: Binary::new(concat_hashes(&trace.node_roots())),
        }
    }
}

#[cw_serde]
pub struct MigrateMsg {}

impl JobResultMsg {
    /// The result of a forward pass whose layer outputs are `activations`: the output, and
    /// the prefix of the per-layer hashes that, with the output's own hash (computed by the
    /// contract), makes the result's commitment.
    pub fn new(job_id: u64, activations: &[Vec<i8>]) -> JobResultMsg {
        let hashes = tavdun_core::activation_hashes(activations);
        let rest = &hashes[..hashes.len().saturating_sub(1)];
        JobResultMsg {
            job_id,
            output: crate::job::int8_binary(activations.last().map_or(&[][..], Vec::as_slice)),
            trace_prefix: HexHash(tavdun_core::trace_prefix(rest)),
        }
    }
}

/// The two hashes a graph model challenge commits to: the node (its index in the last four
/// bytes of a zero hash) and the challenger's root of it. Two challenges with the same pair
/// make the same claim.
pub fn node_claim_hashes(node: u32, node_root: &Hash) -> Vec<Hash> {
    let mut word = [0u8; 32];
    word[28..].copy_from_slice(&node.to_be_bytes());
    vec![word, *node_root]
}

/// A challenger's claim against a graph model result: the node it disputes and its own roots
/// of that node's runs of rows (`Trace::node_runs`), with the salt it commits them with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeChallengeClaim {
    pub challenger: String,
    pub job_id: u64,
    pub node: u32,
    pub runs: Vec<Hash>,
    pub salt: Hash,
}

impl NodeChallengeClaim {
    /// The claim of `challenger` against the result whose trace root is `result`, with the
    /// salt derived from them (so a restarted challenger can still open what it committed).
    pub fn new(
        challenger: &str,
        job_id: u64,
        node: u32,
        runs: Vec<Hash>,
        result: &Hash,
    ) -> NodeChallengeClaim {
        NodeChallengeClaim {
            salt: tavdun_core::challenge_salt(challenger, job_id, result),
            challenger: challenger.to_string(),
            job_id,
            node,
            runs,
        }
    }

    /// The challenger's root of the node (the tree of its run roots has it).
    pub fn node_root(&self) -> Hash {
        MerkleTree::new(self.runs.clone()).root()
    }

    /// The hook of the first step (sent with the bond).
    pub fn commit(&self) -> ReceiveMsg {
        let hashes = node_claim_hashes(self.node, &self.node_root());
        let commitment =
            tavdun_core::challenge_commitment(&self.challenger, self.job_id, &hashes, &self.salt);
        ReceiveMsg::CommitChallenge {
            job_id: self.job_id,
            commitment: HexHash(commitment),
        }
    }

    /// The second step, in a later block: opens challenge `seq`.
    pub fn open(&self, seq: u32) -> ExecuteMsg {
        ExecuteMsg::ChallengeNode {
            job_id: self.job_id,
            seq,
            node: self.node,
            runs: Binary::new(concat_hashes(&self.runs)),
            salt: HexHash(self.salt),
        }
    }
}

/// The challenged worker's `RevealRow` from its own trace `ours` against a challenger whose
/// run roots of `node` are `theirs`: the rows of the first run where the two differ, with
/// both proofs, or the roots alone when they do not differ (which ends the challenge).
/// `None` when `node` is not a node of the trace.
pub fn reveal_row(
    job_id: u64,
    seq: u32,
    node: u32,
    ours: &Trace,
    theirs: &[Hash],
) -> Option<ExecuteMsg> {
    let trees = ours.node_trees();
    let runs = ours.node_runs(&trees, node as usize)?;
    let tensor = &ours.nodes[node as usize];
    let (our_tree, their_tree) = (MerkleTree::new(runs), MerkleTree::new(theirs.to_vec()));
    let first = our_tree
        .leaves()
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .filter(|_| our_tree.root() != their_tree.root())
        .map(|r| r as u32);
    Some(ExecuteMsg::RevealRow {
        job_id,
        seq,
        node_roots: Binary::new(concat_hashes(&ours.node_roots())),
        run: first.and_then(|r| {
            Some(RevealedRun {
                run: r,
                values: Binary::new(encode_values(tensor.dtype, tensor.run(r)?)),
                proof: our_tree.proof(r)?,
            })
        }),
        challenger_run: first.map(|r| HexHash(theirs[r as usize])),
        challenger_proof: first.and_then(|r| their_tree.proof(r)),
    })
}

/// Where a run a worker revealed first differs from a correct trace: what a
/// `ResolveElement` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMismatch {
    pub row: u32,
    pub col: u32,
    /// The worker's values of `row`, as it revealed them.
    pub revealed: Binary,
    /// Their proof against the revealed run's root.
    pub row_proof: Proof,
}

impl RunMismatch {
    /// The first element where `revealed`, a run of `node`, differs from the correct trace
    /// `ours`. `None` when the two agree or `revealed` is not a run of the node.
    pub fn find(node: u32, ours: &Trace, revealed: &RevealedRun) -> Option<RunMismatch> {
        let t = ours.nodes.get(node as usize)?;
        let theirs = decode_values(t.dtype, &revealed.values)?;
        let correct = t.run(revealed.run)?;
        if theirs.len() != correct.len() {
            return None;
        }
        let at = theirs
            .iter()
            .zip(correct)
            .position(|(&a, &b)| a != i32::from(b))?;
        let width = t.width.max(1) as usize;
        let i = at / width;
        let first = revealed.run * t.run_len();
        let tree = run_tree(node, first, t.dtype, t.width, &theirs);
        Some(RunMismatch {
            row: first + i as u32,
            col: (at % width) as u32,
            revealed: Binary::new(encode_values(t.dtype, &theirs[i * width..(i + 1) * width])),
            row_proof: tree.proof(i as u32)?,
        })
    }

    /// The resolve of challenge `seq` of `job_id` with this element and its `witness`
    /// (`tavdun_core::graph::prove_element` of `(row, col)`).
    pub fn resolve(self, job_id: u64, seq: u32, witness: StepWitness) -> ExecuteMsg {
        ExecuteMsg::ResolveElement {
            job_id,
            seq,
            row: self.row,
            revealed: self.revealed,
            row_proof: self.row_proof,
            col: self.col,
            witness,
        }
    }
}

/// A challenger's claim against a result: its `[h_1 .. h_n]` and the salt it commits them
/// with, from which both steps of a challenge are built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeClaim {
    pub challenger: String,
    pub job_id: u64,
    pub hashes: Vec<tavdun_core::Hash>,
    pub salt: tavdun_core::Hash,
}

impl ChallengeClaim {
    /// The claim of `challenger` against the result committed to as `result`, with the salt
    /// derived from them (so a restarted challenger can still open what it committed).
    pub fn new(
        challenger: &str,
        job_id: u64,
        hashes: Vec<tavdun_core::Hash>,
        result: &tavdun_core::Hash,
    ) -> ChallengeClaim {
        ChallengeClaim {
            salt: tavdun_core::challenge_salt(challenger, job_id, result),
            challenger: challenger.to_string(),
            job_id,
            hashes,
        }
    }

    /// The hook of the first step (sent with the bond).
    pub fn commit(&self) -> ReceiveMsg {
        let commitment = tavdun_core::challenge_commitment(
            &self.challenger,
            self.job_id,
            &self.hashes,
            &self.salt,
        );
        ReceiveMsg::CommitChallenge {
            job_id: self.job_id,
            commitment: HexHash(commitment),
        }
    }

    /// The second step, in a later block: opens challenge `seq`.
    pub fn open(&self, seq: u32) -> ExecuteMsg {
        ExecuteMsg::Challenge {
            job_id: self.job_id,
            seq,
            hashes: self.hashes.iter().copied().map(HexHash).collect(),
            salt: HexHash(self.salt),
        }
    }
}
