use cosmwasm_schema::cw_serde;
use cosmwasm_std::Uint128;
use cw20::Cw20Coin;
use cw20_base::msg::InstantiateMarketingInfo;

/// TRN's name, symbol and decimals are fixed; a deployment only chooses who holds the
/// initial supply, who may mint and how much in total.
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
