//! TRN, the token Tavdun's market is paid in: cw20-base with the name, symbol and decimals
//! fixed, so every deployment is the same token and only supply policy is chosen.

pub mod contract;
pub mod error;

pub use error::ContractError;
