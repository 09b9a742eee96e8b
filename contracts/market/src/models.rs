use cosmwasm_std::{DepsMut, MessageInfo, Response, Storage, Uint128};
use tavdun_core::{HexHash, ModelSpec, Plan};
use tavdun_market_api::ModelInfo;

use crate::admin::MAX_TIERS;
use crate::error::ContractError;
use crate::state::{CONFIG, MODELS, MODEL_COUNT};

const MAX_URI_LEN: usize = 512;

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
    let model_id = hex::encode(tavdun_core::model_id(&spec, &weights_root.0));
    if MODELS.has(deps.storage, &model_id) {
        return Err(ContractError::ModelExists { model_id });
    }
    let model = ModelInfo {
        model_id: model_id.clone(),
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
    };
    MODELS.save(deps.storage, &model_id, &model)?;
    MODEL_COUNT.update(deps.storage, |n| -> Result<u64, ContractError> {
        n.checked_add(1)
            .ok_or(ContractError::Empty("model counter overflow"))
    })?;
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
