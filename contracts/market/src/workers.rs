use cosmwasm_std::{Addr, DepsMut, Env, MessageInfo, Response, Storage, Uint128};
use tavdun_market_api::{HardwareDeclaration, Params, Unbonding, Worker};

use crate::admin::MAX_TIERS;
use crate::error::ContractError;
use crate::ledger;
use crate::state::{CONFIG, TIER_COUNTS, WORKERS};

const MAX_DESCRIPTION_LEN: usize = 128;
/// Bounds the loop in `withdraw` that releases matured entries.
pub const MAX_UNBONDINGS: usize = 8;

pub fn load_worker(store: &dyn Storage, addr: &Addr) -> Result<Worker, ContractError> {
    WORKERS
        .may_load(store, addr)?
        .ok_or_else(|| ContractError::NotAWorker {
            address: addr.to_string(),
        })
}

/// The tier a worker has under `params`: what its stake buys, capped by what its hardware
/// declares. Claims compute it live, so a change of `tier_stakes` applies to everyone at once.
pub fn tier_of(params: &Params, w: &Worker) -> u8 {
    let by_stake = params.tier_stakes.iter().filter(|&&t| w.stake >= t).count() as u8;
    by_stake.min(w.hardware.max_tier)
}

/// Saves a worker whose stake and hardware did not change (so neither did its tier): one
/// write, no config read.
pub fn store_worker(store: &mut dyn Storage, addr: &Addr, w: &Worker) -> Result<(), ContractError> {
    WORKERS.save(store, addr, w)?;
    Ok(())
}

/// Saves a worker after its stake or hardware changed, recomputing its tier and the
/// per-tier worker counts the job diagnostic reads.
pub fn save_worker(
    store: &mut dyn Storage,
    addr: &Addr,
    mut w: Worker,
    old_tier: u8,
) -> Result<Worker, ContractError> {
    let config = CONFIG.load(store)?;
    w.tier = tier_of(&config.params, &w);
    if w.tier != old_tier {
        let mut counts = TIER_COUNTS
            .may_load(store)?
            .unwrap_or_else(|| vec![0; MAX_TIERS]);
        if let Some(c) = old_tier
            .checked_sub(1)
            .and_then(|i| counts.get_mut(i as usize))
        {
            *c = c.saturating_sub(1);
        }
        if let Some(c) = w
            .tier
            .checked_sub(1)
            .and_then(|i| counts.get_mut(i as usize))
        {
            *c = c.saturating_add(1);
        }
        TIER_COUNTS.save(store, &counts)?;
    }
    WORKERS.save(store, addr, &w)?;
    Ok(w)
}

fn check_hardware(h: &HardwareDeclaration) -> Result<(), ContractError> {
    if h.description.len() > MAX_DESCRIPTION_LEN {
        return Err(ContractError::TooLong {
            field: "hardware.description",
            len: h.description.len(),
            max: MAX_DESCRIPTION_LEN,
        });
    }
    if h.max_tier as usize > MAX_TIERS {
        return Err(ContractError::InvalidTier {
            tier: h.max_tier,
            max: MAX_TIERS as u8,
        });
    }
    Ok(())
}

pub fn bond(
    deps: DepsMut,
    worker: Addr,
    amount: Uint128,
    hardware: Option<HardwareDeclaration>,
) -> Result<Response, ContractError> {
    let existing = WORKERS.may_load(deps.storage, &worker)?;
    let (mut w, old_tier) = match (existing, hardware) {
        (Some(mut w), hw) => {
            let old = w.tier;
            if let Some(h) = hw {
                check_hardware(&h)?;
                w.hardware = h;
            }
            (w, old)
        }
        (None, Some(h)) => {
            check_hardware(&h)?;
            let w = Worker {
                stake: Uint128::zero(),
                locked: Uint128::zero(),
                hardware: h,
                tier: 0,
                unbonding: vec![],
                jobs_done: 0,
                jobs_expired: 0,
                jobs_slashed: 0,
            };
            (w, 0)
        }
        (None, None) => return Err(ContractError::HardwareRequired),
    };
    w.stake = w.stake.checked_add(amount)?;
    ledger::update_totals(deps.storage, |t| {
        t.stakes = t.stakes.checked_add(amount)?;
        Ok(())
    })?;
    let w = save_worker(deps.storage, &worker, w, old_tier)?;
    Ok(Response::new()
        .add_attribute("action", "bond")
        .add_attribute("worker", worker)
        .add_attribute("amount", amount)
        .add_attribute("stake", w.stake)
        .add_attribute("tier", w.tier.to_string()))
}

pub fn declare_hardware(
    deps: DepsMut,
    info: MessageInfo,
    hardware: HardwareDeclaration,
) -> Result<Response, ContractError> {
    let mut w = load_worker(deps.storage, &info.sender)?;
    check_hardware(&hardware)?;
    let old = w.tier;
    w.hardware = hardware;
    let w = save_worker(deps.storage, &info.sender, w, old)?;
    Ok(Response::new()
        .add_attribute("action", "declare_hardware")
        .add_attribute("worker", info.sender)
        .add_attribute("tier", w.tier.to_string()))
}

pub fn unbond(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    amount: Uint128,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let mut w = load_worker(deps.storage, &info.sender)?;
    if amount.is_zero() {
        return Err(ContractError::Empty("unbond amount is zero"));
    }
    let free = w.free_stake();
    if amount > free {
        return Err(ContractError::InsufficientFreeStake {
            free,
            needed: amount,
        });
    }
    if w.unbonding.len() >= MAX_UNBONDINGS {
        return Err(ContractError::TooManyUnbondings {
            max: MAX_UNBONDINGS,
        });
    }
    let release_at = env.block.time.plus_seconds(config.params.unbonding_period);
    let old = w.tier;
    w.stake = w.stake.checked_sub(amount)?;
    w.unbonding.push(Unbonding { amount, release_at });
    ledger::update_totals(deps.storage, |t| {
        t.stakes = t.stakes.checked_sub(amount)?;
        t.unbonding = t.unbonding.checked_add(amount)?;
        Ok(())
    })?;
    let w = save_worker(deps.storage, &info.sender, w, old)?;
    Ok(Response::new()
        .add_attribute("action", "unbond")
        .add_attribute("worker", info.sender)
        .add_attribute("amount", amount)
        .add_attribute("release_at", release_at.seconds().to_string())
        .add_attribute("tier", w.tier.to_string()))
}

/// Moves the caller's matured unbonding entries into its claimable balance.
fn release_matured(store: &mut dyn Storage, env: &Env, addr: &Addr) -> Result<(), ContractError> {
    let Some(mut w) = WORKERS.may_load(store, addr)? else {
        return Ok(());
    };
    let (matured, waiting): (Vec<Unbonding>, Vec<Unbonding>) = w
        .unbonding
        .into_iter()
        .partition(|u| u.release_at <= env.block.time);
    w.unbonding = waiting;
    let mut released = Uint128::zero();
    for u in &matured {
        released = released.checked_add(u.amount)?;
    }
    WORKERS.save(store, addr, &w)?;
    ledger::update_totals(store, |t| {
        t.unbonding = t.unbonding.checked_sub(released)?;
        Ok(())
    })?;
    ledger::credit(store, addr, released)
}

pub fn withdraw(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    amount: Option<Uint128>,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    release_matured(deps.storage, &env, &info.sender)?;
    let available = ledger::claimable(deps.storage, &info.sender)?;
    let amount = amount.unwrap_or(available);
    if amount.is_zero() {
        return Err(ContractError::Empty("no claimable balance to withdraw"));
    }
    // State first, then the transfer message (the escrow habit: no re-entrancy window).
    ledger::debit(deps.storage, &info.sender, amount)?;
    Ok(Response::new()
        .add_message(ledger::transfer(&config.token, &info.sender, amount)?)
        .add_attribute("action", "withdraw")
        .add_attribute("recipient", info.sender)
        .add_attribute("amount", amount))
}
