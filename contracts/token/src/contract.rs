#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{Binary, Deps, DepsMut, Env, MessageInfo, Response, StdResult};
use cw20::MinterResponse;
use cw20_base::msg::{ExecuteMsg, InstantiateMsg as BaseInstantiateMsg, QueryMsg};

use crate::error::ContractError;
use tavdun_market_api::token::{InstantiateMsg, MigrateMsg, DECIMALS, NAME, SYMBOL};

pub const CONTRACT_NAME: &str = "crates.io:tavdun-token";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    mut deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    let mint = match (msg.minter, msg.cap) {
        (Some(minter), cap) => Some(MinterResponse { minter, cap }),
        (None, Some(_)) => return Err(ContractError::CapWithoutMinter),
        (None, None) => None,
    };
    let base = BaseInstantiateMsg {
        name: NAME.to_string(),
        symbol: SYMBOL.to_string(),
        decimals: DECIMALS,
        initial_balances: msg.initial_balances,
        mint,
        marketing: msg.marketing,
    };
    let res = cw20_base::contract::instantiate(deps.branch(), env, info, base)?;
    // cw20-base recorded its own name; migrations check ours.
    cw2::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(res)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    Ok(cw20_base::contract::execute(deps, env, info, msg)?)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    cw20_base::contract::query(deps, env, msg)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut, _env: Env, _msg: MigrateMsg) -> Result<Response, ContractError> {
    let stored = cw2::get_contract_version(deps.storage)?;
    if stored.contract != CONTRACT_NAME {
        return Err(ContractError::WrongContract {
            found: stored.contract,
            expected: CONTRACT_NAME.to_string(),
        });
    }
    // Versions are compared as semver so 0.10 sorts after 0.9.
    let newer = match (
        parse_version(&stored.version),
        parse_version(CONTRACT_VERSION),
    ) {
        (Some(found), Some(current)) => found < current,
        _ => false,
    };
    if !newer && stored.version != CONTRACT_VERSION {
        return Err(ContractError::NotNewer {
            found: stored.version,
            current: CONTRACT_VERSION.to_string(),
        });
    }
    cw2::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("from_version", stored.version)
        .add_attribute("to_version", CONTRACT_VERSION))
}

fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}
