//! TRN, the CW20 token the market is paid in: cw20-base with its name, symbol and decimals
//! fixed here, so every deployment is the same token and every program agrees on amounts.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::Uint128;
use cw20::Cw20Coin;
use cw20_base::msg::InstantiateMarketingInfo;

pub const NAME: &str = "Tavdun Token";
pub const SYMBOL: &str = "TRN";
/// One TRN is 10^6 micro-TRN, the unit every amount on chain is counted in.
pub const DECIMALS: u8 = 6;

/// A deployment only chooses who holds the initial supply, who may mint and how much in total.
#[cw_serde]
pub struct InstantiateMsg {
    pub initial_balances: Vec<Cw20Coin>,
    /// The one address allowed to mint; `None` fixes the supply at the initial balances.
    pub minter: Option<String>,
    /// Most TRN that may ever exist (in micro-TRN); needs a minter.
    pub cap: Option<Uint128>,
    pub marketing: Option<InstantiateMarketingInfo>,
}

#[cw_serde]
pub struct MigrateMsg {}
