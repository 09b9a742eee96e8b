//! Writes the market's schema under `./schema`: the contract API (`write_api!`) and, beside
//! its raw message schemas in `schema/raw/`, the hook messages a CW20 `Send` of TRN carries
//! (cw20-style extra files), which the contract API cannot show because they arrive
//! base64-encoded inside `Receive`.

use cosmwasm_schema::{export_schema, schema_for, write_api};
use tavdun_market_api::{ExecuteMsg, InstantiateMsg, JobRequest, MigrateMsg, QueryMsg, ReceiveMsg};

fn main() {
    write_api! {
        instantiate: InstantiateMsg,
        execute: ExecuteMsg,
        query: QueryMsg,
        migrate: MigrateMsg,
    }
    let out = std::path::Path::new("schema/raw");
    export_schema(&schema_for!(ReceiveMsg), out);
    export_schema(&schema_for!(JobRequest), out);
}
