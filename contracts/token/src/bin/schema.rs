use cosmwasm_schema::write_api;
use tavdun_market_api::token::{InstantiateMsg, MigrateMsg};

fn main() {
    write_api! {
        instantiate: InstantiateMsg,
        execute: cw20_base::msg::ExecuteMsg,
        query: cw20_base::msg::QueryMsg,
        migrate: MigrateMsg,
    }
}
