use cosmwasm_std::{DepsMut, MessageInfo, Response, Uint128};

use tavdun_market_api::{Config, InstantiateMsg, MigrateMsg, Params, Totals};

use crate::error::ContractError;
use crate::ledger;
use crate::state::{CONFIG, MODEL_COUNT, NEXT_JOB_ID, PENDING_ADMIN, TIER_COUNTS, TOTALS};

pub const CONTRACT_NAME: &str = "crates.io:tavdun-market";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");

pub const MAX_TIERS: usize = 8;
const MAX_FEE_BPS: u16 = 2_000;
const BPS: u16 = 10_000;
/// Every timeout lies between one minute and thirty days: shorter ones cannot be met by a
/// worker on a busy chain, longer ones lock funds for too long.
const MIN_PERIOD: u64 = 60;
const MAX_PERIOD: u64 = 30 * 24 * 3600;
const MAX_BATCH: u32 = 100;
const MAX_INPUT_BYTES: u32 = 64 * 1024;

fn invalid(field: &'static str, reason: impl Into<String>) -> ContractError {
    ContractError::InvalidConfig {
        field,
        reason: reason.into(),
    }
}

pub fn validate_params(p: &Params) -> Result<(), ContractError> {
    if p.protocol_fee_bps > MAX_FEE_BPS {
        return Err(invalid(
            "protocol_fee_bps",
            format!("must be at most {MAX_FEE_BPS}"),
        ));
    }
    if p.challenger_reward_bps > BPS {
        return Err(invalid(
            "challenger_reward_bps",
            format!("must be at most {BPS}"),
        ));
    }
    for (field, v) in [
        ("challenge_window", p.challenge_window),
        ("claim_timeout", p.claim_timeout),
        ("reveal_timeout", p.reveal_timeout),
        ("resolve_timeout", p.resolve_timeout),
        ("unbonding_period", p.unbonding_period),
    ] {
        if !(MIN_PERIOD..=MAX_PERIOD).contains(&v) {
            return Err(invalid(
                field,
                format!("must be {MIN_PERIOD}..={MAX_PERIOD} seconds"),
            ));
        }
    }
    if p.challenge_bond.is_zero() {
        return Err(invalid("challenge_bond", "must be positive"));
    }
    if p.collateral_per_job.is_zero() {
        return Err(invalid("collateral_per_job", "must be positive"));
    }
    if p.liveness_penalty > p.collateral_per_job {
        return Err(invalid(
            "liveness_penalty",
            "must not exceed collateral_per_job",
        ));
    }
    if p.tier_stakes.is_empty() || p.tier_stakes.len() > MAX_TIERS {
        return Err(invalid(
            "tier_stakes",
            format!("needs 1..={MAX_TIERS} entries"),
        ));
    }
    if p.tier_stakes.windows(2).any(|w| w[0] >= w[1]) {
        return Err(invalid("tier_stakes", "must be strictly increasing"));
    }
    if p.tier_stakes[0] < p.collateral_per_job {
        return Err(invalid(
            "tier_stakes",
            "tier 1 must cover at least one job's collateral",
        ));
    }
    if p.max_input_bytes == 0 || p.max_input_bytes > MAX_INPUT_BYTES {
        return Err(invalid(
            "max_input_bytes",
            format!("must be 1..={MAX_INPUT_BYTES}"),
        ));
    }
    if p.max_layers == 0 || p.max_layers as usize > tavdun_core::spec::limits::MAX_LAYERS {
        return Err(invalid(
            "max_layers",
            format!("must be 1..={}", tavdun_core::spec::limits::MAX_LAYERS),
        ));
    }
    if p.max_batch == 0 || p.max_batch > MAX_BATCH {
        return Err(invalid("max_batch", format!("must be 1..={MAX_BATCH}")));
    }
    Ok(())
}

pub fn instantiate(
    deps: DepsMut,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    validate_params(&msg.params)?;
    let token = deps.api.addr_validate(&msg.token)?;
    let treasury = deps.api.addr_validate(&msg.treasury)?;
    let admin = match msg.admin {
        Some(a) => deps.api.addr_validate(&a)?,
        None => info.sender,
    };
    let config = Config {
        token,
        admin,
        treasury,
        params: msg.params,
        paused: false,
    };
    CONFIG.save(deps.storage, &config)?;
    TOTALS.save(deps.storage, &Totals::default())?;
    NEXT_JOB_ID.save(deps.storage, &1)?;
    MODEL_COUNT.save(deps.storage, &0)?;
    TIER_COUNTS.save(deps.storage, &vec![0; MAX_TIERS])?;
    cw2::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_attribute("admin", config.admin)
        .add_attribute("token", config.token))
}

pub fn load_admin_config(deps: &DepsMut, info: &MessageInfo) -> Result<Config, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if info.sender != config.admin {
        return Err(ContractError::Unauthorized { role: "the admin" });
    }
    Ok(config)
}

pub fn update_config(
    deps: DepsMut,
    info: MessageInfo,
    params: Params,
    treasury: Option<String>,
) -> Result<Response, ContractError> {
    let mut config = load_admin_config(&deps, &info)?;
    validate_params(&params)?;
    if let Some(t) = treasury {
        config.treasury = deps.api.addr_validate(&t)?;
    }
    // Tiers of existing workers follow the new thresholds the next time their stake changes.
    config.params = params;
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "update_config")
        .add_attribute("treasury", config.treasury))
}

pub fn set_paused(
    deps: DepsMut,
    info: MessageInfo,
    paused: bool,
) -> Result<Response, ContractError> {
    let mut config = load_admin_config(&deps, &info)?;
    config.paused = paused;
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new().add_attribute("action", if paused { "pause" } else { "unpause" }))
}

pub fn propose_admin(
    deps: DepsMut,
    info: MessageInfo,
    admin: String,
) -> Result<Response, ContractError> {
    load_admin_config(&deps, &info)?;
    let proposed = deps.api.addr_validate(&admin)?;
    PENDING_ADMIN.save(deps.storage, &proposed)?;
    Ok(Response::new()
        .add_attribute("action", "propose_admin")
        .add_attribute("pending_admin", proposed))
}

pub fn accept_admin(deps: DepsMut, info: MessageInfo) -> Result<Response, ContractError> {
    let pending = PENDING_ADMIN
        .may_load(deps.storage)?
        .ok_or(ContractError::NoPendingAdmin)?;
    if info.sender != pending {
        return Err(ContractError::Unauthorized {
            role: "the proposed admin",
        });
    }
    let mut config = CONFIG.load(deps.storage)?;
    config.admin = pending;
    CONFIG.save(deps.storage, &config)?;
    PENDING_ADMIN.remove(deps.storage);
    Ok(Response::new()
        .add_attribute("action", "accept_admin")
        .add_attribute("admin", config.admin))
}

pub fn withdraw_treasury(
    deps: DepsMut,
    info: MessageInfo,
    amount: Option<Uint128>,
) -> Result<Response, ContractError> {
    let config = load_admin_config(&deps, &info)?;
    let available = ledger::totals(deps.storage)?.treasury;
    let amount = amount.unwrap_or(available);
    if amount.is_zero() {
        return Err(ContractError::Empty(
            "the treasury holds nothing to withdraw",
        ));
    }
    if amount > available {
        return Err(ContractError::InsufficientClaimable {
            available,
            requested: amount,
        });
    }
    ledger::update_totals(deps.storage, |t| {
        t.treasury = t.treasury.checked_sub(amount)?;
        Ok(())
    })?;
    Ok(Response::new()
        .add_message(ledger::transfer(&config.token, &config.treasury, amount)?)
        .add_attribute("action", "withdraw_treasury")
        .add_attribute("recipient", config.treasury.to_string())
        .add_attribute("amount", amount))
}

pub fn migrate(deps: DepsMut, _msg: MigrateMsg) -> Result<Response, ContractError> {
    let stored = cw2::get_contract_version(deps.storage)?;
    if stored.contract != CONTRACT_NAME {
        return Err(ContractError::Migration {
            found: stored.contract,
            reason: "it is not a tavdun market",
        });
    }
    if version_tuple(&stored.version) > version_tuple(CONTRACT_VERSION) {
        return Err(ContractError::Migration {
            found: stored.version,
            reason: "it is newer than this code",
        });
    }
    cw2::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("from_version", stored.version)
        .add_attribute("to_version", CONTRACT_VERSION))
}

/// Semver order for `x.y.z` (unparsable parts sort first), so 0.10.0 is newer than 0.9.0.
fn version_tuple(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}
