use cosmwasm_std::{DepsMut, MessageInfo, Response, Storage, Uint128};
use tavdun_core::{HexHash, ModelSpec, Plan};
use tavdun_market_api::ModelInfo;

use crate::admin::MAX_TIERS;
use crate::error::ContractError;
use crate::state::{CONFIG, MODELS, MODEL_COUNT, MODEL_IDS};

const MAX_URI_LEN: usize = 512;

/// What a dispute transaction carries besides its activation, leaf and proof: the signed
/// envelope, the message's JSON keys, the job and dispute numbers.
const TX_OVERHEAD_BYTES: u64 = 1024;
/// A hash in JSON: 64 hex digits, quotes and a comma.
const JSON_HASH_BYTES: u64 = 67;
/// The most a weight takes in a JSON array of int8 (`-128,`).
const JSON_WEIGHT_BYTES: u64 = 5;
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

pub fn load_model(store: &dyn Storage, model_id: &str) -> Result<ModelInfo, ContractError> {
    MODELS
        .may_load(store, model_id)?
        .ok_or_else(|| ContractError::ModelNotFound {
            model_id: model_id.to_string(),
        })
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
    let stored = stored_bytes(&plan);
    if stored > MAX_STORED_VALUE {
        return Err(ContractError::StoredValueTooLarge {
            bytes: stored,
            max: MAX_STORED_VALUE,
        });
    }
    let bytes = dispute_bytes(&plan);
    if bytes > u64::from(config.params.max_dispute_bytes) {
        return Err(ContractError::DisputeTooLarge {
            bytes,
            max: config.params.max_dispute_bytes,
        });
    }
    let model_id = hex::encode(tavdun_core::model_id(&spec, &weights_root.0));
    if MODELS.has(deps.storage, &model_id) {
        return Err(ContractError::ModelExists { model_id });
    }
    let index = MODEL_COUNT.may_load(deps.storage)?.unwrap_or_default();
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
    MODEL_IDS.save(deps.storage, index, &model_id)?;
    let next = index
        .checked_add(1)
        .ok_or(ContractError::Empty("model counter overflow"))?;
    MODEL_COUNT.save(deps.storage, &next)?;
    Ok(Response::new()
        .add_attribute("action", "register_model")
        .add_attribute("model_id", model_id)
        .add_attribute("owner", info.sender))
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
    let config = CONFIG.load(deps.storage)?;
    let mut model = load_model(deps.storage, &model_id)?;
    if info.sender != model.owner && info.sender != config.admin {
        return Err(ContractError::Unauthorized {
            role: "the model owner or the admin",
        });
    }
    if let Some(a) = active {
        model.active = a;
    }
    if let Some(f) = min_fee {
        model.min_fee = f;
    }
    if let Some(t) = min_tier {
        check_tier(t)?;
        model.min_tier = t;
    }
    if let Some(u) = weights_uri {
        check_uri(&u)?;
        model.weights_uri = u;
    }
    MODELS.save(deps.storage, &model_id, &model)?;
    Ok(Response::new()
        .add_attribute("action", "update_model")
        .add_attribute("model_id", model_id)
        .add_attribute("active", model.active.to_string()))
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
    let config = CONFIG.load(deps.storage)?;
    let mut model = load_model(deps.storage, &model_id)?;
    if info.sender != model.owner && info.sender != config.admin {
        return Err(ContractError::Unauthorized {
            role: "the model owner or the admin",
        });
    }
    model.owner = deps.api.addr_validate(&owner)?;
    MODELS.save(deps.storage, &model_id, &model)?;
    Ok(Response::new()
        .add_attribute("action", "transfer_model")
        .add_attribute("model_id", model_id)
        .add_attribute("owner", model.owner))
}
