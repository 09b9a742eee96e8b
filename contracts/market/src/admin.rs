use cosmwasm_std::{DepsMut, Env, MessageInfo, Response, Uint128};
use cw_storage_plus::Item;
use tavdun_market_api::{Config, InstantiateMsg, MigrateMsg, Params, PendingParams, Totals};

use crate::error::ContractError;
use crate::ledger;
use crate::state::{CONFIG, MODEL_COUNT, NEXT_JOB_ID, PENDING_ADMIN, TIER_COUNTS, TOTALS};

pub const CONTRACT_NAME: &str = "crates.io:tavdun-market";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");

pub const MAX_TIERS: usize = 8;
/// The layout of the market's storage. Version 2 stored jobs as compact JSON records, version 3
/// stores them and the other hot records in postcard (`crate::compact`). A market stored by an
/// earlier layout cannot be migrated in place (its jobs would have to be rewritten in one
/// transaction): deploy a new one.
pub const STORAGE_VERSION: u32 = 3;
const MAX_FEE_BPS: u16 = 2_000;
const BPS: u16 = 10_000;
/// Every timeout lies between one minute and thirty days: shorter ones cannot be met by a
/// worker on a busy chain, longer ones lock funds for too long.
const MIN_PERIOD: u64 = 60;
const MAX_PERIOD: u64 = 30 * 24 * 3600;
const MAX_BATCH: u32 = 100;
const MAX_INPUT_BYTES: u32 = 64 * 1024;
/// The most any single amount parameter may be: one million TRN (micro-TRN).
const MAX_AMOUNT: u128 = 1_000_000 * 1_000_000;
/// A tier may ask for at most a billion TRN.
const MAX_TIER_STAKE: u128 = 1_000_000_000 * 1_000_000;
/// Collateral is at most ten times the fee.
const MAX_COLLATERAL_BPS: u32 = 100_000;
const MAX_ATTEMPTS: u32 = 16;
const MAX_DISPUTES: u32 = 16;
/// Dispute transactions stay at most half of CometBFT's default `max_tx_bytes` (1 MiB).
const MAX_DISPUTE_BYTES: u32 = 512 * 1024;
const MIN_DISPUTE_BYTES: u32 = 4 * 1024;

pub const STORAGE: Item<u32> = Item::new("storage_version");

fn invalid(field: &'static str, reason: impl Into<String>) -> ContractError {
    ContractError::InvalidConfig {
        field,
        reason: reason.into(),
    }
}

fn check_amount(field: &'static str, v: Uint128, max: u128) -> Result<(), ContractError> {
    if v.u128() > max {
        return Err(invalid(field, format!("must be at most {max} micro-TRN")));
    }
    Ok(())
}

/// Every parameter within its hard cap, and consistent with the others.
pub fn validate_params(p: &Params) -> Result<(), ContractError> {
    if p.protocol_fee_bps > MAX_FEE_BPS {
        return Err(invalid(
            "protocol_fee_bps",
            format!("must be at most {MAX_FEE_BPS}"),
        ));
    }
    for (field, v) in [
        ("challenger_reward_bps", p.challenger_reward_bps),
        ("failed_bond_to_worker_bps", p.failed_bond_to_worker_bps),
    ] {
        if v > BPS {
            return Err(invalid(field, format!("must be at most {BPS}")));
        }
    }
    for (field, v) in [
        ("challenge_window", p.challenge_window),
        ("claim_timeout", p.claim_timeout),
        ("reveal_timeout", p.reveal_timeout),
        ("resolve_timeout", p.resolve_timeout),
        ("unbonding_period", p.unbonding_period),
        ("config_delay", p.config_delay),
        ("max_deadline", p.max_deadline),
    ] {
        if !(MIN_PERIOD..=MAX_PERIOD).contains(&v) {
            return Err(invalid(
                field,
                format!("must be {MIN_PERIOD}..={MAX_PERIOD} seconds"),
            ));
        }
    }
    if p.config_delay < p.unbonding_period {
        return Err(invalid(
            "config_delay",
            "must be at least unbonding_period, so a worker can leave before new terms apply",
        ));
    }
    for (field, v) in [
        ("challenge_bond", p.challenge_bond),
        ("min_collateral", p.min_collateral),
        ("liveness_penalty", p.liveness_penalty),
        ("release_fee", p.release_fee),
    ] {
        check_amount(field, v, MAX_AMOUNT)?;
    }
    if p.challenge_bond.is_zero() {
        return Err(invalid("challenge_bond", "must be positive"));
    }
    if p.min_collateral.is_zero() {
        return Err(invalid("min_collateral", "must be positive"));
    }
    if p.collateral_bps > MAX_COLLATERAL_BPS {
        return Err(invalid(
            "collateral_bps",
            format!("must be at most {MAX_COLLATERAL_BPS}"),
        ));
    }
    if p.liveness_penalty > p.min_collateral {
        return Err(invalid(
            "liveness_penalty",
            "must not exceed min_collateral",
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
    if p.tier_stakes.iter().any(|t| t.u128() > MAX_TIER_STAKE) {
        return Err(invalid(
            "tier_stakes",
            format!("each must be at most {MAX_TIER_STAKE} micro-TRN"),
        ));
    }
    if p.tier_stakes[0] < p.min_collateral {
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
    if !(1..=MAX_ATTEMPTS).contains(&p.max_attempts) {
        return Err(invalid(
            "max_attempts",
            format!("must be 1..={MAX_ATTEMPTS}"),
        ));
    }
    if !(1..=MAX_DISPUTES).contains(&p.max_disputes) {
        return Err(invalid(
            "max_disputes",
            format!("must be 1..={MAX_DISPUTES}"),
        ));
    }
    if !(MIN_DISPUTE_BYTES..=MAX_DISPUTE_BYTES).contains(&p.max_dispute_bytes) {
        return Err(invalid(
            "max_dispute_bytes",
            format!("must be {MIN_DISPUTE_BYTES}..={MAX_DISPUTE_BYTES}"),
        ));
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
        pending: None,
        paused: false,
    };
    CONFIG.save(deps.storage, &config)?;
    STORAGE.save(deps.storage, &STORAGE_VERSION)?;
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

/// Schedules new parameters: they take effect after the current `config_delay`, so a worker
/// who disagrees can unbond first (the delay is at least the unbonding period). A later call
/// replaces the schedule and restarts the delay. The treasury address changes at once: it
/// only receives the protocol's share.
pub fn update_config(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    params: Params,
    treasury: Option<String>,
) -> Result<Response, ContractError> {
    let mut config = load_admin_config(&deps, &info)?;
    validate_params(&params)?;
    if let Some(t) = treasury {
        config.treasury = deps.api.addr_validate(&t)?;
    }
    let effective_at = env.block.time.plus_seconds(config.params.config_delay);
    config.pending = Some(PendingParams {
        params,
        effective_at,
    });
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "update_config")
        .add_attribute("treasury", config.treasury)
        .add_attribute("effective_at", effective_at.seconds().to_string()))
}

/// Anyone, once the delay is over: the scheduled parameters take effect. Claimed jobs keep
/// the terms of their claim; tiers are computed at each claim, so they follow at once.
pub fn apply_config(deps: DepsMut, env: Env) -> Result<Response, ContractError> {
    let mut config = CONFIG.load(deps.storage)?;
    let pending = config
        .pending
        .take()
        .ok_or(ContractError::NoPendingConfig)?;
    if env.block.time < pending.effective_at {
        return Err(ContractError::ConfigNotDue {
            at: pending.effective_at,
            now: env.block.time,
        });
    }
    config.params = pending.params;
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new().add_attribute("action", "apply_config"))
}

/// Admin: TRN the market holds beyond its books (sent with a plain `Transfer`, not `Send`, so
/// no handler counted it) goes to the treasury address. The books are not touched.
pub fn sweep_unaccounted(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
) -> Result<Response, ContractError> {
    let config = load_admin_config(&deps, &info)?;
    let balance: cw20::BalanceResponse = deps.querier.query_wasm_smart(
        &config.token,
        &cw20::Cw20QueryMsg::Balance {
            address: env.contract.address.to_string(),
        },
    )?;
    let held = ledger::held(&ledger::totals(deps.storage)?)?;
    let surplus = balance.balance.checked_sub(held).unwrap_or_default();
    if surplus.is_zero() {
        return Err(ContractError::Empty(
            "the market holds nothing beyond its books",
        ));
    }
    Ok(Response::new()
        .add_message(ledger::transfer(&config.token, &config.treasury, surplus)?)
        .add_attribute("action", "sweep_unaccounted")
        .add_attribute("recipient", config.treasury.to_string())
        .add_attribute("amount", surplus))
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
    if STORAGE.may_load(deps.storage)? != Some(STORAGE_VERSION) {
        return Err(ContractError::Migration {
            found: stored.version,
            reason: "its storage has an earlier layout; deploy a new market",
        });
    }
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
