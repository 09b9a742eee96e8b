//! Who is owed what. Every movement of TRN inside the market goes through here, so
//! [`Totals`] always adds up to the market's real balance.

use cosmwasm_std::{to_json_binary, Addr, CosmosMsg, Storage, Uint128, WasmMsg};
use cw20::Cw20ExecuteMsg;
use tavdun_market_api::Totals;

use crate::error::ContractError;
use crate::state::{CLAIMABLE, TOTALS};

pub fn totals(store: &dyn Storage) -> Result<Totals, ContractError> {
    Ok(TOTALS.may_load(store)?.unwrap_or_default())
}

pub fn update_totals(
    store: &mut dyn Storage,
    f: impl FnOnce(&mut Totals) -> Result<(), ContractError>,
) -> Result<(), ContractError> {
    let mut t = totals(store)?;
    f(&mut t)?;
    TOTALS.save(store, &t)?;
    Ok(())
}

pub fn held(t: &Totals) -> Result<Uint128, ContractError> {
    Ok(t.stakes
        .checked_add(t.unbonding)?
        .checked_add(t.job_fees)?
        .checked_add(t.bonds)?
        .checked_add(t.claimable)?
        .checked_add(t.treasury)?)
}

/// Adds `amount` to what `addr` may withdraw. The caller has already taken `amount` out of
/// another bucket of [`Totals`].
pub fn credit(store: &mut dyn Storage, addr: &Addr, amount: Uint128) -> Result<(), ContractError> {
    if amount.is_zero() {
        return Ok(());
    }
    credit_balance(store, addr, amount)?;
    update_totals(store, |t| {
        t.claimable = t.claimable.checked_add(amount)?;
        Ok(())
    })
}

fn credit_balance(
    store: &mut dyn Storage,
    addr: &Addr,
    amount: Uint128,
) -> Result<(), ContractError> {
    let bal = CLAIMABLE.may_load(store, addr)?.unwrap_or_default();
    CLAIMABLE.save(store, addr, &bal.checked_add(amount)?)?;
    Ok(())
}

/// Payouts of one message, written once at its end: a batch of 32 finalizations credits its
/// worker once and updates [`Totals`] once, not 32 times (each write costs gas).
#[derive(Default)]
pub struct Payouts {
    credits: Vec<(Addr, Uint128)>,
}

impl Payouts {
    pub fn credit(&mut self, to: &Addr, amount: Uint128) -> Result<(), ContractError> {
        if amount.is_zero() {
            return Ok(());
        }
        match self.credits.iter_mut().find(|(a, _)| a == to) {
            Some((_, total)) => *total = total.checked_add(amount)?,
            None => self.credits.push((to.clone(), amount)),
        }
        Ok(())
    }

    /// Writes the credits; returns what they add to the claimable total.
    pub fn apply(self, store: &mut dyn Storage) -> Result<Uint128, ContractError> {
        let mut sum = Uint128::zero();
        for (addr, amount) in self.credits {
            credit_balance(store, &addr, amount)?;
            sum = sum.checked_add(amount)?;
        }
        Ok(sum)
    }
}

pub fn claimable(store: &dyn Storage, addr: &Addr) -> Result<Uint128, ContractError> {
    Ok(CLAIMABLE.may_load(store, addr)?.unwrap_or_default())
}

/// Takes `amount` out of `addr`'s claimable balance.
pub fn debit(store: &mut dyn Storage, addr: &Addr, amount: Uint128) -> Result<(), ContractError> {
    let bal = claimable(store, addr)?;
    let rest = bal
        .checked_sub(amount)
        .map_err(|_| ContractError::InsufficientClaimable {
            available: bal,
            requested: amount,
        })?;
    if rest.is_zero() {
        CLAIMABLE.remove(store, addr);
    } else {
        CLAIMABLE.save(store, addr, &rest)?;
    }
    update_totals(store, |t| {
        t.claimable = t.claimable.checked_sub(amount)?;
        Ok(())
    })
}

pub fn transfer(token: &Addr, to: &Addr, amount: Uint128) -> Result<CosmosMsg, ContractError> {
    Ok(WasmMsg::Execute {
        contract_addr: token.to_string(),
        msg: to_json_binary(&Cw20ExecuteMsg::Transfer {
            recipient: to.to_string(),
            amount,
        })?,
        funds: vec![],
    }
    .into())
}

/// `amount * bps / 10_000`, rounded down.
pub fn bps(amount: Uint128, bps: u32) -> Uint128 {
    amount.multiply_ratio(bps, 10_000u128)
}
