use cosmwasm_std::{Addr, DepsMut, MessageInfo, Response, Storage, Uint128};
use tavdun_core::graph::{GraphPlan, GraphSpec};
use tavdun_core::{HexHash, ModelSpec, Plan};
use tavdun_market_api::{Config, GraphModelInfo, ModelInfo};

use crate::admin::MAX_TIERS;
use crate::error::ContractError;
use crate::state::{CONFIG, GRAPH_MODELS, MODELS, MODEL_COUNT, MODEL_IDS};

const MAX_URI_LEN: usize = 512;

/// What a dispute transaction carries besides its activation, leaf and proof: the signed
/// envelope, the message's JSON keys, the job and dispute numbers.
const TX_OVERHEAD_BYTES: u64 = 1024;
/// A hash in JSON: 64 hex digits, quotes and a comma.
const JSON_HASH_BYTES: u64 = 67;
/// The most a weight takes in a JSON array of int8 (`-128,`).
const JSON_WEIGHT_BYTES: u64 = 5;
/// The most a value of a graph row or leaf takes in a JSON array of i32: the values are
/// int16 (`-32768,`), the few leaf params up to 2^29 are counted in [`LEAF_PARAMS`].
const JSON_VALUE_BYTES: u64 = 7;
/// A weights leaf's params (bias, multipliers, gamma and beta) in values of
/// [`JSON_VALUE_BYTES`]: two params of at most 12 bytes each, with room to spare.
const LEAF_PARAMS: u32 = 8;
/// The most bytes the chain's VM lets a contract write under one key (cosmwasm-vm's
/// `MAX_LENGTH_DB_VALUE`); a larger write fails the whole transaction.
pub const MAX_STORED_VALUE: u64 = 128 * 1024;
/// A dispute record's fields besides the revealed activation and the challenger's hashes:
/// addresses, deadlines, bond, agreed hash, outcome, JSON keys (a few hundred bytes).
const DISPUTE_RECORD_OVERHEAD: u64 = 1024;

/// Base64 length of `n` bytes.
fn base64_len(n: u64) -> u64 {
    n.div_ceil(3) * 4
}

/// The largest transaction a dispute of this model can need: the worker's `Reveal` (its
/// hashes and one layer's output) or the `Resolve` (that layer's input, the unit's leaf and
/// its Merkle proof), whichever layer is disputed.
pub fn dispute_bytes(plan: &Plan) -> u64 {
    let layers = plan.layers.len() as u64;
    let hashes = layers * JSON_HASH_BYTES;
    // A path in a tree of `total_leaves` leaves has at most this many siblings.
    let depth = u64::from(32 - plan.total_leaves.leading_zeros());
    plan.layers
        .iter()
        .map(|lp| {
            let reveal = hashes + base64_len(lp.output.len() as u64);
            let resolve = base64_len(lp.input.len() as u64)
                + u64::from(lp.fan_in) * JSON_WEIGHT_BYTES
                + depth * JSON_HASH_BYTES;
            reveal.max(resolve) + TX_OVERHEAD_BYTES
        })
        .max()
        .unwrap_or(TX_OVERHEAD_BYTES)
}

/// The largest value the market stores for a job of this model: a dispute record holding a
/// revealed layer output (base64) and the challenger's hashes, or an inline input. A model
/// above [`MAX_STORED_VALUE`] could never have a dispute at its widest layer resolved: the
/// honest worker's reveal would fail, whatever the transaction size allows.
pub fn stored_bytes(plan: &Plan) -> u64 {
    let widest = plan
        .layers
        .iter()
        .map(|lp| lp.output.len())
        .chain([plan.input.len()])
        .max()
        .unwrap_or(0) as u64;
    base64_len(widest) + plan.layers.len() as u64 * JSON_HASH_BYTES + DISPUTE_RECORD_OVERHEAD
}

/// A model of either version, as jobs, claims and the controls see it.
pub enum Registered {
    Chain(ModelInfo),
    Graph(GraphModelInfo),
}

/// The fields a model's owner (or the admin) controls, the same in both versions.
pub struct Controls<'a> {
    pub owner: &'a mut Addr,
    pub active: &'a mut bool,
    pub min_fee: &'a mut Uint128,
    pub min_tier: &'a mut u8,
    pub weights_uri: &'a mut String,
}

impl Registered {
    pub fn index(&self) -> u32 {
        match self {
            Registered::Chain(m) => m.index,
            Registered::Graph(m) => m.index,
        }
    }

    pub fn active(&self) -> bool {
        match self {
            Registered::Chain(m) => m.active,
            Registered::Graph(m) => m.active,
        }
    }

    pub fn min_fee(&self) -> Uint128 {
        match self {
            Registered::Chain(m) => m.min_fee,
            Registered::Graph(m) => m.min_fee,
        }
    }

    pub fn min_tier(&self) -> u8 {
        match self {
            Registered::Chain(m) => m.min_tier,
            Registered::Graph(m) => m.min_tier,
        }
    }

    pub fn model_id(&self) -> &str {
        match self {
            Registered::Chain(m) => &m.model_id,
            Registered::Graph(m) => &m.model_id,
        }
    }

    fn controls(&mut self) -> Controls<'_> {
        match self {
            Registered::Chain(m) => Controls {
                owner: &mut m.owner,
                active: &mut m.active,
                min_fee: &mut m.min_fee,
                min_tier: &mut m.min_tier,
                weights_uri: &mut m.weights_uri,
            },
            Registered::Graph(m) => Controls {
                owner: &mut m.owner,
                active: &mut m.active,
                min_fee: &mut m.min_fee,
                min_tier: &mut m.min_tier,
                weights_uri: &mut m.weights_uri,
            },
        }
    }

    fn save(&self, store: &mut dyn Storage) -> Result<(), ContractError> {
        match self {
            Registered::Chain(m) => MODELS.save(store, &m.model_id, m)?,
            Registered::Graph(m) => GRAPH_MODELS.save(store, &m.model_id, m)?,
        }
        Ok(())
    }
}

fn not_found(model_id: &str) -> ContractError {
    ContractError::ModelNotFound {
        model_id: model_id.to_string(),
    }
}

/// A model of either version by id.
pub fn load_registered(store: &dyn Storage, model_id: &str) -> Result<Registered, ContractError> {
    if let Some(m) = MODELS.may_load(store, model_id)? {
        return Ok(Registered::Chain(m));
    }
    GRAPH_MODELS
        .may_load(store, model_id)?
        .map(Registered::Graph)
        .ok_or_else(|| not_found(model_id))
}

/// A model of either version by its index (what a job records).
pub fn registered_at(store: &dyn Storage, index: u32) -> Result<Registered, ContractError> {
    load_registered(store, &MODEL_IDS.load(store, index)?)
}

/// A version 1 model; a graph model's id answers with the version it has.
pub fn load_model(store: &dyn Storage, model_id: &str) -> Result<ModelInfo, ContractError> {
    match load_registered(store, model_id)? {
        Registered::Chain(m) => Ok(m),
        Registered::Graph(_) => Err(ContractError::WrongModelVersion {
            model_id: model_id.to_string(),
            version: 2,
        }),
    }
}

/// A graph model; a version 1 model's id answers with the version it has.
pub fn load_graph_model(
    store: &dyn Storage,
    model_id: &str,
) -> Result<GraphModelInfo, ContractError> {
    match load_registered(store, model_id)? {
        Registered::Graph(m) => Ok(m),
        Registered::Chain(_) => Err(ContractError::WrongModelVersion {
            model_id: model_id.to_string(),
            version: 1,
        }),
    }
}

/// The plan of a registered graph model (validated at registration; as [`plan`]).
pub fn graph_plan(model: &GraphModelInfo) -> Result<GraphPlan, ContractError> {
    model
        .spec
        .validate()
        .map_err(|e| ContractError::InvalidSpec(e.to_string()))
}

/// The plan of a registered model. Registration validated the spec, so this only fails if
/// storage was corrupted; the error still says so rather than panicking.
pub fn plan(model: &ModelInfo) -> Result<Plan, ContractError> {
    model
        .spec
        .validate()
        .map_err(|e| ContractError::InvalidSpec(e.to_string()))
}

fn check_tier(tier: u8) -> Result<(), ContractError> {
    if tier == 0 || tier as usize > MAX_TIERS {
        return Err(ContractError::InvalidTier {
            tier,
            max: MAX_TIERS as u8,
        });
    }
    Ok(())
}

fn check_uri(uri: &str) -> Result<(), ContractError> {
    if uri.len() > MAX_URI_LEN {
        return Err(ContractError::TooLong {
            field: "weights_uri",
            len: uri.len(),
            max: MAX_URI_LEN,
        });
    }
    Ok(())
}

pub fn register_model(
    deps: DepsMut,
    info: MessageInfo,
    spec: ModelSpec,
    weights_root: HexHash,
    weights_uri: String,
    min_tier: u8,
    min_fee: Uint128,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let plan = spec
        .validate()
        .map_err(|e| ContractError::InvalidSpec(e.to_string()))?;
    let layers = plan.layers.len() as u32;
    if layers > config.params.max_layers {
        return Err(ContractError::TooManyLayers {
            layers,
            max: config.params.max_layers,
        });
    }
    check_tier(min_tier)?;
    check_uri(&weights_uri)?;
    let bytes = check_sizes(&config, stored_bytes(&plan), dispute_bytes(&plan))?;
    let model_id = hex::encode(tavdun_core::model_id(&spec, &weights_root.0));
    let index = next_index(deps.storage, &model_id)?;
    let model = ModelInfo {
        model_id: model_id.clone(),
        index,
        spec,
        weights_root,
        weights_uri,
        min_tier,
        min_fee,
        owner: info.sender.clone(),
        active: true,
        layers,
        input_len: plan.input.len() as u32,
        output_len: plan.output().len() as u32,
        dispute_bytes: bytes,
    };
    MODELS.save(deps.storage, &model_id, &model)?;
    Ok(registered(index, &model_id, &info.sender))
}

/// Refuses a model whose dispute record or inline input could exceed what the VM stores
/// under one key, or whose largest dispute transaction could exceed `max_dispute_bytes`;
/// returns the latter.
fn check_sizes(config: &Config, stored: u64, dispute: u64) -> Result<u64, ContractError> {
    if stored > MAX_STORED_VALUE {
        return Err(ContractError::StoredValueTooLarge {
            bytes: stored,
            max: MAX_STORED_VALUE,
        });
    }
    if dispute > u64::from(config.params.max_dispute_bytes) {
        return Err(ContractError::DisputeTooLarge {
            bytes: dispute,
            max: config.params.max_dispute_bytes,
        });
    }
    Ok(dispute)
}

/// The index of a new model, refusing an id either version already holds; records it.
fn next_index(store: &mut dyn Storage, model_id: &str) -> Result<u32, ContractError> {
    if MODELS.has(store, model_id) || GRAPH_MODELS.has(store, model_id) {
        return Err(ContractError::ModelExists {
            model_id: model_id.to_string(),
        });
    }
    let index = MODEL_COUNT.may_load(store)?.unwrap_or_default();
    MODEL_IDS.save(store, index, &model_id.to_string())?;
    let next = index
        .checked_add(1)
        .ok_or(ContractError::Empty("model counter overflow"))?;
    MODEL_COUNT.save(store, &next)?;
    Ok(index)
}

fn registered(index: u32, model_id: &str, owner: &Addr) -> Response {
    Response::new()
        .add_attribute("action", "register_model")
        .add_attribute("model_id", model_id)
        .add_attribute("index", index.to_string())
        .add_attribute("owner", owner)
}

/// A Merkle path in a tree of `leaves` leaves: at most this many sibling hashes.
fn path_len(leaves: u32) -> u64 {
    u64::from(32 - leaves.leading_zeros())
}

/// The largest transaction a dispute of a graph model can need, over every node at the
/// model's token limit: the challenge (the challenger's run roots of the node, raw hashes in
/// base64), the reveal (every node root, the rows of one run in base64, two paths in the
/// tree of run roots) or the resolve (one revealed row with its path in its run, up to two
/// input rows with paths, one weights leaf with its path).
pub fn graph_dispute_bytes(plan: &GraphPlan) -> u64 {
    let n = plan.max_tokens;
    let roots = base64_len(32 * plan.nodes.len() as u64);
    let leaf_path = path_len(plan.total_leaves) * JSON_HASH_BYTES;
    plan.nodes
        .iter()
        .map(|np| {
            let rows = np.rows.at(n);
            let len = np.run_len(n);
            let runs = rows.div_ceil(len);
            let row_bytes = u64::from(np.width.at(n)) * np.dtype.bytes() as u64;
            let run_path = path_len(runs) * JSON_HASH_BYTES;
            let challenge = base64_len(32 * u64::from(runs));
            let run_rows = base64_len(u64::from(len.min(rows)) * row_bytes);
            let reveal = roots + run_rows + 2 * run_path + JSON_HASH_BYTES;
            let inputs: u64 = np
                .inputs
                .iter()
                .map(|&i| {
                    let ip = &plan.nodes[i];
                    u64::from(ip.width.at(n)) * JSON_VALUE_BYTES
                        + path_len(ip.rows.at(n)) * JSON_HASH_BYTES
                })
                .sum();
            let leaf = u64::from(np.width.at(n).max(LEAF_PARAMS)) * JSON_VALUE_BYTES + leaf_path;
            let row = base64_len(row_bytes) + path_len(len) * JSON_HASH_BYTES;
            let resolve = row + inputs + leaf;
            challenge.max(reveal).max(resolve) + TX_OVERHEAD_BYTES
        })
        .max()
        .unwrap_or(TX_OVERHEAD_BYTES)
}

/// The largest value the market stores for a graph model job: a dispute record holding one
/// revealed row (base64), or the job's inline tokens (ids in JSON, mask in base64).
pub fn graph_stored_bytes(plan: &GraphPlan) -> u64 {
    let n = plan.max_tokens;
    let widest = plan
        .nodes
        .iter()
        .map(|np| u64::from(np.width.at(n)) * np.dtype.bytes() as u64)
        .max()
        .unwrap_or(0);
    let input = u64::from(n) * JSON_VALUE_BYTES + base64_len(u64::from(n));
    base64_len(widest).max(input) + DISPUTE_RECORD_OVERHEAD
}

pub fn register_graph_model(
    deps: DepsMut,
    info: MessageInfo,
    spec: GraphSpec,
    weights_root: HexHash,
    weights_uri: String,
    min_tier: u8,
    min_fee: Uint128,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let plan = spec
        .validate()
        .map_err(|e| ContractError::InvalidSpec(e.to_string()))?;
    check_tier(min_tier)?;
    check_uri(&weights_uri)?;
    let out = &plan.nodes[plan.output()];
    let (Some(rows), Some(width)) = (out.rows.constant(), out.width.constant()) else {
        return Err(ContractError::InvalidSpec(
            "the output node's shape must not depend on the token count (pool the tokens)"
                .to_string(),
        ));
    };
    let bytes = check_sizes(
        &config,
        graph_stored_bytes(&plan),
        graph_dispute_bytes(&plan),
    )?;
    let model_id = hex::encode(tavdun_core::model_id_of(
        &spec.canonical_json(),
        &weights_root.0,
    ));
    let index = next_index(deps.storage, &model_id)?;
    let model = GraphModelInfo {
        model_id: model_id.clone(),
        index,
        nodes: plan.nodes.len() as u32,
        max_tokens: plan.max_tokens,
        vocab: plan.vocab,
        output_len: rows * width,
        output_width: width,
        output_dtype: out.dtype,
        spec,
        weights_root,
        weights_uri,
        min_tier,
        min_fee,
        owner: info.sender.clone(),
        active: true,
        dispute_bytes: bytes,
    };
    GRAPH_MODELS.save(deps.storage, &model_id, &model)?;
    Ok(registered(index, &model_id, &info.sender))
}

pub fn update_model(
    deps: DepsMut,
    info: MessageInfo,
    model_id: String,
    active: Option<bool>,
    min_fee: Option<Uint128>,
    min_tier: Option<u8>,
    weights_uri: Option<String>,
) -> Result<Response, ContractError> {
    let mut model = controlled_model(deps.storage, &info.sender, &model_id)?;
    let c = model.controls();
    if let Some(a) = active {
        *c.active = a;
    }
    if let Some(f) = min_fee {
        *c.min_fee = f;
    }
    if let Some(t) = min_tier {
        check_tier(t)?;
        *c.min_tier = t;
    }
    if let Some(u) = weights_uri {
        check_uri(&u)?;
        *c.weights_uri = u;
    }
    model.save(deps.storage)?;
    Ok(Response::new()
        .add_attribute("action", "update_model")
        .add_attribute("model_id", model_id)
        .add_attribute("active", model.active().to_string()))
}

/// A model of either version whose controls `sender` holds: its owner or the admin.
fn controlled_model(
    store: &dyn Storage,
    sender: &Addr,
    model_id: &str,
) -> Result<Registered, ContractError> {
    let config = CONFIG.load(store)?;
    let mut model = load_registered(store, model_id)?;
    if *sender != *model.controls().owner && *sender != config.admin {
        return Err(ContractError::Unauthorized {
            role: "the model owner or the admin",
        });
    }
    Ok(model)
}

/// The model's owner or the admin hands the model's controls to a new owner: the remedy
/// when someone registered another's model first (a model id is the hash of public data, so
/// anyone can).
pub fn transfer_model(
    deps: DepsMut,
    info: MessageInfo,
    model_id: String,
    owner: String,
) -> Result<Response, ContractError> {
    let mut model = controlled_model(deps.storage, &info.sender, &model_id)?;
    let owner = deps.api.addr_validate(&owner)?;
    *model.controls().owner = owner.clone();
    model.save(deps.storage)?;
    Ok(Response::new()
        .add_attribute("action", "transfer_model")
        .add_attribute("model_id", model_id)
        .add_attribute("owner", owner))
}
